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
	"net/url"
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
// server (and what opts add), and waits until it answers. The server is
// stopped and its files are removed when the test ends, whatever state the
// test left it in. When clickhouse-server is missing it skips tb, or fails
// it if [Required] is true.
func StartClickHouse(tb testing.TB, opts ...ClickHouseOption) *ClickHouseServer {
	tb.Helper()
	var cfg clickHouseOptions
	for _, o := range opts {
		if o != nil {
			cfg = o.apply(cfg)
		}
	}
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
			if err := writeClickHouseConfig(root, port, s.name, cfg); err != nil {
				return nil, err
			}
			return startProcess(bin, []string{"--config-file=" + filepath.Join(root, "config.xml")}, root, stdoutLog, nil)
		},
		probe:     s.probe,
		fixedPort: cfg.port,
	}
	tb.Cleanup(func() { s.srv.cleanup(tb) })

	for _, d := range []string{"log", "data", "tmp", "user_files", "format_schemas", "users.d", "config.d"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			tb.Fatalf("testenv: private ClickHouse server: %v", err)
		}
	}
	for _, f := range cfg.usersFiles {
		if err := os.WriteFile(filepath.Join(root, "users.d", f.name), f.content, 0o600); err != nil {
			tb.Fatalf("testenv: private ClickHouse server: %v", err)
		}
	}
	if err := s.srv.firstStart(); err != nil {
		tb.Fatalf("testenv: private ClickHouse server: %v", err)
	}
	return s
}

// ClickHouseOption configures a private server of [StartClickHouse].
type ClickHouseOption interface {
	apply(clickHouseOptions) clickHouseOptions
}

type clickHouseOptions struct {
	usersFiles  []usersFile
	configFiles []configFile
	listen      []string
	port        int // reserved by StartClickHouseCluster; 0: pick one
}

type configFile struct {
	name    string
	content func(port int) []byte
}

type usersFile struct {
	name    string
	content []byte
}

type clickHouseOptionFunc func(clickHouseOptions) clickHouseOptions

func (f clickHouseOptionFunc) apply(o clickHouseOptions) clickHouseOptions { return f(o) }

// WithUsersFile adds a file to the server's users.d directory, under the
// base name of name (which should end in .xml); ClickHouse merges it into
// its users configuration: profiles and users of a test's own, next to the
// password-less "default" user.
func WithUsersFile(name string, content []byte) ClickHouseOption {
	return clickHouseOptionFunc(func(o clickHouseOptions) clickHouseOptions {
		o.usersFiles = append(o.usersFiles, usersFile{name: filepath.Base(name), content: content})
		return o
	})
}

// WithConfigFile adds a file to the server's config.d directory, under the
// base name of name, which ClickHouse merges into its configuration (such
// as remote_servers); content gets the server's native port, and is
// written again when the server starts on another port.
func WithConfigFile(name string, content func(port int) []byte) ClickHouseOption {
	return clickHouseOptionFunc(func(o clickHouseOptions) clickHouseOptions {
		o.configFiles = append(o.configFiles, configFile{name: filepath.Base(name), content: content})
		return o
	})
}

// WithListenHost makes the server listen on addr (a loopback address such
// as 127.0.0.2) as well as on 127.0.0.1, on the same port.
func WithListenHost(addr string) ClickHouseOption {
	return clickHouseOptionFunc(func(o clickHouseOptions) clickHouseOptions {
		o.listen = append(o.listen, addr)
		return o
	})
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
	return s.DSNAs("default", "default")
}

// DSNAs returns the native-protocol DSN of database as user, without a
// password (a user of a [WithUsersFile] file).
func (s *ClickHouseServer) DSNAs(user, database string) string {
	return "clickhouse://" + url.User(user).String() + "@127.0.0.1:" + strconv.Itoa(s.srv.currentPort()) + "/" + url.PathEscape(database)
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

// writeClickHouseConfig writes config.xml, users.xml and the config.d
// files of cfg into dir.
func writeClickHouseConfig(dir string, port int, name string, cfg clickHouseOptions) error {
	var config bytes.Buffer
	err := clickHouseConfig.Execute(&config, struct {
		Dir    string
		Port   int
		Name   string
		Listen []string
	}{dir, port, name, cfg.listen})
	if err != nil {
		return fmt.Errorf("ClickHouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), config.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write ClickHouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), clickHouseUsers, 0o600); err != nil {
		return fmt.Errorf("write ClickHouse users: %w", err)
	}
	for _, f := range cfg.configFiles {
		if err := os.WriteFile(filepath.Join(dir, "config.d", f.name), f.content(port), 0o600); err != nil {
			return fmt.Errorf("write ClickHouse config: %w", err)
		}
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
