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

CREATE TABLE IF NOT EXISTS `audit`.`audit_logs`
(
    event_id UUID,
    time DateTime,
    time_ns UInt32,
    action String,
    workspace_id String,
    user_id String,
    user_name String,
    client_ip String,
    user_agent String,
    session_id String,
    resource_type String,
    resource_id String,
    outcome Enum8('success' = 1, 'failure' = 2),
    error_type String,
    details String,
    previous_value String,
    new_value String,
    attr_keys Array(String),
    attr_values Array(String),
    trace_id String,
    span_id String,
    service_name String,
    sanitized Array(String),
    ingest_version UInt32 MATERIALIZED 4294967295 - toUInt32(now())
)
ENGINE = ReplacingMergeTree(ingest_version)
PARTITION BY toYYYYMM(time)
ORDER BY (workspace_id, action, time, event_id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS `audit`.`audit_logs_daily`
(
    day Date,
    workspace_id String,
    action String,
    events UInt64,
    failures UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (workspace_id, action, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_logs_daily_mv`
TO `audit`.`audit_logs_daily`
AS SELECT
    toDate(time) AS day,
    workspace_id,
    action,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM `audit`.`audit_logs`
GROUP BY day, workspace_id, action;
