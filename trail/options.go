package trail

import (
	"errors"
	"fmt"
	"time"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// Defaults of the read options.
const (
	// DefaultLimit is the page size when [Page.Limit] is zero.
	DefaultLimit = 100
	// MaxLimit is the largest page: a larger [Page.Limit] is cut to it.
	MaxLimit = 10000
	// DefaultSchema and DefaultTable name the Postgres audit table, as
	// schema/pgschema names it by default.
	DefaultSchema = "public"
	DefaultTable  = "audit_logs"
)

// ErrInvalidOptions is returned (wrapped) for options that cannot be used.
var ErrInvalidOptions = errors.New("trail: invalid options")

type config struct {
	schema, table string
	ch            chschema.Options
	lag           time.Duration
}

// Option configures a reader.
type Option interface{ apply(config) config }

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithPostgresTable names the Postgres audit table (default
// public.audit_logs): the Schema and Table given to pgschema.Migrate.
func WithPostgresTable(schema, table string) Option {
	return optionFunc(func(c config) config {
		if schema != "" {
			c.schema = schema
		}
		if table != "" {
			c.table = table
		}
		return c
	})
}

// WithClickHouseSchema names the ClickHouse audit table (default
// default.audit_logs): the Options given to chschema.Migrate.
func WithClickHouseSchema(o chschema.Options) Option {
	return optionFunc(func(c config) config { c.ch = o; return c })
}

// DefaultFollowLag is how long ago a ClickHouse row must have arrived for
// [ClickHouse.Follow] to deliver it.
const DefaultFollowLag = 10 * time.Second

// WithFollowLag sets how long ago a ClickHouse row must have arrived for
// [ClickHouse.Follow] to deliver it: longer than any insert takes (default
// [DefaultFollowLag]; at least a second). Postgres needs no lag.
func WithFollowLag(d time.Duration) Option {
	return optionFunc(func(c config) config { c.lag = d; return c })
}

func newConfig(opts []Option) (config, error) {
	c := config{schema: DefaultSchema, table: DefaultTable, lag: DefaultFollowLag}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	if c.lag < time.Second {
		return c, fmt.Errorf("%w: follow lag %v is less than a second", ErrInvalidOptions, c.lag)
	}
	for _, n := range []string{c.schema, c.table} {
		if !identOK(n) {
			return c, fmt.Errorf("%w: %q is not a lower-case identifier", ErrInvalidOptions, n)
		}
	}
	return c, nil
}

func identOK(s string) bool {
	if s == "" || len(s) > 63 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Order is the order of a search.
type Order int

const (
	// NewestFirst reads by descending (time, event id): the default.
	NewestFirst Order = iota
	// OldestFirst reads by ascending (time, event id).
	OldestFirst
)

// Page asks for one page of a search.
type Page struct {
	// Limit is the most records returned: DefaultLimit when zero, at most
	// MaxLimit.
	Limit int
	// After is the cursor of the last record of the previous page
	// ([Result.Next], or any [Record.Cursor]); empty for the first page.
	After string
	// Order is the order of the records; a cursor continues in the order
	// it is used with.
	Order Order
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// Result is one page of records.
type Result struct {
	Records []Record
	// Next is the cursor of the last record when the page was full (there
	// may be more), empty when the search is done.
	Next string
}
