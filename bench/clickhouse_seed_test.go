package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// The query benchmark's dataset: chSeedRows events over the 90 days
// before chSeedNow, generated inside the server by INSERT ... SELECT from
// numbers() (through the materialized view, so the rollup is filled too):
//
//   - 1,000 workspaces (ws_0 ... ws_999), 50 users each (u_0 ... u_49999);
//   - actions: login 40%, logout 20%, settings_changed 10%, admin_action 4%,
//     data_export_requested 3%, data_export_completed 3%, oauth_connected 3%,
//     oauth_disconnected 2%, subscription_created 2%, subscription_cancelled
//     1%, data_delete_requested 2%, data_delete_completed 1%, invoice.paid 9%;
//   - 8% of logins fail; 30% of those come from 20 attacking addresses
//     (198.51.100.0-19), the rest from 200,000 ordinary ones;
//   - settings changes on four settings per workspace with previous and new
//     values; details on admin actions and export requests.
const (
	chSeedRows     = 10_000_000
	chSeedDatabase = "otelaudit_bench_10m"
)

var chSeedNow = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// chSeedSQL returns the INSERT ... SELECT that generates the dataset.
func chSeedSQL(layout chschema.Layout, target string) string {
	start := chSeedNow.AddDate(0, 0, -90).Unix()
	span := chSeedNow.Unix() - start
	timeCols := fmt.Sprintf("toDateTime(%d + intDiv(h, 50000) %% %d), toUInt32(h2 %% 1000000000),", start, span)
	attrCols := "emptyArrayString(), emptyArrayString(),"
	if layout == chschema.LayoutModern {
		timeCols = fmt.Sprintf("fromUnixTimestamp64Nano(toInt64(%d + intDiv(h, 50000) %% %d) * 1000000000 + toInt64(h2 %% 1000000000)),", start, span)
		attrCols = "map(),"
	}
	return `INSERT INTO ` + target + ` (` + strings.Join(chschema.Columns(layout), ", ") + `)
WITH
    sipHash64(number) AS h,
    cityHash64(toString(number)) AS h2,
    h % 1000 AS ws_n,
    h2 % 100 AS a_n,
    multiIf(a_n < 40, 'login', a_n < 60, 'logout', a_n < 70, 'settings_changed', a_n < 74, 'admin_action',
        a_n < 77, 'data_export_requested', a_n < 80, 'data_export_completed', a_n < 83, 'oauth_connected',
        a_n < 85, 'oauth_disconnected', a_n < 87, 'subscription_created', a_n < 88, 'subscription_cancelled',
        a_n < 90, 'data_delete_requested', a_n < 91, 'data_delete_completed', 'invoice.paid') AS act,
    act = 'login' AND intDiv(h2, 100) % 100 < 8 AS failed,
    failed AND intDiv(h2, 10000) % 10 < 3 AS attack,
    concat('ws_', toString(ws_n)) AS ws
SELECT
    generateUUIDv4(),
    ` + timeCols + `
    act,
    ws,
    concat('u_', toString(ws_n * 50 + intDiv(h, 1000) % 50)),
    '',
    if(attack, concat('198.51.100.', toString(intDiv(h2, 100000) % 20)), IPv4NumToString(toUInt32(3405803776 + intDiv(h, 7) % 200000))),
    concat('Mozilla/5.0 agent ', toString(intDiv(h2, 1000000) % 20)),
    concat('s_', toString(intDiv(h, 13) % 1000000)),
    multiIf(act = 'settings_changed', 'workspace_settings', act LIKE 'oauth%', 'oauth_provider',
        act LIKE 'subscription%', 'subscription', act LIKE 'data_export%', 'data_export',
        act LIKE 'data_delete%', 'data_deletion', act = 'admin_action', 'user', ''),
    multiIf(act = 'settings_changed', concat(ws, '/', ['security', 'billing', 'sso', 'members'][intDiv(h2, 7) % 4 + 1]),
        act LIKE 'oauth%', ['google', 'github', 'microsoft', 'slack', 'okta'][intDiv(h2, 11) % 5 + 1],
        act LIKE 'subscription%', concat('sub_', toString(intDiv(h2, 13) % 100000)),
        act LIKE 'data_%', concat('job_', toString(number)),
        act = 'admin_action', concat('u_', toString(ws_n * 50 + intDiv(h2, 17) % 50)), ''),
    if(failed, 'failure', 'success'),
    if(failed, 'invalid_password', ''),
    if(act IN ('admin_action', 'data_export_requested'), '{"reason":"support ticket","ticket":"SEC-1423"}', ''),
    if(act = 'settings_changed', '{"mfa_required":false,"session_ttl_hours":24}', ''),
    if(act = 'settings_changed', '{"mfa_required":true,"session_ttl_hours":8}', ''),
    ` + attrCols + `
    concat(lower(hex(h)), lower(hex(h2))),
    lower(hex(h2)),
    'api',
    emptyArrayString()
FROM numbers(` + fmt.Sprint(chSeedRows) + `)`
}

// chSeeded returns a connection to the query benchmark's database, seeding
// it when it does not hold the dataset yet. The database outlives the
// benchmark on purpose: scripts/bench.sh runs every round against the same
// throwaway server, and only the first round pays for the seed.
func chSeeded(b *testing.B) (driver.Conn, chschema.Options, chschema.Layout) {
	b.Helper()
	// testenv skips or fails (under make bench) when no server is
	// configured; its throwaway database is only used to reach the server.
	dsn, _ := testenv.ClickHouseDSN(b)
	opt, err := testenv.ClickHouseOptions(dsn)
	if err != nil {
		b.Fatal(err)
	}
	opt.Auth.Database = "default"
	opt.ReadTimeout = 10 * time.Minute
	conn, err := clickhouse.Open(opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	opts := chschema.Options{Database: chSeedDatabase}
	var n uint64
	err = conn.QueryRow(ctx, "SELECT count() FROM "+chSeedDatabase+".audit_logs").Scan(&n)
	if err == nil && n == chSeedRows {
		layout, err := chschema.TableLayout(ctx, conn, opts)
		if err != nil {
			b.Fatal(err)
		}
		return conn, opts, layout
	}
	start := time.Now()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+chSeedDatabase); err != nil {
		b.Fatal(err)
	}
	layout, err := chschema.Migrate(ctx, conn, opts)
	if err != nil {
		b.Fatal(err)
	}
	target, _ := chschema.InsertTarget(opts)
	if err := conn.Exec(ctx, chSeedSQL(layout, target)); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+chSeedDatabase+".audit_logs").Scan(&n); err != nil || n != chSeedRows {
		b.Fatalf("seeded %d rows (%v), want %d", n, err, chSeedRows)
	}
	b.Logf("seeded %d rows (%v layout) in %v", n, layout, time.Since(start).Round(time.Millisecond))
	return conn, opts, layout
}
