-- question: How many logins (and failed logins) per day in each workspace? From the daily rollup.
-- params: from Date, to Date
-- reads: rollup
SELECT
    day,
    workspace_id,
    sum(events) AS logins,
    sum(failures) AS failed
FROM {{.Rollup}}
WHERE action = 'login' AND day >= toDate(@from) AND day < toDate(@to)
GROUP BY day, workspace_id
ORDER BY day, workspace_id
