package pgschema

// Column is a column a writer fills.
type Column struct {
	Name string
	// Type is the column's Postgres type, as in CREATE TABLE.
	Type string
}

// columns are the columns of the audit table that writers fill, in the
// order of the COPY and INSERT column lists of [WriterStatements]. The table
// has one more, ingested_at, filled by its default (now()).
var columns = []Column{
	{"created_at", "timestamptz"},
	{"event_id", "uuid"},
	{"action", "text"},
	{"outcome", "text"},
	{"error_type", "text"},
	{"user_id", "text"},
	{"user_name", "text"},
	{"workspace_id", "text"},
	{"ip_address", "inet"},
	{"user_agent", "text"},
	{"session_id", "text"},
	{"resource", "text"},
	{"resource_id", "text"},
	{"details", "jsonb"},
	{"previous_value", "jsonb"},
	{"new_value", "jsonb"},
	{"attributes", "jsonb"},
	{"trace_id", "text"},
	{"span_id", "text"},
	{"service_name", "text"},
	{"sanitized", "text[]"},
	{"observed_at", "timestamptz"},
}

// Columns returns the columns writers fill, in the order of the statements
// of [WriterStatements]: a writer sends its values in this order.
func Columns() []Column {
	return append([]Column(nil), columns...)
}
