package postgreslog_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// benchBatch is the number of records of one Export in the benchmarks.
const benchBatch = 1024

// BenchmarkExport measures Export of batches of new login records into a
// live, migrated table: one op is one batch of benchBatch records, built
// outside the timer. The whole-pipeline figures are the bench module's.
func BenchmarkExport(b *testing.B) {
	pool := migrated(b, pgschema.Options{})
	e, h := newExporter(b, pool)
	ctx := context.Background()
	start := time.Now().UTC().Truncate(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		recs := logins(benchBatch, start.Add(time.Duration(i)*time.Second))
		b.StartTimer()
		if err := e.Export(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if s := e.Stats(); s.Written != uint64(b.N*benchBatch) || len(h.All()) > 0 {
		b.Fatalf("stats %+v, %d errors handled; want %d written", s, len(h.All()), b.N*benchBatch)
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkExportRejected measures what a refused record costs the
// Export path, without the database: batches of benchBatch records that
// are not audit records, each mapped, refused and counted. One op is one
// batch.
func BenchmarkExportRejected(b *testing.B) {
	pool := migrated(b, pgschema.Options{})
	e, _ := newExporter(b, pool)
	ctx := context.Background()
	recs := nonAuditRecords(benchBatch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.Export(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if got := e.Stats().Rejected["non_audit"]; got != uint64(b.N*benchBatch) {
		b.Fatalf("%d rejected as non_audit, want %d", got, b.N*benchBatch)
	}
}

// nonAuditRecords returns n application log records (no "audit." event
// name).
func nonAuditRecords(n int) []sdklog.Record {
	return corpus.Capture(func(lp log.LoggerProvider) {
		l := lp.Logger("app")
		for range n {
			var r log.Record
			r.SetEventName("http.request")
			r.SetTimestamp(time.Now())
			r.SetBody(attribute.StringValue("GET /healthz"))
			r.AddAttributes(attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200))
			l.Emit(context.Background(), r)
		}
	})
}
