package postgreslog_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func TestRoundTrip(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, h := newExporter(t, pool)

	at := time.Date(2026, 11, 25, 9, 30, 0, 123456789, time.UTC)
	traceID := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	spanID := trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
	spanCtx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled,
	}))
	records := auditRecords(func(a *bridge.Auditor) {
		a.Record(bridge.ContextWithClient(spanCtx, otelaudit.Client{IP: "2001:db8::7", UserAgent: "curl/8.5.0", SessionID: "sess_1"}), otelaudit.Event{
			Time:     at,
			Action:   otelaudit.ActionSettingsChanged,
			Actor:    otelaudit.Actor{UserID: "usr_1", WorkspaceID: "ws_acme", Name: "Ada"},
			Resource: otelaudit.Resource{Type: "workspace_settings", ID: "ws_acme/security"},
			Outcome:  otelaudit.Failure("permission_denied"),
			Details: attribute.MapValue(
				attribute.String("reason", "quarterly review"),
				attribute.Int("attempt", 3),
				attribute.Float64("score", 0.25),
				attribute.Bool("notify", true),
				attribute.StringSlice("tags", []string{"sec", "q4"}),
				attribute.KeyValue{Key: "nested", Value: attribute.MapValue(attribute.Int64Slice("ids", []int64{1, 2}))},
			),
			Previous: attribute.MapValue(attribute.Bool("mfa_required", false), attribute.Int("session_ttl_hours", 24)),
			New:      attribute.MapValue(attribute.Bool("mfa_required", true), attribute.Int("session_ttl_hours", 8)),
		})
	})
	require.Len(t, records, 1)
	require.NoError(t, e.Export(ctx, records))
	require.Empty(t, h.All())

	rows := readRows(t, pool)
	require.Len(t, rows, 1)
	r := rows[0]
	var wantID string
	records[0].WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == otelaudit.KeyEventID {
			wantID = kv.Value.AsString()
		}
		return true
	})
	require.Equal(t, wantID, r.EventID.String())
	require.True(t, at.Truncate(time.Microsecond).Equal(r.CreatedAt), "created_at %v, want %v (microseconds)", r.CreatedAt, at)
	require.Equal(t, "settings_changed", r.Action)
	require.Equal(t, "failure", r.Outcome)
	require.Equal(t, ptr("permission_denied"), r.ErrorType)
	require.Equal(t, ptr("usr_1"), r.UserID)
	require.Equal(t, ptr("Ada"), r.UserName)
	require.Equal(t, ptr("ws_acme"), r.WorkspaceID)
	require.Equal(t, ptr(netip.MustParseAddr("2001:db8::7")), r.IPAddress)
	require.Equal(t, ptr("curl/8.5.0"), r.UserAgent)
	require.Equal(t, ptr("sess_1"), r.SessionID)
	require.Equal(t, ptr("workspace_settings"), r.Resource)
	require.Equal(t, ptr("ws_acme/security"), r.ResourceID)
	require.JSONEq(t, `{"reason":"quarterly review","attempt":3,"score":0.25,"notify":true,"tags":["sec","q4"],"nested":{"ids":[1,2]}}`, string(r.Details))
	require.JSONEq(t, `{"mfa_required":false,"session_ttl_hours":24}`, string(r.PreviousValue))
	require.JSONEq(t, `{"mfa_required":true,"session_ttl_hours":8}`, string(r.NewValue))
	require.Nil(t, r.Attributes)
	require.Equal(t, ptr(traceID.String()), r.TraceID)
	require.Equal(t, ptr(spanID.String()), r.SpanID)
	require.Equal(t, ptr(corpus.ServiceName), r.ServiceName)
	require.Nil(t, r.Sanitized)
	require.NotNil(t, r.ObservedAt)
	require.WithinDuration(t, records[0].ObservedTimestamp(), *r.ObservedAt, time.Microsecond)
	require.WithinDuration(t, time.Now(), r.IngestedAt, time.Minute)
	require.Equal(t, "audit_logs_p202611", r.Partition)

	// Typed JSON: numbers stay numbers, booleans booleans.
	var details map[string]any
	require.NoError(t, json.Unmarshal(r.Details, &details))
	require.IsType(t, float64(0), details["attempt"])
	require.IsType(t, true, details["notify"])
	var typed bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT jsonb_typeof(details->'attempt') = 'number' AND (new_value->>'mfa_required')::boolean FROM audit_logs`).Scan(&typed))
	require.True(t, typed)

	s := e.Stats()
	require.Equal(t, uint64(1), s.Received)
	require.Equal(t, uint64(1), s.Written)
}

func TestRoundTripMinimal(t *testing.T) {
	// A login with nothing but the action: every optional column is NULL.
	pool := migrated(t, pgschema.Options{})
	e, _ := newExporter(t, pool)
	records := auditRecords(func(a *bridge.Auditor) {
		a.Record(context.Background(), otelaudit.Event{Action: otelaudit.ActionLogout})
	})
	require.NoError(t, e.Export(testCtx(t), records))
	rows := readRows(t, pool)
	require.Len(t, rows, 1)
	r := rows[0]
	require.Equal(t, "logout", r.Action)
	require.Equal(t, "success", r.Outcome)
	for name, v := range map[string]*string{
		"error_type": r.ErrorType, "user_id": r.UserID, "user_name": r.UserName, "workspace_id": r.WorkspaceID,
		"user_agent": r.UserAgent, "session_id": r.SessionID, "resource": r.Resource, "resource_id": r.ResourceID,
		"trace_id": r.TraceID, "span_id": r.SpanID,
	} {
		require.Nil(t, v, name)
	}
	require.Nil(t, r.IPAddress)
	require.Nil(t, r.Details)
	require.Nil(t, r.PreviousValue)
	require.Nil(t, r.NewValue)
}
