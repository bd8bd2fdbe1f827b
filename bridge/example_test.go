package bridge_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
)

// printExporter prints each record's EventName, severity, timestamp, body
// (if any) and attributes in key order. It leaves out the event id, which is random.
type printExporter struct {
	noTime bool // leave out the timestamp too
}

func (e printExporter) Export(_ context.Context, records []sdklog.Record) error {
	for _, r := range records {
		if e.noTime {
			fmt.Println(r.EventName(), r.Severity())
		} else {
			fmt.Println(r.EventName(), r.Severity(), r.Timestamp().Format(time.RFC3339))
		}
		var kvs []attribute.KeyValue
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key != otelaudit.KeyEventID {
				kvs = append(kvs, kv)
			}
			return true
		})
		if b := r.Body(); b.Type() != attribute.EMPTY {
			fmt.Printf("  body=%s\n", b)
		}
		slices.SortFunc(kvs, func(a, b attribute.KeyValue) int { return cmp.Compare(a.Key, b.Key) })
		for _, kv := range kvs {
			fmt.Printf("  %s=%s\n", kv.Key, kv.Value)
		}
	}
	return nil
}

func (printExporter) Shutdown(context.Context) error   { return nil }
func (printExporter) ForceFlush(context.Context) error { return nil }

// newProvider returns an SDK LoggerProvider that prints records as soon as
// they are emitted. A real service uses a BatchProcessor and an exporter
// that writes to a database or an OTLP endpoint.
func newProvider() *sdklog.LoggerProvider {
	return sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(printExporter{})))
}

// fixedClock makes the examples' output stable.
func fixedClock() time.Time { return time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC) }

func Example() {
	provider := newProvider()
	defer provider.Shutdown(context.Background())
	auditor := bridge.New(bridge.WithLoggerProvider(provider), bridge.WithClock(fixedClock))

	ctx := context.Background()
	ada := otelaudit.Actor{UserID: "u-42", WorkspaceID: "ws-7"}
	auditor.Login(ctx, ada)
	auditor.LoginFailed(ctx, ada, "invalid_password")
	// Previous and new values are Go values: here a bool and a map.
	auditor.SettingsChanged(ctx, ada,
		otelaudit.Resource{Type: "setting", ID: "mfa"},
		false,
		map[string]any{"enabled": true, "methods": []string{"totp"}})
	// Record takes any event, custom actions and extra attributes included.
	auditor.Record(ctx, otelaudit.Event{
		Action:     "invoice.refunded",
		Actor:      ada,
		Resource:   otelaudit.Resource{Type: "invoice", ID: "inv-1001"},
		Details:    otelaudit.Value(map[string]any{"amount_cents": 1250, "currency": "EUR"}),
		Attributes: []attribute.KeyValue{attribute.String("request.id", "req-7f3a")},
	})
	// Output:
	// audit.login INFO 2026-11-25T09:30:00Z
	//   audit.outcome=success
	//   audit.workspace.id=ws-7
	//   user.id=u-42
	// audit.login WARN 2026-11-25T09:30:00Z
	//   audit.outcome=failure
	//   audit.workspace.id=ws-7
	//   error.type=invalid_password
	//   user.id=u-42
	// audit.settings_changed INFO 2026-11-25T09:30:00Z
	//   audit.new={"enabled":true,"methods":["totp"]}
	//   audit.outcome=success
	//   audit.previous=false
	//   audit.resource.id=mfa
	//   audit.resource.type=setting
	//   audit.workspace.id=ws-7
	//   user.id=u-42
	// audit.invoice.refunded INFO 2026-11-25T09:30:00Z
	//   audit.details={"amount_cents":1250,"currency":"EUR"}
	//   audit.outcome=success
	//   audit.resource.id=inv-1001
	//   audit.resource.type=invoice
	//   audit.workspace.id=ws-7
	//   request.id=req-7f3a
	//   user.id=u-42
}

func ExampleAuditor_SettingsChangeFailed() {
	provider := newProvider()
	defer provider.Shutdown(context.Background())
	auditor := bridge.New(bridge.WithLoggerProvider(provider), bridge.WithClock(fixedClock))

	// A struct goes through its json tags.
	type retention struct {
		Days   int  `json:"days"`
		Legal  bool `json:"legal_hold,omitempty"`
		unused int
	}
	auditor.SettingsChangeFailed(context.Background(),
		otelaudit.Actor{UserID: "u-42", WorkspaceID: "ws-7"},
		otelaudit.Resource{Type: "setting", ID: "retention"},
		"permission_denied",
		retention{Days: 365, Legal: true}, retention{Days: 30})
	// Output:
	// audit.settings_changed WARN 2026-11-25T09:30:00Z
	//   audit.new={"days":30}
	//   audit.outcome=failure
	//   audit.previous={"days":365,"legal_hold":true}
	//   audit.resource.id=retention
	//   audit.resource.type=setting
	//   audit.workspace.id=ws-7
	//   error.type=permission_denied
	//   user.id=u-42
}

