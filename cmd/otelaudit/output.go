package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otelaudit/otelaudit/trail"
)

// recordWriter prints records in one of the output formats.
type recordWriter interface {
	write(r trail.Record) error
	// flush ends the output (a JSON array's bracket, a table's columns).
	flush() error
}

func outputFormat(s string, formats ...string) error {
	for _, f := range formats {
		if s == f {
			return nil
		}
	}
	return usagef("--output %q: one of %s", s, strings.Join(formats, ", "))
}

func newRecordWriter(w io.Writer, format string) recordWriter {
	switch format {
	case "json":
		return &jsonArray{w: w}
	case "jsonl":
		return jsonLines{enc: json.NewEncoder(w)}
	case "csv":
		return &csvRecords{w: csv.NewWriter(w)}
	}
	return &tableRecords{w: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

type jsonLines struct{ enc *json.Encoder }

func (j jsonLines) write(r trail.Record) error { return j.enc.Encode(r) }
func (j jsonLines) flush() error               { return nil }

type jsonArray struct {
	w io.Writer
	n int
}

func (j *jsonArray) write(r trail.Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sep := ",\n"
	if j.n == 0 {
		sep = "[\n"
	}
	j.n++
	_, err = fmt.Fprintf(j.w, "%s  %s", sep, b)
	return err
}

func (j *jsonArray) flush() error {
	if j.n == 0 {
		_, err := io.WriteString(j.w, "[]\n")
		return err
	}
	_, err := io.WriteString(j.w, "\n]\n")
	return err
}

// csvColumns are the CSV columns: every field of a record.
var csvColumns = []string{"time", "event_id", "action", "outcome", "error_type", "workspace_id", "user_id", "user_name",
	"client_ip", "user_agent", "session_id", "resource_type", "resource_id", "details", "previous_value", "new_value",
	"attributes", "trace_id", "span_id", "service_name", "sanitized", "ingested_at"}

type csvRecords struct {
	w      *csv.Writer
	header bool
}

func jsonText(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func (c *csvRecords) write(r trail.Record) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvColumns); err != nil {
			return err
		}
	}
	attrs := map[string]string{}
	for _, kv := range r.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	attrText := ""
	if len(attrs) > 0 {
		attrText = jsonText(attrs)
	}
	ingested := ""
	if !r.IngestedAt.IsZero() {
		ingested = r.IngestedAt.Format(time.RFC3339Nano)
	}
	return c.w.Write([]string{
		r.Time.Format(time.RFC3339Nano), r.ID.String(), string(r.Action), r.Outcome.String(), r.Outcome.ErrorType,
		r.Actor.WorkspaceID, r.Actor.UserID, r.Actor.Name, r.Client.IP, r.Client.UserAgent, r.Client.SessionID,
		r.Resource.Type, r.Resource.ID,
		jsonText(trail.JSONValue(r.Details)), jsonText(trail.JSONValue(r.Previous)), jsonText(trail.JSONValue(r.New)),
		attrText, r.TraceID, r.SpanID, r.ServiceName, strings.Join(r.Sanitized, ";"), ingested,
	})
}

func (c *csvRecords) flush() error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvColumns); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

type tableRecords struct {
	w      *tabwriter.Writer
	header bool
}

func (t *tableRecords) write(r trail.Record) error {
	if !t.header {
		t.header = true
		fmt.Fprintln(t.w, "TIME\tACTION\tOUTCOME\tWORKSPACE\tUSER\tRESOURCE\tCLIENT IP\tEVENT ID")
	}
	res := r.Resource.Type
	if r.Resource.ID != "" {
		res += "/" + r.Resource.ID
	}
	out := r.Outcome.String()
	if r.Outcome.ErrorType != "" {
		out += " (" + r.Outcome.ErrorType + ")"
	}
	_, err := fmt.Fprintf(t.w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Format("2006-01-02 15:04:05.000000"),
		r.Action, out, dash(r.Actor.WorkspaceID), dash(r.Actor.UserID), dash(res), dash(r.Client.IP), r.ID)
	return err
}

func (t *tableRecords) flush() error {
	if !t.header {
		fmt.Fprintln(t.w, "(no events)")
	}
	return t.w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeRows prints rows of named columns (the query pack's results).
func writeRows(w io.Writer, format string, cols []string, rows [][]any) error {
	switch format {
	case "json", "jsonl":
		objs := make([]map[string]any, len(rows))
		for i, r := range rows {
			objs[i] = map[string]any{}
			for j, c := range cols {
				objs[i][c] = r[j]
			}
		}
		if format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			if objs == nil {
				objs = []map[string]any{}
			}
			return enc.Encode(objs)
		}
		enc := json.NewEncoder(w)
		for _, o := range objs {
			if err := enc.Encode(o); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return err
		}
		for _, r := range rows {
			rec := make([]string, len(r))
			for j, v := range r {
				rec[j] = cell(v)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, r := range rows {
		cells := make([]string, len(r))
		for j, v := range r {
			cells[j] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if len(rows) == 0 {
		fmt.Fprintln(tw, "(no rows)")
	}
	return tw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05")
	case []string:
		return strings.Join(x, ";")
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return jsonText(x)
	}
	return fmt.Sprint(v)
}
