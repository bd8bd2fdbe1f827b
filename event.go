package otelaudit

import (
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
)

// Event is one audit event: who did what to which resource, from where, with
// what outcome and values. The zero value of every field means "not given";
// only Action is required.
type Event struct {
	// ID is the event id, the idempotency key from emitter to database.
	// When zero, the bridge assigns a fresh UUIDv7 at emit time.
	ID uuid.UUID
	// Time is when the action happened. When zero, the bridge uses the time
	// of the call.
	Time time.Time
	// Action is what was done. Required; see [Action] for the naming rule.
	Action Action
	// Actor is who did it.
	Actor Actor
	// Client is where it came from. When zero, the bridge takes it from the
	// context (see the bridge package's HTTP middleware).
	Client Client
	// Resource is what it was done to.
	Resource Resource
	// Outcome says whether it succeeded. The zero value means success.
	Outcome Outcome
	// Details holds structured details, typically a map built with
	// attribute.MapValue or [Value]. It keeps its structure end to end.
	Details attribute.Value
	// Previous and New hold the value before and after a change.
	Previous attribute.Value
	New      attribute.Value
	// Attributes holds extra attributes outside the record contract (a
	// request id, a feature flag, an HTTP route). They are emitted as record
	// attributes as they are, and the exporters store them in the table's
	// attributes column. Keys the contract reserves ([IsReservedKey]) and
	// empty keys are left out; of a key given twice, the last value is
	// kept. The bridge reports what it leaves out.
	Attributes []attribute.KeyValue
}

// Actor is who performed the action.
type Actor struct {
	// UserID identifies the user (or service account).
	UserID string
	// WorkspaceID identifies the tenant: workspace, organisation, account.
	WorkspaceID string
	// Name is an optional display name.
	Name string
}

// Client is where the action came from.
type Client struct {
	// IP is the client's IP address in text form ("203.0.113.7", "2001:db8::1").
	IP string
	// UserAgent is the client's User-Agent header.
	UserAgent string
	// SessionID identifies the client session, if any.
	SessionID string
}

// Resource is what the action was done to.
type Resource struct {
	// Type is the kind of resource, a low-cardinality name ("invoice").
	Type string
	// ID identifies the resource.
	ID string
}

// Outcome tells whether the action succeeded.
type Outcome struct {
	// Failed is true for a failed or refused action.
	Failed bool
	// ErrorType is the class of the failure ("invalid_password",
	// "permission_denied"), low-cardinality, never a message with dynamic
	// values. Only meaningful when Failed.
	ErrorType string
}

// Success is the outcome of an action that succeeded.
var Success = Outcome{}

// Failure returns the outcome of a failed action of the given error class.
func Failure(errorType string) Outcome { return Outcome{Failed: true, ErrorType: errorType} }

// Outcome values as recorded under [KeyOutcome].
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// String returns [OutcomeSuccess] or [OutcomeFailure].
func (o Outcome) String() string {
	if o.Failed {
		return OutcomeFailure
	}
	return OutcomeSuccess
}
