package chschema

import (
	"fmt"
	"strconv"
	"strings"
)

// Layout is the shape of the tables: what the server's version allows.
type Layout int

const (
	// LayoutAuto picks the layout from the server's version.
	LayoutAuto Layout = iota
	// LayoutCompat works on every server back to ClickHouse 18.16: time
	// as DateTime (seconds) plus a time_ns column, attributes as parallel
	// key/value arrays, plain String columns, no codecs, no TTL, no
	// data-skipping indexes.
	LayoutCompat
	// LayoutModern needs ClickHouse 22.1 or later: DateTime64(9),
	// LowCardinality, Map, codecs, TTL and bloom-filter indexes.
	LayoutModern
)

// ModernMajor is the first server major version that gets [LayoutModern].
const ModernMajor = 22

// String returns "auto", "compat" or "modern".
func (l Layout) String() string {
	switch l {
	case LayoutAuto:
		return "auto"
	case LayoutCompat:
		return "compat"
	case LayoutModern:
		return "modern"
	}
	return "Layout(" + strconv.Itoa(int(l)) + ")"
}

// ParseLayout is the inverse of [Layout.String].
func ParseLayout(s string) (Layout, error) {
	switch s {
	case "auto":
		return LayoutAuto, nil
	case "compat":
		return LayoutCompat, nil
	case "modern":
		return LayoutModern, nil
	}
	return LayoutAuto, fmt.Errorf("%w: unknown layout %q", ErrInvalidOptions, s)
}

// LayoutForVersion returns the layout for a server version string as
// SELECT version() prints it ("18.16.1", "24.8.4.13").
func LayoutForVersion(version string) (Layout, error) {
	major, _, _ := strings.Cut(strings.TrimSpace(version), ".")
	n, err := strconv.Atoi(major)
	if err != nil || n <= 0 {
		return LayoutAuto, fmt.Errorf("chschema: cannot read the server version %q", version)
	}
	if n >= ModernMajor {
		return LayoutModern, nil
	}
	return LayoutCompat, nil
}
