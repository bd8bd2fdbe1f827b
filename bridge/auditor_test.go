package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
)

var (
	testActor      = otelaudit.Actor{UserID: "u-42", WorkspaceID: "ws-7", Name: "Ada Lovelace"}
	testActorAttrs = map[string]attribute.Value{
		otelaudit.KeyUserID:      str("u-42"),
		otelaudit.KeyWorkspaceID: str("ws-7"),
		otelaudit.KeyUserName:    str("Ada Lovelace"),
	}
	success = map[string]attribute.Value{otelaudit.KeyOutcome: str(otelaudit.OutcomeSuccess)}

	testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpanID  = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

func spanContext(t testing.TB) context.Context {
	t.Helper()
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: testTraceID, SpanID: testSpanID, TraceFlags: trace.FlagsSampled})
	require.True(t, sc.IsValid())
	return trace.ContextWithSpanContext(context.Background(), sc)
}

func TestAuditorTypedCalls(t *testing.T) {
	details := attribute.MapValue(attribute.String("format", "json"), attribute.Int("size_bytes", 2048))
	setting := otelaudit.Resource{Type: "setting", ID: "mfa.required"}
	target := otelaudit.Resource{Type: "user", ID: "u-99"}

	tests := []struct {
		name      string
		call      func(context.Context, *Auditor)
		eventName string
		severity  log.Severity
		attrs     map[string]attribute.Value // besides the actor's
	}{
		{
			name:      "Login",
			call:      func(ctx context.Context, a *Auditor) { a.Login(ctx, testActor) },
			eventName: "audit.login",
			severity:  log.SeverityInfo,
			attrs:     success,
		},
		{
			name:      "LoginFailed",
			call:      func(ctx context.Context, a *Auditor) { a.LoginFailed(ctx, testActor, "invalid_password") },
			eventName: "audit.login",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:   str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType: str("invalid_password"),
			},
		},
		{
			name:      "Logout",
			call:      func(ctx context.Context, a *Auditor) { a.Logout(ctx, testActor) },
			eventName: "audit.logout",
			severity:  log.SeverityInfo,
			attrs:     success,
		},
		{
			name:      "DataExportRequested",
			call:      func(ctx context.Context, a *Auditor) { a.DataExportRequested(ctx, testActor, "exp-1", details) },
			eventName: "audit.data_export_requested",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeDataExport),
				otelaudit.KeyResourceID:   str("exp-1"),
				otelaudit.KeyDetails:      details,
			}),
		},
		{
			name:      "DataExportCompleted",
			call:      func(ctx context.Context, a *Auditor) { a.DataExportCompleted(ctx, testActor, "exp-1", details) },
			eventName: "audit.data_export_completed",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeDataExport),
				otelaudit.KeyResourceID:   str("exp-1"),
				otelaudit.KeyDetails:      details,
			}),
		},
		{
			name:      "DataDeleteRequested",
			call:      func(ctx context.Context, a *Auditor) { a.DataDeleteRequested(ctx, testActor, "del-1", details) },
			eventName: "audit.data_delete_requested",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeDataDeletion),
				otelaudit.KeyResourceID:   str("del-1"),
				otelaudit.KeyDetails:      details,
			}),
		},
		{
			name: "DataDeleteCompleted",
			call: func(ctx context.Context, a *Auditor) {
				a.DataDeleteCompleted(ctx, testActor, "del-1", attribute.Value{})
			},
			eventName: "audit.data_delete_completed",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeDataDeletion),
				otelaudit.KeyResourceID:   str("del-1"),
			}),
		},
		{
			name: "SettingsChanged",
			call: func(ctx context.Context, a *Auditor) {
				a.SettingsChanged(ctx, testActor, setting, attribute.BoolValue(false), otelaudit.Value(map[string]any{"enabled": true, "methods": []string{"totp"}}))
			},
			eventName: "audit.settings_changed",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str("setting"),
				otelaudit.KeyResourceID:   str("mfa.required"),
				otelaudit.KeyPrevious:     attribute.BoolValue(false),
				otelaudit.KeyNew: attribute.MapValue(
					attribute.Bool("enabled", true),
					attribute.StringSlice("methods", []string{"totp"}),
				),
			}),
		},
		{
			name:      "OAuthConnected",
			call:      func(ctx context.Context, a *Auditor) { a.OAuthConnected(ctx, testActor, "github", nil) },
			eventName: "audit.oauth_connected",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeOAuthProvider),
				otelaudit.KeyResourceID:   str("github"),
			}),
		},
		{
			name:      "OAuthDisconnected",
			call:      func(ctx context.Context, a *Auditor) { a.OAuthDisconnected(ctx, testActor, "github", nil) },
			eventName: "audit.oauth_disconnected",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeOAuthProvider),
				otelaudit.KeyResourceID:   str("github"),
			}),
		},
		{
			name: "SubscriptionCreated",
			call: func(ctx context.Context, a *Auditor) {
				a.SubscriptionCreated(ctx, testActor, "sub-1", otelaudit.Value(map[string]any{"plan": "pro", "cents": 1900}))
			},
			eventName: "audit.subscription_created",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeSubscription),
				otelaudit.KeyResourceID:   str("sub-1"),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.Int("cents", 1900), attribute.String("plan", "pro")),
			}),
		},
		{
			name: "SubscriptionCancelled",
			call: func(ctx context.Context, a *Auditor) {
				a.SubscriptionCancelled(ctx, testActor, "sub-1", attribute.StringValue("too expensive"))
			},
			eventName: "audit.subscription_cancelled",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeSubscription),
				otelaudit.KeyResourceID:   str("sub-1"),
				otelaudit.KeyDetails:      str("too expensive"),
			}),
		},
		{
			name: "AdminAction",
			call: func(ctx context.Context, a *Auditor) {
				a.AdminAction(ctx, testActor, target, attribute.MapValue(attribute.String("operation", "suspend")))
			},
			eventName: "audit.admin_action",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str("user"),
				otelaudit.KeyResourceID:   str("u-99"),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.String("operation", "suspend")),
			}),
		},
		{
			name: "DataExportRequestFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.DataExportRequestFailed(ctx, testActor, "", "rate_limited", map[string]any{"retry_after_s": 3600})
			},
			eventName: "audit.data_export_requested",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("rate_limited"),
				otelaudit.KeyResourceType: str(ResourceTypeDataExport),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.Int("retry_after_s", 3600)),
			},
		},
		{
			name: "DataExportFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.DataExportFailed(ctx, testActor, "exp-1", "storage_unavailable", nil)
			},
			eventName: "audit.data_export_completed",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("storage_unavailable"),
				otelaudit.KeyResourceType: str(ResourceTypeDataExport),
				otelaudit.KeyResourceID:   str("exp-1"),
			},
		},
		{
			name: "DataDeleteRequestFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.DataDeleteRequestFailed(ctx, testActor, "del-1", "legal_hold", "case 7")
			},
			eventName: "audit.data_delete_requested",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("legal_hold"),
				otelaudit.KeyResourceType: str(ResourceTypeDataDeletion),
				otelaudit.KeyResourceID:   str("del-1"),
				otelaudit.KeyDetails:      str("case 7"),
			},
		},
		{
			name: "DataDeleteFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.DataDeleteFailed(ctx, testActor, "del-1", "partial", []string{"backups"})
			},
			eventName: "audit.data_delete_completed",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("partial"),
				otelaudit.KeyResourceType: str(ResourceTypeDataDeletion),
				otelaudit.KeyResourceID:   str("del-1"),
				otelaudit.KeyDetails:      attribute.StringSliceValue([]string{"backups"}),
			},
		},
		{
			name: "SettingsChanged with strings",
			call: func(ctx context.Context, a *Auditor) {
				a.SettingsChanged(ctx, testActor, setting, "light", "dark")
			},
			eventName: "audit.settings_changed",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str("setting"),
				otelaudit.KeyResourceID:   str("mfa.required"),
				otelaudit.KeyPrevious:     str("light"),
				otelaudit.KeyNew:          str("dark"),
			}),
		},
		{
			name: "SettingsChanged from no value",
			call: func(ctx context.Context, a *Auditor) {
				a.SettingsChanged(ctx, testActor, setting, nil, 8)
			},
			eventName: "audit.settings_changed",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str("setting"),
				otelaudit.KeyResourceID:   str("mfa.required"),
				otelaudit.KeyNew:          attribute.IntValue(8),
			}),
		},
		{
			name: "SettingsChangeFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.SettingsChangeFailed(ctx, testActor, setting, "permission_denied", true, struct {
					Required bool `json:"required"`
				}{})
			},
			eventName: "audit.settings_changed",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("permission_denied"),
				otelaudit.KeyResourceType: str("setting"),
				otelaudit.KeyResourceID:   str("mfa.required"),
				otelaudit.KeyPrevious:     attribute.BoolValue(true),
				otelaudit.KeyNew:          attribute.MapValue(attribute.Bool("required", false)),
			},
		},
		{
			name: "OAuthConnected with details",
			call: func(ctx context.Context, a *Auditor) {
				a.OAuthConnected(ctx, testActor, "github", map[string][]string{"scopes": {"repo", "read:org"}})
			},
			eventName: "audit.oauth_connected",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str(ResourceTypeOAuthProvider),
				otelaudit.KeyResourceID:   str("github"),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.StringSlice("scopes", []string{"repo", "read:org"})),
			}),
		},
		{
			name: "OAuthConnectFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.OAuthConnectFailed(ctx, testActor, "github", "consent_denied", nil)
			},
			eventName: "audit.oauth_connected",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("consent_denied"),
				otelaudit.KeyResourceType: str(ResourceTypeOAuthProvider),
				otelaudit.KeyResourceID:   str("github"),
			},
		},
		{
			name: "OAuthDisconnectFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.OAuthDisconnectFailed(ctx, testActor, "github", "revoke_failed", map[string]any{"status": 502})
			},
			eventName: "audit.oauth_disconnected",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("revoke_failed"),
				otelaudit.KeyResourceType: str(ResourceTypeOAuthProvider),
				otelaudit.KeyResourceID:   str("github"),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.Int("status", 502)),
			},
		},
		{
			name: "SubscriptionCreateFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.SubscriptionCreateFailed(ctx, testActor, "", "card_declined", map[string]string{"plan": "pro"})
			},
			eventName: "audit.subscription_created",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("card_declined"),
				otelaudit.KeyResourceType: str(ResourceTypeSubscription),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.String("plan", "pro")),
			},
		},
		{
			name: "SubscriptionCancelFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.SubscriptionCancelFailed(ctx, testActor, "sub-1", "already_cancelled", nil)
			},
			eventName: "audit.subscription_cancelled",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("already_cancelled"),
				otelaudit.KeyResourceType: str(ResourceTypeSubscription),
				otelaudit.KeyResourceID:   str("sub-1"),
			},
		},
		{
			name: "AdminActionFailed",
			call: func(ctx context.Context, a *Auditor) {
				a.AdminActionFailed(ctx, testActor, target, "permission_denied", map[string]any{"operation": "delete"})
			},
			eventName: "audit.admin_action",
			severity:  log.SeverityWarn,
			attrs: map[string]attribute.Value{
				otelaudit.KeyOutcome:      str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:    str("permission_denied"),
				otelaudit.KeyResourceType: str("user"),
				otelaudit.KeyResourceID:   str("u-99"),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.String("operation", "delete")),
			},
		},
		{
			name: "Record custom action",
			call: func(ctx context.Context, a *Auditor) {
				a.Record(ctx, otelaudit.Event{
					Action:   "invoice.refunded",
					Actor:    testActor,
					Resource: otelaudit.Resource{Type: "invoice", ID: "inv-7"},
					Details:  otelaudit.Value(map[string]any{"amount_cents": 1250, "currency": "EUR"}),
				})
			},
			eventName: "audit.invoice.refunded",
			severity:  log.SeverityInfo,
			attrs: merge(success, map[string]attribute.Value{
				otelaudit.KeyResourceType: str("invoice"),
				otelaudit.KeyResourceID:   str("inv-7"),
				otelaudit.KeyDetails:      attribute.MapValue(attribute.Int("amount_cents", 1250), attribute.String("currency", "EUR")),
			}),
		},
		{
			name: "Record failure without error type",
			call: func(ctx context.Context, a *Auditor) {
				a.Record(ctx, otelaudit.Event{Action: "api_key.rotated", Actor: testActor, Outcome: otelaudit.Outcome{Failed: true}})
			},
			eventName: "audit.api_key.rotated",
			severity:  log.SeverityWarn,
			attrs:     map[string]attribute.Value{otelaudit.KeyOutcome: str(otelaudit.OutcomeFailure)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.call(spanContext(t), h.auditor)

			r := h.only(t)
			require.Equal(t, tt.eventName, r.EventName())
			require.Equal(t, testTime, r.Timestamp())
			require.Equal(t, tt.severity, r.Severity())
			require.Equal(t, testTraceID, r.TraceID())
			require.Equal(t, testSpanID, r.SpanID())
			require.Equal(t, trace.FlagsSampled, r.TraceFlags())
			require.Equal(t, ScopeName, r.InstrumentationScope().Name)
			require.Equal(t, otelaudit.Version, r.InstrumentationScope().Version)
			requireAttrs(t, r, merge(testActorAttrs, tt.attrs))

			require.Equal(t, uint64(1), h.auditor.Stats().Emitted)
			require.Empty(t, h.Errors())
		})
	}
}

