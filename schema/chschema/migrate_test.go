package chschema_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestMigrateCompatLive(t *testing.T) {
	t.Parallel()
	conn, db := testenv.ClickHouse(t)
	ctx := ctxT(t)
	opts := chschema.Options{Database: db, TTLDays: 30}

	layout, err := chschema.Migrate(ctx, conn, opts)
	require.NoError(t, err)
	server, err := chschema.ServerLayout(ctx, conn)
	require.NoError(t, err)
	require.Equal(t, server, layout, "the layout follows the server's version")
	require.Equal(t, engineLayout(), layout, "compat on 18.16, modern on 26.5 (chDB)")

	tl, err := chschema.TableLayout(ctx, conn, opts)
	require.NoError(t, err)
	require.Equal(t, layout, tl)

	// The table has exactly the columns the exporter writes, in order, and
	// the version the server computes.
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = 'audit_logs' AND default_kind != 'MATERIALIZED'", db) // table order (18.16 has no position column)
	require.NoError(t, err)
	var cols []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		cols = append(cols, name)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, chschema.Columns(layout), cols)
	require.EqualValues(t, 1, count(t, conn, "SELECT count() FROM system.columns WHERE database = ? AND table = 'audit_logs' AND name = 'ingest_version' AND default_kind = 'MATERIALIZED'", db))

	// Every object exists.
	var n uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('audit_logs', 'audit_logs_daily', 'audit_logs_daily_mv', 'otelaudit_migrations')", db).Scan(&n))
	require.EqualValues(t, 4, n)

	recorded := func() []string {
		rows, err := conn.Query(ctx, "SELECT concat(toString(version), ':', name, ':', layout) FROM otelaudit_migrations ORDER BY version")
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	first := recorded()
	require.Equal(t, []string{"1:audit_logs:" + layout.String(), "2:daily_rollup:" + layout.String()}, first)

	t.Run("re-running is a no-op", func(t *testing.T) {
		again, err := chschema.Migrate(ctx, conn, opts)
		require.NoError(t, err)
		require.Equal(t, layout, again)
		require.Equal(t, first, recorded(), "no migration recorded twice")
	})
	t.Run("the recorded layout wins over a mismatching option", func(t *testing.T) {
		other := chschema.LayoutModern
		if layout == chschema.LayoutModern {
			other = chschema.LayoutCompat
		}
		o := opts
		o.Layout = other
		_, err := chschema.Migrate(ctx, conn, o)
		require.ErrorIs(t, err, chschema.ErrLayoutMismatch)
	})
	t.Run("concurrent migrations of a second table", func(t *testing.T) {
		o := opts
		o.Table = "other_audit"
		errs := make(chan error, 4)
		for range 4 {
			go func() { _, err := chschema.Migrate(ctx, conn, o); errs <- err }()
		}
		for range 4 {
			require.NoError(t, <-errs)
		}
		require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name LIKE 'other_audit%'", db).Scan(&n))
		require.EqualValues(t, 3, n)
	})
}

func TestMigrateForcedCompatLive(t *testing.T) {
	t.Parallel()
	conn, db := testenv.ClickHouse(t)
	ctx := ctxT(t)
	opts := chschema.Options{Database: db, Table: "forced", Layout: chschema.LayoutCompat}
	layout, err := chschema.Migrate(ctx, conn, opts)
	require.NoError(t, err)
	require.Equal(t, chschema.LayoutCompat, layout)
	tl, err := chschema.TableLayout(ctx, conn, opts)
	require.NoError(t, err)
	require.Equal(t, chschema.LayoutCompat, tl, "the table itself has the compat columns")
}

func TestMigrateRefusesBadNamesLive(t *testing.T) {
	t.Parallel()
	conn, _ := testenv.ClickHouse(t)
	_, err := chschema.Migrate(ctxT(t), conn, chschema.Options{Database: "x`; DROP DATABASE system; --"})
	require.ErrorIs(t, err, chschema.ErrInvalidOptions)
}
