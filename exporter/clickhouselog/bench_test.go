package clickhouselog

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// BenchmarkColumns measures the Exporter's own work per record before the
// driver: the shared mapping and the append to the columns (one op is one
// record). The INSERT itself is measured by the bench module against a live
// server.
func BenchmarkColumns(b *testing.B) {
	recs := corpus.Capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp))
		for i := range 512 {
			a.SettingsChanged(context.Background(),
				otelaudit.Actor{UserID: "usr_2f8c1a9e", WorkspaceID: "ws_acme"},
				otelaudit.Resource{Type: "workspace_settings", ID: "ws_acme/security"},
				attribute.MapValue(attribute.Bool("mfa_required", i%2 == 0)),
				attribute.MapValue(attribute.Bool("mfa_required", i%2 == 1)))
		}
	})
	for _, l := range []chschema.Layout{chschema.LayoutCompat, chschema.LayoutModern} {
		b.Run(l.String(), func(b *testing.B) {
			m := auditrow.NewMapper(auditrow.Options{})
			var c columns
			c.reset(l)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i%len(recs) == 0 {
					c.reset(l)
				}
				r, err := m.MapRecord(&recs[i%len(recs)])
				if err != nil {
					b.Fatal(err)
				}
				c.add(&r)
				i++
			}
		})
	}
}
