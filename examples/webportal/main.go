// Command webportal is a net/http web application that records its audit
// events with the bridge and sends them as OTLP logs to an OpenTelemetry
// Collector (the otelaudit distribution, cmd/otelaudit-collector, stores
// them in Postgres and ClickHouse).
//
// It records a login (successful or failed), a logout, a settings change,
// a data export request and an admin action on another account, each
// through the typed calls of bridge.Auditor; bridge.NewMiddleware fills in
// the client address, user agent and session of every event. The records
// leave through the SDK's otlploghttp exporter, configured by the standard
// environment variables:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=webportal \
//		go run .
//
// With -workload N it serves on a loopback port, drives itself over HTTP as
// a crowd of users across four workspaces until it has recorded exactly N
// audit events, sends them, and exits. README.md shows both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelaudit/otelaudit/bridge"
)

// config is what the flags and environment variables set.
type config struct {
	addr           string
	trustedProxies string // comma-separated addresses or CIDR prefixes
	workload       int    // events to cause, then exit; 0: serve
	visitors       int    // concurrent visitors of the workload
	seed           uint64 // the workload's random seed
	healthcheck    bool   // probe a running portal and exit

	// listening, when set, is called with the listener's address once the
	// portal serves; workloadDone with what the workload caused.
	listening    func(net.Addr)
	workloadDone func(Tally)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webportal:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "webportal:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("webportal", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", envOr(getenv, "WEBPORTAL_ADDR", ":8080"), "address to listen on (env WEBPORTAL_ADDR)")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxies", getenv("OTELAUDIT_TRUSTED_PROXIES"),
		"comma-separated addresses or CIDR prefixes of trusted reverse proxies (env OTELAUDIT_TRUSTED_PROXIES)")
	workload, err := envInt(getenv, "WEBPORTAL_WORKLOAD")
	if err != nil {
		return cfg, err
	}
	fs.IntVar(&cfg.workload, "workload", workload, "record this many audit events as a crowd of users, send them and exit (env WEBPORTAL_WORKLOAD)")
	fs.IntVar(&cfg.visitors, "visitors", 8, "concurrent visitors of the workload")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed of the workload")
	fs.BoolVar(&cfg.healthcheck, "healthcheck", false, "ask the portal at -addr for /healthz and exit 0 when it answers (for container health checks)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.workload < 0 || cfg.visitors < 1 {
		return cfg, errors.New("-workload must be 0 or more and -visitors 1 or more")
	}
	return cfg, nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(getenv func(string) string, name string) (int, error) {
	v := getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a number", name, v)
	}
	return n, nil
}

// shutdownTimeout bounds how long the portal waits, at exit, for the
// records it still holds to be sent.
const shutdownTimeout = 30 * time.Second

// run serves until ctx ends (or, with a workload, until the workload is
// done), then sends the records still held. Its own log goes to logw.
func run(ctx context.Context, cfg config, logw io.Writer) (err error) {
	if cfg.healthcheck {
		return healthcheck(ctx, cfg.addr)
	}
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
	// W3C traceparent headers from trusted proxies become the trace context
	// of the audit records (see bridge.NewMiddleware).
	otel.SetTextMapPropagator(propagation.TraceContext{})
	audit := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) {
		fmt.Fprintln(logw, "webportal: audit:", err)
	}))

	var proxies []string
	if cfg.trustedProxies != "" {
		proxies = strings.Split(cfg.trustedProxies, ",")
	}
	addr := cfg.addr
	if cfg.workload > 0 {
		// The workload reaches the portal on loopback, as its own proxy.
		addr = "127.0.0.1:0"
		proxies = append(proxies, "127.0.0.0/8", "::1")
	}
	mw, err := bridge.NewMiddleware(bridge.WithTrustedProxies(proxies...), bridge.WithSessionID(sessionID))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mw(newPortal(audit).routes()), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(logw, "webportal: listening on http://%s\n", ln.Addr())
	if cfg.listening != nil {
		cfg.listening(ln.Addr())
	}

	if cfg.workload > 0 {
		start := time.Now()
		tally, werr := runWorkload(ctx, "http://"+ln.Addr().String(), cfg.workload, cfg.visitors, cfg.seed, logw)
		fmt.Fprintf(logw, "webportal: workload: %d audit events in %s: %s\n", tally.Total(), time.Since(start).Round(time.Millisecond), tally)
		if cfg.workloadDone != nil {
			cfg.workloadDone(tally)
		}
		err = errors.Join(werr, stopServer(srv, served))
	} else {
		select {
		case <-ctx.Done():
			err = stopServer(srv, served)
		case serr := <-served:
			err = serr
		}
	}
	st := audit.Stats()
	fmt.Fprintf(logw, "webportal: %d audit events emitted, %d rejected; sending what is left\n", st.Emitted, sum(st.Rejected))
	return err
}

func stopServer(srv *http.Server, served <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// healthcheck asks the portal listening on addr for /healthz.
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
