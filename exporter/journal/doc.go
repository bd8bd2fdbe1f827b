// Package journal is an sdk/log Processor that makes audit records durable
// before any database sees them: OnEmit appends the record to a journal on
// local disk and returns, and background loops deliver the journal to each
// exporter (Postgres, ClickHouse, any sdk/log Exporter), marking records done
// only once the exporter confirms them.
//
//	proc, err := journal.New("/var/lib/myservice/audit", []journal.Target{
//		{Name: "postgres", Exporter: pgExporter},
//		{Name: "clickhouse", Exporter: chExporter},
//	})
//	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc), sdklog.WithResource(res),
//		sdklog.WithAllowKeyDuplication())
//
// It replaces the SDK's BatchProcessor, which keeps records in memory and
// overwrites the oldest ones when its queue is full: a burst, a slow database
// or a crash lose events there without a trace. Here a record is either
// journaled, or refused with a counted reason that reaches the error handler
// and, for a caller that waits, the caller.
//
// # Guarantees
//
// Every record OnEmit accepts is delivered to every target, exactly once in
// the store when the exporter is idempotent by event id (postgreslog and
// clickhouselog are), or dead-lettered with the reason. This holds across
// database outages of any length (delivery retries, with capped backoff and
// no time limit, while the journal has room), across restarts (what no
// exporter confirmed is delivered by the next Processor on the directory;
// records confirmed shortly before the stop may be delivered again, which
// the stores skip), and across a process crash, within the sync policy:
//
//   - [SyncInterval] (the default, every [DefaultSyncInterval]): OnEmit
//     does not wait for the disk. Appended records wait in memory until
//     the writer hands them to the operating system, within about a
//     millisecond, so a process crash (kill -9, a panic, an OOM kill) loses
//     the records still waiting: at most 4096, those of the last
//     millisecond at a steady rate, up to the last 10 to 20 ms when the
//     emitters run flat out or the writer is starved of CPU (measured on
//     two busy cores). A machine crash (power loss, kernel panic) loses at
//     most the records of the last interval as well.
//   - [SyncEach]: OnEmit returns once its record is fsynced (concurrent
//     emits share one fsync). Nothing whose emit returned is lost.
//   - [SyncNone]: fsyncs are left to the operating system; a machine crash
//     may lose its write-back delay.
//
// A caller can ask for more than the policy on a single record: with an
// [otelaudit.Receipt] in the context (bridge.Auditor.RecordSync), OnEmit
// waits until that record is fsynced, or until the context ends, and
// settles the receipt with the outcome.
//
// What the journal refuses, it counts in [Stats.Dropped] by reason and
// reports to the error handler as a [*DropError] (summed: at most one report
// per reason and second): the size cap reached under [RefuseWhenFull]
// ("journal_full"), a write buffer that stayed full ("write_stalled"), a
// record over the size limit ("too_large"), an invalid audit action
// ("invalid_action"), and records emitted after Shutdown ("shutdown").
// Records that are not audit records (EventName not "audit.*") are left to
// other processors and counted in Stats.Skipped.
//
// # Delivery
//
// Each target has its own cursor, saved in the directory, so a slow or dead
// store never holds back another: each reads the journal at its own pace,
// in batches ([WithBatch]), and a segment file is deleted once every target
// has confirmed all of it. A failed Export is retried with the same batch,
// with jittered exponential backoff ([WithRetry]) and a deadline per call
// ([WithExportTimeout]); the error handler hears of it at most once a
// second per target.
//
// Records an exporter refuses for their content (the postgreslog and
// clickhouselog exporters report them through
// auditrow.ContextWithRejectHook), and records of a batch that fails with an
// error wrapping [ErrPermanent] (the batch is halved until the failing
// record is alone), are written to the target's dead-letter file,
// <dir>/deadletter/<target>.jsonl, one [DeadLetter] per line with the reason
// and the whole record, counted in TargetStats.DeadLettered and reported.
// They are not retried.
//
// # Configuration
//
// Options given in code win over environment variables, which win over
// the defaults, as for the OTLP exporters; New reads:
//
//	OTELAUDIT_JOURNAL_DIR                     New's dir when the argument is ""
//	OTELAUDIT_JOURNAL_SYNC                    WithSync: "interval" (default), "each" or "none"
//	OTELAUDIT_JOURNAL_SYNC_INTERVAL           WithSync(SyncInterval(d)) (milliseconds, or a Go duration: "50ms")
//	OTELAUDIT_JOURNAL_MAX_BYTES               WithMaxBytes: the size cap (bytes; "1GiB")
//	OTELAUDIT_JOURNAL_FULL_WAIT               WithFullPolicy(WaitWhenFull(d)); unset: RefuseWhenFull
//	OTELAUDIT_JOURNAL_SEGMENT_BYTES           WithSegmentBytes
//	OTELAUDIT_JOURNAL_MAX_RECORD_BYTES        WithMaxRecordBytes
//	OTELAUDIT_JOURNAL_WRITE_BUFFER_BYTES      WithWriteBuffer: bytes
//	OTELAUDIT_JOURNAL_WRITE_STALL_TIMEOUT     WithWriteBuffer: stall
//	OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_SIZE   WithBatch: records
//	OTELAUDIT_JOURNAL_MAX_EXPORT_BATCH_BYTES  WithBatch: bytes
//	OTELAUDIT_JOURNAL_EXPORT_TIMEOUT          WithExportTimeout
//	OTELAUDIT_JOURNAL_RETRY_INITIAL_INTERVAL  WithRetry: initial
//	OTELAUDIT_JOURNAL_RETRY_MAX_INTERVAL      WithRetry: maxInterval
//	OTELAUDIT_JOURNAL_INCLUDE_NON_AUDIT       WithIncludeNonAudit ("true" or "false")
//
// An unset or empty variable means the default; a value that cannot be
// used makes New fail, naming the variable. The module's README lists the
// variables of every package in one table.
//
// The exporters' retries can be turned off (their RetryConfig has
// Enabled, as the OTLP exporters' does); the journal's cannot: it retries
// a failed batch until it is delivered, for that is its guarantee, so
// [WithRetry] shapes only the backoff between attempts.
//
// # On disk
//
// The directory holds segment files (NNNNNNNNNNNNNNNNNNNN.seg, at most
// [WithSegmentBytes] each), one cursor file per target under cursors/, the
// dead-letter files, and a LOCK file that keeps a second Processor out. Each
// segment starts with a checksummed header; each entry is framed with a
// marker, its length and a CRC-32C. Recovery keeps every complete entry: a
// torn last write, or damaged bytes anywhere, cost only the entries they
// touch, which are counted in Stats.Damaged (and DamagedBytes) and
// reported. Records are encoded once, by the writer, in a compact binary form
// that keeps everything the SDK record holds (body, severity, attributes of
// every type and nesting, trace context, resource and instrumentation
// scope), and are rebuilt as sdk/log Records for a target that reads them
// back from the file.
//
// OnEmit itself only clones the record into a bounded queue (as the SDK's
// BatchProcessor does); the writer goroutine encodes the queued records,
// once, and writes them. The last records written also stay in memory, in a
// ring of a few thousand: a target that keeps up takes them from there and
// never decodes; one that falls behind (a slow store, a restart) reads the
// files.
//
// The journal was written for this package rather than taken from a
// library: go.etcd.io/bbolt commits through a B+tree and fsyncs per
// transaction, so an append costs microseconds and a lock for every caller;
// github.com/tidwall/wal and nsq's go-diskqueue keep one reader position, not
// one per exporter, and refuse to open, or drop the rest of a file, after a
// damaged entry. Appending here is a clone into a queue under a mutex.
//
// # Metrics
//
// Through the OpenTelemetry metrics API ([WithMeterProvider], default the
// global provider): records accepted, skipped and dropped by reason
// ([MetricRecords]); records delivered and dead-lettered per target
// ([MetricDelivered]); retried exports ([MetricRetries]); export duration
// ([MetricExportDuration]); journal size ([MetricSize]); backlog per target
// ([MetricBacklog]); age of the oldest unconfirmed record per target
// ([MetricOldestAge]); damaged stretches ([MetricDamaged]). [Processor.Stats]
// returns the same figures.
//
// # Shutdown
//
// Shutdown refuses new records, fsyncs the journal, delivers what is left
// until every target has confirmed it, its context ends, or the only
// targets left are failing (a store that is down does not hold the process
// up), then shuts the exporters down. Its error names each target that has records left, and
// how many bytes: they stay in the journal for the next start. ForceFlush
// waits until every record appended before it is fsynced and confirmed by
// every target.
package journal
