CREATE TABLE IF NOT EXISTS `audit`.`otelaudit_migrations` ON CLUSTER `analytics`
(
    table_name String,
    version UInt32,
    name String,
    layout String,
    checksum String,
    applied_at DateTime
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/audit/otelaudit_migrations', '{replica}')
ORDER BY (table_name, version);

CREATE TABLE IF NOT EXISTS `audit`.`audit_logs_local` ON CLUSTER `analytics`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/audit/audit_logs_local', '{replica}', ingest_version)
PARTITION BY toYYYYMM(time)
ORDER BY (workspace_id, action, time, event_id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS `audit`.`audit_logs` ON CLUSTER `analytics`
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
    sanitized Array(String)
)
ENGINE = Distributed('analytics', 'audit', 'audit_logs_local', cityHash64(toString(event_id)));

CREATE TABLE IF NOT EXISTS `audit`.`audit_logs_daily_local` ON CLUSTER `analytics`
(
    day Date,
    workspace_id String,
    action String,
    events UInt64,
    failures UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/audit/audit_logs_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (workspace_id, action, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS `audit`.`audit_logs_daily_local_mv` ON CLUSTER `analytics`
TO `audit`.`audit_logs_daily_local`
AS SELECT
    toDate(time) AS day,
    workspace_id,
    action,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM `audit`.`audit_logs_local`
GROUP BY day, workspace_id, action;

CREATE TABLE IF NOT EXISTS `audit`.`audit_logs_daily` ON CLUSTER `analytics`
AS `audit`.`audit_logs_daily_local`
ENGINE = Distributed('analytics', 'audit', 'audit_logs_daily_local', rand());
