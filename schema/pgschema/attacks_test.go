package pgschema_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The tests of this file replay attacks on the audit table against a real
// server, with the package's own roles: an owner that runs Migrate, the
// writer role, and logins that hold only that role, or nothing. Each shows
// the attack refused, or harmless.

// login creates a login role holding nothing (dropped when the test ends)
// and returns its name and a pool logged in as it.
func login(t *testing.T, admin *pgxpool.Pool) (string, *pgxpool.Pool) {
	t.Helper()
	role := uniqueRole(t, admin)
	_, err := admin.Exec(testCtx(t), "CREATE ROLE "+pgx.Identifier{role}.Sanitize())
	require.NoError(t, err)
	return role, connectAs(t, admin, role)
}

// writerOf migrates o (which names a fresh WriterRole) as admin and returns
// a pool of a login that holds only the writer role.
func writerOf(t *testing.T, admin, migrator *pgxpool.Pool, o pgschema.Options) *pgxpool.Pool {
	t.Helper()
	_, err := pgschema.Migrate(testCtx(t), migrator, o)
	require.NoError(t, err)
	name, pool := login(t, admin)
	_, err = admin.Exec(testCtx(t), "GRANT "+pgx.Identifier{o.WriterRole}.Sanitize()+" TO "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	return pool
}

// pgCode returns the SQLSTATE of err, or "" when it is not a server error.
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func isSuperuser(t *testing.T, admin *pgxpool.Pool, role string) bool {
	t.Helper()
	var super bool
	require.NoError(t, admin.QueryRow(testCtx(t), "SELECT rolsuper FROM pg_roles WHERE rolname = $1", role).Scan(&super))
	return super
}

func ensureSQL(o pgschema.Options) string {
	w, err := pgschema.Writer(o)
	if err != nil {
		panic(err)
	}
	return w.EnsurePartitions
}

// monthStart returns the first instant of the UTC month months after t's.
func monthStart(t time.Time, months int) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
}

