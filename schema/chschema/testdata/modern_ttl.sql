CREATE TABLE IF NOT EXISTS `audit`.`otelaudit_migrations`
(
    table_name String,
    version UInt32,
    name String,
    layout String,
    checksum String,
    applied_at DateTime
)
ENGINE = ReplacingMergeTree()
ORDER BY (table_name, version);

CREATE TABLE IF NOT EXISTS `audit`.`events`
(
    event_id UUID,
    time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    action LowCardinality(String),
    workspace_id String CODEC(ZSTD(1)),
    user_id String CODEC(ZSTD(1)),
    user_name String CODEC(ZSTD(1)),
    client_ip String CODEC(ZSTD(1)),
    user_agent LowCardinality(String) CODEC(ZSTD(1)),
    session_id String CODEC(ZSTD(1)),
    resource_type LowCardinality(String),
    resource_id String CODEC(ZSTD(1)),
    outcome Enum8('success' = 1, 'failure' = 2),
    error_type LowCardinality(String),
    details String CODEC(ZSTD(3)),
    previous_value String CODEC(ZSTD(3)),
    new_value String CODEC(ZSTD(3)),
    attributes Map(String, String) CODEC(ZSTD(3)),
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    service_name LowCardinality(String),
    sanitized Array(LowCardinality(String)),
    ingest_version UInt64 MATERIALIZED toUInt64(4102444800000000000 - toUnixTimestamp64Nano(now64(9))),
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_resource_id resource_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_client_ip client_ip TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(ingest_version)
PARTITION BY toYYYYMM(time)
ORDER BY (workspace_id, action, time, event_id)
TTL toDateTime(time) + INTERVAL 365 DAY
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS `audit`.`events_daily`
(
    day Date,
    workspace_id String,
    action LowCardinality(String),
    events UInt64,
    failures UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (workspace_id, action, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`events_daily_mv`
TO `audit`.`events_daily`
AS SELECT
    toDate(time) AS day,
    workspace_id,
    action,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM `audit`.`events`
GROUP BY day, workspace_id, action;
