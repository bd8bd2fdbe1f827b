package postgreslog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// rowsIn counts the rows of a table of pool's database.
func rowsIn(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(testCtx(t), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// TestRetryDisabledMeansOneAttempt cuts the connection during a COPY:
// with retries disabled (by option, or by the environment) Export makes
// that one attempt and fails the batch; the caller's second Export stores
// it. With retries enabled the same cut is retried within the Export.
func TestRetryDisabledMeansOneAttempt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		opts       []postgreslog.Option
		wantFailed bool
	}{
		{name: "option", opts: []postgreslog.Option{postgreslog.WithRetry(postgreslog.RetryConfig{})}, wantFailed: true},
		{name: "environment", env: map[string]string{"OTELAUDIT_POSTGRES_RETRY_ENABLED": "false"}, wantFailed: true},
		{
			name: "option over environment",
			env:  map[string]string{"OTELAUDIT_POSTGRES_RETRY_ENABLED": "false"},
			opts: []postgreslog.Option{postgreslog.WithRetry(postgreslog.RetryConfig{Enabled: true, InitialInterval: time.Millisecond})},
		},
		{
			name: "environment intervals",
			env:  map[string]string{"OTELAUDIT_POSTGRES_RETRY_INITIAL_INTERVAL": "1", "OTELAUDIT_POSTGRES_RETRY_MAX_INTERVAL": "2ms"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			ctx := testCtx(t)
			pool := migrated(t, pgschema.Options{})
			p := newProxy(t, pool.Config().ConnConfig.Host+":"+fmt.Sprint(pool.Config().ConnConfig.Port))
			through := poolThrough(t, pool, p)
			e, err := postgreslog.New(through, append([]postgreslog.Option{postgreslog.WithErrorHandler(func(error) {})}, tc.opts...)...)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })

			require.NoError(t, e.Export(ctx, logins(1, batchTime.Add(-time.Hour)))) // warm: partitions, connection
			const n = 300
			records := logins(n, batchTime)
			p.arm(killOnCopyData)
			err = e.Export(ctx, records)
			require.Equal(t, int32(1), p.killed.Load(), "the proxy cut a connection")
			s := e.Stats()
			if tc.wantFailed {
				require.Error(t, err)
				require.Zero(t, s.Retried, "one attempt")
				require.Equal(t, uint64(n), s.Failed)
				require.Equal(t, 1, rowsIn(t, pool, "audit_logs"), "nothing of the cut COPY is stored")
				require.NoError(t, e.Export(ctx, records), "the caller's retry")
			} else {
				require.NoError(t, err)
				require.Positive(t, s.Retried)
				require.Zero(t, s.Failed)
			}
			require.Equal(t, n+1, rowsIn(t, pool, "audit_logs"))
		})
	}
}

// TestConfigurationFromEnvironment checks what New, Open and NewTxWriter
// read from the environment, and that options win over it.
func TestConfigurationFromEnvironment(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{Table: "env_logs"})
	_, err := pgschema.Migrate(ctx, pool, pgschema.Options{Table: "opt_logs"})
	require.NoError(t, err)
	t.Setenv("OTELAUDIT_POSTGRES_DSN", pool.Config().ConnString())
	t.Setenv("OTELAUDIT_POSTGRES_TABLE", "env_logs")
	t.Setenv("OTELAUDIT_POSTGRES_MAX_COPY_BYTES", "64KiB")
	export := func(t *testing.T, e *postgreslog.Exporter, records []sdklog.Record) {
		t.Helper()
		require.NoError(t, e.Export(ctx, records))
		require.NoError(t, e.Shutdown(ctx))
		require.Equal(t, uint64(len(records)), e.Stats().Written)
	}

	t.Run("Open with the DSN and table of the environment", func(t *testing.T) {
		e, err := postgreslog.Open(ctx, "")
		require.NoError(t, err)
		export(t, e, logins(2, batchTime))
		require.Equal(t, 2, rowsIn(t, pool, "env_logs"))
	})
	t.Run("New: the option's table wins", func(t *testing.T) {
		e, err := postgreslog.New(pool, postgreslog.WithSchema(pgschema.Options{Table: "opt_logs"}))
		require.NoError(t, err)
		export(t, e, logins(3, batchTime))
		require.Equal(t, 3, rowsIn(t, pool, "opt_logs"))
		require.Equal(t, 2, rowsIn(t, pool, "env_logs"))
	})
	t.Run("Open: the argument wins over OTELAUDIT_POSTGRES_DSN", func(t *testing.T) {
		dsn := pool.Config().ConnString()
		t.Setenv("OTELAUDIT_POSTGRES_DSN", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
		e, err := postgreslog.Open(ctx, dsn)
		require.NoError(t, err)
		export(t, e, logins(4, batchTime.Add(time.Second)))
		require.Equal(t, 6, rowsIn(t, pool, "env_logs"))
	})
	t.Run("the environment's size bound splits the COPY", func(t *testing.T) {
		// 2,000 rows of some 100 bytes each are over 64 KiB: several
		// statements, each its own transaction (xmin).
		e, err := postgreslog.New(pool, postgreslog.WithSchema(pgschema.Options{Table: "opt_logs"}))
		require.NoError(t, err)
		export(t, e, logins(2000, batchTime.Add(time.Minute)))
		var xmins int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(DISTINCT xmin::text) FROM opt_logs WHERE created_at >= $1", batchTime.Add(time.Minute)).Scan(&xmins))
		require.Greater(t, xmins, 1)
	})
	t.Run("TxWriter", func(t *testing.T) {
		w, err := postgreslog.NewTxWriter(pool)
		require.NoError(t, err)
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		_, err = w.Record(ctx, tx, otelaudit.Event{Action: otelaudit.ActionLogin, Actor: otelaudit.Actor{UserID: "u_tx"}})
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM env_logs WHERE user_id = 'u_tx'").Scan(&n))
		require.Equal(t, 1, n)
	})
	t.Run("a value that cannot be used", func(t *testing.T) {
		t.Setenv("OTELAUDIT_POSTGRES_RETRY_MAX_ELAPSED_TIME", "forever")
		_, err := postgreslog.New(pool)
		require.ErrorContains(t, err, "OTELAUDIT_POSTGRES_RETRY_MAX_ELAPSED_TIME")
		_, err = postgreslog.Open(ctx, "")
		require.ErrorContains(t, err, "OTELAUDIT_POSTGRES_RETRY_MAX_ELAPSED_TIME")
		_, err = postgreslog.NewTxWriter(pool)
		require.ErrorContains(t, err, "OTELAUDIT_POSTGRES_RETRY_MAX_ELAPSED_TIME")
	})
	t.Run("an invalid table name", func(t *testing.T) {
		t.Setenv("OTELAUDIT_POSTGRES_TABLE", "Audit-Logs")
		_, err := postgreslog.New(pool)
		require.ErrorIs(t, err, pgschema.ErrInvalidOptions)
	})
	t.Run("Open without a DSN", func(t *testing.T) {
		t.Setenv("OTELAUDIT_POSTGRES_DSN", "")
		_, err := postgreslog.Open(ctx, "")
		require.ErrorContains(t, err, "OTELAUDIT_POSTGRES_DSN")
	})
}
