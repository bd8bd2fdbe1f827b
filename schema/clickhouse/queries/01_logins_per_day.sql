-- question: How many logins (and failed logins) per day in each workspace?
-- params: from DateTime, to DateTime
SELECT
    toDate(time) AS day,
    workspace_id,
    uniqExact(event_id) AS logins,
    uniqExactIf(event_id, outcome = 'failure') AS failed
FROM {{.Table}}
WHERE action = 'login' AND time >= @from AND time < @to
GROUP BY day, workspace_id
ORDER BY day, workspace_id
