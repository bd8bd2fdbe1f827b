package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
)

// redacted is a LogValuer that hides its value.
type redacted string

func (redacted) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// selfGroup is a LogValuer whose value contains itself, forever.
type selfGroup struct{}

func (s selfGroup) LogValue() slog.Value { return slog.GroupValue(slog.Any("again", s)) }

// inlineSelf is a LogValuer whose value inlines itself (an empty-key
// group), forever.
type inlineSelf struct{}

func (s inlineSelf) LogValue() slog.Value { return slog.GroupValue(slog.Any("", s)) }

type plan struct {
	Name  string `json:"name"`
	Cents int    `json:"cents"`
}

func TestSlogHandlerMapping(t *testing.T) {
	eventID := uuid.Must(uuid.NewV7())
	at := time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)

	tests := []struct {
		name     string
		logger   func(*slog.Logger) *slog.Logger // handler-level attributes and groups
		msg      string
		attrs    []slog.Attr
		severity log.Severity
		want     map[string]attribute.Value // besides the event id
		wantID   uuid.UUID
		refused  []string // keys reported as not applied
	}{
		{
			name: "contract keys",
			msg:  "invoice.refunded",
			attrs: []slog.Attr{
				slog.String(otelaudit.KeyUserID, "u-42"),
				slog.String(otelaudit.KeyWorkspaceID, "ws-7"),
				slog.String(otelaudit.KeyUserName, "Ada Lovelace"),
				slog.String(otelaudit.KeyClientAddress, "203.0.113.7"),
				slog.String(otelaudit.KeyUserAgent, "curl/8.5.0"),
				slog.String(otelaudit.KeySessionID, "sess-1"),
				slog.String(otelaudit.KeyResourceType, "invoice"),
				slog.Int(otelaudit.KeyResourceID, 7),
				slog.String(otelaudit.KeyEventID, eventID.String()),
				slog.Group(otelaudit.KeyDetails, slog.Int("amount_cents", 1250), slog.String("currency", "EUR")),
				slog.Any(otelaudit.KeyPrevious, map[string]any{"state": "paid"}),
				slog.Group(otelaudit.KeyNew, slog.String("state", "refunded")),
			},
			severity: log.SeverityInfo,
			want: merge(testActorAttrs, success, map[string]attribute.Value{
				otelaudit.KeyClientAddress: str("203.0.113.7"),
				otelaudit.KeyUserAgent:     str("curl/8.5.0"),
				otelaudit.KeySessionID:     str("sess-1"),
				otelaudit.KeyResourceType:  str("invoice"),
				otelaudit.KeyResourceID:    str("7"),
				otelaudit.KeyDetails:       attribute.MapValue(attribute.Int("amount_cents", 1250), attribute.String("currency", "EUR")),
				otelaudit.KeyPrevious:      attribute.MapValue(attribute.String("state", "paid")),
				otelaudit.KeyNew:           attribute.MapValue(attribute.String("state", "refunded")),
			}),
			wantID: eventID,
		},
		{
			name:     "error type means failure",
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyUserID, "u-42"), slog.String(otelaudit.KeyErrorType, "invalid_password")},
			severity: log.SeverityWarn,
			want: map[string]attribute.Value{
				otelaudit.KeyUserID:    str("u-42"),
				otelaudit.KeyOutcome:   str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType: str("invalid_password"),
			},
		},
		{
			name:     "error type wins over outcome success",
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyErrorType, "mfa_required"), slog.String(otelaudit.KeyOutcome, "success")},
			severity: log.SeverityWarn,
			want: map[string]attribute.Value{
				otelaudit.KeyOutcome:   str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType: str("mfa_required"),
			},
		},
		{
			name:     "outcome failure",
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyOutcome, "failure")},
			severity: log.SeverityWarn,
			want:     map[string]attribute.Value{otelaudit.KeyOutcome: str(otelaudit.OutcomeFailure)},
		},
		{
			name:     "empty error type is no failure",
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyErrorType, "")},
			severity: log.SeverityInfo,
			want:     success,
		},
		{
			name:     "unknown outcome and bad event id are kept in details",
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyOutcome, "maybe"), slog.String(otelaudit.KeyEventID, "not-a-uuid")},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(
					attribute.String(otelaudit.KeyEventID, "not-a-uuid"),
					attribute.String(otelaudit.KeyOutcome, "maybe"),
				),
			}),
			refused: []string{otelaudit.KeyOutcome, otelaudit.KeyEventID},
		},
		{
			name: "empty event id clears one set before",
			logger: func(l *slog.Logger) *slog.Logger {
				return l.With(otelaudit.KeyEventID, eventID.String())
			},
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyEventID, "")},
			severity: log.SeverityInfo,
			want:     success,
		},
		{
			name: "other attributes go into details, structured",
			msg:  "plan.changed",
			attrs: []slog.Attr{
				slog.Bool("trial", true),
				slog.Int64("seats", 12),
				slog.Uint64("big", math.MaxUint64),
				slog.Float64("ratio", 0.25),
				slog.Duration("took", 1500*time.Millisecond),
				slog.Time("at", at),
				slog.Any("plan", plan{Name: "pro", Cents: 1900}),
				slog.Any("tags", []string{"a", "b"}),
				slog.Any("cause", errors.New("boom")),
				slog.Any("password", redacted("hunter2")),
				slog.Any("nil", nil),
				slog.Group("billing", slog.String("country", "FR"), slog.Group("card", slog.String("brand", "visa"))),
			},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(
					attribute.Bool("trial", true),
					attribute.Int64("seats", 12),
					attribute.String("big", "18446744073709551615"),
					attribute.Float64("ratio", 0.25),
					attribute.String("took", "1.5s"),
					attribute.String("at", "2026-03-04T05:06:07.000000008Z"),
					attribute.Map("plan", attribute.Int("cents", 1900), attribute.String("name", "pro")),
					attribute.StringSlice("tags", []string{"a", "b"}),
					attribute.String("cause", "boom"),
					attribute.String("password", "[redacted]"),
					attribute.KeyValue{Key: "nil", Value: attribute.Value{}},
					attribute.Map("billing", attribute.String("country", "FR"), attribute.Map("card", attribute.String("brand", "visa"))),
				),
			}),
		},
		{
			name:     "details group merged with other attributes",
			msg:      "plan.changed",
			attrs:    []slog.Attr{slog.Group(otelaudit.KeyDetails, slog.String("from", "free")), slog.String("to", "pro")},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.String("from", "free"), attribute.String("to", "pro")),
			}),
		},
		{
			name:     "scalar details with other attributes",
			msg:      "plan.changed",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyDetails, "upgrade"), slog.String("to", "pro")},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.String(otelaudit.KeyDetails, "upgrade"), attribute.String("to", "pro")),
			}),
		},
		{
			name:     "scalar details alone",
			msg:      "plan.changed",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyDetails, "upgrade")},
			severity: log.SeverityInfo,
			want:     merge(success, map[string]attribute.Value{otelaudit.KeyDetails: str("upgrade")}),
		},
		{
			name: "empty attributes and groups are ignored, empty keys inlined",
			msg:  "login",
			attrs: []slog.Attr{
				{},
				slog.Group("empty"),
				slog.Group("", slog.String("inlined", "yes"), slog.String(otelaudit.KeyUserID, "u-42")),
				slog.Int("", 5),
				slog.Group("outer", slog.Group("inner")),
			},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyUserID:  str("u-42"),
				otelaudit.KeyDetails: attribute.MapValue(attribute.String("inlined", "yes")),
			}),
		},
		{
			name:     "LogValuer recursion is depth-limited",
			msg:      "login",
			attrs:    []slog.Attr{slog.Any("loop", selfGroup{})},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.KeyValue{Key: "loop", Value: nestedAgain(otelaudit.MaxValueDepth)}),
			}),
		},
		{
			// Inline groups count toward the depth too: the recursion ends,
			// and the group, empty all the way down, is left out.
			name:     "LogValuer recursion through inline groups is depth-limited",
			msg:      "login",
			attrs:    []slog.Attr{slog.Any("loop", inlineSelf{}), slog.String("kept", "yes")},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.String("kept", "yes")),
			}),
		},
		{
			name: "WithAttrs contract keys, overridden by the record",
			logger: func(l *slog.Logger) *slog.Logger {
				return l.With(otelaudit.KeyUserID, "u-1", otelaudit.KeyWorkspaceID, "ws-7", "request_id", "r-1")
			},
			msg:      "logout",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyUserID, "u-42"), slog.String("reason", "idle")},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyUserID:      str("u-42"),
				otelaudit.KeyWorkspaceID: str("ws-7"),
				otelaudit.KeyDetails:     attribute.MapValue(attribute.String("reason", "idle"), attribute.String("request_id", "r-1")),
			}),
		},
		{
			name: "WithGroup nests, contract keys inside groups are details",
			logger: func(l *slog.Logger) *slog.Logger {
				return l.With(otelaudit.KeyUserID, "u-42").WithGroup("http").With("method", "POST").WithGroup("req")
			},
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyUserID, "u-inner"), slog.Int("bytes", 12)},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyUserID: str("u-42"),
				otelaudit.KeyDetails: attribute.MapValue(attribute.Map("http",
					attribute.String("method", "POST"),
					attribute.Map("req", attribute.Int("bytes", 12), attribute.String(otelaudit.KeyUserID, "u-inner")),
				)),
			}),
		},
		{
			name: "empty groups from WithGroup are left out",
			logger: func(l *slog.Logger) *slog.Logger {
				return l.WithGroup("a").With("x", 1).WithGroup("b").WithGroup("c")
			},
			msg:      "login",
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.Map("a", attribute.Int("x", 1))),
			}),
		},
		{
			name:     "WithGroup of the details key",
			logger:   func(l *slog.Logger) *slog.Logger { return l.WithGroup(otelaudit.KeyDetails) },
			msg:      "login",
			attrs:    []slog.Attr{slog.String(otelaudit.KeyUserID, "u-42"), slog.String("method", "totp")},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.String("method", "totp"), attribute.String(otelaudit.KeyUserID, "u-42")),
			}),
		},
		{
			name:     "WithGroup and WithAttrs with nothing are no-ops",
			logger:   func(l *slog.Logger) *slog.Logger { return l.WithGroup("").With() },
			msg:      "login",
			attrs:    []slog.Attr{slog.String("k", "v")},
			severity: log.SeverityInfo,
			want:     merge(success, map[string]attribute.Value{otelaudit.KeyDetails: attribute.MapValue(attribute.String("k", "v"))}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			l := slog.New(NewSlogHandler(h.auditor))
			if tt.logger != nil {
				l = tt.logger(l)
			}
			l.LogAttrs(spanContext(t), slog.LevelDebug, tt.msg, tt.attrs...)

			r := h.only(t)
			require.Equal(t, otelaudit.EventNamePrefix+tt.msg, r.EventName())
			require.Equal(t, tt.severity, r.Severity())
			require.Equal(t, testTraceID, r.TraceID())
			require.Equal(t, testSpanID, r.SpanID())
			require.WithinDuration(t, time.Now(), r.Timestamp(), time.Minute, "the slog record's time")
			id := requireAttrs(t, r, tt.want)
			if tt.wantID != uuid.Nil {
				require.Equal(t, tt.wantID, id)
			} else {
				require.NotEqual(t, eventID, id)
			}
			requireRefused(t, h, tt.refused...)
		})
	}
}

