package postgreslog

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// The rows are sent in COPY's binary format
// (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4):
// a header, one tuple per row (a 16-bit field count, then each field as a
// 32-bit length, -1 for NULL, and the value in the type's binary send
// format), and a trailer. The exporter encodes each row once, straight
// from the auditrow.Row into its buffer, with no []any and no per-value
// allocation, and keeps the bytes for retries.

// copyHeader is the binary COPY signature, flags (0) and header extension
// length (0).
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00")

// copyTrailer ends the data: a field count of -1.
var copyTrailer = []byte{0xff, 0xff}

// numColumns is the number of fields of each tuple: the length of
// pgschema.Columns(), in its order (checked by a test).
const numColumns = 22

// Time range of created_at. Times outside it are refused (reason
// time_out_of_range): Postgres's timestamptz ends in 294276 AD, partition
// names have four-digit years, and no audit event happened before year 1.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // exclusive
)

// pgEpochUnixMicros is 2000-01-01T00:00:00Z, Postgres's timestamp epoch, in
// microseconds since the Unix epoch.
const pgEpochUnixMicros = 946684800 * 1_000_000

// pgMicros returns t as a Postgres timestamptz: microseconds since
// 2000-01-01 UTC, rounded down.
func pgMicros(t time.Time) int64 {
	return t.Unix()*1_000_000 + int64(t.Nanosecond()/1000) - pgEpochUnixMicros
}

// fromPgMicros is the inverse of pgMicros.
func fromPgMicros(us int64) time.Time {
	return time.UnixMicro(us + pgEpochUnixMicros).UTC()
}

func inTimeRange(t time.Time) bool {
	return !t.Before(minTime) && t.Before(maxTime)
}

// markerObservedOutOfRange is added to a row's sanitized markers when its
// observed time is outside the range above and observed_at is NULL.
const markerObservedOutOfRange = "observed_time:out_of_range"

// Type OIDs and inet families of the binary formats.
const (
	oidText       = 25
	pgAFInet      = 2 // PGSQL_AF_INET
	pgAFInet6     = 3 // PGSQL_AF_INET6
	jsonbVersion  = 1
	traceHexBytes = 32
	spanHexBytes  = 16
)

// appendTuple appends r as one tuple, created_at being created (in
// pgMicros). The column order is pgschema.Columns().
func appendTuple(b []byte, r *auditrow.Row, created int64) []byte {
	b = binary.BigEndian.AppendUint16(b, numColumns)
	b = appendInt64Field(b, created)                      // created_at
	b = appendUUID(b, r.EventID)                          // event_id
	b = appendText(b, r.Action)                           // action (NOT NULL)
	b = appendText(b, r.Outcome)                          // outcome (NOT NULL)
	b = appendNullText(b, r.ErrorType)                    // error_type
	b = appendNullText(b, r.UserID)                       // user_id
	b = appendNullText(b, r.UserName)                     // user_name
	b = appendNullText(b, r.WorkspaceID)                  // workspace_id
	b = appendInet(b, r.ClientIP)                         // ip_address
	b = appendNullText(b, r.UserAgent)                    // user_agent
	b = appendNullText(b, r.SessionID)                    // session_id
	b = appendNullText(b, r.ResourceType)                 // resource
	b = appendNullText(b, r.ResourceID)                   // resource_id
	b = appendJSONB(b, r.Details)                         // details
	b = appendJSONB(b, r.Previous)                        // previous_value
	b = appendJSONB(b, r.New)                             // new_value
	b = appendJSONB(b, r.AttributesJSON)                  // attributes
	b = appendHexID(b, r.TraceID[:], r.TraceID.IsValid()) // trace_id
	b = appendHexID(b, r.SpanID[:], r.SpanID.IsValid())   // span_id
	b = appendNullText(b, r.ServiceName)                  // service_name
	observed, outOfRange := observedAt(r)
	b = appendTextArray(b, r.Sanitized, outOfRange) // sanitized
	if observed.IsZero() {                          // observed_at
		return appendNull(b)
	}
	return appendInt64Field(b, pgMicros(observed))
}

// observedAt returns the observed_at of r, zero for NULL, and whether the
// observed time was dropped for being out of range (the sanitized column
// then gets markerObservedOutOfRange).
func observedAt(r *auditrow.Row) (t time.Time, outOfRange bool) {
	switch {
	case r.ObservedTime.IsZero():
		return time.Time{}, false
	case !inTimeRange(r.ObservedTime):
		return time.Time{}, true
	}
	return r.ObservedTime, false
}

func appendLen(b []byte, n int) []byte {
	return binary.BigEndian.AppendUint32(b, uint32(int32(n)))
}

func appendNull(b []byte) []byte { return appendLen(b, -1) }

func appendInt64Field(b []byte, v int64) []byte {
	b = appendLen(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendUUID(b []byte, id uuid.UUID) []byte {
	b = appendLen(b, 16)
	return append(b, id[:]...)
}

func appendText(b []byte, s string) []byte {
	b = appendLen(b, len(s))
	return append(b, s...)
}

// appendNullText writes "" as NULL.
func appendNullText(b []byte, s string) []byte {
	if s == "" {
		return appendNull(b)
	}
	return appendText(b, s)
}

// appendJSONB writes nil as NULL; jsonb's binary format is a version byte
// and the JSON text.
func appendJSONB(b, js []byte) []byte {
	if js == nil {
		return appendNull(b)
	}
	b = appendLen(b, 1+len(js))
	b = append(b, jsonbVersion)
	return append(b, js...)
}

// appendInet writes the client IP in inet's binary format (family, prefix
// bits, is-cidr flag, address length, address), NULL when there is none.
func appendInet(b []byte, a netip.Addr) []byte {
	switch {
	case a.Is4():
		ip := a.As4()
		b = appendLen(b, 4+4)
		b = append(b, pgAFInet, 32, 0, 4)
		return append(b, ip[:]...)
	case a.Is6():
		ip := a.As16()
		b = appendLen(b, 4+16)
		b = append(b, pgAFInet6, 128, 0, 16)
		return append(b, ip[:]...)
	}
	return appendNull(b)
}

// appendHexID writes a trace or span id as lower-case hex text, NULL when
// the id is not valid (all zero).
func appendHexID(b, id []byte, valid bool) []byte {
	if !valid {
		return appendNull(b)
	}
	b = appendLen(b, 2*len(id))
	return hex.AppendEncode(b, id)
}

// appendTextArray writes the sanitized markers as a one-dimensional text[]
// (dimensions, has-null flag, element type, length, lower bound, then the
// elements), NULL when there are none. extra adds
// markerObservedOutOfRange.
func appendTextArray(b []byte, elems []string, extra bool) []byte {
	n := len(elems)
	if extra {
		n++
	}
	if n == 0 {
		return appendNull(b)
	}
	size := 20
	for _, e := range elems {
		size += 4 + len(e)
	}
	if extra {
		size += 4 + len(markerObservedOutOfRange)
	}
	b = appendLen(b, size)
	b = binary.BigEndian.AppendUint32(b, 1) // dimensions
	b = binary.BigEndian.AppendUint32(b, 0) // no NULL elements
	b = binary.BigEndian.AppendUint32(b, oidText)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	for _, e := range elems {
		b = appendText(b, e)
	}
	if extra {
		b = appendText(b, markerObservedOutOfRange)
	}
	return b
}
