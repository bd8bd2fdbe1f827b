package otelaudit

import (
	"errors"
	"fmt"
	"strings"
)

// Action names what was done. It is the part of the record's EventName after
// the "audit." prefix: the action [ActionLogin] is emitted as the event
// "audit.login".
//
// An Action must follow the naming rule checked by [ParseAction]: one or more
// dot-separated segments, each starting with a lower-case ASCII letter and
// made of lower-case ASCII letters, digits and underscores, at most
// [MaxActionLen] bytes in all. Action names are a closed vocabulary: a segment
// that looks like a dynamic value (all digits after the first letter, or a
// run of five digits, or a run of twelve hexadecimal characters with a digit in it) is refused, because such names
// explode the cardinality of every index and rollup keyed by action.
type Action string

// The seed action set. Custom actions are allowed; see [ParseAction].
const (
	ActionLogin                 Action = "login"
	ActionLogout                Action = "logout"
	ActionDataExportRequested   Action = "data_export_requested"
	ActionDataExportCompleted   Action = "data_export_completed"
	ActionDataDeleteRequested   Action = "data_delete_requested"
	ActionDataDeleteCompleted   Action = "data_delete_completed"
	ActionSubscriptionCreated   Action = "subscription_created"
	ActionSubscriptionCancelled Action = "subscription_cancelled"
	ActionSettingsChanged       Action = "settings_changed"
	ActionOAuthConnected        Action = "oauth_connected"
	ActionOAuthDisconnected     Action = "oauth_disconnected"
	ActionAdminAction           Action = "admin_action"
)

// ActionLog is the generic action of a free-form log line recorded as an
// audit event, a message such as "user logged in" that names no action. It
// is not a seed action: the bridge's slog handler records such messages
// under it in its lax mode, with the message kept in the details, so that
// they can be found (action = 'log') and replaced by typed actions over time.
const ActionLog Action = "log"

// Actions returns the seed action set, in a stable order.
func Actions() []Action {
	return []Action{
		ActionLogin, ActionLogout,
		ActionDataExportRequested, ActionDataExportCompleted,
		ActionDataDeleteRequested, ActionDataDeleteCompleted,
		ActionSubscriptionCreated, ActionSubscriptionCancelled,
		ActionSettingsChanged,
		ActionOAuthConnected, ActionOAuthDisconnected,
		ActionAdminAction,
	}
}

// EventNamePrefix starts the EventName of every audit record.
const EventNamePrefix = "audit."

// MaxActionLen is the longest action name accepted, in bytes.
const MaxActionLen = 64

// Limits of the dynamic-value heuristic in the naming rule.
const (
	maxDigitRun = 5  // "order12345" is refused, "v2" is fine
	maxHexRun   = 12 // "deadbeef0123" is refused
)

// ErrInvalidAction is returned (wrapped) for an action name that breaks the
// naming rule.
var ErrInvalidAction = errors.New("otelaudit: invalid action")

// ParseAction checks s against the naming rule and returns it as an Action.
func ParseAction(s string) (Action, error) {
	a := Action(s)
	if err := a.Validate(); err != nil {
		return "", err
	}
	return a, nil
}

// Validate reports whether a follows the naming rule. The error wraps
// [ErrInvalidAction] and says which part of the rule was broken.
func (a Action) Validate() error {
	if _, ok := seedEventNames[a]; ok {
		return nil // checked once, when seedEventNames was built
	}
	return validateName(string(a))
}

func validateName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrInvalidAction)
	case len(s) > MaxActionLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidAction, len(s), MaxActionLen)
	}
	for seg := range strings.SplitSeq(s, ".") {
		if err := validateSegment(seg); err != nil {
			return fmt.Errorf("%w %q: %s", ErrInvalidAction, truncateForError(s), err)
		}
	}
	return nil
}

func validateSegment(seg string) error {
	if seg == "" {
		return errors.New("empty segment")
	}
	if c := seg[0]; c < 'a' || c > 'z' {
		return errors.New("a segment must start with a lower-case letter")
	}
	// A run of digits, or a long hexadecimal run that contains a digit, is
	// how ids, hashes and timestamps look.
	digitRun, hexRun, hexRunHasDigit := 0, 0, false
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= '0' && c <= '9':
			digitRun++
			hexRun++
			hexRunHasDigit = true
		case c >= 'a' && c <= 'f':
			digitRun = 0
			hexRun++
		case c >= 'g' && c <= 'z', c == '_':
			digitRun, hexRun, hexRunHasDigit = 0, 0, false
		default:
			return fmt.Errorf("character %q not allowed (use a-z, 0-9, _ and .)", rune(c))
		}
		if digitRun >= maxDigitRun || (hexRun >= maxHexRun && hexRunHasDigit) {
			return errors.New("segment looks like a dynamic value (an id, hash or number); put it in an attribute")
		}
	}
	return nil
}

func truncateForError(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// EventName returns the record EventName for a: "audit." + a. For the seed
// actions the name is computed once, so the emit path does not allocate it.
func (a Action) EventName() string {
	if name, ok := seedEventNames[a]; ok {
		return name
	}
	return EventNamePrefix + string(a)
}

// seedEventNames holds the EventName of each seed action, and of
// [ActionLog], that passes the naming rule (all of them; a test checks it),
// so that Validate and EventName, called for every event emitted and every
// row exported, are a map lookup for them.
var seedEventNames = func() map[Action]string {
	m := make(map[Action]string)
	for _, a := range append(Actions(), ActionLog) {
		if validateName(string(a)) == nil {
			m[a] = EventNamePrefix + string(a)
		}
	}
	return m
}()

// ActionFromEventName returns the action of an audit EventName and whether
// name is one ("audit." followed by a valid action).
func ActionFromEventName(name string) (Action, bool) {
	rest, ok := strings.CutPrefix(name, EventNamePrefix)
	if !ok {
		return "", false
	}
	a := Action(rest)
	if a.Validate() != nil {
		return "", false
	}
	return a, true
}
