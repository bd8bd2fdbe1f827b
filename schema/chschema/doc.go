// Package chschema is the ClickHouse side of otelaudit: versioned
// migrations for the audit table and its daily rollup, in two layouts
// chosen by the server's version, the analyst query pack, and the least
// privileges of the services that insert.
//
// The package is named chschema, after its folder, and not clickhouse, so
// that it does not collide with the driver's package
// (github.com/ClickHouse/clickhouse-go/v2) in the code that uses both; its
// Postgres counterpart is schema/pgschema.
//
// # Migrations
//
// [Migrate] creates the database when missing, then a migrations table
// (otelaudit_migrations: one row per audit table and version, with the
// layout and a checksum of the SQL), then runs each migration not yet
// recorded, in version order:
//
//	0001_audit_logs     the audit table
//	0002_daily_rollup   the daily rollup table and its materialized view
//
// Every statement is CREATE ... IF NOT EXISTS: running Migrate again finds
// every migration recorded and executes none, and two Migrates at once are
// harmless. The SQL is in embedded templates (migrations/*.sql) that see only
// validated identifiers: database, table and cluster names must match
// [A-Za-z_][A-Za-z0-9_]* and are always quoted; anything else is refused
// with [ErrInvalidOptions] before any SQL is built. [DDL] returns the same
// statements Migrate runs, for review and for the golden files in testdata/.
//
// # Layouts
//
// The layout is chosen once, when the table is created: from Options.Layout,
// or from SELECT version() ([LayoutForVersion]: 22.x and later are modern),
// and recorded in the migrations table; later runs keep the recorded layout
// even after a server upgrade.
//
//	                     LayoutCompat (18.16 and later)      LayoutModern (22.x and later)
//	-------------------  ----------------------------------  -------------------------------------
//	time                 time DateTime + time_ns UInt32      time DateTime64(9, 'UTC')
//	other attributes     attr_keys, attr_values Array(String) attributes Map(String, String)
//	low-cardinality      String                              LowCardinality(String): action,
//	  strings                                                  resource_type, error_type,
//	                                                           service_name, user_agent, sanitized
//	compression          the server's default (LZ4)          CODEC(Delta, ZSTD) on time,
//	                                                           ZSTD on strings and JSON
//	retention            DropPartitionsBefore, or            TTL time + TTLDays, ttl_only_drop_parts
//	                     DropExpiredPartitions (by month)
//	skipping indexes     none                                bloom_filter on user_id, resource_id,
//	                                                           client_ip
//
// Both layouts share the rest: event_id UUID; action, workspace_id, user_id,
// user_name, client_ip (the address's text form), user_agent, session_id,
// resource_type, resource_id; outcome Enum8('success' = 1, 'failure' = 2);
// error_type; details, previous_value and new_value as JSON text ("" when
// absent); trace_id and span_id as lower-case hex; service_name; sanitized
// (the mapping's "field:change" markers). The exporter's package
// documentation (exporter/clickhouselog) maps each column to its record
// field.
//
// `make test` runs the live tests on both: the compat layout on Debian's
// ClickHouse 18.16 (a server), the modern layout on ClickHouse 26.5 (chDB,
// the engine embedded as a library; see internal/chdbconn), with the same
// assertions. Golden files in testdata/ pin the DDL and queries of both.
//
// # Times
//
// The time column of the compat layout is a DateTime (whole seconds; the
// fraction is in time_ns); the modern layout's is a DateTime64(9, 'UTC').
// clickhouse-go binds a time.Time argument as toDateTime('...'), whole
// seconds; compared with a DateTime64 sort key, ClickHouse 26.5 prunes as
// if the range ended at that second, so a row at 12:00:00.001 is not found
// by time < toDateTime('12:00:01'). Everything that compares the modern
// time column therefore compares it with a DateTime64(9): the query
// pack's SQL wraps its time parameters in toDateTime64(@name, 9, 'UTC'),
// [TimeArg] binds a parameter at the layout's precision (nanoseconds on
// the modern layout), and [TimeRange] builds the exact range condition
// that the exporter and the seals read with.
//
// # Sort key, partitions and duplicates
//
// The audit table is a ReplacingMergeTree(ingest_version), PARTITION BY
// toYYYYMM(time), ORDER BY (workspace_id, action, time, event_id): tenant
// first, then action, then time, which is how the analyst questions filter.
// The sort key ends in event_id, so two copies of one event (same id, same
// row) collapse into one when their parts merge.
//
// Of rows that collapse, the first stored one is kept, whatever the others
// hold: ingest_version is computed by the server when a row is inserted
// (a MATERIALIZED column, which an INSERT cannot set: the server refuses
// with code 44) and decreases as time passes, and ReplacingMergeTree keeps
// the row with the highest version. So a role that may insert cannot
// rewrite a stored event by inserting its id again with other values
// (different user, outcome, details...): after the merge, the original is
// what remains, and FROM audit_logs FINAL reads it before the merge. In the
// compat layout the version counts seconds (4294967295 minus the Unix
// time, good until 2106): an insert in the same second as the original ties
// with it, and a tie goes to the later insert. In the modern layout it
// counts nanoseconds (now64(9), good until 2100). A copy that changes the
// sort key (another workspace, action or time) does not collapse with the
// original: it is a second row under the same event id, which the pack's
// uniqExact(event_id) and LIMIT 1 BY event_id count once but may read
// instead of the original; seals and verify tell them apart.
//
// The exporter does not create copies, even when it retries (it looks up
// which rows were stored after an ambiguous failure). Copies can still come
// from outside it, such as a Collector re-sending a batch. Until the parts
// merge, analysts should:
//
//   - count with uniqExact(event_id) rather than count();
//   - list with LIMIT 1 BY event_id;
//   - or read FROM audit_logs FINAL, which is exact but slower (1.7 s
//     against 0.5 s for one query over 3 million rows on the 2-core test
//     machine).
//
// Every query of the pack that reads the audit table does the first two,
// and its test checks that it gives the same answers with copies in the
// table before any merge.
//
// # The daily rollup
//
// audit_logs_daily (Table + "_daily") is a SummingMergeTree of (day,
// workspace_id, action) -> events, failures, fed by the materialized view
// audit_logs_daily_mv on every insert into the audit table. Read it with
// sum(events), sum(failures) GROUP BY the key: rows of one key are summed
// when parts merge, not at insert. It counts inserted rows, so a copy
// inserted from outside the exporter counts twice there; [RebuildRollup]
// recomputes one month from the deduplicated audit table. On a cluster,
// the replicated tables also drop an inserted block identical to one
// inserted before (ClickHouse's insert deduplication): a re-sent batch
// whose rollup rows equal an earlier block's is not counted again, so
// re-sent copies count once or twice there until RebuildRollup.
//
// # Clusters
//
// With Options.Cluster, every statement runs ON CLUSTER; the data lives in
// Replicated* tables named Table+"_local" (ZooKeeper path
// /clickhouse/tables/{shard}/<database>/<table>_local, replica {replica});
// Table is a Distributed table over them, sharded by the event id's hash
// (cityHash64(event_id); on the compat layout cityHash64(toString(event_id)),
// as 18.16 does not hash a UUID), so that copies of one event meet on one
// shard, where they collapse. Replicated tables also deduplicate a re-sent
// identical insert block (insert_deduplicate). On the compat layout the
// Distributed table lists the columns an INSERT fills, without
// ingest_version: 18.16 would compute that MATERIALIZED column and send it
// along, which the local tables refuse.
//
// The servers need, besides remote_servers (with internal_replication for
// shards of several replicas), the macros {shard} and {replica}, a
// zookeeper section, distributed_ddl (for ON CLUSTER) and an
// interserver_http_port (where replicas fetch parts from each other).
//
//   - Insert with insert_distributed_sync = 1 on the writing connection
//     (clickhouse.Options.Settings): an INSERT that returns is then stored
//     on its shard, and one that a shard cannot take fails and the
//     exporter retries it. Without it, the server that receives the rows
//     queues them on its own disk and forwards them later, so the
//     exporter's Written means queued there.
//   - Reads through the Distributed tables need one replica of every
//     shard: while a whole shard is down, the pack, and the exporter's
//     lookup of stored event ids after an ambiguous failure, fail (code
//     279, which the exporter retries).
//   - The migrations table is replicated within a shard: Migrate records
//     its migrations on the shard of the server it is connected to. Run
//     from another shard, it finds none there and runs them again, which
//     changes nothing (every statement is IF NOT EXISTS).
//   - [DropExpiredPartitions] lists the partitions of every shard (through
//     the cluster() table function) and drops them ON CLUSTER;
//     [RebuildRollup] reads and writes through the Distributed tables.
//
// TestClusterLive and TestClusterShardOutageLive run the compat layout on
// two shards of two ClickHouse 18.16 servers each with ZooKeeper 3.8: the
// migration, where each event lands, the query pack against a single
// server, copies collapsing in merges, retention, and a replica and then a
// whole shard stopped during writes. The modern layout's cluster DDL is
// covered by golden files only.
//
// # Who may do what
//
// Whoever holds the credentials the migrations ran with (an administrator)
// can change or drop anything: that cannot be prevented here, only
// detected, which is what sealing the trail is for. Services get a user
// that may insert and cannot change or remove a row. How depends on the
// server.
//
// Servers with SQL access control (22.x and later): [WriterGrants] renders
// a role with INSERT on the audit table and the daily rollup, and SELECT on
// event_id, time, workspace_id, action and outcome of the audit table:
//
//	role                 can                                      cannot
//	-------------------  ---------------------------------------  ---------------------------------------------
//	writer role          INSERT rows; read the five columns       ALTER ... DELETE or UPDATE, DROP, TRUNCATE,
//	                     above (no personal data)                 OPTIMIZE, partition operations; read user ids,
//	                                                              IPs, details, values
//	administrator        everything                               be stopped: detection is by sealing
//
// These grants are covered by golden files only: the modern engine of the
// tests (chDB) has no writable access storage, so roles cannot be created
// and replayed there.
//
// Servers whose users are configured in users.xml (ClickHouse 18.16): no
// setting makes an insert-only user. allow_ddl = 0 (and readonly) in a
// user's profile stop SET allow_ddl = 1 and what clickhouse-client sends,
// but 18.16 checks them only in SET statements: a client that sends
// allow_ddl = 1 among a query's settings (clickhouse-go's WithSettings)
// runs ALTER TABLE ... DELETE. What 18.16 enforces is the database a user
// may use (allow_databases), whatever the query's settings. So services
// insert through the [Ingest] route: a database of their own whose
// Distributed table forwards the rows to the audit table as a forwarding
// user whose password only the server's configuration holds
// ([MigrateIngest], [IngestConfigXML], [IngestUsersXML]):
//
//	user                 can                                      cannot
//	-------------------  ---------------------------------------  ---------------------------------------------
//	service (ingest)     INSERT through the Distributed table;    reach the audit database at all: no ALTER
//	                     read the audit table through it (18.16   (DELETE, UPDATE, partitions), DROP, TRUNCATE,
//	                     gives insert rights with read rights);   RENAME, OPTIMIZE or INSERT there; mutate or
//	                     drop or alter the Distributed table,     OPTIMIZE the Distributed table (it supports
//	                     with the bypass above (stopping its      neither)
//	                     own inserts); create Distributed tables
//	                     of its own over the cluster, and insert
//	                     through them into any table of the audit
//	                     database (the rollup, the migrations table)
//	forwarding user      what the administrator can in the audit  -- (its password never leaves the server's
//	                     database, with the bypass                configuration)
//
// TestIngestLive replays each of these on 18.16, with allow_ddl = 1 sent
// along as a query setting, and shows the bypass with the forwarding user.
//
// # Readers
//
// Whoever reads the trail (the otelaudit command's search and query, a
// Grafana data source, an analyst) gets a user that may only read. On
// 18.16, [ReaderUsersXML] renders a users.d file with such a user: it may
// use the audit database only, with a profile of readonly = 1, which
// refuses INSERT, ALTER (DELETE, UPDATE, partitions), DROP, TRUNCATE,
// OPTIMIZE, CREATE and SET with code 164, even when the client sends
// readonly = 0 along with its query (unlike allow_ddl above;
// TestReaderUserLive replays each). On servers with SQL access control,
// [ReaderGrants] renders a role with SELECT on the audit table and the
// daily rollup and nothing else (golden files only).
// Give the server's default user a password, too: a Distributed or
// remote() connection without a user logs in as default.
//
// # The query pack
//
// [Queries] returns the named queries in queries/*.sql, rendered for a
// layout: logins_per_day (from the rollup), failed_logins_by_ip, data_exports_per_user,
// admin_actions, settings_changes, oauth_churn, subscriptions_per_month,
// most_active_users, daily_activity (from the rollup) and user_activity (a
// GDPR subject access request). Each has a question, its parameters
// ("@name", bound client-side by clickhouse-go: clickhouse.Named, or
// [TimeArg] for times, which keeps nanoseconds on the modern layout; the
// compat layout's time parameters are whole seconds), and SQL. `otelaudit
// query NAME --param name=value --sql` prints a query with its parameters
// as literals, which runs as it is in clickhouse-client and Grafana. They
// differ between the layouts where the column types do (nanosecond
// timestamps), and in most_active_users (below). Each is
// tested against the live server on a seeded dataset with hand-worked
// answers, and timed on 10 million rows by `make bench`.
//
// Counting distinct event ids costs a set of ids per group, and on the
// biggest tenant that set is most of the query's work. On the compat
// layout, most_active_users therefore counts exactly only the users that
// can make its list: the @limit users with the most rows set a floor (the
// fewest distinct events among them), and only users with at least that
// many rows are counted. A user's rows are never fewer than its distinct
// events, so the answer is the one counting every user would give, with
// copies in the table or not (TestMostActiveUsersCopiesLive); the
// subqueries use GLOBAL IN, so that each runs once on a cluster too. This
// halves its CPU time on 18.16. The modern layout counts every user: on
// ClickHouse 26.5 the same SQL gave wrong answers, as the query condition
// cache (use_query_condition_cache, a 25.x setting, on in 26.5) reused
// what an IN (subquery) filter had matched in an earlier run whose
// subquery gave another set; turning the setting off in the query would
// fail on the older servers the layout also serves, which do not know it,
// and on 26.5 the floor saved 15% of the CPU time only. The queries
// across all tenants
// (data_exports_per_user, oauth_churn, subscriptions_per_month,
// failed_logins_by_ip) read the granules of every tenant holding their
// actions, about half the table's granules for a 6% share of the rows:
// the sort key puts the tenant first.
package chschema