func TestAuditorEventIDs(t *testing.T) {
	h := newHarness(t)
	const n = 1000
	for range n {
		h.auditor.Login(context.Background(), testActor)
	}
	seen := make(map[uuid.UUID]bool, n)
	for _, r := range h.exp.Records() {
		id := requireEventID(t, attrsOf(t, r)[otelaudit.KeyEventID])
		require.False(t, seen[id], "duplicate event id %s", id)
		seen[id] = true
	}
	require.Len(t, seen, n)

	t.Run("given id is kept", func(t *testing.T) {
		h := newHarness(t)
		id := uuid.Must(uuid.NewV7())
		h.auditor.Record(context.Background(), otelaudit.Event{ID: id, Action: otelaudit.ActionLogout})
		require.Equal(t, str(id.String()), attrsOf(t, h.only(t))[otelaudit.KeyEventID])
	})
}

func TestAuditorTime(t *testing.T) {
	t.Run("defaults to the clock", func(t *testing.T) {
		h := newHarness(t)
		h.auditor.Logout(context.Background(), testActor)
		r := h.only(t)
		require.Equal(t, testTime, r.Timestamp())
	})
	t.Run("given time is kept", func(t *testing.T) {
		h := newHarness(t)
		at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
		h.auditor.Record(context.Background(), otelaudit.Event{Action: otelaudit.ActionLogout, Time: at})
		r := h.only(t)
		require.True(t, at.Equal(r.Timestamp()))
	})
}

