package journal

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelaudit/otelaudit"
)

// MeterName is the instrumentation scope of the journal's metrics.
const MeterName = "github.com/otelaudit/otelaudit/exporter/journal"

// Metric names. Counters and gauges are observed from [Processor.Stats]
// when the meter collects; the export duration is recorded per call.
const (
	MetricRecords        = "otelaudit.journal.records"                // {record}; outcome=accepted|skipped|dropped, reason (dropped)
	MetricDelivered      = "otelaudit.journal.delivered"              // {record}; target, outcome=delivered|dead_lettered
	MetricRetries        = "otelaudit.journal.export.retries"         // {export}; target
	MetricExportDuration = "otelaudit.journal.export.duration"        // s; target, outcome=ok|error
	MetricSize           = "otelaudit.journal.size"                   // By
	MetricBacklog        = "otelaudit.journal.backlog"                // By; target
	MetricOldestAge      = "otelaudit.journal.oldest_unconfirmed.age" // s; target
	MetricDamaged        = "otelaudit.journal.damaged"                // {stretch}
)

type instruments struct {
	duration metric.Float64Histogram
	reg      metric.Registration
	okAttrs  map[string]metric.MeasurementOption
	errAttrs map[string]metric.MeasurementOption
}

func newInstruments(p *Processor) *instruments {
	m := p.cfg.meterProvider.Meter(MeterName, metric.WithInstrumentationVersion(otelaudit.Version))
	in := &instruments{okAttrs: map[string]metric.MeasurementOption{}, errAttrs: map[string]metric.MeasurementOption{}}
	for _, t := range p.targets {
		in.okAttrs[t.name] = metric.WithAttributeSet(attribute.NewSet(attribute.String("target", t.name), attribute.String("outcome", "ok")))
		in.errAttrs[t.name] = metric.WithAttributeSet(attribute.NewSet(attribute.String("target", t.name), attribute.String("outcome", "error")))
	}
	var err error
	in.duration, err = m.Float64Histogram(MetricExportDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of the journal's Export calls, by target and outcome."))
	if err != nil {
		p.reporter.report("metrics", err)
	}
	records, err1 := m.Int64ObservableCounter(MetricRecords, metric.WithUnit("{record}"),
		metric.WithDescription("Records given to the journal, by outcome: accepted (journaled), skipped (not audit records), dropped (refused, by reason)."))
	delivered, err2 := m.Int64ObservableCounter(MetricDelivered, metric.WithUnit("{record}"),
		metric.WithDescription("Journaled records confirmed by each target: delivered, or dead-lettered."))
	retries, err3 := m.Int64ObservableCounter(MetricRetries, metric.WithUnit("{export}"),
		metric.WithDescription("Failed Export calls that were retried, by target."))
	size, err4 := m.Int64ObservableGauge(MetricSize, metric.WithUnit("By"),
		metric.WithDescription("Size of the journal: segment files and records not yet written."))
	backlog, err5 := m.Int64ObservableGauge(MetricBacklog, metric.WithUnit("By"),
		metric.WithDescription("Journal bytes not yet confirmed, by target."))
	age, err6 := m.Float64ObservableGauge(MetricOldestAge, metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest record a target is working on; 0 when idle."))
	damaged, err7 := m.Int64ObservableCounter(MetricDamaged, metric.WithUnit("{stretch}"),
		metric.WithDescription("Damaged stretches of journal segments skipped by recovery."))
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			p.reporter.report("metrics", err)
		}
	}
	acceptedAttrs := metric.WithAttributes(attribute.String("outcome", "accepted"))
	skippedAttrs := metric.WithAttributes(attribute.String("outcome", "skipped"))
	in.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := p.Stats()
		o.ObserveInt64(records, int64(s.Accepted), acceptedAttrs)
		o.ObserveInt64(records, int64(s.Skipped), skippedAttrs)
		for reason, n := range s.Dropped {
			o.ObserveInt64(records, int64(n), metric.WithAttributes(attribute.String("outcome", "dropped"), attribute.String("reason", reason)))
		}
		o.ObserveInt64(size, s.Bytes)
		o.ObserveInt64(damaged, int64(s.Damaged))
		for name, ts := range s.Targets {
			tgt := attribute.String("target", name)
			o.ObserveInt64(delivered, int64(ts.Delivered), metric.WithAttributes(tgt, attribute.String("outcome", "delivered")))
			o.ObserveInt64(delivered, int64(ts.DeadLettered), metric.WithAttributes(tgt, attribute.String("outcome", "dead_lettered")))
			o.ObserveInt64(retries, int64(ts.Retried), metric.WithAttributes(tgt))
			o.ObserveInt64(backlog, ts.Backlog, metric.WithAttributes(tgt))
			o.ObserveFloat64(age, ts.OldestUnconfirmed.Seconds(), metric.WithAttributes(tgt))
		}
		return nil
	}, records, delivered, retries, size, backlog, age, damaged)
	if err != nil {
		p.reporter.report("metrics", err)
	}
	return in
}

func (in *instruments) exported(target string, d time.Duration, err error) {
	if in == nil || in.duration == nil {
		return
	}
	attrs := in.okAttrs[target]
	if err != nil {
		attrs = in.errAttrs[target]
	}
	in.duration.Record(context.Background(), d.Seconds(), attrs)
}

func (in *instruments) close() {
	if in != nil && in.reg != nil {
		_ = in.reg.Unregister()
	}
}
