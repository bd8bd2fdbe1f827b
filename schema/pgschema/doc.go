// Package pgschema is the Postgres schema of the audit trail: versioned
// migrations of the audit_logs table, embedded with go:embed and applied by
// [Migrate] (and by the CLI), its time partitions, its append-only rules,
// the writer role, and retention.
//
// The package is named pgschema, after its folder, like its ClickHouse
// counterpart schema/chschema: short, and clear of the names of the
// drivers' packages (pgx, pgxpool, pgconn) and of the exporter
// (exporter/postgreslog) in the code that uses them together.
//
// The statements live in .sql files under sql/. They are templates whose
// only inputs are the names in [Options], validated (lower-case letters,
// digits, underscores) and rendered quoted, and the partition interval.
//
// # Migrations
//
// [Migrate] applies the migrations of [Migrations] in version order:
//
//	0001_audit_logs         the table, its indexes, the partition registry
//	0002_append_only        the triggers that refuse UPDATE, DELETE, TRUNCATE
//	0003_partition_functions  <table>_ensure_partitions, <table>_drop_partitions_before
//
// It holds a session advisory lock for the whole run, so services that start
// at once do not race: one applies, the others wait and find nothing to do.
// Each migration runs in its own transaction together with its row in
// <table>_schema_migrations (version, name, checksum, applied_at), so a failed
// migration leaves the previous version in place. Re-running is a no-op; a
// recorded migration whose checksum differs from the one the code would
// apply (the options changed, or a released migration was edited) stops the
// run with [ErrChecksumMismatch]. Migrations are never edited once released:
// changes come as new versions.
//
// # The table
//
//	Column          Type         From (auditrow.Row)                 Notes
//	--------------  -----------  ----------------------------------  ------------------------------------
//	created_at      timestamptz  Time                                partition key; microseconds
//	event_id        uuid         EventID                             (created_at, event_id) is the primary key
//	action          text         Action                              "login", "invoice.refunded"
//	outcome         text         Outcome                             'success' or 'failure' (CHECK)
//	error_type      text         ErrorType
//	user_id         text         UserID
//	user_name       text         UserName
//	workspace_id    text         WorkspaceID
//	ip_address      inet         ClientIP                            NULL when absent or not an IP
//	user_agent      text         UserAgent
//	session_id      text         SessionID
//	resource        text         ResourceType
//	resource_id     text         ResourceID
//	details         jsonb        Details                             structure kept
//	previous_value  jsonb        Previous
//	new_value       jsonb        New
//	attributes      jsonb        AttributesJSON                      every other attribute, typed
//	trace_id        text         TraceID                             32 lower-case hex digits
//	span_id         text         SpanID                              16 lower-case hex digits
//	service_name    text         ServiceName
//	sanitized       text[]       Sanitized                           what the mapping changed, NULL if nothing
//	observed_at     timestamptz  ObservedTime
//	ingested_at     timestamptz  (default now())                     when the row was written
//
// Writers fill the columns of [Columns] in that order; [Writer] renders
// their statements. Empty strings and absent values are NULL.
//
// # Query paths
//
// Each of the four query paths has an index that ends with created_at, so
// "the latest N events of X" is a backward index scan of each partition,
// merged across partitions, with no sort:
//
//	by time       PRIMARY KEY (created_at, event_id)
//	by workspace  (workspace_id, created_at) WHERE workspace_id IS NOT NULL
//	by user       (user_id, created_at)      WHERE user_id IS NOT NULL
//	by action     (action, created_at)
//
// # Partitions
//
// The table is partitioned by range of created_at: monthly by default
// (<table>_pYYYYMM), or daily (<table>_pYYYYMMDD), in UTC whatever the
// session's TimeZone (the partition functions set their own). There is no
// DEFAULT partition: a row must find its partition, and partitions are
// created before they are needed. [Migrate] creates the current partition
// and [Options.Ahead] after it; writers (the Postgres exporter) call
// [EnsurePartitions] for any time they have not seen covered yet, so an
// insert never fails for a missing partition, whatever the time of the
// event. Creation is done by the SQL function <table>_ensure_partitions,
// SECURITY DEFINER (it runs as the owner, so an INSERT-only writer can call
// it), serialized by an advisory lock, idempotent, and recorded in the
// registry table <table>_partitions (name, lo, hi).
//
// # Append-only
//
// A BEFORE UPDATE OR DELETE row trigger (cloned by Postgres onto every
// partition) and a BEFORE TRUNCATE statement trigger (on the table and, added
// by the partition function, on every partition) raise SQLSTATE 42501
// (insufficient_privilege) "audit rows are append-only", for every role,
// the owner included.
//
// Rows leave the table only with whole partitions: [DropPartitionsBefore]
// (the SQL function <table>_drop_partitions_before) drops the partitions
// whose rows are all older than a cutoff. DROP (and ALTER TABLE ... DETACH
// PARTITION) fire no row or TRUNCATE trigger. Only the owner, the role that
// ran Migrate, or a superuser may drop partitions. The owner can also
// disable the triggers: the rules protect the rows from the application,
// not from the database's owner, whose credentials belong with the
// migration job, not with the services.
//
// # The writer role
//
// With [Options.WriterRole] set, Migrate creates that role (NOLOGIN) if it
// does not exist and grants it exactly what the exporter needs: USAGE on the
// schema, INSERT on the table (enough for COPY and for INSERT ... ON
// CONFLICT DO NOTHING without a conflict target), EXECUTE on
// <table>_ensure_partitions and SELECT on the partition registry. It cannot
// read, update, delete or truncate audit rows, nor create or drop
// partitions itself. Grant it to the services' login role:
//
//	GRANT audit_writer TO billing_service;
//
// The exporter's duplicate handling uses a temporary table, which needs the
// TEMPORARY privilege on the database (PUBLIC has it unless revoked).
//
// # Retention
//
// Schedule [DropPartitionsBefore] (or, with pg_cron,
// SELECT * FROM audit_logs_drop_partitions_before(now() - interval '13 months'))
// as the owner. A partition is dropped only once its upper bound is at or
// before the cutoff, so retention keeps up to one interval more than the
// cutoff. Creating or dropping a partition takes an ACCESS EXCLUSIVE lock
// on the table for a moment: inserts wait for it, they do not fail. An
// event older than the retention that arrives late re-creates its
// partition; the next retention run drops it again.
package pgschema
