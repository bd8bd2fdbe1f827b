{{- /* Statements of the Postgres reader. Inputs: the quoted table name and
     which filters are set; every value is a named parameter (@name). */ -}}

{{define "columns" -}}
created_at, event_id, action, outcome, error_type, user_id, user_name, workspace_id,
       host(ip_address), user_agent, session_id, resource, resource_id,
       details, previous_value, new_value, attributes, trace_id, span_id, service_name,
       sanitized, ingested_at
{{- end}}

{{define "where" -}}
{{- if .Workspace}} AND workspace_id = @workspace{{end}}
{{- if .Actor}} AND user_id = @actor{{end}}
{{- if .Subject}} AND (user_id = @subject OR (resource_id = @subject AND resource = @user_type)){{end}}
{{- if .ResourceType}} AND resource = @resource_type{{end}}
{{- if .ResourceID}} AND resource_id = @resource_id{{end}}
{{- if .ActionPrefix}} AND left(action, length(@action)) = @action{{else if .Action}} AND action = @action{{end}}
{{- if .Outcome}} AND outcome = @outcome{{end}}
{{- if .ClientIP}} AND ip_address = @client_ip::inet{{end}}
{{- if .Since}} AND created_at >= @since{{end}}
{{- if .Until}} AND created_at < @until{{end}}
{{- end}}

{{define "after" -}}
{{- if .After}} AND (created_at, event_id) {{if .Desc}}<{{else}}>{{end}} (@after_time, @after_id){{end}}
{{- end}}

{{define "order" -}}
ORDER BY created_at {{if .Desc}}DESC{{end}}, event_id {{if .Desc}}DESC{{end}}
LIMIT @limit
{{- end}}

{{- /* A subject is the actor or the target: each is read in order from
     its own index (by user, by target resource), and the two pages
     merged, rather than every event of the subject fetched and sorted
     for each page. A row where the user is both is read from the first. */ -}}
{{define "search" -}}
{{- if .Subject -}}
SELECT * FROM (
    (SELECT {{template "columns"}}
     FROM {{.Table}}
     WHERE user_id = @subject{{template "where" .}}{{template "after" .}}
     {{template "order" .}})
    UNION ALL
    (SELECT {{template "columns"}}
     FROM {{.Table}}
     WHERE resource_id = @subject AND resource = @user_type AND user_id IS DISTINCT FROM @subject{{template "where" .}}{{template "after" .}}
     {{template "order" .}})
) AS subject
{{template "order" .}}
{{- else -}}
SELECT {{template "columns"}}
FROM {{.Table}}
WHERE true{{template "where" .}}{{template "after" .}}
{{template "order" .}}
{{- end}}
{{- end}}

{{define "start" -}}
SELECT pg_catalog.pg_snapshot_xmin(s)::text, pg_catalog.pg_snapshot_xmax(s)::text,
       ARRAY(SELECT x::text FROM pg_catalog.pg_snapshot_xip(s) AS x ORDER BY x)
FROM (SELECT pg_catalog.pg_current_snapshot() AS s) AS snapshot
{{- end}}

{{define "horizon" -}}
SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text
{{- end}}

{{define "follow" -}}
SELECT arrival::text, {{template "columns"}}
FROM {{.Table}}
WHERE arrival IS NOT NULL AND arrival < @horizon::text::xid8
  AND (arrival, created_at, event_id) > (@after_arrival::text::xid8, @after_time, @after_id){{template "where" .}}
ORDER BY arrival, created_at, event_id
LIMIT @limit
{{- end}}
