// Package bridge writes audit events as OpenTelemetry log records, through
// any [go.opentelemetry.io/otel/log.LoggerProvider]. It has three doors, all
// writing the same records through an [Auditor]:
//
//   - typed calls, one per action: auditor.Login(ctx, actor),
//     auditor.SettingsChanged(ctx, actor, setting, "light", "dark"), and
//     [Auditor.Record] for any [otelaudit.Event];
//   - HTTP middleware ([NewMiddleware]) that fills in where each request
//     comes from: client IP, user agent, session, trace context;
//   - a log/slog handler ([NewSlogHandler]) for code that logs its audit
//     events with slog.
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
// configured. [Auditor.RecordSync] is the exception that waits: it returns
// once the event is durable, for actions that must not happen unrecorded.
//
// Each call fills in what the event leaves empty: a fresh UUIDv7 id (the
// idempotency key from emitter to database), the time from the clock
// ([WithClock]), and the client fields from the context ([ContextWithClient],
// set by the middleware). Trace and span ids come from the context passed to
// the call, so an audit record links to the trace of the request.
//
// # Typed calls
//
// Each seed action has a method named after it that records its success,
// and, where an attempt can fail, one ending in Failed that records the
// failure: the same action with outcome "failure" and an error type, a
// low-cardinality class such as "permission_denied" (never a message with
// dynamic values):
//
//	Action                  Success                  Failure
//	----------------------  -----------------------  --------------------------
//	login                   Login                    LoginFailed
//	logout                  Logout                   (none: nothing changed)
//	data_export_requested   DataExportRequested      DataExportRequestFailed
//	data_export_completed   DataExportCompleted      DataExportFailed
//	data_delete_requested   DataDeleteRequested      DataDeleteRequestFailed
//	data_delete_completed   DataDeleteCompleted      DataDeleteFailed
//	settings_changed        SettingsChanged          SettingsChangeFailed
//	oauth_connected         OAuthConnected           OAuthConnectFailed
//	oauth_disconnected      OAuthDisconnected        OAuthDisconnectFailed
//	subscription_created    SubscriptionCreated      SubscriptionCreateFailed
//	subscription_cancelled  SubscriptionCancelled    SubscriptionCancelFailed
//	admin_action            AdminAction              AdminActionFailed
//
// The calls set the action, the outcome and the resource type for the
// caller (the Resource constants of this package, or the setting or target
// given). Their details, previous and new values are Go values of any type,
// converted with [otelaudit.Value]: nil (no value), strings, numbers,
// booleans, maps, slices, structs (through their json tags), and
// attribute.Value, used as it is:
//
//	auditor.SettingsChanged(ctx, actor, otelaudit.Resource{Type: "setting", ID: "theme"}, "light", "dark")
//	auditor.SubscriptionCreated(ctx, actor, "sub_42", map[string]any{"plan": "team", "seats": 5})
//	auditor.AdminAction(ctx, admin, target, struct {
//		Op     string `json:"op"`
//		Ticket string `json:"ticket"`
//	}{"reset_mfa", "SUP-1234"})
//
// Passing a Go value costs its conversion: two allocations for a small map,
// a dozen and more for a struct, which goes through encoding/json
// (otelaudit's BenchmarkValue, this package's BenchmarkTypedCalls and the
// bench module's Emit/bridge_any measure it). An attribute.Value passed as
// an any is used as it is, but Go copies it into an allocation of its own
// to put it in the interface. [Auditor.Record] with an [otelaudit.Event]
// whose values are attribute values allocates nothing for them; it also
// takes custom actions ("invoice.refunded") and extra attributes
// ([otelaudit.Event.Attributes]).
//
// # Rejections
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
// An extra attribute with an empty key, a key the record contract reserves
// (user.id, anything under "audit."...: [otelaudit.IsReservedKey]) or a key
// given again later in the same event is left out of the record, which is
// emitted without it; it is counted (Stats.DroppedAttributes) and reported
// to the error handler with an error matching [ErrAttributeDropped].
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
// drops the oldest records. The exporter/journal processor does not drop:
// it keeps every event on local disk until the stores have it.
//
// # HTTP middleware
//
// [NewMiddleware] returns a func(http.Handler) http.Handler, the shape
// routers chain, that puts an [otelaudit.Client] (client IP, user agent,
// session id) into each request's context, and the caller's trace context
// when no span is active yet. The client IP is the socket peer; forwarding
// headers (X-Forwarded-For, or RFC 7239 Forwarded) and trace headers
// (traceparent) are read only for requests whose peer is a trusted proxy,
// given as addresses or CIDR prefixes ([WithTrustedProxies]), so clients
// can spoof neither their address nor the trace id of their audit records
// ([WithTraceContextFromAnyPeer] accepts any peer's trace headers).
// NewMiddleware checks the trusted proxies and returns an error for an
// invalid one. Its documentation has the exact rules.
//
// # log/slog
//
// [NewSlogHandler] returns a slog.Handler that records each slog record as
// an audit event through an Auditor. The message is the action; the keys
// services habitually log (user_id, workspace_id, ip, client_ip,
// user_agent, session_id, resource, resource_id, error_type...) and the
// contract's own keys fill the event; every other attribute goes into the
// details as a structured value. A value that cannot fill its field is
// kept in the details and reported. A message that is not an action name
// ("user logged in") is rejected in the default, strict mode, and recorded
// under the generic action "log" with the message kept in the lax mode
// ([WithLaxMessages]). The handler is never filtered by level. The
// [SlogHandler] documentation has the full mapping.
package bridge
