package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/seal"
	"github.com/otelaudit/otelaudit/trail"
)

// runErase pseudonymises one user in both stores, by the rule of
// schema/pgschema's "Erasure": the user's own rows (personal fields), the
// rows that name the user as their target (resource id), and personal
// values inside details, previous and new values. In Postgres it runs
// through <table>_erase_user (the owner's function; the append-only
// triggers stay in force for everyone else), dropping the seal's salts of
// the changed rows in the same transaction so that they still verify; in
// ClickHouse with ALTER TABLE ... UPDATE, waited for. Rows sealed under the
// seal's encoding version 1 keep their resource id and JSON values (that
// encoding covers them directly) and are reported. Then it records
// data_delete_completed, naming the pseudonym, never the user.
func runErase(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("erase", e)
	var c conn
	c.register(fs, e)
	user := fs.String("user", "", "the user to erase (required)")
	pseudonym := fs.String("pseudonym", "", "what the user id becomes (default erased_<random>)")
	var also stringList
	fs.Var(&also, "also", "another identifier of the user (an e-mail address, a handle) to erase wherever it is a whole value in the JSON values of the user's rows; repeatable")
	keys := fs.String("keys", strings.Join(defaultEraseKeys, ","), "comma-separated members whose values are erased in the JSON values of the rows that name the user as their target")
	dry := fs.Bool("dry-run", false, "count what would change, change nothing")
	op := fs.String("operator", "", "who runs the erasure, the actor of the data_delete_completed event (default $OTELAUDIT_OPERATOR, else $USER)")
	digestTable := fs.String("digest-table", seal.DefaultDigestTable, "the seal's digest table (its leaves are <table>_leaves)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *user == "" {
		return usagef("--user is required")
	}
	if *pseudonym == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		*pseudonym = "erased_" + hex.EncodeToString(b[:])
	}
	if *pseudonym == *user {
		return usagef("--pseudonym must differ from --user")
	}
	if c.pgDSN == "" && c.chDSN == "" {
		return usagef("no store: set --postgres (%s) and/or --clickhouse (%s)", envPostgres, envClickHouse)
	}
	var keyList []string
	for _, k := range strings.Split(*keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keyList = append(keyList, k)
		}
	}
	req := eraseRequest{user: *user, pseudonym: *pseudonym, also: also, keys: keyList, dry: *dry}
	defer c.close()
	details := map[string]any{}
	verb := "pseudonymised"
	if *dry {
		verb = "would pseudonymise"
	}
	if c.pgDSN != "" {
		r, err := erasePostgres(ctx, &c, req, *digestTable)
		if err != nil {
			return err
		}
		req.keep = r.keep
		fmt.Fprintf(e.stdout, "postgres: %s %d rows (%d as the actor, %d as the target; seal salts dropped: %d)\n", verb, r.rows, r.actor, r.target, r.salts)
		if len(r.keep) > 0 {
			fmt.Fprintf(e.stdout, "postgres: %d rows sealed under seal encoding version 1 keep their resource id and JSON values (that encoding covers them directly)\n", len(r.keep))
		}
		details["rows_postgres"], details["salts_dropped"], details["rows_kept_v1"] = r.rows, r.salts, len(r.keep)
	}
	if c.chDSN != "" {
		n, err := func() (uint64, error) {
			ch, o, err := c.clickhouse(ctx)
			if err != nil {
				return 0, err
			}
			return eraseClickHouse(ctx, ch, o, req, newProgress(e, "clickhouse mutations, seconds"))
		}()
		if err != nil {
			if c.pgDSN != "" && !*dry {
				return fmt.Errorf("%w (Postgres is erased; run erase again with --pseudonym %s to finish)", err, *pseudonym)
			}
			return err
		}
		fmt.Fprintf(e.stdout, "clickhouse: %s %d rows\n", verb, n)
		details["rows_clickhouse"] = n
	}
	if *dry {
		return nil
	}
	details["erasure_id"] = uuid.Must(uuid.NewV7()).String()
	ev := otelaudit.Event{
		Action:   otelaudit.ActionDataDeleteCompleted,
		Actor:    otelaudit.Actor{UserID: operator(*op, e)},
		Resource: otelaudit.Resource{Type: trail.UserResourceType, ID: *pseudonym},
		Details:  otelaudit.Value(details),
	}
	if err := recordEvent(ctx, &c, ev); err != nil {
		return fmt.Errorf("the user was erased as %s but the erasure could not be recorded: %w", *pseudonym, err)
	}
	fmt.Fprintf(e.stdout, "erased user as %s\n", *pseudonym)
	return nil
}

