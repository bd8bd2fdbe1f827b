package autoexport_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	_ "github.com/otelaudit/otelaudit/exporter/autoexport"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// stores are migrated test databases, named in the environment as a
// service would name them.
type stores struct {
	pg   *pgxpool.Pool
	ch   driver.Conn
	chDB string
}

func newStores(t *testing.T) stores {
	t.Helper()
	ctx := ctxT(t)
	pgDSN := testenv.PostgresDSN(t)
	pg, err := pgxpool.New(ctx, pgDSN)
	require.NoError(t, err)
	t.Cleanup(pg.Close)
	_, err = pgschema.Migrate(ctx, pg, pgschema.Options{})
	require.NoError(t, err)

	chDSN, chDB := testenv.ClickHouseDSN(t)
	opts, err := testenv.ClickHouseOptions(chDSN)
	require.NoError(t, err)
	ch, err := clickhouse.Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ch.Close()) })
	_, err = chschema.Migrate(ctx, ch, chschema.Options{Database: chDB})
	require.NoError(t, err)

	t.Setenv("OTELAUDIT_POSTGRES_DSN", pgDSN)
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", chDSN)
	return stores{pg: pg, ch: ch, chDB: chDB}
}

// ids returns the event ids stored in Postgres and in ClickHouse, sorted.
func (s stores) ids(t *testing.T) (pg, ch []string) {
	t.Helper()
	ctx := ctxT(t)
	rows, err := s.pg.Query(ctx, "SELECT event_id::text, service_name FROM audit_logs")
	require.NoError(t, err)
	for rows.Next() {
		var id, svc string
		require.NoError(t, rows.Scan(&id, &svc))
		require.Equal(t, "autoexport-test", svc)
		pg = append(pg, id)
	}
	require.NoError(t, rows.Err())
	chRows, err := s.ch.Query(ctx, "SELECT toString(event_id), service_name FROM `"+s.chDB+"`.audit_logs")
	require.NoError(t, err)
	defer chRows.Close()
	for chRows.Next() {
		var id, svc string
		require.NoError(t, chRows.Scan(&id, &svc))
		require.Equal(t, "autoexport-test", svc)
		ch = append(ch, id)
	}
	require.NoError(t, chRows.Err())
	slices.Sort(pg)
	slices.Sort(ch)
	return pg, ch
}

// emit builds the exporter autoexport selects, runs a provider with the
// SDK's BatchProcessor around it, records n logins and a settings change,
// and shuts the provider down.
func emit(t *testing.T, n int) {
	t.Helper()
	ctx := ctxT(t)
	exp, err := autoexport.NewLogExporter(ctx)
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "autoexport-test"))),
		sdklog.WithAllowKeyDuplication(),
	)
	audit := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) { t.Error(err) }))
	for i := range n {
		audit.Login(ctx, otelaudit.Actor{UserID: "u_" + string(rune('a'+i%26)), WorkspaceID: "ws_1"})
	}
	audit.SettingsChanged(ctx, otelaudit.Actor{UserID: "u_a"}, otelaudit.Resource{Type: "setting", ID: "theme"},
		attribute.StringValue("light"), attribute.StringValue("dark"))
	require.NoError(t, lp.Shutdown(ctx))
}

// TestSelectedByEnvironment sets OTEL_LOGS_EXPORTER to each registered
// value and checks which stores the events land in: all of them, the same
// ids in both when both are named.
func TestSelectedByEnvironment(t *testing.T) {
	for _, tc := range []struct {
		value                string
		postgres, clickHouse bool
	}{
		{"otelaudit_postgres,otelaudit_clickhouse", true, true},
		{"otelaudit_clickhouse,otelaudit_postgres", true, true},
		{"otelaudit_postgres", true, false},
		{"otelaudit_clickhouse", false, true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			s := newStores(t)
			t.Setenv("OTEL_LOGS_EXPORTER", tc.value)
			emit(t, 40)
			pg, ch := s.ids(t)
			if tc.postgres {
				require.Len(t, pg, 41)
			} else {
				require.Empty(t, pg)
			}
			if tc.clickHouse {
				require.Len(t, ch, 41)
			} else {
				require.Empty(t, ch)
			}
			if tc.postgres && tc.clickHouse {
				require.Equal(t, pg, ch, "the same events in both stores")
			}
		})
	}
}

// TestSelectionErrors: a store named in OTEL_LOGS_EXPORTER without its
// DSN, or with a setting that cannot be used, makes NewLogExporter fail
// (and close what it opened: TestMain checks for leaks); an unregistered
// list is autoexport's error.
func TestSelectionErrors(t *testing.T) {
	ctx := ctxT(t)
	t.Setenv("OTELAUDIT_POSTGRES_DSN", "")
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", "")
	for _, v := range []string{"otelaudit_postgres", "otelaudit_clickhouse", "otelaudit_postgres,otelaudit_clickhouse"} {
		t.Setenv("OTEL_LOGS_EXPORTER", v)
		_, err := autoexport.NewLogExporter(ctx)
		require.ErrorContains(t, err, "DSN", v)
	}

	t.Setenv("OTELAUDIT_POSTGRES_DSN", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	t.Setenv("OTELAUDIT_CLICKHOUSE_DSN", "clickhouse://nobody@127.0.0.1:1/none")
	t.Setenv("OTELAUDIT_CLICKHOUSE_RETRY_ENABLED", "maybe")
	t.Setenv("OTEL_LOGS_EXPORTER", "otelaudit_postgres,otelaudit_clickhouse")
	_, err := autoexport.NewLogExporter(ctx)
	require.ErrorContains(t, err, "OTELAUDIT_CLICKHOUSE_RETRY_ENABLED")

	t.Setenv("OTEL_LOGS_EXPORTER", "otelaudit_postgres, otelaudit_clickhouse")
	_, err = autoexport.NewLogExporter(ctx)
	require.Error(t, err)
}
