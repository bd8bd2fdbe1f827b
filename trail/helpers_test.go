package trail_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
	"github.com/otelaudit/otelaudit/trail"
)

// TestMain fails the package's tests if they leave goroutines behind, and
// closes the chDB engine, if the tests ran on it, before the process
// exits (an engine left open crashes a race-enabled process at exit).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(testenv.Exit))
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// stores is an audit trail in both stores, migrated, written by the real
// exporters, with a reader on each.
type stores struct {
	t      *testing.T
	ctx    context.Context
	pg     *pgxpool.Pool
	ch     driver.Conn
	chOpts chschema.Options
	pgExp  *postgreslog.Exporter
	chExp  *clickhouselog.Exporter
	pgR    *trail.Postgres
	chR    *trail.ClickHouse
}

func newStores(t *testing.T) *stores {
	t.Helper()
	ctx := testCtx(t)
	s := &stores{t: t, ctx: ctx}
	s.pg = testenv.Postgres(t)
	_, err := pgschema.Migrate(ctx, s.pg, pgschema.Options{})
	require.NoError(t, err)
	var db string
	s.ch, db = testenv.ClickHouse(t)
	s.chOpts = chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, s.ch, s.chOpts)
	require.NoError(t, err)

	handler := func(err error) { t.Errorf("exporter error: %v", err) }
	s.pgExp, err = postgreslog.New(s.pg, postgreslog.WithErrorHandler(handler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.pgExp.Shutdown(context.Background())) })
	s.chExp, err = clickhouselog.New(s.ch, clickhouselog.WithSchema(s.chOpts), clickhouselog.WithLayout(layout), clickhouselog.WithErrorHandler(handler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.chExp.Shutdown(context.Background())) })

	s.pgR, err = trail.NewPostgres(s.pg)
	require.NoError(t, err)
	s.chR, err = trail.NewClickHouse(s.ch, trail.WithClickHouseSchema(s.chOpts))
	require.NoError(t, err)
	return s
}

// write emits the events through a real SDK provider and the bridge, and
// exports the records to both stores.
func (s *stores) write(evs []otelaudit.Event) {
	s.t.Helper()
	recs := capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) { s.t.Errorf("bridge: %v", err) }))
		for _, ev := range evs {
			a.Record(context.Background(), ev)
		}
	})
	require.Len(s.t, recs, len(evs))
	require.NoError(s.t, s.pgExp.Export(s.ctx, recs))
	require.NoError(s.t, s.chExp.Export(s.ctx, recs))
}

func capture(emit func(lp log.LoggerProvider)) []sdklog.Record {
	return testenv.Capture("billing", emit)
}

// corpus returns n varied events with ids, from base on, a few minutes
// apart: logins (some failed, some from IPv6), settings changes with
// structured details and previous/new values, custom oauth.* actions,
// oauth_connected, and administrators acting on users.
func corpus(n int, base time.Time) []otelaudit.Event {
	out := make([]otelaudit.Event, n)
	for i := range n {
		ev := otelaudit.Event{
			ID:     uuid.Must(uuid.NewV7()),
			Time:   base.Add(time.Duration(i)*7*time.Minute + time.Duration(i)*time.Microsecond),
			Action: otelaudit.ActionLogin,
			Actor:  otelaudit.Actor{UserID: fmt.Sprintf("usr_%d", i%5), WorkspaceID: fmt.Sprintf("ws_%d", i%3), Name: fmt.Sprintf("User %d", i%5)},
			Client: otelaudit.Client{IP: fmt.Sprintf("203.0.113.%d", i%4), UserAgent: "Mozilla/5.0 (test)", SessionID: fmt.Sprintf("sess_%d", i)},
		}
		switch i % 6 {
		case 1:
			ev.Outcome = otelaudit.Failure("invalid_password")
			ev.Client.IP = "2001:db8::7"
		case 2:
			ev.Action = otelaudit.ActionSettingsChanged
			ev.Resource = otelaudit.Resource{Type: "settings", ID: fmt.Sprintf("set_%d", i)}
			ev.Details = otelaudit.Value(map[string]any{"reason": "user request", "count": 100, "ok": true, "list": []any{"a", 2}})
			ev.Previous = otelaudit.Value(map[string]any{"theme": "dark"})
			ev.New = otelaudit.Value(map[string]any{"theme": "light"})
		case 3:
			ev.Action = "oauth.token_refreshed"
			ev.Resource = otelaudit.Resource{Type: "oauth_app", ID: "github"}
		case 4:
			ev.Action = otelaudit.ActionOAuthConnected
			ev.Resource = otelaudit.Resource{Type: "oauth_app", ID: "google"}
		case 5:
			ev.Action = otelaudit.ActionAdminAction
			ev.Actor = otelaudit.Actor{UserID: "admin_1", WorkspaceID: ev.Actor.WorkspaceID, Name: "Admin"}
			ev.Resource = otelaudit.Resource{Type: trail.UserResourceType, ID: fmt.Sprintf("usr_%d", (i+1)%5)}
			ev.Details = otelaudit.Value(map[string]any{"op": "reset_mfa"})
		}
		out[i] = ev
	}
	return out
}

func chschemaOptions(db string) chschema.Options { return chschema.Options{Database: db} }