// eraseRequest is what to erase, by the rule of schema/pgschema's
// "Erasure".
type eraseRequest struct {
	user, pseudonym string
	also, keys      []string
	// keep are the rows (event ids) that keep their resource id and JSON
	// values: the rows naming the user (as actor or target) sealed under
	// the seal's encoding version 1. Found in Postgres, where the seal
	// lives.
	keep []uuid.UUID
	dry  bool
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type pgErasure struct {
	rows, actor, target, salts int64
	keep                       []uuid.UUID
}

func erasePostgres(ctx context.Context, c *conn, req eraseRequest, digestTable string) (pgErasure, error) {
	var r pgErasure
	pool, err := c.postgres(ctx)
	if err != nil {
		return r, err
	}
	table := pgx.Identifier{c.pgSchema, c.pgTable}.Sanitize()
	digests := pgx.Identifier{c.pgSchema, digestTable}.Sanitize()
	leaves := pgx.Identifier{c.pgSchema, digestTable + "_leaves"}.Sanitize()
	fn := pgx.Identifier{c.pgSchema, c.pgTable + "_erase_user"}.Sanitize()
	var sealed bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL", leaves, digests).Scan(&sealed); err != nil {
		return r, err
	}
	if sealed {
		rs, err := pool.Query(ctx, "SELECT l.event_id FROM "+leaves+" AS l JOIN "+digests+" AS d ON d.seq = l.seq"+
			" WHERE d.version = 1 AND l.event_id IN (SELECT event_id FROM "+table+" WHERE user_id = $1 OR (resource = $2 AND resource_id = $1))",
			req.user, trail.UserResourceType)
		if err != nil {
			return r, fmt.Errorf("find the rows sealed under version 1: %w", err)
		}
		if r.keep, err = pgx.CollectRows(rs, pgx.RowTo[uuid.UUID]); err != nil {
			return r, fmt.Errorf("find the rows sealed under version 1: %w", err)
		}
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE user_id = $1), count(*) FILTER (WHERE resource = $2 AND resource_id = $1 AND event_id <> ALL ($3))"+
		" FROM "+table+" WHERE user_id = $1 OR (resource = $2 AND resource_id = $1)",
		req.user, trail.UserResourceType, r.keep).Scan(&r.actor, &r.target); err != nil {
		return r, err
	}
	if req.dry {
		err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE user_id = $1 OR (resource = $2 AND resource_id = $1 AND event_id <> ALL ($3))",
			req.user, trail.UserResourceType, r.keep).Scan(&r.rows)
		return r, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// No seal run may read the rows between their change and the
		// dropping of their salts.
		if err := seal.HoldOffSealing(ctx, tx, seal.WithSchema(c.pgSchema), seal.WithDigestTable(digestTable)); err != nil {
			return err
		}
		rs, err := tx.Query(ctx, "SELECT event_id FROM "+fn+"($1, $2, $3, $4, $5)", req.user, req.pseudonym, []string(req.also), req.keys, r.keep)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rs, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		r.rows = int64(len(ids))
		if sealed && len(ids) > 0 {
			tag, err := tx.Exec(ctx, "UPDATE "+leaves+" SET salt = NULL WHERE event_id = ANY($1) AND salt IS NOT NULL", ids)
			if err != nil {
				return fmt.Errorf("drop the seal's salts: %w", err)
			}
			r.salts = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("erase in Postgres: %w", err)
	}
	return r, nil
}

// copyKey names one stored copy of an event in ClickHouse: copies not
// merged yet share the event id and differ in ingest_version, the insert's
// time.
const copyKey = "concat(toString(event_id), '/', toString(ingest_version))"

// chJSONChunk bounds the bytes of new JSON values sent in one ALTER
// TABLE ... UPDATE, below the server's default max_query_size (256 KiB).
const chJSONChunk = 160 << 10

