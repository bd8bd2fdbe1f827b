package auditrow

import "context"

type rejectHookKey struct{}

// ContextWithRejectHook returns a copy of ctx that makes exporters call f,
// synchronously and before Export returns, for every record of that Export
// call they refuse for its content (the same *RejectError the error
// handler gets, with EventID set when the row was mapped).
func ContextWithRejectHook(ctx context.Context, f func(*RejectError)) context.Context {
	return context.WithValue(ctx, rejectHookKey{}, f)
}

// RejectHook returns the hook ctx carries, or nil.
func RejectHook(ctx context.Context) func(*RejectError) {
	f, _ := ctx.Value(rejectHookKey{}).(func(*RejectError))
	return f
}
