package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// table is one section of the report: a title line ("== name"), notes, and
// rows aligned in columns at least two spaces apart. An empty cell prints
// as "-", so that every row has all its columns.
type table struct {
	name   string
	notes  []string
	header []string
	rows   [][]string
}

// maxCell is the widest a cell prints; longer values are cut with "…".
const maxCell = 48

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "\n== %s\n", t.name)
	for _, n := range t.notes {
		fmt.Fprintf(w, "   %s\n", n)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(cells []string) {
		out := make([]string, len(cells))
		for i, c := range cells {
			c = strings.Join(strings.Fields(c), " ")
			if c == "" {
				c = "-"
			}
			if utf8.RuneCountInString(c) > maxCell {
				c = string([]rune(c)[:maxCell-1]) + "…"
			}
			out[i] = c
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(out, "\t"))
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
	if len(t.rows) == 0 {
		fmt.Fprintln(tw, "  (no rows)")
	}
	tw.Flush()
}

// column returns the index of the named column, or -1.
func (t *table) column(name string) int {
	for i, h := range t.header {
		if h == name {
			return i
		}
	}
	return -1
}

// last keeps the last n rows and says so in a note.
func (t *table) last(n int, what string) {
	if len(t.rows) > n {
		t.notes = append(t.notes, fmt.Sprintf("%d %s; the last %d:", len(t.rows), what, n))
		t.rows = t.rows[len(t.rows)-n:]
		return
	}
	t.notes = append(t.notes, fmt.Sprintf("%d %s:", len(t.rows), what))
}

// chTable runs a ClickHouse query and formats its answer, whatever the
// layout's column types; the event_id column is left out (each row is one
// event already).
func chTable(ctx context.Context, conn driver.Conn, name, sql string, args ...any) (*table, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %s: %w", name, err)
	}
	defer rows.Close()
	t := &table{name: name}
	types := rows.ColumnTypes()
	var keep []int
	for i, ct := range types {
		if ct.Name() != "event_id" {
			keep = append(keep, i)
			t.header = append(t.header, ct.Name())
		}
	}
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, fmt.Errorf("clickhouse: %s: %w", name, err)
		}
		row := make([]string, 0, len(keep))
		for _, i := range keep {
			row = append(row, formatValue(types[i].Name(), types[i].DatabaseTypeName(), vals[i]))
		}
		t.rows = append(t.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: %s: %w", name, err)
	}
	return t, nil
}

// formatValue writes one scanned value: dates as dates, times as UTC
// clock times, nanosecond timestamps as times to the millisecond.
func formatValue(column, dbType string, v any) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	x := rv.Interface()
	if column == "time_unix_nano" {
		switch n := x.(type) {
		case int64:
			return clock(time.Unix(0, n))
		case uint64:
			return clock(time.Unix(0, int64(n)))
		}
	}
	switch x := x.(type) {
	case time.Time:
		if strings.HasPrefix(dbType, "Date") && !strings.HasPrefix(dbType, "DateTime") {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.TimeOnly)
	case net.IP:
		return x.String()
	case []byte:
		return string(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(x)
}

// clock writes a time as UTC hours to milliseconds.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }
