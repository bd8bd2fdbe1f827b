package auditrow

import (
	"net/netip"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
)

// Row is one audit event in the flat form the stores write. Strings are
// valid UTF-8 without NUL bytes and within the configured limits; JSON
// fields are valid JSON (RFC 8259) without NaN, Inf or \u0000.
//
// A Row returned by [Mapper.Map] may share memory with the mapped record and
// with the Mapper: it is valid until the Mapper's next call. Use [Row.Clone]
// to keep it longer.
type Row struct {
	EventID      uuid.UUID
	Time         time.Time
	ObservedTime time.Time
	Action       string

	UserID      string
	UserName    string
	WorkspaceID string

	// ClientIP is the zero Addr when the record had none or it did not parse
	// (the raw value is then kept in Attributes under client.address).
	ClientIP  netip.Addr
	UserAgent string
	SessionID string

	ResourceType string
	ResourceID   string

	Outcome   string
	ErrorType string

	// Details, Previous and New are JSON text, nil when absent.
	Details  []byte
	Previous []byte
	New      []byte

	// Attributes are the record's attributes outside the contract, in
	// record order. Attrs holds them as key/value strings (strings as they
	// are, other types as JSON text); AttributesJSON holds them as one
	// JSON object with typed values. Both are nil when there are none.
	Attrs          []Attr
	AttributesJSON []byte

	TraceID     trace.TraceID
	SpanID      trace.SpanID
	ServiceName string

	// Sanitized lists what the mapping changed, as "field:change" markers
	// (see the package documentation), nil when nothing was changed.
	Sanitized []string
}

// Attr is an attribute outside the contract.
type Attr struct {
	Key string
	// Value is the string itself for a string attribute, else JSON text.
	Value string
	// JSON is true when Value is JSON text.
	JSON bool
}

// Clone returns a deep copy of r that shares no memory with the Mapper or
// the record.
func (r Row) Clone() Row {
	c := r
	c.Action = cloneString(r.Action)
	c.UserID = cloneString(r.UserID)
	c.UserName = cloneString(r.UserName)
	c.WorkspaceID = cloneString(r.WorkspaceID)
	c.UserAgent = cloneString(r.UserAgent)
	c.SessionID = cloneString(r.SessionID)
	c.ResourceType = cloneString(r.ResourceType)
	c.ResourceID = cloneString(r.ResourceID)
	c.Outcome = cloneString(r.Outcome)
	c.ErrorType = cloneString(r.ErrorType)
	c.ServiceName = cloneString(r.ServiceName)
	c.Details = cloneBytes(r.Details)
	c.Previous = cloneBytes(r.Previous)
	c.New = cloneBytes(r.New)
	c.AttributesJSON = cloneBytes(r.AttributesJSON)
	if r.Attrs != nil {
		c.Attrs = make([]Attr, len(r.Attrs))
		for i, a := range r.Attrs {
			c.Attrs[i] = Attr{Key: cloneString(a.Key), Value: cloneString(a.Value), JSON: a.JSON}
		}
	}
	if r.Sanitized != nil {
		c.Sanitized = append([]string(nil), r.Sanitized...)
	}
	return c
}

func cloneString(s string) string {
	if s == "" {
		return ""
	}
	return string([]byte(s))
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
