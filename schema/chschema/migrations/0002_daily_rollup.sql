-- The daily rollup: events and failures per workspace, action and day,
-- kept by a materialized view on every insert into the audit table.
-- SummingMergeTree adds rows up when parts merge; read it with sum().
CREATE TABLE IF NOT EXISTS {{.Rollup}}{{.OnCluster}}
(
    day Date,
    workspace_id String,
    action {{lc "String"}},
    events UInt64,
    failures UInt64
)
ENGINE = {{engine "SummingMergeTree" .RollupName}}
PARTITION BY toYYYYMM(day)
ORDER BY (workspace_id, action, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.RollupMV}}{{.OnCluster}}
TO {{.Rollup}}
AS SELECT
    toDate(time) AS day,
    workspace_id,
    action,
    count() AS events,
    countIf(outcome = 'failure') AS failures
FROM {{.Table}}
GROUP BY day, workspace_id, action;
{{- if .Cluster}}

CREATE TABLE IF NOT EXISTS {{.RollupDistributed}}{{.OnCluster}}
AS {{.Rollup}}
ENGINE = Distributed('{{.Cluster}}', '{{.DatabaseName}}', '{{.RollupName}}', rand());
{{- end}}
