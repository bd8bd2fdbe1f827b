package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// freeAddr returns a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// collectorConfigFor rewrites collector.yaml for a test: the stores' DSNs,
// loopback receiver addresses and a queue directory of the test's own;
// everything else as compose runs it.
func collectorConfigFor(t *testing.T, pgDSN, chDSN, grpcAddr, httpAddr, queueDir string) string {
	t.Helper()
	b, err := os.ReadFile("collector.yaml")
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(b, &cfg))
	get := func(m any, keys ...string) map[string]any {
		for _, k := range keys {
			m = m.(map[string]any)[k]
		}
		return m.(map[string]any)
	}
	get(cfg, "extensions", "file_storage")["directory"] = queueDir
	get(cfg, "receivers", "otlp", "protocols", "grpc")["endpoint"] = grpcAddr
	get(cfg, "receivers", "otlp", "protocols", "http")["endpoint"] = httpAddr
	get(cfg, "exporters", "otelaudit", "postgres")["dsn"] = pgDSN
	get(cfg, "exporters", "otelaudit", "clickhouse")["dsn"] = chDSN
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "collector.yaml")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

// logWriter passes a process's output to the test log, line by line, and
// keeps it.
type logWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    bytes.Buffer
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix, l)
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runWorkload runs a service's workload against the collector and returns
// its output.
func runWorkload(t *testing.T, name, endpoint string, cmd *exec.Cmd) string {
	t.Helper()
	out := &logWriter{t: t, prefix: name + ":"}
	cmd.Stdout, cmd.Stderr = out, out
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint, "OTEL_SERVICE_NAME="+name)
	require.NoError(t, cmd.Run(), "%s workload", name)
	return out.String()
}

// tallyPattern finds "action/outcome=N" in a Go service's summary line.
var tallyPattern = regexp.MustCompile(`([a-z_]+/(?:success|failure))=(\d+)`)

func goTally(t *testing.T, output, marker string) map[string]int {
	t.Helper()
	for _, line := range strings.Split(output, "\n") {
		if !strings.Contains(line, marker) {
			continue
		}
		tally := map[string]int{}
		for _, m := range tallyPattern.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.Atoi(m[2])
			tally[m[1]] = n
		}
		return tally
	}
	t.Fatalf("no %q line in the output", marker)
	return nil
}

// buildNode compiles examples/node-service, as its own test does; without
// Node.js the test is skipped, or fails where services are required.
func buildNode(t *testing.T) {
	t.Helper()
	script := filepath.Join(root, "scripts", "node-service.sh")
	if exec.Command(script, "check").Run() != nil && !testenv.Required() {
		t.Skip("node and npm are not on the PATH")
	}
	out, err := exec.Command(script, "build").CombinedOutput()
	require.NoError(t, err, "%s build:\n%s", script, out)
}