// requireRefused checks that the errors h's Auditor reported are one
// ErrSlogAttribute per key, in order, and nothing else.
func requireRefused(t testing.TB, h *harness, keys ...string) {
	t.Helper()
	errs := h.Errors()
	require.Len(t, errs, len(keys), "%v", errs)
	for i, k := range keys {
		require.ErrorIs(t, errs[i], ErrSlogAttribute)
		require.Contains(t, errs[i].Error(), fmt.Sprintf("%q", k))
	}
}

// nestedAgain is what selfGroup turns into: maps nested maps deep around the
// depth marker.
func nestedAgain(maps int) attribute.Value {
	v := attribute.StringValue(otelaudit.DepthLimitMarker)
	for range maps {
		v = attribute.MapValue(attribute.KeyValue{Key: "again", Value: v})
	}
	return v
}

func TestSlogHandlerTimeAndContext(t *testing.T) {
	h := newHarness(t)
	handler := NewSlogHandler(h.auditor)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx := ContextWithClient(context.Background(), otelaudit.Client{IP: "203.0.113.7", UserAgent: "curl/8.5.0"})

	r := slog.NewRecord(at, slog.LevelInfo, "login", 0)
	r.AddAttrs(slog.String(otelaudit.KeyClientAddress, "198.51.100.1"))
	require.NoError(t, handler.Handle(ctx, r))
	require.NoError(t, handler.Handle(ctx, slog.NewRecord(time.Time{}, slog.LevelInfo, "logout", 0)))

	rs := h.exp.Records()
	require.Len(t, rs, 2)
	require.Equal(t, at, rs[0].Timestamp())
	requireAttrs(t, rs[0], merge(success, map[string]attribute.Value{
		otelaudit.KeyClientAddress: str("198.51.100.1"),
		otelaudit.KeyUserAgent:     str("curl/8.5.0"),
	}))
	require.Equal(t, testTime, rs[1].Timestamp(), "a zero time takes the Auditor's clock")
}