func TestAuditorClientFromContext(t *testing.T) {
	fromCtx := otelaudit.Client{IP: "203.0.113.7", UserAgent: "curl/8.5.0", SessionID: "sess-1"}
	tests := []struct {
		name  string
		ctx   context.Context
		event otelaudit.Client
		want  map[string]attribute.Value
	}{
		{
			name: "context fills an empty client",
			ctx:  ContextWithClient(context.Background(), fromCtx),
			want: map[string]attribute.Value{
				otelaudit.KeyClientAddress: str("203.0.113.7"),
				otelaudit.KeyUserAgent:     str("curl/8.5.0"),
				otelaudit.KeySessionID:     str("sess-1"),
			},
		},
		{
			name:  "event fields win",
			ctx:   ContextWithClient(context.Background(), fromCtx),
			event: otelaudit.Client{IP: "198.51.100.1", SessionID: "sess-2"},
			want: map[string]attribute.Value{
				otelaudit.KeyClientAddress: str("198.51.100.1"),
				otelaudit.KeyUserAgent:     str("curl/8.5.0"),
				otelaudit.KeySessionID:     str("sess-2"),
			},
		},
		{
			name:  "no client in context",
			ctx:   context.Background(),
			event: otelaudit.Client{UserAgent: "app/1.0"},
			want:  map[string]attribute.Value{otelaudit.KeyUserAgent: str("app/1.0")},
		},
		{
			name: "empty client in context",
			ctx:  ContextWithClient(context.Background(), otelaudit.Client{}),
			want: map[string]attribute.Value{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.auditor.Record(tt.ctx, otelaudit.Event{Action: otelaudit.ActionLogin, Client: tt.event})
			requireAttrs(t, h.only(t), merge(success, tt.want))
		})
	}
}

