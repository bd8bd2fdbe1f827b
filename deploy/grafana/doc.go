// Package grafana holds the Grafana dashboard of the audit trail
// (dashboards/otelaudit.json) and its provisioning (provisioning/), for
// the ClickHouse data source (plugin grafana-clickhouse-datasource). The
// package has no code: its test parses the dashboard and runs every
// panel's SQL, with Grafana's macros substituted, against ClickHouse.
//
// Each panel is a question of the query pack (schema/chschema/queries),
// named in the target's meta.pack, over the dashboard's time range and an
// optional workspace: logins and failed logins per day (from the daily
// rollup), failed logins by client IP, admin actions, data exports per
// user, settings changes. The SQL uses only what ClickHouse 18.16 and
// modern servers share, and the macros $__timeFilter(column),
// $__fromTime and $__toTime, and the variable ${workspace:sqlstring}.
//
// To run it, mount into the Grafana container:
//
//	deploy/grafana/provisioning  -> /etc/grafana/provisioning
//	deploy/grafana/dashboards    -> /var/lib/grafana/dashboards
//
// install the plugin (GF_INSTALL_PLUGINS=grafana-clickhouse-datasource),
// and set OTELAUDIT_GRAFANA_CLICKHOUSE_HOST, _DATABASE, _USER and
// _PASSWORD: a read-only user (chschema.ReaderUsersXML on 18.16,
// chschema.ReaderGrants on modern servers).
package grafana
