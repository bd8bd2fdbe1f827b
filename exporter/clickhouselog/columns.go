package clickhouselog

import (
	"encoding/hex"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// ChangeTimeOutOfRange marks, as "time:out_of_range" in the sanitized
// column, an event time outside what the time column can hold (compat
// DateTime: 1970-01-01 to 2105-12-31; modern DateTime64(9): 1900-01-01 to
// 2262-04-11), clamped to the nearest end.
const ChangeTimeOutOfRange = "out_of_range"

var (
	compatMinTime = time.Unix(0, 0).UTC()
	compatMaxTime = time.Date(2105, 12, 31, 23, 59, 59, 999999999, time.UTC)
	modernMinTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	modernMaxTime = time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC)
)

// outcome values of the Enum8 column.
const (
	enumSuccess int8 = 1
	enumFailure int8 = 2
)

// columns holds a batch as one slice per table column: what the INSERT
// sends. Rows are added once per Export; retries and bisection send
// sub-slices ([columns.slice]), which share the memory. Strings are copied
// out of the Mapper's buffers (into text), so they stay valid for the whole
// Export.
type columns struct {
	layout chschema.Layout
	// bytes estimates the size of the rows added since the last reset.
	bytes int
	text  text

	ids                                                    []uuid.UUID
	times                                                  []time.Time
	nanos                                                  []uint32 // compat
	actions, workspaces, users, userNames, ips, userAgents []string
	sessions, resourceTypes, resourceIDs                   []string
	outcomes                                               []int8
	errorTypes, details, previous, next                    []string
	attrKeys, attrValues                                   [][]string          // compat
	attrMaps                                               []map[string]string // modern
	traceIDs, spanIDs, services                            []string
	sanitized                                              [][]string
}

// len returns the number of rows.
func (c *columns) len() int { return len(c.ids) }

// reset empties c for layout l, keeping its capacity and dropping every
// reference to the previous batch.
func (c *columns) reset(l chschema.Layout) {
	c.layout = l
	c.bytes = 0
	c.text = text{}
	c.ids = c.ids[:0]
	c.times = c.times[:0]
	c.nanos = c.nanos[:0]
	c.outcomes = c.outcomes[:0]
	for _, s := range c.stringCols() {
		clear(*s)
		*s = (*s)[:0]
	}
	for _, s := range []*[][]string{&c.attrKeys, &c.attrValues, &c.sanitized} {
		clear(*s)
		*s = (*s)[:0]
	}
	clear(c.attrMaps)
	c.attrMaps = c.attrMaps[:0]
}

func (c *columns) stringCols() []*[]string {
	return []*[]string{
		&c.actions, &c.workspaces, &c.users, &c.userNames, &c.ips, &c.userAgents,
		&c.sessions, &c.resourceTypes, &c.resourceIDs, &c.errorTypes,
		&c.details, &c.previous, &c.next, &c.traceIDs, &c.spanIDs, &c.services,
	}
}

