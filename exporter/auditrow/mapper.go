package auditrow

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
)

// Default limits. A zero field of [Options] means its default.
const (
	DefaultMaxFieldBytes     = 512
	DefaultMaxUserAgentBytes = 1024
	DefaultMaxValueBytes     = 256 << 10
	DefaultMaxDepth          = 32
	// TruncatedPrefixBytes is how much of an oversized JSON value is kept,
	// as a string, in its replacement object.
	TruncatedPrefixBytes = 1024
)

// Options tune a [Mapper]. The zero value means the defaults.
type Options struct {
	// IncludeNonAudit stores records whose EventName is not "audit.<action>"
	// instead of refusing them with [ErrNotAudit]. Their action is their
	// EventName (or "log" when empty), their body goes to Details under
	// "body", and they carry the "event_name:non_audit" marker.
	IncludeNonAudit bool
	// MaxFieldBytes limits identifier fields (user, workspace, session,
	// resource, error type, service name) and attribute keys.
	MaxFieldBytes int
	// MaxUserAgentBytes limits the user agent.
	MaxUserAgentBytes int
	// MaxValueBytes limits each JSON field (details, previous, new,
	// attributes) after encoding, and each other attribute's value.
	MaxValueBytes int
	// MaxDepth limits the nesting of JSON values.
	MaxDepth int
}

