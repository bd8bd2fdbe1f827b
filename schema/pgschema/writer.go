package pgschema

import "fmt"

// WriterStatements are the statements a writer (the Postgres exporter) runs
// against the audit table named by some [Options], rendered with quoted
// identifiers. The COPY and INSERT statements list [Columns] in order.
type WriterStatements struct {
	// Table is the table's qualified name, schema.table, unquoted, for
	// messages.
	Table string
	// Copy is COPY <table> (columns) FROM STDIN WITH (FORMAT binary).
	Copy string
	// CreateStage creates, unless it exists, the session's temporary staging
	// table: the same columns, no constraints, ON COMMIT DELETE ROWS. Run
	// it inside the transaction that uses the table.
	CreateStage string
	// CopyStage is Copy into the staging table.
	CopyStage string
	// InsertFromStage moves the staged rows into the table with ON CONFLICT
	// DO NOTHING: rows whose (created_at, event_id) is there already are
	// skipped. Its row count is the number of rows inserted.
	InsertFromStage string
	// Insert inserts one row, its values given as parameters in [Columns]
	// order and cast to the columns' types (so they may be sent as text),
	// with ON CONFLICT DO NOTHING: a row whose (created_at, event_id) is
	// there already is skipped, and the row count (1 or 0) says which
	// happened. It needs only INSERT on the table.
	Insert string
	// HoldsLock returns one boolean: whether the session holds a lock of
	// any mode on the table (its own inserts take one, held until its
	// transaction ends). A writer that holds one creates partitions in
	// that transaction rather than waiting for another session to do so.
	HoldsLock string
	// EnsurePartitions takes ($1 from timestamptz, $2 to timestamptz, $3
	// ahead integer) and returns rows (partition, lo, hi, created); see
	// [EnsurePartitions].
	EnsurePartitions string
	// ListPartitions returns rows (partition, lo, hi) in time order.
	ListPartitions string
}

// Writer returns the statements a writer runs for the table named by o.
func Writer(o Options) (WriterStatements, error) {
	o, err := o.withDefaults()
	if err != nil {
		return WriterStatements{}, err
	}
	const file = "sql/writer.sql"
	t, err := parse(o, file)
	if err != nil {
		return WriterStatements{}, fmt.Errorf("pgschema: parse %s: %w", file, err)
	}
	w := WriterStatements{Table: o.Schema + "." + o.Table}
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"copy", &w.Copy},
		{"create_stage", &w.CreateStage},
		{"copy_stage", &w.CopyStage},
		{"insert_from_stage", &w.InsertFromStage},
		{"insert", &w.Insert},
		{"holds_lock", &w.HoldsLock},
		{"ensure_partitions", &w.EnsurePartitions},
		{"list_partitions", &w.ListPartitions},
	} {
		sql, err := execute(t, o, file, s.name)
		if err != nil {
			return WriterStatements{}, err
		}
		*s.dst = sql
	}
	return w, nil
}
