package chschema_test

import (
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// packCase is one query of the pack, its parameters and its hand-worked
// answer on the seed (seed_test.go; event numbers in the comments).
type packCase struct {
	query string
	args  []any
	skip  []string // columns left out of the comparison (random or long)
	want  []string
}

func named(kv ...any) []any {
	var out []any
	for i := 0; i < len(kv); i += 2 {
		out = append(out, clickhouse.Named(kv[i].(string), kv[i+1]))
	}
	return out
}

var may1, jul1 = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

func packCases() []packCase {
	return []packCase{
		{query: "logins_per_day", args: named("from", day1, "to", day3), want: []string{
			"2024-06-01|ws_a|3|1", // 1, 2, 3 (3 failed)
			"2024-06-01|ws_b|2|1", // 24, 25 (25 failed)
			"2024-06-02|ws_a|4|3", // 4, 5, 6, 7 (5-7 failed)
			"2024-06-02|ws_b|3|3", // 26, 27, 28
		}},
		{query: "failed_logins_by_ip", args: named("now", day3, "min_failures", 1), want: []string{
			"198.51.100.66|5|5|2|2024-06-02 10:00:00|2024-06-02 10:04:00", // 5, 6, 7, 26, 27
			"203.0.113.9|1|1|1|2024-06-02 20:00:00|2024-06-02 20:00:00",   // 28; 3 and 25 are older than 24 h
		}},
		{query: "failed_logins_by_ip", args: named("now", day3, "min_failures", 2), want: []string{
			"198.51.100.66|5|5|2|2024-06-02 10:00:00|2024-06-02 10:04:00",
		}},
		{query: "data_exports_per_user", args: named("from", day1, "to", day3), want: []string{
			"ws_a|u1|2|1", // 8, 10; 9
			"ws_b|u3|1|1", // 29; 30
			"ws_a|u2|1|0", // 11
		}},
		{query: "admin_actions", args: named("workspace", "ws_a", "from", day1, "to", day3), skip: []string{"event_id"}, want: []string{
			"1717236000500000000|admin1|user|u2|success|{\"op\":\"suspend\"}",     // 12, with its half second
			"1717318800000000000|admin1|user|u5|success|{\"op\":\"role_change\"}", // 13
		}},
		{query: "admin_actions", args: named("workspace", "ws_a", "from", day2, "to", day3), skip: []string{"event_id"}, want: []string{
			"1717318800000000000|admin1|user|u5|success|{\"op\":\"role_change\"}",
		}},
		{query: "settings_changes", args: named("workspace", "ws_a", "resource_id", "ws_a/security"), skip: []string{"event_id"}, want: []string{
			"1717239600000000000|u1|{\"mfa\":false}|{\"mfa\":true}",                       // 14
			"1717326000000000000|u2|{\"session_ttl_hours\":24}|{\"session_ttl_hours\":8}", // 15
		}},
		{query: "oauth_churn", args: named("from", day1, "to", day3), want: []string{
			"github|1|2|-1", // 20; 21, 34
			"gitlab|1|0|1",  // 38 (at from: in); 39 (at to: out)
			"google|3|1|2",  // 17, 18, 33; 19
		}},
		{query: "oauth_churn", args: named("from", day1.Add(time.Second), "to", day3.Add(time.Second)), want: []string{
			"github|1|2|-1",
			"gitlab|0|1|-1", // 38 (before from: out); 39 (before to: in)
			"google|3|1|2",
		}},
		{query: "subscriptions_per_month", args: named("from", may1, "to", jul1), want: []string{
			"2024-05-01|2|0|2",  // 22, 35
			"2024-06-01|1|2|-1", // 36; 23, 37
		}},
		{query: "most_active_users", args: named("workspace", "ws_a", "from", may1, "to", jul1, "limit", 3), want: []string{
			"u1|14|8|2024-06-02 14:00:00",    // 1 3 4 5 8 9 10 14 16 17 20 21 22 23
			"u2|6|5|2024-06-02 13:00:00",     // 2 6 11 15 18 19
			"admin1|2|1|2024-06-02 09:00:00", // 12 13
		}},
		{query: "most_active_users", args: named("workspace", "ws_b", "from", may1, "to", jul1, "limit", 2), want: []string{
			"u3|10|8|2024-06-02 20:00:00", // 24 26 28 29 30 32 33 34 35 37
			"u4|5|4|2024-06-03",           // 25 27 36 38 39
		}},
		{query: "daily_activity", args: named("workspace", "ws_b", "from", day1, "to", day3), want: []string{
			"2024-06-01|admin_action|1|0",
			"2024-06-01|data_export_completed|1|0",
			"2024-06-01|data_export_requested|1|0",
			"2024-06-01|login|2|1",
			"2024-06-01|oauth_connected|2|0", // 33, 38
			"2024-06-01|settings_changed|1|0",
			"2024-06-02|login|3|3",
			"2024-06-02|oauth_disconnected|1|0",
			"2024-06-02|subscription_cancelled|1|0",
			"2024-06-02|subscription_created|1|0",
		}},
		{query: "user_activity", args: named("user_id", "u4", "from", day1, "to", day3), skip: []string{"event_id"}, want: []string{
			// time|workspace|action|role|user_id|user_name|resource_type|resource_id|outcome|error_type|client_ip|user_agent|session_id|details|previous|new
			"1717200000000000000|ws_b|oauth_connected|actor|u4||oauth_provider|gitlab|success|||||||",           // 38 (at from: in; 39 at to: out)
			"1717230000000000000|ws_b|login|actor|u4||||failure|invalid_password|198.51.100.1|||||",             // 25
			"1717236000000000000|ws_b|admin_action|target|admin2||user|u4|success|||||{\"op\":\"reset_mfa\"}||", // 31: u4 as the target
			"1717322640000000000|ws_b|login|actor|u4||||failure|invalid_password|198.51.100.66|||||",            // 27
			"1717340400000000000|ws_b|subscription_created|actor|u4||subscription|sub3|success|||||||",          // 36
		}},
	}
}

// TestQueryPackLive runs every query of the pack on the seed and checks
// the hand-worked answers; then writes the whole seed again (as a
// Collector re-sending would), with merges stopped, and checks that every
// query over the audit table still gives the same answers with every
// event twice in the table, and that the rollup, which counted the
// copies, is right again after RebuildRollup.
func TestQueryPackLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout, exp := seeded(t)
	pack, err := chschema.Queries(layout, opts)
	require.NoError(t, err)
	byName := map[string]chschema.Query{}
	for _, q := range pack {
		byName[q.Name] = q
	}
	covered := map[string]bool{}
	check := func(t *testing.T, rollupOnly bool) {
		for _, tc := range packCases() {
			q, ok := byName[tc.query]
			require.True(t, ok, "no query %s in the pack", tc.query)
			if rollupOnly != q.FromRollup {
				continue
			}
			covered[tc.query] = true
			require.Equal(t, tc.want, queryRows(t, conn, q.SQL, tc.args, tc.skip...), "%s %v", tc.query, tc.args)
		}
	}
	t.Run("seed", func(t *testing.T) {
		check(t, false)
		check(t, true)
	})
	for _, q := range pack {
		require.True(t, covered[q.Name], "query %s has no test case", q.Name)
	}

	// Copies of every seed event, as a Collector re-sending would make,
	// with merges stopped so that they stay in the table.
	require.NoError(t, conn.Exec(ctxT(t), "SYSTEM STOP MERGES audit_logs"))
	events := seedEvents()
	emit(t, exp, events, 1) // the same event ids again
	var rows, distinct uint64
	require.NoError(t, conn.QueryRow(ctxT(t), "SELECT count(), uniqExact(event_id) FROM audit_logs").Scan(&rows, &distinct))
	require.EqualValues(t, 2*len(events), rows, "every event twice in the table")
	require.EqualValues(t, len(events), distinct)

	t.Run("copies before merge", func(t *testing.T) { check(t, false) })
	t.Run("rollup rebuilt", func(t *testing.T) {
		var events uint64
		require.NoError(t, conn.QueryRow(ctxT(t), "SELECT sum(events) FROM audit_logs_daily").Scan(&events))
		require.EqualValues(t, 2*len(seedEvents()), events, "the rollup counted the copies")
		for _, month := range []time.Time{may1, day1} {
			require.NoError(t, chschema.RebuildRollup(ctxT(t), conn, opts, month))
		}
		require.NoError(t, conn.QueryRow(ctxT(t), "SELECT sum(events) FROM audit_logs_daily").Scan(&events))
		require.EqualValues(t, len(seedEvents()), events)
		check(t, true)
	})
	t.Run("after merge", func(t *testing.T) {
		require.NoError(t, conn.Exec(ctxT(t), "SYSTEM START MERGES audit_logs"))
		for _, p := range []string{"202405", "202406"} {
			require.NoError(t, conn.Exec(ctxT(t), "OPTIMIZE TABLE audit_logs PARTITION "+p+" FINAL"))
		}
		require.EqualValues(t, len(events), count(t, conn, "SELECT count() FROM audit_logs"), "ReplacingMergeTree collapsed the copies")
		check(t, false)
	})
}
