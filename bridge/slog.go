package bridge

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
)

// SlogHandler is a [slog.Handler] that records every slog record as an audit
// event through an [Auditor]. It lets a service that logs with log/slog emit
// the same audit records as the typed calls, for example with a dedicated
// audit logger:
//
//	audit := slog.New(bridge.NewSlogHandler(auditor))
//	audit.InfoContext(ctx, "invoice.refunded",
//		otelaudit.KeyUserID, "u-42",
//		otelaudit.KeyResourceType, "invoice", otelaudit.KeyResourceID, "inv-7",
//		"amount_cents", 1250)
//
// # Mapping
//
// The record's message is the action: it must follow the naming rule of
// [otelaudit.Action], and the Auditor rejects and counts it otherwise
// (Handle still returns nil: audit calls are fire-and-forget). The record's
// time is the event time ([Auditor.Record] uses its clock for a zero time).
// The level is ignored: the record's severity follows the outcome, as for
// every audit record.
//
// Top-level attributes (neither inside a group nor added after WithGroup)
// with a record-contract key fill the event:
//
//	otelaudit.KeyUserID         Actor.UserID
//	otelaudit.KeyWorkspaceID    Actor.WorkspaceID
//	otelaudit.KeyUserName       Actor.Name
//	otelaudit.KeyClientAddress  Client.IP
//	otelaudit.KeyUserAgent      Client.UserAgent
//	otelaudit.KeySessionID      Client.SessionID
//	otelaudit.KeyResourceType   Resource.Type
//	otelaudit.KeyResourceID     Resource.ID
//	otelaudit.KeyErrorType      Outcome.ErrorType; a non-empty value means failure
//	otelaudit.KeyOutcome        "failure" means failure, "success" success
//	otelaudit.KeyEventID        ID, parsed as a UUID
//	otelaudit.KeyDetails        Details (a group becomes a map)
//	otelaudit.KeyPrevious       Previous (a group becomes a map)
//	otelaudit.KeyNew            New (a group becomes a map)
//
// String fields take the value's text form ([attribute.Value.String]). A
// KeyOutcome other than "success" or "failure", or a KeyEventID that is not a
// UUID, is not applied and is kept in Details under its key instead. When a
// key is given more than once, the last value wins; attributes from
// WithAttrs come before those of the record. Client fields left empty are
// filled from the context by the Auditor (see [Middleware]).
//
// Every other attribute, including those added with WithAttrs and WithGroup,
// goes into Details, keeping its structure: a group becomes a nested map, a
// [slog.LogValuer] is resolved first, values of kind Any are converted with
// [otelaudit.Value] (so structs, maps and slices stay structured), times and
// durations become strings as [otelaudit.Value] writes them, and other
// kinds map to the matching attribute kind. Details is then a map of those
// attributes; when KeyDetails is also given, a map value is merged with them
// and any other value is kept in the map under the KeyDetails key. Groups
// are followed to [otelaudit.MaxValueDepth] levels; deeper ones become
// [otelaudit.DepthLimitMarker].
//
// As the slog.Handler contract asks, an empty attribute (zero key and
// value) and a group without attributes are ignored, and the attributes of a
// group with an empty key are inlined. A non-group attribute with an empty
// key is ignored too, because an OpenTelemetry attribute needs a key.
//
// # Levels
//
// Enabled always reports true: audit events are never filtered by level. A
// record logged at Debug is recorded like one logged at Error; put the
// handler on a logger of its own rather than behind a level filter.
//
// A SlogHandler is safe for concurrent use. NewSlogHandler with a nil
// Auditor gives a handler that records nothing.
type SlogHandler struct {
	auditor *Auditor
	// top holds the top-level attributes added with WithAttrs.
	top slogEvent
	// groups are the groups opened with WithGroup, outermost first;
	// nested[i] holds the attributes added with WithAttrs while
	// groups[:i+1] were open.
	groups []string
	nested [][]attribute.KeyValue
}

