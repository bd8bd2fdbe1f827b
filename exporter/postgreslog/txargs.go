package postgreslog

import (
	"encoding/hex"
	"strings"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
)

// The TxWriter sends each row as the parameters of pgschema.Insert, whose
// placeholders are cast to the columns' types ($1::timestamptz, ...). Every
// value is a string (or nil for NULL): pgx sends strings in text format in
// every query execution mode, the simple protocol included (which
// connection poolers such as PgBouncer in transaction mode need), and
// Postgres parses them with the columns' input functions. The values are
// those appendTuple sends to COPY in binary, field for field: the same NULL
// rules, the same microseconds, the same markers; a test reads both back
// and compares every column.

// timeText is the format of timestamptz parameters: UTC, microseconds, a
// four-digit year (times are within years 1 to 9999).
const timeText = "2006-01-02 15:04:05.000000Z07:00"

// appendTextArgs appends the values of r, created_at being created (in
// pgMicros), in the order of pgschema.Columns().
func appendTextArgs(args []any, r *auditrow.Row, created int64) []any {
	observed, outOfRange := observedAt(r)
	var ip any
	if r.ClientIP.IsValid() {
		ip = r.ClientIP.String()
	}
	var observedArg any
	if !observed.IsZero() {
		observedArg = microsText(pgMicros(observed))
	}
	return append(args,
		microsText(created),                       // created_at
		r.EventID.String(),                        // event_id
		r.Action,                                  // action (NOT NULL)
		r.Outcome,                                 // outcome (NOT NULL)
		nullText(r.ErrorType),                     // error_type
		nullText(r.UserID),                        // user_id
		nullText(r.UserName),                      // user_name
		nullText(r.WorkspaceID),                   // workspace_id
		ip,                                        // ip_address
		nullText(r.UserAgent),                     // user_agent
		nullText(r.SessionID),                     // session_id
		nullText(r.ResourceType),                  // resource
		nullText(r.ResourceID),                    // resource_id
		jsonText(r.Details),                       // details
		jsonText(r.Previous),                      // previous_value
		jsonText(r.New),                           // new_value
		jsonText(r.AttributesJSON),                // attributes
		hexID(r.TraceID[:], r.TraceID.IsValid()),  // trace_id
		hexID(r.SpanID[:], r.SpanID.IsValid()),    // span_id
		nullText(r.ServiceName),                   // service_name
		textArrayLiteral(r.Sanitized, outOfRange), // sanitized
		observedArg,                               // observed_at
	)
}

// microsText formats a pgMicros time.
func microsText(us int64) string {
	return fromPgMicros(us).Format(timeText)
}

// nullText is s, or nil (NULL) for "".
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonText is the JSON text of js, or nil (NULL) for nil.
func jsonText(js []byte) any {
	if js == nil {
		return nil
	}
	return string(js)
}

// hexID is a trace or span id in lower-case hex, or nil (NULL) when it is
// not valid.
func hexID(id []byte, valid bool) any {
	if !valid {
		return nil
	}
	return hex.EncodeToString(id)
}

// textArrayLiteral is the sanitized markers as a text[] literal, every
// element double-quoted with backslash escapes, or nil (NULL) when there
// are none. extra adds markerObservedOutOfRange.
func textArrayLiteral(elems []string, extra bool) any {
	if len(elems) == 0 && !extra {
		return nil
	}
	var b strings.Builder
	b.WriteByte('{')
	write := func(e string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for i := 0; i < len(e); i++ {
			if c := e[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(e[i])
		}
		b.WriteByte('"')
	}
	for _, e := range elems {
		write(e)
	}
	if extra {
		write(markerObservedOutOfRange)
	}
	b.WriteByte('}')
	return b.String()
}
