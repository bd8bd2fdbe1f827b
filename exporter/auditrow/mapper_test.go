package auditrow_test

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
)

var (
	testTraceID = trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testSpanID  = trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
)

func traced(ctx context.Context) context.Context {
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: testTraceID, SpanID: testSpanID, TraceFlags: trace.FlagsSampled,
	}))
}

// TestRoundTrip emits every kind of event through the bridge and a real SDK
// provider and checks that the row holds exactly what the event held.
func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 31, 23, 59, 59, 123456789, time.UTC)
	id := uuid.Must(uuid.NewV7())
	tests := []struct {
		name  string
		event otelaudit.Event
		want  auditrow.Row
	}{
		{
			name: "every field",
			event: otelaudit.Event{
				ID: id, Time: at, Action: otelaudit.ActionSettingsChanged,
				Actor:    otelaudit.Actor{UserID: "u_1", WorkspaceID: "ws_9", Name: "Ada Lovelace"},
				Client:   otelaudit.Client{IP: "2001:db8::7", UserAgent: "Mozilla/5.0", SessionID: "s_3"},
				Resource: otelaudit.Resource{Type: "setting", ID: "mfa.required"},
				Outcome:  otelaudit.Failure("permission_denied"),
				Details:  otelaudit.Value(map[string]any{"reason": "policy", "attempt": 2, "tags": []string{"a", "b"}, "nested": map[string]any{"ok": true, "ratio": 0.5}}),
				Previous: attribute.BoolValue(false),
				New:      attribute.MapValue(attribute.Bool("enabled", true), attribute.Int64("grace_days", 7)),
			},
			want: auditrow.Row{
				EventID: id, Time: at, Action: "settings_changed",
				UserID: "u_1", WorkspaceID: "ws_9", UserName: "Ada Lovelace",
				ClientIP: netip.MustParseAddr("2001:db8::7"), UserAgent: "Mozilla/5.0", SessionID: "s_3",
				ResourceType: "setting", ResourceID: "mfa.required",
				Outcome: "failure", ErrorType: "permission_denied",
				Details:  []byte(`{"attempt":2,"nested":{"ok":true,"ratio":0.5},"reason":"policy","tags":["a","b"]}`),
				Previous: []byte(`false`),
				New:      []byte(`{"enabled":true,"grace_days":7}`),
				TraceID:  testTraceID, SpanID: testSpanID, ServiceName: corpus.ServiceName,
			},
		},
		{
			name:  "minimal login",
			event: otelaudit.Event{ID: id, Time: at, Action: otelaudit.ActionLogin, Actor: otelaudit.Actor{UserID: "u_2"}},
			want: auditrow.Row{
				EventID: id, Time: at, Action: "login", UserID: "u_2", Outcome: "success",
				TraceID: testTraceID, SpanID: testSpanID, ServiceName: corpus.ServiceName,
			},
		},
		{
			name:  "custom action with ipv4",
			event: otelaudit.Event{ID: id, Time: at, Action: "invoice.refunded", Client: otelaudit.Client{IP: "203.0.113.9"}, Details: attribute.StringValue("partial")},
			want: auditrow.Row{
				EventID: id, Time: at, Action: "invoice.refunded", ClientIP: netip.MustParseAddr("203.0.113.9"),
				Outcome: "success", Details: []byte(`"partial"`),
				TraceID: testTraceID, SpanID: testSpanID, ServiceName: corpus.ServiceName,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := emit(t, func(a *bridge.Auditor) { a.Record(traced(context.Background()), tt.event) })
			require.Len(t, recs, 1)
			got, err := auditrow.NewMapper(auditrow.Options{}).MapRecord(&recs[0])
			require.NoError(t, err)
			require.False(t, got.ObservedTime.IsZero(), "observed time is set by the SDK")
			got.ObservedTime = time.Time{}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestRoundTripTypedCalls checks the action and resource each typed call
// records, read back through the mapping.
func TestRoundTripTypedCalls(t *testing.T) {
	actor := otelaudit.Actor{UserID: "u_1", WorkspaceID: "ws_1"}
	details := attribute.MapValue(attribute.String("format", "json"))
	ctx := bridge.ContextWithClient(context.Background(), otelaudit.Client{IP: "198.51.100.4", UserAgent: "curl/8"})
	recs := emit(t, func(a *bridge.Auditor) {
		a.Login(ctx, actor)
		a.LoginFailed(ctx, actor, "invalid_password")
		a.Logout(ctx, actor)
		a.DataExportRequested(ctx, actor, "exp_1", details)
		a.DataExportCompleted(ctx, actor, "exp_1", details)
		a.DataDeleteRequested(ctx, actor, "del_1", details)
		a.DataDeleteCompleted(ctx, actor, "del_1", details)
		a.SettingsChanged(ctx, actor, otelaudit.Resource{Type: "setting", ID: "theme"}, attribute.StringValue("light"), attribute.StringValue("dark"))
		a.OAuthConnected(ctx, actor, "github", nil)
		a.OAuthDisconnected(ctx, actor, "github", nil)
		a.SubscriptionCreated(ctx, actor, "sub_1", details)
		a.SubscriptionCancelled(ctx, actor, "sub_1", details)
		a.AdminAction(ctx, actor, otelaudit.Resource{Type: "user", ID: "u_7"}, details)
	})

	want := []struct{ action, outcome, errType, resType, resID, prev, next string }{
		{"login", "success", "", "", "", "", ""},
		{"login", "failure", "invalid_password", "", "", "", ""},
		{"logout", "success", "", "", "", "", ""},
		{"data_export_requested", "success", "", "data_export", "exp_1", "", ""},
		{"data_export_completed", "success", "", "data_export", "exp_1", "", ""},
		{"data_delete_requested", "success", "", "data_deletion", "del_1", "", ""},
		{"data_delete_completed", "success", "", "data_deletion", "del_1", "", ""},
		{"settings_changed", "success", "", "setting", "theme", `"light"`, `"dark"`},
		{"oauth_connected", "success", "", "oauth_provider", "github", "", ""},
		{"oauth_disconnected", "success", "", "oauth_provider", "github", "", ""},
		{"subscription_created", "success", "", "subscription", "sub_1", "", ""},
		{"subscription_cancelled", "success", "", "subscription", "sub_1", "", ""},
		{"admin_action", "success", "", "user", "u_7", "", ""},
	}
	require.Len(t, recs, len(want))
	m := auditrow.NewMapper(auditrow.Options{})
	ids := map[uuid.UUID]bool{}
	for i, w := range want {
		row, err := m.MapRecord(&recs[i])
		require.NoError(t, err)
		assert.Equal(t, w.action, row.Action, i)
		assert.Equal(t, w.outcome, row.Outcome, i)
		assert.Equal(t, w.errType, row.ErrorType, i)
		assert.Equal(t, w.resType, row.ResourceType, i)
		assert.Equal(t, w.resID, row.ResourceID, i)
		assert.Equal(t, w.prev, string(row.Previous), i)
		assert.Equal(t, w.next, string(row.New), i)
		assert.Equal(t, "u_1", row.UserID)
		assert.Equal(t, "ws_1", row.WorkspaceID)
		assert.Equal(t, "198.51.100.4", row.ClientIP.String())
		assert.Equal(t, "curl/8", row.UserAgent)
		assert.Equal(t, uuid.Version(7), row.EventID.Version())
		assert.Nil(t, row.Sanitized)
		ids[row.EventID] = true
	}
	assert.Len(t, ids, len(want), "event ids are unique")
}

// fakeSource is a hand-built record, to feed the mapping what no bridge
// would emit.
type fakeSource struct {
	name    string
	ts, obs time.Time
	body    attribute.Value
	attrs   []attribute.KeyValue
	trace   trace.TraceID
	span    trace.SpanID
}

func (f *fakeSource) EventName() string            { return f.name }
func (f *fakeSource) Timestamp() time.Time         { return f.ts }
func (f *fakeSource) ObservedTimestamp() time.Time { return f.obs }
func (f *fakeSource) Body() attribute.Value        { return f.body }
func (f *fakeSource) TraceID() trace.TraceID       { return f.trace }
func (f *fakeSource) SpanID() trace.SpanID         { return f.span }
func (f *fakeSource) WalkAttributes(fn func(attribute.KeyValue) bool) {
	for _, kv := range f.attrs {
		if !fn(kv) {
			return
		}
	}
}

func nested(depth int) attribute.Value {
	v := attribute.StringValue("bottom")
	for range depth {
		v = attribute.MapValue(attribute.KeyValue{Key: "n", Value: v})
	}
	return v
}

// TestBadInput is the bad-input corpus: each input has one defined outcome.
func TestBadInput(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	id := "0190d8a5-7b3c-7cde-8f01-23456789abcd"
	base := func(attrs ...attribute.KeyValue) *fakeSource {
		return &fakeSource{name: "audit.login", ts: at, attrs: append([]attribute.KeyValue{attribute.String(otelaudit.KeyEventID, id)}, attrs...)}
	}
	huge := strings.Repeat("x", 10<<20)
	tests := []struct {
		name    string
		src     *fakeSource
		opts    auditrow.Options
		wantErr error
		check   func(t *testing.T, r auditrow.Row)
		marks   []string
	}{
		{name: "non-audit record refused", src: &fakeSource{name: "http.request", ts: at}, wantErr: auditrow.ErrNotAudit},
		{name: "empty event name refused", src: &fakeSource{ts: at}, wantErr: auditrow.ErrNotAudit},
		{name: "invalid action refused", src: &fakeSource{name: "audit.User Login", ts: at}, wantErr: auditrow.ErrInvalidAction},
		{name: "audit. alone refused", src: &fakeSource{name: "audit.", ts: at}, wantErr: auditrow.ErrInvalidAction},
		{
			name: "non-audit record stored on request", opts: auditrow.Options{IncludeNonAudit: true},
			src:   &fakeSource{name: "http.request", ts: at, body: attribute.StringValue("GET /")},
			marks: []string{"event_name:non_audit", "log.record.uid:generated_id"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, "http.request", r.Action)
				assert.JSONEq(t, `{"body":"GET /"}`, string(r.Details))
			},
		},
		{
			name: "non-audit record without a name", opts: auditrow.Options{IncludeNonAudit: true},
			src:   &fakeSource{ts: at},
			marks: []string{"event_name:non_audit", "log.record.uid:generated_id"},
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, "log", r.Action) },
		},
		{
			name:  "invalid utf-8 and NUL in strings",
			src:   base(attribute.String(otelaudit.KeyUserID, "u\xff\xfe1"), attribute.String(otelaudit.KeyWorkspaceID, "w\x00s")),
			marks: []string{"user.id:invalid_utf8", "audit.workspace.id:nul_byte"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, "u\uFFFD1", r.UserID)
				assert.Equal(t, "w\uFFFDs", r.WorkspaceID)
			},
		},
		{
			name:  "NUL and invalid utf-8 inside details",
			src:   base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("a\x00", "b\xc3"), attribute.StringSlice("l", []string{"\x00"}))}),
			marks: []string{"audit.details:invalid_utf8", "audit.details:nul_byte"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.JSONEq(t, `{"a\uFFFD":"b\uFFFD","l":["\uFFFD"]}`, string(r.Details))
			},
		},
		{
			name:  "10 MiB details replaced by a truncation object",
			src:   base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("blob", huge))}),
			marks: []string{"audit.details:too_large"},
			check: func(t *testing.T, r auditrow.Row) {
				var obj struct {
					Truncated bool   `json:"otelaudit.truncated"`
					Original  int    `json:"original_bytes"`
					Prefix    string `json:"prefix"`
				}
				require.NoError(t, json.Unmarshal(r.Details, &obj))
				assert.True(t, obj.Truncated)
				assert.Equal(t, len(huge)+len(`{"blob":""}`), obj.Original)
				assert.Equal(t, `{"blob":"xxxx`, obj.Prefix[:13])
				assert.LessOrEqual(t, len(r.Details), 2*auditrow.TruncatedPrefixBytes)
			},
		},
		{
			name:  "10 MiB user id truncated",
			src:   base(attribute.String(otelaudit.KeyUserID, huge)),
			marks: []string{"user.id:truncated"},
			check: func(t *testing.T, r auditrow.Row) { assert.Len(t, r.UserID, auditrow.DefaultMaxFieldBytes) },
		},
		{
			name:  "truncation keeps whole runes",
			src:   base(attribute.String(otelaudit.KeyUserAgent, strings.Repeat("é", 600))),
			marks: []string{"user_agent.original:truncated"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.True(t, utf8.ValidString(r.UserAgent))
				assert.Len(t, r.UserAgent, auditrow.DefaultMaxUserAgentBytes)
			},
		},
		{
			name: "a NUL or an invalid byte first",
			src: base(attribute.String(otelaudit.KeyUserID, "\x00u"), attribute.String(otelaudit.KeyWorkspaceID, "\x80w"),
				attribute.String(otelaudit.KeySessionID, "\xffs")),
			marks: []string{"user.id:nul_byte", "audit.workspace.id:invalid_utf8", "session.id:invalid_utf8"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, "\uFFFDu", r.UserID)
				assert.Equal(t, "\uFFFDw", r.WorkspaceID)
				assert.Equal(t, "\uFFFDs", r.SessionID)
			},
		},
		{
			name:  "a value that reaches the limit exactly once cleaned is kept whole",
			src:   base(attribute.String(otelaudit.KeyUserID, strings.Repeat("x", auditrow.DefaultMaxFieldBytes-3)+"\x00")),
			marks: []string{"user.id:nul_byte"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, strings.Repeat("x", auditrow.DefaultMaxFieldBytes-3)+"\uFFFD", r.UserID)
			},
		},
		{
			name:  "truncation inside a rune backs up to its start",
			src:   base(attribute.String(otelaudit.KeyUserAgent, "a"+strings.Repeat("é", 600))),
			marks: []string{"user_agent.original:truncated"},
			check: func(t *testing.T, r auditrow.Row) {
				require.Equal(t, 0, auditrow.DefaultMaxUserAgentBytes%2, "the limit falls inside an é")
				assert.Equal(t, "a"+strings.Repeat("é", (auditrow.DefaultMaxUserAgentBytes-1)/2), r.UserAgent)
			},
		},
		{
			name:  "a lone continuation byte in details",
			src:   base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("k", "\x80"))}),
			marks: []string{"audit.details:invalid_utf8"},
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, "{\"k\":\"\uFFFD\"}", string(r.Details)) },
		},
		{
			name: "numbers in details take encoding/json's form: an exponent only below 1e-6 and from 1e21",
			src: base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.Float64SliceValue(
				[]float64{0, 1e-6, 1e-7, 1e20, 1e21, -1e21, -1e-6})}),
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, `[0,0.000001,1e-07,100000000000000000000,1e+21,-1e+21,-0.000001]`, string(r.Details))
			},
		},
		{
			name: "slices nested past the depth limit",
			opts: auditrow.Options{MaxDepth: 2},
			src: base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.SliceValue(
				attribute.SliceValue(attribute.SliceValue(attribute.IntValue(1))), attribute.IntValue(2))}),
			marks: []string{"audit.details:depth_limit"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, `[["[otelaudit: depth limit]"],2]`, string(r.Details))
			},
		},
		{
			// Each JSON value is measured on its own, wherever it sits in
			// the Mapper's buffer: previous and new come after details.
			name: "JSON values at the size limit are kept, one byte over is replaced",
			opts: auditrow.Options{MaxValueBytes: 20},
			src: base(
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("k", strings.Repeat("d", 12)))},
				attribute.KeyValue{Key: otelaudit.KeyPrevious, Value: attribute.MapValue(attribute.String("k", strings.Repeat("p", 12)))},
				attribute.KeyValue{Key: otelaudit.KeyNew, Value: attribute.MapValue(attribute.String("k", strings.Repeat("n", 13)))},
				attribute.Int64Slice("at_limit", []int64{12345678, 123456789}),
				attribute.Int64Slice("over", []int64{123456789, 123456789})),
			marks: []string{otelaudit.KeyNew + ":too_large", "over:too_large", "attributes:too_large"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, `{"k":"dddddddddddd"}`, string(r.Details))
				assert.Equal(t, `{"k":"pppppppppppp"}`, string(r.Previous))
				assert.Contains(t, string(r.New), `"otelaudit.truncated":true`)
				require.Len(t, r.Attrs, 2)
				assert.Equal(t, auditrow.Attr{Key: "at_limit", Value: "[12345678,123456789]", JSON: true}, r.Attrs[0])
				assert.Contains(t, r.Attrs[1].Value, `"otelaudit.truncated":true`)
			},
		},
		{
			name:  "details nested 100 levels",
			src:   base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: nested(100)}),
			marks: []string{"audit.details:depth_limit"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.True(t, json.Valid(r.Details))
				assert.Equal(t, auditrow.DefaultMaxDepth, strings.Count(string(r.Details), `{"n":`))
				assert.Contains(t, string(r.Details), `"[otelaudit: depth limit]"`)
			},
		},
		{
			name: "every attribute type in details",
			src: base(attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(
				attribute.Bool("b", true), attribute.Int64("i", math.MinInt64), attribute.Float64("f", 1.5),
				attribute.Float64("nan", math.NaN()), attribute.Float64("inf", math.Inf(1)), attribute.Float64("ninf", math.Inf(-1)),
				attribute.Float64("big", 1e300), attribute.Float64("tiny", 1e-9),
				attribute.String("s", "q\"\\\n\t\u2028"), attribute.ByteSlice("bytes", []byte{0, 1, 255}),
				attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, -2}),
				attribute.Float64Slice("fs", []float64{0.25, math.NaN()}), attribute.StringSlice("ss", []string{"x"}),
				attribute.KeyValue{Key: "slice", Value: attribute.SliceValue(attribute.IntValue(1), attribute.StringValue("two"), attribute.Value{})},
				attribute.KeyValue{Key: "empty", Value: attribute.Value{}},
			)}),
			marks: []string{"audit.details:non_finite"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.JSONEq(t, `{"b":true,"i":-9223372036854775808,"f":1.5,"nan":"NaN","inf":"Infinity","ninf":"-Infinity",
					"big":1e+300,"tiny":1e-09,"s":"q\"\\\n\t\u2028","bytes":"AAH/","bs":[true,false],"is":[1,-2],
					"fs":[0.25,"NaN"],"ss":["x"],"slice":[1,"two",null],"empty":null}`, string(r.Details))
			},
		},
		{
			name:  "client address that is not an IP",
			src:   base(attribute.String(otelaudit.KeyClientAddress, "not-an-ip")),
			marks: []string{"client.address:invalid_ip"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.False(t, r.ClientIP.IsValid())
				assert.Equal(t, []auditrow.Attr{{Key: "client.address", Value: "not-an-ip"}}, r.Attrs)
				assert.JSONEq(t, `{"client.address":"not-an-ip"}`, string(r.AttributesJSON))
			},
		},
		{
			name:  "client address with zone",
			src:   base(attribute.String(otelaudit.KeyClientAddress, "fe80::1%eth0")),
			marks: []string{"client.address:port_or_zone"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, netip.MustParseAddr("fe80::1"), r.ClientIP)
				assert.Equal(t, "fe80::1", r.ClientIP.String())
				assert.Equal(t, []auditrow.Attr{{Key: "client.address", Value: "fe80::1%eth0"}}, r.Attrs, "the raw value is kept")
			},
		},
		{
			name: "plain client address",
			src:  base(attribute.String(otelaudit.KeyClientAddress, "::ffff:192.0.2.1")),
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, "192.0.2.1", r.ClientIP.String())
				assert.Nil(t, r.Attrs, "an address without port or zone is not kept raw")
			},
		},
		{
			name:  "client address with zone and port",
			src:   base(attribute.String(otelaudit.KeyClientAddress, "[fe80::1%eth0]:443")),
			marks: []string{"client.address:port_or_zone"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.JSONEq(t, `{"client.address":"[fe80::1%eth0]:443"}`, string(r.AttributesJSON))
				assert.Equal(t, netip.MustParseAddr("fe80::1"), r.ClientIP)
				assert.Equal(t, "fe80::1", r.ClientIP.String())
			},
		},
		{
			name:  "client address v4-mapped with port and zone",
			src:   base(attribute.String(otelaudit.KeyClientAddress, "[::ffff:192.0.2.1%eth0]:443")),
			marks: []string{"client.address:port_or_zone"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, netip.MustParseAddr("192.0.2.1"), r.ClientIP)
				assert.Equal(t, "192.0.2.1", r.ClientIP.String())
			},
		},
		{
			name:  "client address with port and v4-mapped",
			src:   base(attribute.String(otelaudit.KeyClientAddress, "[::ffff:192.0.2.1]:443")),
			marks: []string{"client.address:port_or_zone"},
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, "192.0.2.1", r.ClientIP.String()) },
		},
		{
			name:  "missing event id derived from content",
			src:   &fakeSource{name: "audit.logout", ts: at, attrs: []attribute.KeyValue{attribute.String(otelaudit.KeyUserID, "u")}},
			marks: []string{"log.record.uid:generated_id"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, uuid.Version(5), r.EventID.Version())
				again, err := auditrow.NewMapper(auditrow.Options{}).Map(&fakeSource{name: "audit.logout", ts: at, attrs: []attribute.KeyValue{attribute.String(otelaudit.KeyUserID, "u")}}, "")
				require.NoError(t, err)
				assert.Equal(t, r.EventID, again.EventID, "stable across retries")
				other, err := auditrow.NewMapper(auditrow.Options{}).Map(&fakeSource{name: "audit.logout", ts: at, attrs: []attribute.KeyValue{attribute.String(otelaudit.KeyUserID, "v")}}, "")
				require.NoError(t, err)
				assert.NotEqual(t, r.EventID, other.EventID)
			},
		},
		{
			name:  "malformed event id",
			src:   &fakeSource{name: "audit.logout", ts: at, attrs: []attribute.KeyValue{attribute.Int64(otelaudit.KeyEventID, 42)}},
			marks: []string{"log.record.uid:invalid_id"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, uuid.NewSHA1(uuid.MustParse("6f1c7c38-5d4e-4d8a-9a52-0f1f0c2b7a11"), sha1Of("42")), r.EventID)
				assert.Equal(t, []auditrow.Attr{{Key: "log.record.uid", Value: "42", JSON: true}}, r.Attrs)
			},
		},
		{
			name:  "contract key with a non-string value",
			src:   base(attribute.Int64(otelaudit.KeyUserID, 1234)),
			marks: []string{"user.id:wrong_type"},
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, "1234", r.UserID) },
		},
		{
			name:  "duplicate contract key keeps the last",
			src:   base(attribute.String(otelaudit.KeyUserID, "first"), attribute.String(otelaudit.KeyUserID, "second")),
			marks: []string{"user.id:duplicate"},
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, "second", r.UserID) },
		},
		{
			name:  "unknown outcome becomes failure",
			src:   base(attribute.String(otelaudit.KeyOutcome, "maybe")),
			marks: []string{"audit.outcome:invalid_outcome"},
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, "failure", r.Outcome) },
		},
		{
			name:  "error type without outcome means failure",
			src:   base(attribute.String(otelaudit.KeyErrorType, "timeout")),
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, "failure", r.Outcome) },
		},
		{
			name:  "no timestamp uses observed",
			src:   &fakeSource{name: "audit.login", obs: at, attrs: []attribute.KeyValue{attribute.String(otelaudit.KeyEventID, id)}},
			marks: []string{"time:observed"},
			check: func(t *testing.T, r auditrow.Row) { assert.Equal(t, at, r.Time) },
		},
		{
			name:  "no time at all",
			src:   &fakeSource{name: "audit.login", attrs: []attribute.KeyValue{attribute.String(otelaudit.KeyEventID, id)}},
			marks: []string{"time:missing"},
			check: func(t *testing.T, r auditrow.Row) { assert.WithinDuration(t, time.Now(), r.Time, time.Minute) },
		},
		{
			name: "other attributes of every type",
			src: base(attribute.String("http.route", "/x"), attribute.Int64("n", 3), attribute.Float64("nan", math.NaN()),
				attribute.String("bad\x00key", "v"), attribute.KeyValue{Key: "m", Value: nested(3)},
				attribute.String("nul", "a\x00b"), attribute.String("utf", "c\xffd")),
			marks: []string{"nan:non_finite", "attribute_key:nul_byte", "nul:nul_byte", "utf:invalid_utf8"},
			check: func(t *testing.T, r auditrow.Row) {
				assert.Equal(t, []auditrow.Attr{
					{Key: "http.route", Value: "/x"}, {Key: "n", Value: "3", JSON: true}, {Key: "nan", Value: `"NaN"`, JSON: true},
					{Key: "bad\uFFFDkey", Value: "v"}, {Key: "m", Value: `{"n":{"n":{"n":"bottom"}}}`, JSON: true},
					{Key: "nul", Value: "a\uFFFDb"}, {Key: "utf", Value: "c\uFFFDd"},
				}, r.Attrs)
				assert.JSONEq(t, `{"http.route":"/x","n":3,"nan":"NaN","bad\uFFFDkey":"v","m":{"n":{"n":{"n":"bottom"}}},
					"nul":"a\uFFFDb","utf":"c\uFFFDd"}`, string(r.AttributesJSON))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row, err := auditrow.NewMapper(tt.opts).Map(tt.src, "svc")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.ElementsMatch(t, tt.marks, row.Sanitized)
			assertStorable(t, row)
			if tt.check != nil {
				tt.check(t, row)
			}
		})
	}
}

