package chschema_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// TestQueryPackBoundaryLive checks the upper bound of every query of the
// pack that has one: an event 1 ns before the bound is found, and one at
// the bound is not. Five events (a failed login, a data export, an admin
// action, an OAuth connection, a subscription) are written at bound-1ns
// and the same five again at the bound.
//
// The bound is a whole second, bound as a time.Time with clickhouse.Named
// and with chschema.TimeArg; on the modern layout also a bound inside a
// second, bound with TimeArg (the compat layout's parameters are whole
// seconds). On ClickHouse 26.5 a DateTime64 column compared with the
// DateTime that clickhouse-go binds a time.Time as skipped the rows later
// in the bound's second: the modern queries compare with toDateTime64.
func TestQueryPackBoundaryLive(t *testing.T) {
	t.Parallel()
	type variant struct {
		name   string
		bound  time.Time
		arg    func(l chschema.Layout, name string, t time.Time) any
		rollup bool // run the rollup's queries too (their bounds are days)
		modern bool // only on the modern layout
	}
	named := func(_ chschema.Layout, name string, t time.Time) any { return clickhouse.Named(name, t) }
	timeArg := func(l chschema.Layout, name string, t time.Time) any { return chschema.TimeArg(l, name, t) }
	variants := []variant{
		{name: "whole second/Named", bound: day3, arg: named, rollup: true},
		{name: "whole second/TimeArg", bound: day3, arg: timeArg, rollup: true},
		{name: "inside a second/TimeArg", bound: at(day2, "12:00").Add(500 * time.Millisecond), arg: timeArg, modern: true},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			conn, opts, layout := migrated(t)
			if v.modern && layout != chschema.LayoutModern {
				t.Logf("the compat layout binds whole seconds: a bound inside a second applies to the modern layout only")
				return
			}
			exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
			require.NoError(t, err)
			in, out := v.bound.Add(-time.Nanosecond), v.bound
			emit(t, exp, boundaryEvents(in), 1)
			emit(t, exp, boundaryEvents(out), 6)
			require.EqualValues(t, 10, count(t, conn, "SELECT count() FROM audit_logs"), "both sides of the bound are stored")

			pack, err := chschema.Queries(layout, opts)
			require.NoError(t, err)
			want := boundaryAnswers(in)
			tested := 0
			for _, q := range pack {
				if q.Name == "settings_changes" {
					require.NotContains(t, strings.Join(q.Params, ","), "Date", "settings_changes has no time bound")
					continue
				}
				if q.FromRollup && !v.rollup {
					continue
				}
				w, ok := want[q.Name]
				require.True(t, ok, "query %s has no boundary case", q.Name)
				var args []any
				for _, a := range w.args {
					if tm, ok := a.value.(time.Time); ok {
						if tm.IsZero() {
							tm = v.bound // the upper bound
						}
						args = append(args, v.arg(layout, a.name, tm))
					} else {
						args = append(args, clickhouse.Named(a.name, a.value))
					}
				}
				require.Equal(t, w.rows, queryRows(t, conn, q.SQL, args, w.skip...), "%s: the event at %v is in, the one at %v is out", q.Name, in, out)
				tested++
			}
			if v.rollup {
				require.Equal(t, 9, tested, "every query with a time bound")
			}
		})
	}
}

