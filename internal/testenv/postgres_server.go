//go:build linux

package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// postgresConf is appended to the postgresql.conf that initdb writes: a
// fast, non-durable server on loopback TCP only, like the shared test server
// of scripts/services.sh but smaller. The port is given on the command line.
const postgresConf = `
# --- internal/testenv: a private throwaway server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
log_min_messages = warning
`

// PostgresServer is a private PostgreSQL server for one test, for fault
// tests that stop, restart, pause and resume the database; see
// [StartPostgres]. Its methods fail the test on error (tb.Fatal), so call
// them from the test's goroutine; they are safe for concurrent use.
type PostgresServer struct {
	srv  *server
	bin  string // directory of initdb and postgres
	data string // the data directory
	cred *syscall.Credential
}

// StartPostgres starts a private PostgreSQL server for tb on a free
// loopback port, with a fresh data directory, and waits until it answers.
// The server is stopped and its files are removed when the test ends,
// whatever state the test left it in. When the server binaries are missing
// it skips tb, or fails it if [Required] is true.
//
// As root, the server runs as the "postgres" user (PostgreSQL refuses to
// run as root); otherwise as the current user.
func StartPostgres(tb testing.TB) *PostgresServer {
	tb.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		unavailable(tb, "private Postgres server: %v", err)
		return nil
	}
	cred, err := postgresCredential()
	if err != nil {
		unavailable(tb, "private Postgres server: %v", err)
		return nil
	}
	root, err := privateDir("otelaudit-pg-", cred)
	if err != nil {
		tb.Fatalf("testenv: private Postgres server: %v", err)
	}
	s := &PostgresServer{bin: bin, data: filepath.Join(root, "data"), cred: cred}
	logPath := filepath.Join(root, "postgres.log")
	s.srv = &server{
		kind:       "Postgres",
		root:       root,
		stopSignal: syscall.SIGINT, // fast shutdown
		logs:       []string{logPath},
		launch: func(port int) (*process, error) {
			return startProcess(filepath.Join(bin, "postgres"), []string{"-D", s.data, "-p", strconv.Itoa(port)}, root, logPath, cred)
		},
		probe: s.probe,
	}
	tb.Cleanup(func() { s.srv.cleanup(tb) })

	if err := s.initdb(); err != nil {
		tb.Fatalf("testenv: private Postgres server: %v", err)
	}
	if err := s.srv.firstStart(); err != nil {
		tb.Fatalf("testenv: private Postgres server: %v", err)
	}
	return s
}

// initdb creates the data directory.
func (s *PostgresServer) initdb() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "initdb"),
		"-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = s.srv.root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(s.data, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	if _, err := f.WriteString(postgresConf); err != nil {
		_ = f.Close()
		return fmt.Errorf("configure: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}

// probe connects to the server on port and checks that it is this one (by
// its data directory), not another server that took the port.
func (s *PostgresServer) probe(ctx context.Context, port int) error {
	cfg, err := pgx.ParseConfig(postgresDSN(port))
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		return err
	}
	if filepath.Clean(dir) != filepath.Clean(s.data) {
		return fmt.Errorf("port %d is answered by another server (data directory %s)", port, dir)
	}
	return nil
}

func postgresDSN(port int) string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
}

// DSN returns the pgx URL of the server's "postgres" database as the
// superuser "postgres" (no password). It stays the same across Stop and
// Start.
func (s *PostgresServer) DSN() string {
	return postgresDSN(s.srv.currentPort())
}

// Stop shuts the server down with a fast shutdown (SIGINT: open
// transactions roll back, every connection is closed) and waits for it to
// exit; after 30 s it kills its processes. A paused server is resumed
// first; a stopped one is left alone. Committed data stays on disk, and
// connecting fails until [PostgresServer.Start].
func (s *PostgresServer) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.srv.stop(); err != nil {
		tb.Fatalf("testenv: private Postgres server: %v", err)
	}
}

// Start starts a stopped server again, on the same port and with the same
// data, and waits until it answers (at most 60 s). A running or paused
// server is left alone.
func (s *PostgresServer) Start(tb testing.TB) {
	tb.Helper()
	if err := s.srv.start(); err != nil {
		tb.Fatalf("testenv: private Postgres server: %v", err)
	}
}

// Pause freezes the server with SIGSTOP: the postmaster first, then every
// process below it (backends, checkpointer, ...). It returns once all of
// them are stopped. Queries on existing connections then hang, and so do
// new connections (the kernel accepts them; nobody answers). Pausing a
// paused server does nothing; pausing a stopped one fails the test.
func (s *PostgresServer) Pause(tb testing.TB) {
	tb.Helper()
	if err := s.srv.pause(); err != nil {
		tb.Fatalf("testenv: private Postgres server: %v", err)
	}
}

// Resume continues a paused server's processes with SIGCONT; queries that
// hung then proceed, unless their clients gave up meanwhile. Resuming a
// running server does nothing; resuming a stopped one fails the test.
func (s *PostgresServer) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.srv.resume(); err != nil {
		tb.Fatalf("testenv: private Postgres server: %v", err)
	}
}
