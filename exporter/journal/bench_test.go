package journal

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
)

// discard confirms every export.
type discard struct{}

func (discard) Export(context.Context, []sdklog.Record) error { return nil }
func (discard) Shutdown(context.Context) error                { return nil }
func (discard) ForceFlush(context.Context) error              { return nil }

// benchRecord returns an SDK record as the bridge emits a login.
func benchRecord() sdklog.Record {
	exp := &memExporter{keep: true}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	var r log.Record
	r.SetEventName("audit.login")
	r.SetSeverity(log.SeverityInfo)
	r.AddAttributes(
		attribute.String(otelaudit.KeyEventID, eventID(1)),
		attribute.String(otelaudit.KeyUserID, "user-123"),
		attribute.String(otelaudit.KeyWorkspaceID, "ws-1"),
		attribute.String(otelaudit.KeyClientAddress, "203.0.113.9"),
		attribute.String(otelaudit.KeyUserAgent, "Mozilla/5.0 (X11; Linux x86_64)"),
		attribute.String(otelaudit.KeySessionID, "sess-42"),
		attribute.String(otelaudit.KeyOutcome, "success"),
		attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("method", "password"), attribute.Bool("mfa", true))},
	)
	lp.Logger("bench").Emit(context.Background(), r)
	return exp.records[0]
}

// BenchmarkOnEmit measures the emitting caller's cost per audit record in
// OnEmit: the journal (default sync policy) against the SDK's stock
// BatchProcessor. Both deliver to an exporter that discards.
func BenchmarkOnEmit(b *testing.B) {
	for _, bc := range []struct {
		name string
		proc func(b *testing.B) sdklog.Processor
	}{
		{"journal", func(b *testing.B) sdklog.Processor {
			p, err := New(b.TempDir(), []Target{{Name: "discard", Exporter: discard{}}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
			return p
		}},
		{"batchprocessor", func(b *testing.B) sdklog.Processor {
			p := sdklog.NewBatchProcessor(discard{})
			b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
			return p
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := bc.proc(b)
			r := benchRecord()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := p.OnEmit(ctx, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode measures encoding one record into the journal's form.
func BenchmarkEncode(b *testing.B) {
	r := benchRecord()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = appendRecord(buf[:0], 0, 1, &r)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes/record")
}
