package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// config is what the demo runs.
type config struct {
	// Root is the repository's root directory; empty: found from the
	// working directory.
	Root string
	// Bin is where the collector and the Go services are built; empty:
	// a temporary directory. Given a directory of its own (make demo uses
	// bin/ of the repository), a rerun does not link them again.
	Bin string
	// PostgresDSN and ClickHouseDSN are the stores; the ClickHouse DSN's
	// database (default "default") holds the audit table.
	PostgresDSN, ClickHouseDSN string
	// Webportal, Backend and Node are the audit events of each service's
	// workload.
	Webportal, Backend, Node int
	// Seed is the workloads' random seed.
	Seed uint64
	// User is the user whose trail is shown.
	User string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Out receives the report; Live redraws the progress line in place.
	Out  io.Writer
	Live bool
}

// result is what the services reported and what the stores held.
type result struct {
	// Tallies are the services' own counts, by service and
	// "action/outcome".
	Tallies map[string]map[string]int
	// Total is the number of events the services recorded, and the number
	// of rows each store holds.
	Total int
}

// run is the demo: see the package documentation.
func run(ctx context.Context, cfg config) (res result, err error) {
	began := time.Now()
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	out := cfg.Out
	for name, n := range map[string]int{"webportal": cfg.Webportal, "backend": cfg.Backend, "node-service": cfg.Node} {
		if n < 1 {
			return res, fmt.Errorf("%s: a workload needs 1 event or more, not %d", name, n)
		}
	}
	root, err := findRoot(cfg.Root)
	if err != nil {
		return res, err
	}
	tmp, err := os.MkdirTemp("", "otelaudit-demo-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)

	bin := cfg.Bin
	if bin == "" {
		bin = tmp
	}

	// Build everything while the stores are migrated; each service starts
	// once it is built and the collector is up.
	step := func(format string, args ...any) func() {
		t := time.Now()
		fmt.Fprintf(out, "==> "+format+"\n", args...)
		return func() { fmt.Fprintf(out, "    done in %s\n", time.Since(t).Round(100*time.Millisecond)) }
	}
	done := step("migrating Postgres and ClickHouse; building the collector (cmd/otelaudit-collector), and webportal, backend and node-service alongside")
	bctx, stopBuilds := context.WithCancel(ctx)
	builds := startBuilds(bctx, root, bin)
	defer func() {
		stopBuilds()
		for _, b := range builds {
			<-b.done
		}
	}()
	st, err := openStores(ctx, cfg)
	if st != nil {
		defer st.close()
	}
	if err != nil {
		return res, err
	}
	if err := builds["collector"].wait(ctx); err != nil {
		return res, err
	}
	done()

	// The collector, on free loopback ports, with the example
	// configuration and a queue directory of its own.
	grpcAddr, err := freePort()
	if err != nil {
		return res, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return res, err
	}
	metricsAddr, err := freePort()
	if err != nil {
		return res, err
	}
	metricsHost, metricsPort, _ := strings.Cut(metricsAddr, ":")
	configPath := filepath.Join(root, "cmd", "otelaudit-collector", "config.yaml")
	done = step("starting the collector: OTLP on http://%s and grpc://%s, sending queue on disk, metrics on http://%s/metrics", httpAddr, grpcAddr, metricsAddr)
	// The collector's own metrics (its telemetry) go to a Prometheus
	// endpoint of this run, not to the default localhost:8888, which
	// another collector may hold.
	cmd := exec.Command(filepath.Join(bin, "otelaudit-collector"),
		"--config="+configPath,
		"--set=receivers::otlp::protocols::http::endpoint="+httpAddr,
		"--set=receivers::otlp::protocols::grpc::endpoint="+grpcAddr,
		fmt.Sprintf("--set=service::telemetry::metrics::readers=[{pull: {exporter: {prometheus: {host: %q, port: %s}}}}]", metricsHost, metricsPort))
	cmd.Env = append(serviceEnv(),
		"OTELAUDIT_POSTGRES_DSN="+cfg.PostgresDSN,
		"OTELAUDIT_CLICKHOUSE_DSN="+cfg.ClickHouseDSN,
		"OTELAUDIT_QUEUE_DIR="+filepath.Join(tmp, "queue"))
	collector, err := start("otelaudit-collector", cmd, nil)
	if err != nil {
		return res, err
	}
	defer func() {
		if serr := collector.stop(); serr != nil {
			err = errors.Join(err, collector.failure(serr))
		}
	}()
	endpoint := "http://" + httpAddr
	if err := waitReady(ctx, endpoint, collector); err != nil {
		return res, err
	}
	done()

	// The services' workloads, at once.
	services := []*service{
		{name: "webportal", events: cfg.Webportal, cmd: exec.Command(filepath.Join(bin, "webportal"),
			"-workload", strconv.Itoa(cfg.Webportal), "-seed", strconv.FormatUint(cfg.Seed, 10))},
		{name: "backend", events: cfg.Backend, cmd: exec.Command(filepath.Join(bin, "backend"),
			"-workload", strconv.Itoa(cfg.Backend), "-seed", strconv.FormatUint(cfg.Seed, 10))},
		{name: "node-service", events: cfg.Node, cmd: exec.Command("node", "dist/main.js",
			"--workload", strconv.Itoa(cfg.Node), "--seed", strconv.FormatUint(cfg.Seed, 10))},
	}
	services[2].cmd.Dir = filepath.Join(root, "examples", "node-service")
	want := cfg.Webportal + cfg.Backend + cfg.Node
	done = step("loading: %d audit events from webportal (Go, %d), backend (Go, slog, %d) and node-service (TypeScript, %d) through the collector; each starts once built",
		want, cfg.Webportal, cfg.Backend, cfg.Node)
	for _, s := range services {
		s.cmd.Env = append(serviceEnv(), "OTEL_EXPORTER_OTLP_ENDPOINT="+endpoint, "OTEL_SERVICE_NAME="+s.name)
		s.build = builds[s.name]
		defer func() {
			if s.proc != nil {
				s.proc.stop()
			}
		}()
	}
	if err := load(ctx, cfg, st, services, want, "http://"+metricsAddr+"/metrics"); err != nil {
		return res, err
	}
	done()

	res = result{Tallies: map[string]map[string]int{}, Total: want}
	for _, s := range services {
		res.Tallies[s.name] = s.summary()
	}
	if err := report(ctx, out, st, res, cfg.User, began); err != nil {
		return res, err
	}

	done = step("stopping the collector and cleaning up")
	if serr := collector.stop(); serr != nil {
		return res, collector.failure(serr)
	}
	done()
	fmt.Fprintf(out, "\ndemo: %d audit events from 3 services through the collector into Postgres and ClickHouse, in %s\n",
		want, time.Since(began).Round(100*time.Millisecond))
	return res, nil
}

// serviceEnv is the environment of the processes the demo starts: its own,
// without the OTEL_ variables, which the demo sets.
func serviceEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady waits until the collector accepts an empty OTLP/HTTP export.
func waitReady(ctx context.Context, endpoint string, collector *proc) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/v1/logs", strings.NewReader("{}"))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-collector.exited:
			return collector.failure(fmt.Errorf("exited before accepting OTLP: %v", collector.err))
		case <-ctx.Done():
			return collector.failure(fmt.Errorf("not accepting OTLP/HTTP: %w", ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stores are the connections the demo reads back through.
type stores struct {
	pool   *pgxpool.Pool
	ch     driver.Conn
	schema chschema.Options
	layout chschema.Layout
}

func (s *stores) close() {
	if s.pool != nil {
		s.pool.Close()
	}
	if s.ch != nil {
		s.ch.Close()
	}
}

// openStores connects to both stores, creates or upgrades their tables
// (the collector's configuration migrates too; then there is nothing left
// to do), and checks that both are empty.
func openStores(ctx context.Context, cfg config) (*stores, error) {
	st := &stores{}
	var err error
	if st.pool, err = pgxpool.New(ctx, cfg.PostgresDSN); err != nil {
		return st, fmt.Errorf("postgres: %w", err)
	}
	if _, err := pgschema.Migrate(ctx, st.pool, pgschema.Options{}); err != nil {
		return st, fmt.Errorf("postgres: migrate: %w", err)
	}
	opts, err := clickhouse.ParseDSN(cfg.ClickHouseDSN)
	if err != nil {
		return st, fmt.Errorf("clickhouse: %w", err)
	}
	if st.ch, err = clickhouse.Open(opts); err != nil {
		return st, fmt.Errorf("clickhouse: %w", err)
	}
	st.schema = chschema.Options{Database: opts.Auth.Database}
	if st.schema.Database == "" {
		st.schema.Database = "default"
	}
	if st.layout, err = chschema.Migrate(ctx, st.ch, st.schema); err != nil {
		return st, fmt.Errorf("clickhouse: migrate: %w", err)
	}
	// Every check of the demo counts all the rows.
	pg, ch, err := st.counts(ctx)
	if err != nil {
		return st, err
	}
	if pg != 0 || ch != 0 {
		return st, fmt.Errorf("the audit tables already hold rows (postgres %d, clickhouse %d); the demo needs empty ones: use throwaway servers (make demo) or empty databases", pg, ch)
	}
	return st, nil
}

// counts returns the rows of both audit tables.
func (s *stores) counts(ctx context.Context) (pg, ch int, err error) {
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs`).Scan(&pg); err != nil {
		return 0, 0, fmt.Errorf("postgres: count: %w", err)
	}
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM `%s`.`audit_logs`", s.schema.Database)
	if err := s.ch.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, 0, fmt.Errorf("clickhouse: count: %w", err)
	}
	return pg, int(n), nil
}

// service is one example service running its workload.
type service struct {
	name   string
	events int
	cmd    *exec.Cmd
	build  *build
	proc   *proc // once started

	sent  atomic.Int64 // events the service has recorded so far
	mu    sync.Mutex
	tally map[string]int // its summary, once printed
}

var (
	// progressPattern finds the progress lines of the three services:
	// "... (400/4000 events)" and backend's "done=400 of=4000".
	progressPattern = regexp.MustCompile(`\((\d+)/\d+ events\)|\bdone=(\d+) of=\d+`)
	// tallyPattern finds "action/outcome=N" in the Go services' summary.
	tallyPattern = regexp.MustCompile(`\b([a-z_]+/(?:success|failure))=(\d+)`)
)

// line reads one line of the service's output: progress, or its summary
// (webportal: "webportal: workload: ...", backend: msg="workload
// processed" ..., node-service: "workload done {json}").
func (s *service) line(l string) {
	if m := progressPattern.FindStringSubmatch(l); m != nil {
		n, _ := strconv.Atoi(m[1] + m[2])
		s.sent.Store(int64(n))
		return
	}
	tally := map[string]int{}
	switch {
	case strings.Contains(l, "webportal: workload:"), strings.Contains(l, `msg="workload processed"`):
		for _, m := range tallyPattern.FindAllStringSubmatch(l, -1) {
			tally[m[1]], _ = strconv.Atoi(m[2])
		}
	case strings.Contains(l, "workload done {"):
		var summary struct {
			Tally map[string]int `json:"tally"`
		}
		if json.Unmarshal([]byte(l[strings.Index(l, "{"):]), &summary) != nil {
			return
		}
		tally = summary.Tally
	default:
		return
	}
	n := 0
	for _, v := range tally {
		n += v
	}
	s.sent.Store(int64(n))
	s.mu.Lock()
	s.tally = tally
	s.mu.Unlock()
}

// summary returns the service's tally, nil before its summary line.
func (s *service) summary() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tally
}
