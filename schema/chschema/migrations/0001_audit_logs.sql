-- The audit table: one row per audit event, typed audit columns.
--
-- ReplacingMergeTree on a sort key that ends in event_id: copies of one
-- event (a retried insert, a record sent twice through a Collector)
-- collapse when parts merge. Until then, count with uniqExact(event_id),
-- list with LIMIT 1 BY event_id, or read with FINAL.
--
-- Of the rows that collapse, the first stored wins: ReplacingMergeTree
-- keeps the row with the highest ingest_version, which the server computes
-- at insert time (MATERIALIZED: an INSERT cannot set it) and which
-- decreases as time passes. So whoever may insert cannot overwrite a stored
-- event by inserting its id again with other values. The compat layout
-- counts seconds (an insert within the same second as the first is a tie,
-- which the later insert wins), the modern one nanoseconds.
--
-- The sort key serves the analyst questions: per tenant, per action, by time.
CREATE TABLE IF NOT EXISTS {{.Table}}{{.OnCluster}}
(
{{template "audit_logs_columns" .}},
{{- if .Modern}}
    ingest_version UInt64 MATERIALIZED toUInt64(4102444800000000000 - toUnixTimestamp64Nano(now64(9)))
{{- else}}
    ingest_version UInt32 MATERIALIZED 4294967295 - toUInt32(now())
{{- end}}
{{- if .Modern}},
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_resource_id resource_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_client_ip client_ip TYPE bloom_filter(0.01) GRANULARITY 4
{{- end}}
)
ENGINE = {{engine "ReplacingMergeTree" .TableName "ingest_version"}}
PARTITION BY toYYYYMM(time)
ORDER BY (workspace_id, action, time, event_id)
{{- if and .Modern .TTLDays}}
TTL toDateTime(time) + INTERVAL {{.TTLDays}} DAY
{{- end}}
SETTINGS index_granularity = 8192{{if and .Modern .TTLDays}}, ttl_only_drop_parts = 1{{end}};
{{- if .Cluster}}

-- Sharded by event id: copies of one event meet on one shard, where they
-- collapse. On the compat layout the Distributed table lists the columns
-- an INSERT fills: with ingest_version (as CREATE TABLE ... AS the local
-- table would have it), 18.16 computes the column and sends it along,
-- which the local tables refuse (servers from 19.x on leave MATERIALIZED
-- columns out of what they send); and cityHash64 hashes the id's text,
-- as 18.16 does not hash a UUID.
CREATE TABLE IF NOT EXISTS {{.Distributed}}{{.OnCluster}}
{{- if .Modern}}
AS {{.Table}}
{{- else}}
(
{{- template "audit_logs_columns" .}}
)
{{- end}}
ENGINE = Distributed('{{.Cluster}}', '{{.DatabaseName}}', '{{.TableName}}', {{if .Modern}}cityHash64(event_id){{else}}cityHash64(toString(event_id)){{end}});
{{- end}}
{{define "audit_logs_columns"}}
    event_id UUID,
{{- if .Modern}}
    time DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
{{- else}}
    -- time in whole seconds (UTC) and the nanoseconds within the second:
    -- DateTime64 does not exist on old servers.
    time DateTime,
    time_ns UInt32,
{{- end}}
    action {{lc "String"}},
    workspace_id String{{codec "ZSTD(1)"}},
    user_id String{{codec "ZSTD(1)"}},
    user_name String{{codec "ZSTD(1)"}},
    client_ip String{{codec "ZSTD(1)"}},
    user_agent {{lc "String"}}{{codec "ZSTD(1)"}},
    session_id String{{codec "ZSTD(1)"}},
    resource_type {{lc "String"}},
    resource_id String{{codec "ZSTD(1)"}},
    outcome Enum8('success' = 1, 'failure' = 2),
    error_type {{lc "String"}},
    details String{{codec "ZSTD(3)"}},
    previous_value String{{codec "ZSTD(3)"}},
    new_value String{{codec "ZSTD(3)"}},
{{- if .Modern}}
    attributes Map(String, String){{codec "ZSTD(3)"}},
{{- else}}
    -- other attributes as parallel arrays: Map does not exist on old servers.
    attr_keys Array(String),
    attr_values Array(String),
{{- end}}
    trace_id String{{codec "ZSTD(1)"}},
    span_id String{{codec "ZSTD(1)"}},
    service_name {{lc "String"}},
    sanitized Array({{lc "String"}})
{{- end}}
