package otlpcapture

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// Record is one captured log record with its resource and scope. It
// implements auditrow.Source.
type Record struct {
	Resource *resourcepb.Resource
	Scope    *commonpb.InstrumentationScope
	Log      *logspb.LogRecord
}

var _ auditrow.Source = Record{}

func flatten(msg *collogspb.ExportLogsServiceRequest) []Record {
	var out []Record
	for _, rl := range msg.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				out = append(out, Record{Resource: rl.GetResource(), Scope: sl.GetScope(), Log: lr})
			}
		}
	}
	return out
}

// ServiceName returns the service.name resource attribute, "" when absent.
func (r Record) ServiceName() string {
	return ResourceAttr(r, otelaudit.KeyServiceName).Emit()
}

// ResourceAttr returns the resource attribute key, an EMPTY value when
// absent.
func ResourceAttr(r Record, key string) attribute.Value {
	for _, kv := range r.Resource.GetAttributes() {
		if kv.GetKey() == key {
			return Value(kv.GetValue())
		}
	}
	return attribute.Value{}
}

// Attr returns the record attribute key (the last one, as the mapping keeps
// it), an EMPTY value when absent.
func (r Record) Attr(key string) attribute.Value {
	var v attribute.Value
	for _, kv := range r.Log.GetAttributes() {
		if kv.GetKey() == key {
			v = Value(kv.GetValue())
		}
	}
	return v
}

// EventName implements auditrow.Source.
func (r Record) EventName() string { return r.Log.GetEventName() }

// Timestamp implements auditrow.Source.
func (r Record) Timestamp() time.Time { return unixNano(r.Log.GetTimeUnixNano()) }

// ObservedTimestamp implements auditrow.Source.
func (r Record) ObservedTimestamp() time.Time { return unixNano(r.Log.GetObservedTimeUnixNano()) }

// Body implements auditrow.Source.
func (r Record) Body() attribute.Value { return Value(r.Log.GetBody()) }

// WalkAttributes implements auditrow.Source.
func (r Record) WalkAttributes(f func(attribute.KeyValue) bool) {
	for _, kv := range r.Log.GetAttributes() {
		if !f(attribute.KeyValue{Key: attribute.Key(kv.GetKey()), Value: Value(kv.GetValue())}) {
			return
		}
	}
}

// TraceID implements auditrow.Source.
func (r Record) TraceID() trace.TraceID {
	var id trace.TraceID
	copy(id[:], r.Log.GetTraceId())
	return id
}

// SpanID implements auditrow.Source.
func (r Record) SpanID() trace.SpanID {
	var id trace.SpanID
	copy(id[:], r.Log.GetSpanId())
	return id
}

func unixNano(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// Value converts an OTLP AnyValue into an attribute value: maps and arrays
// keep their structure, nil is the EMPTY value.
func Value(v *commonpb.AnyValue) attribute.Value {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return attribute.StringValue(x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return attribute.BoolValue(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return attribute.Int64Value(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return attribute.Float64Value(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return attribute.ByteSliceValue(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		vals := make([]attribute.Value, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			vals = append(vals, Value(e))
		}
		return attribute.SliceValue(vals...)
	case *commonpb.AnyValue_KvlistValue:
		kvs := make([]attribute.KeyValue, 0, len(x.KvlistValue.GetValues()))
		for _, kv := range x.KvlistValue.GetValues() {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(kv.GetKey()), Value: Value(kv.GetValue())})
		}
		return attribute.MapValue(kvs...)
	}
	return attribute.Value{}
}

// Rows maps records through auditrow, the mapping the stores use, with the
// default options (records that are not audit records are refused). Each
// row is cloned, so it stays valid. The first record that does not map is
// an error naming its index.
func Rows(recs []Record) ([]auditrow.Row, error) {
	if len(recs) == 0 {
		return nil, ErrNoRecords
	}
	m := auditrow.NewMapper(auditrow.Options{})
	rows := make([]auditrow.Row, 0, len(recs))
	for i, r := range recs {
		row, err := m.Map(r, r.ServiceName())
		if err != nil {
			return rows, fmt.Errorf("otlpcapture: record %d (event name %q): %w", i, r.EventName(), err)
		}
		rows = append(rows, row.Clone())
	}
	return rows, nil
}
