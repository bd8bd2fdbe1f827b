package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/otelaudit/otelaudit"
)

// Auditor turns audit events into OpenTelemetry log records.
//
// Every method is fire-and-forget: it never returns an error, never panics
// and never waits on I/O itself. Whether Emit waits is up to the processors
// of the LoggerProvider: the SDK's BatchProcessor does not; a
// SimpleProcessor exports synchronously and so does.
//
// An event the Auditor refuses (see [Reason]) is not emitted; it is counted
// in [Auditor.Stats] and reported to the error handler as a [*RejectError].
// The other events are unaffected. An extra attribute it leaves out (see
// [otelaudit.Event.Attributes]) is counted and reported too, and its event
// is emitted without it.
//
// An Auditor is safe for concurrent use. The zero value is not usable; call
// [New].
type Auditor struct {
	logger  log.Logger
	onError func(error)
	cfg     config

	emitted  atomic.Uint64
	rejected [numReasons]atomic.Uint64
	dropped  atomic.Uint64 // extra attributes left out
}

// New returns an Auditor that emits through the configured LoggerProvider.
func New(opts ...Option) *Auditor {
	c := newConfig(opts)
	return &Auditor{
		logger:  c.provider.Logger(ScopeName, log.WithInstrumentationVersion(otelaudit.Version)),
		onError: c.onError,
		cfg:     c,
	}
}

// Reason says why an event was rejected: one of the Reason constants,
// the keys of [Stats].Rejected. It is a string, like the rejection
// reasons of the exporters (auditrow's Reason constants) and the journal's
// drop reasons; "invalid_action" means the same in all three.
type Reason = string

// Rejection reasons.
const (
	// ReasonInvalidAction: the action breaks the naming rule (empty,
	// upper-case, a dynamic value...).
	ReasonInvalidAction Reason = "invalid_action"
	// ReasonIDGeneration: no event id could be generated (the system's
	// random source failed).
	ReasonIDGeneration Reason = "id_generation"
	// ReasonPanic: emitting panicked (a processor or exporter bug); the
	// panic was recovered.
	ReasonPanic Reason = "panic"
)

// reasons lists the Reason constants; a reason's counter is at its index.
var reasons = [...]Reason{ReasonInvalidAction, ReasonIDGeneration, ReasonPanic}

const numReasons = len(reasons)

// reasonIndex returns the index of r in reasons; an unknown r counts as
// the last.
func reasonIndex(r Reason) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return numReasons - 1
}

// RejectError reports a rejected event to the error handler.
type RejectError struct {
	Reason Reason
	Action otelaudit.Action
	Err    error
}

func (e *RejectError) Error() string {
	action := string(e.Action)
	if len(action) > maxActionInError {
		// A rejected action can be anything, a whole message even.
		action = action[:maxActionInError] + "..."
	}
	return fmt.Sprintf("otelaudit: audit event %q rejected (%s): %v", action, e.Reason, e.Err)
}

// maxActionInError is how much of the action a RejectError message quotes.
const maxActionInError = 80

func (e *RejectError) Unwrap() error { return e.Err }

// ErrRejected is matched by every [*RejectError] through errors.Is. It is
// otelaudit.ErrRejected, the value the exporters' rejections
// (auditrow.RejectError) match too.
var ErrRejected = otelaudit.ErrRejected

// Is reports whether target is [ErrRejected] (otelaudit.ErrRejected).
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

// ErrAttributeDropped is matched (errors.Is) by the error the handler
// receives for each extra attribute ([otelaudit.Event.Attributes]) the
// Auditor leaves out of a record: an empty key, a key the record contract
// reserves ([otelaudit.IsReservedKey]), or a key given again later in the
// same event (the last value is kept).
var ErrAttributeDropped = errors.New("otelaudit: extra attribute dropped")

// Stats counts what an Auditor did since it was created.
type Stats struct {
	// Emitted counts events handed to the logger.
	Emitted uint64
	// Rejected counts refused events by reason name.
	Rejected map[string]uint64
	// DroppedAttributes counts extra attributes left out of emitted
	// records (see [ErrAttributeDropped]).
	DroppedAttributes uint64
}

// Stats returns the Auditor's counters. A nil Auditor reports zeros.
func (a *Auditor) Stats() Stats {
	s := Stats{Rejected: make(map[string]uint64, numReasons)}
	if a != nil {
		s.Emitted = a.emitted.Load()
		s.DroppedAttributes = a.dropped.Load()
	}
	for i, r := range reasons {
		var n uint64
		if a != nil {
			n = a.rejected[i].Load()
		}
		s.Rejected[r] = n
	}
	return s
}

