// Package metricstest reads back, with the OpenTelemetry SDK's
// ManualReader, the metrics an exporter recorded through the MeterProvider
// it was given, and checks them against the exporter's Stats. It is for the
// exporters' tests.
package metricstest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// The instruments' contract, as documented in the auditrow package; tests
// check them against these literals, not against the code's constants.
const (
	scope        = "github.com/otelaudit/otelaudit/exporter"
	records      = "otelaudit.exporter.records"
	retries      = "otelaudit.exporter.retries"
	duration     = "otelaudit.exporter.export.duration"
	attrExporter = "otelaudit.exporter"
	attrOutcome  = "otelaudit.export.outcome"
	attrReason   = "otelaudit.reject.reason"
)

// Reader is a MeterProvider with a ManualReader: give Provider to an
// exporter, export, then Read.
type Reader struct {
	Provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
}

// New returns a Reader whose provider is shut down when tb ends.
func New(tb testing.TB) *Reader {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	tb.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &Reader{Provider: mp, reader: r}
}

// Collect returns everything the provider's instruments hold.
func (r *Reader) Collect(tb testing.TB) metricdata.ResourceMetrics {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(tb, r.reader.Collect(context.Background(), &rm))
	return rm
}

// Readings is what the instruments hold for one exporter.
type Readings struct {
	// Records are the sums of otelaudit.exporter.records by outcome:
	// "written", "already_stored", "failed", and "rejected/<reason>".
	// Zero sums are left out.
	Records map[string]int64
	// Retries is the sum of otelaudit.exporter.retries.
	Retries int64
	// Exports is the number of Export calls measured by
	// otelaudit.exporter.export.duration, and Seconds their sum.
	Exports uint64
	Seconds float64
}

// Read collects the metrics and returns those of exporter. It fails tb
// when an instrument breaks the contract: another kind, unit or
// temporality, attributes other than those documented.
func (r *Reader) Read(tb testing.TB, exporter string) Readings {
	tb.Helper()
	rm := r.Collect(tb)
	got := Readings{Records: map[string]int64{}}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scope {
			continue
		}
		for _, m := range sm.Metrics {
			switch m.Name {
			case records:
				require.Equal(tb, "{record}", m.Unit)
				sum := requireCounter(tb, m)
				for _, dp := range sum.DataPoints {
					if name(tb, dp.Attributes, attrExporter) != exporter {
						continue
					}
					key := name(tb, dp.Attributes, attrOutcome)
					switch key {
					case "rejected":
						key += "/" + name(tb, dp.Attributes, attrReason)
						require.Equal(tb, 3, dp.Attributes.Len(), "attributes %v", dp.Attributes.ToSlice())
					case "written", "already_stored", "failed":
						require.Equal(tb, 2, dp.Attributes.Len(), "attributes %v", dp.Attributes.ToSlice())
					default:
						tb.Fatalf("%s: unknown outcome %q", records, key)
					}
					if dp.Value != 0 {
						got.Records[key] += dp.Value
					}
				}
			case retries:
				require.Equal(tb, "{retry}", m.Unit)
				sum := requireCounter(tb, m)
				for _, dp := range sum.DataPoints {
					require.Equal(tb, 1, dp.Attributes.Len(), "attributes %v", dp.Attributes.ToSlice())
					if name(tb, dp.Attributes, attrExporter) == exporter {
						got.Retries += dp.Value
					}
				}
			case duration:
				require.Equal(tb, "s", m.Unit)
				h, ok := m.Data.(metricdata.Histogram[float64])
				require.True(tb, ok, "%s is a float64 histogram, not %T", m.Name, m.Data)
				for _, dp := range h.DataPoints {
					require.Equal(tb, 1, dp.Attributes.Len(), "attributes %v", dp.Attributes.ToSlice())
					if name(tb, dp.Attributes, attrExporter) == exporter {
						got.Exports += dp.Count
						got.Seconds += dp.Sum
					}
				}
			default:
				tb.Fatalf("unexpected instrument %q in scope %s", m.Name, scope)
			}
		}
	}
	return got
}

func requireCounter(tb testing.TB, m metricdata.Metrics) metricdata.Sum[int64] {
	tb.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(tb, ok, "%s is an int64 sum, not %T", m.Name, m.Data)
	require.True(tb, sum.IsMonotonic, "%s is a counter", m.Name)
	require.Equal(tb, metricdata.CumulativeTemporality, sum.Temporality)
	return sum
}

func name(tb testing.TB, set attribute.Set, key string) string {
	tb.Helper()
	v, ok := set.Value(attribute.Key(key))
	require.True(tb, ok, "attribute %s missing from %v", key, set.ToSlice())
	require.Equal(tb, attribute.STRING, v.Type(), key)
	return v.AsString()
}

// Records returns s's outcomes keyed as Readings.Records, zeros left out.
func Records(s auditrow.ExportStats) map[string]int64 {
	m := map[string]int64{}
	add := func(k string, v uint64) {
		if v != 0 {
			m[k] = int64(v)
		}
	}
	add("written", s.Written)
	add("already_stored", s.AlreadyStored)
	add("failed", s.Failed)
	for reason, n := range s.Rejected {
		add("rejected/"+reason, n)
	}
	return m
}

// RequireSettled fails tb unless every record s received has exactly one
// outcome, and every rejection reason is a key of s.Rejected.
func RequireSettled(tb testing.TB, s auditrow.ExportStats) {
	tb.Helper()
	require.Equal(tb, s.Received, s.Settled(), "every record given to Export ends in exactly one outcome: %+v", s)
	for _, reason := range auditrow.Reasons() {
		_, ok := s.Rejected[reason]
		require.True(tb, ok, "Rejected[%q] is present", reason)
	}
	require.Len(tb, s.Rejected, len(auditrow.Reasons()))
}

// RequireMatches fails tb unless the metrics of exporter in r count what s
// counts, and every record of s is settled.
func RequireMatches(tb testing.TB, r *Reader, exporter string, s auditrow.ExportStats) {
	tb.Helper()
	RequireSettled(tb, s)
	got := r.Read(tb, exporter)
	require.Equal(tb, Records(s), got.Records, "%s metrics by outcome against Stats", exporter)
	require.Equal(tb, int64(s.Retried), got.Retries, "%s retries metric against Stats", exporter)
}
