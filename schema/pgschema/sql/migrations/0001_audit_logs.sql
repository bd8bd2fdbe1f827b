-- The audit table, partitioned by created_at, with one index per query path,
-- and the registry of its partitions.
--
-- Every index leads with what a query filters on and ends with created_at,
-- so "the latest N events of X" is a backward index scan of each partition
-- (a MergeAppend across partitions), and a time range prunes partitions.

CREATE TABLE {{.Table}} (
    created_at     timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    action         text        NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('success', 'failure')),
    error_type     text,
    user_id        text,
    user_name      text,
    workspace_id   text,
    ip_address     inet,
    user_agent     text,
    session_id     text,
    resource       text,
    resource_id    text,
    details        jsonb,
    previous_value jsonb,
    new_value      jsonb,
    attributes     jsonb,
    trace_id       text,
    span_id        text,
    service_name   text,
    sanitized      text[],
    observed_at    timestamptz,
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    -- The idempotency key. A unique key of a partitioned table must include
    -- the partition key; an event always maps to the same (time, id).
    -- It is also the index of the "by time" query path.
    PRIMARY KEY (created_at, event_id)
) PARTITION BY RANGE (created_at);

COMMENT ON TABLE {{.Table}} IS
    'otelaudit audit events: append-only (see the triggers), partitioned by created_at ({{.IntervalAdverb}}, UTC), written by the otelaudit Postgres exporter';

-- By workspace (tenant-facing audit views).
CREATE INDEX {{name "_workspace_idx"}} ON {{.Table}} (workspace_id, created_at)
    WHERE workspace_id IS NOT NULL;
-- By user (per-user exports).
CREATE INDEX {{name "_user_idx"}} ON {{.Table}} (user_id, created_at)
    WHERE user_id IS NOT NULL;
-- By action.
CREATE INDEX {{name "_action_idx"}} ON {{.Table}} (action, created_at);

-- One row per partition, written by the partition function: the bounds
-- without parsing pg_get_expr(relpartbound), for retention and for writers
-- that cache which ranges exist.
CREATE TABLE {{qname "_partitions"}} (
    partition  text        PRIMARY KEY,
    lo         timestamptz NOT NULL,
    hi         timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (lo < hi)
);
