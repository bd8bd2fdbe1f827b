//go:build linux

package testenv_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// How long a paused server must stay silent, and how long a resumed one may
// take to answer, in the tests below.
const (
	silence  = time.Second
	recovery = 10 * time.Second
)

// ---------------------------------------------------------------- Postgres

func pgConnect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

type pgRow struct {
	ID   int
	Body string
}

func pgRows(t *testing.T, ctx context.Context, conn *pgx.Conn) []pgRow {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT id, body FROM audit ORDER BY id")
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pgRow])
	require.NoError(t, err)
	return got
}

func TestPostgresServerStopStart(t *testing.T) {
	t.Parallel()
	s := testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dsn := s.DSN()

	conn := pgConnect(t, ctx, dsn)
	_, err := conn.Exec(ctx, "CREATE TABLE audit (id int PRIMARY KEY, body text NOT NULL)")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "INSERT INTO audit VALUES (1, 'login'), (2, 'logout')")
	require.NoError(t, err)
	want := []pgRow{{1, "login"}, {2, "logout"}}

	s.Stop(t)
	_, err = conn.Exec(ctx, "SELECT 1")
	require.Error(t, err, "query on a connection to a stopped server")
	_, err = pgx.Connect(ctx, dsn)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "nothing listens on the port of a stopped server")
	s.Stop(t) // stopping a stopped server does nothing

	s.Start(t)
	require.Equal(t, dsn, s.DSN(), "same port after Start")
	require.Equal(t, want, pgRows(t, ctx, pgConnect(t, ctx, dsn)), "the data survived Stop and Start")
	s.Start(t) // starting a running server does nothing
	require.Equal(t, want, pgRows(t, ctx, pgConnect(t, ctx, dsn)))
}

func TestPostgresServerPauseResume(t *testing.T) {
	t.Parallel()
	s := testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dsn := s.DSN()

	conn := pgConnect(t, ctx, dsn)
	_, err := conn.Exec(ctx, "CREATE TABLE audit (id int PRIMARY KEY, body text NOT NULL)")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "INSERT INTO audit VALUES (1, 'login'), (2, 'logout'), (3, 'export')")
	require.NoError(t, err)

	s.Pause(t)
	s.Pause(t) // pausing a paused server does nothing

	// A query on the existing connection gets no answer: its backend is
	// stopped.
	type result struct {
		n   int64
		err error
	}
	answered := make(chan result, 1)
	go func() {
		var r result
		r.err = conn.QueryRow(ctx, "SELECT count(*) FROM audit").Scan(&r.n)
		answered <- r
	}()
	select {
	case r := <-answered:
		t.Fatalf("a paused server answered: %d, %v", r.n, r.err)
	case <-time.After(silence):
	}

	// A new connection is accepted by the kernel but never served: the
	// postmaster is stopped. It times out rather than being refused.
	short, cancelShort := context.WithTimeout(ctx, silence)
	_, err = pgx.Connect(short, dsn)
	cancelShort()
	require.Error(t, err)
	require.True(t, pgconn.Timeout(err), "want a timeout, got %v", err)

	s.Resume(t)
	select {
	case r := <-answered:
		require.NoError(t, r.err, "the query that hung during the pause")
		require.Equal(t, int64(3), r.n)
	case <-time.After(recovery):
		t.Fatalf("no answer within %v of Resume", recovery)
	}
	s.Resume(t) // resuming a running server does nothing
	var n int64
	require.NoError(t, pgConnect(t, ctx, dsn).QueryRow(ctx, "SELECT count(*) FROM audit").Scan(&n))
	require.Equal(t, int64(3), n, "a new connection after Resume")
}

// TestPostgresServerCleanupStopsPausedServer ends a test with its server
// paused; the cleanup must resume it, stop it and remove its files.
func TestPostgresServerCleanupStopsPausedServer(t *testing.T) {
	t.Parallel()
	var dsn, dir string
	t.Run("paused", func(t *testing.T) {
		s := testenv.StartPostgres(t)
		dsn, dir = s.DSN(), testenv.PostgresServerDir(s)
		s.Pause(t)
	})
	if dsn == "" {
		t.Skip("no server was started")
	}
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "the server's files are removed")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// Refused, not hanging: the paused server was resumed and stopped.
	_, err = pgx.Connect(ctx, dsn)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// TestStartPostgresConcurrentSafe starts servers from parallel subtests:
