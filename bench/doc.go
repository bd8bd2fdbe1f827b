// Package bench measures what an audit event costs to emit, against a
// ceiling and a peer, in one run. It is a Go module of its own (like zap's
// benchmarks module) so that the peers it compares with stay out of the main
// module's go.mod; a replace directive points it at the working tree.
//
// Run it with scripts/bench.sh (make bench), which prints one line per
// scenario through internal/cmd/benchfmt and keeps the raw output under
// bench/results/.
//
// # BenchmarkEmit
//
// One representative audit event, a settings change, with the seed's fields:
// user id, workspace id, client IP, user agent, resource type and id, a
// details map of three entries, and previous and new values (maps of two
// entries). That is eleven attributes, with the event id and the outcome.
// The scenarios emit the same attributes with the same values:
//
//   - bridge: [bridge.Auditor.Record], which validates the action, assigns a
//     UUIDv7 id and the time, merges the client from the context and builds
//     the record. The structured values are attribute values.
//   - bridge_any: the same, with the structured values given as Go maps
//     (map[string]any) and converted with otelaudit.Value for every event,
//     as the typed calls (Auditor.SettingsChanged and the others) convert
//     their any arguments: what passing Go values costs.
//   - bridge_struct: bridge_any with the previous and new values given as
//     a Go struct with json tags, which otelaudit.Value converts through
//     encoding/json.
//   - direct: the ceiling. The record a careful hand-written emitter would
//     build: the same EventName, timestamp, severity and attributes,
//     including a fresh UUIDv7 id in text form, passed to log.Logger.Emit.
//   - otelslog: the peer. The same attributes through the contrib
//     go.opentelemetry.io/contrib/bridges/otelslog handler, as a
//     slog.Logger.LogAttrs call at level Info with the action as the message
//     (slog has no event name; the action becomes the body).
//
// The structured values (details, previous, new) are built once, outside the
// timed loop, in every scenario: they are the caller's data, not part of
// the emit path, and building them per call would add the same cost to every
// scenario and hide the differences (bridge_any and bridge_struct build
// their Go values once too, and convert them per event). For otelslog they are wrapped once in
// slog values holding the attribute.Value, which the handler passes through
// unchanged.
//
// Each scenario is timed on one goroutine (no b.RunParallel), so ns/op and
// allocs/op are the per-event cost on the caller's goroutine.
//
// # Provider configuration
//
// Every scenario gets a fresh SDK LoggerProvider (go.opentelemetry.io/otel/sdk/log)
// with the default resource and limits (attribute deduplication on) and one
// stock BatchProcessor in front of an exporter that discards what it receives
// (Export only counts the records and returns nil). The BatchProcessor has
// the SDK's default settings except the queue: export batches of 512, an
// export interval of 1s, an export timeout of 30s, and a queue of 16384
// records instead of 2048. All four are written out so that OTEL_BLRP_*
// variables cannot change them.
//
// The BatchProcessor must not measure something else. Its OnEmit clones the
// record into a bounded ring; when the ring is full it overwrites the oldest
// record and counts a drop. With a discarding exporter the export goroutine
// drains a batch in microseconds and normally keeps up, but on a busy
// two-CPU machine it was sometimes not scheduled for long enough, and the
// default 2048-record queue dropped up to 1% of the records of a run. The
// larger queue absorbs those pauses, and every sub-benchmark checks it: after
// the timed loop it flushes the provider and fails if the exporter did not
// receive exactly as many records as were emitted.
//
// # BenchmarkEmitNoSDK
//
// The same scenarios emit into a logger that is enabled for everything and
// discards every record on Emit, with no SDK behind it: what each scenario
// costs on the caller's side (building the record, the id, the time). In
// BenchmarkEmit the SDK's own work (per-attribute deduplication, the record
// copy in the BatchProcessor) is most of the cost and hides the differences
// between the scenarios; here they show.
package bench