// boundaryEvents are five events of ws_a's user u1 at t.
func boundaryEvents(t time.Time) []otelaudit.Event {
	actor := otelaudit.Actor{WorkspaceID: "ws_a", UserID: "u1"}
	admin := otelaudit.Event{Time: t, Action: otelaudit.ActionAdminAction, Actor: actor,
		Resource: otelaudit.Resource{Type: "user", ID: "u2"}, Details: js(attribute.String("op", "suspend"))}
	return []otelaudit.Event{
		{Time: t, Action: otelaudit.ActionLogin, Actor: actor, Client: otelaudit.Client{IP: "192.0.2.7"}, Outcome: otelaudit.Failure("invalid_password")},
		{Time: t, Action: otelaudit.ActionDataExportRequested, Actor: actor, Resource: otelaudit.Resource{Type: bridge.ResourceTypeDataExport, ID: "exp1"}},
		admin,
		{Time: t, Action: otelaudit.ActionOAuthConnected, Actor: actor, Resource: otelaudit.Resource{Type: bridge.ResourceTypeOAuthProvider, ID: "google"}},
		{Time: t, Action: otelaudit.ActionSubscriptionCreated, Actor: actor, Resource: otelaudit.Resource{Type: bridge.ResourceTypeSubscription, ID: "sub1"}},
	}
}

type boundaryArg struct {
	name  string
	value any // a zero time.Time is the upper bound
}

type boundaryAnswer struct {
	args []boundaryArg
	skip []string
	rows []string
}

// boundaryAnswers are the hand-worked answers of the pack when only the
// boundaryEvents at in (all on 2024-06-02) are inside the window.
func boundaryAnswers(in time.Time) map[string]boundaryAnswer {
	var bound time.Time
	day, sec, ns := in.Format("2006-01-02"), in.Format("2006-01-02 15:04:05"), fmt.Sprint(in.UnixNano())
	return map[string]boundaryAnswer{
		"logins_per_day": {args: []boundaryArg{{"from", day1}, {"to", bound}}, rows: []string{day + "|ws_a|1|1"}},
		"failed_logins_by_ip": {args: []boundaryArg{{"now", bound}, {"min_failures", 1}},
			rows: []string{"192.0.2.7|1|1|1|" + sec + "|" + sec}},
		"data_exports_per_user": {args: []boundaryArg{{"from", day1}, {"to", bound}}, rows: []string{"ws_a|u1|1|0"}},
		"admin_actions": {args: []boundaryArg{{"workspace", "ws_a"}, {"from", day1}, {"to", bound}}, skip: []string{"event_id"},
			rows: []string{ns + `|u1|user|u2|success|{"op":"suspend"}`}},
		"oauth_churn":             {args: []boundaryArg{{"from", day1}, {"to", bound}}, rows: []string{"google|1|0|1"}},
		"subscriptions_per_month": {args: []boundaryArg{{"from", may1}, {"to", bound}}, rows: []string{"2024-06-01|1|0|1"}},
		"most_active_users": {args: []boundaryArg{{"workspace", "ws_a"}, {"from", day1}, {"to", bound}, {"limit", 3}},
			rows: []string{"u1|5|5|" + sec}},
		"daily_activity": {args: []boundaryArg{{"workspace", "ws_a"}, {"from", day1}, {"to", bound}}, rows: []string{
			day + "|admin_action|1|0",
			day + "|data_export_requested|1|0",
			day + "|login|1|1",
			day + "|oauth_connected|1|0",
			day + "|subscription_created|1|0",
		}},
		"user_activity": {args: []boundaryArg{{"user_id", "u1"}, {"from", day1}, {"to", bound}}, skip: []string{"event_id"}, rows: []string{
			// time, workspace, action, role, user, name, resource type and
			// id, outcome, error type, IP, user agent, session, details,
			// previous and new value.
			ns + "|ws_a|login|actor|u1||||failure|invalid_password|192.0.2.7|||||",
			ns + "|ws_a|data_export_requested|actor|u1||" + bridge.ResourceTypeDataExport + "|exp1|success|||||||",
			ns + `|ws_a|admin_action|actor|u1||user|u2|success|||||{"op":"suspend"}||`,
			ns + "|ws_a|oauth_connected|actor|u1||" + bridge.ResourceTypeOAuthProvider + "|google|success|||||||",
			ns + "|ws_a|subscription_created|actor|u1||" + bridge.ResourceTypeSubscription + "|sub1|success|||||||",
		}},
	}
}
