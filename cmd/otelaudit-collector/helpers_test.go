package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/otelcol"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// collector is where a test's collector listens.
type collector struct {
	grpc, http int
	queueDir   string // file_storage directory, "" for an in-memory queue
}

func newCollectorPorts(t testing.TB) collector {
	return collector{grpc: freePort(t), http: freePort(t)}
}

func (c collector) httpURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", c.http, path)
}

// configYAML is a distribution config writing to the given stores
// (either DSN may be empty). queue: "none" (a sender waits for the
// result), "memory" or "disk" (file_storage in c.queueDir).
func (c collector) configYAML(pgDSN, chDSN, queue, nonAudit string) string {
	var b strings.Builder
	if queue == "disk" {
		fmt.Fprintf(&b, "extensions:\n  file_storage:\n    directory: %s\n    fsync: true\n", c.queueDir)
	}
	fmt.Fprintf(&b, `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 1024
    spike_limit_mib: 256
exporters:
  otelaudit:
    non_audit: %s
    timeout: 20s
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
`, c.grpc, c.http, nonAudit)
	if pgDSN != "" {
		fmt.Fprintf(&b, "    postgres:\n      dsn: %q\n      migrate: true\n", pgDSN)
	}
	if chDSN != "" {
		fmt.Fprintf(&b, "    clickhouse:\n      dsn: %q\n      migrate: true\n", chDSN)
	}
	switch queue {
	case "none":
		b.WriteString("    sending_queue:\n      enabled: false\n")
	case "disk":
		b.WriteString("    sending_queue:\n      storage: file_storage\n      queue_size: 100000\n      sizer: items\n")
	}
	b.WriteString("service:\n")
	if queue == "disk" {
		b.WriteString("  extensions: [file_storage]\n")
	}
	b.WriteString(`  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [otelaudit]
`)
	return b.String()
}

func writeConfig(t testing.TB, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

// runInProcess runs the distribution in this process with the config at
// path until the test ends.
func runInProcess(t testing.TB, c collector, path string) {
	t.Helper()
	set := settings()
	set.ConfigProviderSettings.ResolverSettings.URIs = []string{"file:" + path}
	set.DisableGracefulShutdown = true
	col, err := otelcol.NewCollector(set)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- col.Run(context.Background()) }()
	t.Cleanup(func() {
		col.Shutdown()
		require.NoError(t, <-done)
	})
	waitListening(t, c)
	require.Eventually(t, func() bool { return col.GetState() == otelcol.StateRunning }, time.Minute, 20*time.Millisecond)
}

// waitListening waits until both OTLP ports accept connections.
func waitListening(t testing.TB, c collector) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, p := range []int{c.grpc, c.http} {
			conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second)
			if err != nil {
				return false
			}
			conn.Close()
		}
		return true
	}, time.Minute, 50*time.Millisecond, "collector listening")
}

func pgPool(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(ctxT(t), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func chConn(t testing.TB, dsn string) driver.Conn {
	t.Helper()
	opts, err := clickhouse.ParseDSN(dsn)
	require.NoError(t, err)
	conn, err := clickhouse.Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// pgRows returns every audit row of pool as text columns, by event id.
// The severity attributes the OTLP path adds are left out of attributes.
func pgRows(t testing.TB, pool *pgxpool.Pool) [][]any {
	t.Helper()
	rows, err := pool.Query(ctxT(t), `SELECT event_id::text, created_at, action, outcome, error_type, user_id, user_name,
		workspace_id, host(ip_address), user_agent, session_id, resource, resource_id,
		details::text, previous_value::text, new_value::text,
		NULLIF(attributes - 'log.severity_number' - 'log.severity_text', '{}'::jsonb)::text,
		trace_id, span_id, service_name, sanitized, observed_at
		FROM audit_logs ORDER BY event_id`)
	require.NoError(t, err)
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		require.NoError(t, err)
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

// chRows returns every audit row of conn (copies included), by event id.
// The severity attributes the OTLP path adds are left out.
func chRows(t testing.TB, conn driver.Conn) [][]any {
	t.Helper()
	rows, err := conn.Query(ctxT(t), `SELECT toString(event_id), time, time_ns, action, workspace_id, user_id, user_name,
		client_ip, user_agent, session_id, resource_type, resource_id, outcome, error_type, details, previous_value,
		new_value, attr_keys, attr_values, trace_id, span_id, service_name, sanitized
		FROM audit_logs ORDER BY event_id`)
	require.NoError(t, err)
	defer rows.Close()
	cts := rows.ColumnTypes()
	var out [][]any
	for rows.Next() {
		dst := make([]any, len(cts))
		for i, ct := range cts {
			dst[i] = reflect.New(ct.ScanType()).Interface()
		}
		require.NoError(t, rows.Scan(dst...))
		row := make([]any, len(dst))
		for i := range dst {
			row[i] = reflect.ValueOf(dst[i]).Elem().Interface()
		}
		keys, values := row[17].([]string), row[18].([]string)
		var k2, v2 []string
		for i, k := range keys {
			if k != "log.severity_number" && k != "log.severity_text" {
				k2, v2 = append(k2, k), append(v2, values[i])
			}
		}
		row[17], row[18] = k2, v2
		out = append(out, row)
	}
	require.NoError(t, rows.Err())
	return out
}

// pgCount returns the rows of the audit table and how many event ids
// have more than one.
func pgCount(t testing.TB, pool *pgxpool.Pool) (rows, dupIDs int) {
	t.Helper()
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT count(*), (SELECT count(*) FROM
		(SELECT event_id FROM audit_logs GROUP BY event_id HAVING count(*) > 1) d) FROM audit_logs`).Scan(&rows, &dupIDs))
	return rows, dupIDs
}

// chCount is pgCount for ClickHouse, counting stored copies (no FINAL).
func chCount(t testing.TB, conn driver.Conn) (rows, dupIDs uint64) {
	t.Helper()
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT count(), (SELECT count() FROM
		(SELECT event_id FROM audit_logs GROUP BY event_id HAVING count() > 1)) FROM audit_logs`).Scan(&rows, &dupIDs))
	return rows, dupIDs
}