func TestSlogHandlerRejectsInvalidActions(t *testing.T) {
	h := newHarness(t)
	l := slog.New(NewSlogHandler(h.auditor))
	l.Info("login")
	l.Info("User logged in", "user", "u-42")
	l.Info("user.12345")
	l.Info("logout")

	rs := h.exp.Records()
	require.Len(t, rs, 2)
	require.Equal(t, "audit.login", rs[0].EventName())
	require.Equal(t, "audit.logout", rs[1].EventName())
	require.Equal(t, uint64(2), h.auditor.Stats().Rejected["invalid_action"])
	for _, err := range h.Errors() {
		require.ErrorIs(t, err, ErrRejected)
	}
}

func TestSlogHandlerEnabled(t *testing.T) {
	h := NewSlogHandler(nil)
	for _, level := range []slog.Level{slog.LevelDebug - 4, slog.LevelDebug, slog.LevelInfo, slog.LevelError + 4} {
		require.True(t, h.Enabled(context.Background(), level))
	}
	require.NotPanics(t, func() {
		slog.New(h).With("a", 1).WithGroup("g").Info("login", "b", 2)
	})
	var nilHandler *SlogHandler
	require.NotPanics(t, func() {
		require.NoError(t, nilHandler.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, "login", 0)))
		require.Nil(t, nilHandler.WithAttrs([]slog.Attr{slog.Int("a", 1)}))
		require.Nil(t, nilHandler.WithGroup("g"))
	})
}