func ExampleAuditor_Stats() {
	provider := newProvider()
	defer provider.Shutdown(context.Background())
	auditor := bridge.New(
		bridge.WithLoggerProvider(provider),
		bridge.WithClock(fixedClock),
		bridge.WithErrorHandler(func(err error) {
			var rej *bridge.RejectError
			if errors.As(err, &rej) {
				fmt.Println("rejected:", rej.Reason, rej.Action)
			}
		}),
	)

	// A dynamic value in the action is refused: it belongs in an attribute.
	auditor.Record(context.Background(), otelaudit.Event{Action: "invoice.12345.refunded"})
	auditor.Logout(context.Background(), otelaudit.Actor{UserID: "u-42"})

	s := auditor.Stats()
	fmt.Println("emitted:", s.Emitted, "invalid actions:", s.Rejected[bridge.ReasonInvalidAction])
	// Output:
	// rejected: invalid_action invoice.12345.refunded
	// audit.logout INFO 2026-11-25T09:30:00Z
	//   audit.outcome=success
	//   user.id=u-42
	// emitted: 1 invalid actions: 1
}

func ExampleNewMiddleware() {
	provider := newProvider()
	defer provider.Shutdown(context.Background())
	auditor := bridge.New(bridge.WithLoggerProvider(provider), bridge.WithClock(fixedClock))

	// Trusted proxies come from configuration, as addresses or prefixes;
	// an invalid one is an error here, not a surprise in production.
	audit, err := bridge.NewMiddleware(
		bridge.WithTrustedProxies(strings.Split("10.0.0.0/8,192.0.2.10", ",")...),
		bridge.WithSessionID(func(r *http.Request) string {
			if c, err := r.Cookie("session"); err == nil {
				return c.Value
			}
			return ""
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// The request context carries the client: the Auditor fills it in.
		auditor.Login(r.Context(), otelaudit.Actor{UserID: "u-42"})
	})
	handler := audit(mux) // or router.Use(audit)

	// A request through the load balancer at 10.0.0.2; the client sent a
	// forged X-Forwarded-For entry of its own, which is ignored.
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.RemoteAddr = "10.0.0.2:41000"
	r.Header.Set("X-Forwarded-For", "127.0.0.1, 203.0.113.7")
	r.Header.Set("User-Agent", "Mozilla/5.0")
	r.AddCookie(&http.Cookie{Name: "session", Value: "s-123"})
	handler.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// audit.login INFO 2026-11-25T09:30:00Z
	//   audit.outcome=success
	//   client.address=203.0.113.7
	//   session.id=s-123
	//   user.id=u-42
	//   user_agent.original=Mozilla/5.0
}

func ExampleNewSlogHandler() {
	// slog stamps records with the current time, so the printer leaves the
	// timestamp out here.
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(printExporter{noTime: true})))
	defer provider.Shutdown(context.Background())
	auditor := bridge.New(bridge.WithLoggerProvider(provider))

	// A logger of its own: the message is the action.
	audit := slog.New(bridge.NewSlogHandler(auditor)).With(
		otelaudit.KeyUserID, "u-42",
		otelaudit.KeyWorkspaceID, "ws-7",
	)
	audit.Log(context.Background(), slog.LevelInfo, "invoice.refunded",
		otelaudit.KeyResourceType, "invoice",
		otelaudit.KeyResourceID, "inv-1001",
		slog.Group("refund", "amount_cents", 1250, "currency", "EUR"),
		"reason", "duplicate",
	)
	audit.Error("api_key.rotated", "error_type", "permission_denied")
	// Output:
	// audit.invoice.refunded INFO
	//   audit.details={"reason":"duplicate","refund":{"amount_cents":1250,"currency":"EUR"}}
	//   audit.outcome=success
	//   audit.resource.id=inv-1001
	//   audit.resource.type=invoice
	//   audit.workspace.id=ws-7
	//   user.id=u-42
	// audit.api_key.rotated WARN
	//   audit.outcome=failure
	//   audit.workspace.id=ws-7
	//   error.type=permission_denied
	//   user.id=u-42
}

func ExampleWithLaxMessages() {
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(printExporter{noTime: true})))
	defer provider.Shutdown(context.Background())
	auditor := bridge.New(bridge.WithLoggerProvider(provider))

	// The keys services habitually log fill the event; in lax mode, a
	// message that is no action name is kept under the action "log".
	audit := slog.New(bridge.NewSlogHandler(auditor, bridge.WithLaxMessages()))
	audit.Info("user logged in", "user_id", "u-42", "client_ip", "203.0.113.7", "method", "sso")
	audit.Info("password reset", "action", "password.reset", "user_id", "u-42")
	// Output:
	// audit.log INFO
	//   body=user logged in
	//   audit.details={"method":"sso","msg":"user logged in"}
	//   audit.outcome=success
	//   client.address=203.0.113.7
	//   user.id=u-42
	// audit.password.reset INFO
	//   body=password reset
	//   audit.details={"msg":"password reset"}
	//   audit.outcome=success
	//   user.id=u-42
}
