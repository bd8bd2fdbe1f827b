package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The read side's dataset (BenchmarkSearch, BenchmarkExport): searchRows
// events (10,000,000, or OTELAUDIT_SEARCH_ROWS for a quicker run) over the
// 80 days before the seed, in both stores, generated inside each server:
//
//   - row n is in workspace ws_<n % 1000>; its actor is u_<ws*50 + (n/1000) % 50>,
//     so each of the 50,000 users has searchRows/50,000 events (200 of 10M),
//     except every thousandth row, whose actor is u_export
//     (searchRows/1,000 events: 10,000 of 10M), the export benchmark's
//     user, and every 997th row, an admin action on u_export (as target);
//   - actions: login 50%, logout 20%, settings_changed 10%, others;
//     details on every tenth row.
//
// The databases outlive the benchmark on purpose (each round of
// scripts/bench.sh runs against the same throwaway servers): they are
// named after the row count and only seeded when they do not hold it.
func searchRows(b *testing.B) int {
	if s := os.Getenv("OTELAUDIT_SEARCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100_000 {
			b.Fatalf("OTELAUDIT_SEARCH_ROWS=%q: a number, at least 100000", s)
		}
		return n
	}
	return 10_000_000
}

const searchSpanDays = 80

// searchSeedSQL is the expression of each column of row n (a bigint)
// seeded at base (Unix seconds), in the order of the Postgres insert;
// the ClickHouse insert takes the same values.
func searchSeedExprs(pg bool, base int64) map[string]string {
	concat := func(parts ...string) string {
		if pg {
			return strings.Join(parts, " || ")
		}
		return "concat(" + strings.Join(parts, ", ") + ")"
	}
	str := func(e string) string {
		if pg {
			return "(" + e + ")::text"
		}
		return "toString(" + e + ")"
	}
	div := func(a, b string) string {
		if pg {
			return "(" + a + ") / " + b
		}
		return "intDiv(" + a + ", " + b + ")"
	}
	user := "CASE WHEN n % 1000 = 0 THEN 'u_export' ELSE " + concat("'u_'", str("(n % 1000) * 50 + "+div("n", "1000")+" % 50")) + " END"
	action := "CASE WHEN n % 997 = 0 THEN 'admin_action' WHEN n % 10 < 5 THEN 'login' WHEN n % 10 < 7 THEN 'logout' WHEN n % 10 < 8 THEN 'settings_changed' WHEN n % 10 < 9 THEN 'oauth.token_refreshed' ELSE 'data_export_requested' END"
	secs := fmt.Sprintf("%d + (n * 7919) %% %d", base, searchSpanDays*86400)
	return map[string]string{
		"ws":      concat("'ws_'", str("n % 1000")),
		"user":    user,
		"action":  action,
		"outcome": "CASE WHEN n % 10 = 1 AND n % 3 = 0 THEN 'failure' ELSE 'success' END",
		"ip":      concat("'203.0.113.'", str("n % 250")),
		"ua":      "'Mozilla/5.0 bench'",
		"session": concat("'s_'", str(div("n", "13")+" % 100000")),
		"restype": "CASE WHEN n % 997 = 0 THEN 'user' ELSE '' END",
		"resid":   "CASE WHEN n % 997 = 0 THEN 'u_export' ELSE '' END",
		"details": "CASE WHEN n % 10 = 0 THEN '{\"reason\":\"bench\",\"n\":1}' ELSE '' END",
		"secs":    secs,
		"service": "'api'",
	}
}

// searchBase is the seed's first second: 80 days before the start of the
// current month, so that every row is in the past and inside the Postgres
// partition window.
func searchBase() int64 {
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return month.AddDate(0, 0, -searchSpanDays).Unix()
}

