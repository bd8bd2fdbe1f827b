// Package corpus is the bad-input corpus every exporter is tested with:
// audit log records with NUL bytes, invalid UTF-8, huge and deeply nested
// values, every OpenTelemetry value type, missing or malformed ids, and
// records that are not audit records, each with the outcome the shared
// mapping (exporter/auditrow) defines for it. An exporter's test writes
// all of them in one batch and checks that the stored ones are stored with
// these markers, that the refused ones are counted by reason, and that one
// bad record never costs the others.
package corpus

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

// Case is one input record and its defined outcome.
type Case struct {
	Name   string
	Record log.Record
	// Stored is true when the record must be written; otherwise Reason is
	// the auditrow.ReasonOf of its refusal ("non_audit", "invalid_action").
	Stored bool
	Reason string
	// Markers are the Row.Sanitized markers the stored row must carry,
	// in order (nil: none).
	Markers []string
}

// ServiceName is the service.name of the provider Records emits through.
const ServiceName = "corpus"

// Time is the timestamp of every case that has one.
var Time = time.Date(2024, 3, 14, 15, 9, 26, 535897932, time.UTC)

// Huge is the size of the oversized values: over auditrow's default
// MaxValueBytes (256 KiB).
const Huge = 1 << 20

func rec(name, id string, attrs ...attribute.KeyValue) log.Record {
	var r log.Record
	r.SetEventName(name)
	r.SetTimestamp(Time)
	r.SetSeverity(log.SeverityInfo)
	if id != "" {
		r.AddAttributes(attribute.String(otelaudit.KeyEventID, id))
	}
	r.AddAttributes(attrs...)
	return r
}

func nested(depth int) attribute.Value {
	v := attribute.StringValue("bottom")
	for range depth {
		v = attribute.MapValue(attribute.KeyValue{Key: "n", Value: v})
	}
	return v
}

// Event ids of cases whose stored values the exporters' tests check.
const (
	// OtherAttributesID: attributes outside the contract with a NUL byte
	// and invalid UTF-8 in their values and keys; stored as
	// OtherAttributeKeys and OtherAttributeValues, in that order.
	OtherAttributesID = "01900000-0000-7000-8000-00000000000f"
	// ZoneID: client address "fe80::1%eth0"; stored as "fe80::1", the raw
	// value kept among the attributes.
	ZoneID = "01900000-0000-7000-8000-000000000010"
	// ZonePortID: client address "[fe80::2%eth0]:443"; stored as
	// "fe80::2", the raw value kept among the attributes.
	ZonePortID = "01900000-0000-7000-8000-000000000011"
)

// The attributes outside the contract of case OtherAttributesID, as
// stored: sanitized, non-string values as JSON text.
var (
	OtherAttributeKeys   = []string{"note", "plan", "k\uFFFDey", "n"}
	OtherAttributeValues = []string{"a\uFFFDb", "x\uFFFDy", "v", "7"}
)

