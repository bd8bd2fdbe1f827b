package auditrow

import (
	"errors"
	"strings"

	"github.com/google/uuid"
)

// ErrRejected matches every [*RejectError] with errors.Is.
var ErrRejected = errors.New("audit record rejected")

// RejectError is what an exporter hands to its error handler for a record it
// did not store and never will: refused by the mapping (Reason is
// [ReasonOf] of Err) or by the database for its values. It is counted under
// Reason in the exporter's stats, and the other records of its batch are
// unaffected. Every exporter reports this one type.
type RejectError struct {
	// Exporter names the exporter package ("postgreslog").
	Exporter string
	// Reason is the counter name of the refusal.
	Reason string
	// EventID is the row's event id; zero when the mapping refused the
	// record.
	EventID uuid.UUID
	// Err says why.
	Err error
}

func (e *RejectError) Error() string {
	var b strings.Builder
	b.WriteString(e.Exporter)
	b.WriteString(": record rejected (")
	b.WriteString(e.Reason)
	b.WriteString(")")
	if e.EventID != uuid.Nil {
		b.WriteString(", event id ")
		b.WriteString(e.EventID.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *RejectError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }
