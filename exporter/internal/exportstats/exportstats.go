// Package exportstats keeps, in one place for every exporter, what an
// exporter counts about the records given to it: the atomic counters behind
// auditrow.ExportStats, the OpenTelemetry instruments that report the same
// events, and the report of each rejected record to the error handler and
// to the reject hook of the Export's context.
//
// The instruments are synchronous, created once per exporter, and are
// added to where the counters are: once per statement, never per record,
// and for rejections once per reason when the Export call ends. Their
// attribute sets are built in advance: no allocation on the export path.
// Being synchronous, they leave nothing to unregister: the sums stay in the
// MeterProvider after the exporter is shut down, and those of several
// exporters of one kind add up. Measurements are made with
// context.Background(): the Export's context may have ended, and carries no
// span worth an exemplar. The names and attributes are the contract
// documented in the auditrow package.
package exportstats

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// ScopeName is the instrumentation scope of every exporter's instruments.
const ScopeName = "github.com/otelaudit/otelaudit/exporter"

// Instrument names, units and attribute keys.
const (
	// MetricRecords counts records by outcome ({record}).
	MetricRecords = "otelaudit.exporter.records"
	// MetricRetries counts attempts repeated after a transient error
	// ({retry}).
	MetricRetries = "otelaudit.exporter.retries"
	// MetricExportDuration is the duration of each Export call (s).
	MetricExportDuration = "otelaudit.exporter.export.duration"

	// AttrExporter names the exporter package: "postgreslog",
	// "clickhouselog".
	AttrExporter = "otelaudit.exporter"
	// AttrOutcome is a record's outcome: one of the Outcome constants.
	AttrOutcome = "otelaudit.export.outcome"
	// AttrReason is a rejected record's reason (auditrow.Reasons); only
	// with AttrOutcome OutcomeRejected.
	AttrReason = "otelaudit.reject.reason"
)

// Outcomes of a record, the values of AttrOutcome.
const (
	OutcomeWritten       = "written"
	OutcomeAlreadyStored = "already_stored"
	OutcomeRejected      = "rejected"
	OutcomeFailed        = "failed"
)

// DurationBuckets are the bucket boundaries, in seconds, of
// MetricExportDuration: from a millisecond (a small COPY) to a minute (the
// default retry budget).
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// reasons are auditrow's rejection reasons (auditrow.Reasons), in the
// order of the counters; ReasonOther last.
var reasons = [...]string{
	auditrow.ReasonNonAudit, auditrow.ReasonInvalidAction, auditrow.ReasonTimeOutOfRange,
	auditrow.ReasonRefusedByServer, auditrow.ReasonOther,
}

// reasonIndex returns the index of reason in reasons; ReasonOther's for a
// reason it does not know.
func reasonIndex(reason string) int {
	for i, r := range reasons {
		if r == reason {
			return i
		}
	}
	return len(reasons) - 1 // auditrow.ReasonOther
}

// Recorder counts for one exporter. Its methods are safe for concurrent
// use; a nil *Recorder's Stats returns zero counts.
type Recorder struct {
	exporter string
	onError  func(error)

	received, written, alreadyStored, failed, retried, sanitized atomic.Uint64
	rejected                                                     [len(reasons)]atomic.Uint64

	records  metric.Int64Counter
	retries  metric.Int64Counter
	duration metric.Float64Histogram

	// Measurement options with their attribute sets, built once.
	writtenOpts, alreadyStoredOpts, failedOpts []metric.AddOption
	rejectedOpts                               [len(reasons)][]metric.AddOption
	exporterOpts                               []metric.AddOption
	durationOpts                               []metric.RecordOption
}

// New returns the Recorder of the exporter named exporter ("postgreslog").
// Its instruments come from mp (otel.GetMeterProvider() when nil). onError
// receives the rejected records (otel.Handle when nil). An instrument that
// cannot be created is reported to otel.Handle and replaced by a no-op
// one: metrics never stop an exporter.
func New(exporter string, mp metric.MeterProvider, onError func(error)) *Recorder {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if onError == nil {
		onError = otel.Handle
	}
	r := &Recorder{exporter: exporter, onError: onError}

	meter := mp.Meter(ScopeName, metric.WithInstrumentationVersion(otelaudit.Version))
	var err error
	r.records, err = meter.Int64Counter(MetricRecords, metric.WithUnit("{record}"),
		metric.WithDescription("Records given to an exporter, by outcome: written, already_stored (stored before, not written again), rejected (by reason) or failed."))
	if err != nil {
		otel.Handle(err)
		r.records = noop.Int64Counter{}
	}
	r.retries, err = meter.Int64Counter(MetricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("Write attempts an exporter repeated after a transient error."))
	if err != nil {
		otel.Handle(err)
		r.retries = noop.Int64Counter{}
	}
	r.duration, err = meter.Float64Histogram(MetricExportDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of an exporter's Export calls."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	if err != nil {
		otel.Handle(err)
		r.duration = noop.Float64Histogram{}
	}

	exp := attribute.String(AttrExporter, exporter)
	outcome := func(o string, extra ...attribute.KeyValue) []metric.AddOption {
		kvs := append([]attribute.KeyValue{exp, attribute.String(AttrOutcome, o)}, extra...)
		return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	}
	r.writtenOpts = outcome(OutcomeWritten)
	r.alreadyStoredOpts = outcome(OutcomeAlreadyStored)
	r.failedOpts = outcome(OutcomeFailed)
	for i, reason := range reasons {
		r.rejectedOpts[i] = outcome(OutcomeRejected, attribute.String(AttrReason, reason))
	}
	set := attribute.NewSet(exp)
	r.exporterOpts = []metric.AddOption{metric.WithAttributeSet(set)}
	r.durationOpts = []metric.RecordOption{metric.WithAttributeSet(set)}
	return r
}

