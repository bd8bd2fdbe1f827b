CREATE ROLE IF NOT EXISTS `otelaudit_writer`;

GRANT INSERT ON `audit`.`audit_logs` TO `otelaudit_writer`;

GRANT SELECT(event_id, time, workspace_id, action, outcome) ON `audit`.`audit_logs` TO `otelaudit_writer`;

GRANT INSERT ON `audit`.`audit_logs_daily` TO `otelaudit_writer`;