// The whole pipeline of docker-compose.yml, without Docker: the three
// example services send their workloads as OTLP to the distribution running
// with collector.yaml, which stores every event exactly once in Postgres and
// in ClickHouse, the tables created at start (migrate: true).
func TestServicesThroughTheCollector(t *testing.T) {
	bin := buildCollector(t)
	pgDSN := testenv.PostgresDSN(t)
	chDSN, chDB := testenv.ClickHouseDSN(t)
	buildNode(t)

	grpcAddr, httpAddr := freeAddr(t), freeAddr(t)
	cfg := collectorConfigFor(t, pgDSN, chDSN, grpcAddr, httpAddr, t.TempDir())
	// No telemetry endpoint: the default (localhost:8888) may be taken by
	// another collector on the machine, a demo or a test running alongside.
	collector := exec.Command(bin, "--config="+cfg, "--set=service::telemetry::metrics::level=none")
	collector.Stdout = &logWriter{t: t, prefix: "collector:"}
	collector.Stderr = collector.Stdout
	require.NoError(t, collector.Start())
	exited := make(chan error, 1)
	go func() { exited <- collector.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = collector.Process.Kill()
			<-exited
		}
	})

	// Healthy as compose sees it: an empty OTLP/HTTP export is accepted.
	endpoint := "http://" + httpAddr
	require.Eventually(t, func() bool {
		resp, err := http.Post(endpoint+"/v1/logs", "application/json", strings.NewReader("{}"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 200*time.Millisecond, "the collector does not accept OTLP/HTTP")

	want := map[string]map[string]int{}
	goRun := func(dir string, args ...string) *exec.Cmd {
		cmd := exec.Command("go", append([]string{"run", "."}, args...)...)
		cmd.Dir = filepath.Join(root, "examples", dir)
		return cmd
	}
	out := runWorkload(t, "webportal", endpoint, goRun("webportal", "-workload", "300", "-seed", "2"))
	want["webportal"] = goTally(t, out, "webportal: workload:")
	out = runWorkload(t, "backend", endpoint, goRun("backend", "-workload", "200", "-seed", "2"))
	want["backend"] = goTally(t, out, `msg="workload processed"`)
	node := exec.Command("node", "dist/main.js", "--workload", "300", "--seed", "2")
	node.Dir = filepath.Join(root, "examples", "node-service")
	out = runWorkload(t, "node-service", endpoint, node)
	i := strings.Index(out, "workload done ")
	require.GreaterOrEqual(t, i, 0, "node-service summary")
	var summary struct {
		Tally map[string]int `json:"tally"`
	}
	require.NoError(t, json.NewDecoder(strings.NewReader(out[i+len("workload done "):])).Decode(&summary))
	want["node-service"] = summary.Tally

	total := 0
	for svc, tally := range want {
		n := 0
		for _, c := range tally {
			n += c
		}
		require.Equal(t, map[string]int{"webportal": 300, "backend": 200, "node-service": 300}[svc], n, "%s tally", svc)
		total += n
	}

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgDSN)
	require.NoError(t, err)
	defer pool.Close()
	chOpts, err := testenv.ClickHouseOptions(chDSN)
	require.NoError(t, err)
	ch, err := clickhouse.Open(chOpts)
	require.NoError(t, err)
	defer ch.Close()

	// Wait until both stores hold every event, then compare exactly.
	pgCount := func() (int, int) {
		var n, distinct int
		if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id) FROM audit_logs`).Scan(&n, &distinct); err != nil {
			return -1, -1
		}
		return n, distinct
	}
	chCount := func() (uint64, uint64) {
		var n, distinct uint64
		q := fmt.Sprintf("SELECT count(), uniqExact(event_id) FROM `%s`.audit_logs", chDB)
		if err := ch.QueryRow(ctx, q).Scan(&n, &distinct); err != nil {
			return 0, 0
		}
		return n, distinct
	}
	require.Eventually(t, func() bool {
		n, _ := pgCount()
		c, _ := chCount()
		return n >= total && c >= uint64(total)
	}, 2*time.Minute, 250*time.Millisecond, "not every event reached both stores")
	n, distinct := pgCount()
	assert.Equal(t, total, n, "Postgres: every event once")
	assert.Equal(t, total, distinct)
	c, cd := chCount()
	assert.Equal(t, uint64(total), c, "ClickHouse: every event once")
	assert.Equal(t, uint64(total), cd)

	// By service, action and outcome, in both stores.
	gotPG := map[string]map[string]int{}
	rows, err := pool.Query(ctx, `SELECT service_name, action, outcome, count(*) FROM audit_logs GROUP BY 1, 2, 3`)
	require.NoError(t, err)
	for rows.Next() {
		var svc, action, outcome string
		var k int
		require.NoError(t, rows.Scan(&svc, &action, &outcome, &k))
		if gotPG[svc] == nil {
			gotPG[svc] = map[string]int{}
		}
		gotPG[svc][action+"/"+outcome] = k
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, want, gotPG, "Postgres rows by service, action and outcome")

	gotCH := map[string]map[string]int{}
	chRows, err := ch.Query(ctx, fmt.Sprintf("SELECT service_name, action, outcome, count() FROM `%s`.audit_logs GROUP BY service_name, action, outcome", chDB))
	require.NoError(t, err)
	for chRows.Next() {
		var svc, action, outcome string
		var k uint64
		require.NoError(t, chRows.Scan(&svc, &action, &outcome, &k))
		if gotCH[svc] == nil {
			gotCH[svc] = map[string]int{}
		}
		gotCH[svc][action+"/"+outcome] = int(k)
	}
	require.NoError(t, chRows.Err())
	assert.Equal(t, want, gotCH, "ClickHouse rows by service, action and outcome")

	// One user's trail spans the three services, with structured details.
	var services []string
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT array_agg(DISTINCT service_name ORDER BY service_name) FROM audit_logs WHERE user_id = 'u-ada'`).Scan(&services))
	assert.Equal(t, []string{"backend", "node-service", "webportal"}, services)
	var detailsType string
	require.NoError(t, pool.QueryRow(ctx,
		`SELECT jsonb_typeof(details->'billing'->'seats') FROM audit_logs WHERE service_name = 'node-service' AND action = 'subscription_created' AND outcome = 'success' LIMIT 1`).Scan(&detailsType))
	assert.Equal(t, "number", detailsType, "details keep their types through OTLP JSON and the collector")

	// The collector stops cleanly.
	require.NoError(t, collector.Process.Signal(syscall.SIGTERM))
	stopped = true
	select {
	case err := <-exited:
		assert.NoError(t, err, "collector exit status")
	case <-time.After(time.Minute):
		t.Fatal("the collector did not stop")
	}
}
