-- The reader role of a ClickHouse server with SQL access control (22.x and
-- later): SELECT on the audit table and its daily rollup, nothing else.
-- Grant the role to each reader's user (GRANT {{.Role}} TO analyst) and
-- make it its default role.
CREATE ROLE IF NOT EXISTS {{.Role}}{{.OnCluster}};
{{- range .Tables}}
GRANT{{$.OnCluster}} SELECT ON {{.Audit}} TO {{$.Role}};
GRANT{{$.OnCluster}} SELECT ON {{.Rollup}} TO {{$.Role}};
{{- end}}
