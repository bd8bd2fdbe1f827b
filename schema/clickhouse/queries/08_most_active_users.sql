-- question: The most active users of each workspace: events, distinct actions, last seen.
-- params: from DateTime, to DateTime, per_workspace UInt64
SELECT
    workspace_id,
    user_id,
    uniqExact(event_id) AS events,
    uniqExact(action) AS actions,
    max(time) AS last_seen
FROM {{.Table}}
WHERE time >= @from AND time < @to AND user_id != ''
GROUP BY workspace_id, user_id
ORDER BY workspace_id, events DESC, user_id
LIMIT @per_workspace BY workspace_id
