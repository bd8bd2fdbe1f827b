package exportstats_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/exportstats"
	"github.com/otelaudit/otelaudit/exporter/internal/metricstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRecorderCountsAndMeasures(t *testing.T) {
	m := metricstest.New(t)
	r := exportstats.New("testlog", m.Provider, func(error) {})

	call := r.Start(context.Background(), 12)
	r.Written(3)
	r.Written(0)
	r.AlreadyStored(2)
	r.Failed(1)
	r.Retried(errors.New("reset"))
	r.Retried(nil)
	r.Sanitized(4)
	for _, reason := range []string{auditrow.ReasonNonAudit, auditrow.ReasonInvalidAction, auditrow.ReasonRefusedByServer,
		auditrow.ReasonTimeOutOfRange, auditrow.ReasonOther, "no_such_reason"} {
		call.Reject(reason, uuid.Nil, errors.New(reason))
	}
	require.Empty(t, m.Read(t, "testlog").Records["rejected/other"], "rejections are measured when the call ends")
	call.End()

	s := r.Stats()
	require.Equal(t, auditrow.ExportStats{
		Received: 12, Written: 3, AlreadyStored: 2, Failed: 1, Retried: 2, Sanitized: 4,
		Rejected: map[string]uint64{
			auditrow.ReasonNonAudit: 1, auditrow.ReasonInvalidAction: 1, auditrow.ReasonTimeOutOfRange: 1,
			auditrow.ReasonRefusedByServer: 1, auditrow.ReasonOther: 2,
		},
	}, s)
	require.Equal(t, uint64(12), s.Settled())
	metricstest.RequireMatches(t, m, "testlog", s)
	got := m.Read(t, "testlog")
	require.Equal(t, uint64(1), got.Exports)
	require.Positive(t, got.Seconds)

	// The scope and the histogram's buckets.
	rm := m.Collect(t)
	require.Len(t, rm.ScopeMetrics, 1)
	require.Equal(t, exportstats.ScopeName, rm.ScopeMetrics[0].Scope.Name)
	require.Equal(t, otelaudit.Version, rm.ScopeMetrics[0].Scope.Version)
	for _, mt := range rm.ScopeMetrics[0].Metrics {
		if h, ok := mt.Data.(metricdata.Histogram[float64]); ok {
			require.Equal(t, exportstats.DurationBuckets, h.DataPoints[0].Bounds)
		}
	}
}

func TestRejectReportsToHandlerAndHook(t *testing.T) {
	var handled []error
	r := exportstats.New("testlog", metricstest.New(t).Provider, func(err error) { handled = append(handled, err) })
	var hooked []*auditrow.RejectError
	ctx := auditrow.ContextWithRejectHook(context.Background(), func(re *auditrow.RejectError) { hooked = append(hooked, re) })

	call := r.Start(ctx, 2)
	id := uuid.MustParse("01900000-0000-7000-8000-000000000001")
	constraint := errors.New("constraint")
	call.Reject(auditrow.ReasonNonAudit, uuid.Nil, auditrow.ErrNotAudit)
	call.Reject(auditrow.ReasonRefusedByServer, id, constraint)

	require.Equal(t, []*auditrow.RejectError{
		{Exporter: "testlog", Reason: auditrow.ReasonNonAudit, Err: auditrow.ErrNotAudit},
		{Exporter: "testlog", Reason: auditrow.ReasonRefusedByServer, EventID: id, Err: constraint},
	}, hooked, "the hook gets every rejection")
	require.Len(t, handled, 1, "the handler gets all but the non-audit records")
	require.Same(t, hooked[1], handled[0].(*auditrow.RejectError), "the same error")
	require.ErrorIs(t, handled[0], constraint)

	// A call made without the hook does not call it.
	other := r.Start(context.Background(), 1)
	other.Reject(auditrow.ReasonInvalidAction, uuid.Nil, auditrow.ErrInvalidAction)
	require.Len(t, hooked, 2)
	require.Len(t, handled, 2)
}

func TestRejectSurvivesPanics(t *testing.T) {
	r := exportstats.New("testlog", metricstest.New(t).Provider, func(error) { panic("handler bug") })
	hookCalls := 0
	ctx := auditrow.ContextWithRejectHook(context.Background(), func(*auditrow.RejectError) { hookCalls++; panic("hook bug") })
	call := r.Start(ctx, 2)
	require.NotPanics(t, func() {
		call.Reject(auditrow.ReasonInvalidAction, uuid.Nil, auditrow.ErrInvalidAction)
		call.Reject(auditrow.ReasonRefusedByServer, uuid.Nil, errors.New("constraint"))
	})
	require.Equal(t, 2, hookCalls, "the hook is called after a panicking handler")
	s := r.Stats()
	require.Equal(t, uint64(1), s.Rejected[auditrow.ReasonInvalidAction])
	require.Equal(t, uint64(1), s.Rejected[auditrow.ReasonRefusedByServer])
}