func sha1Of(s string) []byte {
	h := sha1.New()
	h.Write([]byte(s))
	return h.Sum(nil)
}

// assertStorable checks the guarantees every Row gives the stores.
func assertStorable(t *testing.T, r auditrow.Row) {
	t.Helper()
	for _, s := range []string{r.Action, r.UserID, r.UserName, r.WorkspaceID, r.UserAgent, r.SessionID, r.ResourceType, r.ResourceID, r.Outcome, r.ErrorType, r.ServiceName} {
		assert.True(t, utf8.ValidString(s), "valid UTF-8: %q", s)
		assert.NotContains(t, s, "\x00")
	}
	for _, a := range r.Attrs {
		assert.True(t, utf8.ValidString(a.Key) && utf8.ValidString(a.Value))
		assert.NotContains(t, a.Key+a.Value, "\x00")
		if a.JSON {
			assert.True(t, json.Valid([]byte(a.Value)), "attr %q JSON: %s", a.Key, a.Value)
		}
	}
	for _, j := range [][]byte{r.Details, r.Previous, r.New, r.AttributesJSON} {
		if j == nil {
			continue
		}
		assert.True(t, json.Valid(j), "valid JSON: %.200s", j)
		assert.NotContains(t, string(j), `\u0000`)
		assert.NotContains(t, string(j), "\x00")
	}
	assert.NotEqual(t, uuid.Nil, r.EventID)
	assert.False(t, r.Time.IsZero())
	assert.Contains(t, []string{"success", "failure"}, r.Outcome)
	assert.NotEmpty(t, r.Action)
}

