package chschema

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"
)

//go:embed queries/*.sql
var queryFS embed.FS

// Query is one named question of the analyst query pack, rendered for a
// layout and options.
type Query struct {
	// Name is the file name without its number and extension
	// ("logins_per_day").
	Name string
	// Question is what the query answers, in words.
	Question string
	// Params are the parameters the SQL refers to as @name, each as
	// "name Type". Bind DateTime parameters with [TimeArg]: nanoseconds
	// on the modern layout, whole seconds on the compat layout. (A
	// time.Time bound with clickhouse.Named is whole seconds on both.)
	Params []string
	// FromRollup is true for queries that read the daily rollup rather
	// than the audit table: fast, but a copy of an event inserted from
	// outside the exporter counts twice there until RebuildRollup.
	FromRollup bool
	// SQL is the query, with @name placeholders for clickhouse-go's
	// client-side binding (clickhouse.Named("name", value)); in
	// clickhouse-client, replace each with a literal: `otelaudit query
	// NAME --param name=value --sql` prints the query so.
	SQL string
}

var queryTemplates = template.Must(template.New("").Funcs(template.FuncMap{"timeNanos": func() string { return "" }, "time": timeParam(LayoutCompat)}).
	Option("missingkey=error").ParseFS(queryFS, "queries/*.sql"))

// Queries returns the query pack, rendered for the layout and options, in
// file order. The audit table is Options.Table (the Distributed table on a
// cluster) and the rollup its daily table.
func Queries(l Layout, opts Options) ([]Query, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if l != LayoutCompat && l != LayoutModern {
		return nil, fmt.Errorf("%w: queries need a concrete layout (compat or modern), not %v", ErrInvalidOptions, l)
	}
	t, err := queryTemplates.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(template.FuncMap{"timeNanos": func() string {
		if l == LayoutModern {
			return "toUnixTimestamp64Nano(time)"
		}
		return "toUInt64(time) * 1000000000 + time_ns"
	}, "time": timeParam(l)})
	data := struct {
		Table, Rollup string
		Modern        bool
	}{quote(o.Database, o.Table), quote(o.Database, o.RollupTable()), l == LayoutModern}
	files, err := fs.Glob(queryFS, "queries/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Query
	for _, file := range files {
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, path.Base(file), data); err != nil {
			return nil, fmt.Errorf("chschema: render %s: %w", file, err)
		}
		_, name, _ := strings.Cut(strings.TrimSuffix(path.Base(file), ".sql"), "_")
		q := Query{Name: name}
		var sql []string
		for line := range strings.SplitSeq(buf.String(), "\n") {
			switch {
			case strings.HasPrefix(line, "-- question: "):
				q.Question = strings.TrimPrefix(line, "-- question: ")
			case strings.HasPrefix(line, "-- params: "):
				for p := range strings.SplitSeq(strings.TrimPrefix(line, "-- params: "), ",") {
					q.Params = append(q.Params, strings.TrimSpace(p))
				}
			case line == "-- reads: rollup":
				q.FromRollup = true
			case line == "--" || strings.HasPrefix(line, "-- "):
				// A note on how the query works, for its readers only.
			case strings.TrimSpace(line) != "":
				sql = append(sql, line)
			}
		}
		q.SQL = strings.Join(sql, "\n")
		out = append(out, q)
	}
	return out, nil
}

// timeParam renders a DateTime parameter compared with the time column:
// @name on the compat layout (a DateTime); on the modern layout
// toDateTime64(@name, 9, 'UTC'), so that the column (a DateTime64(9)) is
// compared with a DateTime64 whatever the parameter was bound as: a
// DateTime compared with it makes ClickHouse 26.5 skip rows later within
// the bound's second (see TimeArg).
func timeParam(l Layout) func(name string) string {
	return func(name string) string {
		if l == LayoutModern {
			return "toDateTime64(@" + name + ", 9, 'UTC')"
		}
		return "@" + name
	}
}

// QueryByName returns one query of the pack.
func QueryByName(l Layout, opts Options, name string) (Query, error) {
	qs, err := Queries(l, opts)
	if err != nil {
		return Query{}, err
	}
	for _, q := range qs {
		if q.Name == name {
			return q, nil
		}
	}
	return Query{}, fmt.Errorf("chschema: no query named %q", name)
}
