package auditrow_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// BenchmarkMapRecord maps one typical audit record (the seed's fields, a
// details map, previous and new values).
func BenchmarkMapRecord(b *testing.B) {
	recs := emit(b, func(a *bridge.Auditor) {
		a.Record(traced(context.Background()), otelaudit.Event{
			Action:   otelaudit.ActionSettingsChanged,
			Actor:    otelaudit.Actor{UserID: "u_1042", WorkspaceID: "ws_17"},
			Client:   otelaudit.Client{IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"},
			Resource: otelaudit.Resource{Type: "setting", ID: "mfa.required"},
			Details:  attribute.MapValue(attribute.String("reason", "policy"), attribute.Int64("attempt", 2), attribute.Bool("forced", true)),
			Previous: attribute.BoolValue(false),
			New:      attribute.BoolValue(true),
		})
	})
	rec := recs[0]
	m := auditrow.NewMapper(auditrow.Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.MapRecord(&rec); err != nil {
			b.Fatal(err)
		}
	}
}
