package trail

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/otelaudit/otelaudit"
)

// UserResourceType is the resource type under which an event names a user
// as its target (an administrator acting on an account:
// otelaudit.Resource{Type: "user", ID: userID}). [Filter.Subject] matches
// it.
const UserResourceType = "user"

// ErrInvalidFilter is returned (wrapped) for a filter that cannot be used.
var ErrInvalidFilter = errors.New("trail: invalid filter")

// Filter selects events. Every field that is set must match; the zero
// Filter matches every event. Both stores read the same Filter the same
// way.
type Filter struct {
	// Workspace is the tenant (workspace_id).
	Workspace string
	// Actor is the user who acted (user_id).
	Actor string
	// Subject is a user as the actor or as the target: events whose
	// user_id is Subject, or whose resource is (UserResourceType,
	// Subject). It is what a GDPR subject-access export reads.
	Subject string
	// ResourceType and ResourceID are the target resource; either may be
	// given alone.
	ResourceType string
	ResourceID   string
	// Action is an action name, or a prefix followed by "*": "oauth.*"
	// matches "oauth.token_refreshed" (and not "oauth_connected"),
	// "oauth*" matches both. "*" alone matches every action.
	Action string
	// Outcome is "", otelaudit.OutcomeSuccess or otelaudit.OutcomeFailure.
	Outcome string
	// ClientIP is the client address; it is compared in its canonical
	// text form ("2001:db8::1"), whatever form it is given in.
	ClientIP string
	// Since and Until bound the event time: Since <= time < Until. A zero
	// bound is open.
	Since, Until time.Time
}

// normalized checks f and returns it in the form the queries bind.
func (f Filter) normalized() (Filter, error) {
	if f.Outcome != "" && f.Outcome != otelaudit.OutcomeSuccess && f.Outcome != otelaudit.OutcomeFailure {
		return f, fmt.Errorf("%w: outcome %q is neither %q nor %q", ErrInvalidFilter, f.Outcome, otelaudit.OutcomeSuccess, otelaudit.OutcomeFailure)
	}
	if f.Action != "" {
		name := strings.TrimSuffix(f.Action, "*")
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
				return f, fmt.Errorf("%w: action %q: an action is lower-case letters, digits, '_' and '.', with an optional trailing '*'", ErrInvalidFilter, f.Action)
			}
		}
		if name == "" {
			f.Action = "" // "*": every action
		}
	}
	if f.ClientIP != "" {
		a, err := netip.ParseAddr(f.ClientIP)
		if err != nil {
			return f, fmt.Errorf("%w: client IP %q: %w", ErrInvalidFilter, f.ClientIP, err)
		}
		f.ClientIP = a.Unmap().String()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, fmt.Errorf("%w: since %s is not before until %s", ErrInvalidFilter, f.Since.Format(time.RFC3339Nano), f.Until.Format(time.RFC3339Nano))
	}
	return f, nil
}

// actionPrefix reports whether f.Action is a prefix pattern, and the
// prefix.
func (f Filter) actionPrefix() (string, bool) {
	if p, ok := strings.CutSuffix(f.Action, "*"); ok {
		return p, true
	}
	return "", false
}

// Validate reports whether f is usable: a known outcome, an action name
// or prefix pattern, a client IP that parses, Since before Until.
func (f Filter) Validate() error {
	_, err := f.normalized()
	return err
}
