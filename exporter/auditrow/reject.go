package auditrow

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit"
)

// Rejection reasons: the Reason of a [*RejectError] and the keys of
// [ExportStats].Rejected, the same in every exporter.
const (
	// ReasonNonAudit: not an audit record ([ErrNotAudit]). Counted and
	// given to the reject hook, not to the error handler: other logs
	// sharing the pipeline are expected.
	ReasonNonAudit = "non_audit"
	// ReasonInvalidAction: "audit." followed by an invalid action
	// ([ErrInvalidAction]).
	ReasonInvalidAction = "invalid_action"
	// ReasonTimeOutOfRange: the event's time is one the store cannot hold
	// and the exporter does not clamp (Postgres: before year 1 or after
	// year 9999, or in a partition that does not exist and that the
	// table's partition function does not create, outside its window).
	ReasonTimeOutOfRange = "time_out_of_range"
	// ReasonRefusedByServer: the database refused the row itself (a data
	// error, a constraint, a size limit), found by bisecting its batch.
	ReasonRefusedByServer = "refused_by_server"
	// ReasonOther: a refusal of another kind.
	ReasonOther = "other"
)

// Reasons returns every rejection reason, in a fixed order.
func Reasons() []string {
	return []string{ReasonNonAudit, ReasonInvalidAction, ReasonTimeOutOfRange, ReasonRefusedByServer, ReasonOther}
}

// ErrRejected matches every [*RejectError] with errors.Is. It is
// otelaudit.ErrRejected, which the bridge's rejections
// (bridge.RejectError) match too: one check covers an event refused by
// the Auditor and a record refused by a store.
var ErrRejected = otelaudit.ErrRejected

// RejectError is what an exporter hands to its error handler, and to the
// reject hook of the Export's context ([ContextWithRejectHook]), for a
// record it did not store and never will: refused by the mapping (Reason is
// [ReasonOf] of Err), by the exporter ([ReasonTimeOutOfRange]) or by the
// database for its values ([ReasonRefusedByServer]). It is counted under
// Reason in [ExportStats].Rejected, and the other records of its batch are
// unaffected. Every exporter reports this one type.
type RejectError struct {
	// Exporter names the exporter package ("postgreslog").
	Exporter string
	// Reason is one of the Reason constants.
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

type rejectHookKey struct{}

// ContextWithRejectHook returns a copy of ctx that makes exporters call f,
// synchronously and before Export returns, for every record of that Export
// call they refuse for its content (the same *RejectError the error handler
// gets, with EventID set when the row was mapped).
//
// f is called for every rejection reason, records that are not audit
// records included, in addition to the exporter's error handler. The calls
// of one Export never overlap, but they may come from a goroutine other
// than the one that called Export (postgreslog maps records while the
// COPY sends them). A panic in f is recovered and costs nothing but that
// call. Each *RejectError is new and f may keep it; f should be fast, as
// Export waits for it. A nil f means no hook, and hides one set on a
// parent of ctx.
//
// The hook is for a caller that must account for each record of a batch:
// a durable processor moves the records the hook reports to a dead-letter
// file, and retries the others when Export returns an error.
func ContextWithRejectHook(ctx context.Context, f func(*RejectError)) context.Context {
	return context.WithValue(ctx, rejectHookKey{}, f)
}

// RejectHookFromContext returns the function set by
// [ContextWithRejectHook] on ctx, or nil. Exporters call it once per
// Export.
func RejectHookFromContext(ctx context.Context) func(*RejectError) {
	f, _ := ctx.Value(rejectHookKey{}).(func(*RejectError))
	return f
}