// Cases returns the corpus, fresh on every call. Every stored case has a
// distinct event id (given, or derived from distinct content).
func Cases() []Case {
	noTime := rec("audit.login", "01900000-0000-7000-8000-00000000000b", attribute.String(otelaudit.KeyUserID, "u-notime"))
	noTime.SetTimestamp(time.Time{})
	return []Case{
		{Name: "valid login", Stored: true,
			Record: rec("audit.login", "01900000-0000-7000-8000-000000000001",
				attribute.String(otelaudit.KeyUserID, "u1"), attribute.String(otelaudit.KeyWorkspaceID, "ws1"),
				attribute.String(otelaudit.KeyClientAddress, "203.0.113.7"))},
		{Name: "NUL bytes in strings and details", Stored: true,
			Record: rec("audit.settings_changed", "01900000-0000-7000-8000-000000000002",
				attribute.String(otelaudit.KeyUserID, "u\x00ser"),
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("k", "v\x00"))}),
			Markers: []string{"user.id:nul_byte", "audit.details:nul_byte"}},
		{Name: "invalid UTF-8", Stored: true,
			Record: rec("audit.login", "01900000-0000-7000-8000-000000000003",
				attribute.String(otelaudit.KeyWorkspaceID, "ws\xff\xfe"), attribute.String("plan", "pro\xc3")),
			Markers: []string{"plan:invalid_utf8", "audit.workspace.id:invalid_utf8"}},
		{Name: "huge details", Stored: true,
			Record: rec("audit.data_export_completed", "01900000-0000-7000-8000-000000000004",
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.MapValue(attribute.String("blob", strings.Repeat("x", Huge)))}),
			Markers: []string{"audit.details:too_large"}},
		{Name: "huge user id", Stored: true,
			Record: rec("audit.login", "01900000-0000-7000-8000-000000000005",
				attribute.String(otelaudit.KeyUserID, strings.Repeat("u", Huge))),
			Markers: []string{"user.id:truncated"}},
		{Name: "deeply nested details", Stored: true,
			Record: rec("audit.admin_action", "01900000-0000-7000-8000-000000000006",
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: nested(100)}),
			Markers: []string{"audit.details:depth_limit"}},
		{Name: "every value type", Stored: true,
			Record: rec("audit.admin_action", "01900000-0000-7000-8000-000000000007",
				attribute.Bool("a.bool", true), attribute.Int64("a.int", -42), attribute.Float64("a.float", 1.5),
				attribute.String("a.string", "s"), attribute.BoolSlice("a.bools", []bool{true, false}),
				attribute.Int64Slice("a.ints", []int64{1, 2}), attribute.Float64Slice("a.floats", []float64{0.5}),
				attribute.StringSlice("a.strings", []string{"x", "y"}),
				attribute.KeyValue{Key: "a.bytes", Value: attribute.ByteSliceValue([]byte{0, 1, 2})},
				attribute.KeyValue{Key: "a.map", Value: attribute.MapValue(attribute.Int("n", 1))},
				attribute.KeyValue{Key: "a.slice", Value: attribute.SliceValue(attribute.StringValue("e"), attribute.IntValue(3))},
				attribute.KeyValue{Key: otelaudit.KeyDetails, Value: attribute.SliceValue(attribute.BoolValue(false), attribute.Float64Value(2.25))}),
		},
		{Name: "NaN and infinities", Stored: true,
			Record: rec("audit.settings_changed", "01900000-0000-7000-8000-000000000008",
				attribute.KeyValue{Key: otelaudit.KeyNew, Value: attribute.Float64SliceValue([]float64{math.NaN(), math.Inf(1), math.Inf(-1)})}),
			Markers: []string{"audit.new:non_finite"}},
		{Name: "missing event id", Stored: true,
			Record:  rec("audit.logout", "", attribute.String(otelaudit.KeyUserID, "u-noid")),
			Markers: []string{"log.record.uid:generated_id"}},
		{Name: "malformed event id", Stored: true,
			Record:  rec("audit.logout", "not-a-uuid", attribute.String(otelaudit.KeyUserID, "u-badid")),
			Markers: []string{"log.record.uid:invalid_id"}},
		{Name: "client address not an IP", Stored: true,
			Record: rec("audit.login", "01900000-0000-7000-8000-000000000009",
				attribute.String(otelaudit.KeyClientAddress, "not-an-ip")),
			Markers: []string{"client.address:invalid_ip"}},
		{Name: "NUL and invalid UTF-8 in other attributes", Stored: true,
			Record: rec("audit.login", OtherAttributesID,
				attribute.String("note", "a\x00b"), attribute.String("plan", "x\xffy"),
				attribute.String("k\xffey", "v"), attribute.Int("n", 7)),
			Markers: []string{"note:nul_byte", "plan:invalid_utf8", "attribute_key:invalid_utf8"}},
		{Name: "IPv6 address with a zone", Stored: true,
			Record: rec("audit.login", ZoneID,
				attribute.String(otelaudit.KeyClientAddress, "fe80::1%eth0")),
			Markers: []string{"client.address:port_or_zone"}},
		{Name: "IPv6 address with a zone and a port", Stored: true,
			Record: rec("audit.login", ZonePortID,
				attribute.String(otelaudit.KeyClientAddress, "[fe80::2%eth0]:443")),
			Markers: []string{"client.address:port_or_zone"}},
		{Name: "contract key with a non-string value", Stored: true,
			Record: rec("audit.login", "01900000-0000-7000-8000-00000000000a",
				attribute.Int64(otelaudit.KeyUserID, 1234)),
			Markers: []string{"user.id:wrong_type"}},
		{Name: "no timestamp", Stored: true, Record: noTime, Markers: []string{"time:observed"}},
		{Name: "not an audit record", Reason: "non_audit",
			Record: rec("http.request", "01900000-0000-7000-8000-00000000000c")},
		{Name: "invalid action", Reason: "invalid_action",
			Record: rec("audit.User Login", "01900000-0000-7000-8000-00000000000d")},
		{Name: "empty event name", Reason: "non_audit",
			Record: rec("", "01900000-0000-7000-8000-00000000000e")},
	}
}

