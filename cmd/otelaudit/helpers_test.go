package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// TestMain fails the package's tests if they leave goroutines behind, and
// closes the chDB engine, if the tests ran on it, before the process
// exits.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(testenv.Exit))
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli is the command run in process against a test's databases.
type cli struct {
	t      *testing.T
	vars   map[string]string
	pgDSN  string
	chDSN  string
	chDB   string
	pg     *pgxpool.Pool
	ch     driver.Conn
	chOpts chschema.Options
}

// newCLI makes fresh databases in both stores, migrated with the command
// itself unless bare.
func newCLI(t *testing.T, bare bool) *cli {
	t.Helper()
	c := &cli{t: t}
	c.pgDSN = testenv.PostgresDSN(t)
	c.chDSN, c.chDB = testenv.ClickHouseDSN(t)
	c.vars = map[string]string{envPostgres: c.pgDSN, envClickHouse: c.chDSN, "USER": "ops_alice"}
	var err error
	c.pg, err = pgxpool.New(testCtx(t), c.pgDSN)
	require.NoError(t, err)
	t.Cleanup(c.pg.Close)
	opt, err := testenv.ClickHouseOptions(c.chDSN)
	require.NoError(t, err)
	c.ch, err = clickhouse.Open(opt)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.ch.Close() })
	c.chOpts = chschema.Options{Database: c.chDB}
	if !bare {
		out, errOut, code := c.run("migrate")
		require.Equal(t, exitOK, code, "migrate: %s %s", out, errOut)
	}
	return c
}

// run runs the command and returns its output, error output and exit code.
func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	return c.runCtx(testCtx(c.t), args...)
}

func (c *cli) runCtx(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errOut syncBuffer
	code = run(ctx, args, env{stdout: &out, stderr: &errOut, getenv: func(k string) string { return c.vars[k] }})
	return out.String(), errOut.String(), code
}

// write records events through the bridge and the real exporters into
// both stores.
func (c *cli) write(evs ...otelaudit.Event) {
	c.t.Helper()
	recs := captureRecords(c.t, evs)
	pe, err := postgreslog.New(c.pg)
	require.NoError(c.t, err)
	require.NoError(c.t, pe.Export(testCtx(c.t), recs))
	require.EqualValues(c.t, len(recs), pe.Stats().Written)
	require.NoError(c.t, pe.Shutdown(context.Background()))
	ce, err := clickhouselog.New(c.ch, clickhouselog.WithSchema(c.chOpts))
	require.NoError(c.t, err)
	require.NoError(c.t, ce.Export(testCtx(c.t), recs))
	require.EqualValues(c.t, len(recs), ce.Stats().Written)
	require.NoError(c.t, ce.Shutdown(context.Background()))
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// role returns a role name unique to the test, dropped when it ends.
func (c *cli) role(what string) string {
	c.t.Helper()
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(c.t, err)
	name := "t_cli_" + what + "_" + hex.EncodeToString(b[:])
	c.t.Cleanup(func() {
		ctx := context.Background()
		_, _ = c.pg.Exec(ctx, "DROP OWNED BY "+name)
		_, _ = c.pg.Exec(ctx, "DROP ROLE IF EXISTS "+name)
	})
	return name
}

// loginAs returns a Postgres DSN of the test database for a new login
// role holding role.
func (c *cli) loginAs(role string) string {
	c.t.Helper()
	login := c.role("login")
	_, err := c.pg.Exec(testCtx(c.t), "CREATE ROLE "+login+" LOGIN IN ROLE "+role)
	require.NoError(c.t, err)
	u, err := url.Parse(c.pgDSN)
	require.NoError(c.t, err)
	u.User = url.User(login)
	return u.String()
}

// captureRecords returns the records the bridge emits for evs.
func captureRecords(t *testing.T, evs []otelaudit.Event) []sdklog.Record {
	t.Helper()
	recs := testenv.Capture("billing", func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) { t.Errorf("bridge: %v", err) }))
		for _, ev := range evs {
			a.Record(context.Background(), ev)
		}
	})
	require.Len(t, recs, len(evs))
	return recs
}