// each gets its own port and its own data.
func TestStartPostgresConcurrentSafe(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	dsns := make(map[string]bool)
	t.Run("group", func(t *testing.T) {
		for i := range 3 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				s := testenv.StartPostgres(t)
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				defer cancel()
				conn := pgConnect(t, ctx, s.DSN())
				_, err := conn.Exec(ctx, "CREATE TABLE audit (id int PRIMARY KEY, body text NOT NULL)")
				require.NoError(t, err)
				_, err = conn.Exec(ctx, "INSERT INTO audit VALUES ($1, 'server')", i)
				require.NoError(t, err)
				require.Equal(t, []pgRow{{i, "server"}}, pgRows(t, ctx, conn))
				mu.Lock()
				dsns[s.DSN()] = true
				mu.Unlock()
			})
		}
	})
	require.Len(t, dsns, 3, "three servers, three ports")
}

// TestPostgresServerProbeKnowsItsOwn: a server that finds its port taken by
// another server must not mistake that one for itself while starting.
func TestPostgresServerProbeKnowsItsOwn(t *testing.T) {
	t.Parallel()
	a, b := testenv.StartPostgres(t), testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, testenv.PostgresProbe(ctx, a, testenv.PostgresPort(a)))
	require.ErrorContains(t, testenv.PostgresProbe(ctx, b, testenv.PostgresPort(a)), "another server")
}

// TestPostgresServerKillTakesTheTree checks the last resort of Stop, and
// what Pause does to the processes: SIGKILL reaches the postmaster and
// every process below it, including a paused backend.
func TestPostgresServerKillTakesTheTree(t *testing.T) {
	t.Parallel()
	s := testenv.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn := pgConnect(t, ctx, s.DSN())
	var backend int
	require.NoError(t, conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend))

	pids, err := testenv.PostgresProcesses(s)
	require.NoError(t, err)
	require.Contains(t, pids, backend, "the backend of our connection is below the postmaster")
	require.Greater(t, len(pids), 3, "postmaster, backend and auxiliary processes")

	s.Pause(t)
	for _, pid := range pids {
		// A short-lived child (an autovacuum worker, say) may have ended
		// between the listing and the pause: gone or a zombie is fine,
		// running is not.
		if st := testenv.ProcessState(pid); st != 0 && st != 'Z' {
			require.Equal(t, byte('T'), st, "pid %d stopped by Pause", pid)
		}
	}

	require.NoError(t, testenv.KillPostgres(s))
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if st := testenv.ProcessState(pid); st != 0 && st != 'Z' {
				return false
			}
		}
		return true
	}, 5*time.Second, 10*time.Millisecond, "every process of the server is gone")
	_, err = pgx.Connect(ctx, s.DSN())
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

func TestPostgresBinDirFromEnv(t *testing.T) {
	t.Setenv(testenv.EnvPostgresBin, t.TempDir())
	_, err := testenv.PostgresBinDir()
	require.ErrorContains(t, err, testenv.EnvPostgresBin+"=", "a set but useless variable is reported, not ignored")
}

// -------------------------------------------------------------- ClickHouse

// chOpen opens a client with a single connection, so that queries share it.
func chOpen(t *testing.T, dsn string) driver.Conn {
	t.Helper()
	opt, err := testenv.ClickHouseOptions(dsn)
	require.NoError(t, err)
	opt.MaxOpenConns = 1
	conn, err := clickhouse.Open(opt)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

type chRow struct {
	ID   uint64
	Body string
}

func chCreateAudit(t *testing.T, ctx context.Context, conn driver.Conn, rows ...chRow) {
	t.Helper()
	require.NoError(t, conn.Exec(ctx, "CREATE TABLE audit (id UInt64, body String) ENGINE = MergeTree() ORDER BY id"))
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO audit (id, body)")
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, batch.Append(r.ID, r.Body))
	}
	require.NoError(t, batch.Send())
}