// Finding: a role that owns the audit schema (or may create objects in it)
// can drop the partition registry and create one of its own with a
// trigger; the next call of the SECURITY DEFINER partition function then
// runs the trigger as the function's owner. The same role can drop
// partitions, or DROP FUNCTION ... CASCADE the append-only triggers.
func TestAttackUntrustedSchema(t *testing.T) {
	ctx := testCtx(t)
	admin := testenv.Postgres(t)
	var db string
	require.NoError(t, admin.QueryRow(ctx, "SELECT current_database()").Scan(&db))

	owner, ownerPool := login(t, admin)
	mallory, malloryPool := login(t, admin)
	_, err := admin.Exec(ctx, "GRANT CREATE ON DATABASE "+pgx.Identifier{db}.Sanitize()+" TO "+owner)
	require.NoError(t, err)

	tables := func(schema string) []string {
		return queryStrings(t, admin, "SELECT relname::text FROM pg_class WHERE relnamespace = $1::regnamespace ORDER BY 1", schema)
	}

	t.Run("a schema owned by another role is refused", func(t *testing.T) {
		_, err := admin.Exec(ctx, "CREATE SCHEMA owned_by_mallory AUTHORIZATION "+mallory+"; GRANT USAGE, CREATE ON SCHEMA owned_by_mallory TO "+owner)
		require.NoError(t, err)
		_, err = pgschema.Migrate(ctx, ownerPool, pgschema.Options{Schema: "owned_by_mallory"})
		require.ErrorIs(t, err, pgschema.ErrUntrustedSchema)
		require.Contains(t, err.Error(), `owned by role "`+mallory+`"`)
		require.Contains(t, err.Error(), "ALTER SCHEMA")
		require.Empty(t, tables("owned_by_mallory"), "nothing was created")
	})

	t.Run("the database owner's public schema is refused when that is another role", func(t *testing.T) {
		// public belongs to pg_database_owner: whoever owns the database.
		_, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER TO "+mallory)
		require.NoError(t, err)
		defer func() {
			_, err := admin.Exec(context.Background(), "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER TO CURRENT_USER")
			require.NoError(t, err)
		}()
		_, err = admin.Exec(ctx, "GRANT CREATE ON SCHEMA public TO "+owner)
		require.NoError(t, err)
		_, err = pgschema.Migrate(ctx, ownerPool, pgschema.Options{})
		require.ErrorIs(t, err, pgschema.ErrUntrustedSchema)
		require.Contains(t, err.Error(), `owned by role "`+mallory+`"`)
		require.Empty(t, tables("public"))
	})

	t.Run("CREATE granted to others is refused", func(t *testing.T) {
		_, err := ownerPool.Exec(ctx, "CREATE SCHEMA own; GRANT CREATE ON SCHEMA own TO PUBLIC, "+mallory)
		require.NoError(t, err)
		_, err = pgschema.Migrate(ctx, ownerPool, pgschema.Options{Schema: "own"})
		require.ErrorIs(t, err, pgschema.ErrUntrustedSchema)
		require.Contains(t, err.Error(), "REVOKE CREATE ON SCHEMA \"own\" FROM PUBLIC, \""+mallory+"\"")
		require.Empty(t, tables("own"))

		_, err = ownerPool.Exec(ctx, "REVOKE CREATE ON SCHEMA own FROM PUBLIC, "+mallory)
		require.NoError(t, err)
		_, err = pgschema.Migrate(ctx, ownerPool, pgschema.Options{Schema: "own"})
		require.NoError(t, err, "the owner's own schema, closed to others")
	})

	t.Run("in the owner's schema, the attack fails", func(t *testing.T) {
		for _, stmt := range []string{
			`DROP TABLE own.audit_logs_partitions`,
			`DROP FUNCTION own.audit_logs_refuse_change() CASCADE`,
			`CREATE TABLE own.audit_logs_partitions_x (partition text)`,
			`ALTER TABLE own.audit_logs DISABLE TRIGGER otelaudit_append_only`,
		} {
			_, err := malloryPool.Exec(ctx, stmt)
			require.Equal(t, "42501", pgCode(err), "%s: %v", stmt, err)
		}
	})

	t.Run("a schema handed over later cannot make the partition function run its owner's code", func(t *testing.T) {
		// A superuser migrates (the function then runs as a superuser), and
		// later the schema is handed to mallory, who replaces the registry
		// with a table whose trigger would make mallory a superuser.
		role := uniqueRole(t, admin)
		o := pgschema.Options{Schema: "handed_over", WriterRole: role, Ahead: -1}
		writer := writerOf(t, admin, admin, o)
		_, err := admin.Exec(ctx, "ALTER SCHEMA handed_over OWNER TO "+mallory)
		require.NoError(t, err)
		t.Cleanup(func() { // before mallory's role is dropped
			_, err := admin.Exec(context.Background(), "DROP SCHEMA handed_over CASCADE")
			require.NoError(t, err)
		})
		_, err = malloryPool.Exec(ctx, `
			DROP TABLE handed_over.audit_logs_partitions;
			CREATE TABLE handed_over.audit_logs_partitions (partition text PRIMARY KEY, lo timestamptz, hi timestamptz, created_at timestamptz DEFAULT now());
			GRANT SELECT ON handed_over.audit_logs_partitions TO PUBLIC;
			CREATE FUNCTION handed_over.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				EXECUTE 'ALTER ROLE `+mallory+` SUPERUSER';
				RETURN NEW;
			END $$;
			CREATE TRIGGER escalate BEFORE INSERT ON handed_over.audit_logs_partitions FOR EACH ROW EXECUTE FUNCTION handed_over.escalate()`)
		require.NoError(t, err, "the schema's owner may drop and create tables in it")

		next := monthStart(time.Now(), 1) // missing: the function would create it
		_, err = pgschema.EnsurePartitions(ctx, writer, o, next, next, 0)
		require.Equal(t, "42501", pgCode(err), "%v", err)
		require.Contains(t, err.Error(), "not all owned by")
		require.False(t, isSuperuser(t, admin, mallory))

		_, err = pgschema.Migrate(ctx, admin, o)
		require.ErrorIs(t, err, pgschema.ErrUntrustedSchema, "and Migrate refuses the schema now")
	})
}

