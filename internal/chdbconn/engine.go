//go:build chdb

package chdbconn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"
)

var (
	// ErrEngineOpen is returned by [Open] while another Engine of this
	// process is open.
	ErrEngineOpen = errors.New("chdbconn: an engine is already open in this process")
	// ErrClosed is returned by queries on a closed Engine.
	ErrClosed = errors.New("chdbconn: engine closed")
	// ErrUnsupported is returned by the driver.Conn methods this adapter
	// does not implement.
	ErrUnsupported = errors.New("chdbconn: not supported")
)

// openEngine guards the one engine a process may hold.
var openEngine struct {
	sync.Mutex
	open bool
}

// Engine is the process's chDB engine. Its methods are safe for
// concurrent use; queries run one at a time.
type Engine struct {
	dir string

	mu      sync.Mutex // one query at a time; guards what follows
	conn    chdbpurego.ChdbConn
	current string // database of the last USE
	seq     int    // names the files of batches
	version *driver.ServerVersion
}

// Open starts the engine with its data in a new directory under dir (""
// means os.TempDir()), sets its session time zone to UTC, and reads its
// version. Close removes that directory.
func Open(dir string) (*Engine, error) {
	openEngine.Lock()
	defer openEngine.Unlock()
	if openEngine.open {
		return nil, ErrEngineOpen
	}
	data, err := os.MkdirTemp(dir, "otelaudit-chdb-")
	if err != nil {
		return nil, fmt.Errorf("chdbconn: data directory: %w", err)
	}
	conn, err := chdbpurego.NewConnection(1, []string{"--path=" + data})
	if err != nil {
		_ = os.RemoveAll(data)
		return nil, fmt.Errorf("chdbconn: start engine: %w", err)
	}
	e := &Engine{dir: data, conn: conn}
	if err := e.start(); err != nil {
		conn.Close()
		_ = os.RemoveAll(data)
		return nil, err
	}
	openEngine.open = true
	return e, nil
}

func (e *Engine) start() error {
	// Connection-time settings are ignored by chDB: the session's are set
	// with SET, and last for the engine's life.
	if _, err := e.query("SET session_timezone = 'UTC'", "Null"); err != nil {
		return fmt.Errorf("chdbconn: set time zone: %w", err)
	}
	out, err := e.query("SELECT version()", "TabSeparated")
	if err != nil {
		return fmt.Errorf("chdbconn: version: %w", err)
	}
	v, err := parseVersion(strings.TrimSpace(string(out)))
	if err != nil {
		return err
	}
	e.version = v
	return nil
}

// parseVersion turns "26.5.3.1" into a server version as the native
// handshake reports it.
func parseVersion(s string) (*driver.ServerVersion, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 3 {
		return nil, fmt.Errorf("chdbconn: unexpected version %q", s)
	}
	var n [3]uint64
	for i := range n {
		x, err := strconv.ParseUint(parts[i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("chdbconn: unexpected version %q: %w", s, err)
		}
		n[i] = x
	}
	v := &driver.ServerVersion{Name: "ClickHouse", DisplayName: "chDB", Timezone: time.UTC}
	v.Version.Major, v.Version.Minor, v.Version.Patch = n[0], n[1], n[2]
	return v, nil
}

// Version returns the engine's ClickHouse version, as ServerVersion of
// its connections does.
func (e *Engine) Version() driver.ServerVersion { return *e.version }

// Close stops the engine and removes its data. Later queries return
// [ErrClosed]; closing again does nothing.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil
	}
	e.conn.Close()
	e.conn = nil
	openEngine.Lock()
	openEngine.open = false
	openEngine.Unlock()
	if err := os.RemoveAll(e.dir); err != nil {
		return fmt.Errorf("chdbconn: remove data: %w", err)
	}
	return nil
}

// Conn returns a connection whose current database is database (""
// means "default").
func (e *Engine) Conn(database string) *Conn {
	if database == "" {
		database = "default"
	}
	return &Conn{engine: e, database: database}
}

// run runs one query in database with output format, under the engine's
// lock, switching the current database first when needed.
func (e *Engine) run(ctx context.Context, database, sql, format string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil, ErrClosed
	}
	if database != e.current {
		if _, err := e.query("USE "+quoteIdent(database), "Null"); err != nil {
			return nil, err
		}
		e.current = database
	}
	return e.query(sql, format)
}

// query runs sql with the lock held and returns a copy of its output.
func (e *Engine) query(sql, format string) ([]byte, error) {
	res, err := e.conn.Query(sql, format)
	if err != nil {
		return nil, asException(err)
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	if err := res.Error(); err != nil {
		return nil, asException(err)
	}
	return append([]byte(nil), res.Buf()...), nil
}

// nextFile returns a new file name in the engine's directory for a batch.
func (e *Engine) nextFile() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return fmt.Sprintf("%s/batch-%d.native", e.dir, e.seq)
}

// exceptionText matches chDB's error text: "Code: 60. DB::Exception: ...".
var exceptionText = regexp.MustCompile(`(?s)^\s*Code:\s*(\d+)\.\s*(DB::Exception):\s*(.*?)\s*$`)

// asException returns err as a *clickhouse.Exception when its text is a
// server exception, as the native protocol reports them.
func asException(err error) error {
	m := exceptionText.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("chdbconn: %w", err)
	}
	code, convErr := strconv.ParseInt(m[1], 10, 32)
	if convErr != nil {
		return fmt.Errorf("chdbconn: %w", err)
	}
	ex := &clickhouse.Exception{Code: int32(code), Name: m[2], Message: m[3]}
	if i := strings.LastIndex(ex.Message, " ("); i >= 0 && strings.HasSuffix(ex.Message, ")") {
		ex.CodeName = ex.Message[i+2 : len(ex.Message)-1]
	}
	return ex
}

// quoteIdent quotes a ClickHouse identifier with backquotes.
func quoteIdent(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

// quoteString returns s as a ClickHouse string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
