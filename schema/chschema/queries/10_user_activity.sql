-- question: Everything about one user in a time range, as the actor or as the target of someone else's action (a GDPR subject access request), oldest first, with details, previous/new values, client and session.
-- params: user_id String, from DateTime, to DateTime
SELECT
    {{timeNanos}} AS time_unix_nano,
    event_id,
    workspace_id,
    action,
    if(user_id = @user_id, 'actor', 'target') AS role,
    user_id,
    user_name,
    resource_type,
    resource_id,
    outcome,
    error_type,
    client_ip,
    user_agent,
    session_id,
    details,
    previous_value,
    new_value
FROM {{.Table}}
WHERE (user_id = @user_id OR (resource_type = 'user' AND resource_id = @user_id))
    AND time >= {{time "from"}} AND time < {{time "to"}}
ORDER BY time_unix_nano, event_id
LIMIT 1 BY event_id
