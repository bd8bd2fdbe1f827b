// Package chdbconn runs ClickHouse tests against chDB, the ClickHouse engine
// embedded as a library (libchdb.so), through the clickhouse-go
// [driver.Conn] interface that the exporter and the schema code take.
//
// chDB has no TCP server: a process loads one engine and sends it SQL
// strings, and reads back what the query printed in the format it asked
// for. This package turns that into the driver's interface:
//
//	driver.Conn method      how it reaches the engine
//	----------------------  ----------------------------------------------------
//	Exec                    the bound query; its output is discarded
//	Query, QueryRow         the bound query with FORMAT Native; the blocks are
//	                        decoded with clickhouse-go's lib/proto.Block and
//	                        scanned with its column types, as the driver does
//	PrepareBatch            the INSERT's columns and types from DESCRIBE (SELECT
//	                        cols FROM t); rows and columns are appended to a
//	                        lib/proto.Block, which Send encodes (Block.Encode)
//	                        into a file and inserts with
//	                        INSERT ... FROM INFILE '<file>' FORMAT Native
//	Ping, ServerVersion     SELECT 1; the engine's version()
//	Close                   nothing: the Engine is closed by its owner
//
// Arguments are bound client-side by clickhouse-go's own binder (the
// unexported function bind, reached through go:linkname), so a query sees
// the same SQL text that the native driver would send: time.Time values
// as toDateTime('...') whole seconds, clickhouse.DateNamed at the given
// precision. TestBindPinned fails when the driver's binder changes.
//
// # Contract
//
//   - One [Engine] per process ([Open] refuses a second while one is
//     open), with its data in a directory of its own that Close removes.
//     The engine must be closed before the process exits: under the race
//     detector an engine left open crashes the process at exit.
//   - Queries of every [Conn] of an engine run one at a time (a mutex).
//     Each Conn has a current database; the engine is switched to it with
//     USE before a query when another Conn used another one.
//   - Settings and query options carried by the context
//     (clickhouse.Context) are not seen: chDB ignores connection-time
//     settings, so set them with SET statements, which last for the whole
//     engine. The context's deadline and cancellation are checked before a
//     query starts; a running query cannot be interrupted.
//   - Server errors come back as *clickhouse.Exception with the server's
//     code, as over the native protocol, so errors.As and code checks work.
//   - Not supported: Select, ScanStruct, QueryFormat, InsertFormat,
//     AsyncInsert, Rows.Totals, Batch.AppendStruct; they return
//     [ErrUnsupported]. Batch.Flush does nothing: a batch is one INSERT.
//
// # Differences from a ClickHouse server
//
//   - DROP ... SYNC never returns in chDB: drop without SYNC.
//   - Inline INSERT data is cut at the first blank line; batches are
//     therefore sent as files.
//   - The first query of a process takes about 0.1 s; the engine holds
//     about 200 MB.
//
// # Build
//
// The package's code needs the build tag chdb (go test -tags chdb) and
// the library at run time: github.com/chdb-io/chdb-go loads it with
// purego (no cgo) from $CHDB_LIB_PATH, and panics at program start when it
// cannot. Without the tag the package is empty, so that programs that do
// not ask for chDB never load it. `make test` installs the library (npm
// package @chdb/lib-linux-x64-gnu) and runs the ClickHouse suites on it
// through internal/testenv (OTELAUDIT_CLICKHOUSE_ENGINE=chdb).
package chdbconn
