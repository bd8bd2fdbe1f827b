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

// The query benchmark's dataset: chSeedRows events over the 91 days
// before chSeedNow, generated inside the server by INSERT ... SELECT from
// numbers() (through the materialized view, so the rollup is filled too),
// with the skew of a real service:
//
//   - tenants of Zipf-like sizes: ws_0 holds 30% of the events; the others
//     (ws_1 ... ws_999) share the rest with a log-uniform rank law (the
//     n-th largest about 1/n of the events of the first), so that ws_1
//     holds about 7%, ws_2 4% and ws_500 (chSmallTenant) 0.02%, some
//     2,000 events;
//   - users of Zipf-like activity within their tenant (the same law over
//     30,000 users in ws_0, 5,000 in ws_1-9, 500 in ws_10-99, 50 in the
//     others): u_0_0 is the most active user of all;
//   - a weekly and a daily cycle: Monday to Friday carry 93% of the
//     events, and 82% fall between 08:00 and 18:00 UTC;
//   - actions: login 40%, logout 20%, settings_changed 10%, admin_action
//     4%, data_export_requested 3%, data_export_completed 3%,
//     oauth_connected 3%, oauth_disconnected 2%, subscription_created 2%,
//     subscription_cancelled 1%, data_delete_requested 2%,
//     data_delete_completed 1%, invoice.paid 9%;
//   - client addresses: 60% of the events of the 100 largest tenants come
//     from a few office addresses each (20 for ws_0), shared by all their
//     users; the rest from each user's own address, now and then another;
//   - 8% of logins fail (invalid_password, mfa_failed, account_locked),
//     from the user's usual addresses, so offices pile up failures; and
//     0.3% of all events are a credential-stuffing attack: failed logins
//     from 20 addresses (chAttackerPrefix0 ... 19), spread over the
//     tenants, their users and the whole day, hidden among the offices'
//     failures;
//   - browser user agents of 78 to 135 bytes, 114 on average (one per
//     user, mostly),
//     and details of 150 to 350 bytes on every action but login and
//     logout (failed logins carry a short one); settings changes carry
//     previous and new values.
const (
	chSeedRows     = 10_000_000
	chSeedDatabase = "otelaudit_bench_skewed_10m"
	// chBigTenant and chSmallTenant are the tenants BenchmarkClickHouseQuery
	// asks about: the largest, and one of some 2,000 events.
	chBigTenant   = 0
	chSmallTenant = 500
	// chAttackerPrefix followed by 0 ... chAttackers-1 are the attackers'
	// addresses.
	chAttackerPrefix = "198.51.100."
	chAttackers      = 20
)

// chSeedNow is the end of the dataset: a Saturday, midnight UTC.
var chSeedNow = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// chSeedDays is how many days the dataset covers, 13 weeks.
const chSeedDays = 91

// chUserAgents are the user agents of the dataset.
var chUserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.113 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.179 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0",
}

