CREATE ROLE IF NOT EXISTS `otelaudit_reader` ON CLUSTER `prod`;
GRANT ON CLUSTER `prod` SELECT ON `audit`.`audit_logs` TO `otelaudit_reader`;
GRANT ON CLUSTER `prod` SELECT ON `audit`.`audit_logs_daily` TO `otelaudit_reader`;
GRANT ON CLUSTER `prod` SELECT ON `audit`.`audit_logs_local` TO `otelaudit_reader`;
GRANT ON CLUSTER `prod` SELECT ON `audit`.`audit_logs_daily_local` TO `otelaudit_reader`;
