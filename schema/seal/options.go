package seal

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Defaults of the options.
const (
	// DefaultSchema holds the audit table and the digest tables.
	DefaultSchema = "public"
	// DefaultAuditTable is the Postgres audit table that is sealed.
	DefaultAuditTable = "audit_logs"
	// DefaultDigestTable holds the signed digests; its leaves are in
	// DigestTable + "_leaves".
	DefaultDigestTable = "audit_digests"
	// DefaultWindow is the span of one sealed window.
	DefaultWindow = time.Hour
	// DefaultDelay is how long after a window's end it is sealed, so that
	// rows still in flight (batching processors, journals, retries) are in
	// it.
	DefaultDelay = 15 * time.Minute
	// DefaultLateGrace is subtracted from a seal's time when deciding
	// whether a row it did not cover arrived late: a row's ingested_at is
	// the start of its writer's transaction, which may precede the seal by
	// the length of that transaction although the row was not yet visible.
	DefaultLateGrace = time.Minute
	// DefaultLateHorizon bounds how far back a seal run looks for late
	// rows to seal: rows whose time is more than this before the end of
	// the newest sealed range are not searched (Verify still reports
	// them).
	DefaultLateHorizon = 24 * time.Hour
)

// maxNameLen is the longest schema or table name accepted (Postgres
// identifiers are at most 63 bytes, and "_schema_migrations" is added to the
// digest table's name).
const maxNameLen = 40

// Option configures [Migrate], a [Sealer], a [Verifier] or a source
// ([PostgresSource]). Each option says which it applies to; the others
// ignore it.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	schema      string
	auditTable  string
	digestTable string
	window      time.Duration
	delay       time.Duration
	lateGrace   time.Duration
	lateHorizon time.Duration
	tipSeq      int64
	tipHash     [32]byte
	since       time.Time
	from, to    time.Time
}

// ErrInvalidOptions is returned (wrapped) for options that cannot be used.
var ErrInvalidOptions = errors.New("seal: invalid options")

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func newConfig(opts []Option) (config, error) {
	c := config{
		window:      DefaultWindow,
		delay:       DefaultDelay,
		lateGrace:   DefaultLateGrace,
		lateHorizon: DefaultLateHorizon,
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	if c.schema == "" {
		c.schema = DefaultSchema
	}
	if c.auditTable == "" {
		c.auditTable = DefaultAuditTable
	}
	if c.digestTable == "" {
		c.digestTable = DefaultDigestTable
	}
	for _, n := range []struct{ what, name string }{{"schema", c.schema}, {"audit table", c.auditTable}, {"digest table", c.digestTable}} {
		if len(n.name) > maxNameLen || !identRE.MatchString(n.name) {
			return c, fmt.Errorf("%w: %s name %q must be at most %d lower-case letters, digits and underscores, not starting with a digit", ErrInvalidOptions, n.what, n.name, maxNameLen)
		}
	}
	switch {
	case c.window < time.Second || c.window%time.Second != 0:
		return c, fmt.Errorf("%w: window %v must be a whole number of seconds, at least one", ErrInvalidOptions, c.window)
	case c.delay < 0:
		return c, fmt.Errorf("%w: negative delay %v", ErrInvalidOptions, c.delay)
	case c.lateGrace < 0:
		return c, fmt.Errorf("%w: negative late grace %v", ErrInvalidOptions, c.lateGrace)
	case c.lateHorizon < 0:
		return c, fmt.Errorf("%w: negative late horizon %v", ErrInvalidOptions, c.lateHorizon)
	case !c.from.IsZero() && !c.to.IsZero() && !c.from.Before(c.to):
		return c, fmt.Errorf("%w: verify range [%v, %v) is empty", ErrInvalidOptions, c.from, c.to)
	}
	return c, nil
}

// WithSchema sets the Postgres schema of the audit table and of the digest
// tables. Default: [DefaultSchema]. Applies to everything.
func WithSchema(schema string) Option {
	return optionFunc(func(c config) config { c.schema = schema; return c })
}

// WithAuditTable sets the Postgres audit table, as given to the schema's
// Migrate. Default: [DefaultAuditTable]. Applies to [Sealer] and
// [PostgresSource].
func WithAuditTable(table string) Option {
	return optionFunc(func(c config) config { c.auditTable = table; return c })
}

// WithDigestTable sets the table of the digests; the leaves go to
// table+"_leaves" and the migrations record to table+"_schema_migrations".
// Default: [DefaultDigestTable]. Applies to [Migrate], [Sealer] and
// [Verifier].
func WithDigestTable(table string) Option {
	return optionFunc(func(c config) config { c.digestTable = table; return c })
}

// WithWindow sets the span of a sealed window: a whole number of seconds.
// Windows are aligned on the Unix epoch (an hour window starts on the
// hour, UTC). Default: [DefaultWindow]. Applies to [Sealer]. Changing it
// later is allowed: sealed ranges stay as they were sealed, new ones start
// where the last one ended.
func WithWindow(d time.Duration) Option {
	return optionFunc(func(c config) config { c.window = d; return c })
}

// WithDelay sets how long after its end a window is sealed. Default:
// [DefaultDelay]. Applies to [Sealer].
func WithDelay(d time.Duration) Option {
	return optionFunc(func(c config) config { c.delay = d; return c })
}

// WithLateGrace sets the tolerance used to tell a late row from a row
// inserted behind a seal's back (see [DefaultLateGrace]). Applies to
// [Sealer] and [Verifier].
func WithLateGrace(d time.Duration) Option {
	return optionFunc(func(c config) config { c.lateGrace = d; return c })
}

// WithLateHorizon sets how far back a seal run looks for late rows (see
// [DefaultLateHorizon]); 0 turns the sealing of late rows off (they are
// still reported by [Verifier.Verify]). Applies to [Sealer].
func WithLateHorizon(d time.Duration) Option {
	return optionFunc(func(c config) config { c.lateHorizon = d; return c })
}

// WithSince sets where the first seal starts (rounded down to its window)
// when nothing is sealed yet. Default: the window of the oldest row.
// Applies to [Sealer].
func WithSince(t time.Time) Option {
	return optionFunc(func(c config) config { c.since = t; return c })
}

// WithKnownTip gives [Verifier.Verify] a digest it must find in the chain:
// the TipSeq and TipHash of an earlier verification, kept where the
// database's owner cannot change them (published, or stored elsewhere).
// A chain that no longer holds a digest with that seq and hash was cut
// back or rewritten after that verification, which a chain that is merely
// shorter does not show otherwise; Verify reports it as [BrokenChain].
// Applies to [Verifier].
func WithKnownTip(seq int64, hash [32]byte) Option {
	return optionFunc(func(c config) config { c.tipSeq, c.tipHash = seq, hash; return c })
}

// WithRange limits the rows [Verifier.Verify] reads to the sealed ranges
// that overlap [from, to); a zero time leaves that side open. The chain of
// digests is always checked whole. Default: every sealed range.
func WithRange(from, to time.Time) Option {
	return optionFunc(func(c config) config { c.from, c.to = from, to; return c })
}