// TestRowWithoutExtrasAfterOne: a Mapper reuses its buffers; a row
// without attributes or changes after one with them has nil Attrs,
// AttributesJSON and Sanitized, not the previous row's emptied slices.
func TestRowWithoutExtrasAfterOne(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := attribute.String(otelaudit.KeyEventID, "0190d8a5-7b3c-7cde-8f01-23456789abcd")
	m := auditrow.NewMapper(auditrow.Options{})
	first, err := m.Map(&fakeSource{name: "audit.login", ts: at, attrs: []attribute.KeyValue{
		id, attribute.String("extra", "x"), attribute.String(otelaudit.KeyUserID, "u\x00"),
	}}, "svc")
	require.NoError(t, err)
	require.Len(t, first.Attrs, 1)
	require.Len(t, first.Sanitized, 1)

	plain, err := m.Map(&fakeSource{name: "audit.login", ts: at, attrs: []attribute.KeyValue{id}}, "svc")
	require.NoError(t, err)
	assert.Nil(t, plain.Attrs)
	assert.Nil(t, plain.AttributesJSON)
	assert.Nil(t, plain.Sanitized)
}

// TestRowCloneOutlivesTheMapper: a Row shares the Mapper's buffers until its
// next call; a clone must not.
func TestRowCloneOutlivesTheMapper(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	src := func(user, detail string) *fakeSource {
		return &fakeSource{name: "audit.login", ts: at, attrs: []attribute.KeyValue{
			attribute.String(otelaudit.KeyUserID, user),
			attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("k", detail))},
			attribute.String("extra", detail),
		}}
	}
	m := auditrow.NewMapper(auditrow.Options{})
	first, err := m.Map(src("u_1", "first"), "svc")
	require.NoError(t, err)
	kept := first.Clone()
	// The second row's markers differ from the first's (a NUL comes
	// first), so a Sanitized shared with the Mapper would show.
	second, err := m.Map(src("u\x002", "other"), "svc")
	require.NoError(t, err)
	require.Equal(t, []string{"user.id:nul_byte", "log.record.uid:generated_id"}, second.Sanitized)

	assert.Equal(t, "u_1", kept.UserID)
	assert.JSONEq(t, `{"k":"first"}`, string(kept.Details))
	assert.Equal(t, []auditrow.Attr{{Key: "extra", Value: "first"}}, kept.Attrs)
	assert.JSONEq(t, `{"extra":"first"}`, string(kept.AttributesJSON))
	assert.Equal(t, []string{"log.record.uid:generated_id"}, kept.Sanitized)
	// Without Clone the first row's bytes are the Mapper's, now overwritten.
	assert.NotEqual(t, `{"k":"first"}`, string(first.Details))
}

