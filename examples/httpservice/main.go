// Command httpservice is a small net/http service that records audit events:
// logins (successful and failed), logouts and settings changes. The bridge's
// HTTP middleware fills in each event's client address, user agent, session
// and trace context.
//
// By default it prints one line per audit event on standard output:
//
//	go run ./examples/httpservice
//	curl -i -c jar -d user=ada -d password=lovelace localhost:8080/login
//	curl -b jar -X PUT -d value=dark localhost:8080/settings/theme
//	curl -b jar -X POST localhost:8080/logout
//	curl -d user=ada -d password=guess localhost:8080/login
//
// With a Postgres or ClickHouse DSN (flags or environment variables), it
// also migrates those stores and writes every event to them through the
// durable journal (exporter/journal):
//
//	OTELAUDIT_POSTGRES_DSN=postgres://... OTELAUDIT_CLICKHOUSE_DSN=clickhouse://... \
//		go run ./examples/httpservice
//
// Behind a reverse proxy, pass its addresses or networks with
// -trusted-proxies so that the client address comes from X-Forwarded-For
// and a W3C traceparent header on its requests ends up as the trace id of
// their audit records. README.md shows the output.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelaudit/otelaudit/bridge"
)

// config is what the flags and environment variables set.
type config struct {
	addr           string
	trustedProxies string // comma-separated addresses or CIDR prefixes
	postgresDSN    string
	clickhouseDSN  string
	journalDir     string
	json           bool // stdoutlog JSON instead of one line per event

	out io.Writer        // where events are printed
	now func() time.Time // the Auditor's clock; nil: time.Now
}

func main() {
	cfg := config{out: os.Stdout}
	flag.StringVar(&cfg.addr, "addr", "localhost:8080", "address to listen on")
	flag.StringVar(&cfg.trustedProxies, "trusted-proxies", os.Getenv("OTELAUDIT_TRUSTED_PROXIES"),
		"comma-separated addresses or CIDR prefixes of trusted reverse proxies (env OTELAUDIT_TRUSTED_PROXIES)")
	flag.StringVar(&cfg.postgresDSN, "postgres", os.Getenv("OTELAUDIT_POSTGRES_DSN"),
		"Postgres DSN to store events in (env OTELAUDIT_POSTGRES_DSN)")
	flag.StringVar(&cfg.clickhouseDSN, "clickhouse", os.Getenv("OTELAUDIT_CLICKHOUSE_DSN"),
		"ClickHouse DSN to store events in (env OTELAUDIT_CLICKHOUSE_DSN)")
	flag.StringVar(&cfg.journalDir, "journal", envOr("OTELAUDIT_JOURNAL", filepath.Join(os.TempDir(), "httpservice-audit")),
		"journal directory, used with a DSN (env OTELAUDIT_JOURNAL)")
	flag.BoolVar(&cfg.json, "json", false, "print whole records as JSON (the stdoutlog exporter) instead of one line each")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run serves until ctx ends, then delivers the events still in flight.
func run(ctx context.Context, cfg config) (err error) {
	app, err := newApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, app.close(context.WithoutCancel(ctx))) }()

	srv := &http.Server{Addr: cfg.addr, Handler: app.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Printf("listening on http://%s", cfg.addr) // on stderr: stdout has the events
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is the service with its audit pipeline.
type app struct {
	handler http.Handler
	// close flushes the pipeline (the journal delivers what it holds) and
	// closes the connections.
	close func(context.Context) error
}

func newApp(ctx context.Context, cfg config) (*app, error) {
	p, err := newPipeline(ctx, cfg)
	if err != nil {
		return nil, err
	}
	otel.SetTextMapPropagator(propagation.TraceContext{})

	opts := []bridge.Option{bridge.WithLoggerProvider(p.provider)}
	if cfg.now != nil {
		opts = append(opts, bridge.WithClock(cfg.now))
	}
	svc := newService(bridge.New(opts...))

	audit, err := bridge.NewMiddleware(
		bridge.WithTrustedProxies(strings.Split(cfg.trustedProxies, ",")...),
		bridge.WithSessionID(sessionID),
	)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("-trusted-proxies: %w", err), p.close(ctx))
	}
	return &app{handler: audit(svc.routes()), close: p.close}, nil
}
