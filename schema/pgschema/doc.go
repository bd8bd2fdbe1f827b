// Package pgschema is the Postgres schema of the audit trail: versioned
// migrations of the audit_logs table, embedded with go:embed and applied by
// [Migrate] (and by the CLI), its time partitions, its append-only rules,
// the writer role, and retention.
//
// The package is named pgschema, after its folder, like its ClickHouse
// counterpart schema/chschema: short, and clear of the names of the
// drivers' packages (pgx, pgxpool, pgconn) and of the exporter
// (exporter/postgreslog) in the code that uses them together.
//
// The statements live in .sql files under sql/. They are templates whose
// only inputs are the names in [Options], validated (lower-case letters,
// digits, underscores) and rendered quoted, and the partition interval.
//
// # Migrations
//
// [Migrate] applies the migrations of [Migrations] in version order:
//
//	0001_audit_logs           the table, its indexes, the partition registry
//	0002_append_only          the triggers that refuse UPDATE, DELETE, TRUNCATE
//	0003_partition_functions  <table>_ensure_partitions, <table>_drop_partitions_before
//	0004_partition_limits     the partition window (<table>_partition_settings),
//	                          <table>_check_partition, both functions bounded
//	0005_read_paths           the arrival column (xid8, the writing transaction's
//	                          id) and its index, for followers; an index by
//	                          resource_id, for subject-access reads
//	0006_erasure              <table>_erase_user, the one change the triggers let
//	                          through (see Erasure)
//	0007_erasure_targets      erasure reaches the rows naming the user as their
//	                          target and personal values in the JSON columns
//
// Before anything else it checks who controls the schema (see "The schema
// must be the owner's"). It holds a session advisory lock for the whole
// run, so services that start at once do not race: one applies, the others
// wait and find nothing to do.
// Each migration runs in its own transaction together with its row in
// <table>_schema_migrations (version, name, checksum, applied_at), so a failed
// migration leaves the previous version in place. Re-running is a no-op; a
// recorded migration whose checksum differs from the one the code would
// apply (the options changed, or a released migration was edited) stops the
// run with [ErrChecksumMismatch]. Migrations are never edited once released:
// changes come as new versions.
//
// # The table
//
//	Column          Type         From (auditrow.Row)                 Notes
//	--------------  -----------  ----------------------------------  ------------------------------------
//	created_at      timestamptz  Time                                partition key; microseconds
//	event_id        uuid         EventID                             (created_at, event_id) is the primary key
//	action          text         Action                              "login", "invoice.refunded"
//	outcome         text         Outcome                             'success' or 'failure' (CHECK)
//	error_type      text         ErrorType
//	user_id         text         UserID
//	user_name       text         UserName
//	workspace_id    text         WorkspaceID
//	ip_address      inet         ClientIP                            NULL when absent or not an IP
//	user_agent      text         UserAgent
//	session_id      text         SessionID
//	resource        text         ResourceType
//	resource_id     text         ResourceID
//	details         jsonb        Details                             structure kept
//	previous_value  jsonb        Previous
//	new_value       jsonb        New
//	attributes      jsonb        AttributesJSON                      every other attribute, typed
//	trace_id        text         TraceID                             32 lower-case hex digits
//	span_id         text         SpanID                              16 lower-case hex digits
//	service_name    text         ServiceName
//	sanitized       text[]       Sanitized                           what the mapping changed, NULL if nothing
//	observed_at     timestamptz  ObservedTime
//	ingested_at     timestamptz  (default now())                     when the row was written
//	arrival         xid8         (default pg_current_xact_id())      the writing transaction; NULL for rows
//	                                                                 written before migration 0005
//
// Writers fill the columns of [Columns] in that order; [Writer] renders
// their statements. Empty strings and absent values are NULL.
//
// # Query paths
//
// Each of the four query paths has an index that ends with created_at, so
// "the latest N events of X" is a backward index scan of each partition,
// merged across partitions, with no sort:
//
//	by time       PRIMARY KEY (created_at, event_id)
//	by workspace  (workspace_id, created_at) WHERE workspace_id IS NOT NULL
//	by user       (user_id, created_at)      WHERE user_id IS NOT NULL
//	by action     (action, created_at)
//	by target     (resource_id, created_at)  WHERE resource_id IS NOT NULL
//	by arrival    (arrival, created_at, event_id) WHERE arrival IS NOT NULL (followers)
//
// # Partitions
//
// The table is partitioned by range of created_at: monthly by default
// (<table>_pYYYYMM), or daily (<table>_pYYYYMMDD), in UTC whatever the
// session's TimeZone (the partition functions set their own). There is no
// DEFAULT partition: a row must find its partition, and partitions are
// created before they are needed. [Migrate] creates the current partition
// and [Options.Ahead] after it; writers (the Postgres exporter) call
// [EnsurePartitions] for any time they have not seen covered yet. Creation
// is done by the SQL function <table>_ensure_partitions, SECURITY DEFINER
// (it runs as the owner, so an INSERT-only writer can call it), idempotent,
// and recorded in the registry table <table>_partitions (name, lo, hi).
//
// Since it acts as the owner on behalf of roles that may only insert, what
// it does is bounded:
//
//   - It creates partitions only in a window around the current time:
//     from [Options.Back] partitions before the current one (default a
//     year of monthly partitions, a month of daily ones) to [Options.Ahead]
//     after it (at least one). Every Migrate records the window in
//     <table>_partition_settings. A missing partition outside the window is
//     refused (SQLSTATE 22008): an event that old (or that far ahead)
//     whose partition does not exist is not stored, and the Postgres
//     exporter rejects it with reason time_out_of_range, so that it goes to
//     the dead-letter file of a journal, not into a retry loop. An event
//     whose partition exists is written whatever its time. To take in older
//     events, Migrate with a larger Back, then export them again. So a
//     writer can make at most Back + max(Ahead, 1) + 1 partitions exist.
//   - It refuses times outside years 1 to 9999 (22008): to_char prints the
//     same digits for 2027 BC and 2027 AD.
//   - One call creates at most [MaxCreatePerCall] partitions (54000 beyond).
//   - It takes an existing relation for a partition only if it is one: a
//     plain table attached to the audit table, with exactly the expected
//     bounds and the table's owner (<table>_check_partition); anything else
//     under a partition's name is an error (55000), not a silent success.
//   - It creates a partition as a table of its own, then attaches it, which
//     takes a SHARE UPDATE EXCLUSIVE lock on the audit table: inserts and
//     reads go on, even when the caller keeps its transaction open after
//     the call (the lock lasts until that transaction ends, and holds up
//     other partition creations and retention, never writes or reads).
//   - It serializes with other creators and with retention by a lock on
//     the registry table, in a mode only the owner may take; every lock
//     wait is bounded by [EnsureLockTimeout] (then 55P03, which writers
//     retry). There is no advisory lock, which any login could take.
//   - It acts only on objects owned by its own owner: the audit table, the
//     registry, the settings, the trigger function.
//
// # Append-only
//
// A BEFORE UPDATE OR DELETE row trigger (cloned by Postgres onto every
// partition) and a BEFORE TRUNCATE statement trigger (on the table and, added
// by the partition function, on every partition) raise SQLSTATE 42501
// (insufficient_privilege) "audit rows are append-only", whoever runs the
// statement, the owner included, as long as the triggers are enabled.
//
// The triggers protect the rows from the application, not from the
// database's owner: the table's owner (the role that ran Migrate) and any
// superuser can disable them, drop or detach partitions, or drop the table;
// so can whoever owns the schema. What they did then cannot be prevented
// here, only detected: that is what sealing the trail is for. Keep the
// owner's credentials with the migration and retention jobs, not with the
// services.
//
// # Erasure
//
// GDPR erasure is the one change the triggers let through:
// <table>_erase_user(subject, pseudonym [, also, keys, keep])
// (SECURITY DEFINER, EXECUTE revoked from PUBLIC: the owner's, or a role
// the owner grants it to). It changes every row that names the user, by
// this rule:
//
//   - the user's own rows (user_id = subject): user_id becomes the
//     pseudonym; user_name, ip_address, user_agent and session_id become
//     NULL;
//   - the rows that name the user as their target (resource 'user',
//     resource_id = subject, an administrator's action on the account):
//     resource_id becomes the pseudonym;
//   - in details, previous_value and new_value of both, at any depth: a
//     string equal to subject becomes the pseudonym; a string equal to
//     one of the user's other identifiers (every user_name of the user's
//     own rows, and the values given in also, such as an e-mail address)
//     becomes "[erased]"; in a target's row, whose values describe the
//     user, the value of every member named in keys (by default email,
//     name, user_name, full_name, display_name, first_name, last_name,
//     phone, ip, ip_address, client_ip, user_agent, session_id, address)
//     becomes "[erased]". Object keys are kept. Rows that mention the user
//     only inside details (neither actor nor target) are not changed.
//
// Rows whose event id is in keep change only in the five personal fields
// (the erase command passes the rows sealed under the seal's encoding
// version 1, which covers resource_id and the JSON values directly). The
// function returns the (created_at, event_id) of the rows it changed. The
// trigger function lets an UPDATE through only when that function
// announced it (a transaction-local setting), the statement runs as the
// table's owner, and no column but those nine differs; any other UPDATE
// is refused as before. The owner could set the same setting by hand and
// change those columns: nothing new, the owner can disable the triggers
// anyway. These are the fields the seal (schema/seal, encoding version 2)
// covers through a per-row commitment, so a sealed row still verifies
// after erasure once its salt is dropped (the otelaudit command's erase
// does both). The function <table>_erase_json applies the JSON part of
// the rule to one value.
//
// Rows leave the table only with whole partitions: [DropPartitionsBefore]
// (the SQL function <table>_drop_partitions_before) drops the partitions
// whose rows are all older than a cutoff. DROP (and ALTER TABLE ... DETACH
// PARTITION) fire no row or TRUNCATE trigger.
//
// # The schema must be the owner's
//
// Whoever owns a schema may drop any object in it, and whoever may create
// objects in it may plant a table under a name the partition function
// uses. Either could then replace the partition registry with a table whose
// trigger the partition function, running as the owner, would execute: a
// way to the owner's rights, or a superuser's. So [Migrate] refuses
// ([ErrUntrustedSchema]) a schema that is owned by a role other than the one
// running Migrate and not by a superuser (a schema owned by
// pg_database_owner, such as public, counts as the database owner's), or
// in which another role (PUBLIC included) has CREATE; the error says what
// to change. A schema Migrate creates is its own. The functions set their
// search_path to pg_catalog, pg_temp and name every object schema-qualified,
// and the partition function checks, on each call, that the objects it
// touches are still its owner's.
//
// # Roles
//
// What each role can do to the audit table:
//
//	role                        can                                         cannot
//	--------------------------  ------------------------------------------  ------------------------------------------
//	writer (WriterRole), and    INSERT rows (COPY, INSERT ... ON CONFLICT   read rows (SELECT), UPDATE, DELETE,
//	  the logins granted it     DO NOTHING); read the partition registry;   TRUNCATE; create, drop, attach or detach
//	                            call <table>_ensure_partitions: partitions  partitions itself; partitions outside the
//	                            in the window, at most MaxCreatePerCall     window; disable triggers; run retention;
//	                            per call; create temporary tables (the      hold a lock that blocks inserts or reads,
//	                            staging table) and temporary views          or delays partition creation or retention
//	                                                                        longer than their lock timeouts per call
//	reader (ReaderRole), and    SELECT the table (every partition through   INSERT, UPDATE, DELETE, TRUNCATE; call the
//	  the logins granted it     it), the partition registry and the         partition or retention functions; disable
//	                            migrations table                            triggers
//	any other login             nothing on these objects (the schema's      see the rows; stall the partition
//	                            USAGE aside, if granted)                    functions (they take no advisory lock)
//	the owner (ran Migrate)     everything: retention, DISABLE TRIGGER,     be stopped from changing rows: detection
//	                            DROP; Migrate                               is by sealing
//	a superuser                 everything                                  the same
//
// A writer that writes a row into the table and keeps its transaction open
// holds a lock that retention's DROP needs: retention then waits
// [RetentionLockTimeout] per partition, reports the partition and moves
// on. A writer's temporary view of a partition (which the writer role
// cannot be kept from making: it needs USAGE on the schema to insert, and
// TEMPORARY for the staging table) makes that partition undroppable while
// its session lasts: retention reports it and drops the others.
//
// # The writer role
//
// With [Options.WriterRole] set, Migrate creates that role (NOLOGIN) if it
// does not exist and grants it exactly what the exporter needs: USAGE on the
// schema, INSERT on the table (enough for COPY and for INSERT ... ON
// CONFLICT DO NOTHING without a conflict target), EXECUTE on
// <table>_ensure_partitions and SELECT on the partition registry. Grant it
// to the services' login role:
//
//	GRANT audit_writer TO billing_service;
//
// The exporter's duplicate handling uses a temporary table, which needs the
// TEMPORARY privilege on the database (PUBLIC has it unless revoked).
//
// # The reader role
//
// With [Options.ReaderRole] set, Migrate creates that role (NOLOGIN) if it
// does not exist and grants it USAGE on the schema and SELECT on the table,
// the partition registry and the migrations table: what the read side
// (package trail, the otelaudit command's search, tail, export and query)
// needs. Grant it to the login of whoever reads:
//
//	GRANT audit_reader TO compliance_team;
//
// # Retention
//
// Schedule [DropPartitionsBefore] as the owner. It drops each partition in
// a transaction of its own, waiting at most [RetentionLockTimeout] for its
// locks; a partition it cannot drop (a lock not granted in time, an object
// that depends on it) is left and reported ([*PartitionSkippedError]), and
// the others are dropped. With pg_cron, or any SQL client:
//
//	SELECT * FROM audit_logs_drop_partitions_before(now() - interval '13 months');
//
// drops them all in the calling transaction, each in a subtransaction, and
// returns one row per partition (dropped, and when not, the reason);
// audit_logs_drop_partitions_before(cutoff, after, n) drops at most n,
// oldest first, after a given lower bound, for one transaction per call. A
// partition is dropped only once its upper bound is at or before the
// cutoff, so retention keeps up to one interval more than the cutoff.
// Dropping a partition takes an ACCESS EXCLUSIVE lock on the table for a
// moment: inserts that arrive meanwhile wait, at most RetentionLockTimeout,
// they do not fail. A late event whose partition retention dropped
// re-creates it if it is still inside the window (the next retention run
// drops it again), and is refused otherwise.
package pgschema
