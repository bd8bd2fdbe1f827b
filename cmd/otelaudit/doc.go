// Command otelaudit reads and maintains the audit trail: migrate the
// stores, search and tail the events, run the ClickHouse query pack,
// export and erase one user's data (GDPR), apply retention, seal and
// verify.
//
//	otelaudit migrate [--dry-run] [--writer-role R] [--reader-role R]
//	otelaudit search [filters] [--store postgres|clickhouse] [--output table|json|jsonl|csv] [--limit N] [--after CURSOR] [--all]
//	otelaudit tail [-f] [-n N] [filters] [--store postgres|clickhouse] [--after CURSOR] [--print-cursor]
//	otelaudit query --list | NAME --param k=v ... [--sql] [--output ...]
//	otelaudit export --user U [--output jsonl|csv] [--out FILE]
//	otelaudit erase --user U [--also VALUE]... [--keys K,...] [--pseudonym P] [--dry-run]
//	otelaudit retention --before DATE [--dry-run]
//	otelaudit keygen --out FILE
//	otelaudit seal --key FILE
//	otelaudit verify --public-key FILE [--since T] [--until T]
//
// Filters (search, tail): --workspace, --actor, --user (actor or target),
// --resource-type, --resource-id, --action (a name or a prefix with "*":
// "oauth.*"), --outcome, --ip, --since, --until. Times are 2024-06-01,
// RFC 3339, Unix seconds, now, or a span before now (90m, 24h, 30d).
//
// # Connections
//
// --postgres or OTELAUDIT_POSTGRES_DSN (a pgx connection string) and
// --clickhouse or OTELAUDIT_CLICKHOUSE_DSN
// (clickhouse://user:password@host:9000/database). --pg-schema,
// --pg-table, --ch-database and --ch-table name the tables when they are
// not the defaults. Commands use the stores that are configured: migrate,
// retention and erase act on both when both are set; search reads
// Postgres unless --store clickhouse (or only ClickHouse is set); tail
// reads Postgres unless --store clickhouse; export reads Postgres, the
// system of record; query reads ClickHouse.
//
// # Roles
//
// search, tail and query need only read rights (pgschema's ReaderRole,
// chschema's reader user). export reads with them too, but records a
// data_export_completed event, which needs INSERT. migrate, retention,
// erase and seal run as the owner of the tables. verify needs SELECT on
// the audit tables and the digest tables, and the public key only.
//
// # What each command does
//
//   - migrate runs the versioned migrations of schema/pgschema,
//     schema/seal (the digest tables) and schema/chschema, and prints the
//     versions it applied; --dry-run prints their SQL.
//   - search prints one page (default 50), newest first, and on standard
//     error the cursor of the next page; --all reads every page.
//   - tail prints the newest -n events, oldest first; with -f it then
//     prints each new event once, in arrival order, until interrupted
//     (package trail, Postgres.Follow). --print-cursor prints each event's
//     cursor on standard error; --after resumes from one. A lost
//     connection (a restarted server) is retried every --retry, and the
//     events go on from the last one printed. With --store clickhouse,
//     events are printed once they were inserted more than --lag ago
//     (ClickHouse keeps no transaction ids: see package trail).
//   - query runs a query of the pack with its parameters bound as
//     literals (String quoted and escaped, DateTime as toDateTime(<Unix
//     seconds>), Date as toDate('YYYY-MM-DD'), UInt64 as digits, each
//     checked against its type); from, to and now default to the last 30
//     days. --sql prints that SQL, which runs as it is in
//     clickhouse-client.
//   - export writes every event where the user is the actor or the target
//     (resource type "user"), oldest first, every field, from Postgres;
//     then records data_export_completed (actor: --operator,
//     $OTELAUDIT_OPERATOR or $USER; resource: the user).
//   - erase pseudonymises the user in every row that names them, by the
//     rule of schema/pgschema's "Erasure": in the user's own rows the user
//     id becomes the pseudonym and name, IP, user agent and session are
//     blanked; in the rows that name the user as their target (resource
//     type "user"), the resource id becomes the pseudonym; inside details,
//     previous and new values, the user id becomes the pseudonym and the
//     user's other identifiers (their names, and each --also value, such
//     as an e-mail address) become "[erased]", as do, in a target's row,
//     the values of the members named by --keys. Postgres runs it through
//     <table>_erase_user (migrations 0006 and 0007; the append-only
//     triggers stay in force for everyone else), with the seal's salts of
//     the changed rows dropped in the same transaction, so that the seals
//     still verify; ClickHouse with ALTER TABLE ... UPDATE (each one's
//     expressions run as a query first, because a mutation that fails in
//     the background is retried for ever), waited for. Rows sealed under
//     the seal's encoding version 1 keep their resource id and JSON
//     values, which that encoding covers directly; they are counted. It
//     records data_delete_completed under the pseudonym. An erasure
//     interrupted between the stores is completed by running it again
//     with the same --pseudonym (the store already done finds nothing
//     left); a --pseudonym that another user already has merges the two
//     in the trail, so leave it to the default. The commands
//     do not know chschema's cluster layout: erase and retention act on
//     one server's tables.
//   - retention drops, in both stores, the partitions whose rows are all
//     older than --before; --dry-run lists them.
//   - seal seals the windows that are due (schema/seal); verify checks
//     the chain and both stores against it, prints each finding, and
//     exits 4 when one fails.
//
// # Exit codes
//
//	0    success (tail -f: interrupted, its normal end)
//	1    an error: a database refused, a connection failed, a file
//	2    usage: an unknown command or flag, a bad value, a missing argument
//	3    a table is missing: run otelaudit migrate
//	4    verify found tampering (or a broken chain or signature)
//	130  interrupted
//
// Long operations (export, the ClickHouse mutation of erase) show their
// progress on standard error when it is a terminal.
package main
