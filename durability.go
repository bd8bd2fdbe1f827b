package otelaudit

import (
	"context"
	"errors"
	"sync"
)

// A Receipt lets a caller wait until its event is durable.
//
// The caller puts a Receipt in the context it emits with
// ([ContextWithReceipt]); every processor of the pipeline that can make the
// record durable (the exporter/journal processor) claims it while it handles
// the record, and settles it once the record is durable, or with the reason it
// is not. [Receipt.Wait] then returns nil only when at least one processor
// claimed the receipt and every claim settled without an error.
//
// bridge.Auditor.RecordSync is the usual way to use it. A Receipt is for one
// event: it must not be reused.
type Receipt struct {
	mu      sync.Mutex
	claims  int
	pending int
	errs    []error
	done    chan struct{} // closed when the last pending claim settles
}

// ErrNotDurable is matched by the error of [Receipt.Wait] when no processor
// of the pipeline made the event durable: none claimed it (the pipeline has no
// durable processor), or one settled it with an error.
var ErrNotDurable = errors.New("otelaudit: event not confirmed durable")

// NewReceipt returns a Receipt with no claim.
func NewReceipt() *Receipt { return &Receipt{} }

type receiptKey struct{}

// ContextWithReceipt returns a copy of ctx that carries r.
func ContextWithReceipt(ctx context.Context, r *Receipt) context.Context {
	return context.WithValue(ctx, receiptKey{}, r)
}

// ReceiptFromContext returns the Receipt ctx carries, or nil.
func ReceiptFromContext(ctx context.Context) *Receipt {
	if ctx == nil {
		return nil
	}
	r, _ := ctx.Value(receiptKey{}).(*Receipt)
	return r
}

// Claim records that a processor takes charge of making the event durable.
// Each Claim must be followed by exactly one [Receipt.Settle]. Claim must be
// called before the emitting call returns (processors run synchronously in
// Emit), so that Wait, which is called afterwards, sees every claim.
func (r *Receipt) Claim() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.claims++
	r.pending++
	if r.done == nil {
		r.done = make(chan struct{})
	}
	r.mu.Unlock()
}

// Settle ends one claim: err is nil when the event is durable, or says why it
// is not. Extra calls are ignored.
func (r *Receipt) Settle(err error) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == 0 {
		return
	}
	if err != nil {
		r.errs = append(r.errs, err)
	}
	r.pending--
	if r.pending == 0 {
		close(r.done)
	}
}

// Wait blocks until every claim is settled or ctx ends. It returns nil when at
// least one processor claimed the receipt and all of them settled it without
// an error. Otherwise the error matches [ErrNotDurable], joined with the
// processors' errors or ctx's error. An error does not mean the event is
// lost: it may still become durable and be stored; it means that it could not
// be confirmed in time.
func (r *Receipt) Wait(ctx context.Context) error {
	r.mu.Lock()
	claims, done := r.claims, r.done
	r.mu.Unlock()
	if claims == 0 {
		return notDurable(errors.New("no durable processor in the pipeline claimed the event"))
	}
	select {
	case <-done:
	case <-ctx.Done():
		return notDurable(context.Cause(ctx))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		return notDurable(errors.Join(r.errs...))
	}
	return nil
}

func notDurable(err error) error {
	return &durabilityError{err: err}
}

type durabilityError struct{ err error }

func (e *durabilityError) Error() string { return ErrNotDurable.Error() + ": " + e.err.Error() }
func (e *durabilityError) Unwrap() []error {
	return []error{ErrNotDurable, e.err}
}
