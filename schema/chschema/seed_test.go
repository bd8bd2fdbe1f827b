package chschema_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// The seeded dataset: two workspaces over two days in June 2024 (and two
// subscriptions in May, and one event at midnight after the second day),
// 39 events whose answers to every query of the
// pack are worked out by hand in queries_test.go. Numbers in the comments
// are the event numbers the expectations refer to.
var (
	day1 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
	day3 = day1.AddDate(0, 0, 2) // "now" of the failed-logins query
)

func at(day time.Time, hhmm string) time.Time {
	var h, m int
	if _, err := fmt.Sscanf(hhmm, "%d:%d", &h, &m); err != nil {
		panic(err)
	}
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func js(kvs ...attribute.KeyValue) attribute.Value { return attribute.MapValue(kvs...) }

func seedEvents() []otelaudit.Event {
	actor := func(ws, user string) otelaudit.Actor { return otelaudit.Actor{WorkspaceID: ws, UserID: user} }
	login := func(t time.Time, ws, user, ip string, failed bool) otelaudit.Event {
		e := otelaudit.Event{Time: t, Action: otelaudit.ActionLogin, Actor: actor(ws, user), Client: otelaudit.Client{IP: ip}}
		if failed {
			e.Outcome = otelaudit.Failure("invalid_password")
		}
		return e
	}
	res := func(t time.Time, a otelaudit.Action, ws, user, typ, id string) otelaudit.Event {
		return otelaudit.Event{Time: t, Action: a, Actor: actor(ws, user), Resource: otelaudit.Resource{Type: typ, ID: id}}
	}
	admin := func(t time.Time, ws, user, target, op string) otelaudit.Event {
		e := res(t, otelaudit.ActionAdminAction, ws, user, "user", target)
		e.Details = js(attribute.String("op", op))
		return e
	}
	setting := func(t time.Time, ws, user, id string, prev, next attribute.Value) otelaudit.Event {
		e := res(t, otelaudit.ActionSettingsChanged, ws, user, "workspace_settings", id)
		e.Previous, e.New = prev, next
		return e
	}
	const exp, sub, oauth = bridge.ResourceTypeDataExport, bridge.ResourceTypeSubscription, bridge.ResourceTypeOAuthProvider
	return []otelaudit.Event{
		// ws_a
		login(at(day1, "08:00"), "ws_a", "u1", "192.0.2.1", false),                                                                                       // 1
		login(at(day1, "08:05"), "ws_a", "u2", "192.0.2.2", false),                                                                                       // 2
		login(at(day1, "08:10"), "ws_a", "u1", "198.51.100.1", true),                                                                                     // 3
		login(at(day2, "08:00"), "ws_a", "u1", "192.0.2.1", false),                                                                                       // 4
		login(at(day2, "10:00"), "ws_a", "u1", "198.51.100.66", true),                                                                                    // 5
		login(at(day2, "10:01"), "ws_a", "u2", "198.51.100.66", true),                                                                                    // 6
		login(at(day2, "10:02"), "ws_a", "u5", "198.51.100.66", true),                                                                                    // 7
		res(at(day1, "09:00"), otelaudit.ActionDataExportRequested, "ws_a", "u1", exp, "exp1"),                                                           // 8
		res(at(day1, "09:30"), otelaudit.ActionDataExportCompleted, "ws_a", "u1", exp, "exp1"),                                                           // 9
		res(at(day2, "09:00"), otelaudit.ActionDataExportRequested, "ws_a", "u1", exp, "exp2"),                                                           // 10
		res(at(day2, "09:10"), otelaudit.ActionDataExportRequested, "ws_a", "u2", exp, "exp3"),                                                           // 11
		admin(at(day1, "10:00").Add(500*time.Millisecond), "ws_a", "admin1", "u2", "suspend"),                                                            // 12
		admin(at(day2, "09:00"), "ws_a", "admin1", "u5", "role_change"),                                                                                  // 13
		setting(at(day1, "11:00"), "ws_a", "u1", "ws_a/security", js(attribute.Bool("mfa", false)), js(attribute.Bool("mfa", true))),                     // 14
		setting(at(day2, "11:00"), "ws_a", "u2", "ws_a/security", js(attribute.Int("session_ttl_hours", 24)), js(attribute.Int("session_ttl_hours", 8))), // 15
		setting(at(day2, "12:00"), "ws_a", "u1", "ws_a/billing", js(attribute.String("plan", "pro")), js(attribute.String("plan", "team"))),              // 16
		res(at(day1, "13:00"), otelaudit.ActionOAuthConnected, "ws_a", "u1", oauth, "google"),                                                            // 17
		res(at(day1, "13:05"), otelaudit.ActionOAuthConnected, "ws_a", "u2", oauth, "google"),                                                            // 18
		res(at(day2, "13:00"), otelaudit.ActionOAuthDisconnected, "ws_a", "u2", oauth, "google"),                                                         // 19
		res(at(day1, "14:00"), otelaudit.ActionOAuthConnected, "ws_a", "u1", oauth, "github"),                                                            // 20
		res(at(day2, "14:00"), otelaudit.ActionOAuthDisconnected, "ws_a", "u1", oauth, "github"),                                                         // 21
		res(time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC), otelaudit.ActionSubscriptionCreated, "ws_a", "u1", sub, "sub1"),                               // 22
		res(at(day1, "15:00"), otelaudit.ActionSubscriptionCancelled, "ws_a", "u1", sub, "sub1"),                                                         // 23
		// ws_b
		login(at(day1, "08:00"), "ws_b", "u3", "192.0.2.3", false),                                                                   // 24
		login(at(day1, "08:20"), "ws_b", "u4", "198.51.100.1", true),                                                                 // 25
		login(at(day2, "10:03"), "ws_b", "u3", "198.51.100.66", true),                                                                // 26
		login(at(day2, "10:04"), "ws_b", "u4", "198.51.100.66", true),                                                                // 27
		login(at(day2, "20:00"), "ws_b", "u3", "203.0.113.9", true),                                                                  // 28
		res(at(day1, "09:00"), otelaudit.ActionDataExportRequested, "ws_b", "u3", exp, "exp4"),                                       // 29
		res(at(day1, "09:20"), otelaudit.ActionDataExportCompleted, "ws_b", "u3", exp, "exp4"),                                       // 30
		admin(at(day1, "10:00"), "ws_b", "admin2", "u4", "reset_mfa"),                                                                // 31
		setting(at(day1, "11:00"), "ws_b", "u3", "ws_b/security", js(attribute.Bool("mfa", true)), js(attribute.Bool("mfa", false))), // 32
		res(at(day1, "13:00"), otelaudit.ActionOAuthConnected, "ws_b", "u3", oauth, "google"),                                        // 33
		res(at(day2, "14:30"), otelaudit.ActionOAuthDisconnected, "ws_b", "u3", oauth, "github"),                                     // 34
		res(time.Date(2024, 5, 20, 12, 0, 0, 0, time.UTC), otelaudit.ActionSubscriptionCreated, "ws_b", "u3", sub, "sub2"),           // 35
		res(at(day2, "15:00"), otelaudit.ActionSubscriptionCreated, "ws_b", "u4", sub, "sub3"),                                       // 36
		res(at(day2, "16:00"), otelaudit.ActionSubscriptionCancelled, "ws_b", "u3", sub, "sub2"),                                     // 37
		// On the edges of the [day1, day3) windows: the first is in, the
		// second is out.
		res(day1, otelaudit.ActionOAuthConnected, "ws_b", "u4", oauth, "gitlab"),    // 38
		res(day3, otelaudit.ActionOAuthDisconnected, "ws_b", "u4", oauth, "gitlab"), // 39
	}
}

