package main

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// params is the repeatable --param k=v flag.
type params map[string]string

func (p params) String() string { return "" }

func (p params) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not name=value", s)
	}
	p[k] = v
	return nil
}

func runQuery(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("query", e)
	var c conn
	c.register(fs, e)
	ps := params{}
	fs.Var(ps, "param", "a parameter, name=value (repeat for each)")
	list := fs.Bool("list", false, "list the queries: name, question, parameters")
	sqlOnly := fs.Bool("sql", false, "print the SQL with the parameters as literals (runs as it is in clickhouse-client), do not run it")
	layoutName := fs.String("layout", "", "compat or modern, for --list and --sql without a connection (default: the table's)")
	output := fs.String("output", "table", "table, json, jsonl or csv")
	// Flags may follow the query's name: parse what comes after it too.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
		if err := parse(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := outputFormat(*output, "table", "json", "jsonl", "csv"); err != nil {
		return err
	}
	if !*list && name == "" {
		return usagef("name a query (otelaudit query --list shows them)")
	}
	defer c.close()

	opts := chschema.Options{Database: c.chDatabase, Table: c.chTable}
	var ch driver.Conn
	layout := chschema.LayoutAuto
	switch *layoutName {
	case "compat":
		layout = chschema.LayoutCompat
	case "modern":
		layout = chschema.LayoutModern
	case "":
	default:
		return usagef("--layout %q: compat or modern", *layoutName)
	}
	if layout == chschema.LayoutAuto || !(*list || *sqlOnly) {
		var err error
		if ch, opts, err = c.clickhouse(ctx); err != nil {
			return err
		}
		if layout == chschema.LayoutAuto {
			if layout, err = chschema.TableLayout(ctx, ch, opts); err != nil {
				return fmt.Errorf("%w: %w", errNotMigrated, err)
			}
		}
	}
	if opts.Database == "" {
		opts.Database = chschema.DefaultDatabase
	}
	if *list {
		qs, err := chschema.Queries(layout, opts)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPARAMETERS\tQUESTION")
		for _, q := range qs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", q.Name, strings.Join(q.Params, ", "), q.Question)
		}
		return tw.Flush()
	}
	q, err := chschema.QueryByName(layout, opts, name)
	if err != nil {
		return usagef("%v (otelaudit query --list shows them)", err)
	}
	sql, err := literalSQL(q, ps, time.Now())
	if err != nil {
		return err
	}
	if *sqlOnly {
		_, err := fmt.Fprintln(e.stdout, sql)
		return err
	}
	cols, rows, err := queryRows(ctx, ch, sql)
	if err != nil {
		return fmt.Errorf("query %s: %w", q.Name, err)
	}
	return writeRows(e.stdout, *output, cols, rows)
}

var paramRE = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`)

// literalSQL replaces each @name of q's SQL with the literal of its value:
// a String quoted and escaped, a DateTime as toDateTime(<Unix seconds>), a
// Date as toDate('YYYY-MM-DD'), a UInt64 as its digits. Values are checked
// against the type first, so nothing but a literal reaches the SQL.
// Times not given default to the last 30 days (from, to) and now.
func literalSQL(q chschema.Query, given params, now time.Time) (string, error) {
	types := map[string]string{}
	for _, p := range q.Params {
		n, t, _ := strings.Cut(p, " ")
		types[n] = t
	}
	for k := range given {
		if _, ok := types[k]; !ok {
			return "", usagef("query %s has no parameter %q (it takes %s)", q.Name, k, strings.Join(q.Params, ", "))
		}
	}
	lits := map[string]string{}
	var missing []string
	for n, t := range types {
		v, ok := given[n]
		if !ok {
			switch {
			case n == "now" || n == "to":
				v, ok = "now", true
			case n == "from":
				v, ok = "30d", true
			}
		}
		if !ok {
			missing = append(missing, n+" "+t)
			continue
		}
		lit, err := literal(t, n, v, now)
		if err != nil {
			return "", err
		}
		lits[n] = lit
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", usagef("query %s needs --param for %s", q.Name, strings.Join(missing, ", "))
	}
	return paramRE.ReplaceAllStringFunc(q.SQL, func(m string) string {
		if l, ok := lits[m[1:]]; ok {
			return l
		}
		return m
	}), nil
}

func literal(typ, name, v string, now time.Time) (string, error) {
	switch typ {
	case "String":
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
		return "'" + r.Replace(v) + "'", nil
	case "UInt64":
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return "", usagef("--param %s=%q: not a UInt64", name, v)
		}
		return strconv.FormatUint(n, 10), nil
	case "DateTime":
		t, err := parseTime("param "+name, v, now)
		if err != nil {
			return "", err
		}
		return "toDateTime(" + strconv.FormatInt(t.Unix(), 10) + ")", nil
	case "Date":
		t, err := parseTime("param "+name, v, now)
		if err != nil {
			return "", err
		}
		return "toDate('" + t.UTC().Format("2006-01-02") + "')", nil
	}
	return "", fmt.Errorf("parameter %s: type %s has no literal form here", name, typ)
}

// queryRows runs sql and reads every row into values of the columns'
// types.
func queryRows(ctx context.Context, ch driver.Conn, sql string) ([]string, [][]any, error) {
	rows, err := ch.Query(ctx, sql)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cts := rows.ColumnTypes()
	cols := rows.Columns()
	var out [][]any
	for rows.Next() {
		dst := make([]any, len(cts))
		for i, ct := range cts {
			dst[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, nil, err
		}
		vals := make([]any, len(dst))
		for i, d := range dst {
			vals[i] = reflect.ValueOf(d).Elem().Interface()
		}
		out = append(out, vals)
	}
	return cols, out, rows.Err()
}
