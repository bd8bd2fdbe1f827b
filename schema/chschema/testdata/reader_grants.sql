CREATE ROLE IF NOT EXISTS `otelaudit_reader`;
GRANT SELECT ON `audit`.`audit_logs` TO `otelaudit_reader`;
GRANT SELECT ON `audit`.`audit_logs_daily` TO `otelaudit_reader`;
