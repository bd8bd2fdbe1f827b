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

{{define "ensure_partitions" -}}
SELECT partition, lo, hi, created FROM {{qname "_ensure_partitions"}}($1, $2, $3)
{{- end}}

{{define "list_partitions" -}}
SELECT partition, lo, hi FROM {{qname "_partitions"}} ORDER BY lo
{{- end}}

{{define "drop_partitions_before" -}}
SELECT partition, lo, hi FROM {{qname "_drop_partitions_before"}}($1)
{{- end}}
