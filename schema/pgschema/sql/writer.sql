{{- /* Statements a writer runs; see WriterStatements. */ -}}

{{define "copy" -}}
COPY {{.Table}} ({{columns}}) FROM STDIN WITH (FORMAT binary)
{{- end}}

{{define "create_stage" -}}
CREATE TEMPORARY TABLE IF NOT EXISTS {{.Stage}} ({{columnDefs}}) ON COMMIT DELETE ROWS
{{- end}}

{{define "copy_stage" -}}
COPY pg_temp.{{.Stage}} ({{columns}}) FROM STDIN WITH (FORMAT binary)
{{- end}}

{{define "insert_from_stage" -}}
INSERT INTO {{.Table}} ({{columns}}) SELECT {{columns}} FROM pg_temp.{{.Stage}} ON CONFLICT DO NOTHING
{{- end}}

{{define "insert" -}}
INSERT INTO {{.Table}} ({{columns}}) VALUES ({{params}}) ON CONFLICT DO NOTHING
{{- end}}

{{define "holds_lock" -}}
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'relation' AND pid = pg_catalog.pg_backend_pid() AND relation = {{.TableRegclass}}::pg_catalog.regclass)
{{- end}}

{{define "ensure_partitions" -}}
SELECT partition, lo, hi, created FROM {{qname "_ensure_partitions"}}($1, $2, $3)
{{- end}}

{{define "list_partitions" -}}
SELECT partition, lo, hi FROM {{qname "_partitions"}} ORDER BY lo
{{- end}}

{{define "drop_partitions_before" -}}
{{- /* One step of retention: $1 cutoff, $2 after, $3 limit. */ -}}
SELECT partition, lo, hi, dropped, reason FROM {{qname "_drop_partitions_before"}}($1, $2, $3)
{{- end}}
