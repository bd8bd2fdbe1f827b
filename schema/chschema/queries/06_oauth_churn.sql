-- question: OAuth connections and disconnections per provider, and the net change.
-- params: from DateTime, to DateTime
SELECT
    resource_id AS provider,
    uniqExactIf(event_id, action = 'oauth_connected') AS connected,
    uniqExactIf(event_id, action = 'oauth_disconnected') AS disconnected,
    toInt64(connected) - toInt64(disconnected) AS net
FROM {{.Table}}
WHERE action IN ('oauth_connected', 'oauth_disconnected') AND time >= {{time "from"}} AND time < {{time "to"}}
GROUP BY provider
ORDER BY provider
