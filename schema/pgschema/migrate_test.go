package pgschema_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// testTimeout bounds each database test.
const testTimeout = 2 * time.Minute

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// migrated returns a pool on a fresh database migrated with o.
func migrated(t *testing.T, o pgschema.Options) *pgxpool.Pool {
	t.Helper()
	pool := testenv.Postgres(t)
	_, err := pgschema.Migrate(testCtx(t), pool, o)
	require.NoError(t, err)
	return pool
}

func queryStrings(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(testCtx(t), sql, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

func TestMigrate(t *testing.T) {
	ctx := testCtx(t)
	pool := testenv.Postgres(t)

	applied, err := pgschema.Migrate(ctx, pool, pgschema.Options{})
	require.NoError(t, err)
	ms, err := pgschema.Migrations(pgschema.Options{})
	require.NoError(t, err)
	var all []int
	for _, m := range ms {
		all = append(all, m.Version)
	}
	require.Equal(t, all, applied)

	t.Run("rerun is a no-op", func(t *testing.T) {
		applied, err := pgschema.Migrate(ctx, pool, pgschema.Options{})
		require.NoError(t, err)
		require.Empty(t, applied)
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs_schema_migrations`).Scan(&n))
		require.Equal(t, len(ms), n)
	})

	t.Run("columns", func(t *testing.T) {
		rows, err := pool.Query(ctx, `
			SELECT column_name, CASE WHEN data_type = 'ARRAY' THEN ltrim(udt_name, '_') || '[]' ELSE udt_name END
			FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = 'audit_logs'
			ORDER BY ordinal_position`)
		require.NoError(t, err)
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgschema.Column, error) {
			var c pgschema.Column
			err := r.Scan(&c.Name, &c.Type)
			return c, err
		})
		require.NoError(t, err)
		alias := map[string]string{"timestamptz": "timestamptz", "uuid": "uuid", "text": "text", "inet": "inet", "jsonb": "jsonb", "text[]": "text[]"}
		want := map[string]string{}
		for _, c := range pgschema.Columns() {
			want[c.Name] = alias[c.Type]
		}
		want["ingested_at"] = "timestamptz"
		want["arrival"] = "xid8"
		have := map[string]string{}
		for _, c := range got {
			have[c.Name] = c.Type
		}
		require.Equal(t, want, have, "the table's columns are Columns() plus ingested_at and arrival")
	})

	t.Run("partitions from this month to three ahead", func(t *testing.T) {
		ps, err := pgschema.ListPartitions(ctx, pool, pgschema.Options{})
		require.NoError(t, err)
		require.Len(t, ps, 1+pgschema.DefaultAhead)
		now := time.Now().UTC()
		first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		for i, p := range ps {
			lo := first.AddDate(0, i, 0)
			require.Equal(t, "audit_logs_p"+lo.Format("200601"), p.Name)
			require.True(t, lo.Equal(p.Lo), "lo %v, want %v", p.Lo, lo)
			require.True(t, lo.AddDate(0, 1, 0).Equal(p.Hi), "hi %v", p.Hi)
		}
		attached := queryStrings(t, pool, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'public.audit_logs'::regclass ORDER BY 1`)
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		require.Equal(t, names, attached)
	})
}

func TestMigrateConcurrentSafe(t *testing.T) {
	ctx := testCtx(t)
	pool := testenv.Postgres(t)
	role := uniqueRole(t, pool)
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []int
		errs    []error
	)
	for range n {
		wg.Go(func() {
			a, err := pgschema.Migrate(ctx, pool, pgschema.Options{Schema: "audit", WriterRole: role})
			mu.Lock()
			defer mu.Unlock()
			applied = append(applied, a...)
			errs = append(errs, err)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	slices.Sort(applied)
	ms, err := pgschema.Migrations(pgschema.Options{})
	require.NoError(t, err)
	require.Len(t, applied, len(ms), "each migration applied exactly once: %v", applied)
	var all []int
	for _, m := range ms {
		all = append(all, m.Version)
	}
	require.Equal(t, all, slices.Compact(applied))
}

func TestMigrateChecksumMismatch(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	_, err := pgschema.Migrate(ctx, pool, pgschema.Options{Interval: pgschema.Daily})
	require.ErrorIs(t, err, pgschema.ErrChecksumMismatch)
	// The monthly layout is untouched.
	_, err = pgschema.Migrate(ctx, pool, pgschema.Options{})
	require.NoError(t, err)
}

func TestMigrateInvalidOptions(t *testing.T) {
	pool := testenv.Postgres(t)
	_, err := pgschema.Migrate(testCtx(t), pool, pgschema.Options{Table: `x"y`})
	require.ErrorIs(t, err, pgschema.ErrInvalidOptions)
}

func TestMigrateCanceled(t *testing.T) {
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := pgschema.Migrate(ctx, pool, pgschema.Options{})
	require.ErrorIs(t, err, context.Canceled)
}

// dropRole drops a role created by a test, after revoking what it was
// granted in pool's database (roles are cluster-wide).
func dropRole(t *testing.T, pool *pgxpool.Pool, role string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := pool.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{role}.Sanitize()+"; DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	require.NoError(t, err)
}