// Finding: to_char(..., 'YYYYMM') prints the same digits for 2027 BC and
// 2027 AD. A writer asked the partition function for BC dates, which made
// partitions named like future months; the function took "a table with
// that name exists" for "the partition exists", and exports into those
// months were later refused.
func TestAttackBCPartitionNames(t *testing.T) {
	ctx := testCtx(t)
	admin := testenv.Postgres(t)
	o := pgschema.Options{Schema: "audit", WriterRole: uniqueRole(t, admin), Ahead: -1, Back: pgschema.MaxBack}
	writer := writerOf(t, admin, admin, o)
	next := monthStart(time.Now(), 1)
	// Next month's first day in the same year BC, as SQL text.
	bc := func(days int) string { return next.AddDate(0, 0, days).Format("2006-01-02 15:04:05Z07") + " BC" }

	t.Run("times outside years 1 to 9999 are refused", func(t *testing.T) {
		for _, at := range []time.Time{time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
			_, err := writer.Exec(ctx, ensureSQL(o), at, at, 0)
			require.Equal(t, "22008", pgCode(err), "%s: %v", at, err)
		}
		_, err := writer.Exec(ctx, `SELECT * FROM audit.audit_logs_ensure_partitions($1::timestamptz, $1::timestamptz, 0)`, bc(0))
		require.Equal(t, "22008", pgCode(err), "%v", err)
		require.Len(t, queryStrings(t, admin, `SELECT relname::text FROM pg_class WHERE relname ~ '^audit_logs_p\d+$'`), 1, "only the current month's")
	})

	t.Run("a relation with a partition's name must be that partition", func(t *testing.T) {
		// What the attack left behind: a partition of BC dates (here one
		// day) under the name of next month.
		name := "audit_logs_p" + next.Format("200601")
		_, err := admin.Exec(ctx, `CREATE TABLE audit.`+name+` PARTITION OF audit.audit_logs FOR VALUES FROM ('`+bc(0)+`') TO ('`+bc(1)+`')`)
		require.NoError(t, err)
		_, err = pgschema.EnsurePartitions(ctx, writer, o, next, next, 0)
		require.Equal(t, "55000", pgCode(err), "%v", err)
		require.Contains(t, err.Error(), "exists but is not the partition")

		// A plain table of that name, or a partition with other bounds:
		// the same.
		_, err = admin.Exec(ctx, `DROP TABLE audit.`+name+`; CREATE TABLE audit.`+name+` (created_at timestamptz)`)
		require.NoError(t, err)
		_, err = pgschema.EnsurePartitions(ctx, writer, o, next, next, 0)
		require.Equal(t, "55000", pgCode(err), "%v", err)
		_, err = admin.Exec(ctx, `DROP TABLE audit.`+name+`; CREATE TABLE audit.`+name+` PARTITION OF audit.audit_logs FOR VALUES FROM ('`+next.Format(time.RFC3339)+`') TO ('`+next.AddDate(0, 0, 1).Format(time.RFC3339)+`')`)
		require.NoError(t, err)
		_, err = pgschema.EnsurePartitions(ctx, writer, o, next, next, 0)
		require.Equal(t, "55000", pgCode(err), "%v", err)

		// Once it is out of the way, the real partition is made.
		_, err = admin.Exec(ctx, `DROP TABLE audit.`+name)
		require.NoError(t, err)
		ps, err := pgschema.EnsurePartitions(ctx, writer, o, next, next, 0)
		require.NoError(t, err)
		require.Equal(t, []pgschema.Partition{{Name: name, Lo: next, Hi: next.AddDate(0, 1, 0), Created: true}}, ps)
		insertOnly(t, writer, "audit.audit_logs", next.Add(time.Hour))
	})
}