func chRows(t *testing.T, ctx context.Context, conn driver.Conn) []chRow {
	t.Helper()
	var got []chRow
	rows, err := conn.Query(ctx, "SELECT id, body FROM audit ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var r chRow
		require.NoError(t, rows.Scan(&r.ID, &r.Body))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	return got
}

func TestClickHouseServerStopStart(t *testing.T) {
	t.Parallel()
	s := testenv.StartClickHouse(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dsn := s.DSN()

	conn := chOpen(t, dsn)
	want := []chRow{{1, "login"}, {2, "logout"}}
	chCreateAudit(t, ctx, conn, want...)

	s.Stop(t)
	require.Error(t, conn.Exec(ctx, "SELECT 1"), "query through a client of a stopped server")
	require.ErrorIs(t, chOpen(t, dsn).Ping(ctx), syscall.ECONNREFUSED, "nothing listens on the port of a stopped server")
	s.Stop(t) // stopping a stopped server does nothing

	s.Start(t)
	require.Equal(t, dsn, s.DSN(), "same port after Start")
	require.Equal(t, want, chRows(t, ctx, chOpen(t, dsn)), "the data survived Stop and Start")
	s.Start(t) // starting a running server does nothing
	require.Equal(t, want, chRows(t, ctx, chOpen(t, dsn)))
}

func TestClickHouseServerPauseResume(t *testing.T) {
	t.Parallel()
	s := testenv.StartClickHouse(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dsn := s.DSN()

	conn := chOpen(t, dsn)
	chCreateAudit(t, ctx, conn, chRow{1, "login"}, chRow{2, "logout"}, chRow{3, "export"})

	s.Pause(t)
	s.Pause(t) // pausing a paused server does nothing

	// A query on the existing connection gets no answer.
	type result struct {
		n   uint64
		err error
	}
	answered := make(chan result, 1)
	go func() {
		var r result
		r.err = conn.QueryRow(ctx, "SELECT count() FROM audit").Scan(&r.n)
		answered <- r
	}()
	select {
	case r := <-answered:
		t.Fatalf("a paused server answered: %d, %v", r.n, r.err)
	case <-time.After(silence):
	}

	// A new connection is accepted by the kernel but never served: it times
	// out rather than being refused. (clickhouse-go bounds the handshake by
	// the dial timeout, not by the context.)
	short, cancelShort := context.WithTimeout(ctx, silence)
	err := chOpen(t, dsn+"?dial_timeout="+silence.String()).Ping(short)
	cancelShort()
	require.Error(t, err)
	var netErr net.Error
	require.True(t, errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()),
		"want a timeout, got %v", err)

	s.Resume(t)
	select {
	case r := <-answered:
		require.NoError(t, r.err, "the query that hung during the pause")
		require.Equal(t, uint64(3), r.n)
	case <-time.After(recovery):
		t.Fatalf("no answer within %v of Resume", recovery)
	}
	s.Resume(t) // resuming a running server does nothing
	var n uint64
	require.NoError(t, chOpen(t, dsn).QueryRow(ctx, "SELECT count() FROM audit").Scan(&n))
	require.Equal(t, uint64(3), n, "a new connection after Resume")
}

// TestClickHouseServerProbeKnowsItsOwn: a server that finds its port taken
// by another server must not mistake that one for itself while starting.
func TestClickHouseServerProbeKnowsItsOwn(t *testing.T) {
	t.Parallel()
	a, b := testenv.StartClickHouse(t), testenv.StartClickHouse(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, testenv.ClickHouseProbe(ctx, a, testenv.ClickHousePort(a)))
	require.ErrorContains(t, testenv.ClickHouseProbe(ctx, b, testenv.ClickHousePort(a)), "another server")
}

// TestClickHouseServerCleanupStopsPausedServer ends a test with its server
// paused; the cleanup must resume it, stop it and remove its files.
func TestClickHouseServerCleanupStopsPausedServer(t *testing.T) {
	t.Parallel()
	var dsn, dir string
	t.Run("paused", func(t *testing.T) {
		s := testenv.StartClickHouse(t)
		dsn, dir = s.DSN(), testenv.ClickHouseServerDir(s)
		s.Pause(t)
	})
	if dsn == "" {
		t.Skip("no server was started")
	}
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "the server's files are removed")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	// Refused, not hanging: the paused server was resumed and stopped.
	require.ErrorIs(t, chOpen(t, dsn).Ping(ctx), syscall.ECONNREFUSED)
}
