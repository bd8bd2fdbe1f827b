package pgschema_test

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// insertRow inserts a minimal audit row at t and returns the partition it
// landed in.
func insertRow(t *testing.T, pool *pgxpool.Pool, table string, at time.Time) string {
	t.Helper()
	var part string
	require.NoError(t, pool.QueryRow(testCtx(t),
		`INSERT INTO `+table+` (created_at, event_id, action, outcome) VALUES ($1, gen_random_uuid(), 'login', 'success')
		 RETURNING tableoid::regclass::text`, at).Scan(&part))
	return part
}

// insertOnly inserts a minimal audit row without reading anything back
// (RETURNING needs SELECT, which the writer role does not have).
func insertOnly(t *testing.T, pool *pgxpool.Pool, table string, at time.Time) {
	t.Helper()
	_, err := pool.Exec(testCtx(t),
		`INSERT INTO `+table+` (created_at, event_id, action, outcome) VALUES ($1, gen_random_uuid(), 'login', 'success')`, at)
	require.NoError(t, err)
}

func TestEnsurePartitionsMonthBoundary(t *testing.T) {
	ctx := testCtx(t)
	o := pgschema.Options{Schema: "audit", Ahead: -1, Back: pgschema.MaxBack} // any month may be created
	pool := migrated(t, o)

	endOfJan := time.Date(2024, 1, 31, 23, 59, 59, 999999000, time.UTC)
	startOfFeb := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)

	// Without a partition, Postgres refuses the row.
	_, err := pool.Exec(ctx, `INSERT INTO audit.audit_logs (created_at, event_id, action, outcome) VALUES ($1, gen_random_uuid(), 'login', 'success')`, endOfJan)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "23514", pgErr.Code, "no partition of relation found for row")

	ps, err := pgschema.EnsurePartitions(ctx, pool, o, endOfJan, startOfFeb, 1)
	require.NoError(t, err)
	require.Equal(t, []pgschema.Partition{
		{Name: "audit_logs_p202401", Lo: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Hi: startOfFeb, Created: true},
		{Name: "audit_logs_p202402", Lo: startOfFeb, Hi: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Created: true},
		{Name: "audit_logs_p202403", Lo: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Hi: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC), Created: true},
	}, ps)

	again, err := pgschema.EnsurePartitions(ctx, pool, o, startOfFeb, startOfFeb, 0)
	require.NoError(t, err)
	require.Equal(t, []pgschema.Partition{{Name: "audit_logs_p202402", Lo: startOfFeb, Hi: ps[1].Hi}}, again, "exists: not created again")

	require.Equal(t, "audit.audit_logs_p202401", insertRow(t, pool, "audit.audit_logs", endOfJan))
	require.Equal(t, "audit.audit_logs_p202402", insertRow(t, pool, "audit.audit_logs", startOfFeb))
	// A time in another zone is placed by its UTC month.
	berlin := time.FixedZone("CET", 3600)
	require.Equal(t, "audit.audit_logs_p202401", insertRow(t, pool, "audit.audit_logs", time.Date(2024, 2, 1, 0, 30, 0, 0, berlin)))

	t.Run("too many in one call", func(t *testing.T) {
		_, err := pgschema.EnsurePartitions(ctx, pool, o, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 0)
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "54000", pgErr.Code)
	})
	t.Run("reversed range", func(t *testing.T) {
		_, err := pgschema.EnsurePartitions(ctx, pool, o, startOfFeb, endOfJan, 0)
		require.ErrorAs(t, err, &pgErr)
		require.Equal(t, "22023", pgErr.Code)
	})
}

func TestEnsurePartitionsDaily(t *testing.T) {
	ctx := testCtx(t)
	o := pgschema.Options{Interval: pgschema.Daily, Ahead: 2, Back: pgschema.MaxBack}
	pool := migrated(t, o)
	ps, err := pgschema.ListPartitions(ctx, pool, o)
	require.NoError(t, err)
	require.Len(t, ps, 3)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	require.Equal(t, "audit_logs_p"+today.Format("20060102"), ps[0].Name)
	require.Equal(t, today.AddDate(0, 0, 3), ps[2].Hi)

	leap := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	got, err := pgschema.EnsurePartitions(ctx, pool, o, leap, leap, 0)
	require.NoError(t, err)
	require.Equal(t, []pgschema.Partition{{Name: "audit_logs_p20240229", Lo: leap.Truncate(24 * time.Hour), Hi: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Created: true}}, got)
}