func TestAuditorRejectsInvalidActions(t *testing.T) {
	tests := []struct {
		name   string
		action otelaudit.Action
	}{
		{"empty", ""},
		{"upper case", "Login"},
		{"spaces", "user login"},
		{"numeric id", "user.12345"},
		{"hex id", "token.deadbeef0123"},
		{"leading dot", ".login"},
		{"trailing dot", "login."},
		{"empty segment", "user..login"},
		{"starts with digit", "2fa.enabled"},
		{"dash", "api-key.rotated"},
		{"non-ASCII", "connexion_réussie"},
		{"NUL byte", "login\x00"},
		{"too long", otelaudit.Action(strings.Repeat("a", otelaudit.MaxActionLen+1))},
		{"already prefixed", "audit.Login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.auditor.Login(context.Background(), testActor)
			require.NotPanics(t, func() {
				h.auditor.Record(context.Background(), otelaudit.Event{Action: tt.action, Actor: testActor})
			})
			h.auditor.Logout(context.Background(), testActor)

			rs := h.exp.Records()
			require.Len(t, rs, 2, "the events around the rejected one are emitted")
			require.Equal(t, "audit.login", rs[0].EventName())
			require.Equal(t, "audit.logout", rs[1].EventName())

			errs := h.Errors()
			require.Len(t, errs, 1)
			var rej *RejectError
			require.ErrorAs(t, errs[0], &rej)
			require.Equal(t, ReasonInvalidAction, rej.Reason)
			require.Equal(t, tt.action, rej.Action)
			require.ErrorIs(t, errs[0], ErrRejected)
			require.ErrorIs(t, errs[0], otelaudit.ErrInvalidAction)

			require.Equal(t, Stats{
				Emitted:  2,
				Rejected: map[string]uint64{"invalid_action": 1, "id_generation": 0, "panic": 0},
			}, h.auditor.Stats())
		})
	}
}

