package clickhouselog_test

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// TestRetryDisabledMeansOneAttempt makes the first PrepareBatch fail with
// a transient error: with retries disabled (by option, or by the
// environment) Export gives up after that attempt; enabled, the second
// attempt stores the batch.
func TestRetryDisabledMeansOneAttempt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		opts       []clickhouselog.Option
		wantFailed bool
	}{
		{name: "option", opts: []clickhouselog.Option{clickhouselog.WithRetry(clickhouselog.RetryConfig{})}, wantFailed: true},
		{name: "environment", env: map[string]string{"OTELAUDIT_CLICKHOUSE_RETRY_ENABLED": "FALSE"}, wantFailed: true},
		{
			name: "option over environment",
			env:  map[string]string{"OTELAUDIT_CLICKHOUSE_RETRY_ENABLED": "false"},
			opts: []clickhouselog.Option{clickhouselog.WithRetry(clickhouselog.RetryConfig{Enabled: true})},
		},
		{name: "enabled by default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			conn, opts, layout := migrated(t)
			flaky := &flakyConn{Conn: conn}
			flaky.failPrepare.Store(1)
			all := append([]clickhouselog.Option{clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout)}, tc.opts...)
			exp, err := clickhouselog.New(flaky, all...)
			require.NoError(t, err)
			err = exp.Export(ctxT(t), logins(5, "ws"))
			s := exp.Stats()
			if tc.wantFailed {
				require.Error(t, err)
				require.Zero(t, s.Retried)
				require.EqualValues(t, 5, s.Failed)
				require.Zero(t, count(t, conn, "SELECT count() FROM audit_logs"))
				return
			}
			require.NoError(t, err)
			require.EqualValues(t, 1, s.Retried)
			require.EqualValues(t, 5, count(t, conn, "SELECT count() FROM audit_logs"))
		})
	}
}

