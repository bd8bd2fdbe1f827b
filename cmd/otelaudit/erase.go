package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/seal"
	"github.com/otelaudit/otelaudit/trail"
)

// runErase pseudonymises one user's personal fields in both stores: in
// Postgres through <table>_erase_user (the owner's function; the
// append-only triggers stay in force for everyone else), dropping the
// seal's salts of those rows in the same transaction so that they still
// verify; in ClickHouse with ALTER TABLE ... UPDATE, waited for. Then it
// records data_delete_completed, naming the pseudonym, never the user.
func runErase(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("erase", e)
	var c conn
	c.register(fs, e)
	user := fs.String("user", "", "the user to erase (required)")
	pseudonym := fs.String("pseudonym", "", "what the user id becomes (default erased_<random>)")
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
	defer c.close()
	details := map[string]any{}
	if c.pgDSN != "" {
		n, salts, targets, err := erasePostgres(ctx, &c, *user, *pseudonym, *digestTable, *dry)
		if err != nil {
			return err
		}
		verb := "pseudonymised"
		if *dry {
			verb = "would pseudonymise"
		}
		fmt.Fprintf(e.stdout, "postgres: %s %d rows (seal salts dropped: %d)\n", verb, n, salts)
		if targets > 0 {
			fmt.Fprintf(e.stdout, "postgres: %d rows name the user as their target (resource_id): kept, the seal covers resource ids\n", targets)
		}
		details["rows_postgres"], details["salts_dropped"], details["target_rows_kept"] = n, salts, targets
	}
	if c.chDSN != "" {
		ch, o, err := c.clickhouse(ctx)
		if err != nil {
			return err
		}
		n, err := eraseClickHouse(ctx, ch, o, *user, *pseudonym, *dry, newProgress(e, "clickhouse mutation, seconds"))
		if err != nil {
			return err
		}
		verb := "pseudonymised"
		if *dry {
			verb = "would pseudonymise"
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

func erasePostgres(ctx context.Context, c *conn, user, pseudonym, digestTable string, dry bool) (rows, salts, targets int64, err error) {
	pool, err := c.postgres(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	table := pgx.Identifier{c.pgSchema, c.pgTable}.Sanitize()
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE resource = $1 AND resource_id = $2 AND user_id IS DISTINCT FROM $2",
		trail.UserResourceType, user).Scan(&targets); err != nil {
		return 0, 0, 0, err
	}
	if dry {
		err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE user_id = $1", user).Scan(&rows)
		return rows, 0, targets, err
	}
	leaves := pgx.Identifier{c.pgSchema, digestTable + "_leaves"}.Sanitize()
	fn := pgx.Identifier{c.pgSchema, c.pgTable + "_erase_user"}.Sanitize()
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rs, err := tx.Query(ctx, "SELECT event_id FROM "+fn+"($1, $2)", user, pseudonym)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rs, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		rows = int64(len(ids))
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", leaves).Scan(&exists); err != nil {
			return err
		}
		if exists && len(ids) > 0 {
			tag, err := tx.Exec(ctx, "UPDATE "+leaves+" SET salt = NULL WHERE event_id = ANY($1) AND salt IS NOT NULL", ids)
			if err != nil {
				return fmt.Errorf("drop the seal's salts: %w", err)
			}
			salts = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, 0, targets, fmt.Errorf("erase in Postgres: %w", err)
	}
	return rows, salts, targets, nil
}

func eraseClickHouse(ctx context.Context, ch driver.Conn, o chschema.Options, user, pseudonym string, dry bool, prog *progress) (uint64, error) {
	if _, err := chschema.TableLayout(ctx, ch, o); err != nil {
		return 0, fmt.Errorf("%w: %w", errNotMigrated, err)
	}
	target, err := chschema.InsertTarget(o)
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := ch.QueryRow(ctx, "SELECT count() FROM "+target+" WHERE user_id = ?", user).Scan(&n); err != nil {
		return 0, err
	}
	if dry || n == 0 {
		return n, nil
	}
	err = ch.Exec(ctx, "ALTER TABLE "+target+" UPDATE user_id = ?, user_name = '', client_ip = '', user_agent = '', session_id = '' WHERE user_id = ?", pseudonym, user)
	if err != nil {
		return 0, fmt.Errorf("erase in ClickHouse: %w", err)
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
			return 0, fmt.Errorf("erase in ClickHouse: wait for the mutation: %w", err)
		}
		if pending == 0 {
			break
		}
		prog.update(int64(time.Since(start).Seconds()))
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("erase in ClickHouse: the mutation is still running: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	prog.done(int64(time.Since(start).Seconds()))
	return n, nil
}
