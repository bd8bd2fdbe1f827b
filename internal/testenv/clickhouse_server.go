//go:build linux

package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ClickHouseServer is a private ClickHouse server for one test, for fault
// tests that stop, restart, pause and resume the database; see
// [StartClickHouse]. Its methods fail the test on error (tb.Fatal), so call
// them from the test's goroutine; they are safe for concurrent use.
type ClickHouseServer struct {
	srv  *server
	name string // display_name in its config: tells it apart from other servers
}

// StartClickHouse starts a private ClickHouse server for tb on a free
// loopback port (native protocol only, no HTTP), with a fresh data
// directory and the configuration scripts/services.sh gives the shared
// server, and waits until it answers. The server is stopped and its files
// are removed when the test ends, whatever state the test left it in. When
// clickhouse-server is missing it skips tb, or fails it if [Required] is
// true.
func StartClickHouse(tb testing.TB) *ClickHouseServer {
	tb.Helper()
	bin, err := clickHouseServerBin()
	if err != nil {
		unavailable(tb, "private ClickHouse server: %v", err)
		return nil
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
	root, err := privateDir("otelaudit-ch-", nil)
	if err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
	s := &ClickHouseServer{name: "otelaudit-" + hex.EncodeToString(rnd[:])}
	stdoutLog := filepath.Join(root, "log", "stdout.log")
	s.srv = &server{
		kind:       "ClickHouse",
		root:       root,
		stopSignal: syscall.SIGTERM,
		logs:       []string{filepath.Join(root, "log", "clickhouse-server.err.log"), stdoutLog},
		launch: func(port int) (*process, error) {
			if err := writeClickHouseConfig(root, port, s.name); err != nil {
				return nil, err
			}
			return startProcess(bin, []string{"--config-file=" + filepath.Join(root, "config.xml")}, root, stdoutLog, nil)
		},
		probe: s.probe,
	}
	tb.Cleanup(func() { s.srv.cleanup(tb) })

	for _, d := range []string{"log", "data", "tmp", "user_files", "format_schemas"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			tb.Fatalf("testenv: private ClickHouse server: %v", err)
		}
	}
	if err := s.srv.firstStart(); err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
	return s
}

// probe pings the server on port over the native protocol and checks that
// it is this one (by the display name it reports in its hello).
func (s *ClickHouseServer) probe(ctx context.Context, port int) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:         []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))},
		DialTimeout:  2 * time.Second,
		MaxOpenConns: 1,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Ping(ctx); err != nil {
		return err
	}
	sv, err := conn.ServerVersion()
	if err != nil {
		return err
	}
	if sv.DisplayName != s.name {
		return fmt.Errorf("port %d is answered by another server (display name %q)", port, sv.DisplayName)
	}
	return nil
}

// DSN returns the native-protocol DSN of the server's "default" database as
// the user "default" (no password); [ClickHouseOptions] parses it. It stays
// the same across Stop and Start.
func (s *ClickHouseServer) DSN() string {
	return "clickhouse://default@127.0.0.1:" + strconv.Itoa(s.srv.currentPort()) + "/default"
}

// Stop shuts the server down with SIGTERM and waits for it to exit; after
// 30 s it kills it. A paused server is resumed first; a stopped one is left
// alone. Inserted data stays on disk, and connecting fails until
// [ClickHouseServer.Start].
func (s *ClickHouseServer) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.srv.stop(); err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
}

// Start starts a stopped server again, on the same port and with the same
// data, and waits until it answers (at most 60 s). A running or paused
// server is left alone.
func (s *ClickHouseServer) Start(tb testing.TB) {
	tb.Helper()
	if err := s.srv.start(); err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
}

// Pause freezes the server with SIGSTOP (its process, then any process
// below it) and returns once it is stopped. Queries on existing connections
// then hang, and so do new connections (the kernel accepts them; nobody
// answers). Pausing a paused server does nothing; pausing a stopped one
// fails the test.
func (s *ClickHouseServer) Pause(tb testing.TB) {
	tb.Helper()
	if err := s.srv.pause(); err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
}

// Resume continues a paused server with SIGCONT; queries that hung then
// proceed, unless their clients gave up meanwhile. Resuming a running
// server does nothing; resuming a stopped one fails the test.
func (s *ClickHouseServer) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.srv.resume(); err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
}

// ClickHouse configuration of private servers: what scripts/services.sh
// writes for the shared server (which ClickHouse 18.16 accepts), without the
// HTTP port, with a display name, and with poll_interval 1 (idle
// connections notice a shutdown within 1 s, not 10 s).
var (
	//go:embed clickhouse-config.xml.tmpl
	clickHouseConfigText string
	clickHouseConfig     = template.Must(template.New("config.xml").Funcs(template.FuncMap{"xml": xmlText}).Parse(clickHouseConfigText))
	//go:embed clickhouse-users.xml
	clickHouseUsers []byte
)

// writeClickHouseConfig writes config.xml and users.xml into dir.
func writeClickHouseConfig(dir string, port int, name string) error {
	var config bytes.Buffer
	err := clickHouseConfig.Execute(&config, struct {
		Dir  string
		Port int
		Name string
	}{dir, port, name})
	if err != nil {
		return fmt.Errorf("ClickHouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), config.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write ClickHouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), clickHouseUsers, 0o600); err != nil {
		return fmt.Errorf("write ClickHouse users: %w", err)
	}
	return nil
}

// xmlText escapes s for XML character data.
func xmlText(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}
