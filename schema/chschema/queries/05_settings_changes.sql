-- question: The history of one setting: who changed it when, from what to what.
-- params: workspace String, resource_id String
SELECT
    {{timeNanos}} AS time_unix_nano,
    event_id,
    user_id,
    previous_value,
    new_value
FROM {{.Table}}
WHERE workspace_id = @workspace AND action = 'settings_changed' AND resource_id = @resource_id
ORDER BY time_unix_nano, event_id
LIMIT 1 BY event_id
