// Package seal makes the audit trail tamper-evident: it seals closed time
// windows of the Postgres audit table into Merkle trees whose roots are
// signed with Ed25519 and chained, and verifies Postgres and ClickHouse
// against those seals and against each other.
//
// Append-only triggers and least-privilege roles stop the services; they do
// not stop the database's owner or a superuser, who can disable triggers
// (or set session_replication_role = replica) and edit, delete or insert
// rows. Sealing does not prevent that; it makes it visible to anyone who
// holds the public key.
//
// # Why here
//
// The package lives under schema/ because it works on what the stores hold,
// after the exporters wrote it, and is run by the same kind of job as the
// migrations and retention of schema/pgschema and schema/chschema: an
// operator's job, with credentials the services never have. It is not an
// exporter: nothing on the emit or export path calls it, and the services
// must never hold the signing key. It owns its own tables (the digests),
// with their own versioned migrations ([Migrate]), so that it changes
// nothing in the audit table's schema.
//
// # Quick start
//
//	// Once, as the sealing job's role (it owns the digest tables):
//	_, err := seal.Migrate(ctx, pool)
//
//	// Every few minutes (a cron job), with the private key:
//	s, err := seal.NewSealer(pool, privateKey)                 // hour windows, sealed 15 min after their end
//	rep, err := s.Seal(ctx)
//
//	// Any time, with the public key only:
//	v, err := seal.NewVerifier(pool, publicKey)
//	pg, err := seal.NewPostgresSource(pool)
//	ch, err := seal.NewClickHouseSource(conn, chschema.Options{Database: "audit"})
//	res, err := v.Verify(ctx, pg, ch)                          // errors.Is(err, seal.ErrVerifyFailed)
//	for _, f := range res.Findings { fmt.Println(f) }
//
//	// An inclusion proof, checkable offline:
//	proof, digest, err := v.Prove(ctx, eventID)
//	err = seal.VerifyInclusion(proof, proof.Canonical(row), digest, publicKey)
//
// # Windows and ranges
//
// Windows are [WithWindow] long (default one hour), aligned on the Unix
// epoch in UTC. A window is sealed once it ended [WithDelay] ago (default 15
// minutes), so that rows still in batching processors, journals and retries
// are in it. Each [Sealer.Seal] run seals, in one REPEATABLE READ
// transaction, every window due since the end of the newest sealed range:
// one digest per window that holds rows, and one digest of zero rows per
// stretch of empty windows, so the sealed ranges follow each other without
// gap from the first one (the window of [WithSince], or of the oldest row)
// on. A row that appears in an empty stretch later is therefore caught like
// any row inserted into a sealed window. Concurrent runs are serialised by
// an advisory lock. A run seals everything due in one transaction, holding
// each window's leaves in memory (about 100 bytes a row) while it writes
// them: a first run over years of history is long; [WithSince] starts
// later.
//
// Sealing reads Postgres, the system of record; the digests are stored in
// Postgres only, in two tables (names from [WithDigestTable]):
//
//	audit_digests         one row per digest (the fields of Digest), seq is the primary key
//	audit_digests_leaves  one row per sealed row: seq, idx (its leaf), created_at, event_id,
//	                      leaf_hash, salt (NULL once erased), commitment
//
// ClickHouse holds no digests: it is verified against the ones in Postgres.
//
// # Digests and the chain
//
// A [Digest] holds the range [Start, End), its Part (0 for the range's
// seal, 1, 2, ... for late rows sealed afterwards), the number of rows,
// the Merkle root, the first and last row time, SealedAt (the sealing
// transaction's start by the database's clock), Prev (the [Digest.Hash] of
// the previous digest, zero for the first), the key id (first 8 bytes of
// SHA-256 of the public key) and an Ed25519 signature of
// [Digest.SignedBytes], a fixed binary layout documented there. Hash is
// SHA-256 of the signed bytes, so each digest commits to the whole chain
// before it.
//
// The tree is RFC 6962's, computed with golang.org/x/mod/sumdb/tlog: leaf
// hash SHA-256(0x00 || canonical row), node hash SHA-256(0x01 || left ||
// right); the leaves are the range's rows ordered by (time in
// microseconds, event id as 16 bytes); an empty tree's root is zero.
//
// # The canonical row encoding, version 2
//
// Both stores' rows encode to the same bytes ([Row.Canonical]); the
// version ([EncodingVersion]) is in every digest. A str is a 32-bit
// big-endian length and the bytes; integers are big-endian.
//
//	field                         encoding                        Postgres column / ClickHouse column
//	----------------------------  ------------------------------  ---------------------------------------------
//	version                       1 byte, 2
//	time                          int64 Unix microseconds,        created_at / time + time_ns (compat),
//	                              rounded down                    time DateTime64(9) (modern)
//	event id                      16 bytes                        event_id / event_id
//	action, outcome, error type,  str each, NULL = ""             action, outcome, error_type, workspace_id,
//	workspace id, resource type                                   resource / action, outcome (Enum8 as text),
//	                                                              error_type, workspace_id, resource_type
//	attributes                    0x00 not covered, or 0x01,      attributes (jsonb, typed) / attr_keys +
//	                              uint32 count, then per key      attr_values (compat), attributes Map (modern)
//	                              (sorted, last value wins):
//	                              str key, value
//	trace id, span id, service    str each                        trace_id, span_id, service_name / the same
//	sanitized                     uint32 count, str each          sanitized / sanitized
//	commitment                    32 bytes (see Erasure)          user_id, user_name, ip_address, user_agent,
//	                                                              session_id, resource_id, details,
//	                                                              previous_value, new_value / user_id,
//	                                                              user_name, client_ip, user_agent,
//	                                                              session_id, resource_id, details,
//	                                                              previous_value, new_value
//
// Inside the commitment ([Row.Commit]) the resource id is a str and
// details, previous and new are each 0x00 when absent, or 0x01 and the
// JSON value (NULL and "" are absent).
//
// Version 1, which digests sealed before version 2 carry and which Verify
// and [VerifyInclusion] still check, has the resource id (str) and the
// three JSON values directly after the resource type, and a commitment
// (domain "otelaudit.personal.v1") over the five personal fields only.
//
// JSON values are encoded as a tagged tree, not as text, because jsonb
// prints JSON its own way (key order, spacing, 1e2 as 100): 'n' null, 't'
// true, 'f' false, '#' + str number, 's' + str string, '[' + uint32 count +
// values, '{' + uint32 count + (str key, value) sorted by key bytes, a key
// given twice keeping its last value; numbers are normalised to their exact
// decimal value as [-]digits[e<exp>] without leading or trailing zeros
// (100, 1e2 and 100.0 are all "1e2"). Text that is not JSON is 'x' + str.
//
// An attribute value is 'J' + its JSON encoding when it is JSON text
// without surrounding white space, else 'S' + str: Postgres keeps attribute
// values typed, ClickHouse keeps their string forms (strings as they are,
// other types as JSON text), so the string "12" and the number 12 encode
// alike. The attributes of a row marked "attributes:too_large" are not
// covered (Postgres holds a truncation object where ClickHouse holds every
// attribute). The sanitized markers that one store adds on its own
// ("time:out_of_range", "observed_time:out_of_range") are left out.
//
// Not covered: ingested_at (it is what tells late rows) and observed_at
// (ClickHouse does not store it). Time is kept in microseconds, what
// Postgres stores; ClickHouse's extra nanoseconds are not covered.
//
// # Erasure
//
// The fields erasure may change enter the row's encoding only through a
// commitment ([Row.Commit]): SHA-256 of a domain string, a random 16-byte
// salt drawn by the sealer for that row, and the fields: user id, user
// name, client IP, user agent, session id, and (from version 2) resource
// id, details, previous and new value, so that a user named as the target
// of an event, and personal values inside the JSON values, can be
// pseudonymised too. The salt and the commitment are kept in the row's
// leaf, not in the audit tables, so the exporters and the audit schema
// need no change, and both stores share one salt.
//
// To erase a person: set salt to NULL in the leaves of their events
// (UPDATE audit_digests_leaves SET salt = NULL WHERE event_id = ANY(...)),
// then pseudonymise their fields in both stores (cmd/otelaudit's erase
// does both), in a Postgres transaction that holds [HoldOffSealing], so
// that no seal run reads the rows between their change and the dropping
// of their salts. Verify then takes the kept commitment for those rows
// (counted in Result.Erased) and still checks every other field; without
// the salt, the commitment no longer lets anyone test guesses of the
// erased values. Rows of a version 1 digest can have only their five
// personal fields erased: their resource id and JSON values are covered
// directly. Rows not sealed yet need nothing: they are sealed as they are.
//
// # Late rows
//
// A row whose window was sealed before it arrived is late, not tampering:
// Verify reports it as [Late] (which does not fail) when its ingested_at
// is after the range's SealedAt less [WithLateGrace] (default one minute:
// ingested_at is its writer's transaction start, which can precede the
// seal although the row was not yet visible to it). The next Seal run
// seals the late rows whose time is within [WithLateHorizon] (default 24
// hours) before the end of the newest sealed range and that were ingested
// since the previous run, in a new digest of their range (Part 1, 2, ...); from then on they
// are checked like any sealed row and still reported as Late, with that
// digest. ClickHouse has no ingestion time: a ClickHouse row that no digest
// covers is late when the Postgres row of the same event, verified in the
// same run, is late; otherwise it is Inserted.
//
// # What Verify reports
//
// [Verifier.Verify] checks the whole chain (each signature with the
// public key, each Prev, seq without gaps, ranges without gaps or
// overlaps, late parts of existing ranges), then, per sealed range, that
// the stored leaves rebuild each signed root, then reads the range from
// every source, recomputes each row's leaf hash and reports:
//
//	kind           fails  meaning
//	-------------  -----  -----------------------------------------------------------------------
//	edited         yes    a sealed row's content differs (or two ClickHouse copies of it differ)
//	deleted        yes    a sealed row is missing from a store
//	moved          yes    a sealed row has another time than sealed (time order changed)
//	inserted       yes    a row in a sealed range that no digest covers and that is not late
//	late           no     a row that arrived after its range was sealed
//	mismatch       yes    the stores hold different content for a row no digest covers yet
//	bad_signature  yes    a digest does not verify with the public key; its range is not compared
//	broken_chain   yes    a Prev does not match, a seq or a range is missing, ranges overlap
//	bad_leaves     yes    the stored leaves do not rebuild a signed root; its range is not compared
//
// Each row finding names the store and the event id. Per range, the
// Result says whether the stores returned the same rows with the same
// hashes (Agree). Verify returns an error wrapping [ErrVerifyFailed]
// whenever a finding fails.
//
// # What is proved, and what is not
//
// Given the public key and a trusted copy of the newest digest's hash
// (Result.TipHash; publish it, or keep it elsewhere), a verification
// without failing findings shows that every row of every sealed range is,
// in both stores, exactly as it was when sealed, that no row was removed
// from or added to a sealed range except late arrivals, and that the
// stores agree. It does not show:
//
//   - anything about rows before they are sealed (the delay plus the run
//     interval), nor about rows older than the first seal;
//   - that the newest digests were not deleted: a shorter chain is valid
//     on its own. Keep TipSeq and TipHash of each verification elsewhere
//     and give them to the next one ([WithKnownTip]), which then reports a
//     chain cut back or rewritten since;
//   - that a late row is genuine: a superuser's insertion with a current
//     ingested_at looks like a late arrival. It is never silent (reported
//     Late, with its id, and sealed as late in a digest of Part > 0), but
//     it does not fail verification. A backdated ingested_at makes it
//     Inserted. A late row that arrives more than the late horizon after
//     its range stays reported as late and is never sealed;
//   - distinctions the encoding does not keep: NULL versus "", the
//     nanoseconds ClickHouse keeps, attribute strings that read as JSON
//     versus the JSON value ("12" and 12), numbers with the same value
//     (1.0 and 1), the committed fields of erased rows (personal fields,
//     resource id and JSON values), ingested_at and observed_at. Dropping a
//     salt hides later edits of those fields of that row, and is visible as
//     Result.Erased.
//
// The signing key must stay with the sealing job: whoever holds it can
// re-seal an edited log. Only the ClickHouse compat layout (18.16) is
// tested against a live server; the modern layout's read path (DateTime64,
// Map via mapKeys/mapValues) is not.
//
// # Inclusion proofs
//
// [Verifier.Prove] returns the RFC 6962 audit path of an event's leaf in
// its digest; [VerifyInclusion] checks it offline with the row's canonical
// bytes (from either store: [Proof.Canonical]), the digest and the public
// key. A proof carries the salt and commitment of the row's committed
// fields, never the fields, and the digest's encoding version.
package seal
