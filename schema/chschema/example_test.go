package chschema_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// The modern layout's audit table, as Migrate creates it on ClickHouse 22.x
// and later with a one-year retention.
func ExampleDDL() {
	stmts, err := chschema.DDL(chschema.LayoutModern, chschema.Options{Database: "audit", TTLDays: 365})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(stmts[1])
	// Output:
	// CREATE TABLE IF NOT EXISTS `audit`.`audit_logs`
	// (
	//     event_id UUID,
	//     time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
	//     action LowCardinality(String),
	//     workspace_id String CODEC(ZSTD(1)),
	//     user_id String CODEC(ZSTD(1)),
	//     user_name String CODEC(ZSTD(1)),
	//     client_ip String CODEC(ZSTD(1)),
	//     user_agent LowCardinality(String) CODEC(ZSTD(1)),
	//     session_id String CODEC(ZSTD(1)),
	//     resource_type LowCardinality(String),
	//     resource_id String CODEC(ZSTD(1)),
	//     outcome Enum8('success' = 1, 'failure' = 2),
	//     error_type LowCardinality(String),
	//     details String CODEC(ZSTD(3)),
	//     previous_value String CODEC(ZSTD(3)),
	//     new_value String CODEC(ZSTD(3)),
	//     attributes Map(String, String) CODEC(ZSTD(3)),
	//     trace_id String CODEC(ZSTD(1)),
	//     span_id String CODEC(ZSTD(1)),
	//     service_name LowCardinality(String),
	//     sanitized Array(LowCardinality(String)),
	//     ingest_version UInt64 MATERIALIZED toUInt64(4102444800000000000 - toUnixTimestamp64Nano(now64(9))),
	//     INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
	//     INDEX idx_resource_id resource_id TYPE bloom_filter(0.01) GRANULARITY 4,
	//     INDEX idx_client_ip client_ip TYPE bloom_filter(0.01) GRANULARITY 4
	// )
	// ENGINE = ReplacingMergeTree(ingest_version)
	// PARTITION BY toYYYYMM(time)
	// ORDER BY (workspace_id, action, time, event_id)
	// TTL toDateTime(time) + INTERVAL 365 DAY
	// SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
}

// One query of the pack, for an analyst to paste into clickhouse-client
// (with the @parameters replaced by literals).
func ExampleQueryByName() {
	q, err := chschema.QueryByName(chschema.LayoutCompat, chschema.Options{Database: "audit"}, "failed_logins_by_ip")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.Question)
	fmt.Println(strings.Join(q.Params, ", "))
	fmt.Println(q.SQL)
	// Output:
	// Which client IPs had the most failed logins in the 24 hours before @now, across how many users and workspaces (credential stuffing)?
	// now DateTime, min_failures UInt64
	// SELECT
	//     client_ip,
	//     uniqExact(event_id) AS failures,
	//     uniqExact(user_id) AS users,
	//     uniqExact(workspace_id) AS workspaces,
	//     min(time) AS first_seen,
	//     max(time) AS last_seen
	// FROM `audit`.`audit_logs`
	// WHERE action = 'login' AND outcome = 'failure'
	//     AND time >= @now - INTERVAL 24 HOUR AND time < @now
	// GROUP BY client_ip
	// HAVING failures >= @min_failures
	// ORDER BY failures DESC, client_ip
	// LIMIT 100
}

// A time range on the audit table's time column, as the exporter and the
// seals read it: exact on the modern layout (DateTime64(9) bounds), whole
// seconds on the compat layout, whose time column is a DateTime.
func ExampleTimeRange() {
	from := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	to := from.Add(1500 * time.Millisecond)
	for _, l := range []chschema.Layout{chschema.LayoutModern, chschema.LayoutCompat} {
		cond, args := chschema.TimeRange(l, from, to)
		fmt.Println(l, cond, args)
	}
	// Output:
	// modern time >= toDateTime64(?, 9, 'UTC') AND time < toDateTime64(?, 9, 'UTC') [2024-06-01 12:00:00.000000000 2024-06-01 12:00:01.500000000]
	// compat time >= toDateTime(?) AND time < toDateTime(?) [1717243200 1717243202]
}