func eraseClickHouse(ctx context.Context, ch driver.Conn, o chschema.Options, req eraseRequest, prog *progress) (uint64, error) {
	if _, err := chschema.TableLayout(ctx, ch, o); err != nil {
		return 0, fmt.Errorf("%w: %w", errNotMigrated, err)
	}
	target, err := chschema.InsertTarget(o)
	if err != nil {
		return 0, err
	}
	keep := make(map[string]bool, len(req.keep))
	keepIDs := make([]string, 0, len(req.keep))
	for _, id := range req.keep {
		keep[id.String()] = true
		keepIDs = append(keepIDs, id.String())
	}
	// The user's other identifiers: their names in their own rows, and
	// what the operator gave.
	others := append([]string(nil), req.also...)
	rows, err := ch.Query(ctx, "SELECT DISTINCT user_name FROM "+target+" WHERE user_id = ? AND user_name != ''", req.user)
	if err != nil {
		return 0, fmt.Errorf("erase in ClickHouse: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, err
		}
		others = append(others, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	rule := newEraseRule(req.user, req.pseudonym, others, req.keys)

	// Every row that names the user, and its JSON values once erased.
	type jsonEdit struct{ id, key, details, previous, next string }
	var edits []jsonEdit
	changed := map[string]bool{}
	// Each stored copy of an event is rewritten from its own values (a
	// copy is named by event id and ingest_version), so that copies that
	// differ, which verification reports, still differ afterwards.
	rows, err = ch.Query(ctx, "SELECT toString(event_id), "+copyKey+", user_id, resource_type, resource_id, details, previous_value, new_value FROM "+target+
		" WHERE user_id = ? OR (resource_type = ? AND resource_id = ?)", req.user, trail.UserResourceType, req.user)
	if err != nil {
		return 0, fmt.Errorf("erase in ClickHouse: %w", err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var id, key, uid, rtype, rid, d, p, n string
		if err := rows.Scan(&id, &key, &uid, &rtype, &rid, &d, &p, &n); err != nil {
			rows.Close()
			return 0, err
		}
		isTarget := rtype == trail.UserResourceType && rid == req.user
		if uid == req.user || (isTarget && !keep[id]) {
			changed[id] = true
		}
		if keep[id] || seen[key] {
			continue // copies stored at once hold the same values
		}
		seen[key] = true
		d2, c1 := rule.apply(d, isTarget)
		p2, c2 := rule.apply(p, isTarget)
		n2, c3 := rule.apply(n, isTarget)
		if c1 || c2 || c3 {
			edits = append(edits, jsonEdit{id, key, d2, p2, n2})
			changed[id] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if req.dry || len(changed) == 0 {
		return uint64(len(changed)), nil
	}

	// The mutations: the JSON values by event id, in chunks that keep a
	// query below the server's default max_query_size, then the resource
	// ids and the personal fields. Each one's expressions run as a query
	// first: a mutation that fails in the background is retried by the
	// server for ever and blocks the ones after it, so errors must show
	// here. Then as few ALTER TABLE statements as the size allows, each a
	// single mutation (one rewrite of the parts) of several commands.
	type command struct {
		set, where string
		args       []any
		size       int
	}
	var cmds []command
	for len(edits) > 0 {
		n, size := 0, 0
		for n < len(edits) && (n == 0 || size < chJSONChunk) {
			size += len(edits[n].details) + len(edits[n].previous) + len(edits[n].next) + 3*len(edits[n].key) + len(edits[n].id) + 64
			n++
		}
		chunk := edits[:n]
		edits = edits[n:]
		ids, keys := make([]string, len(chunk)), make([]string, len(chunk))
		ds, ps, ns := make([]string, len(chunk)), make([]string, len(chunk)), make([]string, len(chunk))
		for i, e := range chunk {
			ids[i], keys[i], ds[i], ps[i], ns[i] = e.id, e.key, e.details, e.previous, e.next
		}
		cmds = append(cmds, command{
			set: "details = transform(" + copyKey + ", ?, ?, details), previous_value = transform(" + copyKey + ", ?, ?, previous_value)," +
				" new_value = transform(" + copyKey + ", ?, ?, new_value)",
			where: "has(?, toString(event_id))",
			args:  []any{keys, ds, keys, ps, keys, ns, ids},
			size:  size,
		})
	}
	cmds = append(cmds,
		command{set: "resource_id = ?", where: "resource_type = ? AND resource_id = ? AND NOT has(?, toString(event_id))",
			args: []any{req.pseudonym, trail.UserResourceType, req.user, append(keepIDs, "")}, size: 256 + 40*len(keepIDs)},
		command{set: "user_id = ?, user_name = '', client_ip = '', user_agent = '', session_id = ''", where: "user_id = ?",
			args: []any{req.pseudonym, req.user}, size: 256})
	for _, c := range cmds {
		if err := ch.Exec(ctx, "SELECT "+c.set+" FROM "+target+" WHERE "+c.where+" LIMIT 1", c.args...); err != nil {
			return 0, fmt.Errorf("erase in ClickHouse: check the mutation: %w", err)
		}
	}
	for len(cmds) > 0 {
		n, size := 0, 0
		for n < len(cmds) && (n == 0 || size+cmds[n].size < chJSONChunk) {
			size += cmds[n].size
			n++
		}
		var parts []string
		var args []any
		for _, c := range cmds[:n] {
			parts = append(parts, "UPDATE "+c.set+" WHERE "+c.where)
			args = append(args, c.args...)
		}
		cmds = cmds[n:]
		if err := ch.Exec(ctx, "ALTER TABLE "+target+" "+strings.Join(parts, ", "), args...); err != nil {
			return 0, fmt.Errorf("erase in ClickHouse: %w", err)
		}
	}
	db, table := o.Database, o.Table
	if table == "" {
		table = chschema.DefaultTable
	}
	if db == "" {
		db = chschema.DefaultDatabase
	}
	start := time.Now()
	for {
		var pending uint64
		if err := ch.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0", db, table).Scan(&pending); err != nil {
			return 0, fmt.Errorf("erase in ClickHouse: wait for the mutations: %w", err)
		}
		if pending == 0 {
			break
		}
		prog.update(int64(time.Since(start).Seconds()))
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("erase in ClickHouse: the mutations are still running: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	prog.done(int64(time.Since(start).Seconds()))
	return uint64(len(changed)), nil
}
