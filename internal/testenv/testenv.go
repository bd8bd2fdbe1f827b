package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Names of the environment variables that make up the contract above.
const (
	EnvRequireServices  = "OTELAUDIT_TEST_REQUIRE_SERVICES"
	EnvPostgresDSN      = "OTELAUDIT_TEST_POSTGRES_DSN"
	EnvPostgresBin      = "OTELAUDIT_TEST_POSTGRES_BIN"
	EnvClickHouseDSN    = "OTELAUDIT_TEST_CLICKHOUSE_DSN"
	EnvClickHouseHTTP   = "OTELAUDIT_TEST_CLICKHOUSE_HTTP"
	EnvClickHouseClient = "OTELAUDIT_TEST_CLICKHOUSE_CLIENT"
	// EnvClickHouseServer optionally names the clickhouse-server binary
	// for private servers, as it does for scripts/services.sh.
	EnvClickHouseServer = "OTELAUDIT_CLICKHOUSE_SERVER"
)

// setupTimeout bounds database creation and dropping.
const setupTimeout = 30 * time.Second

// Required reports whether missing services are an error rather than a
// reason to skip: OTELAUDIT_TEST_REQUIRE_SERVICES=1 or CI=true.
func Required() bool {
	return os.Getenv(EnvRequireServices) == "1" || os.Getenv("CI") == "true"
}

// unavailable skips tb, or fails it when [Required] is true, because a
// private server cannot be run here.
func unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		tb.Fatalf("testenv: %s (services are required: %s=1 or CI=true; make test installs the server packages)", msg, EnvRequireServices)
	}
	tb.Skipf("testenv: %s; run make test", msg)
}

// lookup returns the value of an environment variable of the contract, and
// skips or fails tb when it is unset.
func lookup(tb testing.TB, name string) string {
	tb.Helper()
	v := strings.TrimSpace(os.Getenv(name))
	if v != "" {
		return v
	}
	if Required() {
		tb.Fatalf("%s not set, but services are required (%s=1 or CI=true); run the tests through make test or scripts/with-services.sh",
			name, EnvRequireServices)
	}
	tb.Skipf("%s not set; run make test", name)
	return ""
}

// dbName returns a fresh database name that is a valid unquoted identifier in
// both Postgres and ClickHouse and at most 63 bytes long: "t_", part of the
// test name (to recognise leftovers), and 12 random hex digits.
func dbName(tb testing.TB) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(tb.Name()) {
		if b.Len() >= 2+36 {
			break
		}
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatalf("testenv: random database name: %v", err)
	}
	b.WriteByte('_')
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}

// ---------------------------------------------------------------- Postgres

// PostgresDSN creates a fresh, empty Postgres database for this test and
// returns a pgx connection URL for it, without opening a connection. The
// database is dropped WITH (FORCE) when the test ends, so connections the test
// forgot to close do not block the cleanup.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	admin := lookup(tb, EnvPostgresDSN)
	name := dbName(tb)

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := pgAdminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("testenv: create Postgres database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := pgAdminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("testenv: drop Postgres database %s: %v", name, err)
		}
	})

	dsn, err := withPath(admin, name)
	if err != nil {
		tb.Fatalf("testenv: %s: %v", EnvPostgresDSN, err)
	}
	return dsn
}

// Postgres creates a fresh Postgres database for this test (see
// [PostgresDSN]) and returns a pool connected to it. The pool is closed, then
// the database dropped, when the test ends.
func Postgres(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	dsn := PostgresDSN(tb)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		tb.Fatalf("testenv: open Postgres pool: %v", err)
	}
	// Registered after PostgresDSN's cleanup, so it runs before the drop.
	tb.Cleanup(pool.Close)
	if err := pool.Ping(ctx); err != nil {
		tb.Fatalf("testenv: ping Postgres: %v", err)
	}
	return pool
}

func pgAdminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withPath returns dsn, a URL, with its path (the database) replaced by db.
func withPath(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	u.Path = "/" + db
	u.RawPath = ""
	return u.String(), nil
}

// -------------------------------------------------------------- ClickHouse

// ClickHouseOptions parses a native-protocol DSN into clickhouse.Options,
// refusing other protocols (see the package doc: HTTP does not work with
// 18.16) and setting a 10 s dial timeout when the DSN gives none. 18.16
// needs no further client options.
func ClickHouseOptions(dsn string) (*clickhouse.Options, error) {
	opt, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if opt.Protocol != clickhouse.Native {
		return nil, fmt.Errorf("testenv: %s must use the native protocol (clickhouse://host:port), got %v", EnvClickHouseDSN, opt.Protocol)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = 10 * time.Second
	}
	return opt, nil
}

// ClickHouseDSN creates a fresh ClickHouse database for this test and returns
// a native-protocol DSN whose default database is it, plus the database name,
// without keeping a connection open. The database is dropped when the test
// ends.
func ClickHouseDSN(tb testing.TB) (dsn, database string) {
	tb.Helper()
	admin := lookup(tb, EnvClickHouseDSN)
	name := dbName(tb)

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := chAdminExec(ctx, admin, "CREATE DATABASE `"+name+"`"); err != nil {
		tb.Fatalf("testenv: create ClickHouse database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := chAdminExec(ctx, admin, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			tb.Errorf("testenv: drop ClickHouse database %s: %v", name, err)
		}
	})

	dsn, err := withPath(admin, name)
	if err != nil {
		tb.Fatalf("testenv: %s: %v", EnvClickHouseDSN, err)
	}
	return dsn, name
}

// ClickHouse creates a fresh ClickHouse database for this test (see
// [ClickHouseDSN]) and returns a native-protocol connection whose default
// database is it, plus its name. The connection is closed, then the database
// dropped, when the test ends.
//
// With OTELAUDIT_CLICKHOUSE_ENGINE=chdb ([EnvClickHouseEngine]) the
// database is made in the ClickHouse engine embedded in the test process
// (chDB) instead, and the connection is an internal/chdbconn adapter.
func ClickHouse(tb testing.TB) (driver.Conn, string) {
	tb.Helper()
	if ClickHouseEngine() == EngineChDB {
		return clickHouseChDB(tb)
	}
	dsn, name := ClickHouseDSN(tb)
	opt, err := ClickHouseOptions(dsn)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	conn, err := clickhouse.Open(opt)
	if err != nil {
		tb.Fatalf("testenv: open ClickHouse: %v", err)
	}
	// Registered after ClickHouseDSN's cleanup, so it runs before the drop.
	tb.Cleanup(func() {
		if err := conn.Close(); err != nil {
			tb.Errorf("testenv: close ClickHouse: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		tb.Fatalf("testenv: ping ClickHouse: %v", err)
	}
	return conn, name
}

// ClickHouseClient returns the clickhouse-client argv prefix (binary, --host,
// --port) for tests that shell out, e.g.
//
//	args := append(testenv.ClickHouseClient(t), "--database", db, "-q", "SELECT 1")
//	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
func ClickHouseClient(tb testing.TB) []string {
	tb.Helper()
	return strings.Fields(lookup(tb, EnvClickHouseClient))
}

func chAdminExec(ctx context.Context, dsn, sql string) error {
	opt, err := ClickHouseOptions(dsn)
	if err != nil {
		return err
	}
	conn, err := clickhouse.Open(opt)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Exec(ctx, sql)
}