// severitySource is a fakeSource with an OTLP severity.
type severitySource struct {
	fakeSource
	number int
	text   string
}

func (s *severitySource) SeverityNumber() int  { return s.number }
func (s *severitySource) SeverityText() string { return s.text }

func TestBodyAndSeverityOfAuditRecordKept(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	src := &severitySource{
		fakeSource: fakeSource{name: "audit.login", ts: at, body: attribute.StringValue("user logged in"),
			attrs: []attribute.KeyValue{attribute.String(otelaudit.KeyUserID, "u1"), attribute.Int("retries", 2)}},
		number: 13, text: "WARN",
	}
	row, err := auditrow.NewMapper(auditrow.Options{}).Map(src, "svc")
	require.NoError(t, err)
	assert.Equal(t, "login", row.Action)
	assert.Equal(t, "u1", row.UserID)
	assert.Nil(t, row.Details, "the body of an audit record is not its details")
	assert.Equal(t, []auditrow.Attr{
		{Key: "retries", Value: "2", JSON: true},
		{Key: auditrow.KeyBody, Value: "user logged in"},
		{Key: auditrow.KeySeverityNumber, Value: "13", JSON: true},
		{Key: auditrow.KeySeverityText, Value: "WARN"},
	}, row.Attrs)
	assert.JSONEq(t, `{"retries":2,"log.body":"user logged in","log.severity_number":13,"log.severity_text":"WARN"}`, string(row.AttributesJSON))

	// A structured body keeps its types; an unset severity adds nothing.
	src = &severitySource{fakeSource: fakeSource{name: "audit.login", ts: at,
		body: attribute.MapValue(attribute.Int("n", 1), attribute.Bool("ok", true))}}
	row, err = auditrow.NewMapper(auditrow.Options{}).Map(src, "svc")
	require.NoError(t, err)
	assert.JSONEq(t, `{"log.body":{"n":1,"ok":true}}`, string(row.AttributesJSON))

	// An SDK record is not an OTLPSource, and a body alone is not kept:
	// the bridge's severity follows the outcome, and a slog message is in
	// details already.
	_, isOTLP := any(&sdklog.Record{}).(auditrow.OTLPSource)
	assert.False(t, isOTLP)
	row, err = auditrow.NewMapper(auditrow.Options{}).Map(&src.fakeSource, "svc")
	require.NoError(t, err)
	assert.Nil(t, row.AttributesJSON)
}