// chSeedSQL returns the INSERT ... SELECT that generates the first rows
// events of the dataset.
func chSeedSQL(layout chschema.Layout, target string, rows int) string {
	start := chSeedNow.AddDate(0, 0, -chSeedDays).Unix()
	timeCols := "toDateTime(ts), toUInt32(h_misc % 1000000000),"
	attrCols := "emptyArrayString(), emptyArrayString(),"
	if layout == chschema.LayoutModern {
		timeCols = "fromUnixTimestamp64Nano(toInt64(ts) * 1000000000 + toInt64(h_misc % 1000000000)),"
		attrCols = "map(),"
	}
	agents := make([]string, len(chUserAgents))
	for i, a := range chUserAgents {
		agents[i] = "'" + a + "'"
	}
	// u_* are uniform in [0, 1), h_* 64-bit hashes, each from its own
	// stream (number * 32 + k). multiIf evaluates every branch, so no
	// branch may divide by zero.
	return `INSERT INTO ` + target + ` (` + strings.Join(chschema.Columns(layout), ", ") + `)
WITH
    (intHash64(number * 32 + 1) % 1000000) / 1000000 AS u_ws,
    (intHash64(number * 32 + 2) % 1000000) / 1000000 AS u_rank,
    (intHash64(number * 32 + 3) % 1000000) / 1000000 AS u_user,
    (intHash64(number * 32 + 4) % 1000000) / 1000000 AS u_week,
    (intHash64(number * 32 + 5) % 1000000) / 1000000 AS u_dow,
    (intHash64(number * 32 + 6) % 1000000) / 1000000 AS u_busy,
    (intHash64(number * 32 + 7) % 1000000) / 1000000 AS u_hour,
    (intHash64(number * 32 + 8) % 1000000) / 1000000 AS u_act,
    (intHash64(number * 32 + 9) % 1000000) / 1000000 AS u_fail,
    (intHash64(number * 32 + 10) % 1000000) / 1000000 AS u_ip,
    (intHash64(number * 32 + 11) % 1000000) / 1000000 AS u_attack,
    (intHash64(number * 32 + 12) % 1000000) / 1000000 AS u_agent,
    intHash64(number * 32 + 13) AS h_misc,
    intHash64(number * 32 + 14) AS h_sec,
    u_attack < 0.003 AS attack,
    if(u_ws < 0.3, 0, toUInt32(floor(exp(u_rank * log(1000))))) AS ws_n,
    multiIf(ws_n = 0, 30000, ws_n < 10, 5000, ws_n < 100, 500, 50) AS n_users,
    toUInt32(floor(exp(u_user * log(n_users)))) - 1 AS user_n,
    concat('ws_', toString(ws_n)) AS ws,
    concat('u_', toString(ws_n), '_', toString(user_n)) AS usr,
    cityHash64(usr) AS h_user,
    toUInt32(floor(u_week * 13)) AS week,
    if(attack, toUInt32(h_sec % 7),
        multiIf(u_dow < 0.035, 0, u_dow < 0.07, 1, 2 + toUInt32(floor((u_dow - 0.07) / 0.93 * 5)))) AS day_in_week,
    if(attack, toUInt32(intDiv(h_sec, 7) % 24),
        if(u_busy < 0.7, 8 + toUInt32(floor(u_hour * 10)), toUInt32(floor(u_hour * 24)))) AS hour,
    week * 7 + day_in_week AS day,
    ` + fmt.Sprint(start) + ` + day * 86400 + hour * 3600 + intDiv(h_sec, 168) % 3600 AS ts,
    if(attack, 'login',
        multiIf(u_act < 0.40, 'login', u_act < 0.60, 'logout', u_act < 0.70, 'settings_changed', u_act < 0.74, 'admin_action',
            u_act < 0.77, 'data_export_requested', u_act < 0.80, 'data_export_completed', u_act < 0.83, 'oauth_connected',
            u_act < 0.85, 'oauth_disconnected', u_act < 0.87, 'subscription_created', u_act < 0.88, 'subscription_cancelled',
            u_act < 0.90, 'data_delete_requested', u_act < 0.91, 'data_delete_completed', 'invoice.paid')) AS act,
    attack OR (act = 'login' AND u_fail < 0.08) AS failed,
    multiIf(attack, 'invalid_password', NOT failed, '', u_fail < 0.056, 'invalid_password', u_fail < 0.072, 'mfa_failed', 'account_locked') AS err,
    multiIf(ws_n = 0, 20, ws_n < 10, 4, ws_n < 100, 2, 0) AS offices,
    multiIf(attack, concat('` + chAttackerPrefix + `', toString(h_misc % ` + fmt.Sprint(chAttackers) + `)),
        offices > 0 AND u_ip < 0.6, IPv4NumToString(toUInt32(2886729728 + ws_n * 32 + h_misc % greatest(offices, 1))),
        u_ip < 0.97, IPv4NumToString(toUInt32(3405803776 + h_user % 4000000)),
        IPv4NumToString(toUInt32(3405803776 + h_misc % 4000000))) AS ip,
    [` + strings.Join(agents, ", ") + `] AS agents,
    agents[if(u_agent < 0.9, h_user, h_misc) % ` + fmt.Sprint(len(chUserAgents)) + ` + 1] AS agent,
    lower(hex(h_misc)) AS req,
    toString(h_misc % 100000) AS ticket,
    multiIf(act = 'settings_changed', concat(ws, '/', ['security', 'billing', 'sso', 'members'][intDiv(h_misc, 7) % 4 + 1]),
        act LIKE 'oauth%', ['google', 'github', 'microsoft', 'slack', 'okta'][intDiv(h_misc, 11) % 5 + 1],
        act LIKE 'subscription%', concat('sub_', toString(ws_n), '_', toString(intDiv(h_misc, 13) % 20)),
        act LIKE 'data_%', concat('job_', toString(number)),
        act = 'admin_action', concat('u_', toString(ws_n), '_', toString(intDiv(h_misc, 17) % n_users)),
        act = 'invoice.paid', concat('in_', req), '') AS res_id
SELECT
    generateUUIDv4(),
    ` + timeCols + `
    act,
    ws,
    usr,
    '',
    ip,
    agent,
    if(attack, '', concat('s_', lower(hex(cityHash64(concat(usr, '/', toString(day))))))),
    multiIf(act = 'settings_changed', 'workspace_settings', act LIKE 'oauth%', 'oauth_provider',
        act LIKE 'subscription%', 'subscription', act LIKE 'data_export%', 'data_export',
        act LIKE 'data_delete%', 'data_deletion', act = 'admin_action', 'user', act = 'invoice.paid', 'invoice', ''),
    res_id,
    if(failed, 'failure', 'success'),
    err,
    multiIf(act = 'admin_action', concat('{"reason":"support ticket escalated by tier 2: the customer asked to change the role of a member during onboarding","ticket":"SEC-', ticket, '","approved_by":"', usr, '","change":{"field":"role","from":"member","to":"admin"},"source":"admin-console","request_id":"', req, '"}'),
        act LIKE 'data_export%', concat('{"format":"json","scope":["profile","activity","billing","documents"],"requested_via":"privacy-portal","delivery":"signed-url","expires_in_hours":72,"ticket":"DSR-', ticket, '","size_bytes":', toString(h_misc % 500000000), ',"request_id":"', req, '"}'),
        act = 'settings_changed', concat('{"reason":"quarterly access review following the security policy update","ticket":"SEC-', ticket, '","notify_members":true,"source":"settings-page","request_id":"', req, '"}'),
        act LIKE 'subscription%' OR act = 'invoice.paid', concat('{"plan":"', ['team', 'business', 'enterprise'][h_misc % 3 + 1], '","seats":', toString(h_misc % 500 + 1), ',"currency":"EUR","amount_cents":', toString(h_misc % 1000000), ',"billing_period":"monthly","payment_method":"card","invoice_id":"in_', req, '"}'),
        act LIKE 'oauth%', concat('{"scopes":["openid","email","profile","offline_access"],"client_id":"', req, '","redirect_uri":"https://app.example.com/oauth/callback","grant":"authorization_code","consent":"explicit"}'),
        act LIKE 'data_delete%', concat('{"scope":"account","requested_via":"privacy-portal","retention_exception":false,"legal_hold":false,"ticket":"DSR-', ticket, '","request_id":"', req, '"}'),
        failed, concat('{"attempt":', toString(h_misc % 5 + 1), ',"mfa_method":"totp"}'),
        ''),
    if(act = 'settings_changed', '{"mfa_required":false,"session_ttl_hours":24,"allowed_domains":["example.com"]}', ''),
    if(act = 'settings_changed', '{"mfa_required":true,"session_ttl_hours":8,"allowed_domains":["example.com","example.org"]}', ''),
    ` + attrCols + `
    concat(lower(hex(h_misc)), lower(hex(h_sec))),
    lower(hex(h_sec)),
    'api',
    emptyArrayString()
FROM numbers(` + fmt.Sprint(rows) + `)`
}