func (a *Auditor) reject(r Reason, action otelaudit.Action, err error) error {
	a.rejected[reasonIndex(r)].Add(1)
	re := &RejectError{Reason: r, Action: action, Err: err}
	a.handle(re)
	return re
}

// handle calls the error handler. A panicking handler must not turn a
// rejection into a panic of the caller (nor, through record's recover, into
// a second rejection).
func (a *Auditor) handle(err error) {
	defer func() { _ = recover() }()
	a.onError(err)
}

// Record emits e. Fields the event leaves empty are filled in: the id (a new
// UUIDv7), the time (now) and the client fields (from ctx, see
// [ContextWithClient]). A nil ctx is treated as context.Background().
//
// Record is the one call that allocates nothing of its own for the event's
// values: Details, Previous and New are attribute values, emitted as they
// are. Build them with attribute constructors, or from Go values with
// [otelaudit.Value]; the typed calls take Go values and convert them.
func (a *Auditor) Record(ctx context.Context, e otelaudit.Event) {
	_ = a.record(ctx, e, "")
}

// RecordSync emits e like [Auditor.Record], then waits until the event is
// durable: appended and fsynced by a durable processor of the provider
// (exporter/journal), or until ctx ends. It returns nil once the event is
// durable, the [*RejectError] when the event was rejected, and otherwise an
// error matching [otelaudit.ErrNotDurable]: no processor of the provider
// makes events durable, the journal refused the event (full, shut down) or
// could not fsync it, or ctx ended first.
//
// Use it where acting unrecorded is worse than failing the request: a data
// deletion, a permission change, an admin action. An error does not always
// mean the event is lost (it may be fsynced just after ctx ended); it means
// it could not be confirmed in time.
func (a *Auditor) RecordSync(ctx context.Context, e otelaudit.Event) error {
	if a == nil {
		return otelaudit.ErrNotDurable
	}
	if ctx == nil {
		ctx = context.Background()
	}
	rc := otelaudit.NewReceipt()
	if err := a.record(otelaudit.ContextWithReceipt(ctx, rc), e, ""); err != nil {
		return err
	}
	return rc.Wait(ctx)
}

// record emits e, with body as the record's body when not empty, and
// returns the rejection, if any.
func (a *Auditor) record(ctx context.Context, e otelaudit.Event, body string) (err error) {
	if a == nil {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = a.reject(ReasonPanic, e.Action, fmt.Errorf("panic while emitting: %v", p))
		}
	}()
	if ctx == nil {
		ctx = context.Background()
	}
	if err := e.Action.Validate(); err != nil {
		return a.reject(ReasonInvalidAction, e.Action, err)
	}
	if e.ID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return a.reject(ReasonIDGeneration, e.Action, err)
		}
		e.ID = id
	}
	if e.Time.IsZero() {
		e.Time = a.cfg.now()
	}
	if c, ok := ClientFromContext(ctx); ok {
		e.Client = mergeClient(e.Client, c)
	}
	var r log.Record
	if dropped := buildRecord(&r, &e); dropped > 0 {
		a.dropAttributes(e.Action, e.Attributes)
	}
	if body != "" {
		r.SetBody(attribute.StringValue(body))
	}
	a.logger.Emit(ctx, r)
	a.emitted.Add(1)
	return nil
}

// dropAttributes counts and reports the extra attributes buildRecord left
// out.
func (a *Auditor) dropAttributes(action otelaudit.Action, extras []attribute.KeyValue) {
	later := laterKeys(extras)
	for i, kv := range extras {
		why := extraProblem(extras, i, later)
		if why == "" {
			continue
		}
		a.dropped.Add(1)
		a.handle(fmt.Errorf("%w: %q of audit event %q: %s", ErrAttributeDropped,
			clip(string(kv.Key)), clip(string(action)), why))
	}
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > maxActionInError {
		return s[:maxActionInError] + "..."
	}
	return s
}

func mergeClient(e, fromCtx otelaudit.Client) otelaudit.Client {
	if e.IP == "" {
		e.IP = fromCtx.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = fromCtx.UserAgent
	}
	if e.SessionID == "" {
		e.SessionID = fromCtx.SessionID
	}
	return e
}

// BuildRecord writes e into r following the record contract (see the
// otelaudit package documentation). It sets exactly what e holds: it assigns
// no id or time and reads no context; trace and span ids are added by the
// SDK from the context passed to Emit. Empty fields are omitted. The extra
// attributes of e follow the contract's; those with an empty or reserved
// key, and all but the last of a key given more than once, are left out
// (silently here; the [Auditor] reports them). No key is written twice.
func BuildRecord(r *log.Record, e *otelaudit.Event) {
	buildRecord(r, e)
}