func TestAuditorPassesStringsThrough(t *testing.T) {
	// Invalid UTF-8 and NUL bytes are the exporters' business.
	weird := []string{"u\x00-1", "\xff\xfe\xfd", "a\x00b\xc3\x28", "tab\tnewline\n"}
	for _, s := range weird {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			h := newHarness(t)
			h.auditor.Record(context.Background(), otelaudit.Event{
				Action:   "file.uploaded",
				Actor:    otelaudit.Actor{UserID: s, WorkspaceID: s, Name: s},
				Client:   otelaudit.Client{IP: s, UserAgent: s, SessionID: s},
				Resource: otelaudit.Resource{Type: s, ID: s},
				Outcome:  otelaudit.Failure(s),
				Details:  attribute.MapValue(attribute.String(s, s)),
				Previous: attribute.StringValue(s),
				New:      attribute.StringSliceValue([]string{s}),
			})
			requireAttrs(t, h.only(t), map[string]attribute.Value{
				otelaudit.KeyUserID:        str(s),
				otelaudit.KeyWorkspaceID:   str(s),
				otelaudit.KeyUserName:      str(s),
				otelaudit.KeyClientAddress: str(s),
				otelaudit.KeyUserAgent:     str(s),
				otelaudit.KeySessionID:     str(s),
				otelaudit.KeyResourceType:  str(s),
				otelaudit.KeyResourceID:    str(s),
				otelaudit.KeyOutcome:       str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType:     str(s),
				otelaudit.KeyDetails:       attribute.MapValue(attribute.String(s, s)),
				otelaudit.KeyPrevious:      str(s),
				otelaudit.KeyNew:           attribute.StringSliceValue([]string{s}),
			})
		})
	}
}

func TestAuditorLargeDetails(t *testing.T) {
	h := newHarness(t)
	big := strings.Repeat("0123456789abcdef", 10<<20/16) // 10 MiB
	h.auditor.Record(context.Background(), otelaudit.Event{
		Action:  "report.generated",
		Details: attribute.MapValue(attribute.String("body", big)),
		New:     attribute.StringValue(big),
	})

	attrs := attrsOf(t, h.only(t))
	got := attrs[otelaudit.KeyNew].AsString()
	require.Len(t, got, 10<<20)
	require.Equal(t, unsafe.StringData(big), unsafe.StringData(got), "the value was copied")
	details := attrs[otelaudit.KeyDetails].AsMap()
	require.Len(t, details, 1)
	require.Equal(t, unsafe.StringData(big), unsafe.StringData(details[0].Value.AsString()), "the detail was copied")
}

// depth returns how many map or slice levels v nests.
func depth(v attribute.Value) int {
	d := 0
	switch v.Type() {
	case attribute.MAP:
		for _, kv := range v.AsMap() {
			d = max(d, depth(kv.Value))
		}
		return d + 1
	case attribute.SLICE:
		for _, e := range v.AsSlice() {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

// leaf returns the innermost value of a chain of one-entry maps.
func leaf(v attribute.Value) attribute.Value {
	for v.Type() == attribute.MAP && len(v.AsMap()) == 1 {
		v = v.AsMap()[0].Value
	}
	return v
}

func TestAuditorDeepDetails(t *testing.T) {
	nested := func(levels int) map[string]any {
		m := map[string]any{"leaf": "bottom"}
		for range levels - 1 {
			m = map[string]any{"next": m}
		}
		return m
	}
	selfRef := map[string]any{"name": "loop"}
	selfRef["self"] = selfRef
	raw := attribute.StringValue("bottom")
	for range 1000 {
		raw = attribute.MapValue(attribute.KeyValue{Key: "next", Value: raw})
	}

	tests := []struct {
		name     string
		details  func() attribute.Value
		maxDepth int
	}{
		{"otelaudit.Value of 1000 nested maps", func() attribute.Value { return otelaudit.Value(nested(1000)) }, otelaudit.MaxValueDepth + 1},
		{"otelaudit.Value of a self-referencing map", func() attribute.Value { return otelaudit.Value(selfRef) }, otelaudit.MaxValueDepth + 1},
		// The SDK's default attribute value depth limit is 64.
		{"raw 1000 nested map values", func() attribute.Value { return raw }, 65},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.auditor.Record(context.Background(), otelaudit.Event{Action: "tree.imported", Details: tt.details()})
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Record hangs")
			}
			d := attrsOf(t, h.only(t))[otelaudit.KeyDetails]
			require.Equal(t, attribute.MAP, d.Type())
			require.LessOrEqual(t, depth(d), tt.maxDepth)
			require.Equal(t, uint64(1), h.auditor.Stats().Emitted)
		})
	}
	t.Run("depth marker", func(t *testing.T) {
		require.Equal(t, str(otelaudit.DepthLimitMarker), leaf(otelaudit.Value(nested(1000))))
	})
}

