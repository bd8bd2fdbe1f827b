{{- /* Statements of the sealer, the verifier and the Postgres source. */ -}}

{{define "rows" -}}
SELECT created_at, event_id, action, outcome, error_type, user_id, user_name, workspace_id,
       host(ip_address), user_agent, session_id, resource, resource_id,
       details, previous_value, new_value, attributes, trace_id, span_id, service_name,
       sanitized, ingested_at
FROM {{.Audit}}
WHERE created_at >= $1 AND created_at < $2
{{- end}}

{{define "late_rows" -}}
SELECT created_at, event_id, action, outcome, error_type, user_id, user_name, workspace_id,
       host(ip_address), user_agent, session_id, resource, resource_id,
       details, previous_value, new_value, attributes, trace_id, span_id, service_name,
       sanitized, ingested_at
FROM {{.Audit}} a
WHERE a.created_at >= $1 AND a.created_at < $2 AND a.ingested_at > $3
  AND NOT EXISTS (SELECT 1 FROM {{.Leaves}} l WHERE l.event_id = a.event_id AND l.created_at = a.created_at)
{{- end}}

{{define "next_time" -}}
SELECT min(created_at) FROM {{.Audit}} WHERE created_at >= $1 AND created_at < $2
{{- end}}

{{define "digests" -}}
SELECT seq, version, range_start, range_end, part, row_count, root, first_time, last_time,
       sealed_at, prev_hash, key_id, signature
FROM {{.Digests}}
ORDER BY seq
{{- end}}

{{define "last_digest" -}}
SELECT seq, version, range_start, range_end, part, row_count, root, first_time, last_time,
       sealed_at, prev_hash, key_id, signature
FROM {{.Digests}}
ORDER BY seq DESC
LIMIT 1
{{- end}}

{{define "insert_digest" -}}
INSERT INTO {{.Digests}} (seq, version, range_start, range_end, part, row_count, root,
                          first_time, last_time, sealed_at, prev_hash, key_id, signature)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
{{- end}}

{{define "leaves" -}}
SELECT seq, idx, created_at, event_id, leaf_hash, salt, commitment
FROM {{.Leaves}}
WHERE seq = ANY($1)
ORDER BY seq, idx
{{- end}}

{{define "leaf_of_event" -}}
SELECT seq, idx, created_at, event_id, leaf_hash, salt, commitment
FROM {{.Leaves}}
WHERE event_id = $1
ORDER BY seq
{{- end}}

{{define "leaf_hashes" -}}
SELECT leaf_hash FROM {{.Leaves}} WHERE seq = $1 ORDER BY idx
{{- end}}

{{define "now" -}}
SELECT now()
{{- end}}