// buildRecord is BuildRecord, returning how many extra attributes it left
// out.
func buildRecord(r *log.Record, e *otelaudit.Event) (dropped int) {
	r.SetEventName(e.Action.EventName())
	r.SetTimestamp(e.Time)
	if e.Outcome.Failed {
		r.SetSeverity(log.SeverityWarn)
	} else {
		r.SetSeverity(log.SeverityInfo)
	}

	var buf [14]attribute.KeyValue
	kvs := buf[:0]
	if e.ID != uuid.Nil {
		kvs = append(kvs, attribute.String(otelaudit.KeyEventID, e.ID.String()))
	}
	kvs = appendString(kvs, otelaudit.KeyUserID, e.Actor.UserID)
	kvs = appendString(kvs, otelaudit.KeyWorkspaceID, e.Actor.WorkspaceID)
	kvs = appendString(kvs, otelaudit.KeyUserName, e.Actor.Name)
	kvs = appendString(kvs, otelaudit.KeyClientAddress, e.Client.IP)
	kvs = appendString(kvs, otelaudit.KeyUserAgent, e.Client.UserAgent)
	kvs = appendString(kvs, otelaudit.KeySessionID, e.Client.SessionID)
	kvs = appendString(kvs, otelaudit.KeyResourceType, e.Resource.Type)
	kvs = appendString(kvs, otelaudit.KeyResourceID, e.Resource.ID)
	kvs = append(kvs, attribute.String(otelaudit.KeyOutcome, e.Outcome.String()))
	if e.Outcome.Failed {
		kvs = appendString(kvs, otelaudit.KeyErrorType, e.Outcome.ErrorType)
	}
	if e.Details.Type() != attribute.EMPTY {
		kvs = append(kvs, attribute.KeyValue{Key: otelaudit.KeyDetails, Value: e.Details})
	}
	if e.Previous.Type() != attribute.EMPTY {
		kvs = append(kvs, attribute.KeyValue{Key: otelaudit.KeyPrevious, Value: e.Previous})
	}
	if e.New.Type() != attribute.EMPTY {
		kvs = append(kvs, attribute.KeyValue{Key: otelaudit.KeyNew, Value: e.New})
	}
	r.AddAttributes(kvs...)
	if len(e.Attributes) > 0 {
		dropped = addExtras(r, e.Attributes)
	}
	return dropped
}

// addExtras adds the extra attributes to r, leaving out those extraProblem
// finds fault with, and returns how many it left out. When all are fine, as
// they normally are, they are added as they are, without a copy.
func addExtras(r *log.Record, extras []attribute.KeyValue) (dropped int) {
	later := laterKeys(extras)
	ok := true
	for i := range extras {
		if extraProblem(extras, i, later) != "" {
			ok = false
			break
		}
	}
	if ok {
		r.AddAttributes(extras...)
		return 0
	}
	keep := make([]attribute.KeyValue, 0, len(extras))
	for i, kv := range extras {
		if extraProblem(extras, i, later) == "" {
			keep = append(keep, kv)
		}
	}
	r.AddAttributes(keep...)
	return len(extras) - len(keep)
}

// maxScanExtras is how many extra attributes are checked for duplicate keys
// pairwise; more get a map (laterKeys).
const maxScanExtras = 16

// laterKeys returns, for more than maxScanExtras extras, the index of the
// last attribute of each key; nil otherwise.
func laterKeys(extras []attribute.KeyValue) map[attribute.Key]int {
	if len(extras) <= maxScanExtras {
		return nil
	}
	last := make(map[attribute.Key]int, len(extras))
	for i, kv := range extras {
		last[kv.Key] = i
	}
	return last
}

// extraProblem says why extras[i] is left out of the record, or "" when it
// is kept. last is laterKeys(extras).
func extraProblem(extras []attribute.KeyValue, i int, last map[attribute.Key]int) string {
	k := extras[i].Key
	switch {
	case k == "":
		return "empty key"
	case otelaudit.IsReservedKey(string(k)):
		return "key reserved by the record contract"
	}
	if last != nil {
		if last[k] != i {
			return "key given again later in the event, whose value is kept"
		}
		return ""
	}
	for _, other := range extras[i+1:] {
		if other.Key == k {
			return "key given again later in the event, whose value is kept"
		}
	}
	return ""
}

func appendString(kvs []attribute.KeyValue, k, v string) []attribute.KeyValue {
	if v == "" {
		return kvs
	}
	return append(kvs, attribute.String(k, v))
}