func TestAuditorNilContext(t *testing.T) {
	h := newHarness(t)
	var ctx context.Context // nil
	require.NotPanics(t, func() { h.auditor.Login(ctx, testActor) })
	r := h.only(t)
	require.Equal(t, "audit.login", r.EventName())
	require.False(t, r.TraceID().IsValid())
}

// panicProcessor is an sdk/log Processor whose OnEmit panics while armed.
type panicProcessor struct {
	armed atomic.Bool
	next  sdklog.Processor
}

func (p *panicProcessor) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if p.armed.Load() {
		panic("processor bug")
	}
	return p.next.OnEmit(ctx, r)
}
func (p *panicProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *panicProcessor) Shutdown(ctx context.Context) error                     { return p.next.Shutdown(ctx) }
func (p *panicProcessor) ForceFlush(ctx context.Context) error                   { return p.next.ForceFlush(ctx) }

func TestAuditorRecoversProcessorPanic(t *testing.T) {
	exp := &memExporter{}
	proc := &panicProcessor{next: sdklog.NewSimpleProcessor(exp)}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(proc))
	t.Cleanup(func() { require.NoError(t, provider.Shutdown(context.Background())) })
	var errs []error
	a := New(WithLoggerProvider(provider), WithErrorHandler(func(err error) { errs = append(errs, err) }))

	proc.armed.Store(true)
	require.NotPanics(t, func() { a.Login(context.Background(), testActor) })
	proc.armed.Store(false)
	a.Logout(context.Background(), testActor)

	require.Len(t, exp.Records(), 1)
	require.Equal(t, "audit.logout", exp.Records()[0].EventName())
	require.Len(t, errs, 1)
	var rej *RejectError
	require.ErrorAs(t, errs[0], &rej)
	require.Equal(t, ReasonPanic, rej.Reason)
	require.Equal(t, otelaudit.ActionLogin, rej.Action)
	require.ErrorIs(t, errs[0], ErrRejected)
	require.Contains(t, errs[0].Error(), "processor bug")
	require.Equal(t, Stats{
		Emitted:  1,
		Rejected: map[string]uint64{"invalid_action": 0, "id_generation": 0, "panic": 1},
	}, a.Stats())
}

func TestAuditorPanickingErrorHandler(t *testing.T) {
	h := newHarness(t, WithErrorHandler(func(error) { panic("handler bug") }))
	require.NotPanics(t, func() {
		h.auditor.Record(context.Background(), otelaudit.Event{Action: "Not Valid"})
	})
	require.Equal(t, map[string]uint64{"invalid_action": 1, "id_generation": 0, "panic": 0}, h.auditor.Stats().Rejected)
}

func TestAuditorNil(t *testing.T) {
	var a *Auditor
	ctx := context.Background()
	v := attribute.StringValue("x")
	require.NotPanics(t, func() {
		a.Record(ctx, otelaudit.Event{Action: otelaudit.ActionLogin})
		a.Login(ctx, testActor)
		a.LoginFailed(ctx, testActor, "invalid_password")
		a.Logout(ctx, testActor)
		a.DataExportRequested(ctx, testActor, "e", v)
		a.DataExportRequestFailed(ctx, testActor, "e", "x", v)
		a.DataExportCompleted(ctx, testActor, "e", v)
		a.DataExportFailed(ctx, testActor, "e", "x", v)
		a.DataDeleteRequested(ctx, testActor, "d", v)
		a.DataDeleteRequestFailed(ctx, testActor, "d", "x", v)
		a.DataDeleteCompleted(ctx, testActor, "d", v)
		a.DataDeleteFailed(ctx, testActor, "d", "x", v)
		a.SettingsChanged(ctx, testActor, otelaudit.Resource{}, v, v)
		a.SettingsChangeFailed(ctx, testActor, otelaudit.Resource{}, "x", v, v)
		a.OAuthConnected(ctx, testActor, "github", nil)
		a.OAuthConnectFailed(ctx, testActor, "github", "x", nil)
		a.OAuthDisconnected(ctx, testActor, "github", nil)
		a.OAuthDisconnectFailed(ctx, testActor, "github", "x", nil)
		a.SubscriptionCreated(ctx, testActor, "s", v)
		a.SubscriptionCreateFailed(ctx, testActor, "s", "x", v)
		a.SubscriptionCancelled(ctx, testActor, "s", v)
		a.SubscriptionCancelFailed(ctx, testActor, "s", "x", v)
		a.AdminAction(ctx, testActor, otelaudit.Resource{}, v)
		a.AdminActionFailed(ctx, testActor, otelaudit.Resource{}, "x", v)
		require.Equal(t, Stats{Rejected: map[string]uint64{"invalid_action": 0, "id_generation": 0, "panic": 0}}, a.Stats())
	})
}

