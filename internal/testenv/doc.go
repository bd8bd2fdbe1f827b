// Package testenv gives integration tests a throwaway Postgres database and a
// throwaway ClickHouse database, one per test, on the shared test servers;
// and, for fault tests, private servers that a test may stop, restart,
// pause and resume.
//
// # Contract
//
// The services themselves are started by scripts/services.sh (or, for a whole
// run, scripts/with-services.sh, which is what `make test` and CI use). That
// script exports:
//
//	OTELAUDIT_TEST_POSTGRES_DSN      pgx URL of the admin database, e.g.
//	                                 postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
//	OTELAUDIT_TEST_POSTGRES_BIN      directory holding psql, pg_dump, ... of the same server
//	OTELAUDIT_TEST_CLICKHOUSE_DSN    native-protocol DSN, clickhouse://default@127.0.0.1:PORT/default
//	OTELAUDIT_TEST_CLICKHOUSE_HTTP   host:port of the ClickHouse HTTP interface
//	OTELAUDIT_TEST_CLICKHOUSE_CLIENT clickhouse-client command prefix with --host/--port
//	OTELAUDIT_TEST_REQUIRE_SERVICES  "1" under make test: missing services fail, not skip
//
// When a DSN variable is unset, the helpers skip the test with a message
// pointing at `make test` — unless [Required] reports true
// (OTELAUDIT_TEST_REQUIRE_SERVICES=1 or CI=true), in which case they fail it,
// so that CI can never go green by silently skipping every integration test.
//
// Every call to [Postgres], [PostgresDSN], [ClickHouse] or [ClickHouseDSN]
// creates a new database with a random name, and registers a tb.Cleanup that
// closes what the helper opened and drops the database. Tests may therefore
// run in parallel (t.Parallel) and create tables with fixed names.
//
// # Contract of the private servers (fault tests)
//
// Tests that take a database away — stop it, restart it, freeze it — must
// not do that to the shared servers. [StartPostgres] and [StartClickHouse]
// start a private server for one test instead:
//
//	pg := testenv.StartPostgres(t)       // *PostgresServer, ready to use
//	pool, err := pgxpool.New(ctx, pg.DSN())
//	...
//	pg.Stop(t)   // fast shutdown: connections fail, data stays on disk
//	pg.Start(t)  // the same port and data again
//	pg.Pause(t)  // SIGSTOP: queries and new connections hang
//	pg.Resume(t) // SIGCONT: they proceed
//
// [ClickHouseServer] has the same methods; its DSN is native-protocol.
//
// For cluster tests, [StartZooKeeper] starts a private standalone ZooKeeper
// (Debian's zookeeper 3.8 jar, run with java; Stop and Start as above), and
// [StartClickHouseCluster] starts shards × replicas private ClickHouse
// servers configured as one cluster coordinated by it (remote_servers,
// macros {shard} and {replica}, distributed_ddl, interserver ports); see
// their documentation for the configuration. scripts/services.sh installs
// the zookeeper package when it is missing.
//
//   - The servers are the machine's binaries, found as scripts/services.sh
//     finds them: Postgres in $OTELAUDIT_TEST_POSTGRES_BIN, else the newest
//     /usr/lib/postgresql/*/bin, else initdb on PATH; ClickHouse in
//     $OTELAUDIT_CLICKHOUSE_SERVER, else clickhouse-server on PATH,
//     /usr/sbin or /usr/bin. When they are missing the test is skipped, or
//     fails if [Required] is true. Nothing is installed from here.
//   - Each server gets a fresh directory under os.TempDir() (or /tmp) and a
//     free loopback port in 20000–31999 (below the ephemeral range), which
//     stays its port across Stop and Start. Parallel tests get different
//     ports; if another process takes a port first, the server is started
//     on another one.
//   - As root, Postgres runs as the "postgres" user, which owns its
//     directory; otherwise servers run as the current user. Postgres runs
//     with fsync off on 127.0.0.1 only (no Unix socket); ClickHouse with the
//     configuration of scripts/services.sh, without the HTTP port, and with
//     poll_interval 1 so that Stop does not wait 10 s for idle connections;
//     a test may add users.d and config.d files and listen addresses of its
//     own ([WithUsersFile], [WithConfigFile], [WithListenHost]).
//   - A server starts in about a second (Postgres: initdb --no-sync
//     included). Start waits until it answers, at most 60 s. Stop waits up
//     to 30 s for the server to exit, then sends SIGKILL to its processes.
//     Pause returns once every process of the server is stopped.
//   - When the test ends, whatever happened, its servers are resumed,
//     stopped and their files removed. Should the test binary die first,
//     the kernel kills the server's main process (Pdeathsig); Postgres
//     backends then exit by themselves, unless they were paused.
//   - Only the processes started here are ever signalled: the server
//     process through the handle of our own child, its descendants through
//     pidfds checked against their parent, so a recycled PID is never hit.
//   - The methods fail the test on error (tb.Fatal): call them from the
//     test's goroutine, and run the workload in another one.
//
// # ClickHouse versions
//
// CI and `make test` run Debian bookworm's clickhouse-server 18.16 (native
// protocol revision 54412); docker-compose.yml offers 25.8 for laptops. The
// clickhouse-go v2.51.0 native client works with 18.16 without special
// options — handshake, queries, PrepareBatch/Append/Send with String, UInt64,
// DateTime, Array(String) and more, LZ4/ZSTD compression — with these rules,
// which exporter code must follow too (details in CLICKHOUSE_NOTES.md, pinned
// by TestClickHouse18Quirks):
//
//   - PrepareBatch needs an explicit column list: "INSERT INTO t (a, b)".
//     Without one, 18.16 returns an empty header and Append fails with
//     "expected 0 arguments".
//   - Never Exec "INSERT ... VALUES (...)": on 18.16 it hangs until the
//     context deadline. Use PrepareBatch (or INSERT ... SELECT).
//   - Settings must be int or bool values, and known to 18.16: no
//     async_insert (so no AsyncInsert), no string-valued settings.
//   - No server-side query parameters ({x:String}); bind with ? or @name.
//   - No Protocol: clickhouse.HTTP (it sends client_protocol_version, which
//     18.16 rejects); use the native protocol.
//   - The server lacks DateTime64, Map, Bool, IPv4/6, JSON, CODEC and TTL.
//
// [ClickHouseOptions] parses a DSN the way these helpers do.
//
// # ClickHouse 26.5 (chDB)
//
// With OTELAUDIT_CLICKHOUSE_ENGINE=chdb ([EnvClickHouseEngine]), [ClickHouse]
// makes the test's database in ClickHouse 26.5 embedded in the test process
// (chDB: libchdb.so, loaded from $CHDB_LIB_PATH) and returns an
// internal/chdbconn connection, a clickhouse-go driver.Conn. The binary must
// be built with the build tag chdb; without it, or without the library, the
// test fails (never skips). `make test-chdb`, part of `make test`, runs the
// ClickHouse suites that way a second time. In that run:
//
//   - one engine serves the whole test binary; end TestMain with
//     goleak.VerifyTestMain(m, goleak.Cleanup(testenv.Exit)), which closes
//     it ([Exit]): an engine left open crashes a race-enabled process at
//     exit;
//   - [ClickHouseDSN], [ClickHouseClient] and [StartClickHouse] still give
//     the 18.16 servers: chDB has no network interface;
//   - [ClickHouseEngine] tells the tests which engine they run on, for the
//     few assertions that differ by layout.
package testenv
