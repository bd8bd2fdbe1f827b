package bridge

import (
	"context"
	"errors"
	"fmt"
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
//		"user_id", "u-42", "resource", "invoice", "resource_id", "inv-7",
//		"amount_cents", 1250)
//
// # The action
//
// The record's message is the action, unless an "action" attribute (see
// below) names it; then a message that differs from it is kept as the
// record's body and in Details under "msg" (slog.MessageKey), replacing an
// attribute of that name. The action must follow the naming rule of
// [otelaudit.Action]. What happens to one that does not (a sentence such as
// "user logged in", a dynamic value) depends on the mode:
//
//   - strict (the default): the Auditor rejects and counts the record
//     ([ReasonInvalidAction]) and its error handler, by default otel.Handle,
//     prints it on stderr. Nothing is recorded. Handle still returns nil:
//     audit calls are fire-and-forget.
//   - lax ([WithLaxMessages]): the record is recorded under the generic
//     action [otelaudit.ActionLog] ("log"), with the message as the record's
//     body and in Details under "msg", and an invalid "action" attribute
//     kept in Details under its key. Everything else maps as below.
//
// The record's time is the event time ([Auditor.Record] uses its clock for
// a zero time). The level is ignored: the record's severity follows the
// outcome, as for every audit record.
//
// # Keys that fill the event
//
// Top-level attributes (neither inside a group nor added after WithGroup)
// whose key names a field of the event fill that field. A key is compared
// after removing "_", "-" and "." and folding ASCII case, so "user_id",
// "userId", "UserID", "user-id" and otelaudit.KeyUserID ("user.id") are the
// same key:
//
//	Keys (and their spellings)                    Field
//	--------------------------------------------  ---------------------------------------
//	user_id, user.id                              Actor.UserID
//	workspace_id, tenant_id, org_id,              Actor.WorkspaceID
//	  organization_id, audit.workspace.id
//	user.full_name                                Actor.Name
//	ip, client_ip, ip_address, remote_ip,         Client.IP
//	  remote_addr, client.address
//	user_agent, http.user_agent,                  Client.UserAgent
//	  user_agent.original
//	session_id, session.id                        Client.SessionID
//	resource, resource_type, audit.resource.type  Resource.Type
//	resource_id, audit.resource.id                Resource.ID
//	action, audit.action                          the action (see above)
//	error_type, error.type                        Outcome.ErrorType; not empty means failure
//	outcome, audit.outcome                        "failure" means failure, "success" success
//	error, err                                    not empty means failure; the value stays
//	                                              in Details (a message is no error type)
//	event_id, log.record.uid                      ID, parsed as a UUID
//	details, audit.details                        Details (a group becomes a map)
//	previous, previous_value, old_value,          Previous (a group becomes a map)
//	  audit.previous
//	new, new_value, audit.new                     New (a group becomes a map)
//
// Fields that hold text take a string, number or boolean, in its text form
// ([attribute.Value.String]); an empty value clears the field. When a key is
// given more than once, the last value wins; attributes from WithAttrs come
// before those of the record. Client fields left empty are filled from the
// context by the Auditor (see [NewMiddleware]).
//
// A value that cannot fill its field is refused loudly: a group, slice or
// byte slice for a text field, an outcome other than "success" or
// "failure", an event id that is not a UUID, an "action" that is not text.
// The attribute is then kept in Details under its own key, and the Auditor's
// error handler receives an error matching [ErrSlogAttribute] for each
// record that carries it; the event is recorded all the same. Keys not in
// the table ("user", "username", "email", "request_id"...) are not
// refused: they go into Details like any other attribute.
//
// # Details
//
// Every other attribute, including those added with WithAttrs and WithGroup,
// goes into Details, keeping its structure: a group becomes a nested map, a
// [slog.LogValuer] is resolved first, values of kind Any are converted with
// [otelaudit.Value] (so structs, maps and slices stay structured), times and
// durations become strings as [otelaudit.Value] writes them, and other
// kinds map to the matching attribute kind. Details is then a map of those
// attributes; when a details key is also given, a map value is merged with
// them and any other value is kept in the map under its key. Groups are
// followed to [otelaudit.MaxValueDepth] levels; deeper ones become
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
	cfg     slogConfig
	// top holds the top-level attributes added with WithAttrs.
	top slogEvent
	// groups are the groups opened with WithGroup, outermost first;
	// nested[i] holds the attributes added with WithAttrs while
	// groups[:i+1] were open.
	groups []string
	nested [][]attribute.KeyValue
}

var _ slog.Handler = (*SlogHandler)(nil)

