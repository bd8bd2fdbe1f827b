-- question: Subscriptions created and cancelled per month, and the net change.
-- params: from DateTime, to DateTime
SELECT
    toStartOfMonth(time) AS month,
    uniqExactIf(event_id, action = 'subscription_created') AS created,
    uniqExactIf(event_id, action = 'subscription_cancelled') AS cancelled,
    toInt64(created) - toInt64(cancelled) AS net
FROM {{.Table}}
WHERE action IN ('subscription_created', 'subscription_cancelled') AND time >= {{time "from"}} AND time < {{time "to"}}
GROUP BY month
ORDER BY month