func (o Options) withDefaults() Options {
	if o.MaxFieldBytes <= 0 {
		o.MaxFieldBytes = DefaultMaxFieldBytes
	}
	if o.MaxUserAgentBytes <= 0 {
		o.MaxUserAgentBytes = DefaultMaxUserAgentBytes
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// Errors for records that are not mapped. Exporters count them by
// [ReasonOf] and go on with the rest of the batch.
var (
	// ErrNotAudit: the record's EventName does not start with "audit." and
	// Options.IncludeNonAudit is off.
	ErrNotAudit = errors.New("auditrow: not an audit record")
	// ErrInvalidAction: the EventName starts with "audit." but the rest
	// breaks the action naming rule. It is otelaudit.ErrInvalidAction,
	// which the bridge's and the journal's refusals of an invalid action
	// wrap too.
	ErrInvalidAction = otelaudit.ErrInvalidAction
)

// ReasonOf returns the rejection reason of a mapping error:
// [ReasonNonAudit], [ReasonInvalidAction] or [ReasonOther].
func ReasonOf(err error) string {
	switch {
	case errors.Is(err, ErrNotAudit):
		return ReasonNonAudit
	case errors.Is(err, ErrInvalidAction):
		return ReasonInvalidAction
	}
	return ReasonOther
}

// Source is what the mapping reads from a log record. *sdklog.Record
// implements it; other pipelines (the Collector's pdata) adapt to it.
type Source interface {
	EventName() string
	Timestamp() time.Time
	ObservedTimestamp() time.Time
	Body() attribute.Value
	WalkAttributes(f func(attribute.KeyValue) bool)
	TraceID() trace.TraceID
	SpanID() trace.SpanID
}

var _ Source = (*sdklog.Record)(nil)

// OTLPSource is a [Source] of a record that another SDK sent over OTLP
// (the Collector's records, exporter/otelauditexporter): the mapping
// stores the body of such an audit record and its severity, when set (a
// number other than 0, or a text), among the other attributes, under
// [KeyBody], [KeySeverityNumber] and [KeySeverityText]. *sdklog.Record
// does not implement it: the bridge derives an SDK record's severity from
// its outcome, and puts a slog message both in the body and in details.
type OTLPSource interface {
	Source
	SeverityNumber() int
	SeverityText() string
}

// Keys under which the mapping keeps, among the other attributes, what an
// audit record of an [OTLPSource] carries outside its attributes: its body
// (when not empty) and its severity (when set).
const (
	KeyBody           = "log.body"
	KeySeverityNumber = "log.severity_number"
	KeySeverityText   = "log.severity_text"
)

// Records is a batch of records given to an exporter's ExportRecords: the
// way in for pipelines whose records are not SDK records (the Collector's
// pdata). At returns record i, 0 <= i < Len(), and the service name of its
// resource; the exporter maps the Source before it calls At again.
type Records interface {
	Len() int
	At(i int) (src Source, serviceName string)
}

// Mapper maps records to rows. It reuses its buffers: a Row it returns is
// valid until its next call. A Mapper is not safe for concurrent use; use
// one per goroutine.
type Mapper struct {
	opts    Options
	buf     []byte
	attrs   []Attr
	changes []string
	now     func() time.Time

	// The contract attributes of the record being mapped, filled by walk.
	vals  [numFields]attribute.Value
	seen  [numFields]bool
	walkF func(attribute.KeyValue) bool // m.walk, bound once
}

// NewMapper returns a Mapper with the given options.
func NewMapper(opts Options) *Mapper {
	m := &Mapper{opts: opts.withDefaults(), now: time.Now}
	m.walkF = m.walk
	return m
}

// walk sorts one attribute into the contract fields or the other attributes.
func (m *Mapper) walk(kv attribute.KeyValue) bool {
	f := fieldOf(kv.Key)
	if f == fNone {
		m.addAttr(kv)
		return true
	}
	if m.seen[f] {
		m.mark(fieldNames[f], ChangeDuplicateKey)
	}
	m.seen[f], m.vals[f] = true, kv.Value
	return true
}

// MapRecord maps an SDK record; the service name comes from its resource.
func (m *Mapper) MapRecord(r *sdklog.Record) (Row, error) {
	var service string
	if res := r.Resource(); res != nil {
		if v, ok := res.Set().Value(attribute.Key(otelaudit.KeyServiceName)); ok {
			service = v.Emit()
		}
	}
	return m.Map(r, service)
}

// fieldIndex says where each contract attribute goes.
type field int

const (
	fNone field = iota
	fEventID
	fUserID
	fUserName
	fWorkspaceID
	fClientAddress
	fUserAgent
	fSessionID
	fResourceType
	fResourceID
	fOutcome
	fErrorType
	fDetails
	fPrevious
	fNew
	numFields
)

var fieldNames = [numFields]string{
	fEventID:       otelaudit.KeyEventID,
	fUserID:        otelaudit.KeyUserID,
	fUserName:      otelaudit.KeyUserName,
	fWorkspaceID:   otelaudit.KeyWorkspaceID,
	fClientAddress: otelaudit.KeyClientAddress,
	fUserAgent:     otelaudit.KeyUserAgent,
	fSessionID:     otelaudit.KeySessionID,
	fResourceType:  otelaudit.KeyResourceType,
	fResourceID:    otelaudit.KeyResourceID,
	fOutcome:       otelaudit.KeyOutcome,
	fErrorType:     otelaudit.KeyErrorType,
	fDetails:       otelaudit.KeyDetails,
	fPrevious:      otelaudit.KeyPrevious,
	fNew:           otelaudit.KeyNew,
}

func fieldOf(k attribute.Key) field {
	switch string(k) {
	case otelaudit.KeyEventID:
		return fEventID
	case otelaudit.KeyUserID:
		return fUserID
	case otelaudit.KeyUserName:
		return fUserName
	case otelaudit.KeyWorkspaceID:
		return fWorkspaceID
	case otelaudit.KeyClientAddress:
		return fClientAddress
	case otelaudit.KeyUserAgent:
		return fUserAgent
	case otelaudit.KeySessionID:
		return fSessionID
	case otelaudit.KeyResourceType:
		return fResourceType
	case otelaudit.KeyResourceID:
		return fResourceID
	case otelaudit.KeyOutcome:
		return fOutcome
	case otelaudit.KeyErrorType:
		return fErrorType
	case otelaudit.KeyDetails:
		return fDetails
	case otelaudit.KeyPrevious:
		return fPrevious
	case otelaudit.KeyNew:
		return fNew
	}
	return fNone
}

// span marks a part of m.buf; slices are taken once the buffer stops growing.
type span struct{ start, end int }

// Map maps one record. It returns [ErrNotAudit] or [ErrInvalidAction]
// (wrapped) for records it does not store; everything else is stored, with
// the changes listed in Row.Sanitized. Map never panics on any input.
func (m *Mapper) Map(src Source, serviceName string) (row Row, err error) {
	m.buf = m.buf[:0]
	m.attrs = m.attrs[:0]
	m.changes = m.changes[:0]

	name := src.EventName()
	action, isAudit := otelaudit.ActionFromEventName(name)
	switch {
	case isAudit:
		row.Action = string(action)
	case strings.HasPrefix(name, otelaudit.EventNamePrefix) && !m.opts.IncludeNonAudit:
		return Row{}, fmt.Errorf("%w: event name %q", ErrInvalidAction, clip(name))
	case !m.opts.IncludeNonAudit:
		return Row{}, fmt.Errorf("%w: event name %q", ErrNotAudit, clip(name))
	default:
		row.Action = m.clean("event_name", name, otelaudit.MaxActionLen)
		if row.Action == "" {
			row.Action = "log"
		}
		m.mark("event_name", ChangeNonAudit)
	}

	m.vals, m.seen = [numFields]attribute.Value{}, [numFields]bool{}
	src.WalkAttributes(m.walkF)
	vals, seen := &m.vals, &m.seen

	fo := m.opts
	row.UserID = m.field(fUserID, vals[fUserID], fo.MaxFieldBytes)
	row.UserName = m.field(fUserName, vals[fUserName], fo.MaxFieldBytes)
	row.WorkspaceID = m.field(fWorkspaceID, vals[fWorkspaceID], fo.MaxFieldBytes)
	row.UserAgent = m.field(fUserAgent, vals[fUserAgent], fo.MaxUserAgentBytes)
	row.SessionID = m.field(fSessionID, vals[fSessionID], fo.MaxFieldBytes)
	row.ResourceType = m.field(fResourceType, vals[fResourceType], fo.MaxFieldBytes)
	row.ResourceID = m.field(fResourceID, vals[fResourceID], fo.MaxFieldBytes)
	row.ErrorType = m.field(fErrorType, vals[fErrorType], fo.MaxFieldBytes)
	row.ServiceName = m.clean(otelaudit.KeyServiceName, serviceName, fo.MaxFieldBytes)

	switch out := m.field(fOutcome, vals[fOutcome], fo.MaxFieldBytes); out {
	case otelaudit.OutcomeSuccess, otelaudit.OutcomeFailure:
		row.Outcome = out
	case "":
		row.Outcome = otelaudit.OutcomeSuccess
		if row.ErrorType != "" {
			row.Outcome = otelaudit.OutcomeFailure
		}
	default:
		row.Outcome = otelaudit.OutcomeFailure
		m.mark(otelaudit.KeyOutcome, ChangeInvalidOutcome)
		m.addAttr(attribute.String(otelaudit.KeyOutcome, out))
	}

	if ip := m.field(fClientAddress, vals[fClientAddress], fo.MaxFieldBytes); ip != "" {
		addr, trimmed, ok := parseIP(ip)
		if ok {
			row.ClientIP = addr
			if trimmed {
				m.mark(otelaudit.KeyClientAddress, ChangePortOrZone)
				m.addAttr(attribute.String(otelaudit.KeyClientAddress, ip))
			}
		} else {
			m.mark(otelaudit.KeyClientAddress, ChangeInvalidIP)
			m.addAttr(attribute.String(otelaudit.KeyClientAddress, ip))
		}
	}

	row.Time = src.Timestamp()
	row.ObservedTime = src.ObservedTimestamp()
	if row.Time.IsZero() {
		if !row.ObservedTime.IsZero() {
			row.Time = row.ObservedTime
			m.mark("time", ChangeTimeObserved)
		} else {
			row.Time = m.now()
			m.mark("time", ChangeTimeMissing)
		}
	}
	row.TraceID = src.TraceID()
	row.SpanID = src.SpanID()

	id, idOK := parseEventID(vals[fEventID])
	switch {
	case idOK:
		row.EventID = id
	case seen[fEventID]:
		m.mark(otelaudit.KeyEventID, ChangeInvalidID)
		m.addAttr(attribute.KeyValue{Key: otelaudit.KeyEventID, Value: vals[fEventID]})
	default:
		m.mark(otelaudit.KeyEventID, ChangeGeneratedID)
	}

	// JSON values: collect spans first, slice once the buffer is final.
	var details, prev, next, attrsJSON span
	detailsVal := vals[fDetails]
	otlp, isOTLP := src.(OTLPSource)
	if body := src.Body(); body.Type() != attribute.EMPTY {
		switch {
		case !isAudit:
			detailsVal = attribute.MapValue(attribute.KeyValue{Key: "body", Value: body})
		case isOTLP:
			m.addAttr(attribute.KeyValue{Key: KeyBody, Value: body})
		}
	}
	if isOTLP {
		if n := otlp.SeverityNumber(); n != 0 {
			m.addAttr(attribute.Int(KeySeverityNumber, n))
		}
		if t := otlp.SeverityText(); t != "" {
			m.addAttr(attribute.String(KeySeverityText, t))
		}
	}
	details = m.json(otelaudit.KeyDetails, detailsVal)
	prev = m.json(otelaudit.KeyPrevious, vals[fPrevious])
	next = m.json(otelaudit.KeyNew, vals[fNew])
	if len(m.attrs) > 0 {
		attrsJSON = m.attrsJSON()
	}

	if !idOK {
		row.EventID = m.derivedID(vals[fEventID], seen[fEventID], &row)
	}

	row.Details = m.slice(details)
	row.Previous = m.slice(prev)
	row.New = m.slice(next)
	row.AttributesJSON = m.slice(attrsJSON)
	if len(m.attrs) > 0 {
		row.Attrs = m.attrs
	}
	if len(m.changes) > 0 {
		row.Sanitized = m.changes
	}
	return row, nil
}

func clip(s string) string {
	s, _ = cleanString(s, 80)
	return s
}

func (m *Mapper) slice(s span) []byte {
	if s.end == s.start {
		return nil
	}
	return m.buf[s.start:s.end:s.end]
}

func (m *Mapper) mark(field, change string) {
	m.changes = append(m.changes, field+":"+change)
}

func (m *Mapper) clean(field, s string, limit int) string {
	out, changes := cleanString(s, limit)
	for _, c := range changes {
		m.mark(field, c)
	}
	return out
}

// field returns a contract string field. A non-string value is stored as its
// JSON text, with a marker.
func (m *Mapper) field(f field, v attribute.Value, limit int) string {
	switch v.Type() {
	case attribute.EMPTY:
		return ""
	case attribute.STRING:
		return m.clean(fieldNames[f], v.AsString(), limit)
	}
	m.mark(fieldNames[f], ChangeWrongType)
	w := jsonWriter{maxDepth: m.opts.MaxDepth}
	w.value(v, 0)
	return m.clean(fieldNames[f], string(w.buf), limit)
}

func (m *Mapper) addAttr(kv attribute.KeyValue) {
	key := m.clean("attribute_key", string(kv.Key), m.opts.MaxFieldBytes)
	if kv.Value.Type() == attribute.STRING {
		m.attrs = append(m.attrs, Attr{Key: key, Value: m.clean(key, kv.Value.AsString(), m.opts.MaxValueBytes)})
		return
	}
	w := jsonWriter{maxDepth: m.opts.MaxDepth}
	w.value(kv.Value, 0)
	for _, c := range w.changeList() {
		m.mark(key, c)
	}
	if len(w.buf) > m.opts.MaxValueBytes {
		w.buf = appendTruncation(nil, w.buf)
		m.mark(key, ChangeTooLarge)
	}
	m.attrs = append(m.attrs, Attr{Key: key, Value: string(w.buf), JSON: true})
}

// json appends v to m.buf as sanitized JSON and returns where it is.
func (m *Mapper) json(field string, v attribute.Value) span {
	if v.Type() == attribute.EMPTY {
		return span{}
	}
	start := len(m.buf)
	w := jsonWriter{buf: m.buf, maxDepth: m.opts.MaxDepth}
	w.value(v, 0)
	m.buf = w.buf
	for _, c := range w.changeList() {
		m.mark(field, c)
	}
	return m.limit(field, start)
}

// limit replaces the JSON at m.buf[start:] with a truncation object when it
// is larger than MaxValueBytes.
func (m *Mapper) limit(field string, start int) span {
	if len(m.buf)-start <= m.opts.MaxValueBytes {
		return span{start, len(m.buf)}
	}
	original := string(m.buf[start:]) // copy: appendTruncation rewrites m.buf[start:]
	m.buf = appendTruncation(m.buf[:start], []byte(original))
	m.mark(field, ChangeTooLarge)
	return span{start, len(m.buf)}
}

// appendTruncation appends the object that stands for an oversized JSON value.
func appendTruncation(dst, original []byte) []byte {
	prefix, _ := cleanString(string(original[:min(len(original), TruncatedPrefixBytes)]), TruncatedPrefixBytes)
	w := jsonWriter{buf: dst, maxDepth: 1}
	w.buf = append(w.buf, `{"otelaudit.truncated":true,"original_bytes":`...)
	w.buf = strconv.AppendInt(w.buf, int64(len(original)), 10)
	w.buf = append(w.buf, `,"prefix":`...)
	w.str(prefix)
	return append(w.buf, '}')
}

func (m *Mapper) attrsJSON() span {
	start := len(m.buf)
	w := jsonWriter{buf: m.buf, maxDepth: m.opts.MaxDepth}
	w.buf = append(w.buf, '{')
	for i, a := range m.attrs {
		w.comma(i)
		w.str(a.Key)
		w.buf = append(w.buf, ':')
		if a.JSON {
			w.buf = append(w.buf, a.Value...)
		} else {
			w.str(a.Value)
		}
	}
	w.buf = append(w.buf, '}')
	m.buf = w.buf
	return m.limit("attributes", start)
}

// idNamespace is the UUIDv5 namespace of derived event ids.
var idNamespace = uuid.MustParse("6f1c7c38-5d4e-4d8a-9a52-0f1f0c2b7a11")

// parseEventID returns the record's event id when it is a valid, non-nil
// UUID in text form.
func parseEventID(v attribute.Value) (uuid.UUID, bool) {
	if v.Type() != attribute.STRING {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(v.AsString())
	return id, err == nil && id != uuid.Nil
}

// derivedID returns a stable id for a record without a usable one, so that
// every retry or re-export of the record maps to the same id. A malformed id
// still names the event and is the only input; otherwise the id is a hash of
// the mapped content.
func (m *Mapper) derivedID(raw attribute.Value, present bool, row *Row) uuid.UUID {
	h := sha1.New()
	if present {
		h.Write([]byte(raw.Emit()))
		return uuid.NewSHA1(idNamespace, h.Sum(nil))
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(row.Time.UnixNano()))
	h.Write(ts[:])
	for _, s := range []string{row.Action, row.UserID, row.WorkspaceID, row.ClientIP.String(), row.ResourceType, row.ResourceID, row.SessionID, row.Outcome, row.ErrorType} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(row.TraceID[:])
	h.Write(row.SpanID[:])
	h.Write(m.buf)
	return uuid.NewSHA1(idNamespace, h.Sum(nil))
}

// parseIP accepts an IP address, optionally with a port ("1.2.3.4:80",
// "[::1]:80") or an IPv6 zone; IPv4-mapped IPv6 addresses are unmapped.
// trimmed reports a port or zone dropped.
func parseIP(s string) (addr netip.Addr, trimmed, ok bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), a.Zone() != "", true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true, true
	}
	return netip.Addr{}, false, false
}
