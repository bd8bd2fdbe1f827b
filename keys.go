package otelaudit

import "strings"

// Attribute keys of the record contract. Keys that OpenTelemetry semantic
// conventions define are reused as they are; the rest live under "audit.".
// The package documentation has the full mapping table.
const (
	// KeyEventID holds the event id, a UUIDv7 in its canonical text form.
	// It is the semantic-convention key for a log record's unique id.
	KeyEventID = "log.record.uid"
	// KeyUserID holds the acting user's id.
	KeyUserID = "user.id"
	// KeyUserName holds the acting user's display name.
	KeyUserName = "user.full_name"
	// KeyWorkspaceID holds the tenant (workspace, organisation) the action
	// happened in.
	KeyWorkspaceID = "audit.workspace.id"
	// KeyClientAddress holds the client IP address.
	KeyClientAddress = "client.address"
	// KeyUserAgent holds the client's User-Agent header.
	KeyUserAgent = "user_agent.original"
	// KeySessionID holds the session the action was made in.
	KeySessionID = "session.id"
	// KeyResourceType holds the type of the resource acted on ("invoice").
	KeyResourceType = "audit.resource.type"
	// KeyResourceID holds the id of the resource acted on.
	KeyResourceID = "audit.resource.id"
	// KeyOutcome holds "success" or "failure".
	KeyOutcome = "audit.outcome"
	// KeyErrorType holds the class of failure ("invalid_password").
	KeyErrorType = "error.type"
	// KeyDetails holds structured details of the action.
	KeyDetails = "audit.details"
	// KeyPrevious holds the value before the change.
	KeyPrevious = "audit.previous"
	// KeyNew holds the value after the change.
	KeyNew = "audit.new"
	// KeyServiceName is the resource attribute naming the emitting service.
	KeyServiceName = "service.name"
)

// ReservedKeyPrefix starts every key of the record contract's own namespace.
// Keys under it that the contract does not define yet are reserved for it.
const ReservedKeyPrefix = "audit."

// IsReservedKey reports whether key belongs to the record contract: one of
// the Key constants of a record attribute (all but [KeyServiceName], a
// resource attribute) or any key under [ReservedKeyPrefix]. Extra attributes
// of an [Event] must not use such keys.
func IsReservedKey(key string) bool {
	if strings.HasPrefix(key, ReservedKeyPrefix) {
		return true
	}
	switch key {
	case KeyEventID, KeyUserID, KeyUserName, KeyClientAddress, KeyUserAgent, KeySessionID, KeyErrorType:
		return true
	}
	return false
}