func TestRejectError(t *testing.T) {
	err := error(&RejectError{Reason: ReasonInvalidAction, Action: "Bad", Err: otelaudit.ErrInvalidAction})
	require.ErrorIs(t, err, ErrRejected)
	require.ErrorIs(t, err, otelaudit.ErrInvalidAction)
	require.False(t, errors.Is(err, context.Canceled))
	require.Contains(t, err.Error(), `"Bad"`)
	require.Contains(t, err.Error(), "invalid_action")
	require.Equal(t, "invalid_action", ReasonInvalidAction)

	long := &RejectError{Reason: ReasonInvalidAction, Action: otelaudit.Action(strings.Repeat("x", 1<<20)), Err: otelaudit.ErrInvalidAction}
	require.Less(t, len(long.Error()), 200, "the error quotes all of a huge action")

	// Up to 80 bytes are quoted whole; beyond, the first 80 and "...".
	at := strings.Repeat("a", 80)
	require.Contains(t, (&RejectError{Reason: ReasonInvalidAction, Action: otelaudit.Action(at), Err: otelaudit.ErrInvalidAction}).Error(), `"`+at+`"`)
	require.Equal(t, at, clip(at))
	require.Contains(t, (&RejectError{Reason: ReasonInvalidAction, Action: otelaudit.Action(at + "b"), Err: otelaudit.ErrInvalidAction}).Error(), `"`+at+`..."`)
	require.Equal(t, at+"...", clip(at+"b"))
}

// TestReasonIndex: each reason has its own counter; an unknown one counts
// as the last.
func TestReasonIndex(t *testing.T) {
	for i, r := range reasons {
		require.Equal(t, i, reasonIndex(r))
	}
	require.Equal(t, numReasons-1, reasonIndex("no_such_reason"))
}

func TestAuditorConcurrentSafe(t *testing.T) {
	h := newHarness(t)
	// One slice of extra attributes shared by every goroutine, with a
	// dropped one: the Auditor only reads it.
	sharedExtras := []attribute.KeyValue{attribute.String("request.id", "r"), attribute.String(otelaudit.KeyUserID, "x")}
	const goroutines, perG = 16, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := ContextWithClient(context.Background(), otelaudit.Client{IP: fmt.Sprintf("192.0.2.%d", g)})
			for i := range perG {
				switch i % 4 {
				case 0:
					h.auditor.Login(ctx, testActor)
				case 1:
					h.auditor.SettingsChanged(ctx, testActor, otelaudit.Resource{Type: "setting", ID: "theme"},
						attribute.StringValue("light"), attribute.StringValue("dark"))
				case 2:
					h.auditor.Record(ctx, otelaudit.Event{Action: "Invalid Action"})
				case 3:
					_ = h.auditor.Stats()
					h.auditor.Record(ctx, otelaudit.Event{Action: "invoice.refunded", Details: otelaudit.Value(map[string]any{"i": i}),
						Attributes: sharedExtras})
				}
			}
		})
	}
	wg.Wait()

	const valid, invalid, withExtras = goroutines * perG * 3 / 4, goroutines * perG / 4, goroutines * perG / 4
	s := h.auditor.Stats()
	require.Equal(t, uint64(valid), s.Emitted)
	require.Equal(t, uint64(invalid), s.Rejected["invalid_action"])
	require.Equal(t, uint64(withExtras), s.DroppedAttributes)
	require.Len(t, h.Errors(), invalid+withExtras)
	rs := h.exp.Records()
	require.Len(t, rs, valid)
	ids := make(map[string]bool, len(rs))
	for _, r := range rs {
		id := requireEventID(t, attrsOf(t, r)[otelaudit.KeyEventID])
		require.False(t, ids[id.String()])
		ids[id.String()] = true
	}
}

// TestAuditorAllRecordsArrive emits from many goroutines through the SDK's
// BatchProcessor (with a queue large enough for the burst) and checks that
// every record reaches the exporter once the provider is shut down.
func TestAuditorAllRecordsArrive(t *testing.T) {
	const goroutines, perG = 32, 250
	exp := &memExporter{}
	provider := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp,
		sdklog.WithMaxQueueSize(goroutines*perG),
		sdklog.WithExportMaxBatchSize(128),
	)))
	a := New(WithLoggerProvider(provider), WithErrorHandler(func(err error) { t.Error(err) }))

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				a.Record(context.Background(), otelaudit.Event{
					Action:  "job.finished",
					Details: attribute.MapValue(attribute.Int("g", g), attribute.Int("i", i)),
				})
			}
		})
	}
	wg.Wait()
	require.NoError(t, provider.Shutdown(context.Background()))

	rs := exp.Records()
	require.Len(t, rs, goroutines*perG)
	seen := make(map[[2]int64]bool, len(rs))
	for _, r := range rs {
		d := attrsOf(t, r)[otelaudit.KeyDetails].AsMap()
		require.Len(t, d, 2)
		key := [2]int64{d[0].Value.AsInt64(), d[1].Value.AsInt64()}
		require.False(t, seen[key], "record %v twice", key)
		seen[key] = true
	}
	require.Len(t, seen, goroutines*perG)
	require.Equal(t, uint64(goroutines*perG), a.Stats().Emitted)
}