// ErrSlogAttribute is matched (errors.Is) by the error a [SlogHandler]
// reports to the Auditor's error handler for an attribute whose key names a
// field of the event but whose value cannot fill it. The attribute is kept
// in Details under its key; the event is recorded.
var ErrSlogAttribute = errors.New("otelaudit: slog attribute not applied to its field")

// SlogOption configures a [SlogHandler].
type SlogOption interface {
	applySlog(slogConfig) slogConfig
}

type slogOptionFunc func(slogConfig) slogConfig

func (f slogOptionFunc) applySlog(c slogConfig) slogConfig { return f(c) }

type slogConfig struct {
	lax bool
}

// WithLaxMessages selects the lax mode: a record whose action is not a valid
// action name is recorded under [otelaudit.ActionLog] with the message kept,
// instead of being rejected. Default: strict. See [SlogHandler].
func WithLaxMessages() SlogOption {
	return slogOptionFunc(func(c slogConfig) slogConfig { c.lax = true; return c })
}

// NewSlogHandler returns a handler that records slog records as audit
// events through a; see [SlogHandler] for the mapping.
func NewSlogHandler(a *Auditor, opts ...SlogOption) *SlogHandler {
	var c slogConfig
	for _, o := range opts {
		if o != nil {
			c = o.applySlog(c)
		}
	}
	return &SlogHandler{auditor: a, cfg: c}
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

	action, msg := otelaudit.Action(r.Message), ""
	if e.action != nil {
		action = otelaudit.Action(e.action.Value.AsString())
		if r.Message != string(action) {
			msg = r.Message
		}
	}
	if h.cfg.lax && action.Validate() != nil {
		if e.action != nil {
			e.extras = append(e.extras, *e.action)
		}
		action, msg = otelaudit.ActionLog, r.Message
	}
	ev := e.event(msg)
	ev.Action = action
	ev.Time = r.Time
	for _, ref := range e.refused {
		h.auditor.handle(fmt.Errorf("%w: %q of audit event %q: %s; kept in the details",
			ErrSlogAttribute, clip(ref.key), clip(string(action)), ref.why))
	}
	_ = h.auditor.record(ctx, ev, msg)
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

// slogField is a field of the event a top-level attribute can fill.
type slogField uint8

const (
	fieldNone slogField = iota
	fieldAction
	fieldUserID
	fieldWorkspaceID
	fieldUserName
	fieldClientIP
	fieldUserAgent
	fieldSessionID
	fieldResourceType
	fieldResourceID
	fieldErrorType
	fieldOutcome
	fieldError
	fieldEventID
	fieldDetails
	fieldPrevious
	fieldNew
)

// maxFieldKey bounds the keys slogFieldOf compares, after normalising.
const maxFieldKey = 24

// slogFieldOf returns the field key names (see the table of [SlogHandler]):
// key is compared without "_", "-" and ".", ASCII case folded.
func slogFieldOf(key string) slogField {
	var buf [maxFieldKey]byte
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-' || c == '.':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n == len(buf) {
			return fieldNone
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "userid":
		return fieldUserID
	case "workspaceid", "tenantid", "orgid", "organizationid", "auditworkspaceid":
		return fieldWorkspaceID
	case "userfullname":
		return fieldUserName
	case "ip", "clientip", "ipaddress", "remoteip", "remoteaddr", "clientaddress":
		return fieldClientIP
	case "useragent", "httpuseragent", "useragentoriginal":
		return fieldUserAgent
	case "sessionid":
		return fieldSessionID
	case "resource", "resourcetype", "auditresourcetype":
		return fieldResourceType
	case "resourceid", "auditresourceid":
		return fieldResourceID
	case "action", "auditaction":
		return fieldAction
	case "errortype":
		return fieldErrorType
	case "outcome", "auditoutcome":
		return fieldOutcome
	case "error", "err":
		return fieldError
	case "eventid", "logrecorduid":
		return fieldEventID
	case "details", "auditdetails":
		return fieldDetails
	case "previous", "previousvalue", "oldvalue", "auditprevious":
		return fieldPrevious
	case "new", "newvalue", "auditnew":
		return fieldNew
	}
	return fieldNone
}

// slogEvent accumulates the top-level attributes of a record.
type slogEvent struct {
	ev      otelaudit.Event
	failed  bool                // from an outcome or error key
	action  *attribute.KeyValue // the action attribute, if any
	details *attribute.KeyValue // the details attribute, if any
	extras  []attribute.KeyValue
	refused []slogRefusal
}

// slogRefusal is an attribute that named a field it could not fill.
type slogRefusal struct{ key, why string }

