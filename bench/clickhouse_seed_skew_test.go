package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// TestClickHouseSeedSkew seeds the first 200,000 events of the query
// benchmark's dataset into a fresh table and checks the skew it promises:
// the biggest tenant's share, a small tenant with some events, the users'
// skew, the weekly and daily cycles, the sizes of user agents and details,
// and the attackers among the other failed logins.
func TestClickHouseSeedSkew(t *testing.T) {
	const rows = 200_000
	conn, opts, layout, _ := chTableDSN(t)
	target, err := chschema.InsertTarget(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := conn.Exec(ctx, chSeedSQL(layout, target, rows)); err != nil {
		t.Fatalf("seed: %v", err)
	}
	one := func(q string) float64 {
		t.Helper()
		var v float64
		if err := conn.QueryRow(ctx, "SELECT toFloat64(("+q+"))").Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	from := "FROM " + target
	checks := []struct {
		what     string
		q        string
		min, max float64
	}{
		{"rows", "SELECT count() " + from, rows, rows},
		{"biggest tenant's share", "SELECT countIf(workspace_id = 'ws_0') / count() " + from, 0.28, 0.32},
		{"second tenant's share", "SELECT countIf(workspace_id = 'ws_1') / count() " + from, 0.06, 0.08},
		{"small tenant's events (ws_500)", "SELECT countIf(workspace_id = 'ws_500') " + from, 20, 80},
		{"tenants", "SELECT uniqExact(workspace_id) " + from, 700, 1000},
		{"biggest user's share of ws_0", "SELECT countIf(user_id = 'u_0_0') / countIf(workspace_id = 'ws_0') " + from, 0.05, 0.09},
		{"share of Monday to Friday", "SELECT countIf(toDayOfWeek(time) <= 5) / count() " + from, 0.9, 0.96},
		{"share of 08:00-18:00 UTC", "SELECT countIf(toHour(time) >= 8 AND toHour(time) < 18) / count() " + from, 0.8, 0.85},
		{"days", "SELECT uniqExact(toDate(time)) " + from, chSeedDays, chSeedDays},
		{"first day", "SELECT toUInt32(min(time)) - " + itoa(chSeedNow.AddDate(0, 0, -chSeedDays).Unix()) + " " + from, 0, 86400},
		{"last second before chSeedNow", "SELECT " + itoa(chSeedNow.Unix()) + " - toUInt32(max(time)) " + from, 1, 86400},
		{"shortest user agent", "SELECT min(length(user_agent)) " + from, 75, 140},
		{"mean user agent", "SELECT avg(length(user_agent)) " + from, 100, 130},
		{"shortest details of an admin action", "SELECT min(length(details)) " + from + " WHERE action = 'admin_action'", 150, 400},
		{"mean details of the actions with details", "SELECT avg(length(details)) " + from + " WHERE action NOT IN ('login', 'logout')", 150, 350},
		{"share of failed logins", "SELECT countIf(outcome = 'failure') / countIf(action = 'login') " + from, 0.08, 0.1},
		{"attackers' addresses", "SELECT uniqExactIf(client_ip, startsWith(client_ip, '" + chAttackerPrefix + "')) " + from, chAttackers, chAttackers},
		{"attackers' share of the failed logins", "SELECT countIf(startsWith(client_ip, '" + chAttackerPrefix + "')) / countIf(outcome = 'failure') " + from, 0.05, 0.12},
		{"attackers' tenants", "SELECT uniqExactIf(workspace_id, startsWith(client_ip, '" + chAttackerPrefix + "')) " + from, 50, 1000},
		{"office addresses with failed logins", "SELECT uniqExactIf(client_ip, startsWith(client_ip, '172.16.') AND outcome = 'failure') " + from, 40, 300},
		{"rollup events", "SELECT sum(events) FROM `" + opts.Database + "`.`" + opts.RollupTable() + "`", rows, rows},
	}
	for _, c := range checks {
		if v := one(c.q); v < c.min || v > c.max {
			t.Errorf("%s: %v, want %v to %v\n%s", c.what, v, c.min, c.max, c.q)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