// TestSlogHandlerDerivedHandlersIndependent checks that handlers derived
// from the same parent do not see each other's attributes.
func TestSlogHandlerDerivedHandlersIndependent(t *testing.T) {
	h := newHarness(t)
	parent := slog.New(NewSlogHandler(h.auditor)).With("p", 1).WithGroup("g").With("q", 2)
	a := parent.With("a", "A")
	b := parent.With("b", "B")
	a.Info("login")
	b.Info("login")
	parent.Info("login")

	rs := h.exp.Records()
	require.Len(t, rs, 3)
	details := func(r sdklog.Record) attribute.Value { return attrsOf(t, r)[otelaudit.KeyDetails] }
	require.Equal(t, attribute.MapValue(attribute.Int("p", 1), attribute.Map("g", attribute.Int("q", 2), attribute.String("a", "A"))), details(rs[0]))
	require.Equal(t, attribute.MapValue(attribute.Int("p", 1), attribute.Map("g", attribute.Int("q", 2), attribute.String("b", "B"))), details(rs[1]))
	require.Equal(t, attribute.MapValue(attribute.Int("p", 1), attribute.Map("g", attribute.Int("q", 2))), details(rs[2]))
}

// TestSlogHandlerSlogtest runs the standard library's handler conformance
// tests. Their messages ("message", "msg") are valid actions, and their
// attributes use no contract key, so all of them land in Details; the
// result function turns a record back into the map slogtest expects: the
// built-in keys from the record and the details as the other keys.
func TestSlogHandlerSlogtest(t *testing.T) {
	var h *harness
	slogtest.Run(t,
		func(t *testing.T) slog.Handler {
			if strings.HasSuffix(t.Name(), "/zero-time") {
				t.Skip("by design: an audit record always has a time; a zero slog time takes the Auditor's clock")
			}
			h = newHarness(t)
			return NewSlogHandler(h.auditor)
		},
		func(t *testing.T) map[string]any {
			r := h.only(t)
			action, ok := otelaudit.ActionFromEventName(r.EventName())
			require.True(t, ok)
			m := map[string]any{
				slog.TimeKey:    r.Timestamp(),
				slog.LevelKey:   r.Severity().String(),
				slog.MessageKey: string(action),
			}
			if d, ok := attrsOf(t, r)[otelaudit.KeyDetails]; ok {
				require.Equal(t, attribute.MAP, d.Type())
				for k, v := range asAny(d).(map[string]any) {
					m[k] = v
				}
			}
			return m
		},
	)
}