// seedID is the fixed event id of seed event n (1-based), so that the
// same event emitted twice has the same id.
func seedID(n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("01900000-0000-7000-8000-%012d", n))
}

// emit records events (numbered from first) through a bridge.Auditor
// over an SDK LoggerProvider whose BatchProcessor exports to exp: the
// whole path. Each call ends with a flush, so each lands in its own parts.
func emit(t *testing.T, exp *clickhouselog.Exporter, events []otelaudit.Event, first int) {
	t.Helper()
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(keepOpen{exp})))
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) { t.Errorf("seed event rejected: %v", err) }))
	for i, e := range events {
		e.ID = seedID(first + i)
		a.Record(context.Background(), e)
	}
	require.NoError(t, lp.Shutdown(ctxT(t)))
}

// keepOpen keeps the shared exporter open when a provider shuts down.
type keepOpen struct{ *clickhouselog.Exporter }

func (keepOpen) Shutdown(context.Context) error { return nil }

// seeded migrates a fresh database and writes the seed through the whole
// path, in three flushes so the rows land in several parts.
func seeded(t *testing.T) (driver.Conn, chschema.Options, chschema.Layout, *clickhouselog.Exporter) {
	t.Helper()
	conn, opts, layout := migrated(t)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	require.NoError(t, err)
	events := seedEvents()
	for _, r := range [][2]int{{0, 10}, {10, 25}, {25, len(events)}} {
		emit(t, exp, events[r[0]:r[1]], r[0]+1)
	}
	require.EqualValues(t, len(events), exp.Stats().Written)
	return conn, opts, layout, exp
}

// queryRows runs q and renders each row as its columns joined by "|",
// leaving out the columns named in skip. Times print as "2006-01-02" at
// midnight, else "2006-01-02 15:04:05" (UTC).
func queryRows(t *testing.T, conn driver.Conn, q string, args []any, skip ...string) []string {
	t.Helper()
	rows, err := conn.Query(ctxT(t), q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		require.NoError(t, rows.Scan(dest...))
		var cols []string
		for i, d := range dest {
			if contains(skip, types[i].Name()) {
				continue
			}
			cols = append(cols, render(reflect.ValueOf(d).Elem().Interface()))
		}
		out = append(out, strings.Join(cols, "|"))
	}
	require.NoError(t, rows.Err())
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func render(v any) string {
	if tm, ok := v.(time.Time); ok {
		tm = tm.UTC()
		if tm.Equal(tm.Truncate(24 * time.Hour)) {
			return tm.Format("2006-01-02")
		}
		return tm.Format("2006-01-02 15:04:05")
	}
	return fmt.Sprint(v)
}
