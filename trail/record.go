package trail

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
)

// Record is one stored event as a reader gets it back: the event, and what
// the store added to it.
type Record struct {
	otelaudit.Event
	// TraceID and SpanID link the event to its trace (lower-case hex).
	TraceID, SpanID string
	// ServiceName is the service that emitted the event.
	ServiceName string
	// Sanitized lists what the record mapping changed ("field:change").
	Sanitized []string
	// IngestedAt is when Postgres stored the row (the writing
	// transaction's start); zero from ClickHouse, which does not keep it.
	IngestedAt time.Time

	cursor string
}

// Cursor returns the position of this record in the order it was read in:
// a page cursor from Search, a tail cursor from Follow. Pass it back to
// continue after this record.
func (r Record) Cursor() string { return r.cursor }

// decodeJSON turns stored JSON text into a value that keeps its structure
// (maps, slices, numbers as int64 when integral); nil or empty text is the
// empty value, and text that is not JSON is kept as a string.
func decodeJSON(js []byte) attribute.Value {
	if len(bytes.TrimSpace(js)) == 0 {
		return attribute.Value{}
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return attribute.StringValue(string(js))
	}
	return otelaudit.Value(v)
}

// attributeForm is the form attributes come back in from both stores: a
// string as it is, any other value as its JSON text (what ClickHouse
// stores), sorted by key.
func attributesOf(keys, values []string) []attribute.KeyValue {
	if len(keys) == 0 {
		return nil
	}
	out := make([]attribute.KeyValue, 0, len(keys))
	for i, k := range keys {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		out = append(out, attribute.String(k, v))
	}
	slices.SortStableFunc(out, func(a, b attribute.KeyValue) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return out
}

// jsonbAttributes splits a jsonb attributes object into keys and string
// forms: a JSON string as its text, any other value as its JSON text.
func jsonbAttributes(js []byte) (keys, values []string) {
	if js == nil {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		return []string{""}, []string{string(js)}
	}
	for k, raw := range m {
		v := string(raw)
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				v = s
			}
		}
		keys, values = append(keys, k), append(values, v)
	}
	return keys, values
}

// JSONValue returns v as a value encoding/json renders as JSON: maps as
// objects, slices as arrays, scalars as themselves, the empty value as
// null.
func JSONValue(v attribute.Value) any {
	switch v.Type() {
	case attribute.EMPTY:
		return nil
	case attribute.MAP, attribute.SLICE:
		return json.RawMessage(v.String())
	}
	return v.AsInterface()
}

// jsonRecord is the JSON form of a Record.
type jsonRecord struct {
	Time         time.Time         `json:"time"`
	EventID      string            `json:"event_id"`
	Action       string            `json:"action"`
	Outcome      string            `json:"outcome"`
	ErrorType    string            `json:"error_type,omitempty"`
	WorkspaceID  string            `json:"workspace_id,omitempty"`
	UserID       string            `json:"user_id,omitempty"`
	UserName     string            `json:"user_name,omitempty"`
	ClientIP     string            `json:"client_ip,omitempty"`
	UserAgent    string            `json:"user_agent,omitempty"`
	SessionID    string            `json:"session_id,omitempty"`
	ResourceType string            `json:"resource_type,omitempty"`
	ResourceID   string            `json:"resource_id,omitempty"`
	Details      any               `json:"details,omitempty"`
	Previous     any               `json:"previous_value,omitempty"`
	New          any               `json:"new_value,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	TraceID      string            `json:"trace_id,omitempty"`
	SpanID       string            `json:"span_id,omitempty"`
	ServiceName  string            `json:"service_name,omitempty"`
	Sanitized    []string          `json:"sanitized,omitempty"`
	IngestedAt   *time.Time        `json:"ingested_at,omitempty"`
	Cursor       string            `json:"cursor,omitempty"`
}

// MarshalJSON renders the record as one flat JSON object with the column
// names of the stores (time, event_id, action, outcome, error_type,
// workspace_id, user_id, user_name, client_ip, user_agent, session_id,
// resource_type, resource_id, details, previous_value, new_value,
// attributes, trace_id, span_id, service_name, sanitized, ingested_at,
// cursor); details and values keep their JSON structure; empty fields are
// left out.
func (r Record) MarshalJSON() ([]byte, error) {
	j := jsonRecord{
		Time: r.Time, EventID: r.ID.String(), Action: string(r.Action), Outcome: r.Outcome.String(),
		ErrorType: r.Outcome.ErrorType, WorkspaceID: r.Actor.WorkspaceID, UserID: r.Actor.UserID,
		UserName: r.Actor.Name, ClientIP: r.Client.IP, UserAgent: r.Client.UserAgent, SessionID: r.Client.SessionID,
		ResourceType: r.Resource.Type, ResourceID: r.Resource.ID,
		Details: JSONValue(r.Details), Previous: JSONValue(r.Previous), New: JSONValue(r.New),
		TraceID: r.TraceID, SpanID: r.SpanID, ServiceName: r.ServiceName, Sanitized: r.Sanitized,
		Cursor: r.cursor,
	}
	if len(r.Attributes) > 0 {
		j.Attributes = make(map[string]string, len(r.Attributes))
		for _, kv := range r.Attributes {
			j.Attributes[string(kv.Key)] = kv.Value.Emit()
		}
	}
	if !r.IngestedAt.IsZero() {
		t := r.IngestedAt
		j.IngestedAt = &t
	}
	return json.Marshal(j)
}
