package trail

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

//go:embed sql/*.sql
var sqlFS embed.FS

// One template set per store: both files define "search".
var (
	pgTemplates = template.Must(template.New("").Option("missingkey=error").ParseFS(sqlFS, "sql/postgres.sql"))
	chTemplates = template.Must(template.New("").Option("missingkey=error").ParseFS(sqlFS, "sql/clickhouse.sql"))
)

// tmplData is what the statement templates see: names validated and
// quoted, flags of the filters that are set. No value of a filter reaches
// the SQL text; they are bound as parameters.
type tmplData struct {
	Table   string
	Micros  string // ClickHouse: the time in Unix microseconds
	Attrs   string // ClickHouse: attribute keys and values
	Arrival string // ClickHouse: the insert's time, from ingest_version
	Now     string // ClickHouse: the server's time, in Arrival's unit

	Workspace, Actor, Subject, ResourceType, ResourceID bool
	Action, ActionPrefix, Outcome, ClientIP             bool
	Since, Until, After, Desc                           bool

	// ClickHouse: Bounds when time bounds in seconds are exact (the
	// compat layout), Window when the page's ids are looked for after
	// @window_s only.
	Bounds, Window bool
}

func newTmplData(table string, f Filter, after bool, order Order) tmplData {
	_, prefix := f.actionPrefix()
	return tmplData{
		Table: table, Workspace: f.Workspace != "", Actor: f.Actor != "", Subject: f.Subject != "",
		ResourceType: f.ResourceType != "", ResourceID: f.ResourceID != "",
		Action: f.Action != "", ActionPrefix: prefix, Outcome: f.Outcome != "", ClientIP: f.ClientIP != "",
		Since: !f.Since.IsZero(), Until: !f.Until.IsZero(), After: after, Desc: order == NewestFirst,
	}
}

func render(t *template.Template, name string, d tmplData) (string, error) {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, d); err != nil {
		return "", fmt.Errorf("trail: render %s: %w", name, err)
	}
	return b.String(), nil
}

// filterArgs are the values of the filters that are set, by parameter
// name.
func filterArgs(f Filter) map[string]any {
	args := map[string]any{}
	set := func(name, v string) {
		if v != "" {
			args[name] = v
		}
	}
	set("workspace", f.Workspace)
	set("actor", f.Actor)
	set("subject", f.Subject)
	if f.Subject != "" {
		args["user_type"] = UserResourceType
	}
	set("resource_type", f.ResourceType)
	set("resource_id", f.ResourceID)
	if p, ok := f.actionPrefix(); ok {
		args["action"] = p
	} else {
		set("action", f.Action)
	}
	set("outcome", f.Outcome)
	set("client_ip", f.ClientIP)
	return args
}