// Written counts n rows stored.
func (r *Recorder) Written(n int) {
	if n <= 0 {
		return
	}
	r.written.Add(uint64(n))
	r.records.Add(context.Background(), int64(n), r.writtenOpts...)
}

// AlreadyStored counts n records found stored and not written again.
func (r *Recorder) AlreadyStored(n int) {
	if n <= 0 {
		return
	}
	r.alreadyStored.Add(uint64(n))
	r.records.Add(context.Background(), int64(n), r.alreadyStoredOpts...)
}

// Failed counts n records not confirmed stored.
func (r *Recorder) Failed(n int) {
	if n <= 0 {
		return
	}
	r.failed.Add(uint64(n))
	r.records.Add(context.Background(), int64(n), r.failedOpts...)
}

// Retried counts one attempt repeated after a transient error. Its
// signature is retry.Do's onRetry.
func (r *Recorder) Retried(error) {
	r.retried.Add(1)
	r.retries.Add(context.Background(), 1, r.exporterOpts...)
}

// Sanitized counts n records stored with changes.
func (r *Recorder) Sanitized(n int) {
	if n > 0 {
		r.sanitized.Add(uint64(n))
	}
}

// Stats returns the counters. The outcomes are read before Received, so
// that their sum is never ahead of it.
func (r *Recorder) Stats() auditrow.ExportStats {
	s := auditrow.ExportStats{Rejected: make(map[string]uint64, len(reasons))}
	if r == nil {
		for _, reason := range reasons {
			s.Rejected[reason] = 0
		}
		return s
	}
	s.Written = r.written.Load()
	s.AlreadyStored = r.alreadyStored.Load()
	s.Failed = r.failed.Load()
	for i, reason := range reasons {
		s.Rejected[reason] = r.rejected[i].Load()
	}
	s.Received = r.received.Load()
	s.Retried = r.retried.Load()
	s.Sanitized = r.sanitized.Load()
	return s
}

// Start counts the n records given to one Export call and returns that
// call's record: its start time and the reject hook of its context.
func (r *Recorder) Start(ctx context.Context, n int) Call {
	r.received.Add(uint64(n))
	return Call{r: r, hook: auditrow.RejectHookFromContext(ctx), start: time.Now()}
}

// Call is the record of one Export call. Its methods must not be called
// concurrently.
type Call struct {
	r     *Recorder
	hook  func(*auditrow.RejectError)
	start time.Time
	// rejected counts this call's rejections by reason, added to the
	// instrument by End: other logs sharing the pipeline can make most
	// records rejections (non_audit), and one Add per reason and call
	// costs less than one per record.
	rejected [len(reasons)]int64
}

// Reject counts a record that will never be stored, under reason (one of
// auditrow's Reason constants; an unknown one counts as ReasonOther), and
// reports it as a *auditrow.RejectError to the error handler (records
// that are not audit records excepted: only counted) and to the context's
// reject hook: one error, made only when one of them takes it. A panic in
// either is recovered.
func (c *Call) Reject(reason string, id uuid.UUID, err error) {
	r := c.r
	i := reasonIndex(reason)
	r.rejected[i].Add(1)
	c.rejected[i]++
	toHandler := reasons[i] != auditrow.ReasonNonAudit
	if !toHandler && c.hook == nil {
		return
	}
	re := &auditrow.RejectError{Exporter: r.exporter, Reason: reasons[i], EventID: id, Err: err}
	if toHandler {
		safeCall(r.onError, error(re))
	}
	if c.hook != nil {
		safeCall(c.hook, re)
	}
}

// Shared is a Call that the goroutines of one Export report rejections
// through (an Export written in several INSERTs or COPYs at once): its
// reports are made one at a time, so the error handler and the reject
// hook never run concurrently for one call. (The lock is not in Call
// itself: it would move every Call to the heap.)
type Shared struct {
	mu   sync.Mutex
	call *Call
}

// Share returns c for concurrent Rejects; c must not be used directly
// until every goroutine is done with the result.
func (c *Call) Share() *Shared { return &Shared{call: c} }

// Reject is [Call.Reject], serialized.
func (s *Shared) Reject(reason string, id uuid.UUID, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call.Reject(reason, id, err)
}

// End adds the call's rejections to the instruments and records its
// duration. Call it once, when the Export returns.
func (c *Call) End() {
	r := c.r
	for i, n := range c.rejected {
		if n > 0 {
			r.records.Add(context.Background(), n, r.rejectedOpts[i]...)
		}
	}
	r.duration.Record(context.Background(), time.Since(c.start).Seconds(), r.durationOpts...)
}

// safeCall calls f(v), recovering a panic: a faulty handler or hook must
// not take the export down with it.
func safeCall[T any](f func(T), v T) {
	defer func() { _ = recover() }()
	f(v)
}