// add appends one mapped row, clamping its time to the layout's range. It
// reports whether the row carries sanitized markers.
func (c *columns) add(r *auditrow.Row) bool {
	t := r.Time.UTC()
	lo, hi := compatMinTime, compatMaxTime
	if c.layout == chschema.LayoutModern {
		lo, hi = modernMinTime, modernMaxTime
	}
	var sanitized []string
	if len(r.Sanitized) > 0 {
		sanitized = append(make([]string, 0, len(r.Sanitized)+1), r.Sanitized...)
	}
	switch {
	case t.Before(lo):
		t = lo
		sanitized = append(sanitized, "time:"+ChangeTimeOutOfRange)
	case t.After(hi):
		t = hi
		sanitized = append(sanitized, "time:"+ChangeTimeOutOfRange)
	}
	if sanitized == nil {
		sanitized = emptyStrings
	}

	ip, traceID, spanID := "", "", ""
	if r.ClientIP.IsValid() {
		var buf [64]byte // the longest IPv6 text with a zone fits
		ip = c.text.copy(r.ClientIP.AppendTo(buf[:0]))
	}
	if r.TraceID.IsValid() {
		traceID = c.text.hex(r.TraceID[:])
	}
	if r.SpanID.IsValid() {
		spanID = c.text.hex(r.SpanID[:])
	}
	outcome := enumSuccess
	if r.Outcome == "failure" {
		outcome = enumFailure
	}

	c.bytes += rowOverhead + len(r.Action) + len(r.WorkspaceID) + len(r.UserID) + len(r.UserName) + len(ip) +
		len(r.UserAgent) + len(r.SessionID) + len(r.ResourceType) + len(r.ResourceID) + len(r.ErrorType) +
		len(r.Details) + len(r.Previous) + len(r.New) + len(traceID) + len(spanID) + len(r.ServiceName)
	for _, a := range r.Attrs {
		c.bytes += len(a.Key) + len(a.Value) + 16
	}
	for _, m := range sanitized {
		c.bytes += len(m) + 16
	}

	c.ids = append(c.ids, r.EventID)
	c.times = append(c.times, t)
	c.actions = append(c.actions, r.Action)
	c.workspaces = append(c.workspaces, r.WorkspaceID)
	c.users = append(c.users, r.UserID)
	c.userNames = append(c.userNames, r.UserName)
	c.ips = append(c.ips, ip)
	c.userAgents = append(c.userAgents, r.UserAgent)
	c.sessions = append(c.sessions, r.SessionID)
	c.resourceTypes = append(c.resourceTypes, r.ResourceType)
	c.resourceIDs = append(c.resourceIDs, r.ResourceID)
	c.outcomes = append(c.outcomes, outcome)
	c.errorTypes = append(c.errorTypes, r.ErrorType)
	c.details = append(c.details, c.text.copy(r.Details))
	c.previous = append(c.previous, c.text.copy(r.Previous))
	c.next = append(c.next, c.text.copy(r.New))
	c.traceIDs = append(c.traceIDs, traceID)
	c.spanIDs = append(c.spanIDs, spanID)
	c.services = append(c.services, r.ServiceName)
	c.sanitized = append(c.sanitized, sanitized)
	if c.layout == chschema.LayoutModern {
		m := make(map[string]string, len(r.Attrs))
		for _, a := range r.Attrs {
			m[a.Key] = a.Value // a key given twice keeps its last value
		}
		c.attrMaps = append(c.attrMaps, m)
	} else {
		c.nanos = append(c.nanos, uint32(t.Nanosecond()))
		keys, values := emptyStrings, emptyStrings
		if n := len(r.Attrs); n > 0 {
			keys, values = make([]string, n), make([]string, n)
			for i, a := range r.Attrs {
				keys[i], values[i] = a.Key, a.Value
			}
		}
		c.attrKeys = append(c.attrKeys, keys)
		c.attrValues = append(c.attrValues, values)
	}
	return len(sanitized) > 0
}

// text holds the bytes of the strings a batch makes (JSON values, client
// addresses, trace and span ids) in blocks of textBlock bytes, so that a
// row costs no allocation per string. A string made by text points into
// a block, which no one writes again: it stays valid (and keeps its block
// alive) as long as it is referenced. Resetting text drops the blocks.
type text struct {
	block []byte
}

const textBlock = 64 << 10

// alloc returns n bytes of the current block, starting a new one when it
// has no room left.
func (t *text) alloc(n int) []byte {
	if cap(t.block)-len(t.block) < n {
		t.block = make([]byte, 0, max(textBlock, n))
	}
	start := len(t.block)
	t.block = t.block[:start+n]
	return t.block[start : start+n : start+n]
}

// copy returns b as a string held by t.
func (t *text) copy(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	buf := t.alloc(len(b))
	copy(buf, b)
	return unsafe.String(&buf[0], len(buf))
}

