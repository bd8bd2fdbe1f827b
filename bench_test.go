package otelaudit_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
)

// BenchmarkValue measures the conversion of the Go values the bridge's
// typed calls take.
func BenchmarkValue(b *testing.B) {
	type settings struct {
		MFARequired     bool `json:"mfa_required"`
		SessionTTLHours int  `json:"session_ttl_hours"`
	}
	cases := []struct {
		name string
		v    any
	}{
		{"attribute.Value", attribute.MapValue(attribute.Bool("mfa_required", true), attribute.Int("session_ttl_hours", 8))},
		{"string", "dark"},
		{"map[string]any", map[string]any{"reason": "quarterly access review", "ticket": "SEC-1423", "notify_members": true}},
		{"map[string]string", map[string]string{"reason": "quarterly access review", "ticket": "SEC-1423"}},
		{"struct", settings{MFARequired: true, SessionTTLHours: 8}},
		{"map[string]int", map[string]int{"a": 1, "b": 2}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink attribute.Value
			for b.Loop() {
				sink = otelaudit.Value(c.v)
			}
			_ = sink
		})
	}
}
