package chschema

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"text/template"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned step of the schema, rendered for a layout.
type Migration struct {
	// Version orders the migrations; 0 is the migrations table itself,
	// which Migrate creates on every run.
	Version int
	// Name is the file name without the version and extension
	// ("audit_logs").
	Name string
	// Statements are the SQL statements, in order, without a trailing
	// semicolon.
	Statements []string
}

// Checksum identifies the rendered SQL of the migration.
func (m Migration) Checksum() string {
	h := sha256.New()
	for _, s := range m.Statements {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// templates holds the parsed migration files, by file name.
var templates = mustParseTemplates()

func mustParseTemplates() *template.Template {
	t := template.New("").Funcs(template.FuncMap{
		// Placeholders: Execute installs the layout's own versions.
		"lc":     func(string) string { return "" },
		"codec":  func(string) string { return "" },
		"engine": func(string, string, ...string) string { return "" },
	}).Option("missingkey=error")
	return template.Must(t.ParseFS(migrationFS, "migrations/*.sql"))
}

// tmplData is what the migration templates see. Every name is a validated
// identifier, quoted with backticks; *Name fields are the bare identifiers
// (for string literals such as ZooKeeper paths).
type tmplData struct {
	Modern  bool
	TTLDays int

	OnCluster    string // " ON CLUSTER `c`" or ""
	Cluster      string // bare cluster name or ""
	DatabaseName string

	Table, TableName           string // the table that stores the rows (local on a cluster)
	Distributed                string // the Distributed table on a cluster, else ""
	Rollup, RollupName         string
	RollupDistributed          string
	RollupMV                   string
	Migrations, MigrationsName string
}

func quote(db, table string) string { return "`" + db + "`.`" + table + "`" }

func newTmplData(l Layout, o Options) tmplData {
	d := tmplData{
		Modern:       l == LayoutModern,
		TTLDays:      o.TTLDays,
		DatabaseName: o.Database,
		Cluster:      o.Cluster,
		OnCluster:    onCluster(o),
	}
	local := ""
	if o.Cluster != "" {
		local = LocalSuffix
		d.Distributed = quote(o.Database, o.Table)
		d.RollupDistributed = quote(o.Database, o.RollupTable())
	}
	d.TableName = o.Table + local
	d.Table = quote(o.Database, d.TableName)
	d.RollupName = o.RollupTable() + local
	d.Rollup = quote(o.Database, d.RollupName)
	d.RollupMV = quote(o.Database, o.RollupTable()+local+"_mv")
	d.MigrationsName = o.MigrationsTable
	d.Migrations = quote(o.Database, o.MigrationsTable)
	return d
}

func funcs(l Layout, o Options) template.FuncMap {
	modern := l == LayoutModern
	return template.FuncMap{
		"lc": func(typ string) string {
			if modern {
				return "LowCardinality(" + typ + ")"
			}
			return typ
		},
		"codec": func(c string) string {
			if modern {
				return " CODEC(" + c + ")"
			}
			return ""
		},
		// engine "Kind" table [args...]: Kind(args), or on a cluster
		// ReplicatedKind(path, replica, args).
		"engine": func(kind, table string, args ...string) string {
			if o.Cluster == "" {
				return kind + "(" + strings.Join(args, ", ") + ")"
			}
			return "Replicated" + kind + "(" + strings.Join(append([]string{"'/clickhouse/tables/{shard}/" + o.Database + "/" + table + "'", "'{replica}'"}, args...), ", ") + ")"
		},
	}
}

// Migrations returns every migration, rendered for the layout and options,
// in version order, the migrations table (version 0) first.
func Migrations(l Layout, opts Options) ([]Migration, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if l != LayoutCompat && l != LayoutModern {
		return nil, fmt.Errorf("%w: DDL needs a concrete layout (compat or modern), not %v", ErrInvalidOptions, l)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	data := newTmplData(l, o)
	t, err := templates.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(funcs(l, o))
	var out []Migration
	for _, file := range names { // fs.Glob sorts: version order
		base := strings.TrimSuffix(path.Base(file), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("chschema: migration file %s is not named NNNN_name.sql", file)
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, path.Base(file), data); err != nil {
			return nil, fmt.Errorf("chschema: render %s: %w", file, err)
		}
		out = append(out, Migration{Version: v, Name: name, Statements: splitStatements(buf.String())})
	}
	return out, nil
}

// DDL returns every statement of every migration, rendered for the layout
// and options, in the order Migrate runs them: what Migrate would execute
// on an empty database.
func DDL(l Layout, opts Options) ([]string, error) {
	ms, err := Migrations(l, opts)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Statements...)
	}
	return out, nil
}

// splitStatements drops comment lines and blank lines and splits the rest at
// lines ending in ";". Statements must not hold ";" at the end of a line
// elsewhere, nor "--" inside string literals at the start of a line.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		line = strings.TrimRight(line, " \t")
		end := strings.HasSuffix(line, ";")
		if end {
			line = strings.TrimSuffix(line, ";")
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
		if end {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