// asAny turns an attribute value into what encoding/json would decode it
// to, with maps as map[string]any.
func asAny(v attribute.Value) any {
	switch v.Type() {
	case attribute.MAP:
		m := map[string]any{}
		for _, kv := range v.AsMap() {
			m[string(kv.Key)] = asAny(kv.Value)
		}
		return m
	case attribute.SLICE:
		var s []any
		for _, e := range v.AsSlice() {
			s = append(s, asAny(e))
		}
		return s
	}
	return v.AsInterface()
}

func TestSlogHandlerConcurrentSafe(t *testing.T) {
	h := newHarness(t)
	base := slog.New(NewSlogHandler(h.auditor)).With(otelaudit.KeyWorkspaceID, "ws-7").WithGroup("g")
	const goroutines, perG = 8, 50
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			l := base.With("g", g)
			for i := range perG {
				l.Info("login", "i", i)
			}
		}()
	}
	for range goroutines {
		<-done
	}
	rs := h.exp.Records()
	require.Len(t, rs, goroutines*perG)
	// Every record carries its own goroutine's attributes, and each
	// (goroutine, i) pair is recorded exactly once.
	seen := map[attribute.Value]bool{}
	for _, r := range rs {
		attrs := attrsOf(t, r)
		require.Equal(t, str("ws-7"), attrs[otelaudit.KeyWorkspaceID])
		d := attrs[otelaudit.KeyDetails]
		require.Equal(t, attribute.MAP, d.Type())
		require.Len(t, d.AsMap(), 1)
		g := d.AsMap()[0]
		require.Equal(t, attribute.Key("g"), g.Key)
		require.Equal(t, attribute.MAP, g.Value.Type())
		kvs := g.Value.AsMap()
		require.Len(t, kvs, 2)
		require.Equal(t, attribute.Key("g"), kvs[0].Key)
		require.Equal(t, attribute.Key("i"), kvs[1].Key)
		require.False(t, seen[g.Value], "recorded twice: %v", g.Value.Emit())
		seen[g.Value] = true
	}
	for g := range goroutines {
		for i := range perG {
			want := attribute.MapValue(attribute.Int("g", g), attribute.Int("i", i))
			require.True(t, seen[want], "missing: %v", want.Emit())
		}
	}
}