// chSeeded returns a connection to the query benchmark's database, seeding
// it when it does not hold the dataset yet, and once no merge of its
// tables is running: after the seed, every partition is merged into one
// part (optimizeFinal), so that no round is timed during the merges of
// the seed. The database outlives the benchmark on purpose:
// scripts/bench.sh runs every round against the same throwaway server, and
// only the first round pays for the seed.
func chSeeded(b *testing.B) (driver.Conn, chschema.Options, chschema.Layout) {
	b.Helper()
	conn := chSeedConn(b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	opts := chschema.Options{Database: chSeedDatabase}
	var n uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM "+chSeedDatabase+".audit_logs").Scan(&n)
	if err == nil && n == chSeedRows {
		layout, err := chschema.TableLayout(ctx, conn, opts)
		if err != nil {
			b.Fatal(err)
		}
		// Nothing is timed while the server merges.
		if err := waitMerges(ctx, conn, chSeedDatabase); err != nil {
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
	if err := conn.Exec(ctx, chSeedSQL(layout, target, chSeedRows)); err != nil {
		b.Fatalf("seed: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+chSeedDatabase+".audit_logs").Scan(&n); err != nil || n != chSeedRows {
		b.Fatalf("seeded %d rows (%v), want %d", n, err, chSeedRows)
	}
	if err := optimizeFinal(ctx, conn, chSeedDatabase); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d rows (%v layout) and merged them in %v", n, layout, time.Since(start).Round(time.Millisecond))
	return conn, opts, layout
}

// chSeedConn returns a connection for chSeeded. On a server, testenv
// skips or fails (under make bench) when none is configured; its throwaway
// database is only used to reach the server. With
// OTELAUDIT_CLICKHOUSE_ENGINE=chdb (a test binary built with the tag chdb)
// it is the engine embedded in the process, ClickHouse 26.5, whose data
// lasts as long as the process: every run seeds the dataset again.
func chSeedConn(b *testing.B) driver.Conn {
	b.Helper()
	if testenv.ClickHouseEngine() == testenv.EngineChDB {
		conn, _ := testenv.ClickHouse(b)
		return conn
	}
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
	return conn
}

// optimizeFinal merges every partition of every table of db into one part
// (OPTIMIZE TABLE ... PARTITION ... FINAL, partition by partition, which
// every server version does), then waits until no merge is running.
func optimizeFinal(ctx context.Context, conn driver.Conn, db string) error {
	rows, err := conn.Query(ctx, "SELECT DISTINCT table, partition FROM system.parts WHERE database = @db AND active ORDER BY table, partition",
		clickhouse.Named("db", db))
	if err != nil {
		return fmt.Errorf("list partitions of %s: %w", db, err)
	}
	type part struct{ table, partition string }
	var parts []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.table, &p.partition); err != nil {
			rows.Close()
			return fmt.Errorf("list partitions of %s: %w", db, err)
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list partitions of %s: %w", db, err)
	}
	for _, p := range parts {
		q := fmt.Sprintf("OPTIMIZE TABLE `%s`.`%s` PARTITION %s FINAL", db, p.table, p.partition)
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return waitMerges(ctx, conn, db)
}

// waitMerges polls system.merges until no merge of db's tables is running,
// or ctx ends.
func waitMerges(ctx context.Context, conn driver.Conn, db string) error {
	for {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = @db", clickhouse.Named("db", db)).Scan(&n); err != nil {
			return fmt.Errorf("system.merges: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d merges of %s still running: %w", n, db, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