// hex returns the lower-case hex text of b, held by t.
func (t *text) hex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	buf := t.alloc(hex.EncodedLen(len(b)))
	hex.Encode(buf, b)
	return unsafe.String(&buf[0], len(buf))
}

// rowOverhead is what a row costs beyond its strings' bytes: the fixed-size
// columns and a string header for each variable-size one.
const rowOverhead = 128

// emptyStrings stands for an empty array; the driver only reads it.
var emptyStrings = []string{}

// slice returns rows [lo, hi) of c, sharing its memory.
func (c *columns) slice(lo, hi int) columns {
	s := columns{
		layout: c.layout,
		ids:    c.ids[lo:hi], times: c.times[lo:hi], outcomes: c.outcomes[lo:hi],
		actions: c.actions[lo:hi], workspaces: c.workspaces[lo:hi], users: c.users[lo:hi],
		userNames: c.userNames[lo:hi], ips: c.ips[lo:hi], userAgents: c.userAgents[lo:hi],
		sessions: c.sessions[lo:hi], resourceTypes: c.resourceTypes[lo:hi], resourceIDs: c.resourceIDs[lo:hi],
		errorTypes: c.errorTypes[lo:hi], details: c.details[lo:hi], previous: c.previous[lo:hi], next: c.next[lo:hi],
		traceIDs: c.traceIDs[lo:hi], spanIDs: c.spanIDs[lo:hi], services: c.services[lo:hi],
		sanitized: c.sanitized[lo:hi],
	}
	if c.layout == chschema.LayoutModern {
		s.attrMaps = c.attrMaps[lo:hi]
	} else {
		s.nanos, s.attrKeys, s.attrValues = c.nanos[lo:hi], c.attrKeys[lo:hi], c.attrValues[lo:hi]
	}
	return s
}

// without returns a copy of c without the rows whose index drop reports.
// Kept rows are copied a run at a time, not row by row.
func (c *columns) without(drop func(i int) bool) columns {
	out := columns{layout: c.layout}
	for i, n := 0, c.len(); i < n; {
		if drop(i) {
			i++
			continue
		}
		start := i
		for i < n && !drop(i) {
			i++
		}
		r := c.slice(start, i)
		out.appendRows(&r)
	}
	return out
}

// appendRows appends the rows of o (of the same layout) to c.
func (c *columns) appendRows(o *columns) {
	c.ids = append(c.ids, o.ids...)
	c.times = append(c.times, o.times...)
	c.outcomes = append(c.outcomes, o.outcomes...)
	dst, src := c.stringCols(), o.stringCols()
	for i := range dst {
		*dst[i] = append(*dst[i], *src[i]...)
	}
	c.sanitized = append(c.sanitized, o.sanitized...)
	c.nanos = append(c.nanos, o.nanos...)
	c.attrKeys = append(c.attrKeys, o.attrKeys...)
	c.attrValues = append(c.attrValues, o.attrValues...)
	c.attrMaps = append(c.attrMaps, o.attrMaps...)
}

// values returns the column slices in the order of chschema.Columns.
func (c *columns) values() []any {
	if c.layout == chschema.LayoutModern {
		return []any{
			c.ids, c.times, c.actions, c.workspaces, c.users, c.userNames,
			c.ips, c.userAgents, c.sessions, c.resourceTypes, c.resourceIDs,
			c.outcomes, c.errorTypes, c.details, c.previous, c.next,
			c.attrMaps, c.traceIDs, c.spanIDs, c.services, c.sanitized,
		}
	}
	return []any{
		c.ids, c.times, c.nanos, c.actions, c.workspaces, c.users, c.userNames,
		c.ips, c.userAgents, c.sessions, c.resourceTypes, c.resourceIDs,
		c.outcomes, c.errorTypes, c.details, c.previous, c.next,
		c.attrKeys, c.attrValues, c.traceIDs, c.spanIDs, c.services, c.sanitized,
	}
}