// searchPostgres returns a pool on the seeded Postgres database.
func searchPostgres(b *testing.B, rows int) *pgxpool.Pool {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	// testenv skips or fails (under make bench) when no server is
	// configured; its throwaway database is only used to reach the server.
	dsn := testenv.PostgresDSN(b)
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	db := fmt.Sprintf("otelaudit_bench_search_%d", rows)
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if !exists {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			b.Fatal(err)
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + db
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM audit_logs").Scan(&n); err == nil && n == rows {
		return pool
	}
	start := time.Now()
	if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS audit_logs CASCADE"); err != nil {
		b.Fatal(err)
	}
	for _, stmt := range []string{"DROP SCHEMA public CASCADE", "CREATE SCHEMA public"} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pgschema.Migrate(ctx, pool, pgschema.Options{}); err != nil {
		b.Fatal(err)
	}
	base := searchBase()
	for at := time.Unix(base, 0); at.Before(time.Now()); {
		ps, err := pgschema.EnsurePartitions(ctx, pool, pgschema.Options{}, at, at, 0)
		if err != nil {
			b.Fatal(err)
		}
		at = ps[len(ps)-1].Hi
	}
	e := searchSeedExprs(true, base)
	sql := `INSERT INTO audit_logs (created_at, event_id, action, outcome, error_type, user_id, workspace_id, ip_address,
		user_agent, session_id, resource, resource_id, details, service_name)
	SELECT to_timestamp(` + e["secs"] + `), gen_random_uuid(), ` + e["action"] + `, ` + e["outcome"] + `,
		CASE WHEN ` + e["outcome"] + ` = 'failure' THEN 'invalid_password' END, ` + e["user"] + `, ` + e["ws"] + `, (` + e["ip"] + `)::inet,
		` + e["ua"] + `, ` + e["session"] + `, NULLIF(` + e["restype"] + `, ''), NULLIF(` + e["resid"] + `, ''),
		NULLIF(` + e["details"] + `, '')::jsonb, ` + e["service"] + `
	FROM generate_series(1::bigint, $1::bigint) AS n`
	if _, err := pool.Exec(ctx, sql, rows); err != nil {
		b.Fatalf("seed postgres: %v", err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE audit_logs"); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d rows in Postgres in %v", rows, time.Since(start).Round(time.Millisecond))
	return pool
}

// searchClickHouse returns a connection and the options of the seeded
// ClickHouse table.
func searchClickHouse(b *testing.B, rows int) (driver.Conn, chschema.Options) {
	b.Helper()
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	db := fmt.Sprintf("otelaudit_bench_search_%d", rows)
	opts := chschema.Options{Database: db}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".audit_logs").Scan(&n); err == nil && n == uint64(rows) {
		return conn, opts
	}
	start := time.Now()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		b.Fatal(err)
	}
	layout, err := chschema.Migrate(ctx, conn, opts)
	if err != nil {
		b.Fatal(err)
	}
	target, _ := chschema.InsertTarget(opts)
	e := searchSeedExprs(false, searchBase())
	timeCols := "toDateTime(" + e["secs"] + "), toUInt32(0),"
	attrCols := "emptyArrayString(), emptyArrayString(),"
	if layout == chschema.LayoutModern {
		timeCols = "toDateTime64(" + e["secs"] + ", 9),"
		attrCols = "map(),"
	}
	sql := `INSERT INTO ` + target + ` (` + strings.Join(chschema.Columns(layout), ", ") + `)
SELECT generateUUIDv4(), ` + timeCols + ` ` + e["action"] + `, ` + e["ws"] + `, ` + e["user"] + `, '', ` + e["ip"] + `, ` + e["ua"] + `,
    ` + e["session"] + `, ` + e["restype"] + `, ` + e["resid"] + `, ` + e["outcome"] + `,
    if(` + e["outcome"] + ` = 'failure', 'invalid_password', ''), ` + e["details"] + `, '', '', ` + attrCols + ` '', '', ` + e["service"] + `, emptyArrayString()
FROM (SELECT number + 1 AS n FROM numbers(` + strconv.Itoa(rows) + `))`
	if err := conn.Exec(ctx, sql); err != nil {
		b.Fatalf("seed clickhouse: %v", err)
	}
	b.Logf("seeded %d rows in ClickHouse in %v", rows, time.Since(start).Round(time.Millisecond))
	return conn, opts
}
