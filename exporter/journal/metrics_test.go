package journal

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestMetrics reads the journal's metrics back through a ManualReader after
// a run with a refused record, a failing and a working target.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	down := &memExporter{fail: func([]sdklog.Record) error { return errDown }}
	up := &memExporter{}
	p := open(t, t.TempDir(), []sdklog.Exporter{down, up}, WithMeterProvider(mp),
		WithRetry(RetryConfig{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond}), WithErrorHandler(func(error) {}))
	em := newEmitter(p)
	for i := range 100 {
		em.emit(context.Background(), i)
	}
	bad := newEmitterRecordNamed("audit.Not Valid")
	require.NoError(t, p.OnEmit(context.Background(), &bad))
	require.Eventually(t, func() bool { return len(up.got()) == 100 && p.Stats().Targets["t0"].Retried > 0 }, 10*time.Second, 5*time.Millisecond)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == MeterName {
			for _, m := range sm.Metrics {
				got[m.Name] = m
			}
		}
	}
	sum := func(name string, attrs ...attribute.KeyValue) int64 {
		m, ok := got[name]
		require.True(t, ok, "metric %s missing", name)
		want := attribute.NewSet(attrs...)
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, dp := range d.DataPoints {
				if dp.Attributes.Equals(&want) {
					return dp.Value
				}
			}
		case metricdata.Gauge[int64]:
			for _, dp := range d.DataPoints {
				if dp.Attributes.Equals(&want) {
					return dp.Value
				}
			}
		}
		t.Fatalf("metric %s has no point with %v", name, attrs)
		return 0
	}
	assert.EqualValues(t, 100, sum(MetricRecords, attribute.String("outcome", "accepted")))
	assert.EqualValues(t, 1, sum(MetricRecords, attribute.String("outcome", "dropped"), attribute.String("reason", ReasonInvalidAction)))
	assert.EqualValues(t, 0, sum(MetricRecords, attribute.String("outcome", "dropped"), attribute.String("reason", ReasonJournalFull)))
	assert.EqualValues(t, 100, sum(MetricDelivered, attribute.String("target", "t1"), attribute.String("outcome", "delivered")))
	assert.EqualValues(t, 0, sum(MetricDelivered, attribute.String("target", "t0"), attribute.String("outcome", "delivered")))
	assert.Positive(t, sum(MetricRetries, attribute.String("target", "t0")))
	assert.Positive(t, sum(MetricBacklog, attribute.String("target", "t0")))
	assert.Zero(t, sum(MetricBacklog, attribute.String("target", "t1")))
	assert.Positive(t, sum(MetricSize))

	age, ok := got[MetricOldestAge].Data.(metricdata.Gauge[float64])
	require.True(t, ok)
	for _, dp := range age.DataPoints {
		if v, _ := dp.Attributes.Value("target"); v.AsString() == "t0" {
			assert.Positive(t, dp.Value, "the failing target's oldest record has an age")
		}
	}
	hist, ok := got[MetricExportDuration].Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	outcomes := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		tgt, _ := dp.Attributes.Value("target")
		out, _ := dp.Attributes.Value("outcome")
		outcomes[tgt.AsString()+"/"+out.AsString()] += dp.Count
	}
	assert.Positive(t, outcomes["t0/error"])
	assert.Positive(t, outcomes["t1/ok"])
	assert.Zero(t, outcomes["t1/error"])
}

func newEmitterRecordNamed(name string) sdklog.Record {
	r := benchRecord()
	r.SetEventName(name)
	return r
}