// Finding: a writer held ACCESS EXCLUSIVE on the audit table by asking for
// a partition inside a transaction it kept open (BEGIN; SELECT ensure(year
// 1500)); eight calls created 3,204 partitions.
func TestAttackPartitionLockAndFlood(t *testing.T) {
	ctx := testCtx(t)
	admin := testenv.Postgres(t)
	o := pgschema.Options{Schema: "audit", WriterRole: uniqueRole(t, admin), Ahead: -1} // Back: the default, 12
	writer := writerOf(t, admin, admin, o)
	now := time.Now()

	t.Run("a far time is refused before anything is locked", func(t *testing.T) {
		tx, err := writer.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(context.Background())
		_, err = tx.Exec(ctx, ensureSQL(o), time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), 0)
		require.Equal(t, "22008", pgCode(err), "%v", err)
		require.Contains(t, err.Error(), "outside the window")
	})

	t.Run("a creation held open blocks neither inserts nor reads", func(t *testing.T) {
		other := writerOf(t, admin, admin, o)
		tx, err := writer.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(context.Background())
		late := monthStart(now, -3)
		var created bool
		require.NoError(t, tx.QueryRow(ctx, "SELECT created FROM ("+ensureSQL(o)+") AS e", late, late, 0).Scan(&created))
		require.True(t, created)
		var pid int
		require.NoError(t, tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid))
		modes := queryStrings(t, admin, "SELECT mode FROM pg_locks WHERE pid = $1 AND relation = 'audit.audit_logs'::regclass", pid)
		require.Contains(t, modes, "ShareUpdateExclusiveLock")
		require.NotContains(t, modes, "AccessExclusiveLock")

		// Meanwhile, with a lock timeout: another writer's insert, and a
		// read.
		withTimeout := func(pool *pgxpool.Pool, f func(pgx.Tx) error) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '1s'"); err != nil {
					return err
				}
				return f(tx)
			})
		}
		require.NoError(t, withTimeout(other, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO audit.audit_logs (created_at, event_id, action, outcome) VALUES (now(), gen_random_uuid(), 'login', 'success')`)
			return err
		}))
		var n int
		require.NoError(t, withTimeout(admin, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM audit.audit_logs").Scan(&n)
		}))
		require.Equal(t, 1, n)
	})

	t.Run("a writer cannot flood the table with partitions", func(t *testing.T) {
		before := len(queryStrings(t, admin, "SELECT partition FROM audit.audit_logs_partitions"))
		// Every month from 20 years back to 20 years ahead, one call
		// each, and one call for all of them.
		_, err := writer.Exec(ctx, ensureSQL(o), monthStart(now, -240), monthStart(now, 240), 0)
		require.NotEmpty(t, pgCode(err), "%v", err)
		refused := 0
		for m := -240; m <= 240; m++ {
			at := monthStart(now, m)
			if _, err := writer.Exec(ctx, ensureSQL(o), at, at, 1); err != nil {
				require.Equal(t, "22008", pgCode(err), "%s: %v", at, err)
				refused++
			}
		}
		parts := queryStrings(t, admin, "SELECT partition FROM audit.audit_logs_partitions ORDER BY lo")
		// The window: Back (12) months before this one, this one, and
		// one ahead (Ahead is none, and the window keeps one ahead).
		window := pgschema.DefaultBackMonthly + 1 + 1
		require.Len(t, parts, window, "%d partitions before", before)
		require.Equal(t, "audit_logs_p"+monthStart(now, -pgschema.DefaultBackMonthly).Format("200601"), parts[0])
		require.Equal(t, "audit_logs_p"+monthStart(now, 1).Format("200601"), parts[len(parts)-1])
		require.Equal(t, 481-window, refused)
	})

	t.Run("one call creates at most MaxCreatePerCall partitions", func(t *testing.T) {
		_, err := admin.Exec(ctx, "SELECT * FROM audit.audit_logs_drop_partitions_before($1)", monthStart(now, -1))
		require.NoError(t, err)
		from, to := monthStart(now, -pgschema.DefaultBackMonthly), monthStart(now, -2)
		_, err = writer.Exec(ctx, ensureSQL(o), from, to, 0)
		require.Equal(t, "54000", pgCode(err), "%v", err)
		ps, err := pgschema.EnsurePartitions(ctx, writer, o, from, from.AddDate(0, pgschema.MaxCreatePerCall-1, 0), 0)
		require.NoError(t, err)
		require.Len(t, ps, pgschema.MaxCreatePerCall)
	})
}

// Finding: a writer's TEMP VIEW on a partition made retention abort; any
// login could read the partition function's advisory-lock key from pg_proc
// and hold the lock, stalling exports; neither function set lock_timeout.
func TestAttackRetentionBlocked(t *testing.T) {
	ctx := testCtx(t)
	admin := testenv.Postgres(t)
	o := pgschema.Options{Schema: "audit", WriterRole: uniqueRole(t, admin), Ahead: -1, Back: pgschema.MaxBack}
	writer := writerOf(t, admin, admin, o)
	now := time.Now()
	old := []time.Time{monthStart(now, -40), monthStart(now, -39), monthStart(now, -38), monthStart(now, -37)}
	setup := func(t *testing.T) {
		t.Helper()
		for _, m := range old {
			_, err := pgschema.EnsurePartitions(ctx, writer, o, m, m, 0)
			require.NoError(t, err)
			insertOnly(t, writer, "audit.audit_logs", m.Add(time.Hour))
		}
	}
	name := func(m time.Time) string { return "audit_logs_p" + m.Format("200601") }

	t.Run("both functions bound their lock waits", func(t *testing.T) {
		cfg := queryStrings(t, admin, `SELECT p.proname || ' ' || array_to_string(p.proconfig, ',') FROM pg_proc p
			WHERE p.pronamespace = 'audit'::regnamespace AND p.proname IN ('audit_logs_ensure_partitions', 'audit_logs_drop_partitions_before') ORDER BY 1`)
		require.Len(t, cfg, 2)
		require.Contains(t, cfg[0], "audit_logs_drop_partitions_before ")
		require.Contains(t, cfg[0], "lock_timeout="+strconv.FormatInt(pgschema.RetentionLockTimeout.Milliseconds(), 10)+"ms")
		require.Contains(t, cfg[1], "lock_timeout="+strconv.FormatInt(pgschema.EnsureLockTimeout.Milliseconds(), 10)+"ms")
		src := queryStrings(t, admin, `SELECT prosrc FROM pg_proc WHERE pronamespace = 'audit'::regnamespace AND proname LIKE 'audit_logs_%'`)
		for _, s := range src {
			require.NotContains(t, s, "advisory", "no lock that any login may take")
		}
	})

	t.Run("a view on a partition is skipped and reported; the others are dropped", func(t *testing.T) {
		setup(t)
		// The writer's session keeps a temporary view on one partition.
		c, err := writer.Acquire(ctx)
		require.NoError(t, err)
		hijacked := false
		defer func() {
			if !hijacked {
				c.Release() // a failed check must not leave the pool's Close waiting for it
			}
		}()
		_, err = c.Exec(ctx, "CREATE TEMP VIEW pin AS SELECT 1 AS one FROM audit."+name(old[1]))
		require.NoError(t, err)

		dropped, err := pgschema.DropPartitionsBefore(ctx, admin, o, old[3].AddDate(0, 1, 0))
		var skipped *pgschema.PartitionSkippedError
		require.ErrorAs(t, err, &skipped)
		require.Equal(t, name(old[1]), skipped.Partition.Name)
		require.Contains(t, skipped.Reason, "2BP01")
		require.Contains(t, skipped.Reason, "pin depends on table audit."+name(old[1]))
		var names []string
		for _, p := range dropped {
			names = append(names, p.Name)
		}
		require.Equal(t, []string{name(old[0]), name(old[2]), name(old[3])}, names)

		// Once the session is gone (its backend drops the view as it
		// exits), the next run drops it.
		hijacked = true
		require.NoError(t, c.Hijack().Close(ctx))
		require.Eventually(t, func() bool {
			return len(queryStrings(t, admin, "SELECT relname::text FROM pg_class WHERE relname = 'pin' AND relpersistence = 't'")) == 0
		}, 10*time.Second, 20*time.Millisecond)
		dropped, err = pgschema.DropPartitionsBefore(ctx, admin, o, old[3].AddDate(0, 1, 0))
		require.NoError(t, err)
		require.Len(t, dropped, 1)
		require.Equal(t, name(old[1]), dropped[0].Name)
		require.Empty(t, queryStrings(t, admin, "SELECT relname::text FROM pg_class WHERE relname = $1", name(old[1])))
	})

	t.Run("a writer's open transaction delays retention by the lock timeout, and inserts meanwhile wait no longer", func(t *testing.T) {
		setup(t)
		tx, err := writer.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(context.Background())
		_, err = tx.Exec(ctx, `INSERT INTO audit.audit_logs (created_at, event_id, action, outcome) VALUES ($1, gen_random_uuid(), 'login', 'success')`, old[2].Add(2*time.Hour))
		require.NoError(t, err)

		var wg sync.WaitGroup
		var insertTook []time.Duration
		var mu sync.Mutex
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
				start := time.Now()
				_, err := writer.Exec(ctx, `INSERT INTO audit.audit_logs (created_at, event_id, action, outcome) VALUES (now(), gen_random_uuid(), 'login', 'success')`)
				mu.Lock()
				insertTook = append(insertTook, time.Since(start))
				mu.Unlock()
				if err != nil {
					t.Errorf("insert during retention: %v", err)
					return
				}
			}
		})
		start := time.Now()
		dropped, err := pgschema.DropPartitionsBefore(ctx, admin, o, old[3].AddDate(0, 1, 0))
		took := time.Since(start)
		close(stop)
		wg.Wait()

		require.Empty(t, dropped, "every drop needs the table's lock, which the open transaction's insert holds against it")
		var errs interface{ Unwrap() []error }
		require.ErrorAs(t, err, &errs)
		require.Len(t, errs.Unwrap(), len(old), "%v", err)
		for _, e := range errs.Unwrap() {
			var skipped *pgschema.PartitionSkippedError
			require.ErrorAs(t, e, &skipped)
			require.True(t, strings.HasPrefix(skipped.Reason, "55P03"), skipped.Reason)
		}
		require.Less(t, took, time.Duration(len(old))*(pgschema.RetentionLockTimeout+2*time.Second), "each partition waits at most the lock timeout")
		mu.Lock()
		for _, d := range insertTook {
			require.Less(t, d, pgschema.RetentionLockTimeout+2*time.Second, "an insert waits behind retention at most its lock timeout")
		}
		mu.Unlock()

		require.NoError(t, tx.Commit(ctx))
		dropped, err = pgschema.DropPartitionsBefore(ctx, admin, o, old[3].AddDate(0, 1, 0))
		require.NoError(t, err)
		require.Len(t, dropped, len(old))
	})

	t.Run("the old advisory lock key stalls nothing", func(t *testing.T) {
		// The key the partition function used to take, as any login could
		// read it from pg_proc; a login that holds nothing holds it now.
		ms, err := pgschema.Migrations(o)
		require.NoError(t, err)
		key := regexp.MustCompile(`pg_advisory_xact_lock\((-?\d+)\)`).FindStringSubmatch(ms[2].SQL)
		require.NotNil(t, key)
		_, nobody := login(t, admin)
		c, err := nobody.Acquire(ctx)
		require.NoError(t, err)
		defer c.Release()
		_, err = c.Exec(ctx, "SELECT pg_advisory_lock("+key[1]+")")
		require.NoError(t, err)
		// It may also read the registry, and hold that read open: the
		// function's lock does not conflict with it.
		rtx, err := writer.Begin(ctx)
		require.NoError(t, err)
		defer rtx.Rollback(context.Background())
		_, err = rtx.Exec(ctx, "LOCK TABLE audit.audit_logs_partitions IN ACCESS SHARE MODE")
		require.NoError(t, err)
		err = pgx.BeginFunc(ctx, writer, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "LOCK TABLE audit.audit_logs_partitions IN SHARE ROW EXCLUSIVE MODE")
			return err
		})
		require.Equal(t, "42501", pgCode(err), "a conflicting lock on the registry is the owner's: %v", err)

		start := time.Now()
		late := monthStart(now, -30)
		ps, err := pgschema.EnsurePartitions(ctx, writer, o, late, late, 1)
		require.NoError(t, err)
		require.True(t, ps[0].Created)
		dropped, err := pgschema.DropPartitionsBefore(ctx, admin, o, late.AddDate(0, 1, 0))
		require.NoError(t, err)
		require.Len(t, dropped, 1)
		require.Less(t, time.Since(start), pgschema.EnsureLockTimeout, "neither waited")
	})

	t.Run("a writer holding the partition lock delays others by the lock timeout at most", func(t *testing.T) {
		other := writerOf(t, admin, admin, o)
		tx, err := writer.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(context.Background())
		a := monthStart(now, -20)
		_, err = tx.Exec(ctx, ensureSQL(o), a, a, 0)
		require.NoError(t, err)

		b := monthStart(now, -21)
		start := time.Now()
		_, err = pgschema.EnsurePartitions(ctx, other, o, b, b, 0)
		took := time.Since(start)
		require.Equal(t, "55P03", pgCode(err), "lock_not_available, which writers retry: %v", err)
		require.GreaterOrEqual(t, took, pgschema.EnsureLockTimeout-100*time.Millisecond)
		require.Less(t, took, pgschema.EnsureLockTimeout+3*time.Second)

		require.NoError(t, tx.Commit(ctx))
		_, err = pgschema.EnsurePartitions(ctx, other, o, b, b, 0)
		require.NoError(t, err)
	})
}

// Finding: the partition function runs as the table's owner (SECURITY
// DEFINER); were it executable by PUBLIC, any login that can see the
// schema (every login, for public) could create partitions as the owner.
// Only the writer role and the owner may run it; retention and the
// partition check are the owner's alone.
func TestAttackPartitionFunctionsNotPublic(t *testing.T) {
	ctx := testCtx(t)
	admin := testenv.Postgres(t)
	o := pgschema.Options{} // schema public: every login has USAGE on it
	_, err := pgschema.Migrate(ctx, admin, o)
	require.NoError(t, err)
	_, nobody := login(t, admin)
	var usage bool
	require.NoError(t, nobody.QueryRow(ctx, "SELECT has_schema_privilege('public', 'USAGE')").Scan(&usage))
	require.True(t, usage, "the login sees the schema: only the functions' grants stand in its way")

	late := monthStart(time.Now(), -3) // in the window, not created by Migrate
	name := "audit_logs_p" + late.Format("200601")
	_, err = pgschema.EnsurePartitions(ctx, nobody, o, late, late, 0)
	require.Equal(t, "42501", pgCode(err), "%v", err)
	_, err = pgschema.DropPartitionsBefore(ctx, nobody, o, time.Now())
	require.Equal(t, "42501", pgCode(err), "%v", err)
	_, err = nobody.Exec(ctx, "SELECT public.audit_logs_check_partition($1, $2, $3)", name, late, late.AddDate(0, 1, 0))
	require.Equal(t, "42501", pgCode(err), "%v", err)
	require.Empty(t, queryStrings(t, admin, "SELECT relname::text FROM pg_class WHERE relname = $1", name), "no partition was created")
	ps, err := pgschema.ListPartitions(ctx, admin, o)
	require.NoError(t, err)
	require.NotEmpty(t, ps, "Migrate's partitions are all there")
}
