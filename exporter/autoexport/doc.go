// Package autoexport registers the otelaudit exporters with
// go.opentelemetry.io/contrib/exporters/autoexport, so that a service
// whose log exporter autoexport chooses sends its audit records to
// Postgres and ClickHouse when its environment says so:
//
//	import (
//		"go.opentelemetry.io/contrib/exporters/autoexport"
//
//		_ "github.com/otelaudit/otelaudit/exporter/autoexport"
//	)
//
//	exp, err := autoexport.NewLogExporter(ctx)
//	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)),
//		sdklog.WithAllowKeyDuplication())
//
// run with
//
//	OTEL_LOGS_EXPORTER=otelaudit_postgres,otelaudit_clickhouse
//	OTELAUDIT_POSTGRES_DSN=postgres://billing@db/app
//	OTELAUDIT_CLICKHOUSE_DSN=clickhouse://billing@analytics:9000/audit
//
// The values of OTEL_LOGS_EXPORTER registered here:
//
//	otelaudit_postgres                       postgreslog.Open(ctx, ""): OTELAUDIT_POSTGRES_DSN and the other OTELAUDIT_POSTGRES_* variables
//	otelaudit_clickhouse                     clickhouselog.Open(ctx, ""): OTELAUDIT_CLICKHOUSE_DSN and the other OTELAUDIT_CLICKHOUSE_* variables
//	otelaudit_postgres,otelaudit_clickhouse  both: one exporter that writes each batch to both stores
//	otelaudit_clickhouse,otelaudit_postgres  the same
//
// autoexport (v0.72.0) looks the whole value of OTEL_LOGS_EXPORTER up as
// one name: it does not split comma-separated lists, which the
// OpenTelemetry specification allows but does not require
// (opentelemetry-go-contrib issue 4471). The two lists above are
// therefore registered as names of their own; other lists, with spaces
// or with other exporters in them ("otlp,otelaudit_postgres"), are not
// known to autoexport, and NewLogExporter returns its error for them.
//
// The exporter of both stores exports each batch to Postgres and to
// ClickHouse at once, on a goroutine for each that ends before Export
// returns, and returns the errors of both, joined; both exporters are
// idempotent by event id, so a batch exported again after a failure of
// one store is not stored twice in the other. Shutdown and ForceFlush
// reach both. Each store's exporter opens its connection and closes it
// at Shutdown.
//
// The SDK's BatchProcessor around these exporters drops a batch whose
// export failed, and drops records when its queue is full. The durable
// pipeline (exporter/journal, or exporter/pipeline.Setup) does not: use
// it where losing an audit event matters. This package is for services
// whose telemetry set-up is autoexport's.
//
// This package is a Go module of its own, so that autoexport's
// dependencies (the OTLP exporters, gRPC, Prometheus) stay out of the
// otelaudit module.
package autoexport