// TestSlogHandlerHabitualKeys checks the key table of SlogHandler: every
// spelling fills its field, values that cannot are kept in details and
// reported, and keys outside the table go into details untouched.
func TestSlogHandlerHabitualKeys(t *testing.T) {
	eventID := uuid.Must(uuid.NewV7())
	fills := []struct {
		keys []string
		want string // the contract key the value lands under
	}{
		{[]string{"user_id", "userId", "UserID", "user-id", "USER_ID", otelaudit.KeyUserID}, otelaudit.KeyUserID},
		{[]string{"workspace_id", "workspaceId", "tenant_id", "tenantID", "org_id", "organization_id", "ORGANIZATION_ID", otelaudit.KeyWorkspaceID}, otelaudit.KeyWorkspaceID},
		{[]string{otelaudit.KeyUserName, "user_full_name"}, otelaudit.KeyUserName},
		{[]string{"ip", "IP", "client_ip", "clientIp", "ip_address", "remote_ip", "remote_addr", "remoteAddr", otelaudit.KeyClientAddress}, otelaudit.KeyClientAddress},
		{[]string{"user_agent", "userAgent", "http.user_agent", otelaudit.KeyUserAgent}, otelaudit.KeyUserAgent},
		{[]string{"session_id", "sessionId", otelaudit.KeySessionID}, otelaudit.KeySessionID},
		{[]string{"resource", "resource_type", "resourceType", otelaudit.KeyResourceType}, otelaudit.KeyResourceType},
		{[]string{"resource_id", "resourceId", otelaudit.KeyResourceID}, otelaudit.KeyResourceID},
	}
	for _, f := range fills {
		for _, k := range f.keys {
			t.Run(k, func(t *testing.T) {
				h := newHarness(t)
				slog.New(NewSlogHandler(h.auditor)).Info("login", k, "v-1", "other", 1)
				requireAttrs(t, h.only(t), merge(success, map[string]attribute.Value{
					f.want:               str("v-1"),
					otelaudit.KeyDetails: attribute.MapValue(attribute.Int("other", 1)),
				}))
				requireRefused(t, h)
			})
		}
	}

	tests := []struct {
		name     string
		attrs    []any
		severity log.Severity
		want     map[string]attribute.Value // besides the event id
		wantID   uuid.UUID
		refused  []string
	}{
		{
			name:     "numbers and booleans in text fields",
			attrs:    []any{"user_id", 42, "resource_id", uint64(7), "session_id", true, "workspace_id", 1.5},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyUserID:      str("42"),
				otelaudit.KeyResourceID:  str("7"),
				otelaudit.KeySessionID:   str("true"),
				otelaudit.KeyWorkspaceID: str("1.5"),
			}),
		},
		{
			name:     "error_type means failure",
			attrs:    []any{"error_type", "invalid_password"},
			severity: log.SeverityWarn,
			want: map[string]attribute.Value{
				otelaudit.KeyOutcome:   str(otelaudit.OutcomeFailure),
				otelaudit.KeyErrorType: str("invalid_password"),
			},
		},
		{
			name:     "outcome, any case",
			attrs:    []any{"outcome", "FAILURE"},
			severity: log.SeverityWarn,
			want:     map[string]attribute.Value{otelaudit.KeyOutcome: str(otelaudit.OutcomeFailure)},
		},
		{
			name:     "err means failure and stays in details",
			attrs:    []any{"err", errors.New("connection reset"), "user_id", "u-42"},
			severity: log.SeverityWarn,
			want: map[string]attribute.Value{
				otelaudit.KeyUserID:  str("u-42"),
				otelaudit.KeyOutcome: str(otelaudit.OutcomeFailure),
				otelaudit.KeyDetails: attribute.MapValue(attribute.String("err", "connection reset")),
			},
		},
		{
			name:     "a nil error is no failure",
			attrs:    []any{"error", error(nil)},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.KeyValue{Key: "error", Value: attribute.Value{}}),
			}),
		},
		{
			name:     "event_id",
			attrs:    []any{"event_id", eventID.String()},
			severity: log.SeverityInfo,
			want:     success,
			wantID:   eventID,
		},
		{
			name: "details, previous and new spellings",
			attrs: []any{
				"details", map[string]any{"reason": "review"},
				"previous_value", map[string]any{"ttl": 24},
				"new_value", plan{Name: "pro", Cents: 1900},
			},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails:  attribute.MapValue(attribute.String("reason", "review")),
				otelaudit.KeyPrevious: attribute.MapValue(attribute.Int("ttl", 24)),
				otelaudit.KeyNew:      attribute.MapValue(attribute.Int("cents", 1900), attribute.String("name", "pro")),
			}),
		},
		{
			name:     "old_value and new",
			attrs:    []any{"old_value", "light", "new", "dark"},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyPrevious: str("light"),
				otelaudit.KeyNew:      str("dark"),
			}),
		},
		{
			name:     "the last spelling wins",
			attrs:    []any{otelaudit.KeyUserID, "u-1", "user_id", "u-2", "userId", "u-3"},
			severity: log.SeverityInfo,
			want:     merge(success, map[string]attribute.Value{otelaudit.KeyUserID: str("u-3")}),
		},
		{
			name:     "an empty value clears the field",
			attrs:    []any{"user_id", "u-1", "user_id", ""},
			severity: log.SeverityInfo,
			want:     success,
		},
		{
			name: "values that cannot fill their field are refused and kept",
			attrs: []any{
				slog.Group("user_id", "id", "u-1"),
				"ip", []string{"203.0.113.7", "10.0.0.1"},
				"session_id", []byte("s-1"),
				"outcome", "partial",
				"event_id", "evt-1",
				"user_agent", "curl/8.5.0",
			},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyUserAgent: str("curl/8.5.0"),
				otelaudit.KeyDetails: attribute.MapValue(
					attribute.String("event_id", "evt-1"),
					attribute.StringSlice("ip", []string{"203.0.113.7", "10.0.0.1"}),
					attribute.String("outcome", "partial"),
					attribute.KeyValue{Key: "session_id", Value: attribute.ByteSliceValue([]byte("s-1"))},
					attribute.Map("user_id", attribute.String("id", "u-1")),
				),
			}),
			refused: []string{"user_id", "ip", "session_id", "outcome", "event_id"},
		},
		{
			name:     "keys outside the table go into details",
			attrs:    []any{"user", "ada", "username", "ada", "email", "ada@example.com", "request_id", "r-1", "name", "Ada", "userid_hash", "x"},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(
					attribute.String("email", "ada@example.com"),
					attribute.String("name", "Ada"),
					attribute.String("request_id", "r-1"),
					attribute.String("user", "ada"),
					attribute.String("userid_hash", "x"),
					attribute.String("username", "ada"),
				),
			}),
		},
		{
			name:     "keys inside groups are details",
			attrs:    []any{slog.Group("http", "client_ip", "203.0.113.7", "user_agent", "curl/8.5.0")},
			severity: log.SeverityInfo,
			want: merge(success, map[string]attribute.Value{
				otelaudit.KeyDetails: attribute.MapValue(attribute.Map("http",
					attribute.String("client_ip", "203.0.113.7"), attribute.String("user_agent", "curl/8.5.0"))),
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			slog.New(NewSlogHandler(h.auditor)).Info("login", tt.attrs...)
			r := h.only(t)
			require.Equal(t, "audit.login", r.EventName())
			require.Equal(t, tt.severity, r.Severity())
			require.Equal(t, attribute.EMPTY, r.Body().Type())
			id := requireAttrs(t, r, tt.want)
			if tt.wantID != uuid.Nil {
				require.Equal(t, tt.wantID, id)
			}
			requireRefused(t, h, tt.refused...)
		})
	}

	t.Run("refusals from WithAttrs are reported with each record", func(t *testing.T) {
		h := newHarness(t)
		l := slog.New(NewSlogHandler(h.auditor)).With("user_id", []string{"a", "b"})
		l.Info("login")
		l.Info("logout")
		require.Len(t, h.exp.Records(), 2)
		requireRefused(t, h, "user_id", "user_id")
	})

	t.Run("key lookup does not allocate", func(t *testing.T) {
		allocs := testing.AllocsPerRun(100, func() {
			_ = slogFieldOf("Client_IP")
			_ = slogFieldOf("a.key.longer.than.any.of.the.table")
		})
		require.Zero(t, allocs)
		require.Equal(t, fieldClientIP, slogFieldOf("Client_IP"))
		require.Equal(t, fieldNone, slogFieldOf("a.key.longer.than.any.of.the.table"))
	})
}

