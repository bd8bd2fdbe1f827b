package bridge

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"

	"github.com/otelaudit/otelaudit"
)

// discardProvider hands out loggers that drop every record: the benchmarks
// measure the Auditor's side alone.
type discardProvider struct{ embedded.LoggerProvider }

func (discardProvider) Logger(string, ...log.LoggerOption) log.Logger { return discardLogger{} }

type discardLogger struct{ embedded.Logger }

func (discardLogger) Emit(context.Context, log.Record)                    {}
func (discardLogger) Enabled(context.Context, log.EnabledParameters) bool { return true }

// BenchmarkTypedCalls compares Record with attribute values, a typed call
// given the same attribute values as its any arguments (each is copied into
// an allocation: an attribute.Value does not fit in an interface), and
// typed calls given Go values.
func BenchmarkTypedCalls(b *testing.B) {
	a := New(WithLoggerProvider(discardProvider{}))
	ctx := context.Background()
	actor := otelaudit.Actor{UserID: "usr_2f8c1a9e", WorkspaceID: "ws_acme"}
	setting := otelaudit.Resource{Type: "workspace_settings", ID: "ws_acme/security"}
	prev := attribute.MapValue(attribute.Bool("mfa_required", false), attribute.Int("session_ttl_hours", 24))
	next := attribute.MapValue(attribute.Bool("mfa_required", true), attribute.Int("session_ttl_hours", 8))
	prevGo := map[string]any{"mfa_required": false, "session_ttl_hours": 24}
	nextGo := map[string]any{"mfa_required": true, "session_ttl_hours": 8}

	cases := []struct {
		name string
		call func()
	}{
		{"Record", func() {
			a.Record(ctx, otelaudit.Event{Action: otelaudit.ActionSettingsChanged, Actor: actor, Resource: setting, Previous: prev, New: next})
		}},
		{"SettingsChanged/attribute.Value", func() { a.SettingsChanged(ctx, actor, setting, prev, next) }},
		{"SettingsChanged/string", func() { a.SettingsChanged(ctx, actor, setting, "light", "dark") }},
		{"SettingsChanged/map", func() { a.SettingsChanged(ctx, actor, setting, prevGo, nextGo) }},
		{"Login", func() { a.Login(ctx, actor) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.call()
			}
			if s := a.Stats(); s.Rejected[ReasonInvalidAction] > 0 {
				b.Fatal(s)
			}
		})
	}
}
