// Package auditrow is the one mapping from audit log records to rows, shared
// by every exporter: Postgres and ClickHouse code differ only in how they
// write a [Row]. The record contract it reads is documented in the otelaudit
// package. It also defines what every exporter reports about the records
// it is given: [ExportStats], the rejection reasons, [*RejectError], the
// per-Export reject hook ([ContextWithRejectHook]) and the metrics.
//
// # Outcomes for every input
//
// [Mapper.Map] never panics and never fails a record for its values. A record
// is either refused with a counted reason ([ReasonOf]) or stored, with every
// change it needed listed in [Row.Sanitized] as "field:change" markers:
//
//	Input                                      Outcome
//	-----------------------------------------  ------------------------------------------------------------
//	EventName not "audit.*"                    refused: ErrNotAudit ("non_audit"), unless IncludeNonAudit:
//	                                           stored with action = EventName (or "log"), body in details,
//	                                           marker event_name:non_audit
//	EventName "audit.<bad action>"             refused: ErrInvalidAction ("invalid_action")
//	invalid UTF-8 in any string                sequences replaced by U+FFFD, marker <field>:invalid_utf8
//	NUL byte in any string or JSON value       replaced by U+FFFD (Postgres refuses NUL in text and
//	                                           jsonb), marker <field>:nul_byte
//	string over its limit                      cut at a rune boundary, marker <field>:truncated
//	                                           (MaxFieldBytes, MaxUserAgentBytes)
//	NaN, +Inf, -Inf in JSON values             the strings "NaN", "Infinity", "-Infinity",
//	                                           marker <field>:non_finite
//	bytes                                      base64 JSON string (no marker: the standard encoding)
//	nesting deeper than MaxDepth               the string "[otelaudit: depth limit]",
//	                                           marker <field>:depth_limit
//	JSON value over MaxValueBytes (encoded)    {"otelaudit.truncated":true,"original_bytes":N,
//	                                           "prefix":"<first 1 KiB>"}, marker <field>:too_large
//	client.address not an IP                   ClientIP empty, raw value kept in Attrs,
//	                                           marker client.address:invalid_ip
//	client.address "ip:port", "[v6]:port",     the IP (port and zone dropped; IPv4-mapped unmapped),
//	"v6%zone"                                  raw value kept in Attrs, marker client.address:port_or_zone
//	contract key with a non-string value       its JSON text, marker <key>:wrong_type
//	contract key given twice                   the last value, marker <key>:duplicate
//	audit.outcome not success/failure          "failure", raw value in Attrs,
//	                                           marker audit.outcome:invalid_outcome
//	no audit.outcome                           "failure" when error.type is set, else "success"
//	no log.record.uid                          UUIDv5 of the mapped content (stable across
//	                                           retries), marker log.record.uid:generated_id
//	log.record.uid not a UUID                  UUIDv5 of the raw value, raw kept in Attrs,
//	                                           marker log.record.uid:invalid_id
//	no Timestamp                               ObservedTimestamp, marker time:observed; neither:
//	                                           the mapping time, marker time:missing
//	any other attribute                        Attrs (strings as is, other types as JSON text) and
//	                                           AttributesJSON (one object, values keep their types)
//	body and severity of an audit record       attributes log.body (its type kept),
//	sent over OTLP (OTLPSource: the            log.severity_number, log.severity_text, when set
//	Collector's records)                       (KeyBody, KeySeverityNumber, KeySeverityText)
//
// Derived ids make retries idempotent: the same record always maps to the same
// id. Two records without ids that are equal in every mapped field (time to
// the nanosecond included) are the same event to the stores.
//
// # What every exporter reports
//
// The exporters (postgreslog, clickhouselog) share one vocabulary, defined
// here. Every record given to an exporter's Export ends in exactly one
// outcome, counted in its [ExportStats]:
//
//	Written         stored now
//	AlreadyStored   found stored already, not written again (exactly once)
//	Rejected        never stored, by reason (the Reason constants, every
//	                one a key of ExportStats.Rejected in every exporter):
//	                  non_audit          not an audit record
//	                  invalid_action     "audit." followed by an invalid name
//	                  time_out_of_range  a time the store cannot hold
//	                                     (postgreslog; clickhouselog clamps)
//	                  refused_by_server  the database refused the row itself
//	                  other              anything else
//	Failed          not confirmed stored: Export returned an error
//
// Each rejected record is reported as a [*RejectError] to the exporter's
// error handler (non_audit excepted: other logs sharing the pipeline are
// expected, and only counted) and to the reject hook of the Export's
// context, set with [ContextWithRejectHook] (non_audit included).
//
// # Metrics
//
// Both exporters record the same OpenTelemetry instruments, from the
// MeterProvider of their WithMeterProvider option (by default
// otel.GetMeterProvider()), in the instrumentation scope
// "github.com/otelaudit/otelaudit/exporter", told apart by the attribute
// otelaudit.exporter ("postgreslog", "clickhouselog"):
//
//	Instrument                          Kind               Unit      Attributes
//	----------------------------------  -----------------  --------  ---------------------------------------
//	otelaudit.exporter.records          Int64Counter       {record}  otelaudit.exporter,
//	                                                                 otelaudit.export.outcome: written,
//	                                                                 already_stored, rejected or failed;
//	                                                                 otelaudit.reject.reason (the Reason,
//	                                                                 only with rejected)
//	otelaudit.exporter.retries          Int64Counter       {retry}   otelaudit.exporter
//	otelaudit.exporter.export.duration  Float64Histogram   s         otelaudit.exporter
//
// The counters count what [ExportStats] counts (Received is their sum once
// the Exports have returned; rejections are added when their Export
// returns); the histogram has one measurement per Export call given
// records, with buckets from 1ms to 60s. The instruments are synchronous
// and their attribute sets are built when the exporter is made: recording
// allocates nothing, and happens once per statement and once per
// rejection reason of each Export, never per record. Several exporters of
// one kind add up in the same series.
package auditrow
