package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// EnvClickHouseEngine selects what [ClickHouse] connects to: "server" (or
// unset), the shared server of $OTELAUDIT_TEST_CLICKHOUSE_DSN; or "chdb",
// the ClickHouse engine embedded in the test process (chDB, through
// internal/chdbconn), which needs the build tag chdb and $CHDB_LIB_PATH.
const EnvClickHouseEngine = "OTELAUDIT_CLICKHOUSE_ENGINE"

// Engines of [EnvClickHouseEngine].
const (
	EngineServer = "server"
	EngineChDB   = "chdb"
)

// ClickHouseEngine returns the engine [ClickHouse] connects to:
// [EngineServer] or [EngineChDB].
func ClickHouseEngine() string {
	if strings.TrimSpace(os.Getenv(EnvClickHouseEngine)) == EngineChDB {
		return EngineChDB
	}
	return EngineServer
}

// Exit closes the chDB engine if this process opened one, then exits with
// code. Packages whose tests call [ClickHouse] end TestMain with it, e.g.
//
//	goleak.VerifyTestMain(m, goleak.Cleanup(testenv.Exit))
//
// because a chDB engine left open crashes a race-enabled process at exit.
func Exit(code int) {
	if err := closeEngine(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: close chDB: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// clickHouseChDB is [ClickHouse] on the embedded engine: a fresh database
// of the process's chDB engine, dropped when the test ends.
func clickHouseChDB(tb testing.TB) (driver.Conn, string) {
	tb.Helper()
	name := dbName(tb)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, drop, err := chdbDatabase(ctx, name)
	if err != nil {
		// Asked for by name: never a reason to skip.
		tb.Fatalf("testenv: %s=%s: %v", EnvClickHouseEngine, EngineChDB, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := drop(ctx); err != nil {
			tb.Errorf("testenv: drop chDB database %s: %v", name, err)
		}
	})
	return conn, name
}