var _ slog.Handler = (*SlogHandler)(nil)

// NewSlogHandler returns a handler that records slog records as audit
// events through a; see [SlogHandler] for the mapping.
func NewSlogHandler(a *Auditor) *SlogHandler {
	return &SlogHandler{auditor: a}
}

// Enabled reports true: audit events are not filtered by level.
func (h *SlogHandler) Enabled(context.Context, slog.Level) bool { return true }

// Handle records r as an audit event. It always returns nil: an event the
// Auditor rejects is counted and reported there.
func (h *SlogHandler) Handle(ctx context.Context, r slog.Record) error {
	if h == nil || h.auditor == nil {
		return nil
	}
	var attrs []attribute.KeyValue
	if n := r.NumAttrs(); n > 0 {
		attrs = make([]attribute.KeyValue, 0, n)
		r.Attrs(func(a slog.Attr) bool {
			attrs = appendSlogAttr(attrs, a, 0)
			return true
		})
	}
	// Wrap the record's attributes in the open groups, innermost first,
	// leaving out groups that end up empty.
	for i := len(h.groups) - 1; i >= 0; i-- {
		content := append(slices.Clip(h.nested[i]), attrs...)
		if len(content) == 0 {
			attrs = nil
			continue
		}
		attrs = []attribute.KeyValue{{Key: attribute.Key(h.groups[i]), Value: attribute.MapValue(content...)}}
	}

	e := h.top.clone()
	for _, kv := range attrs {
		e.apply(kv)
	}
	ev := e.event()
	ev.Action = otelaudit.Action(r.Message)
	ev.Time = r.Time
	h.auditor.Record(ctx, ev)
	return nil
}

// WithAttrs returns a handler whose records carry attrs as well.
func (h *SlogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if h == nil || len(attrs) == 0 {
		return h
	}
	var kvs []attribute.KeyValue
	for _, a := range attrs {
		kvs = appendSlogAttr(kvs, a, 0)
	}
	h2 := h.clone()
	if n := len(h2.groups); n > 0 {
		h2.nested[n-1] = append(slices.Clip(h2.nested[n-1]), kvs...)
		return h2
	}
	for _, kv := range kvs {
		h2.top.apply(kv)
	}
	return h2
}

// WithGroup returns a handler that puts the attributes that follow into the
// group name, in Details. An empty name returns h.
func (h *SlogHandler) WithGroup(name string) slog.Handler {
	if h == nil || name == "" {
		return h
	}
	h2 := h.clone()
	h2.groups = append(slices.Clip(h2.groups), name)
	h2.nested = append(slices.Clip(h2.nested), nil)
	return h2
}

func (h *SlogHandler) clone() *SlogHandler {
	h2 := *h
	h2.top = h.top.clone()
	h2.nested = slices.Clone(h.nested)
	return &h2
}

// slogEvent accumulates the top-level attributes of a record.
type slogEvent struct {
	ev      otelaudit.Event
	failed  bool            // from KeyOutcome
	details attribute.Value // the KeyDetails value
	extras  []attribute.KeyValue
}

// clone returns a copy whose extras can be appended to without touching e's.
func (e slogEvent) clone() slogEvent {
	e.extras = slices.Clip(e.extras)
	return e
}

