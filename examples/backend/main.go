// Command backend is a worker in the style of a chat-app backend (a Slack
// app's): it processes OAuth installs and uninstalls and billing events, and
// writes its audit trail with log/slog through the bridge's slog handler.
// The records leave as OTLP logs through the SDK's otlploghttp exporter,
// configured by the standard environment variables, to an OpenTelemetry
// Collector (the otelaudit distribution, cmd/otelaudit-collector, stores
// them in Postgres and ClickHouse):
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=backend \
//		go run .
//
// Jobs arrive as JSON on POST /events and are processed by a pool of
// workers; each records exactly one audit event: oauth_connected (or its
// failure), oauth_disconnected, subscription_created (or its failure),
// subscription_cancelled. With -workload N it makes up N jobs across four
// workspaces, processes them, sends the records and exits. README.md shows
// both.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/otelaudit/otelaudit/bridge"
)

// config is what the flags and environment variables set.
type config struct {
	addr        string
	workers     int
	workload    int    // jobs to make up and process, then exit; 0: serve
	seed        uint64 // the workload's random seed
	healthcheck bool   // probe a running backend and exit
	verbose     bool   // log every processed job

	// listening, when set, is called with the listener's address once the
	// backend serves; workloadDone with what the workload recorded.
	listening    func(net.Addr)
	workloadDone func(Tally)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	addr := getenv("BACKEND_ADDR")
	if addr == "" {
		addr = ":8081"
	}
	fs.StringVar(&cfg.addr, "addr", addr, "address to take jobs on (env BACKEND_ADDR)")
	fs.IntVar(&cfg.workers, "workers", 4, "jobs processed at once")
	workload := 0
	if v := getenv("BACKEND_WORKLOAD"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return cfg, fmt.Errorf("BACKEND_WORKLOAD=%q: not a number", v)
		}
		workload = n
	}
	fs.IntVar(&cfg.workload, "workload", workload, "make up this many jobs (one audit event each), process them, send the records and exit (env BACKEND_WORKLOAD)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed of the workload")
	fs.BoolVar(&cfg.healthcheck, "healthcheck", false, "ask the backend at -addr for /healthz and exit 0 when it answers (for container health checks)")
	fs.BoolVar(&cfg.verbose, "v", false, "log every processed job")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.workload < 0 || cfg.workers < 1 {
		return cfg, errors.New("-workload must be 0 or more and -workers 1 or more")
	}
	return cfg, nil
}

// shutdownTimeout bounds how long the backend waits, at exit, for the
// records it still holds to be sent.
const shutdownTimeout = 30 * time.Second

// maxJobBytes bounds a job's JSON.
const maxJobBytes = 64 << 10

// run takes jobs until ctx ends (or, with a workload, until the workload is
// processed), then processes the queued jobs and sends the records still
// held. Its own log goes to logw.
func run(ctx context.Context, cfg config, logw io.Writer) (err error) {
	if cfg.healthcheck {
		return healthcheck(ctx, cfg.addr)
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	ops := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level}))

	lp, err := newLoggerProvider(ctx)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if serr := lp.Shutdown(sctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("sending the last audit records: %w", serr))
		}
	}()
	auditor := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) {
		ops.Error("audit event refused", "err", err)
	}))
	w := worker{audit: slog.New(bridge.NewSlogHandler(auditor)), ops: ops}
	defer func() {
		st := auditor.Stats()
		ops.Info("audit events", "emitted", st.Emitted, "rejected", st.Rejected)
	}()

	if cfg.workload > 0 {
		start := time.Now()
		p := startPool(ctx, w, cfg.workers, 1024)
		tally := makeWorkload(cfg.workload, cfg.seed, func(j Job) { p.jobs <- j }, ops)
		p.close()
		ops.Info("workload processed", "events", tally.Total(), "took", time.Since(start).Round(time.Millisecond), "by_action", tally.String())
		if cfg.workloadDone != nil {
			cfg.workloadDone(tally)
		}
		return nil
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	p := startPool(context.WithoutCancel(ctx), w, cfg.workers, 1024)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /events", func(rw http.ResponseWriter, r *http.Request) {
		var j Job
		dec := json.NewDecoder(io.LimitReader(r.Body, maxJobBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			http.Error(rw, "bad job: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := j.validate(); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case p.jobs <- j:
			rw.WriteHeader(http.StatusAccepted)
		case <-r.Context().Done():
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ops.Info("taking jobs", "url", "http://"+ln.Addr().String()+"/events")
	if cfg.listening != nil {
		cfg.listening(ln.Addr())
	}
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(sctx))
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && serr != nil {
		err = errors.Join(err, serr)
	}
	p.close() // the jobs taken are processed before the records are sent
	return err
}

// healthcheck asks the backend listening on addr for /healthz.
func healthcheck(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: address %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: status %d", resp.StatusCode)
	}
	return nil
}
