-- question: How many data exports did each user request and receive (GDPR export volume)?
-- params: from DateTime, to DateTime
SELECT
    workspace_id,
    user_id,
    uniqExactIf(event_id, action = 'data_export_requested') AS requested,
    uniqExactIf(event_id, action = 'data_export_completed') AS completed
FROM {{.Table}}
WHERE action IN ('data_export_requested', 'data_export_completed') AND time >= {{time "from"}} AND time < {{time "to"}}
GROUP BY workspace_id, user_id
ORDER BY requested DESC, completed DESC, workspace_id, user_id
