package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/pipeline"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// postgres returns the DSN of a fresh database with a migrated audit
// table, and a pool on it to read the rows back.
func postgres(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	pool, err := pgxpool.New(ctxT(t), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pgschema.Migrate(ctxT(t), pool, pgschema.Options{})
	require.NoError(t, err)
	return dsn, pool
}

// clickHouse returns the DSN of a fresh database (the DSN's default
// database) with a migrated audit table, and a connection to read it.
func clickHouse(t *testing.T) (string, driver.Conn, string) {
	t.Helper()
	dsn, db := testenv.ClickHouseDSN(t)
	opts, err := testenv.ClickHouseOptions(dsn)
	require.NoError(t, err)
	conn, err := clickhouse.Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, conn.Close()) })
	_, err = chschema.Migrate(ctxT(t), conn, chschema.Options{Database: db})
	require.NoError(t, err)
	return dsn, conn, db
}

// row is what the tests read back from either store.
type row struct{ EventID, Action, UserID, ServiceName string }

func postgresRows(t *testing.T, pool *pgxpool.Pool, table string) []row {
	t.Helper()
	rs, err := pool.Query(ctxT(t), "SELECT event_id::text, action, user_id, service_name FROM "+table)
	require.NoError(t, err)
	var out []row
	for rs.Next() {
		var r row
		require.NoError(t, rs.Scan(&r.EventID, &r.Action, &r.UserID, &r.ServiceName))
		out = append(out, r)
	}
	require.NoError(t, rs.Err())
	return sorted(out)
}

func clickHouseRows(t *testing.T, conn driver.Conn, db string) []row {
	t.Helper()
	rs, err := conn.Query(ctxT(t), "SELECT toString(event_id), action, user_id, service_name FROM `"+db+"`.audit_logs")
	require.NoError(t, err)
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		require.NoError(t, rs.Scan(&r.EventID, &r.Action, &r.UserID, &r.ServiceName))
		out = append(out, r)
	}
	require.NoError(t, rs.Err())
	return sorted(out)
}

