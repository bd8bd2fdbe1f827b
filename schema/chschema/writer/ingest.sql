{{- /* The ingest route's objects, created by MigrateIngest: a database of
its own holding a Distributed table over the audit table, through the
cluster whose connection logs in as the forwarding user. */ -}}

{{define "ingest_database" -}}
CREATE DATABASE IF NOT EXISTS `{{.Database}}`
{{- end}}

{{define "ingest_table" -}}
CREATE TABLE IF NOT EXISTS {{.Table}}
AS {{.AuditQuoted}}
ENGINE = Distributed('{{.Cluster}}', '{{.Audit}}', '{{.AuditTable}}')
{{- end}}

{{define "ingest_has_version" -}}
SELECT count() FROM system.columns WHERE database = '{{.Database}}' AND table = '{{.AuditTable}}' AND name = 'ingest_version'
{{- end}}

{{define "ingest_drop_version" -}}
{{- /* The audit table computes ingest_version: a Distributed table would
compute it too and send it along, which the audit table refuses. */ -}}
ALTER TABLE {{.Table}} DROP COLUMN ingest_version
{{- end}}
