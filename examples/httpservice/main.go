// Command httpservice is a small net/http service that records audit events:
// logins (successful and failed), logouts and settings changes. The
// bridge.Middleware fills in each event's client address, user agent,
// session and trace context; the records go through an OpenTelemetry SDK
// LoggerProvider to the stdout exporter, which prints them as JSON, one
// record a line.
//
// Run it and call it:
//
//	go run ./examples/httpservice | jq .
//	curl -i -c jar -d user=ada -d password=lovelace localhost:8080/login
//	curl -b jar -X PUT -d value=dark localhost:8080/settings/theme
//	curl -b jar -X POST localhost:8080/logout
//	curl -d user=ada -d password=guess localhost:8080/login
//
// Behind a reverse proxy, pass its network with -trusted-proxies so that the
// client address comes from X-Forwarded-For. A W3C traceparent header on a
// request ends up as the trace id of its audit records.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"log"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
)

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	proxies := flag.String("trusted-proxies", "", "comma-separated CIDR prefixes of trusted reverse proxies")
	flag.Parse()
	if err := run(*addr, *proxies); err != nil {
		log.Fatal(err)
	}
}

func run(addr, proxies string) error {
	var trusted []netip.Prefix
	for p := range strings.SplitSeq(proxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				return err
			}
			trusted = append(trusted, prefix)
		}
	}

	// The OpenTelemetry pipeline: audit records are log records.
	exporter, err := stdoutlog.New()
	if err != nil {
		return err
	}
	provider := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, "httpservice"))),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exporter)),
	)
	defer func() {
		// Flushes the records still queued.
		if err := provider.Shutdown(context.Background()); err != nil {
			log.Print(err)
		}
	}()
	otel.SetTextMapPropagator(propagation.TraceContext{})

	svc := &service{
		audit:    bridge.New(bridge.WithLoggerProvider(provider)),
		sessions: map[string]string{},
		settings: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", svc.login)
	mux.HandleFunc("POST /logout", svc.logout)
	mux.HandleFunc("PUT /settings/{name}", svc.changeSetting)

	srv := &http.Server{
		Addr: addr,
		Handler: bridge.Middleware(mux,
			bridge.WithTrustedProxies(trusted...),
			bridge.WithSessionID(sessionID),
		),
		ReadHeaderTimeout: 10 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Printf("listening on http://%s", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// service is a toy application: one user, sessions and settings in memory.
type service struct {
	audit *bridge.Auditor

	mu       sync.Mutex
	sessions map[string]string // session id -> user id
	settings map[string]string // setting name -> value
}

var passwords = map[string]string{"ada": "lovelace"}

const workspace = "ws-1"

func sessionID(r *http.Request) string {
	if c, err := r.Cookie("session"); err == nil {
		return c.Value
	}
	return ""
}

func (s *service) login(w http.ResponseWriter, r *http.Request) {
	user, password := r.FormValue("user"), r.FormValue("password")
	actor := otelaudit.Actor{UserID: user, WorkspaceID: workspace}
	want, known := passwords[user]
	switch {
	case !known:
		s.audit.LoginFailed(r.Context(), actor, "unknown_user")
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	case password != want:
		s.audit.LoginFailed(r.Context(), actor, "invalid_password")
		http.Error(w, "invalid credentials", http.StatusUnauthorized)
		return
	}
	sid := rand.Text()
	s.mu.Lock()
	s.sessions[sid] = user
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: sid, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	// The new session is not in the request context yet: record it here.
	s.audit.Record(r.Context(), otelaudit.Event{
		Action: otelaudit.ActionLogin,
		Actor:  actor,
		Client: otelaudit.Client{SessionID: sid},
	})
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) logout(w http.ResponseWriter, r *http.Request) {
	user, ok := s.user(r)
	if !ok {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	delete(s.sessions, sessionID(r))
	s.mu.Unlock()
	s.audit.Logout(r.Context(), otelaudit.Actor{UserID: user, WorkspaceID: workspace})
	w.WriteHeader(http.StatusNoContent)
}

func (s *service) changeSetting(w http.ResponseWriter, r *http.Request) {
	user, ok := s.user(r)
	if !ok {
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	name, value := r.PathValue("name"), r.FormValue("value")
	s.mu.Lock()
	previous, existed := s.settings[name]
	s.settings[name] = value
	s.mu.Unlock()

	var prev attribute.Value // empty: the setting had no value
	if existed {
		prev = attribute.StringValue(previous)
	}
	s.audit.SettingsChange(r.Context(),
		otelaudit.Actor{UserID: user, WorkspaceID: workspace},
		otelaudit.Resource{Type: "setting", ID: name},
		prev, attribute.StringValue(value))
	w.WriteHeader(http.StatusNoContent)
}

// user returns the user of the request's session.
func (s *service) user(r *http.Request) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	user, ok := s.sessions[sessionID(r)]
	return user, ok
}
