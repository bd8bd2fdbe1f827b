package chschema

// Columns of the audit table, in the order the exporter writes them.
var (
	compatColumns = []string{
		"event_id", "time", "time_ns", "action", "workspace_id", "user_id", "user_name",
		"client_ip", "user_agent", "session_id", "resource_type", "resource_id",
		"outcome", "error_type", "details", "previous_value", "new_value",
		"attr_keys", "attr_values", "trace_id", "span_id", "service_name", "sanitized",
	}
	modernColumns = []string{
		"event_id", "time", "action", "workspace_id", "user_id", "user_name",
		"client_ip", "user_agent", "session_id", "resource_type", "resource_id",
		"outcome", "error_type", "details", "previous_value", "new_value",
		"attributes", "trace_id", "span_id", "service_name", "sanitized",
	}
)

// Columns returns the audit table's columns for the layout, in table order
// (nil for LayoutAuto): those an INSERT fills. The table has one more,
// ingest_version, which the server computes (MATERIALIZED) and an INSERT
// cannot set. The caller must not modify the slice.
func Columns(l Layout) []string {
	switch l {
	case LayoutCompat:
		return compatColumns
	case LayoutModern:
		return modernColumns
	}
	return nil
}

// InsertTarget returns the fully quoted name of the table an exporter
// inserts into (the Distributed table on a cluster, which has the plain
// Table name), or an error for invalid options.
func InsertTarget(opts Options) (string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return "", err
	}
	return quote(o.Database, o.Table), nil
}
