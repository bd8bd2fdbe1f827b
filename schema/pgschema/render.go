package pgschema

import (
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
)

// sqlFiles holds every SQL text of the package. They are text/template
// templates whose only inputs are identifiers validated by
// [Options.withDefaults], rendered quoted (pgx.Identifier.Sanitize) or as
// literals, and constants of the package.
//
//go:embed sql/migrations/*.sql sql/writer_role.sql sql/reader_role.sql sql/writer.sql sql/migrate.sql
var sqlFiles embed.FS

// Bounds of the partition functions.
const (
	// maxPartitionsPerCall bounds the partitions one call of the partition
	// function looks at, so that a wild range fails at once.
	maxPartitionsPerCall = 400
	// MaxCreatePerCall is the most partitions one call of the partition
	// function (and of [EnsurePartitions]) creates.
	MaxCreatePerCall = 4
	// EnsureLockTimeout bounds each lock wait of the partition function;
	// a caller that waited longer gets SQLSTATE 55P03 and may try again.
	EnsureLockTimeout = 5 * time.Second
	// RetentionLockTimeout bounds each lock wait of retention: inserts
	// that queue behind its wait for the audit table's lock wait at most
	// this long.
	RetentionLockTimeout = 2 * time.Second
)

// tmplData is what the templates see.
type tmplData struct {
	Schema string // quoted schema name
	Table  string // quoted, schema-qualified table name
	Stage  string // quoted name of the writer's temporary staging table

	SchemaLit string // schema name as a SQL string literal
	TableLit  string // table name as a SQL string literal
	// TableRegclass is Table as a SQL string literal, for ::regclass.
	TableRegclass string

	IntervalLit    string // 'month' or 'day'
	IntervalAdverb string // monthly or daily
	StepLit        string // '1 month' or '1 day'
	NameFormatLit  string // to_char pattern of partition suffixes

	PartitionLockKey     int64
	MaxPartitionsPerCall int
	MaxCreatePerCall     int
	// Lock timeouts of the partition functions, as SQL string literals.
	EnsureLockTimeoutLit    string
	RetentionLockTimeoutLit string

	WriterRole    string // quoted
	WriterRoleLit string

	ReaderRole    string // quoted
	ReaderRoleLit string
}

func newTmplData(o Options) tmplData {
	d := tmplData{
		Schema:               pgx.Identifier{o.Schema}.Sanitize(),
		Table:                pgx.Identifier{o.Schema, o.Table}.Sanitize(),
		TableRegclass:        literal(pgx.Identifier{o.Schema, o.Table}.Sanitize()),
		Stage:                pgx.Identifier{"otelaudit_stage_" + o.Table}.Sanitize(),
		SchemaLit:            literal(o.Schema),
		TableLit:             literal(o.Table),
		IntervalLit:          literal(o.Interval.String()),
		IntervalAdverb:       map[Interval]string{Monthly: "monthly", Daily: "daily"}[o.Interval],
		StepLit:              literal("1 " + o.Interval.String()),
		NameFormatLit:        literal(o.Interval.nameFormat()),
		PartitionLockKey:     o.lockKey("partitions"),
		MaxPartitionsPerCall: maxPartitionsPerCall,
		MaxCreatePerCall:     MaxCreatePerCall,

		EnsureLockTimeoutLit:    literal(strconv.FormatInt(EnsureLockTimeout.Milliseconds(), 10) + "ms"),
		RetentionLockTimeoutLit: literal(strconv.FormatInt(RetentionLockTimeout.Milliseconds(), 10) + "ms"),
	}
	if o.WriterRole != "" {
		d.WriterRole = pgx.Identifier{o.WriterRole}.Sanitize()
		d.WriterRoleLit = literal(o.WriterRole)
	}
	if o.ReaderRole != "" {
		d.ReaderRole = pgx.Identifier{o.ReaderRole}.Sanitize()
		d.ReaderRoleLit = literal(o.ReaderRole)
	}
	return d
}

// literal quotes s as a SQL string literal.
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func funcs(o Options) template.FuncMap {
	return template.FuncMap{
		// name "_suffix": the quoted, unqualified name of an object named
		// after the table (indexes are created in the table's schema).
		"name": func(suffix string) string { return pgx.Identifier{o.Table + suffix}.Sanitize() },
		// qname "_suffix": the same, schema-qualified.
		"qname": func(suffix string) string { return pgx.Identifier{o.Schema, o.Table + suffix}.Sanitize() },
		// qlit "_suffix": qname as a SQL string literal, for to_regclass
		// and the like.
		"qlit": func(suffix string) string { return literal(pgx.Identifier{o.Schema, o.Table + suffix}.Sanitize()) },
		// columns: the quoted column list of COPY and INSERT, in
		// Columns order.
		"columns": func() string {
			names := make([]string, len(columns))
			for i, c := range columns {
				names[i] = pgx.Identifier{c.Name}.Sanitize()
			}
			return strings.Join(names, ", ")
		},
		// params: the parameters of one row of an INSERT, in Columns
		// order, each cast to its column's type ($1::timestamptz, ...), so
		// that writers may send every value as text.
		"params": func() string {
			ps := make([]string, len(columns))
			for i, c := range columns {
				ps[i] = "$" + strconv.Itoa(i+1) + "::" + c.Type
			}
			return strings.Join(ps, ", ")
		},
		// columnDefs: the same with their types, for the staging table.
		"columnDefs": func() string {
			defs := make([]string, len(columns))
			for i, c := range columns {
				defs[i] = pgx.Identifier{c.Name}.Sanitize() + " " + c.Type
			}
			return strings.Join(defs, ", ")
		},
	}
}

// parse parses one embedded file for o.
func parse(o Options, file string) (*template.Template, error) {
	text, err := sqlFiles.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return template.New(file).Funcs(funcs(o)).Option("missingkey=error").Parse(string(text))
}

// render renders the named template (the whole file when name is "") of
// one embedded file for o, which must have been validated.
func render(o Options, file, name string) (string, error) {
	t, err := parse(o, file)
	if err != nil {
		return "", fmt.Errorf("pgschema: parse %s: %w", file, err)
	}
	return execute(t, o, file, name)
}

// execute renders the named template (the whole file when name is "") of
// t, the parsed file, for o.
func execute(t *template.Template, o Options, file, name string) (string, error) {
	if name != "" {
		t = t.Lookup(name)
		if t == nil {
			return "", fmt.Errorf("pgschema: %s has no template %q", file, name)
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, newTmplData(o)); err != nil {
		return "", fmt.Errorf("pgschema: render %s: %w", file, err)
	}
	return b.String(), nil
}