func TestAuditorExtraAttributes(t *testing.T) {
	many := make([]attribute.KeyValue, 0, 40)
	for i := range 20 {
		many = append(many, attribute.Int(fmt.Sprintf("k%02d", i), i))
	}
	many = append(many, attribute.String(otelaudit.KeyUserID, "intruder"), attribute.Int("k03", 333))
	wantMany := map[string]attribute.Value{}
	for i := range 20 {
		wantMany[fmt.Sprintf("k%02d", i)] = attribute.IntValue(i)
	}
	wantMany["k03"] = attribute.IntValue(333)

	tests := []struct {
		name    string
		extras  []attribute.KeyValue
		want    map[string]attribute.Value // besides the actor's and the outcome
		dropped []string                   // keys reported, in order
	}{
		{
			name: "kept as they are",
			extras: []attribute.KeyValue{
				attribute.String("request.id", "req-1"),
				attribute.Int("http.status", 403),
				attribute.StringSlice("feature_flags", []string{"a", "b"}),
				attribute.Map("geo", attribute.String("country", "FR")),
			},
			want: map[string]attribute.Value{
				"request.id":    str("req-1"),
				"http.status":   attribute.IntValue(403),
				"feature_flags": attribute.StringSliceValue([]string{"a", "b"}),
				"geo":           attribute.MapValue(attribute.String("country", "FR")),
			},
		},
		{
			name: "reserved and empty keys are dropped",
			extras: []attribute.KeyValue{
				attribute.String(otelaudit.KeyUserID, "intruder"),
				attribute.String("audit.outcome", "failure"),
				attribute.String("audit.anything", "x"),
				attribute.String("", "no key"),
				attribute.String(otelaudit.KeyEventID, "forged"),
				attribute.String("request.id", "req-1"),
			},
			want:    map[string]attribute.Value{"request.id": str("req-1")},
			dropped: []string{otelaudit.KeyUserID, "audit.outcome", "audit.anything", "", otelaudit.KeyEventID},
		},
		{
			name:    "every extra dropped",
			extras:  []attribute.KeyValue{attribute.String(otelaudit.KeyUserID, "intruder"), attribute.String("", "no key")},
			want:    map[string]attribute.Value{},
			dropped: []string{otelaudit.KeyUserID, ""},
		},
		{
			name: "the last of a key given twice is kept",
			extras: []attribute.KeyValue{
				attribute.String("request.id", "first"),
				attribute.Int("n", 1),
				attribute.String("request.id", "last"),
			},
			want:    map[string]attribute.Value{"request.id": str("last"), "n": attribute.IntValue(1)},
			dropped: []string{"request.id"},
		},
		{
			name:    "many",
			extras:  many,
			want:    wantMany,
			dropped: []string{"k03", otelaudit.KeyUserID},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			extras := slices.Clone(tt.extras)
			h.auditor.Record(context.Background(), otelaudit.Event{Action: otelaudit.ActionLogin, Actor: testActor, Attributes: extras})
			require.Equal(t, tt.extras, extras, "the caller's slice was changed")
			requireAttrs(t, h.only(t), merge(testActorAttrs, success, tt.want))

			errs := h.Errors()
			require.Len(t, errs, len(tt.dropped), "%v", errs)
			for i, k := range tt.dropped {
				require.ErrorIs(t, errs[i], ErrAttributeDropped)
				require.Contains(t, errs[i].Error(), fmt.Sprintf("%q", k))
			}
			require.Equal(t, uint64(len(tt.dropped)), h.auditor.Stats().DroppedAttributes)
			require.Equal(t, uint64(1), h.auditor.Stats().Emitted)

			// BuildRecord leaves out the same attributes, silently.
			var r log.Record
			e := otelaudit.Event{Action: otelaudit.ActionLogin, Attributes: extras}
			BuildRecord(&r, &e)
			got := map[string]attribute.Value{}
			r.WalkAttributes(func(kv attribute.KeyValue) bool {
				if !otelaudit.IsReservedKey(string(kv.Key)) {
					got[string(kv.Key)] = kv.Value
				}
				return true
			})
			require.Equal(t, tt.want, got)
		})
	}
}