func sorted(rows []row) []row {
	slices.SortFunc(rows, func(a, b row) int {
		if a.Action != b.Action {
			return compare(a.Action, b.Action)
		}
		return compare(a.EventID, b.EventID)
	})
	return rows
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestSetupEndToEnd configures the pipeline by environment variables
// alone, records events, shuts it down, and reads the rows back from both
// stores: the same events, with the service name of OTEL_SERVICE_NAME.
func TestSetupEndToEnd(t *testing.T) {
	ctx := ctxT(t)
	pgDSN, pool := postgres(t)
	chDSN, chConn, chDB := clickHouse(t)
	dir := filepath.Join(t.TempDir(), "journal")
	t.Setenv("OTELAUDIT_POSTGRES_DSN", pgDSN)
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", chDSN)
	t.Setenv("OTELAUDIT_JOURNAL_DIR", dir)
	t.Setenv("OTELAUDIT_JOURNAL_SYNC", "each")
	t.Setenv("OTEL_SERVICE_NAME", "billing-e2e")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=overridden-by-otel-service-name,deployment.environment=test")

	audit, shutdown, err := pipeline.Setup(ctx)
	require.NoError(t, err)
	ada := otelaudit.Actor{UserID: "u_42", WorkspaceID: "ws_7"}
	audit.Login(ctx, ada)
	audit.SettingsChanged(ctx, ada, otelaudit.Resource{Type: "setting", ID: "mfa.required"},
		attribute.BoolValue(false), attribute.BoolValue(true))
	require.NoError(t, audit.RecordSync(ctx, otelaudit.Event{Action: otelaudit.ActionDataDeleteRequested, Actor: ada}))
	require.NoError(t, shutdown(ctx))
	require.Equal(t, uint64(3), audit.Stats().Emitted)

	pgRows := postgresRows(t, pool, "audit_logs")
	require.Len(t, pgRows, 3)
	var actions []string
	for _, r := range pgRows {
		actions = append(actions, r.Action)
		require.Equal(t, "u_42", r.UserID)
		require.Equal(t, "billing-e2e", r.ServiceName, "service.name from OTEL_SERVICE_NAME")
	}
	require.Equal(t, []string{"data_delete_requested", "login", "settings_changed"}, actions)
	require.Equal(t, pgRows, clickHouseRows(t, chConn, chDB), "the same events, ids included, in both stores")

	// The journal is where OTELAUDIT_JOURNAL_DIR says, with one cursor
	// per store under the documented target names.
	for _, name := range []string{pipeline.TargetPostgres, pipeline.TargetClickHouse} {
		matches, err := filepath.Glob(filepath.Join(dir, "cursors", name+"*"))
		require.NoError(t, err)
		require.NotEmpty(t, matches, "cursor of %s", name)
	}
}

// TestSetupOptionsWinOverEnvironment gives Setup options that contradict
// the environment: the journal directory and the Postgres table of the
// options are used.
func TestSetupOptionsWinOverEnvironment(t *testing.T) {
	ctx := ctxT(t)
	pgDSN, pool := postgres(t)
	envDir, optDir := filepath.Join(t.TempDir(), "env"), filepath.Join(t.TempDir(), "opt")
	t.Setenv("OTELAUDIT_POSTGRES_DSN", pgDSN)
	t.Setenv("OTELAUDIT_POSTGRES_TABLE", "no_such_table")
	t.Setenv("OTELAUDIT_JOURNAL_DIR", envDir)
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", "")

	audit, shutdown, err := pipeline.Setup(ctx,
		pipeline.WithJournalDir(optDir),
		pipeline.WithPostgres("", postgreslog.WithSchema(pgschema.Options{Table: "audit_logs"})))
	require.NoError(t, err)
	audit.Login(ctx, otelaudit.Actor{UserID: "u_1"})
	require.NoError(t, shutdown(ctx))

	rows := postgresRows(t, pool, "audit_logs")
	require.Len(t, rows, 1)
	require.Equal(t, "login", rows[0].Action)
	_, err = os.Stat(envDir)
	require.ErrorIs(t, err, os.ErrNotExist, "the environment's journal directory is not used")
	_, err = os.Stat(filepath.Join(optDir, "cursors"))
	require.NoError(t, err)
}

// TestSetupErrors: without a store Setup refuses to start; with a value
// it cannot use in the environment it fails, naming the variable, and
// closes the stores it had opened (TestMain checks for leaks).
func TestSetupErrors(t *testing.T) {
	ctx := ctxT(t)
	t.Setenv("OTELAUDIT_POSTGRES_DSN", "")
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", "")
	t.Setenv("OTELAUDIT_JOURNAL_DIR", t.TempDir())
	_, _, err := pipeline.Setup(ctx)
	require.ErrorIs(t, err, pipeline.ErrNoStore)

	t.Setenv("OTELAUDIT_POSTGRES_DSN", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", "clickhouse://nobody@127.0.0.1:1/none")
	t.Setenv("OTELAUDIT_JOURNAL_MAX_BYTES", "lots")
	_, _, err = pipeline.Setup(ctx)
	require.ErrorContains(t, err, "OTELAUDIT_JOURNAL_MAX_BYTES")

	t.Setenv("OTELAUDIT_JOURNAL_MAX_BYTES", "")
	t.Setenv("OTELAUDIT_JOURNAL_DIR", "")
	_, _, err = pipeline.Setup(ctx)
	require.ErrorContains(t, err, "OTELAUDIT_JOURNAL_DIR")

	t.Setenv("OTELAUDIT_JOURNAL_DIR", t.TempDir())
	t.Setenv("OTELAUDIT_CLICKHOUSE_LAYOUT", "newest")
	_, _, err = pipeline.Setup(ctx)
	require.ErrorContains(t, err, "OTELAUDIT_CLICKHOUSE_LAYOUT")
}
