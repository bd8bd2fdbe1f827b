// Package postgreslog is an OpenTelemetry SDK log exporter
// (go.opentelemetry.io/otel/sdk/log.Exporter) that writes audit records into
// the Postgres audit table of schema/pgschema with COPY, exactly once per
// event.
//
//	opts := pgschema.Options{WriterRole: "audit_writer"}
//	_, err := pgschema.Migrate(ctx, ownerPool, opts) // once, at deploy or start, as the table's owner
//	exp, err := postgreslog.Open(ctx, "postgres://billing@db/app", postgreslog.WithSchema(opts))
//	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
//	auditor := bridge.New(bridge.WithLoggerProvider(provider))
//
// [Open] opens a pool of its own and closes it at Shutdown; [New] takes a
// *pgxpool.Pool and never closes it. The journal (exporter/journal) in
// place of the BatchProcessor makes delivery durable.
//
// Records are mapped to rows by the shared mapping, exporter/auditrow; this
// package only encodes the rows for Postgres and writes them.
// [Exporter.ExportRecords] takes records that are not SDK records (an
// auditrow.Records: the Collector exporter, exporter/otelauditexporter,
// hands it OTLP records) and writes them as Export does.
//
// A [TxWriter] writes audit events inside the caller's own transaction
// instead, so that a change and its audit row commit or roll back
// together; see "In the caller's transaction".
//
// # Columns
//
//	Column          Row field (auditrow)   Encoding
//	--------------  ---------------------  ---------------------------------------------------
//	created_at      Time                   timestamptz, microseconds (rounded down)
//	event_id        EventID                uuid
//	action          Action                 text
//	outcome         Outcome                text, "success" or "failure"
//	error_type      ErrorType              text, NULL when empty (so are the other text columns)
//	user_id         UserID                 text
//	user_name       UserName               text
//	workspace_id    WorkspaceID            text
//	ip_address      ClientIP               inet, NULL when absent or not an IP
//	user_agent      UserAgent              text
//	session_id      SessionID              text
//	resource        ResourceType           text
//	resource_id     ResourceID             text
//	details         Details                jsonb, NULL when absent; structure and types kept
//	previous_value  Previous               jsonb
//	new_value       New                    jsonb
//	attributes      AttributesJSON         jsonb object of every attribute outside the contract
//	trace_id        TraceID                text, 32 lower-case hex digits; NULL when invalid
//	span_id         SpanID                 text, 16 lower-case hex digits; NULL when invalid
//	service_name    ServiceName            text (resource attribute service.name)
//	sanitized       Sanitized              text[] of "field:change" markers, NULL when none
//	observed_at     ObservedTime           timestamptz, NULL when absent
//	ingested_at     -                      the table's default, now()
//	arrival         -                      the table's default, the writing transaction's id (followers)
//
// Trace and span ids are hex text rather than bytea: 17 more bytes a row,
// but they read and compare as every tracing tool prints them (WHERE
// trace_id = '4bf92f3577b34da6a3ce929d0e0e4736'), which is how the rows are
// joined to traces.
//
// Rows are sent in COPY's binary format, encoded straight from the row
// into a buffer, without []any values or per-value allocations.
//
// # Configuration
//
// Options given in code win over environment variables, which win over
// the defaults, as for the OTLP exporters; New, Open and NewTxWriter read:
//
//	OTELAUDIT_POSTGRES_DSN                     Open's dsn when the argument is ""
//	OTELAUDIT_POSTGRES_SCHEMA                  WithSchema: Schema (default public)
//	OTELAUDIT_POSTGRES_TABLE                   WithSchema: Table (default audit_logs)
//	OTELAUDIT_POSTGRES_MAX_COPY_BYTES          WithMaxCopyBytes (bytes; "8MiB")
//	OTELAUDIT_POSTGRES_WRITERS                 WithWriters (default 2)
//	OTELAUDIT_POSTGRES_RETRY_ENABLED           WithRetry: Enabled ("true" or "false"; default true)
//	OTELAUDIT_POSTGRES_RETRY_INITIAL_INTERVAL  WithRetry: InitialInterval (milliseconds, or a Go duration: "50ms")
//	OTELAUDIT_POSTGRES_RETRY_MAX_INTERVAL      WithRetry: MaxInterval
//	OTELAUDIT_POSTGRES_RETRY_MAX_ELAPSED_TIME  WithRetry: MaxElapsedTime
//
// An unset or empty variable means the default; a value that cannot be
// used makes the constructor fail, naming the variable. The module's
// README lists the variables of every package in one table.
//
// # What happens to each record
//
// Every record given to Export ends in exactly one outcome of
// [Exporter.Stats] (auditrow.ExportStats, the vocabulary every exporter of
// this module shares):
//
//	Written        stored now
//	AlreadyStored  stored before (same created_at and event id); not stored again
//	Rejected       never stored, by reason, see below
//	Failed         not confirmed stored: Export returned an error; exporting it again is safe
//
// Values the mapping can repair (NUL bytes, invalid UTF-8, oversized or too
// deeply nested values, NaN and infinities, an IP that is not an IP, a
// missing or malformed event id...) are stored repaired, with markers in
// the sanitized column, and counted in Sanitized; the auditrow package
// documents each case. Records are rejected, counted under their reason
// (auditrow's Reason constants) and reported as a [*RejectError] to the
// error handler (non-audit records excepted: those are only counted) and
// to the reject hook of the Export's context
// (auditrow.ContextWithRejectHook), before Export returns:
//
//	non_audit            not an audit record (EventName not "audit.*"); unless
//	                     WithMapping(auditrow.Options{IncludeNonAudit: true})
//	invalid_action       "audit." followed by an invalid action name
//	time_out_of_range    a time before year 1 or after year 9999; or a time
//	                     whose partition does not exist and is outside the
//	                     window in which the table's partition function
//	                     creates partitions (pgschema.Options.Back, Ahead)
//	refused_by_server    Postgres refused the row itself (a data exception,
//	                     class 22; a constraint, class 23; a limit such as an
//	                     index entry over 2704 bytes, class 54)
//
// A rejected record never costs the others of its batch: rows Postgres
// refuses are found by bisecting the COPY (a batch with one bad row is
// written in about 2 log2(n) statements), and everything else is written.
//
// When the context given to Export ends while a statement is in flight,
// the statement's outcome is unknown (the server may commit it after the
// client has gone); its records count as Failed, and exporting them again
// stores whichever are missing.
//
// # Metrics
//
// The Exporter records the OpenTelemetry metrics documented in the auditrow
// package (records by outcome and rejection reason, retries, Export
// duration) with the attribute otelaudit.exporter = "postgreslog", from
// the MeterProvider of [WithMeterProvider] (otel.GetMeterProvider() by
// default). They count what Stats counts, at no cost per stored row.
//
// # Exactly once
//
// The primary key of the table is (created_at, event_id), and a record
// always maps to the same pair: its event id (a UUIDv7 set by the bridge, or
// derived by auditrow from the record's content) and its time. Each share
// of a batch (see "Several writers") is sent with one COPY straight into
// the table: the fast path, as fast as COPY goes. When that COPY fails with a unique violation (the batch, or
// part of it, was written before: a re-export, a retry upstream, a record
// given twice) the rows go instead through a temporary staging table and
// INSERT ... SELECT ... ON CONFLICT DO NOTHING, which stores the new ones
// and counts the others as AlreadyStored. Exporting the same records twice, or
// retrying after a commit whose acknowledgement was lost, therefore leaves
// one row per event.
//
// # Several writers
//
// One connection leaves most of a server's CPUs idle: a COPY is parsed,
// checked and indexed by one backend, and an Export waits for its commit.
// So an Export is written on up to [WithWriters] connections at once (2
// by default): its records are split into that many consecutive shares of
// about equal size, none under 512 records (a smaller batch is written on
// fewer connections, down to one), and each share is mapped, encoded and
// copied by a writer of its own, on a goroutine that ends before Export
// returns, exactly as a batch of one writer is (lazy encoding, chunks of
// [WithMaxCopyBytes], the staging table, retries, bisection, partitions).
// Consecutive shares keep the rows of one partition together, as the
// records arrive in time order.
//
// Each share commits on its own. Export returns nil only when every share
// is written; when one fails, the others are still written, and Export
// returns the error of the failed one, counting only its records as Failed.
// Exporting the batch again, as the journal does, writes what is missing
// and counts the rest as AlreadyStored, whichever shares had committed:
// the exactly-once rule above holds per row, not per COPY. A record given
// twice in one batch may fall in two shares: the second COPY to reach the
// row waits for the first one's transaction, then goes through the staging
// table (or, when the two wait for each other, Postgres aborts one as a
// deadlock, 40P01, and it is retried that way). Rejections are reported
// one at a time, as with one writer: the calls of an Export's reject hook
// never overlap, though they come from several goroutines.
//
// A share that needs a partition created waits for the COPYs of the other
// shares in flight, which hold a lock on the table that creating a
// partition conflicts with (a wait beyond the partition function's lock
// timeout is retried). An Export holds up to WithWriters connections of the
// pool; a pool with fewer makes the writers take turns.
//
// Uniqueness is per (created_at, event_id): Postgres cannot enforce a
// unique event id across partitions. Two records that share an id but not
// a time are two rows; the bridge never makes them.
//
// # Retries
//
// Transient errors are retried with capped exponential backoff and jitter
// ([WithRetry]; by default from 50ms up to 5s between attempts, for at most a
// minute), within the deadline of the context given to Export: connection
// errors (resets, EOF, timeouts that are not the context's), SQLSTATE class
// 08, 53 (insufficient resources), 40001 (serialization failure), 40P01
// (deadlock), 55P03 (a lock not granted in time, such as the partition
// function's), 57014 (statement timeout), 57P01-57P03 (shutdown,
// pg_terminate_backend). A retry after an error that may have come after
// the server had the rows goes through the staging table. Other errors (a
// missing table or function, a missing privilege, a closed pool) are not
// retried: Export returns them at once. WithRetry(RetryConfig{}) turns
// retries off: a transient error fails the records of its COPY at once,
// for a caller that retries on its own (the journal does); exporting them
// again is safe.
//
// # Partitions
//
// A row needs its partition. The exporter keeps the ranges of the
// partitions it knows exist (read from the partition registry at its first
// Export). Rows of a range it does not know are held back from the batch's
// COPY; after it, the exporter calls the table's partition function
// (pgschema.EnsurePartitions: the partition and the one after it, created
// unless they exist, as the table's owner) and then writes them. When
// retention has dropped a partition the exporter still believed in, the
// insert fails, the exporter forgets what it knew, ensures the partitions
// again and retries.
//
// The partition function creates partitions only in a window around the
// current time (pgschema.Options.Back and Ahead; by default a year back).
// A record whose partition does not exist and is outside the window is
// rejected, reason time_out_of_range (errors.Is [ErrTimeOutOfRange]), and
// the rest of its batch is written: a far-dated record can neither make
// the table grow partitions without end nor block the pipeline. Behind a
// journal, such records go to its dead-letter file; migrate with a larger
// Back and export them again to store them. A relation that has the name of
// a record's partition but is not that partition fails the record's chunk
// with the function's error (SQLSTATE 55000): the table needs its owner.
//
// # Append-only, the writer role, retention
//
// The table refuses UPDATE, DELETE and TRUNCATE (schema/pgschema). The
// exporter needs only what the writer role of pgschema.Options.WriterRole
// has: INSERT on the table (COPY and INSERT ... ON CONFLICT DO NOTHING
// without a conflict target need nothing more), EXECUTE on the partition
// function, SELECT on the partition registry, and TEMPORARY on the database
// for the staging table. Run the exporter as that role and the services
// can add audit rows but never read, change or remove one, nor make
// partitions outside the window (schema/pgschema, "Roles", says exactly
// what the role can do). Retention (pgschema.DropPartitionsBefore) drops
// whole partitions, as the table's owner, never through the exporter.
//
// # In the caller's transaction
//
// A data deletion, a permission change, an admin action: a [TxWriter]
// writes the audit row in the transaction that makes the change, so that
// both commit, or neither. It takes any pgx.Tx: one begun on a *pgx.Conn,
// on a pgxpool.Pool, or a savepoint of either (tx.Begin).
//
//	w, err := postgreslog.NewTxWriter(pool, postgreslog.WithServiceName("documents"))
//	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
//		if _, err := tx.Exec(ctx, `DELETE FROM documents WHERE id = $1`, id); err != nil {
//			return err
//		}
//		_, err := w.Record(ctx, tx, otelaudit.Event{Action: otelaudit.ActionDataDeleteCompleted, ...})
//		return err
//	})
//
// The row is the one the bridge and the Exporter make of the same event.
// Write fills in what bridge.Auditor.Record fills in (a UUIDv7 id, the
// time of the call, the client fields of ctx), takes the trace and span
// ids from ctx as the SDK does, sets observed_at to the time of the call,
// and takes service_name from [WithServiceName] (by default the SDK's
// default resource, as a LoggerProvider without WithResource does); then
// the same mapping ([WithMapping]) and the same column rules apply. The
// values travel as text parameters of an INSERT, which works in every pgx
// query execution mode, the simple protocol (PgBouncer) included.
//
// Exactly once: each row is inserted with INSERT ... ON CONFLICT DO
// NOTHING, so an event stored already (by another transaction, by the
// Exporter, or earlier in the same transaction) is skipped, never a
// unique violation, and [TxResult].Written says which happened. An insert
// that meets the same event written by a transaction still open waits for
// that transaction to end. Under REPEATABLE READ or SERIALIZABLE, meeting
// one committed after the transaction's snapshot is a serialization
// failure (40001): roll back and retry, as for any. The events of one
// Write are inserted in key order, so transactions writing the same
// events at once do not deadlock on each other; spread over several Write
// calls they can (Postgres then aborts one, 40P01).
//
// Errors: an event the mapping refuses (an invalid action), or whose time
// is outside years 1 to 9999, makes Write return a [*RejectError]
// (errors.Is: [ErrRejected], and auditrow.ErrInvalidAction or
// [ErrTimeOutOfRange]) before anything is sent: nothing of the call is
// written, and the transaction is untouched. Any other error comes from
// the database; when a statement failed inside the transaction, Postgres
// has aborted it: roll it back, or write through a savepoint to keep the
// outer transaction going.
//
// Partitions: the TxWriter keeps the ranges of the partitions it knows
// exist (read from the registry, in the caller's transaction, at its
// first Write). Before inserting anything, Write creates the missing
// partitions of its events, with the next one each, through the pool
// given to [NewTxWriter]: the partition function runs in a transaction of
// its own, and its locks (on the partition registry, and SHARE UPDATE
// EXCLUSIVE on the table while it attaches the partition) are released
// when it returns; the caller's transaction never holds them. One case
// differs: when the caller's transaction holds a lock on the audit table
// already (it wrote audit rows in an earlier Write), the partition is
// created inside the transaction (in a savepoint), which then holds those
// locks until it ends: other creations of partitions, and retention, wait
// for it (at most their lock timeouts); inserts and reads do not. Giving a
// transaction's events to one Write avoids it. New partitions are rare:
// those of the present exist already (Migrate creates them ahead, and
// every creation adds the next one), so only events months in the past,
// or the first after months without any, need one. An event whose
// partition is missing and outside the partition function's window is
// refused like an event of year 10000: Write returns a [*RejectError]
// (reason time_out_of_range) before anything is inserted, and tx is as it
// was.
//
// The pool must be able to lend a connection while the caller's
// transaction holds one: when all its connections run transactions, the
// creation waits for one until ctx ends. A small pool of the TxWriter's
// own (MaxConns 2) rules that out. When
// retention has dropped a partition the TxWriter believed in, the insert
// fails (23514, no partition for the row), the transaction is aborted,
// the TxWriter forgets what it knew, and a retry creates the partition
// again.
//
// The writer role is enough: INSERT on the table, EXECUTE on the
// partition function, SELECT on the registry; no TEMPORARY privilege.
//
// # Batches and memory
//
// Export maps and encodes the rows while the COPY sends them, so mapping
// overlaps with the server's work. The encoded rows are kept until the
// statement succeeds (for retries), in chunks of at most WithMaxCopyBytes
// (8 MiB by default): a larger batch is written as several COPY statements,
// each its own transaction. The export batch size itself is the
// processor's (sdklog.WithExportMaxBatchSize); 4096 to 16384 records per
// batch keep COPY near its best.
package postgreslog