// clone returns a copy whose slices can be appended to without touching
// e's.
func (e slogEvent) clone() slogEvent {
	e.extras = slices.Clip(e.extras)
	e.refused = slices.Clip(e.refused)
	return e
}

// refuse keeps kv in the details and notes why it did not fill its field.
func (e *slogEvent) refuse(kv attribute.KeyValue, why string) {
	e.extras = append(e.extras, kv)
	e.refused = append(e.refused, slogRefusal{key: string(kv.Key), why: why})
}

// text returns the text form of a value for a field that holds text, or
// false for a value that cannot be text.
func text(v attribute.Value) (string, bool) {
	switch v.Type() {
	case attribute.STRING:
		return v.AsString(), true
	case attribute.EMPTY:
		return "", true
	case attribute.BOOL, attribute.INT64, attribute.FLOAT64:
		return v.String(), true
	}
	return "", false
}

func (e *slogEvent) apply(kv attribute.KeyValue) {
	f := slogFieldOf(string(kv.Key))
	v := kv.Value
	var dst *string
	switch f {
	case fieldNone:
		e.extras = append(e.extras, kv)
		return
	case fieldUserID:
		dst = &e.ev.Actor.UserID
	case fieldWorkspaceID:
		dst = &e.ev.Actor.WorkspaceID
	case fieldUserName:
		dst = &e.ev.Actor.Name
	case fieldClientIP:
		dst = &e.ev.Client.IP
	case fieldUserAgent:
		dst = &e.ev.Client.UserAgent
	case fieldSessionID:
		dst = &e.ev.Client.SessionID
	case fieldResourceType:
		dst = &e.ev.Resource.Type
	case fieldResourceID:
		dst = &e.ev.Resource.ID
	case fieldErrorType:
		dst = &e.ev.Outcome.ErrorType
	case fieldAction:
		if v.Type() != attribute.STRING {
			e.refuse(kv, "an action is text, not "+typeName(v))
			return
		}
		e.action = &kv
		return
	case fieldOutcome:
		s, _ := text(v)
		switch {
		case strings.EqualFold(s, otelaudit.OutcomeFailure):
			e.failed = true
		case strings.EqualFold(s, otelaudit.OutcomeSuccess):
			e.failed = false
		default:
			e.refuse(kv, fmt.Sprintf("an outcome is %q or %q", otelaudit.OutcomeSuccess, otelaudit.OutcomeFailure))
		}
		return
	case fieldError:
		if s, ok := text(v); !ok || s != "" {
			e.failed = true
		}
		e.extras = append(e.extras, kv)
		return
	case fieldEventID:
		s, ok := text(v)
		if s == "" && ok {
			e.ev.ID = uuid.Nil
			return
		}
		id, err := uuid.Parse(s)
		if !ok || err != nil {
			e.refuse(kv, "an event id is a UUID")
			return
		}
		e.ev.ID = id
		return
	case fieldDetails:
		e.details = &kv
		return
	case fieldPrevious:
		e.ev.Previous = v
		return
	case fieldNew:
		e.ev.New = v
		return
	}
	s, ok := text(v)
	if !ok {
		e.refuse(kv, "its field holds text, not "+typeName(v))
		return
	}
	*dst = s
}

// typeName names the kind of v for an error message.
func typeName(v attribute.Value) string {
	switch v.Type() {
	case attribute.MAP:
		return "a group or map"
	case attribute.BYTESLICE:
		return "bytes"
	}
	return "a list"
}

// event returns the event the attributes describe, with msg (when not
// empty) in the details under slog.MessageKey.
func (e *slogEvent) event(msg string) otelaudit.Event {
	ev := e.ev
	ev.Outcome.Failed = e.failed || ev.Outcome.ErrorType != ""
	extras := e.extras
	if msg != "" {
		extras = make([]attribute.KeyValue, 0, len(e.extras)+1)
		extras = append(extras, attribute.String(slog.MessageKey, msg))
		for _, kv := range e.extras {
			if kv.Key != slog.MessageKey {
				extras = append(extras, kv)
			}
		}
	}
	switch {
	case e.details == nil && len(extras) == 0:
	case e.details == nil:
		ev.Details = attribute.MapValue(extras...)
	case len(extras) == 0:
		ev.Details = e.details.Value
	case e.details.Value.Type() == attribute.MAP:
		ev.Details = attribute.MapValue(append(e.details.Value.AsMap(), extras...)...)
	default:
		ev.Details = attribute.MapValue(append(slices.Clip(extras), *e.details)...)
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
