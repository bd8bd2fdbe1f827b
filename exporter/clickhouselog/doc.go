// Package clickhouselog is an OpenTelemetry SDK log exporter
// (go.opentelemetry.io/otel/sdk/log.Exporter) that writes audit records
// into the ClickHouse audit table of schema/chschema over
// clickhouse-go/v2's native protocol.
//
// # Quick start
//
//	opts := chschema.Options{Database: "audit"}
//	layout, err := chschema.Migrate(ctx, conn, opts) // once, at deploy or start
//	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
//	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(
//		sdklog.NewBatchProcessor(exp, sdklog.WithExportMaxBatchSize(10_000), sdklog.WithMaxQueueSize(100_000))))
//
// [New] takes a clickhouse-go driver.Conn and never closes it; [Open]
// takes a DSN (clickhouse://user:password@host:9000/audit), opens a
// connection of its own and closes it at Shutdown. ClickHouse wants few
// large inserts: give the BatchProcessor a batch size in the thousands
// (its default, 512, works but makes many small parts), or put the
// journal (exporter/journal) in front, which delivers in batches of its
// own.
//
// # Configuration
//
// Options given in code win over environment variables, which win over
// the defaults, as for the OTLP exporters; New and Open read:
//
//	OTELAUDIT_CLICKHOUSE_DSN                     Open's dsn when the argument is ""
//	OTELAUDIT_CLICKHOUSE_DATABASE                WithSchema: Database (default: Open's DSN's, else "default")
//	OTELAUDIT_CLICKHOUSE_TABLE                   WithSchema: Table (default audit_logs)
//	OTELAUDIT_CLICKHOUSE_LAYOUT                  WithLayout: "auto", "compat" or "modern" (default auto: read from the table)
//	OTELAUDIT_CLICKHOUSE_RETRY_ENABLED           WithRetry: Enabled ("true" or "false"; default true)
//	OTELAUDIT_CLICKHOUSE_RETRY_INITIAL_INTERVAL  WithRetry: InitialInterval (milliseconds, or a Go duration: "50ms")
//	OTELAUDIT_CLICKHOUSE_RETRY_MAX_INTERVAL      WithRetry: MaxInterval
//	OTELAUDIT_CLICKHOUSE_RETRY_MAX_ELAPSED_TIME  WithRetry: MaxElapsedTime
//
// An unset or empty variable means the default; a value that cannot be
// used makes New or Open fail, naming the variable. The module's README
// lists the variables of every package in one table.
//
// # Columnar INSERTs, bounded in bytes, overlapped with the mapping
//
// Export maps the records through the shared mapping (exporter/auditrow)
// into one Go slice per column, appends each slice to a prepared INSERT
// once (batch.Column(i).Append; the array columns row by row, which
// takes the driver's typed path instead of reflection) and sends it: one
// round trip per INSERT, no per-row work on the wire. The strings a batch
// makes (JSON values, client addresses, trace and span ids) are copied
// into blocks of 64 KiB, not allocated one by one.
//
// The rows of one INSERT are bounded by [WithMaxInsertBytes] (16 MiB of
// values by default): once the mapped rows reach it they are sent, and
// the mapping goes on with the next records into a second buffer while
// the server writes the first. So when an Export needs several INSERTs,
// the server's work on one overlaps the mapping of the next. One INSERT is
// in flight at a time, written on a goroutine that the Export starts and
// waits for before it returns; an Export that fits in one INSERT starts
// none. (INSERTs of half the bound, for more overlap, were slower here:
// twice the INSERTs, and parts, cost the server more than the overlap
// saved on two busy cores.) The memory an Export holds beyond its records
// stays near four times that bound when it needs several INSERTs (the
// rows in flight with the driver's block, and the rows being mapped),
// whatever their size: 48 MiB of details raise the heap by about 28 MiB
// in INSERTs of 4 MiB, and by about 220 MiB in one INSERT (measured by
// TestExportHeapBoundedLive).
//
// The driver's String columns would start every INSERT empty and grow by
// doubling (about 1.8 GB of garbage per million typical rows). Instead,
// each gets buffers of the exact size its rows need before they are
// appended, taken back after Send and kept in a sync.Pool for the next
// INSERT: between Exports, up to one INSERT's worth of string memory
// (about the bound) may stay allocated until the garbage collector clears
// the pool. This reaches an unexported field of clickhouse-go's String
// column (v2.51.0), found by reflection with its type checked; should a
// driver version change it, the columns grow as before, and
// TestStringColumnsReused fails.
//
// Records the mapping refuses (not audit records, invalid action names) are counted by reason in
// [Exporter.Stats]().Rejected; those with an invalid action are also handed
// to the error handler as [*RejectError] (other logs sharing the pipeline
// are expected, and only counted). The rest of the batch goes on.
//
// # Column mapping
//
//	auditrow.Row       compat column (18.16+)             modern column (22+)
//	-----------------  ---------------------------------  ----------------------------
//	EventID            event_id UUID                      event_id UUID
//	Time               time DateTime + time_ns UInt32     time DateTime64(9, 'UTC')
//	Action             action String                      action LowCardinality(String)
//	WorkspaceID        workspace_id String                workspace_id String
//	UserID, UserName   user_id, user_name String          same
//	ClientIP           client_ip String (netip text, "" when none)
//	UserAgent          user_agent String                  LowCardinality(String)
//	SessionID          session_id String                  same
//	ResourceType, ID   resource_type, resource_id String  resource_type LowCardinality
//	Outcome            outcome Enum8('success'=1, 'failure'=2)
//	ErrorType          error_type String                  LowCardinality(String)
//	Details            details String (JSON text, "" when absent)
//	Previous, New      previous_value, new_value String (JSON text)
//	Attrs              attr_keys, attr_values             attributes Map(String, String)
//	                   Array(String), parallel
//	TraceID, SpanID    trace_id, span_id String (lower-case hex, "" when invalid)
//	ServiceName        service_name String                LowCardinality(String)
//	Sanitized          sanitized Array(String)            Array(LowCardinality(String))
//
// A time the column cannot hold (compat: before 1970 or after 2105; modern:
// before 1900 or after 2262-04-11) is clamped to the nearest end and marked
// "time:out_of_range" ([ChangeTimeOutOfRange]) in sanitized.
//
// # Retries and exactly-once
//
// A transient failure (network error, timeout, server overload, too many
// parts, read-only replica, no replica of a Distributed table's shard
// reachable) is retried with capped exponential backoff and
// jitter ([WithRetry]; by default from 50ms up to 5s between attempts, for
// at most a minute), within the Export context's deadline; a sent or
// failed batch is never reused: every attempt builds a new INSERT.
// WithRetry(RetryConfig{}) turns retries off: a transient failure fails
// the batch at once, for a caller that retries on its own (the journal
// does); exporting it again is safe.
//
// A failure after the data went out is ambiguous: the server may have
// written the rows before the answer was lost. Before sending such rows
// again, the Exporter looks up which of their event ids are already in the
// table (one query per 2,000 ids, bounded by the rows' time range: exact
// DateTime64(9) bounds on the modern layout, chschema.TimeRange) and sends
// only the others; those it finds are counted in Stats().AlreadyStored, not
// in Written. So a retried batch neither duplicates rows nor inflates the
// daily rollup.
//
// Copies can still reach the table from outside one Export: the same
// record exported twice (a Collector retry, a replayed journal), or a write
// the server completes after the lookup. [WithStoredCheck] makes every
// Export look its events up before the first insert, for callers that
// give records again after failures the Exporter did not see (the
// Collector exporter, exporter/otelauditexporter, turns it on);
// [Exporter.ExportRecords] takes such callers' records, which are not SDK
// records (an auditrow.Records). The table is a ReplacingMergeTree
// whose sort key ends in event_id, so such copies collapse when parts merge,
// keeping the first stored (see schema/chschema: a later insert of the
// same id with other values does not replace it).
// Until then, analysts count with uniqExact(event_id), list with
// LIMIT 1 BY event_id, or read FROM audit_logs FINAL (exact, slower); the
// query pack in schema/chschema does the first two. The rollup counts
// inserted rows: a copy inserted from outside adds one there until the
// rollup is rebuilt (see schema/chschema).
//
// # Batches the server cannot hold
//
// When the server refuses an INSERT for its size (memory limit exceeded,
// code 241 or 173; or, as ClickHouse 18.16 does when a block exceeds
// max_memory_usage, it closes the connection while the block is being
// written), the Exporter sends each half on its own, recursively, each
// half first looking up which of its rows the server stored (it may have
// written some months' parts before it gave up). A single row refused so
// is retried as a transient failure. So one oversized record costs the
// others of its batch nothing.
//
// # Rows the server refuses
//
// When the server refuses a batch for its data (a parse or type error, a
// constraint, more months in one INSERT than max_partitions_per_insert_block
// allows), the Exporter bisects: it sends each half on its own, recursively,
// until the refused rows stand alone. Every other row is written; each
// refused row is counted in Stats().Rejected["refused_by_server"] and
// reported, with its event id, as a [*RejectError] with Reason
// auditrow.ReasonRefusedByServer.
//
// # Errors, counters and metrics
//
// Every record given to Export ends in exactly one outcome of
// [Exporter.Stats] (auditrow.ExportStats, the vocabulary every exporter of
// this module shares): Written, AlreadyStored, Rejected (by reason) or
// Failed. Export returns an error only for rows it could not write: a
// permanent failure (missing table, authentication) or transient failures
// past the retry budget or the context's deadline. Those rows are counted
// in Failed. Every rejected record, of any reason, is also handed to the
// reject hook of the Export's context (auditrow.ContextWithRejectHook),
// before Export returns.
//
// The Exporter records the OpenTelemetry metrics documented in the
// auditrow package (records by outcome and rejection reason, retries,
// Export duration) with the attribute otelaudit.exporter =
// "clickhouselog", from the MeterProvider of [WithMeterProvider]
// (otel.GetMeterProvider() by default). They count what Stats counts, at
// no cost per stored row.
//
// After Shutdown, Export returns sdklog.ErrExporterShutdown. ForceFlush
// does nothing: the Exporter holds no records between calls. It starts no
// goroutines that outlive a call: an Export writes its chunks on one
// goroutine of its own, which ends before the Export returns (and Shutdown
// of an Exporter made by Open waits for the Export in flight on another,
// then closes the connection). It never closes a connection given to New.
//
// # Least privilege
//
// Run the Exporter as a user that may insert and nothing more: the writer
// role of chschema.WriterGrants on servers with SQL access control, or, on
// ClickHouse 18.16, the service user of the chschema.Ingest route, with
// WithSchema naming the ingest database (the Exporter inserts into its
// Distributed table and looks stored event ids up through it). Either way
// the service's credentials cannot change or remove a stored row.
//
// # Tested servers
//
// `make test` runs this package's live tests on ClickHouse 18.16 (compat
// layout; see internal/testenv/CLICKHOUSE_NOTES.md for what the driver
// needs there) and again on ClickHouse 26.5 (modern layout: DateTime64,
// Map, LowCardinality; chDB, the engine embedded as a library, through
// internal/chdbconn). The tests that open their own connection from a DSN
// (Open, the memory bound) use the 18.16 server in both runs: chDB has no
// network interface.
package clickhouselog
