package otelauditexporter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// keyEventName is the attribute older SDKs put the event name in, before
// OTLP had a field for it.
const keyEventName = "event.name"

// records is the log records of one plog.Logs as an auditrow.Records:
// the exporters map them straight from pdata, with no detour through SDK
// records.
type records struct {
	recs []entry
	cur  source // the Source At returns, reused: mapped before the next At
}

type entry struct {
	lr      plog.LogRecord
	service string
}

var _ auditrow.Records = (*records)(nil)

// newRecords lists the log records of ld with the service.name of their
// resource.
func newRecords(ld plog.Logs) *records {
	r := &records{recs: make([]entry, 0, ld.LogRecordCount())}
	rls := ld.ResourceLogs()
	for i := range rls.Len() {
		rl := rls.At(i)
		var service string
		if v, ok := rl.Resource().Attributes().Get(otelaudit.KeyServiceName); ok {
			service = v.AsString()
		}
		sls := rl.ScopeLogs()
		for j := range sls.Len() {
			lrs := sls.At(j).LogRecords()
			for k := range lrs.Len() {
				r.recs = append(r.recs, entry{lr: lrs.At(k), service: service})
			}
		}
	}
	return r
}

func (r *records) Len() int { return len(r.recs) }

func (r *records) At(i int) (auditrow.Source, string) {
	r.cur.lr = r.recs[i].lr
	return &r.cur, r.recs[i].service
}

// source is one OTLP log record as an auditrow.OTLPSource.
type source struct{ lr plog.LogRecord }

var _ auditrow.OTLPSource = (*source)(nil)

// EventName is the record's event name; when that is empty, the string
// attribute event.name (which older SDKs set instead) stands for it.
func (s *source) EventName() string {
	if n := s.lr.EventName(); n != "" {
		return n
	}
	if v, ok := s.lr.Attributes().Get(keyEventName); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

func (s *source) Timestamp() time.Time         { return asTime(s.lr.Timestamp()) }
func (s *source) ObservedTimestamp() time.Time { return asTime(s.lr.ObservedTimestamp()) }
func (s *source) Body() attribute.Value        { return value(s.lr.Body(), 0) }
func (s *source) TraceID() trace.TraceID       { return trace.TraceID(s.lr.TraceID()) }
func (s *source) SpanID() trace.SpanID         { return trace.SpanID(s.lr.SpanID()) }
func (s *source) SeverityNumber() int          { return int(s.lr.SeverityNumber()) }
func (s *source) SeverityText() string         { return s.lr.SeverityText() }

func (s *source) WalkAttributes(f func(attribute.KeyValue) bool) {
	s.lr.Attributes().Range(func(k string, v pcommon.Value) bool {
		return f(attribute.KeyValue{Key: attribute.Key(k), Value: value(v, 0)})
	})
}

// asTime maps OTLP's "unset" (0) to the zero time.
func asTime(ts pcommon.Timestamp) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	return ts.AsTime()
}

// maxDepth bounds the recursion of value. The mapping cuts deeper values
// at auditrow.DefaultMaxDepth (32) anyway, with a marker; this only stops
// a hostile payload from costing a deep copy.
const maxDepth = 64

// value converts an OTLP value, keeping its type (maps and slices
// included).
func value(v pcommon.Value, depth int) attribute.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return attribute.StringValue(v.Str())
	case pcommon.ValueTypeInt:
		return attribute.Int64Value(v.Int())
	case pcommon.ValueTypeDouble:
		return attribute.Float64Value(v.Double())
	case pcommon.ValueTypeBool:
		return attribute.BoolValue(v.Bool())
	case pcommon.ValueTypeBytes:
		return attribute.ByteSliceValue(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		if depth >= maxDepth {
			return attribute.StringValue("[otelaudit: depth limit]")
		}
		sl := v.Slice()
		vals := make([]attribute.Value, sl.Len())
		for i := range vals {
			vals[i] = value(sl.At(i), depth+1)
		}
		return attribute.SliceValue(vals...)
	case pcommon.ValueTypeMap:
		if depth >= maxDepth {
			return attribute.StringValue("[otelaudit: depth limit]")
		}
		m := v.Map()
		kvs := make([]attribute.KeyValue, 0, m.Len())
		m.Range(func(k string, v pcommon.Value) bool {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(k), Value: value(v, depth+1)})
			return true
		})
		return attribute.MapValue(kvs...)
	}
	return attribute.Value{}
}
