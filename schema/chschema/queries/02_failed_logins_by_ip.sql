-- question: Which client IPs had the most failed logins in the 24 hours before @now, across how many users and workspaces (credential stuffing)?
-- params: now DateTime, min_failures UInt64
SELECT
    client_ip,
    uniqExact(event_id) AS failures,
    uniqExact(user_id) AS users,
    uniqExact(workspace_id) AS workspaces,
    min(time) AS first_seen,
    max(time) AS last_seen
FROM {{.Table}}
WHERE action = 'login' AND outcome = 'failure'
    AND time >= {{time "now"}} - INTERVAL 24 HOUR AND time < {{time "now"}}
GROUP BY client_ip
HAVING failures >= @min_failures
ORDER BY failures DESC, client_ip
LIMIT 100
