// Package otelaudit is the audit domain model: the [Event] a service records
// (who did what to which resource, from where, with what outcome and
// before/after values), the [Action] set and its naming rule, and the
// attribute keys of the record contract.
//
// Events travel as OpenTelemetry log records. The bridge package writes them
// (bridge.Auditor); the exporter packages read them back through one shared
// mapping (exporter/auditrow) into Postgres and ClickHouse rows.
//
// # The record contract
//
// An audit event is a log record with these fields. Keys that OpenTelemetry
// semantic conventions define are reused; the rest live under "audit.".
// Empty fields are omitted from the record.
//
//	Event field           Log record field / attribute    Type            Row field (auditrow)
//	--------------------  ------------------------------  --------------  --------------------
//	Action                EventName "audit.<action>"      string          Action
//	ID (UUIDv7)           log.record.uid                  string          EventID
//	Time                  Timestamp                       time            Time
//	(set by the SDK)      ObservedTimestamp               time            ObservedTime
//	Outcome               Severity: Info, Warn on failure -               -
//	Actor.UserID          user.id                         string          UserID
//	Actor.WorkspaceID     audit.workspace.id              string          WorkspaceID
//	Actor.Name            user.full_name                  string          UserName
//	Client.IP             client.address                  string          ClientIP (netip.Addr)
//	Client.UserAgent      user_agent.original             string          UserAgent
//	Client.SessionID      session.id                      string          SessionID
//	Resource.Type         audit.resource.type             string          ResourceType
//	Resource.ID           audit.resource.id               string          ResourceID
//	Outcome               audit.outcome                   "success"|"failure"  Outcome
//	Outcome.ErrorType     error.type                      string          ErrorType
//	Details               audit.details                   any (map kept)  Details (JSON)
//	Previous              audit.previous                  any (map kept)  Previous (JSON)
//	New                   audit.new                       any (map kept)  New (JSON)
//	(from ctx at Emit)    TraceID, SpanID                 bytes           TraceID, SpanID
//	(resource)            service.name                    string          ServiceName
//	Attributes            any other key                   any             Attrs, AttributesJSON
//
// Details, Previous and New keep their structure: they are attribute values
// of any kind (maps, slices, scalars), written as JSON by the exporters, never
// flattened to strings on the way. [Value] converts Go values (maps, slices,
// structs with json tags...) into such values.
//
// Attributes are the event's extra attributes, outside the contract: the
// exporters store them in the attributes column as they are. The contract
// reserves its own keys and the whole "audit." namespace ([IsReservedKey]).
//
// # Actions
//
// The seed action set is [Actions]: login, logout, data_export_requested,
// data_export_completed, data_delete_requested, data_delete_completed,
// subscription_created, subscription_cancelled, settings_changed,
// oauth_connected, oauth_disconnected and admin_action. Custom actions follow
// the naming rule of [Action]: lower-case dot-separated segments such as
// "invoice.refunded" or "api_key.rotated", and no dynamic values. A failed
// attempt is recorded under the same action with a failure [Outcome] (a
// refused login is "login" with outcome "failure"), never under an action of
// its own. [ActionLog] ("log") is the generic action of free-form log lines.
//
// # Records that are not audit records
//
// A record whose EventName does not start with "audit." is not an audit
// record. Exporters skip and count it by default and can be told to store it.
package otelaudit
