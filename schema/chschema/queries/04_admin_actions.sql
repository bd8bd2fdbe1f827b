-- question: Every admin action in one workspace in a time range, oldest first.
-- params: workspace String, from DateTime, to DateTime
SELECT
    {{timeNanos}} AS time_unix_nano,
    event_id,
    user_id,
    resource_type,
    resource_id,
    outcome,
    details
FROM {{.Table}}
WHERE workspace_id = @workspace AND action = 'admin_action' AND time >= {{time "from"}} AND time < {{time "to"}}
ORDER BY time_unix_nano, event_id
LIMIT 1 BY event_id