// requireRefused checks that err is the append-only trigger's refusal (or
// a permission error, for roles without the privilege).
func requireRefused(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, code, pgErr.Code, pgErr.Message)
}

func TestAppendOnly(t *testing.T) {
	ctx := testCtx(t)
	o := pgschema.Options{}
	pool := migrated(t, o)
	now := time.Now()
	part := insertRow(t, pool, "audit_logs", now)
	wide := pgschema.Options{Back: pgschema.MaxBack} // old months too

	for _, stmt := range []string{
		`UPDATE audit_logs SET action = 'logout'`,
		`DELETE FROM audit_logs`,
		`TRUNCATE audit_logs`,
		`UPDATE ` + part + ` SET action = 'logout'`,
		`DELETE FROM ` + part,
		`TRUNCATE ` + part,
	} {
		t.Run(stmt, func(t *testing.T) {
			_, err := pool.Exec(ctx, stmt)
			requireRefused(t, err, "42501")
			require.Contains(t, err.Error(), "append-only")
		})
	}
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs`).Scan(&n))
	require.Equal(t, 1, n, "the row survived")

	t.Run("new partitions are protected too", func(t *testing.T) {
		late := time.Now().AddDate(0, -6, 0) // in the default window
		ps, err := pgschema.EnsurePartitions(ctx, pool, o, late, late, 0)
		require.NoError(t, err)
		require.True(t, ps[0].Created)
		p := insertRow(t, pool, "audit_logs", late)
		_, err = pool.Exec(ctx, `TRUNCATE `+p)
		requireRefused(t, err, "42501")
		_, err = pool.Exec(ctx, `DELETE FROM `+p)
		requireRefused(t, err, "42501")
	})

	t.Run("retention drops whole partitions", func(t *testing.T) {
		old := time.Date(2020, 3, 15, 0, 0, 0, 0, time.UTC)
		_, err := pgschema.Migrate(ctx, pool, wide)
		require.NoError(t, err)
		_, err = pgschema.EnsurePartitions(ctx, pool, o, old, old, 1)
		require.NoError(t, err)
		insertRow(t, pool, "audit_logs", old)
		insertRow(t, pool, "audit_logs", old.AddDate(0, 1, 0))

		// The cutoff falls inside April: only March is entirely older.
		dropped, err := pgschema.DropPartitionsBefore(ctx, pool, o, time.Date(2020, 4, 20, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		require.Len(t, dropped, 1)
		require.Equal(t, "audit_logs_p202003", dropped[0].Name)
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE created_at < '2020-05-01'`).Scan(&n))
		require.Equal(t, 1, n, "April's row is kept")
		require.Empty(t, queryStrings(t, pool, `SELECT relname::text FROM pg_class WHERE relname = 'audit_logs_p202003'`))

		again, err := pgschema.DropPartitionsBefore(ctx, pool, o, time.Date(2020, 4, 20, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		require.Empty(t, again)
	})
}

// uniqueRole returns a role name no other test uses (roles are
// cluster-wide) and drops the role when the test ends.
func uniqueRole(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	role := "t_writer_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { dropRole(t, pool, role) })
	return role
}

// connectAs returns a pool on pool's database logged in as role.
func connectAs(t *testing.T, pool *pgxpool.Pool, role string) *pgxpool.Pool {
	t.Helper()
	ctx := testCtx(t)
	_, err := pool.Exec(ctx, "ALTER ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN")
	require.NoError(t, err)
	cfg := pool.Config().ConnConfig
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	wp, err := pgxpool.New(ctx, u.String())
	require.NoError(t, err)
	t.Cleanup(wp.Close)
	return wp
}

