package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"
)

// Entry kinds: the first byte of a frame's payload.
const (
	kindRecord byte = 1 // a log record
	kindOrigin byte = 2 // a resource and instrumentation scope, referred to by records
)

// Record flags.
const (
	flagTimestamp byte = 1 << iota
	flagObserved
	flagTrace
)

// maxValueDepth is how deeply nested an attribute value may be. The SDK and
// the bridge cut far earlier; a deeper value is refused, not truncated.
const maxValueDepth = 64

var errTooDeep = errors.New("attribute value nested too deeply")

// appendRecord appends the payload of a record entry: the record as the SDK
// holds it, with the id of its origin and the time it was journaled.
func appendRecord(b []byte, origin uint64, journaled int64, r *sdklog.Record) ([]byte, error) {
	b = append(b, kindRecord)
	b = binary.AppendUvarint(b, origin)
	b = binary.AppendVarint(b, journaled)
	var flags byte
	ts, obs := r.Timestamp(), r.ObservedTimestamp()
	if !ts.IsZero() {
		flags |= flagTimestamp
	}
	if !obs.IsZero() {
		flags |= flagObserved
	}
	tid, sid := r.TraceID(), r.SpanID()
	if tid.IsValid() || sid.IsValid() {
		flags |= flagTrace
	}
	b = append(b, flags)
	if flags&flagTimestamp != 0 {
		b = appendTime(b, ts)
	}
	if flags&flagObserved != 0 {
		b = appendTime(b, obs)
	}
	b = binary.AppendVarint(b, int64(r.Severity()))
	b = appendString(b, r.SeverityText())
	b = appendString(b, r.EventName())
	if flags&flagTrace != 0 {
		b = append(b, tid[:]...)
		b = append(b, sid[:]...)
		b = append(b, byte(r.TraceFlags()))
	}
	var err error
	if b, err = appendValue(b, r.Body(), 0); err != nil {
		return b, err
	}
	b = binary.AppendUvarint(b, uint64(r.AttributesLen()))
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		b = appendString(b, string(kv.Key))
		b, err = appendValue(b, kv.Value, 0)
		return err == nil
	})
	return b, err
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendKVs(b []byte, kvs []attribute.KeyValue, depth int) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(kvs)))
	var err error
	for _, kv := range kvs {
		b = appendString(b, string(kv.Key))
		if b, err = appendValue(b, kv.Value, depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendValue(b []byte, v attribute.Value, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return b, errTooDeep
	}
	t := v.Type()
	b = append(b, byte(t))
	switch t {
	case attribute.BOOL:
		if v.AsBool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case attribute.INT64:
		return binary.AppendVarint(b, v.AsInt64()), nil
	case attribute.FLOAT64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.AsFloat64())), nil
	case attribute.STRING:
		return appendString(b, v.AsString()), nil
	case attribute.BOOLSLICE:
		s := v.AsBoolSlice()
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, x := range s {
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
		return b, nil
	case attribute.INT64SLICE:
		s := v.AsInt64Slice()
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, x := range s {
			b = binary.AppendVarint(b, x)
		}
		return b, nil
	case attribute.FLOAT64SLICE:
		s := v.AsFloat64Slice()
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, x := range s {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b, nil
	case attribute.STRINGSLICE:
		s := v.AsStringSlice()
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, x := range s {
			b = appendString(b, x)
		}
		return b, nil
	case attribute.BYTESLICE:
		s := v.AsByteSlice()
		b = binary.AppendUvarint(b, uint64(len(s)))
		return append(b, s...), nil
	case attribute.SLICE:
		s := v.AsSlice()
		b = binary.AppendUvarint(b, uint64(len(s)))
		var err error
		for _, x := range s {
			if b, err = appendValue(b, x, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case attribute.MAP:
		return appendKVs(b, v.AsMap(), depth+1)
	}
	// EMPTY, and any type a later SDK adds: kept as empty.
	b[len(b)-1] = byte(attribute.EMPTY)
	return b, nil
}

// errCorrupt reports an entry whose checksum matched but whose content does
// not decode: written by an incompatible version, or a bug.
var errCorrupt = errors.New("journal: entry does not decode")

// decoder reads an entry's payload. Strings alias the payload, which must
// therefore never be modified once decoded (each batch reads into a buffer
// of its own).
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length and checks that at least min bytes per element
// remain, so that corrupt input cannot make it allocate much.
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/max(minBytes, 1)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(n int) []byte {
	if n < 0 || len(d.b) < n {
		d.fail()
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string {
	s := d.bytes(d.count(1))
	if len(s) == 0 {
		return ""
	}
	return unsafe.String(&s[0], len(s))
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}

func (d *decoder) kvs(depth int) []attribute.KeyValue {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	kvs := make([]attribute.KeyValue, n)
	for i := range kvs {
		kvs[i] = attribute.KeyValue{Key: attribute.Key(d.string()), Value: d.value(depth)}
	}
	return kvs
}

func (d *decoder) value(depth int) attribute.Value {
	if depth > maxValueDepth {
		d.fail()
		return attribute.Value{}
	}
	switch attribute.Type(d.byte()) {
	case attribute.EMPTY:
		return attribute.Value{}
	case attribute.BOOL:
		return attribute.BoolValue(d.byte() != 0)
	case attribute.INT64:
		return attribute.Int64Value(d.varint())
	case attribute.FLOAT64:
		return attribute.Float64Value(math.Float64frombits(binary.LittleEndian.Uint64(d.bytes(8))))
	case attribute.STRING:
		return attribute.StringValue(d.string())
	case attribute.BOOLSLICE:
		s := make([]bool, d.count(1))
		for i := range s {
			s[i] = d.byte() != 0
		}
		return attribute.BoolSliceValue(s)
	case attribute.INT64SLICE:
		s := make([]int64, d.count(1))
		for i := range s {
			s[i] = d.varint()
		}
		return attribute.Int64SliceValue(s)
	case attribute.FLOAT64SLICE:
		s := make([]float64, d.count(8))
		for i := range s {
			s[i] = math.Float64frombits(binary.LittleEndian.Uint64(d.bytes(8)))
		}
		return attribute.Float64SliceValue(s)
	case attribute.STRINGSLICE:
		s := make([]string, d.count(1))
		for i := range s {
			s[i] = d.string()
		}
		return attribute.StringSliceValue(s)
	case attribute.BYTESLICE:
		return attribute.ByteSliceValue(d.bytes(d.count(1)))
	case attribute.SLICE:
		s := make([]attribute.Value, d.count(1))
		for i := range s {
			s[i] = d.value(depth + 1)
		}
		return attribute.SliceValue(s...)
	case attribute.MAP:
		return attribute.MapValue(d.kvs(depth + 1)...)
	}
	d.fail()
	return attribute.Value{}
}

// recordHeader is what a record entry says before its body and attributes.
type recordHeader struct {
	origin    uint64
	journaled int64 // unix nanoseconds
}

// decodeRecordHeader reads the start of a record payload (after the kind
// byte).
func (d *decoder) recordHeader() recordHeader {
	return recordHeader{origin: d.uvarint(), journaled: d.varint()}
}

// recordInto decodes the rest of a record entry into r, which the replay
// logger of its origin created. scratch is reused for the attributes.
func (d *decoder) recordInto(r *sdklog.Record, scratch []attribute.KeyValue) []attribute.KeyValue {
	flags := d.byte()
	if flags&flagTimestamp != 0 {
		r.SetTimestamp(d.time())
	} else {
		r.SetTimestamp(time.Time{})
	}
	if flags&flagObserved != 0 {
		r.SetObservedTimestamp(d.time())
	} else {
		r.SetObservedTimestamp(time.Time{})
	}
	r.SetSeverity(log.Severity(d.varint()))
	r.SetSeverityText(d.string())
	r.SetEventName(d.string())
	if flags&flagTrace != 0 {
		var tid trace.TraceID
		var sid trace.SpanID
		copy(tid[:], d.bytes(16))
		copy(sid[:], d.bytes(8))
		r.SetTraceID(tid)
		r.SetSpanID(sid)
		r.SetTraceFlags(trace.TraceFlags(d.byte()))
	}
	r.SetBody(d.value(0))
	n := d.count(2)
	scratch = scratch[:0]
	for range n {
		scratch = append(scratch, attribute.KeyValue{Key: attribute.Key(d.string()), Value: d.value(0)})
	}
	r.SetAttributes(scratch...)
	clear(scratch)
	return scratch[:0]
}

// origin is a resource and an instrumentation scope, written once per
// segment and referred to by id from the records.
type origin struct {
	resSchema   string
	resAttrs    []attribute.KeyValue
	scopeName   string
	scopeVer    string
	scopeSchema string
	scopeAttrs  []attribute.KeyValue
}

func appendOrigin(b []byte, id uint64, o *origin) ([]byte, error) {
	b = append(b, kindOrigin)
	b = binary.AppendUvarint(b, id)
	b = appendString(b, o.resSchema)
	var err error
	if b, err = appendKVs(b, o.resAttrs, 0); err != nil {
		return b, err
	}
	b = appendString(b, o.scopeName)
	b = appendString(b, o.scopeVer)
	b = appendString(b, o.scopeSchema)
	return appendKVs(b, o.scopeAttrs, 0)
}

// decodeOrigin reads an origin payload (after the kind byte). Its strings
// are copied: origins outlive the batch they were read in.
func decodeOrigin(p []byte) (uint64, *origin, error) {
	p = append([]byte(nil), p...)
	d := decoder{b: p}
	id := d.uvarint()
	o := &origin{resSchema: d.string(), resAttrs: d.kvs(0), scopeName: d.string(), scopeVer: d.string(), scopeSchema: d.string(), scopeAttrs: d.kvs(0)}
	if d.err != nil {
		return 0, nil, fmt.Errorf("origin entry: %w", d.err)
	}
	return id, o, nil
}