func (e *slogEvent) apply(kv attribute.KeyValue) {
	v := kv.Value
	switch string(kv.Key) {
	case otelaudit.KeyUserID:
		e.ev.Actor.UserID = v.String()
	case otelaudit.KeyWorkspaceID:
		e.ev.Actor.WorkspaceID = v.String()
	case otelaudit.KeyUserName:
		e.ev.Actor.Name = v.String()
	case otelaudit.KeyClientAddress:
		e.ev.Client.IP = v.String()
	case otelaudit.KeyUserAgent:
		e.ev.Client.UserAgent = v.String()
	case otelaudit.KeySessionID:
		e.ev.Client.SessionID = v.String()
	case otelaudit.KeyResourceType:
		e.ev.Resource.Type = v.String()
	case otelaudit.KeyResourceID:
		e.ev.Resource.ID = v.String()
	case otelaudit.KeyErrorType:
		e.ev.Outcome.ErrorType = v.String()
	case otelaudit.KeyOutcome:
		switch s := v.String(); {
		case strings.EqualFold(s, otelaudit.OutcomeFailure):
			e.failed = true
		case strings.EqualFold(s, otelaudit.OutcomeSuccess):
			e.failed = false
		default:
			e.extras = append(e.extras, kv)
		}
	case otelaudit.KeyEventID:
		s := v.String()
		if s == "" {
			e.ev.ID = uuid.Nil
			return
		}
		id, err := uuid.Parse(s)
		if err != nil {
			e.extras = append(e.extras, kv)
			return
		}
		e.ev.ID = id
	case otelaudit.KeyDetails:
		e.details = v
	case otelaudit.KeyPrevious:
		e.ev.Previous = v
	case otelaudit.KeyNew:
		e.ev.New = v
	default:
		e.extras = append(e.extras, kv)
	}
}

// event returns the event the attributes describe.
func (e *slogEvent) event() otelaudit.Event {
	ev := e.ev
	ev.Outcome.Failed = e.failed || ev.Outcome.ErrorType != ""
	ev.Details = e.details
	if len(e.extras) > 0 {
		switch e.details.Type() {
		case attribute.EMPTY:
			ev.Details = attribute.MapValue(e.extras...)
		case attribute.MAP:
			ev.Details = attribute.MapValue(append(e.details.AsMap(), e.extras...)...)
		default:
			kvs := append(slices.Clip(e.extras), attribute.KeyValue{Key: otelaudit.KeyDetails, Value: e.details})
			ev.Details = attribute.MapValue(kvs...)
		}
	}
	return ev
}

// appendSlogAttr appends the OpenTelemetry form of a to dst, following the
// slog.Handler rules for empty attributes and groups.
func appendSlogAttr(dst []attribute.KeyValue, a slog.Attr, depth int) []attribute.KeyValue {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() != slog.KindGroup {
		if a.Key == "" {
			// The empty attribute, or one OpenTelemetry cannot key.
			return dst
		}
		return append(dst, attribute.KeyValue{Key: attribute.Key(a.Key), Value: slogValue(a.Value)})
	}
	if depth >= otelaudit.MaxValueDepth {
		if a.Key == "" {
			return dst
		}
		return append(dst, attribute.String(a.Key, otelaudit.DepthLimitMarker))
	}
	members := a.Value.Group()
	if a.Key == "" {
		for _, m := range members {
			dst = appendSlogAttr(dst, m, depth+1)
		}
		return dst
	}
	var kvs []attribute.KeyValue
	for _, m := range members {
		kvs = appendSlogAttr(kvs, m, depth+1)
	}
	if len(kvs) == 0 {
		return dst
	}
	return append(dst, attribute.KeyValue{Key: attribute.Key(a.Key), Value: attribute.MapValue(kvs...)})
}

// slogValue converts a resolved, non-group slog value.
func slogValue(v slog.Value) attribute.Value {
	switch v.Kind() {
	case slog.KindBool:
		return attribute.BoolValue(v.Bool())
	case slog.KindInt64:
		return attribute.Int64Value(v.Int64())
	case slog.KindUint64:
		return otelaudit.Value(v.Uint64())
	case slog.KindFloat64:
		return attribute.Float64Value(v.Float64())
	case slog.KindString:
		return attribute.StringValue(v.String())
	case slog.KindDuration:
		return otelaudit.Value(v.Duration())
	case slog.KindTime:
		return otelaudit.Value(v.Time())
	case slog.KindAny:
		return otelaudit.Value(v.Any())
	}
	// KindLogValuer after Resolve gave up (a chain too long), or a kind
	// added to slog later.
	return attribute.StringValue(v.String())
}
