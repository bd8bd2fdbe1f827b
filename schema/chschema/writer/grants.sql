-- The writer role of a ClickHouse server with SQL access control (22.x and
-- later): what an exporter needs and nothing more. Grant the role to each
-- service's user (GRANT {{.Role}} TO billing_service) and make it its
-- default role.
CREATE ROLE IF NOT EXISTS {{.Role}}{{.OnCluster}};
{{- range .Tables}}

-- Rows go in.
GRANT{{$.OnCluster}} INSERT ON {{.Audit}} TO {{$.Role}};
-- The exporter looks up which event ids are stored after an ambiguous
-- failure (event_id, time); the daily rollup's materialized view reads the
-- inserted rows' time, workspace_id, action and outcome, and writes the
-- rollup, with the inserting user's rights (servers before 24.2, or views
-- without SQL SECURITY DEFINER). No personal column is readable.
GRANT{{$.OnCluster}} SELECT(event_id, time, workspace_id, action, outcome) ON {{.Audit}} TO {{$.Role}};
GRANT{{$.OnCluster}} INSERT ON {{.Rollup}} TO {{$.Role}};
{{- end}}