func TestNilRecorderStats(t *testing.T) {
	var r *exportstats.Recorder
	s := r.Stats()
	require.Zero(t, s.Received)
	metricstest.RequireSettled(t, s)
}

// TestDefaultsToTheGlobalMeterProvider: with no provider, the instruments
// come from otel.GetMeterProvider().
func TestDefaultsToTheGlobalMeterProvider(t *testing.T) {
	m := metricstest.New(t)
	otel.SetMeterProvider(m.Provider)
	t.Cleanup(func() { otel.SetMeterProvider(noop.NewMeterProvider()) })
	r := exportstats.New("testlog", nil, nil)
	r.Written(5)
	require.Equal(t, map[string]int64{"written": 5}, m.Read(t, "testlog").Records)
}

// TestExportPathAllocatesNothing: counting and measuring on the export
// path allocates nothing, with a real SDK provider behind the
// instruments.
func TestExportPathAllocatesNothing(t *testing.T) {
	r := exportstats.New("testlog", metricstest.New(t).Provider, func(error) {})
	ctx := auditrow.ContextWithRejectHook(context.Background(), func(*auditrow.RejectError) {})
	allocs := testing.AllocsPerRun(100, func() {
		call := r.Start(ctx, 10)
		r.Written(5)
		r.AlreadyStored(2)
		r.Failed(1)
		r.Retried(nil)
		r.Sanitized(1)
		call.End()
	})
	require.Zero(t, allocs)

	// Records that are not audit records, with no hook to hand them to,
	// are only counted: no error is made for them.
	allocs = testing.AllocsPerRun(100, func() {
		call := r.Start(context.Background(), 1)
		call.Reject(auditrow.ReasonNonAudit, uuid.Nil, auditrow.ErrNotAudit)
		call.End()
	})
	require.Zero(t, allocs)
}

func TestRecorderConcurrentSafe(t *testing.T) {
	m := metricstest.New(t)
	r := exportstats.New("testlog", m.Provider, func(error) {})
	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range rounds {
				call := r.Start(context.Background(), 4)
				r.Written(1)
				r.AlreadyStored(1)
				r.Failed(1)
				call.Reject(auditrow.ReasonInvalidAction, uuid.Nil, auditrow.ErrInvalidAction)
				r.Retried(nil)
				if s := r.Stats(); s.Settled() > s.Received {
					t.Errorf("outcomes ahead of the records received: %+v", s)
				}
				call.End()
			}
		})
	}
	wg.Wait()
	s := r.Stats()
	require.Equal(t, uint64(goroutines*rounds*4), s.Received)
	require.Equal(t, uint64(goroutines*rounds), s.Rejected[auditrow.ReasonInvalidAction])
	metricstest.RequireMatches(t, m, "testlog", s)
	require.Equal(t, uint64(goroutines*rounds), m.Read(t, "testlog").Exports)
}

// TestSharedRejectConcurrentSafe: rejections reported through one Shared
// call from several goroutines are all counted, and the handler and the
// hook never run at the same time.
func TestSharedRejectConcurrentSafe(t *testing.T) {
	var inside, overlaps, handled, hooked atomic.Int64
	enter := func() {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(10 * time.Microsecond)
		inside.Add(-1)
	}
	r := exportstats.New("testlog", nil, func(error) { enter(); handled.Add(1) })
	ctx := auditrow.ContextWithRejectHook(context.Background(), func(*auditrow.RejectError) { enter(); hooked.Add(1) })
	const goroutines, each = 4, 50
	call := r.Start(ctx, goroutines*each)
	shared := call.Share()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				shared.Reject(auditrow.ReasonInvalidAction, uuid.Nil, auditrow.ErrInvalidAction)
			}
		})
	}
	wg.Wait()
	call.End()
	require.Zero(t, overlaps.Load(), "the handler and the hook ran concurrently")
	require.EqualValues(t, goroutines*each, handled.Load())
	require.EqualValues(t, goroutines*each, hooked.Load())
	require.Equal(t, uint64(goroutines*each), r.Stats().Rejected[auditrow.ReasonInvalidAction])
}

// TestZeroCountsMakeNoSeries: an Export that wrote, skipped, failed and
// rejected nothing adds no data point to otelaudit.exporter.records (a
// zero Add would make a series per outcome and reason).
func TestZeroCountsMakeNoSeries(t *testing.T) {
	m := metricstest.New(t)
	r := exportstats.New("testlog", m.Provider, func(error) {})
	call := r.Start(context.Background(), 0)
	r.Written(0)
	r.AlreadyStored(0)
	r.Failed(0)
	call.End()
	rm := m.Collect(t)
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name != "otelaudit.exporter.records" {
				continue
			}
			sum, ok := mt.Data.(metricdata.Sum[int64])
			require.True(t, ok)
			require.Empty(t, sum.DataPoints, "zero counts made data points")
		}
	}
	require.EqualValues(t, 1, m.Read(t, "testlog").Exports, "the export itself is measured")
}
