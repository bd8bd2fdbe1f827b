package bench

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// chQueryArgs are the parameters each query of the pack runs with on the
// 10M-row dataset (chSeedSQL): the last 30 days, one workspace, one of its
// settings, one user.
func chQueryArgs(name string) []any {
	from30, from90, now := chSeedNow.AddDate(0, 0, -30), chSeedNow.AddDate(0, 0, -90), chSeedNow
	n := clickhouse.Named
	switch name {
	case "logins_per_day", "data_exports_per_user":
		return []any{n("from", from30), n("to", now)}
	case "failed_logins_by_ip":
		return []any{n("now", now), n("min_failures", 5)}
	case "admin_actions", "daily_activity":
		return []any{n("workspace", "ws_7"), n("from", from30), n("to", now)}
	case "settings_changes":
		return []any{n("workspace", "ws_7"), n("resource_id", "ws_7/security")}
	case "oauth_churn", "subscriptions_per_month":
		return []any{n("from", from90), n("to", now)}
	case "most_active_users":
		return []any{n("workspace", "ws_7"), n("from", from30), n("to", now), n("limit", 10)}
	case "user_activity":
		return []any{n("user_id", "u_350"), n("from", from90), n("to", now)}
	}
	return nil
}

// BenchmarkClickHouseQuery runs each query of the analyst pack
// (schema/chschema) on chSeedRows seeded events, one query per
// operation, reading every result row; benchfmt prints each query's median
// ns/op over the rounds. "rows" is the size of the answer.
func BenchmarkClickHouseQuery(b *testing.B) {
	conn, opts, layout := chSeeded(b)
	pack, err := chschema.Queries(layout, opts)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range pack {
		args := chQueryArgs(q.Name)
		if args == nil {
			b.Fatalf("no benchmark parameters for query %s", q.Name)
		}
		b.Run(q.Name, func(b *testing.B) {
			var rows int
			for b.Loop() {
				rows = runQuery(b, conn, q.SQL, args)
			}
			b.ReportMetric(float64(rows), "rows")
		})
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
func BenchmarkClickHouseDedup(b *testing.B) {
	conn, opts, _ := chSeeded(b)
	table, err := chschema.InsertTarget(opts)
	if err != nil {
		b.Fatal(err)
	}
	where := " WHERE time >= @from AND time < @to GROUP BY workspace_id"
	args := []any{clickhouse.Named("from", chSeedNow.AddDate(0, 0, -30)), clickhouse.Named("to", chSeedNow)}
	for _, sc := range []struct{ name, sql string }{
		{"ceiling", "SELECT workspace_id, count() FROM " + table + where},
		{"uniq_exact", "SELECT workspace_id, uniqExact(event_id) FROM " + table + where},
		{"final", "SELECT workspace_id, count() FROM " + table + " FINAL" + where},
	} {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				runQuery(b, conn, sc.sql, args)
			}
		})
	}
}
