-- question: The most active users of one workspace: events, distinct actions, last seen.
-- params: workspace String, from DateTime, to DateTime, limit UInt64
--
-- Counting distinct event ids per user is the cost (one set per user). On
-- the compat layout it is done for the few users that can make the list
-- only: the @limit users with the most rows set a floor (the fewest
-- distinct events among them), and only users with at least that many
-- rows are counted exactly. Rows are never fewer than distinct events, so
-- the answer is the one counting every user exactly would give, copies or
-- not. GLOBAL IN runs each subquery once, also over a Distributed table.
-- The modern layout counts every user: ClickHouse 26.5's query condition
-- cache (use_query_condition_cache) reused the rows an IN (subquery)
-- filter had matched in an earlier run whose subquery gave another set,
-- and left users out (TestMostActiveUsersCopiesLive).
{{- if .Modern}}
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
{{- else}}
SELECT
    user_id,
    uniqExact(event_id) AS events,
    uniqExact(action) AS actions,
    max(time) AS last_seen
FROM {{.Table}}
WHERE workspace_id = @workspace AND time >= {{time "from"}} AND time < {{time "to"}} AND user_id != ''
    AND user_id GLOBAL IN (
        SELECT user_id
        FROM {{.Table}}
        WHERE workspace_id = @workspace AND time >= {{time "from"}} AND time < {{time "to"}} AND user_id != ''
        GROUP BY user_id
        HAVING count() >= (
            SELECT min(events)
            FROM (
                SELECT uniqExact(event_id) AS events
                FROM {{.Table}}
                WHERE workspace_id = @workspace AND time >= {{time "from"}} AND time < {{time "to"}} AND user_id != ''
                    AND user_id GLOBAL IN (
                        SELECT user_id
                        FROM {{.Table}}
                        WHERE workspace_id = @workspace AND time >= {{time "from"}} AND time < {{time "to"}} AND user_id != ''
                        GROUP BY user_id
                        ORDER BY count() DESC, user_id
                        LIMIT @limit
                    )
                GROUP BY user_id
            )
        )
    )
GROUP BY user_id
ORDER BY events DESC, user_id
LIMIT @limit
{{- end}}
