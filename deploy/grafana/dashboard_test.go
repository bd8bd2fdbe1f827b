package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

type dashboard struct {
	UID    string `json:"uid"`
	Panels []struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RawSQL string `json:"rawSql"`
			Meta   struct {
				Pack string `json:"pack"`
			} `json:"meta"`
		} `json:"targets"`
	} `json:"panels"`
}

var timeFilter = regexp.MustCompile(`\$__timeFilter\(([a-z_]+)\)`)

// substitute does what the ClickHouse data source does with the macros
// and the variable.
func substitute(sql string, from, to time.Time, workspace string) string {
	f, t := strconv.FormatInt(from.Unix(), 10), strconv.FormatInt(to.Unix(), 10)
	sql = timeFilter.ReplaceAllString(sql, "$1 >= toDateTime("+f+") AND $1 <= toDateTime("+t+")")
	sql = strings.ReplaceAll(sql, "$__fromTime", "toDateTime("+f+")")
	sql = strings.ReplaceAll(sql, "$__toTime", "toDateTime("+t+")")
	ws := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(workspace) + "'"
	return strings.ReplaceAll(sql, "${workspace:sqlstring}", ws)
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("dashboards/otelaudit.json")
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(b, &d), "the dashboard is JSON")
	require.Equal(t, "otelaudit", d.UID)
	prov, err := os.ReadFile("provisioning/datasources/clickhouse.yaml")
	require.NoError(t, err)
	dash, err := os.ReadFile("provisioning/dashboards/otelaudit.yaml")
	require.NoError(t, err)
	require.Contains(t, string(dash), "path: /var/lib/grafana/dashboards")

	conn, db := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, conn, opts)
	require.NoError(t, err)
	pack, err := chschema.Queries(layout, opts)
	require.NoError(t, err)
	packNames := map[string]bool{}
	for _, q := range pack {
		packNames[q.Name] = true
	}

	now := time.Now().UTC().Truncate(time.Second)
	seed(t, ctx, conn, opts, layout, now)

	titles := map[string]bool{}
	for _, p := range d.Panels {
		titles[p.Title] = true
		require.Equal(t, "grafana-clickhouse-datasource", p.Datasource.Type, p.Title)
		require.Contains(t, string(prov), "uid: "+p.Datasource.UID, "%s: its data source is provisioned", p.Title)
		require.Len(t, p.Targets, 1, p.Title)
		tg := p.Targets[0]
		require.True(t, packNames[tg.Meta.Pack], "%s: built on a query of the pack, not %q", p.Title, tg.Meta.Pack)
		for _, ws := range []string{"", "ws_a", "ws_none'; DROP TABLE audit_logs; --"} {
			sql := substitute(tg.RawSQL, now.Add(-7*24*time.Hour), now, ws)
			require.NotContains(t, sql, "$", "%s: every macro substituted", p.Title)
			rows, err := conn.Query(ctx, sql)
			require.NoError(t, err, "%s (workspace %q):\n%s", p.Title, ws, sql)
			n := 0
			for rows.Next() {
				n++
			}
			require.NoError(t, rows.Err())
			rows.Close()
			switch {
			case strings.HasPrefix(ws, "ws_none"):
				if strings.Contains(tg.RawSQL, "${workspace") {
					require.Zero(t, n, "%s: the workspace filters", p.Title)
				}
			default:
				require.NotZero(t, n, "%s (workspace %q): the seed has answers", p.Title, ws)
			}
		}
	}
	for _, want := range []string{"Logins and failed logins", "Failed logins by client IP", "Admin actions", "Data exports per user", "Settings changes"} {
		require.True(t, titles[want], want)
	}

	// One answer checked by hand: the IP with three failed logins first.
	for _, p := range d.Panels {
		if p.Title != "Failed logins by client IP" {
			continue
		}
		var ip string
		var failures, users uint64
		var first, last time.Time
		var workspaces uint64
		require.NoError(t, conn.QueryRow(ctx, substitute(p.Targets[0].RawSQL, now.Add(-7*24*time.Hour), now, "")).
			Scan(&ip, &failures, &users, &workspaces, &first, &last))
		require.Equal(t, "198.51.100.66", ip)
		require.EqualValues(t, 3, failures)
		require.EqualValues(t, 3, users)
		require.EqualValues(t, 2, workspaces)
	}
}

func seed(t *testing.T, ctx context.Context, conn driver.Conn, opts chschema.Options, layout chschema.Layout, now time.Time) {
	t.Helper()
	at := func(h int) time.Time { return now.Add(-time.Duration(h) * time.Hour) }
	login := func(h int, ws, user, ip string, failed bool) otelaudit.Event {
		e := otelaudit.Event{Time: at(h), Action: otelaudit.ActionLogin, Actor: otelaudit.Actor{WorkspaceID: ws, UserID: user}, Client: otelaudit.Client{IP: ip}}
		if failed {
			e.Outcome = otelaudit.Failure("invalid_password")
		}
		return e
	}
	evs := []otelaudit.Event{
		login(1, "ws_a", "u1", "192.0.2.1", false),
		login(2, "ws_a", "u1", "198.51.100.66", true),
		login(3, "ws_a", "u2", "198.51.100.66", true),
		login(4, "ws_b", "u3", "198.51.100.66", true),
		login(30, "ws_b", "u3", "192.0.2.9", true),
		{Time: at(5), Action: otelaudit.ActionAdminAction, Actor: otelaudit.Actor{WorkspaceID: "ws_a", UserID: "admin1"},
			Resource: otelaudit.Resource{Type: "user", ID: "u2"}, Details: otelaudit.Value(map[string]any{"op": "suspend"})},
		{Time: at(6), Action: otelaudit.ActionDataExportRequested, Actor: otelaudit.Actor{WorkspaceID: "ws_a", UserID: "u1"}, Resource: otelaudit.Resource{Type: "data_export", ID: "e1"}},
		{Time: at(5), Action: otelaudit.ActionDataExportCompleted, Actor: otelaudit.Actor{WorkspaceID: "ws_a", UserID: "u1"}, Resource: otelaudit.Resource{Type: "data_export", ID: "e1"}},
		{Time: at(7), Action: otelaudit.ActionSettingsChanged, Actor: otelaudit.Actor{WorkspaceID: "ws_a", UserID: "u1"},
			Resource: otelaudit.Resource{Type: "workspace_settings", ID: "ws_a/security"},
			Previous: attribute.MapValue(attribute.Bool("mfa", false)), New: attribute.MapValue(attribute.Bool("mfa", true))},
	}
	var recs []sdklog.Record
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(collect{&recs}))
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) { t.Errorf("seed: %v", err) }))
	for _, ev := range evs {
		a.Record(ctx, ev)
	}
	require.NoError(t, lp.Shutdown(ctx))
	require.Len(t, recs, len(evs))
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	require.NoError(t, exp.Export(ctx, recs))
	require.EqualValues(t, len(evs), exp.Stats().Written, fmt.Sprint(exp.Stats()))
	require.NoError(t, exp.Shutdown(ctx))
}

type collect struct{ recs *[]sdklog.Record }

func (c collect) OnEmit(_ context.Context, r *sdklog.Record) error {
	*c.recs = append(*c.recs, r.Clone())
	return nil
}
func (collect) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (collect) Shutdown(context.Context) error                         { return nil }
func (collect) ForceFlush(context.Context) error                       { return nil }
