CREATE ROLE IF NOT EXISTS `audit_ingest` ON CLUSTER `analytics`;

GRANT ON CLUSTER `analytics` INSERT ON `audit`.`audit_logs` TO `audit_ingest`;

GRANT ON CLUSTER `analytics` SELECT(event_id, time, workspace_id, action, outcome) ON `audit`.`audit_logs` TO `audit_ingest`;

GRANT ON CLUSTER `analytics` INSERT ON `audit`.`audit_logs_daily` TO `audit_ingest`;

GRANT ON CLUSTER `analytics` INSERT ON `audit`.`audit_logs_local` TO `audit_ingest`;

GRANT ON CLUSTER `analytics` SELECT(event_id, time, workspace_id, action, outcome) ON `audit`.`audit_logs_local` TO `audit_ingest`;

GRANT ON CLUSTER `analytics` INSERT ON `audit`.`audit_logs_daily_local` TO `audit_ingest`;
