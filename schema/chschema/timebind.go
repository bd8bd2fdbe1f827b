package chschema

import (
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Binding times at the layout's precision.
//
// clickhouse-go binds a time.Time argument as toDateTime('...'): whole
// seconds. The compat layout's time column is a DateTime, so that is its
// precision. The modern layout's is a DateTime64(9): compared with a
// DateTime, ClickHouse 26.5 prunes its sort key and partitions as if the
// range ended at that whole second, so rows later within the second are
// not found (time < toDateTime('12:00:01') misses 12:00:00.001). Times
// compared with the modern time column are therefore DateTime64(9) values
// with every digit.

// TimeArg returns the named argument for a DateTime parameter of the query
// pack (or any @name compared with the audit table's time column), at the
// layout's precision: nanoseconds on [LayoutModern]
// (toDateTime64('...', 9)), whole seconds on [LayoutCompat]
// (toDateTime('...'); the fraction is dropped).
func TimeArg(l Layout, name string, t time.Time) driver.NamedDateValue {
	if l == LayoutModern {
		return clickhouse.DateNamed(name, t.UTC(), clickhouse.NanoSeconds)
	}
	return clickhouse.DateNamed(name, t.UTC(), clickhouse.Seconds)
}

// TimeRange returns a condition on the audit table's time column that
// holds every row from from (inclusive) to to (exclusive), and its
// arguments for clickhouse-go's positional (?) binding.
//
// On [LayoutModern] the condition is exact: both bounds are DateTime64(9)
// literals in UTC. On [LayoutCompat] the time column holds whole seconds
// (the fraction is in time_ns), so the condition holds every second the
// range touches, from from's second to the second that ends at or after
// to: it may also hold rows up to a second before from and up to a second
// at or after to, which the caller filters out by their full time.
func TimeRange(l Layout, from, to time.Time) (string, []any) {
	if l == LayoutModern {
		const literal = "2006-01-02 15:04:05.000000000"
		return "time >= toDateTime64(?, 9, 'UTC') AND time < toDateTime64(?, 9, 'UTC')",
			[]any{from.UTC().Format(literal), to.UTC().Format(literal)}
	}
	hi := to.Unix()
	if !to.Equal(time.Unix(hi, 0)) {
		hi++ // a bound inside a second: hold the whole second
	}
	return "time >= toDateTime(?) AND time < toDateTime(?)", []any{from.Unix(), hi}
}
