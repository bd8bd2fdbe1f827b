package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// queryCase is one timed run of a query of the pack: its parameters, and
// an independent query (not the pack's) that counts the rows the answer
// must have.
type queryCase struct {
	// name is the sub-benchmark's name: query/tenant_window.
	name  string
	query string
	args  []any
	// expect returns one number, the expected row count, with the same
	// parameters.
	expect string
}

// chQueryCases returns the cases of BenchmarkClickHouseQuery on table.
// The queries about one tenant run for the biggest (big: ws_0, its most
// active user u_0_0) and a small one (small: ws_500, u_500_0); the
// queries over a time range for the last 30 and the last 90 days before
// chSeedNow. failed_logins_by_ip looks at the last 24 hours, and
// settings_changes has no time range.
func chQueryCases(table string) []queryCase {
	n := clickhouse.Named
	tenants := []struct {
		label string
		ws    int
	}{{"big", chBigTenant}, {"small", chSmallTenant}}
	windows := []int{30, 90}
	var cases []queryCase
	add := func(query, variant string, args []any, expect string) {
		cases = append(cases, queryCase{name: query + "/" + variant, query: query, args: args, expect: expect})
	}
	window := func(days int) []any {
		return []any{n("from", chSeedNow.AddDate(0, 0, -days)), n("to", chSeedNow)}
	}
	inWindow := " time >= @from AND time < @to"
	count := func(distinct, where string) string {
		return "SELECT count() FROM (SELECT DISTINCT " + distinct + " FROM " + table + " WHERE " + where + ")"
	}

	for _, d := range windows {
		v := fmt.Sprintf("all_%dd", d)
		add("logins_per_day", v, window(d), count("toDate(time), workspace_id", "action = 'login' AND"+inWindow))
		add("data_exports_per_user", v, window(d), count("workspace_id, user_id", "action IN ('data_export_requested', 'data_export_completed') AND"+inWindow))
		add("oauth_churn", v, window(d), count("resource_id", "action IN ('oauth_connected', 'oauth_disconnected') AND"+inWindow))
		add("subscriptions_per_month", v, window(d), count("toStartOfMonth(time)", "action IN ('subscription_created', 'subscription_cancelled') AND"+inWindow))
	}
	add("failed_logins_by_ip", "all_24h", []any{n("now", chSeedNow), n("min_failures", 5)},
		"SELECT least(100, count()) FROM (SELECT client_ip FROM "+table+" WHERE action = 'login' AND outcome = 'failure'"+
			" AND time >= @now - INTERVAL 24 HOUR AND time < @now GROUP BY client_ip HAVING uniqExact(event_id) >= @min_failures)")
	for _, t := range tenants {
		ws := fmt.Sprintf("ws_%d", t.ws)
		user := fmt.Sprintf("u_%d_0", t.ws)
		add("settings_changes", t.label, []any{n("workspace", ws), n("resource_id", ws+"/security")},
			count("event_id", "workspace_id = @workspace AND action = 'settings_changed' AND resource_id = @resource_id"))
		for _, d := range windows {
			v := fmt.Sprintf("%s_%dd", t.label, d)
			wargs := append([]any{n("workspace", ws)}, window(d)...)
			add("admin_actions", v, wargs, count("event_id", "workspace_id = @workspace AND action = 'admin_action' AND"+inWindow))
			add("daily_activity", v, wargs, count("toDate(time), action", "workspace_id = @workspace AND"+inWindow))
			add("most_active_users", v, append(slices.Clone(wargs), n("limit", 10)),
				"SELECT least(@limit, count()) FROM (SELECT DISTINCT user_id FROM "+table+" WHERE workspace_id = @workspace AND user_id != '' AND"+inWindow+")")
			add("user_activity", v, append([]any{n("user_id", user)}, window(d)...),
				count("event_id", "(user_id = @user_id OR (resource_type = 'user' AND resource_id = @user_id)) AND"+inWindow))
		}
	}
	return cases
}

