-- logins_per_day: How many logins (and failed logins) per day in each workspace? From the daily rollup.
-- params: from Date, to Date
SELECT
    day,
    workspace_id,
    sum(events) AS logins,
    sum(failures) AS failed
FROM `audit`.`audit_logs_daily`
WHERE action = 'login' AND day >= toDate(@from) AND day < toDate(@to)
GROUP BY day, workspace_id
ORDER BY day, workspace_id;

-- failed_logins_by_ip: Which client IPs had the most failed logins in the 24 hours before @now, across how many users and workspaces (credential stuffing)?
-- params: now DateTime, min_failures UInt64
SELECT
    client_ip,
    uniqExact(event_id) AS failures,
    uniqExact(user_id) AS users,
    uniqExact(workspace_id) AS workspaces,
    min(time) AS first_seen,
    max(time) AS last_seen
FROM `audit`.`audit_logs`
WHERE action = 'login' AND outcome = 'failure'
    AND time >= @now - INTERVAL 24 HOUR AND time < @now
GROUP BY client_ip
HAVING failures >= @min_failures
ORDER BY failures DESC, client_ip
LIMIT 100;

-- data_exports_per_user: How many data exports did each user request and receive (GDPR export volume)?
-- params: from DateTime, to DateTime
SELECT
    workspace_id,
    user_id,
    uniqExactIf(event_id, action = 'data_export_requested') AS requested,
    uniqExactIf(event_id, action = 'data_export_completed') AS completed
FROM `audit`.`audit_logs`
WHERE action IN ('data_export_requested', 'data_export_completed') AND time >= @from AND time < @to
GROUP BY workspace_id, user_id
ORDER BY requested DESC, completed DESC, workspace_id, user_id;

-- admin_actions: Every admin action in one workspace in a time range, oldest first.
-- params: workspace String, from DateTime, to DateTime
SELECT
    toUInt64(time) * 1000000000 + time_ns AS time_unix_nano,
    event_id,
    user_id,
    resource_type,
    resource_id,
    outcome,
    details
FROM `audit`.`audit_logs`
WHERE workspace_id = @workspace AND action = 'admin_action' AND time >= @from AND time < @to
ORDER BY time_unix_nano, event_id
LIMIT 1 BY event_id;

-- settings_changes: The history of one setting: who changed it when, from what to what.
-- params: workspace String, resource_id String
SELECT
    toUInt64(time) * 1000000000 + time_ns AS time_unix_nano,
    event_id,
    user_id,
    previous_value,
    new_value
FROM `audit`.`audit_logs`
WHERE workspace_id = @workspace AND action = 'settings_changed' AND resource_id = @resource_id
ORDER BY time_unix_nano, event_id
LIMIT 1 BY event_id;

-- oauth_churn: OAuth connections and disconnections per provider, and the net change.
-- params: from DateTime, to DateTime
SELECT
    resource_id AS provider,
    uniqExactIf(event_id, action = 'oauth_connected') AS connected,
    uniqExactIf(event_id, action = 'oauth_disconnected') AS disconnected,
    toInt64(connected) - toInt64(disconnected) AS net
FROM `audit`.`audit_logs`
WHERE action IN ('oauth_connected', 'oauth_disconnected') AND time >= @from AND time < @to
GROUP BY provider
ORDER BY provider;

-- subscriptions_per_month: Subscriptions created and cancelled per month, and the net change.
-- params: from DateTime, to DateTime
SELECT
    toStartOfMonth(time) AS month,
    uniqExactIf(event_id, action = 'subscription_created') AS created,
    uniqExactIf(event_id, action = 'subscription_cancelled') AS cancelled,
    toInt64(created) - toInt64(cancelled) AS net
FROM `audit`.`audit_logs`
WHERE action IN ('subscription_created', 'subscription_cancelled') AND time >= @from AND time < @to
GROUP BY month
ORDER BY month;

-- most_active_users: The most active users of one workspace: events, distinct actions, last seen.
-- params: workspace String, from DateTime, to DateTime, limit UInt64
SELECT
    user_id,
    uniqExact(event_id) AS events,
    uniqExact(action) AS actions,
    max(time) AS last_seen
FROM `audit`.`audit_logs`
WHERE workspace_id = @workspace AND time >= @from AND time < @to AND user_id != ''
    AND user_id GLOBAL IN (
        SELECT user_id
        FROM `audit`.`audit_logs`
        WHERE workspace_id = @workspace AND time >= @from AND time < @to AND user_id != ''
        GROUP BY user_id
        HAVING count() >= (
            SELECT min(events)
            FROM (
                SELECT uniqExact(event_id) AS events
                FROM `audit`.`audit_logs`
                WHERE workspace_id = @workspace AND time >= @from AND time < @to AND user_id != ''
                    AND user_id GLOBAL IN (
                        SELECT user_id
                        FROM `audit`.`audit_logs`
                        WHERE workspace_id = @workspace AND time >= @from AND time < @to AND user_id != ''
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
LIMIT @limit;

-- daily_activity: Events and failures per action and day in one workspace, from the daily rollup (no scan of the audit table).
-- params: workspace String, from Date, to Date
SELECT
    day,
    action,
    sum(events) AS events,
    sum(failures) AS failures
FROM `audit`.`audit_logs_daily`
WHERE workspace_id = @workspace AND day >= toDate(@from) AND day < toDate(@to)
GROUP BY day, action
ORDER BY day, action;

-- user_activity: Everything about one user in a time range, as the actor or as the target of someone else's action (a GDPR subject access request), oldest first, with details, previous/new values, client and session.
-- params: user_id String, from DateTime, to DateTime
SELECT
    toUInt64(time) * 1000000000 + time_ns AS time_unix_nano,
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
FROM `audit`.`audit_logs`
WHERE (user_id = @user_id OR (resource_type = 'user' AND resource_id = @user_id))
    AND time >= @from AND time < @to
ORDER BY time_unix_nano, event_id
LIMIT 1 BY event_id;

