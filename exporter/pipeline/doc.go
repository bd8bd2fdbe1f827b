// Package pipeline sets up the durable audit pipeline in one call, from
// the environment: the journal (exporter/journal) in front of the stores
// that are configured (exporter/postgreslog, exporter/clickhouselog), an
// OpenTelemetry LoggerProvider with the settings audit records need, and a
// bridge.Auditor on it.
//
//	audit, shutdown, err := pipeline.Setup(ctx)
//	if err != nil {
//		return err
//	}
//	defer shutdown(context.WithoutCancel(ctx))
//	audit.Login(ctx, otelaudit.Actor{UserID: "u_42"})
//
// With the environment
//
//	OTELAUDIT_JOURNAL_DIR=/var/lib/billing/audit
//	OTELAUDIT_POSTGRES_DSN=postgres://billing@db/app
//	OTELAUDIT_CLICKHOUSE_DSN=clickhouse://billing@analytics:9000/audit
//	OTEL_SERVICE_NAME=billing
//
// [Setup] builds:
//
//   - a postgreslog.Exporter (postgreslog.Open) when OTELAUDIT_POSTGRES_DSN
//     is set or [WithPostgres] is given, and a clickhouselog.Exporter
//     (clickhouselog.Open) when OTELAUDIT_CLICKHOUSE_DSN is set or
//     [WithClickHouse] is given; at least one is needed. Each reads the
//     rest of its settings from its own OTELAUDIT_* variables;
//   - a journal.Processor in OTELAUDIT_JOURNAL_DIR (or [WithJournalDir])
//     delivering to each store under the target name "postgres" or
//     "clickhouse" (keep them: they name the cursors on disk), configured
//     by the OTELAUDIT_JOURNAL_* variables;
//   - an sdklog.LoggerProvider with that processor alone,
//     sdklog.WithAllowKeyDuplication (audit records carry no duplicate
//     keys, so the SDK's deduplication pass is skipped), and the resource
//     the SDK detects: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES,
//     the host name, the SDK's own attributes, and service.name
//     "unknown_service:<executable>" when neither variable names one
//     ([WithResource] replaces it);
//   - a bridge.Auditor on that provider.
//
// The README's configuration table lists every variable. Options given to
// Setup win over the environment. The tables must exist: run
// pgschema.Migrate and chschema.Migrate at deploy time, as the tables'
// owner, and give the service a login with only the writer role.
//
// The shutdown function shuts the provider down, which shuts the journal
// down: it delivers what it holds until its context ends, then closes the
// stores' connections. Records not delivered by then stay in the journal
// for the next start. Call it once, at exit.
//
// The package lives under exporter/ because it assembles exporters: the
// root package (the domain model) and the bridge are imported by the
// exporters and cannot import them.
package pipeline
