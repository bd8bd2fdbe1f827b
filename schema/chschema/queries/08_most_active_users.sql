-- question: The most active users of one workspace: events, distinct actions, last seen.
-- params: workspace String, from DateTime, to DateTime, limit UInt64
SELECT
    user_id,
    uniqExact(event_id) AS events,
    uniqExact(action) AS actions,
    max(time) AS last_seen
FROM {{.Table}}
WHERE workspace_id = @workspace AND time >= {{time "from"}} AND time < {{time "to"}} AND user_id != ''
GROUP BY user_id
ORDER BY events DESC, user_id
LIMIT @limit