// TestSlogHandlerActionAndModes checks the action attribute and what
// happens, in strict and lax mode, to messages that are not action names.
func TestSlogHandlerActionAndModes(t *testing.T) {
	tests := []struct {
		name      string
		lax       bool
		msg       string
		attrs     []any
		eventName string // "" when rejected
		body      string
		details   attribute.Value
	}{
		{name: "strict: the message is the action", msg: "login", eventName: "audit.login"},
		{name: "strict: a sentence is rejected", msg: "user logged in"},
		{name: "strict: a dynamic action is rejected", msg: "user.12345"},
		{
			name: "strict: the action attribute wins, the message is kept",
			msg:  "user logged in", attrs: []any{"action", "login", "method", "sso"},
			eventName: "audit.login", body: "user logged in",
			details: attribute.MapValue(attribute.String("method", "sso"), attribute.String("msg", "user logged in")),
		},
		{
			name: "strict: a message equal to the action attribute is not repeated",
			msg:  "login", attrs: []any{"action", "login"},
			eventName: "audit.login",
		},
		{
			name: "strict: an invalid action attribute is rejected",
			msg:  "login", attrs: []any{"action", "User Login"},
		},
		{name: "lax: a valid message is the action", lax: true, msg: "invoice.refunded", eventName: "audit.invoice.refunded"},
		{
			name: "lax: a sentence is kept under log",
			lax:  true, msg: "user logged in", attrs: []any{"user_id", "u-42", "method", "sso"},
			eventName: "audit.log", body: "user logged in",
			details: attribute.MapValue(attribute.String("method", "sso"), attribute.String("msg", "user logged in")),
		},
		{
			name: "lax: the message replaces a msg attribute",
			lax:  true, msg: "Export started", attrs: []any{"msg", "shadowed", "format", "csv"},
			eventName: "audit.log", body: "Export started",
			details: attribute.MapValue(attribute.String("format", "csv"), attribute.String("msg", "Export started")),
		},
		{
			name: "lax: an invalid action attribute is kept in details",
			lax:  true, msg: "user logged in", attrs: []any{"action", "User Login"},
			eventName: "audit.log", body: "user logged in",
			details: attribute.MapValue(attribute.String("action", "User Login"), attribute.String("msg", "user logged in")),
		},
		{name: "lax: an empty message", lax: true, msg: "", eventName: "audit.log"},
		{
			name: "lax: merged with details",
			lax:  true, msg: "note", attrs: []any{"details", map[string]any{"a": 1}},
			eventName: "audit.note",
			details:   attribute.MapValue(attribute.Int("a", 1)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			var opts []SlogOption
			if tt.lax {
				opts = append(opts, WithLaxMessages(), nil)
			}
			slog.New(NewSlogHandler(h.auditor, opts...)).Info(tt.msg, tt.attrs...)
			rs := h.exp.Records()
			if tt.eventName == "" {
				require.Empty(t, rs)
				require.Equal(t, uint64(1), h.auditor.Stats().Rejected[ReasonInvalidAction])
				errs := h.Errors()
				require.Len(t, errs, 1)
				require.ErrorIs(t, errs[0], ErrRejected)
				return
			}
			require.Len(t, rs, 1)
			r := rs[0]
			require.Equal(t, tt.eventName, r.EventName())
			if tt.body == "" {
				require.Equal(t, attribute.EMPTY, r.Body().Type())
			} else {
				require.Equal(t, str(tt.body), r.Body())
			}
			require.Equal(t, tt.details, attrsOf(t, r)[otelaudit.KeyDetails])
			require.Empty(t, h.Errors())
		})
	}
}
