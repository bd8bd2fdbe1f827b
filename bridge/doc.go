// Package bridge writes audit events as OpenTelemetry log records, through
// any [go.opentelemetry.io/otel/log.LoggerProvider]: the typed audit API
// ([Auditor]), net/http middleware that fills in where requests come from
// ([Middleware]), and a log/slog path ([SlogHandler]).
//
// The records follow the record contract documented in the otelaudit
// package (section "The record contract" of
// [github.com/otelaudit/otelaudit]); this package writes exactly that
// contract and nothing else ([BuildRecord] is the one place that maps an
// [otelaudit.Event] to a record).
//
// # The Auditor
//
// [New] returns an [Auditor] that emits through the LoggerProvider given with
// [WithLoggerProvider] (the global one by default). Its calls are
// fire-and-forget: they return nothing, never panic, and do no I/O
// themselves; whether emitting waits is up to the provider's processors (the
// SDK's BatchProcessor does not, its SimpleProcessor exports synchronously).
// A nil *Auditor is a valid no-op, so a service can run without auditing
// configured.
//
// Each call fills in what the event leaves empty: a fresh UUIDv7 id (the
// idempotency key from emitter to database), the time from the clock
// ([WithClock]), and the client fields from the context ([ContextWithClient],
// set by [Middleware]). Trace and span ids come from the context passed to
// the call, so an audit record links to the trace of the request.
//
// An event that cannot be recorded is rejected: it is not emitted, the
// other events are unaffected, and the rejection is counted in
// [Auditor.Stats] by [Reason] and handed to the error handler
// ([WithErrorHandler], default otel.Handle) as a [*RejectError], which
// matches [ErrRejected] with errors.Is. The reasons are:
//
//   - [ReasonInvalidAction]: the action breaks the naming rule of
//     [otelaudit.Action] (empty, upper case, spaces, or a segment that looks
//     like an id such as "user.12345");
//   - [ReasonIDGeneration]: no event id could be generated;
//   - [ReasonPanic]: a processor or exporter panicked while the record was
//     emitted; the panic was recovered.
//
// The error handler runs on the caller's goroutine and must be fast; a
// panic in it is recovered and ignored.
//
// The Auditor does not sanitize values: strings that are not valid UTF-8, or
// that hold NUL bytes, reach the record unchanged, and large values are
// passed on without being copied. Limits and sanitizing are the business of
// the SDK's limits (sdk/log.WithAttributeValueLengthLimit and friends) and
// of the exporters, which know what their storage accepts. Nesting is
// bounded: [otelaudit.Value] stops at [otelaudit.MaxValueDepth] levels (and
// so survives reference cycles), and the SDK cuts any nested value at its
// attribute depth limit.
//
// # Provider configuration
//
// The Auditor never emits an attribute key twice in one record, so a
// LoggerProvider that carries only audit records can be built with
// sdk/log.WithAllowKeyDuplication(): the SDK then skips its per-record key
// deduplication, the largest part of its cost per record. The throughput
// benchmarks in bench/ use it. Give the BatchProcessor a queue
// (sdk/log.WithMaxQueueSize) larger than the events a burst can bring before
// an export completes: when the queue is full, the stock BatchProcessor
// drops the oldest records.
//
// # Typed calls
//
// The seed actions have their own methods, which set the action, the
// resource type and the outcome for the caller: [Auditor.Login],
// [Auditor.LoginFailed], [Auditor.Logout], [Auditor.DataExportRequested],
// [Auditor.DataExportCompleted], [Auditor.DataDeletionRequested],
// [Auditor.DataDeletionCompleted], [Auditor.SettingsChange],
// [Auditor.OAuthConnected], [Auditor.OAuthDisconnected],
// [Auditor.SubscriptionCreated], [Auditor.SubscriptionCancelled] and
// [Auditor.AdminAction]. [Auditor.Record] records any [otelaudit.Event],
// including custom actions ("invoice.refunded").
//
// # HTTP middleware
//
// [Middleware] wraps an http.Handler and puts an [otelaudit.Client] (client
// IP, user agent, session id) into each request's context, and the caller's
// trace context when no span is active yet. The client IP is the socket
// peer; forwarding headers (X-Forwarded-For, or RFC 7239 Forwarded) are read
// only for requests whose peer is a trusted proxy ([WithTrustedProxies]), so
// clients cannot spoof their address. The Middleware documentation has the
// exact rules.
//
// # log/slog
//
// [NewSlogHandler] returns a slog.Handler that records each slog record as
// an audit event through an Auditor: the message is the action, attributes
// with contract keys (otelaudit.KeyUserID and the others) fill the event,
// and every other attribute goes into the details as structured values. It
// is never filtered by level. The [SlogHandler] documentation has the
// mapping.
package bridge