// Records emits the cases' records through a real SDK LoggerProvider
// (resource service.name=ServiceName, default limits) and returns the SDK
// records, in case order.
func Records(cases []Case) []sdklog.Record {
	return Capture(func(lp log.LoggerProvider) {
		logger := lp.Logger("corpus")
		for _, c := range cases {
			logger.Emit(context.Background(), c.Record)
		}
	})
}

// Capture runs emit with a real SDK LoggerProvider (resource
// service.name=ServiceName, default limits) and returns clones of the
// records it emitted, in order: how tests get SDK records from the bridge.
func Capture(emit func(lp log.LoggerProvider)) []sdklog.Record {
	return testenv.Capture(ServiceName, emit)
}

// ErrorLog collects what an exporter hands to its error handler; pass
// its Handle method as the handler. It is safe for concurrent use.
type ErrorLog struct {
	mu   sync.Mutex
	errs []error
}

// Handle records err.
func (h *ErrorLog) Handle(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
}

// All returns a copy of the errors handled so far.
func (h *ErrorLog) All() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

// OTLPRecord is a record as another SDK sends it over OTLP (what the
// Collector exporter hands on): a body and a severity besides the
// attributes. It is an auditrow.Source.
type OTLPRecord struct {
	Name      string
	Time      time.Time
	BodyValue attribute.Value
	Attrs     []attribute.KeyValue
	Severity  int
	SevText   string
}

func (r *OTLPRecord) EventName() string            { return r.Name }
func (r *OTLPRecord) Timestamp() time.Time         { return r.Time }
func (r *OTLPRecord) ObservedTimestamp() time.Time { return time.Time{} }
func (r *OTLPRecord) Body() attribute.Value        { return r.BodyValue }
func (r *OTLPRecord) TraceID() trace.TraceID       { return trace.TraceID{} }
func (r *OTLPRecord) SpanID() trace.SpanID         { return trace.SpanID{} }
func (r *OTLPRecord) SeverityNumber() int          { return r.Severity }
func (r *OTLPRecord) SeverityText() string         { return r.SevText }
func (r *OTLPRecord) WalkAttributes(f func(attribute.KeyValue) bool) {
	for _, kv := range r.Attrs {
		if !f(kv) {
			return
		}
	}
}

// OTLPService is the service.name of every record of an [OTLPRecords].
const OTLPService = "node-portal"

// OTLPRecords is an auditrow.Records of one service, [OTLPService].
type OTLPRecords []OTLPRecord

func (rs OTLPRecords) Len() int { return len(rs) }

// At returns record i and its service (auditrow.Records).
func (rs OTLPRecords) At(i int) (auditrow.Source, string) { return &rs[i], OTLPService }
