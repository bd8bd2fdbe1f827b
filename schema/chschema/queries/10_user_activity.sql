-- question: Everything one user did in a time range (a GDPR subject access request), oldest first.
-- params: user_id String, from DateTime, to DateTime
SELECT
    {{timeNanos}} AS time_unix_nano,
    event_id,
    workspace_id,
    action,
    resource_type,
    resource_id,
    outcome,
    client_ip
FROM {{.Table}}
WHERE user_id = @user_id AND time >= {{time "from"}} AND time < {{time "to"}}
ORDER BY time_unix_nano, event_id
LIMIT 1 BY event_id
