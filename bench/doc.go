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
// allocs/op are the per-event cost on the caller's goroutine; cpu_ns/op is
// the CPU time of that goroutine's thread per event (Linux only), which
// waiting for the CPUs of a busy machine does not inflate (the SDK's
// export goroutine and the garbage collector's background work are not
// in it, the caller's GC assists are).
//
// Every scenario runs twice, one run right after the other: with the SDK's
// per-record key deduplication on (its default, the scenario's name) and
// off (sdklog.WithAllowKeyDuplication, the name followed by _dedup_off).
// The pipelines (exporter/pipeline) and the bridge documentation set it
// off, since the Auditor never emits a key twice: the _dedup_off figures
// are what the recommended setup costs. benchfmt compares each with the
// ceiling of the same setting (direct or direct_dedup_off).
//
// # Provider configuration
//
// Every scenario gets a fresh SDK LoggerProvider (go.opentelemetry.io/otel/sdk/log)
// with the default resource and limits (key deduplication on, or off for
// the _dedup_off runs) and one
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
// BenchmarkEmit the SDK's own work (the key deduplication unless it is
// off, the record copy in the BatchProcessor) is most of the cost and hides the differences
// between the scenarios; here they show.
//
// # BenchmarkDelivery
//
// The durable journal (exporter/journal, with its default options: group
// commit every 50 ms) against the SDK's stock BatchProcessor. Each scenario
// that is compared with another runs after it in the same round and
// reports the ratio itself (ratio_to_batchprocessor, ratio_to_stock):
// benchfmt's median of these ratios pairs the scenarios of one round. The
// per-operation scenarios also report cpu_ns/op, the CPU time of the
// emitting goroutine alone (its thread's CPU clock, Linux only): ns/op is
// wall time, which on a small machine includes waiting for the CPUs that
// the processors' background goroutines (the journal's writer and
// delivery, the BatchProcessor's export), the garbage collector and other
// processes hold. allocs/op counts the allocations of every goroutine, the
// background ones included.
//
//   - onemit_batchprocessor and onemit_journal: the cost of the processor's
//     OnEmit per record, called in a loop with one record, a login as the
//     Auditor builds it (user, workspace, client IP, user agent and session
//     id from the request context), emitted once through a provider with
//     the recommended settings (see below). Both deliver to an exporter
//     that discards. The BatchProcessor has the settings of BenchmarkEmit;
//     at millions of OnEmit calls a second its export goroutine falls
//     behind and its queue overwrites records, which it reports as
//     dropped (a drop costs OnEmit the same as an enqueue). The journal
//     must accept and deliver every record. Its delivery decodes more
//     slowly than OnEmit appends, so the journal grows by a few hundred MB
//     a second of the loop: a -benchtime of more than a few seconds fills
//     the default 1 GiB cap, and the scenario fails on the refused records.
//   - emit_stock and emit_recommended: one Auditor call, the fixture event
//     of BenchmarkEmit. emit_stock is BenchmarkEmit's bridge scenario
//     again (stock BatchProcessor, SDK defaults). emit_recommended sends it
//     through a provider set up as the bridge and journal documentation
//     recommend: the journal as processor, sdk/log.WithAllowKeyDuplication
//     and a resource with service.name. Its journal must accept and deliver
//     every record.
//   - stock_postgres and journal_postgres: dlvPostgresEvents events through
//     the whole path into a fresh audit table on the shared Postgres
//     server, timed from the first event to the provider's Shutdown
//     (everything committed). Both emit from one goroutine at full speed,
//     with nothing pacing them, and use the provider settings of the
//     pipelines (no key deduplication, service.name) and
//     postgreslog.Exporter; the stock path has PostgresInsert/exporter's
//     BatchProcessor (batches of pgBatchSize, a queue that holds the whole
//     run, so that it drops nothing), the journal path the journal with
//     its defaults (batches of up to 2048 records; it holds the emitter
//     back when its writer falls behind, rather than dropping).
//     Both count the table's rows and distinct event ids and report lost
//     and duplicated events: the journal path fails unless both are 0, the
//     stock path only reports them.
//   - ceiling: one binary COPY of journal_postgres's rows into a fresh
//     table, as PostgresInsert/ceiling: the ceiling of the throughput
//     scenarios' ratio_to_ceiling.
//   - outage_postgres: outageEvents events through the journal into a
//     private Postgres server (internal/testenv.StartPostgres, given the
//     shared server's fsync, synchronous_commit, full_page_writes and
//     shared_buffers), emitted at full speed. Once outageAfter rows are
//     written the server is stopped (a fast shutdown: connections break,
//     transactions in flight roll back) and started again outageFor later.
//     Timed from the first event to the last row confirmed; reports the
//     outage (outage_seconds), how long after the restart the next row was
//     written (resume_seconds, mostly the exporter's own retry backoff),
//     the failed exports the journal retried and the exporter's retries,
//     and lost and duplicated events, which must be 0.
//   - fullspeed_postgres: fullSpeedEvents events through the journal (the
//     recommended provider) into Postgres at full speed, in a child process
//     (see Memory below), with its peak RSS and live heap. It
//     also reports the journal's bytes on disk per event (the final sizes
//     of all the segment files it wrote, deleted ones included, over the
//     events), its peak size (journal_peak_MiB, the largest
//     journal.Stats.Bytes sampled every fullSpeedPoll) and how long the
//     emitting goroutine took (emit_seconds). The child gives up after
//     fullSpeedTimeout; every event must be in the table, once. Its
//     ratio_to_ceiling compares a million events with the ceiling's
//     dlvPostgresEvents.
//     scripts/bench.sh runs it in its first round only (-once=false on the
//     others).
//
// # BenchmarkPostgresInsert and BenchmarkClickHouseInsert
//
// A million events into a fresh, migrated audit table: the whole path
// (exporter: Auditor, stock BatchProcessor, this project's exporter), the
// exporter alone (export_only), and a ceiling that writes the same rows
// without this project's code (one binary COPY from a file for Postgres,
// clickhouse-client with a TSV file for ClickHouse); for Postgres also the
// original design, one INSERT per event. Each group has a second ceiling,
// the limit of this machine: clickhouse-client inserting the same rows in
// the Native format (ClickHouseInsert/ceiling_native) and two binary COPYs
// of half the rows each on two connections at once
// (PostgresInsert/ceiling_parallel). benchfmt prints every scenario's
// ratio to these as ratio_to_native and ratio_to_parallel, after
// ratio_to_ceiling. Every scenario is timed by the
// wall clock from its first event to its last row committed, whatever
// the server does meanwhile (checkpoints, merges): export_only included,
// whose next batch is prepared on another goroutine while the current one
// is exported. ClickHouseInsert/export_prebuilt is the exporter alone on
// records all built before the clock starts, as the ceilings' rows are:
// on two cores, export_only's harness takes about a second of CPU per
// million records from the exporter and the server. Nothing paces the emitters: no scenario reads an exporter's
// counters to slow its caller down, which no real caller can do. The
// stock BatchProcessor drops records when its queue is full, so the whole
// path's queue holds the whole run; the emitter runs ahead of the
// database, and the backlog is in the memory figures. Every scenario
// counts the table's rows and distinct event ids afterwards. The
// benchmark functions document each scenario.
//
// # BenchmarkClickHouseQuery and BenchmarkClickHouseDedup
//
// The analyst query pack (schema/chschema) on ten million events with the
// skew of a real service (see chSeedSQL: Zipf-like tenant and user sizes,
// one tenant with 30% of the events, weekly and daily cycles, realistic
// user agents and details, attackers among other failed logins), merged
// into one part per partition before anything is timed. The queries about
// one tenant run for the biggest tenant and a small one, the queries over
// a time range for 30 and 90 days. Each case's row count is taken first
// by an independent query; a case fails if it expects none, and whenever
// an answer has another number of rows.
//
// # BenchmarkSearch and BenchmarkExport
//
// The read side (trail, `otelaudit search` and `export`) on ten million
// events (OTELAUDIT_SEARCH_ROWS for a quicker run), the same events in
// both stores, over the 80 days before today, with the skew of the query
// benchmark's dataset (Zipf-like tenants and users, weekly and daily
// cycles, realistic addresses, user agents and details; see
// searchSteps). They are generated inside each server, one INSERT ...
// SELECT per day (Postgres: from generate_series into the partitioned
// table that pgschema.Migrate made, its secondary indexes built after the
// load, then VACUUM ANALYZE; ClickHouse: from numbers(), then every
// partition merged into one part): five to six minutes for Postgres and
// three and a half for ClickHouse on a shared two-core machine, against
// more than half an hour through the exporters. The user of interest, u_export of ws_1 (a tenant with 7% of
// the events), holds exactly one event in a thousand: 9,000 as the actor
// and 1,000 as the target of an administrator's action. Ten of them are
// written through the exporters by an Auditor, and
// TestSearchSeedMatchesExporter checks that a generated row of each kind
// has the same columns set and the same encodings as the exported one,
// and that both stores hold the same events.
//
//   - Search/postgres, Search/clickhouse: the first page (50 events,
//     newest first) of a search by workspace and user, one search per
//     operation; deep_page_ns is the median of 11 reads of the last full
//     page (page 180), reached with its cursor. Each store's answer is
//     first counted by an independent query, which must give the
//     dataset's figure; the whole search, read in pages of 1,000, must
//     return exactly those events, each once, in order, and the timed
//     pages must be the events at their positions.
//   - Export/user: every event of u_export as actor or target from
//     Postgres, oldest first, in pages of trail.MaxLimit, encoded as JSON
//     lines, as `otelaudit export --user` does; one export per
//     operation. The table's own count must be 10,000 and every export
//     must return them all, each once.
//
// The seeded databases are named after the row count and kept between
// runs (each round of scripts/bench.sh uses the same throwaway servers),
// so only the first round pays for the seed.
//
// # Memory
//
// The scenarios that report memory (the inserts' exporter and export_only,
// Delivery/fullspeed_postgres) run in a child process: this test binary
// run again (see fullspeed_child_test.go), doing nothing but the
// scenario. peak_rss_MiB is the child's peak resident set size, VmHWM read
// from /proc/<pid>/status once it has reported and before it exits: a
// fresh process, so nothing an earlier scenario allocated counts.
// peak_live_heap_MiB is the largest live heap a garbage collection left
// in the child (runtime/metrics /gc/heap/live:bytes, sampled every 2 ms):
// marked objects only, no garbage waiting to be swept.
//
// With OTELAUDIT_BENCH_PROFILE_DIR set to a directory, each child also
// writes a CPU profile and an allocation profile of its scenario there
// (<scenario>.cpu.pprof, <scenario>.allocs.pprof; read them with go tool
// pprof and the test binary): where the time of the inserts' whole path
// and export_only goes.
package bench