// TestOpenAndConfigurationFromEnvironment checks Open (its own connection,
// closed at Shutdown; the table in the DSN's database) and what New and
// Open read from the environment, options winning over it.
func TestOpenAndConfigurationFromEnvironment(t *testing.T) {
	ctx := ctxT(t)
	dsn, db := testenv.ClickHouseDSN(t)
	chOpts, err := testenv.ClickHouseOptions(dsn)
	require.NoError(t, err)
	conn, err := clickhouse.Open(chOpts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	for _, table := range []string{"audit_logs", "env_logs"} {
		_, err := chschema.Migrate(ctx, conn, chschema.Options{Database: db, Table: table})
		require.NoError(t, err)
	}
	rows := func(table string) uint64 { return count(t, conn, "SELECT count() FROM `"+db+"`."+table) }
	export := func(t *testing.T, e *clickhouselog.Exporter, records []sdklog.Record) {
		t.Helper()
		require.NoError(t, e.Export(ctx, records))
		require.NoError(t, e.Shutdown(ctx))
		require.ErrorIs(t, e.Export(ctx, records), sdklog.ErrExporterShutdown)
		require.EqualValues(t, len(records), e.Stats().Written)
	}
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", dsn)

	t.Run("Open: the DSN of the environment and its database", func(t *testing.T) {
		e, err := clickhouselog.Open(ctx, "")
		require.NoError(t, err)
		export(t, e, logins(2, "ws"))
		require.EqualValues(t, 2, rows("audit_logs"))
	})
	t.Run("Open: the argument wins over OTELAUDIT_CLICKHOUSE_DSN", func(t *testing.T) {
		t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", "clickhouse://nobody@127.0.0.1:1/none")
		e, err := clickhouselog.Open(ctx, dsn)
		require.NoError(t, err)
		export(t, e, logins(3, "ws"))
		require.EqualValues(t, 5, rows("audit_logs"))
	})
	t.Run("the environment's table", func(t *testing.T) {
		t.Setenv("OTELAUDIT_CLICKHOUSE_TABLE", "env_logs")
		e, err := clickhouselog.Open(ctx, "")
		require.NoError(t, err)
		export(t, e, logins(4, "ws"))
		require.EqualValues(t, 4, rows("env_logs"))
	})
	t.Run("the option's table wins", func(t *testing.T) {
		t.Setenv("OTELAUDIT_CLICKHOUSE_TABLE", "env_logs")
		e, err := clickhouselog.New(conn, clickhouselog.WithSchema(chschema.Options{Database: db, Table: "audit_logs"}))
		require.NoError(t, err)
		export(t, e, logins(6, "ws"))
		require.EqualValues(t, 11, rows("audit_logs"))
		require.EqualValues(t, 4, rows("env_logs"))
		require.NoError(t, conn.Ping(ctx), "Shutdown leaves a connection given to New open")
	})
	t.Run("the environment's database", func(t *testing.T) {
		t.Setenv("OTELAUDIT_CLICKHOUSE_DATABASE", db)
		e, err := clickhouselog.New(conn) // conn's default database is db too; the table's name is qualified
		require.NoError(t, err)
		t.Setenv("OTELAUDIT_CLICKHOUSE_DATABASE", "no_such_database")
		bad, err := clickhouselog.New(conn)
		require.NoError(t, err)
		export(t, e, logins(1, "ws"))
		require.Error(t, bad.Export(ctx, logins(1, "ws")))
		require.ErrorContains(t, bad.Export(ctx, logins(1, "ws")), "no_such_database")
	})
	t.Run("the environment's layout, and the option over it", func(t *testing.T) {
		t.Setenv("OTELAUDIT_CLICKHOUSE_LAYOUT", "modern") // the table is compat (18.16)
		in := clickhouselog.WithSchema(chschema.Options{Database: db})
		e, err := clickhouselog.New(conn, in, clickhouselog.WithRetry(clickhouselog.RetryConfig{}))
		require.NoError(t, err)
		require.ErrorContains(t, e.Export(ctx, logins(1, "ws")), "attributes", "a modern insert into a compat table")
		e, err = clickhouselog.New(conn, in, clickhouselog.WithLayout(chschema.LayoutCompat))
		require.NoError(t, err)
		export(t, e, logins(2, "ws"))
	})
	t.Run("values that cannot be used", func(t *testing.T) {
		t.Setenv("OTELAUDIT_CLICKHOUSE_LAYOUT", "newest")
		t.Setenv("OTELAUDIT_CLICKHOUSE_RETRY_INITIAL_INTERVAL", "-5")
		_, err := clickhouselog.New(conn)
		require.ErrorContains(t, err, "OTELAUDIT_CLICKHOUSE_LAYOUT")
		require.ErrorContains(t, err, "OTELAUDIT_CLICKHOUSE_RETRY_INITIAL_INTERVAL")
		_, err = clickhouselog.Open(ctx, "")
		require.ErrorContains(t, err, "OTELAUDIT_CLICKHOUSE_LAYOUT")
	})
	t.Run("Open without a DSN", func(t *testing.T) {
		t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", "")
		_, err := clickhouselog.Open(ctx, "")
		require.ErrorContains(t, err, "OTELAUDIT_CLICKHOUSE_DSN")
	})
}

// TestShutdownOfOpenedExporterConcurrentSafe shuts an Exporter made by
// Open down from several goroutines while Exports run: each Export either
// writes its batch or returns ErrExporterShutdown with its records
// counted as failed, and the connection is closed once (TestMain checks
// for leaked goroutines).
func TestShutdownOfOpenedExporterConcurrentSafe(t *testing.T) {
	ctx := ctxT(t)
	dsn, db := testenv.ClickHouseDSN(t)
	chOpts, err := testenv.ClickHouseOptions(dsn)
	require.NoError(t, err)
	conn, err := clickhouse.Open(chOpts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	_, err = chschema.Migrate(ctx, conn, chschema.Options{Database: db})
	require.NoError(t, err)

	e, err := clickhouselog.Open(ctx, dsn)
	require.NoError(t, err)
	done := make(chan error, 8)
	for g := range 4 {
		go func() { done <- e.Export(ctx, logins(200, "ws"+string(rune('a'+g)))) }()
	}
	for range 4 {
		go func() { done <- e.Shutdown(ctx) }()
	}
	for range 8 {
		if err := <-done; err != nil {
			require.ErrorIs(t, err, sdklog.ErrExporterShutdown)
		}
	}
	s := e.Stats()
	require.Equal(t, s.Received, s.Settled())
	require.Equal(t, s.Received, s.Written+s.Failed)
	require.Equal(t, s.Written, count(t, conn, "SELECT count() FROM `"+db+"`.audit_logs"))
	require.NoError(t, e.Shutdown(context.Background()), "a later Shutdown does nothing")
}
