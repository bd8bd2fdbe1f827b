// Package otelauditexporter is an OpenTelemetry Collector exporter
// (component type "otelaudit") that writes the audit records among the
// logs a Collector receives into the Postgres and ClickHouse audit tables
// of this project (schema/pgschema, schema/chschema). Services in any
// language send audit events over OTLP with the record contract of the
// otelaudit package; collectors forward them; this exporter stores them.
//
// It lives in a module of its own, so that the library's module stays
// free of the Collector's dependencies. cmd/otelaudit-collector is a
// distribution that holds it; builder-config.yaml there builds one with
// the Collector builder.
//
//	exporters:
//	  otelaudit:
//	    postgres:
//	      dsn: postgres://audit@db:5432/audit
//	      migrate: true
//	    clickhouse:
//	      dsn: clickhouse://default@ch:9000/audit
//	      migrate: true
//	    non_audit: drop
//	    sending_queue:
//	      storage: file_storage
//
// # One mapping for both inputs
//
// A plog.Logs is mapped straight into rows by the shared mapping,
// exporter/auditrow, through its Records and OTLPSource interfaces (no
// detour through SDK records), and written by the same writers as the
// SDK exporters, postgreslog and clickhouselog ([postgreslog.Exporter.ExportRecords],
// [clickhouselog.Exporter.ExportRecords]): the same columns, the same
// repairs and markers, the same exactly-once rules. An event sent over
// OTLP is stored exactly as the same event written in process is, field
// for field, and:
//
//   - the record's body and severity, which other SDKs set ("user logged
//     in", INFO), are kept among the attributes as log.body,
//     log.severity_number and log.severity_text;
//   - an event name in the event.name attribute (older SDKs) stands for a
//     missing EventName;
//   - a client.address with a port or a zone is stored as its IP, its raw
//     value kept among the attributes, with the marker
//     client.address:port_or_zone;
//   - service.name comes from the record's resource. Other resource
//     attributes, the scope and the record's flags are not stored: they
//     describe the sender, not the event.
//
// # What happens to each record
//
//	Record                                   Outcome
//	---------------------------------------  -----------------------------------------------
//	audit record                             stored once in each configured store
//	not an audit record (EventName not       non_audit: drop (default): dropped and counted;
//	"audit.*")                               store: stored as a non-audit row;
//	                                         reject: refused, as below
//	refused for its content (invalid         a permanent error for the batch once the other
//	action; a time or value the database     records are stored: not retried; with no sending
//	refuses)                                 queue the sender gets 400 / InvalidArgument
//	a store down, slow or failing            a retryable error: the exporterhelper retries
//	                                         the batch (what is stored already is not stored
//	                                         again); with no sending queue the sender gets
//	                                         503 / Unavailable
//
// With a sending queue (the default), the receiver acknowledges records
// once they are queued; refusals are then logged (warn) and counted in the
// metrics, not seen by the sender. Configure retry_on_failure with
// max_elapsed_time: 0 to keep retrying for as long as a database is down:
// otherwise the exporterhelper drops a batch when its retries run out.
//
// # Durability and exactly once
//
// With sending_queue.storage naming a file_storage extension, queued
// batches are on disk: a Collector killed with records in its queue sends
// them when it starts again. Records carry their event id (the bridge's
// UUIDv7, or one derived from their content), so a batch sent again
// after a retry or a restart is not stored twice: Postgres skips events
// stored already (ON CONFLICT DO NOTHING). For ClickHouse, batches that
// may come again are looked up before they are inserted
// (clickhouselog.WithStoredCheck), and only those: the batches written
// within a minute (or twice retry_on_failure.max_interval, when longer)
// of the exporter's start, when a persistent queue hands back what was in
// flight at a crash, and of any failed write, which the exporterhelper
// retries. Other batches are inserted as they come, because the lookup
// scans the time range of the batch and grows with the table. A batch
// that comes again outside those windows (a replay that takes longer than
// the window to reach it), or a Collector killed while an insert is in
// flight, can still leave a copy in ClickHouse, collapsed when parts
// merge (see clickhouselog).
//
// A database that is down when the Collector starts delays the writes
// (the migration, when asked for, runs before the first write that finds
// the database), never the start.
//
// # Metrics
//
// Besides the exporterhelper's own (otelcol_exporter_sent_log_records,
// otelcol_exporter_send_failed_log_records, the queue's size and
// capacity), the exporter records the metrics documented in
// exporter/auditrow through the Collector's MeterProvider:
// otelaudit.exporter.records by outcome (written, already_stored,
// rejected, failed) and rejection reason, otelaudit.exporter.retries and
// otelaudit.exporter.export.duration, with otelaudit.exporter =
// "postgreslog" or "clickhouselog".
package otelauditexporter
