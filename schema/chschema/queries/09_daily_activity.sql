-- question: Events and failures per action and day in one workspace, from the daily rollup (no scan of the audit table).
-- params: workspace String, from Date, to Date
-- reads: rollup
SELECT
    day,
    action,
    sum(events) AS events,
    sum(failures) AS failures
FROM {{.Rollup}}
WHERE workspace_id = @workspace AND day >= toDate(@from) AND day < toDate(@to)
GROUP BY day, action
ORDER BY day, action