func TestWriterRole(t *testing.T) {
	ctx := testCtx(t)
	pool := testenv.Postgres(t)
	role := uniqueRole(t, pool)
	o := pgschema.Options{Schema: "audit", WriterRole: role}
	_, err := pgschema.Migrate(ctx, pool, o)
	require.NoError(t, err)
	_, err = pgschema.Migrate(ctx, pool, o)
	require.NoError(t, err, "grants are idempotent")
	w := connectAs(t, pool, role)

	now := time.Now()
	insertOnly(t, w, "audit.audit_logs", now) // INSERT allowed

	// The writer may create partitions through the function, and read the
	// registry, but nothing else.
	late := time.Now().UTC().AddDate(0, -5, 0)
	ps, err := pgschema.EnsurePartitions(ctx, w, o, late, late, 0)
	require.NoError(t, err)
	require.True(t, ps[0].Created)
	insertOnly(t, w, "audit.audit_logs", late)
	_, err = pgschema.ListPartitions(ctx, w, o)
	require.NoError(t, err)

	for _, stmt := range []string{
		`SELECT count(*) FROM audit.audit_logs`,
		`UPDATE audit.audit_logs SET action = 'x'`,
		`DELETE FROM audit.audit_logs`,
		`TRUNCATE audit.audit_logs`,
		`DROP TABLE audit.` + ps[0].Name,
		`ALTER TABLE audit.audit_logs DISABLE TRIGGER otelaudit_append_only`,
		`CREATE TABLE audit.audit_logs_p209901 PARTITION OF audit.audit_logs FOR VALUES FROM ('2099-01-01') TO ('2099-02-01')`,
		`CREATE TABLE audit.audit_logs_p209901 (created_at timestamptz)`,
		`BEGIN; LOCK TABLE audit.audit_logs IN SHARE MODE; COMMIT`,
		`BEGIN; LOCK TABLE audit.audit_logs_partitions IN EXCLUSIVE MODE; COMMIT`,
		`UPDATE audit.audit_logs_partition_settings SET back = 100000`,
		`SELECT * FROM audit.audit_logs_check_partition('x', now(), now())`,
	} {
		t.Run(stmt, func(t *testing.T) {
			_, err := w.Exec(ctx, stmt)
			requireRefused(t, err, "42501")
		})
	}
	_, err = pgschema.DropPartitionsBefore(ctx, w, o, late.AddDate(0, 2, 0))
	requireRefused(t, err, "42501")

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit.audit_logs`).Scan(&n))
	require.Equal(t, 2, n)
}

func TestQueryPathsUseIndexes(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	now := time.Now()
	_, err := pool.Exec(ctx, `
		INSERT INTO audit_logs (created_at, event_id, action, outcome, user_id, workspace_id)
		SELECT $1::timestamptz - make_interval(secs => i), gen_random_uuid(), 'action_' || (i % 20), 'success', 'usr_' || (i % 500), 'ws_' || (i % 50)
		FROM generate_series(1, 20000) AS i`, now)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE audit_logs`)
	require.NoError(t, err)

	for _, q := range []struct{ name, sql, index string }{
		{"by workspace", `SELECT * FROM audit_logs WHERE workspace_id = 'ws_7' ORDER BY created_at DESC LIMIT 50`, "workspace"},
		{"by user", `SELECT * FROM audit_logs WHERE user_id = 'usr_42' ORDER BY created_at DESC LIMIT 50`, "user"},
		{"by action", `SELECT * FROM audit_logs WHERE action = 'action_3' ORDER BY created_at DESC LIMIT 50`, "action"},
		{"by time", `SELECT * FROM audit_logs WHERE created_at >= now() - interval '1 hour' ORDER BY created_at DESC LIMIT 50`, "pkey"},
	} {
		t.Run(q.name, func(t *testing.T) {
			// Whether the planner picks the ordered index scan depends on
			// the data; that the index can give the order without a sort
			// shows once the alternatives are priced out.
			var plan string
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off`); err != nil {
					return err
				}
				rows, err := tx.Query(ctx, `EXPLAIN (COSTS OFF) `+q.sql)
				if err != nil {
					return err
				}
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				for _, l := range lines {
					plan += l + "\n"
				}
				return err
			})
			require.NoError(t, err)
			require.Contains(t, plan, "Index Scan Backward using", plan)
			require.Contains(t, plan, q.index, plan)
			require.NotContains(t, plan, "Sort", "no sort: the index gives the order\n%s", plan)
		})
	}
}

// TestPartitionsInAnotherSessionTimeZone: partitions cover UTC months
// (or days) and are named after them whatever the session's TimeZone:
// the partition functions set their own. The pool here sets the session
// time zone itself, so the test does not depend on the server's or on
// PGTZ.
func TestPartitionsInAnotherSessionTimeZone(t *testing.T) {
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	for _, tz := range []string{"Asia/Tokyo", "Pacific/Honolulu"} {
		t.Run(tz, func(t *testing.T) {
			ctx := testCtx(t)
			cfg, err := pgxpool.ParseConfig(testenv.PostgresDSN(t))
			require.NoError(t, err)
			cfg.ConnConfig.RuntimeParams["timezone"] = tz
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			var session string
			require.NoError(t, pool.QueryRow(ctx, "SHOW TimeZone").Scan(&session))
			require.Equal(t, tz, session)

			t.Run("monthly", func(t *testing.T) {
				o := pgschema.Options{Schema: "monthly", Ahead: -1, Back: pgschema.MaxBack}
				_, err := pgschema.Migrate(ctx, pool, o)
				require.NoError(t, err)
				ps, err := pgschema.EnsurePartitions(ctx, pool, o, utc(2024, 1, 31, 23, 59), utc(2024, 2, 1, 0, 0), 1)
				require.NoError(t, err)
				require.Equal(t, []pgschema.Partition{
					{Name: "audit_logs_p202401", Lo: utc(2024, 1, 1, 0, 0), Hi: utc(2024, 2, 1, 0, 0), Created: true},
					{Name: "audit_logs_p202402", Lo: utc(2024, 2, 1, 0, 0), Hi: utc(2024, 3, 1, 0, 0), Created: true},
					{Name: "audit_logs_p202403", Lo: utc(2024, 3, 1, 0, 0), Hi: utc(2024, 4, 1, 0, 0), Created: true},
				}, ps)
				// Rows go by their UTC month, on both sides of each boundary.
				require.Equal(t, "monthly.audit_logs_p202401", insertRow(t, pool, "monthly.audit_logs", time.Date(2024, 1, 31, 23, 59, 59, 999999000, time.UTC)))
				require.Equal(t, "monthly.audit_logs_p202402", insertRow(t, pool, "monthly.audit_logs", utc(2024, 2, 1, 0, 0)))
				require.Equal(t, "monthly.audit_logs_p202402", insertRow(t, pool, "monthly.audit_logs", time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)))
				require.Equal(t, "monthly.audit_logs_p202403", insertRow(t, pool, "monthly.audit_logs", utc(2024, 3, 1, 0, 0)))

				list, err := pgschema.ListPartitions(ctx, pool, o)
				require.NoError(t, err)
				require.Equal(t, []pgschema.Partition{
					{Name: "audit_logs_p202401", Lo: utc(2024, 1, 1, 0, 0), Hi: utc(2024, 2, 1, 0, 0)},
					{Name: "audit_logs_p202402", Lo: utc(2024, 2, 1, 0, 0), Hi: utc(2024, 3, 1, 0, 0)},
					{Name: "audit_logs_p202403", Lo: utc(2024, 3, 1, 0, 0), Hi: utc(2024, 4, 1, 0, 0)},
				}, list[:3], "the registry (then the current month's, made by Migrate)")

				dropped, err := pgschema.DropPartitionsBefore(ctx, pool, o, utc(2024, 2, 29, 23, 59))
				require.NoError(t, err)
				require.Equal(t, []pgschema.Partition{{Name: "audit_logs_p202401", Lo: utc(2024, 1, 1, 0, 0), Hi: utc(2024, 2, 1, 0, 0)}}, dropped)
				require.Equal(t, []string{"monthly.audit_logs_p202402", "monthly.audit_logs_p202402", "monthly.audit_logs_p202403"},
					queryStrings(t, pool, "SELECT tableoid::regclass::text FROM monthly.audit_logs ORDER BY created_at"))
			})

			t.Run("daily", func(t *testing.T) {
				o := pgschema.Options{Schema: "daily", Interval: pgschema.Daily, Ahead: -1, Back: pgschema.MaxBack}
				_, err := pgschema.Migrate(ctx, pool, o)
				require.NoError(t, err)
				ps, err := pgschema.EnsurePartitions(ctx, pool, o, utc(2024, 2, 29, 23, 59), utc(2024, 2, 29, 23, 59), 1)
				require.NoError(t, err)
				require.Equal(t, []pgschema.Partition{
					{Name: "audit_logs_p20240229", Lo: utc(2024, 2, 29, 0, 0), Hi: utc(2024, 3, 1, 0, 0), Created: true},
					{Name: "audit_logs_p20240301", Lo: utc(2024, 3, 1, 0, 0), Hi: utc(2024, 3, 2, 0, 0), Created: true},
				}, ps)
				require.Equal(t, "daily.audit_logs_p20240229", insertRow(t, pool, "daily.audit_logs", utc(2024, 2, 29, 0, 0)))
				require.Equal(t, "daily.audit_logs_p20240229", insertRow(t, pool, "daily.audit_logs", time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)))
				require.Equal(t, "daily.audit_logs_p20240301", insertRow(t, pool, "daily.audit_logs", utc(2024, 3, 1, 0, 0)))
			})
		})
	}
}
