{{- /* Statements of the ClickHouse reader. Inputs: the quoted table name,
     the layout and which filters are set; every value is a named
     parameter (@name), bound by clickhouse-go. */ -}}

{{define "filters" -}}
{{- if .Workspace}} AND workspace_id = @workspace{{end}}
{{- if .Actor}} AND user_id = @actor{{end}}
{{- if .Subject}} AND (user_id = @subject OR (resource_id = @subject AND resource_type = @user_type)){{end}}
{{- if .ResourceType}} AND resource_type = @resource_type{{end}}
{{- if .ResourceID}} AND resource_id = @resource_id{{end}}
{{- if .ActionPrefix}} AND substring(action, 1, length(@action)) = @action{{else if .Action}} AND action = @action{{end}}
{{- if .Outcome}} AND outcome = @outcome{{end}}
{{- if .ClientIP}} AND client_ip = @client_ip{{end}}
{{- if .Since}} AND time >= toDateTime(@since_s) AND t_us >= @since_us{{end}}
{{- if .Until}} AND time <= toDateTime(@until_s) AND t_us < @until_us{{end}}
{{- if .After}}{{if .Bounds}} AND time {{if .Desc}}<={{else}}>={{end}} toDateTime(@after_s){{end}}
    AND (t_us {{if .Desc}}<{{else}}>{{end}} @after_us OR (t_us = @after_us AND id {{if .Desc}}<{{else}}>{{end}} @after_id)){{end}}
{{- end}}

{{- /* A search's first step: the page's event ids and times, from the
     narrow columns only; with .Window, among the rows from @window_s on
     (newest first: a prefix of the order). */ -}}
{{define "page_ids" -}}
SELECT id, toInt64(t_us) FROM (
    SELECT toString(event_id) AS id, {{.Micros}} AS t_us
    FROM {{.Table}}
    WHERE 1 = 1{{template "filters" .}}
    {{- if .Window}} AND time >= toDateTime(@window_s){{end}}
    ORDER BY t_us {{if .Desc}}DESC{{end}}, id {{if .Desc}}DESC{{end}}
    LIMIT 1 BY id
    LIMIT @limit)
{{- end}}

{{- /* Its second step: the whole rows of those ids (@ids), within their
     times ([@lo_s, @hi_s] in seconds), the first stored copy of each.
     PREWHERE reads the ids first and the other columns only of the
     granules that hold one; left to itself, 18.16 moves another
     condition there and reads every granule of the time span whole. */ -}}
{{define "search" -}}
SELECT toString(event_id) AS id, {{.Micros}} AS t_us, action, workspace_id, user_id, user_name,
       client_ip, user_agent, session_id, resource_type, resource_id, toString(outcome) AS outcome_text,
       error_type, details, previous_value, new_value, {{.Attrs}}, trace_id, span_id, service_name, sanitized
FROM {{.Table}}
PREWHERE event_id IN @ids
WHERE 1 = 1
{{- if .Bounds}} AND time >= toDateTime(@lo_s) AND time <= toDateTime(@hi_s){{end}}
{{- template "filters" .}}
ORDER BY t_us {{if .Desc}}DESC{{end}}, id {{if .Desc}}DESC{{end}}, ingest_version DESC
LIMIT 1 BY id
LIMIT @limit
{{- end}}

{{define "horizon" -}}
SELECT toUInt64({{.Now}})
{{- end}}

{{define "follow" -}}
SELECT {{.Arrival}} AS arrival, toString(event_id) AS id, {{.Micros}} AS t_us, action, workspace_id, user_id, user_name,
       client_ip, user_agent, session_id, resource_type, resource_id, toString(outcome) AS outcome_text,
       error_type, details, previous_value, new_value, {{.Attrs}}, trace_id, span_id, service_name, sanitized
FROM {{.Table}}
WHERE arrival < @horizon
  AND (arrival > @after_arrival OR (arrival = @after_arrival AND (t_us > @after_us OR (t_us = @after_us AND id > @after_id))))
{{- if .Workspace}} AND workspace_id = @workspace{{end}}
{{- if .Actor}} AND user_id = @actor{{end}}
{{- if .Subject}} AND (user_id = @subject OR (resource_id = @subject AND resource_type = @user_type)){{end}}
{{- if .ResourceType}} AND resource_type = @resource_type{{end}}
{{- if .ResourceID}} AND resource_id = @resource_id{{end}}
{{- if .ActionPrefix}} AND substring(action, 1, length(@action)) = @action{{else if .Action}} AND action = @action{{end}}
{{- if .Outcome}} AND outcome = @outcome{{end}}
{{- if .ClientIP}} AND client_ip = @client_ip{{end}}
{{- if .Since}} AND time >= toDateTime(@since_s) AND t_us >= @since_us{{end}}
{{- if .Until}} AND time <= toDateTime(@until_s) AND t_us < @until_us{{end}}
ORDER BY arrival, t_us, id
LIMIT @limit
{{- end}}