// BenchmarkClickHouseQuery runs the queries of the analyst pack
// (schema/chschema) on the chSeedRows events of the skewed dataset
// (chSeedSQL), one query per operation, reading every result row: each
// for the biggest and a small tenant and for 30 and 90 days where the
// query takes them (chQueryCases). "rows" is the size of the answer.
// Before the clock starts, each case's expected row count is taken by an
// independent query; a case fails when it expects no row (the dataset
// does not exercise the query) and whenever an answer has another number
// of rows. failed_logins_by_ip must also name every attacker's address.
func BenchmarkClickHouseQuery(b *testing.B) {
	conn, opts, layout := chSeeded(b)
	pack, err := chschema.Queries(layout, opts)
	if err != nil {
		b.Fatal(err)
	}
	table, err := chschema.InsertTarget(opts)
	if err != nil {
		b.Fatal(err)
	}
	sqlOf := make(map[string]string, len(pack))
	for _, q := range pack {
		sqlOf[q.Name] = q.SQL
	}
	cases := chQueryCases(table)
	covered := make(map[string]bool)
	for _, c := range cases {
		covered[c.query] = true
	}
	for _, q := range pack {
		if !covered[q.Name] {
			b.Fatalf("no benchmark case for query %s", q.Name)
		}
	}
	for _, c := range cases {
		q, ok := sqlOf[c.query]
		if !ok {
			b.Fatalf("the pack has no query %s", c.query)
		}
		b.Run(c.name, func(b *testing.B) {
			want := expectedRows(b, conn, c)
			if c.query == "failed_logins_by_ip" {
				checkAttackers(b, conn, q, c.args)
			}
			var rows int
			for b.Loop() {
				rows = runQuery(b, conn, q, c.args)
				if rows != want {
					b.Fatalf("%d rows, want %d", rows, want)
				}
			}
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// expectedRows runs c's expectation and fails b unless it is above 0.
func expectedRows(b *testing.B, conn driver.Conn, c queryCase) int {
	b.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), c.expect, c.args...).Scan(&n); err != nil {
		b.Fatalf("expected rows: %v\n%s", err, c.expect)
	}
	if n == 0 {
		b.Fatalf("the dataset gives %s no row to return", c.name)
	}
	return int(n)
}

// checkAttackers fails b unless the answer of failed_logins_by_ip (q)
// names all chAttackers attackers' addresses.
func checkAttackers(b *testing.B, conn driver.Conn, q string, args []any) {
	b.Helper()
	rs, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	found := make(map[string]bool)
	var others int
	for rs.Next() {
		var (
			ip                         string
			failures, users, workspace uint64
			first, last                time.Time
		)
		if err := rs.Scan(&ip, &failures, &users, &workspace, &first, &last); err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(ip, chAttackerPrefix) {
			found[ip] = true
		} else {
			others++
		}
	}
	if err := rs.Err(); err != nil {
		b.Fatal(err)
	}
	if len(found) != chAttackers || others == 0 {
		b.Fatalf("failed_logins_by_ip names %d of the %d attackers and %d other addresses; want all attackers among others", len(found), chAttackers, others)
	}
}

// runQuery runs q and reads every row, returning how many there were.
func runQuery(b *testing.B, conn driver.Conn, q string, args []any) int {
	rs, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rs.Close()
	n := 0
	for rs.Next() {
		n++
	}
	if err := rs.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkClickHouseDedup measures what counting safely costs while
// copies of events may be unmerged: events per workspace over 30 days of
// the 10M-row dataset, counted three ways. "ceiling" is count(), which
// would count copies twice; "uniq_exact" counts distinct event ids, as the
// query pack does; "final" reads FROM ... FINAL, merging at query time.
// Each answer must have a row per workspace active in those days.
func BenchmarkClickHouseDedup(b *testing.B) {
	conn, opts, _ := chSeeded(b)
	table, err := chschema.InsertTarget(opts)
	if err != nil {
		b.Fatal(err)
	}
	where := " WHERE time >= @from AND time < @to GROUP BY workspace_id"
	args := []any{clickhouse.Named("from", chSeedNow.AddDate(0, 0, -30)), clickhouse.Named("to", chSeedNow)}
	want := expectedRows(b, conn, queryCase{name: "Dedup", args: args,
		expect: "SELECT uniqExact(workspace_id) FROM " + table + " WHERE time >= @from AND time < @to"})
	for _, sc := range []struct{ name, sql string }{
		{"ceiling", "SELECT workspace_id, count() FROM " + table + where},
		{"uniq_exact", "SELECT workspace_id, uniqExact(event_id) FROM " + table + where},
		{"final", "SELECT workspace_id, count() FROM " + table + " FINAL" + where},
	} {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				if rows := runQuery(b, conn, sc.sql, args); rows != want {
					b.Fatalf("%d rows, want %d", rows, want)
				}
			}
		})
	}
}
