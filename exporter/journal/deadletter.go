package journal

import (
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// deadLetters is a target's dead-letter file: one JSON object per line for
// each record the exporter refused for its content, with the reason and the
// whole record, so that it can be inspected, mended and emitted again.
type deadLetters struct {
	mu sync.Mutex
	f  *os.File
}

// DeadLetter is one line of a dead-letter file
// (<dir>/deadletter/<target>.jsonl).
type DeadLetter struct {
	Time    time.Time `json:"time"`
	Target  string    `json:"target"`
	Reason  string    `json:"reason"`
	Error   string    `json:"error"`
	EventID string    `json:"event_id,omitempty"`
	// Record is the refused record; absent when the exporter reported an
	// event id that no record of the batch carries.
	Record *DeadRecord `json:"record,omitempty"`
}

// DeadRecord is a log record in a dead-letter file. Values are
// attribute.Value's JSON form ({"Type": ..., "Value": ...}), which keeps
// their types.
type DeadRecord struct {
	EventName         string          `json:"event_name"`
	Timestamp         time.Time       `json:"timestamp"`
	ObservedTimestamp time.Time       `json:"observed_timestamp"`
	Severity          int             `json:"severity"`
	SeverityText      string          `json:"severity_text,omitempty"`
	Body              attribute.Value `json:"body"`
	Attributes        []DeadAttribute `json:"attributes"`
	TraceID           string          `json:"trace_id,omitempty"`
	SpanID            string          `json:"span_id,omitempty"`
	Resource          []DeadAttribute `json:"resource,omitempty"`
	Scope             string          `json:"scope,omitempty"`
}

// DeadAttribute is one attribute of a [DeadRecord].
type DeadAttribute struct {
	Key   string          `json:"key"`
	Value attribute.Value `json:"value"`
}

func openDeadLetters(path string) (*deadLetters, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	return &deadLetters{f: f}, nil
}

func (d *deadLetters) add(target, reason string, err error, r *sdklog.Record, now time.Time) error {
	dl := DeadLetter{Time: now.UTC(), Target: target, Reason: reason}
	if err != nil {
		dl.Error = err.Error()
	}
	if re, ok := err.(*auditrow.RejectError); ok && re.EventID != uuid.Nil {
		dl.EventID = re.EventID.String()
	}
	if r != nil {
		dl.Record = deadRecord(r)
		if dl.EventID == "" {
			dl.EventID = recordUID(r)
		}
	}
	b, jerr := json.Marshal(dl)
	if jerr != nil {
		return jerr
	}
	b = append(b, '\n')
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return os.ErrClosed
	}
	_, werr := d.f.Write(b)
	return werr
}

func (d *deadLetters) sync() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		_ = d.f.Sync()
	}
}

func (d *deadLetters) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f != nil {
		_ = d.f.Sync()
		_ = d.f.Close()
		d.f = nil
	}
}

func deadRecord(r *sdklog.Record) *DeadRecord {
	dr := &DeadRecord{
		EventName:         r.EventName(),
		Timestamp:         r.Timestamp(),
		ObservedTimestamp: r.ObservedTimestamp(),
		Severity:          int(r.Severity()),
		SeverityText:      r.SeverityText(),
		Body:              r.Body(),
		Attributes:        make([]DeadAttribute, 0, r.AttributesLen()),
		Scope:             r.InstrumentationScope().Name,
	}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		dr.Attributes = append(dr.Attributes, DeadAttribute{Key: string(kv.Key), Value: kv.Value})
		return true
	})
	if tid := r.TraceID(); tid.IsValid() {
		dr.TraceID = tid.String()
	}
	if sid := r.SpanID(); sid.IsValid() {
		dr.SpanID = sid.String()
	}
	if res := r.Resource(); res != nil {
		for _, kv := range res.Attributes() {
			dr.Resource = append(dr.Resource, DeadAttribute{Key: string(kv.Key), Value: kv.Value})
		}
	}
	return dr
}

// recordUID returns the record's event id attribute, or "".
func recordUID(r *sdklog.Record) string {
	var id string
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if kv.Key == otelaudit.KeyEventID {
			id = kv.Value.Emit()
			return false
		}
		return true
	})
	return id
}

// findRecord returns the index of the record a RejectError is about, or -1.
// It matches the event id attribute first, then, for records whose id the
// mapping derived (missing or malformed), the mapped row's id.
func findRecord(records []sdklog.Record, e *auditrow.RejectError, mapper **auditrow.Mapper) int {
	if e.EventID == uuid.Nil {
		return -1
	}
	want := e.EventID.String()
	for i := range records {
		if id, err := uuid.Parse(recordUID(&records[i])); err == nil && id.String() == want {
			return i
		}
	}
	if *mapper == nil {
		*mapper = auditrow.NewMapper(auditrow.Options{IncludeNonAudit: true})
	}
	for i := range records {
		if row, err := (*mapper).MapRecord(&records[i]); err == nil && row.EventID == e.EventID {
			return i
		}
	}
	return -1
}
