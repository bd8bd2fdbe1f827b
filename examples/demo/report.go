package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/otelaudit/otelaudit/schema/chschema"
)

// serviceNames are the services of the demo, in the report's column order.
var serviceNames = []string{"webportal", "backend", "node-service"}

// The lengths of the report's event lists.
const (
	listRows        = 8
	trailPerService = 4
)

// report prints the stored events by action and service, the answers of
// the query pack, and one user's trail. It returns an error when a store's
// counts differ from what the services reported.
func report(ctx context.Context, out io.Writer, st *stores, res result, user string, began time.Time) error {
	fmt.Fprintf(out, "==> the answers, read back from Postgres and ClickHouse (%s layout); times are UTC\n", st.layout)
	events, err := st.storedEvents(ctx, res)
	if events != nil {
		events.print(out)
	}
	if err != nil {
		return err
	}

	// The window of the queries: the hour of the demo, to the second.
	from := began.UTC().Truncate(time.Hour)
	to := time.Now().UTC().Add(time.Hour).Truncate(time.Hour)
	fromDay, toDay := from.Truncate(24*time.Hour), to.Truncate(24*time.Hour).Add(24*time.Hour)
	now := time.Now().UTC().Add(time.Minute).Truncate(time.Second)

	var workspace string
	if err := st.pool.QueryRow(ctx, `SELECT workspace_id FROM audit_logs WHERE user_id = $1 AND workspace_id <> '' LIMIT 1`, user).Scan(&workspace); err != nil {
		return fmt.Errorf("postgres: the workspace of %s: %w", user, err)
	}

	type run struct {
		query  string
		params []param
		list   string // "" for an aggregate; else what the rows are, and only the last listRows print
	}
	runs := []run{
		{query: "logins_per_day", params: []param{{"from", fromDay}, {"to", toDay}}},
		{query: "failed_logins_by_ip", params: []param{{"now", now}, {"min_failures", uint64(1)}}},
		{query: "data_exports_per_user", params: []param{{"from", from}, {"to", to}}},
		{query: "admin_actions", params: []param{{"workspace", workspace}, {"from", from}, {"to", to}}, list: "admin actions in " + workspace},
		{query: "settings_changes", params: []param{{"workspace", workspace}, {"resource_id", "theme"}}, list: "changes of the theme setting in " + workspace},
		{query: "oauth_churn", params: []param{{"from", from}, {"to", to}}},
		{query: "subscriptions_per_month", params: []param{{"from", from}, {"to", to}}},
		{query: "most_active_users", params: []param{{"workspace", workspace}, {"from", from}, {"to", to}, {"limit", uint64(5)}}},
		{query: "daily_activity", params: []param{{"workspace", workspace}, {"from", fromDay}, {"to", toDay}}},
		{query: "user_activity", params: []param{{"user_id", user}, {"from", from}, {"to", to}}, list: "events of " + user + " as actor or as target"},
	}
	for _, r := range runs {
		if r.query == "admin_actions" {
			t, err := st.adminActionsPerWorkspace(ctx, from, to)
			if err != nil {
				return err
			}
			t.print(out)
		}
		q, err := chschema.QueryByName(st.layout, st.schema, r.query)
		if err != nil {
			return err
		}
		t, err := chTable(ctx, st.ch, q.Name, q.SQL, args(r.params)...)
		if err != nil {
			return err
		}
		t.notes = append(t.notes, q.Question, describe(r.params))
		if r.list != "" {
			t.last(listRows, r.list)
		}
		t.print(out)
	}

	trail, err := st.trail(ctx, user)
	if err != nil {
		return err
	}
	trail.print(out)
	return nil
}

// param is a named parameter of a query of the pack.
type param struct {
	name  string
	value any
}

func args(ps []param) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = clickhouse.Named(p.name, p.value)
	}
	return out
}

// describe writes the parameters as "@name = value, ...".
func describe(ps []param) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		v := fmt.Sprint(p.value)
		if t, ok := p.value.(time.Time); ok {
			v = t.Format(time.DateTime)
		}
		parts[i] = fmt.Sprintf("@%s = %s", p.name, v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// storedEvents counts the rows of both stores by action and outcome, and
// those of Postgres by service as well, and checks them against what the
// services reported.
func (st *stores) storedEvents(ctx context.Context, res result) (*table, error) {
	type key struct{ action, outcome string }
	bySvc := map[key]map[string]int{}
	rows, err := st.pool.Query(ctx, `SELECT action, outcome, coalesce(service_name, ''), count(*) FROM audit_logs GROUP BY 1, 2, 3`)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	for rows.Next() {
		var k key
		var svc string
		var n int
		if err := rows.Scan(&k.action, &k.outcome, &svc, &n); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		if bySvc[k] == nil {
			bySvc[k] = map[string]int{}
		}
		bySvc[k][svc] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	inCH := map[key]int{}
	chRows, err := st.ch.Query(ctx, fmt.Sprintf("SELECT action, outcome, count() FROM `%s`.`audit_logs` GROUP BY action, outcome", st.schema.Database))
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	defer chRows.Close()
	for chRows.Next() {
		var k key
		var n uint64
		if err := chRows.Scan(&k.action, &k.outcome, &n); err != nil {
			return nil, fmt.Errorf("clickhouse: %w", err)
		}
		inCH[k] = int(n)
	}
	if err := chRows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}

	keys := slices.Collect(maps.Keys(bySvc))
	for k := range inCH {
		if _, ok := bySvc[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return strings.Compare(a.action+"/"+a.outcome, b.action+"/"+b.outcome)
	})
	t := &table{
		name:   "stored events by action and outcome",
		notes:  []string{"per service (its OTEL_SERVICE_NAME, in Postgres's service_name) and in each store"},
		header: append(append([]string{"action", "outcome"}, serviceNames...), "postgres", "clickhouse"),
	}
	var mismatches []error
	totals := make([]int, len(serviceNames)+2)
	for _, k := range keys {
		row := []string{k.action, k.outcome}
		pg := 0
		for i, svc := range serviceNames {
			n := bySvc[k][svc]
			row = append(row, strconv.Itoa(n))
			totals[i] += n
			if want := res.Tallies[svc][k.action+"/"+k.outcome]; n != want {
				mismatches = append(mismatches, fmt.Errorf("%s %s/%s: %d rows in Postgres, %d events reported", svc, k.action, k.outcome, n, want))
			}
		}
		for _, n := range bySvc[k] {
			pg += n
		}
		if pg != inCH[k] {
			mismatches = append(mismatches, fmt.Errorf("%s/%s: %d rows in Postgres, %d in ClickHouse", k.action, k.outcome, pg, inCH[k]))
		}
		totals[len(serviceNames)] += pg
		totals[len(serviceNames)+1] += inCH[k]
		t.rows = append(t.rows, append(row, strconv.Itoa(pg), strconv.Itoa(inCH[k])))
	}
	total := []string{"total", ""}
	for _, n := range totals {
		total = append(total, strconv.Itoa(n))
	}
	t.rows = append(t.rows, total)
	for _, svc := range serviceNames {
		for ao, want := range res.Tallies[svc] {
			action, outcome, _ := strings.Cut(ao, "/")
			if _, ok := bySvc[key{action, outcome}]; !ok && want > 0 {
				mismatches = append(mismatches, fmt.Errorf("%s %s: no rows in Postgres, %d events reported", svc, ao, want))
			}
		}
	}
	if len(mismatches) > 0 {
		return t, fmt.Errorf("the stores do not hold what the services reported: %w", errors.Join(mismatches...))
	}
	t.notes = append(t.notes, "every count equal to what the service reported, and Postgres equal to ClickHouse:")
	return t, nil
}

// adminActionsPerWorkspace runs the pack's admin_actions for each
// workspace and sums its answers.
func (st *stores) adminActionsPerWorkspace(ctx context.Context, from, to time.Time) (*table, error) {
	q, err := chschema.QueryByName(st.layout, st.schema, "admin_actions")
	if err != nil {
		return nil, err
	}
	var workspaces []string
	rows, err := st.pool.Query(ctx, `SELECT DISTINCT workspace_id FROM audit_logs WHERE action = 'admin_action' AND workspace_id <> '' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	for rows.Next() {
		var ws string
		if err := rows.Scan(&ws); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		workspaces = append(workspaces, ws)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	t := &table{
		name:   "admin_actions per workspace",
		notes:  []string{"the pack's admin_actions for each workspace, summed", describe([]param{{"from", from}, {"to", to}})},
		header: []string{"workspace_id", "actions", "failed", "by_users", "target_users"},
	}
	for _, ws := range workspaces {
		a, err := chTable(ctx, st.ch, q.Name, q.SQL, args([]param{{"workspace", ws}, {"from", from}, {"to", to}})...)
		if err != nil {
			return nil, err
		}
		failed, by, targets := 0, map[string]bool{}, map[string]bool{}
		oc, uc, rc := a.column("outcome"), a.column("user_id"), a.column("resource_id")
		for _, r := range a.rows {
			if r[oc] == "failure" {
				failed++
			}
			by[r[uc]], targets[r[rc]] = true, true
		}
		t.rows = append(t.rows, []string{ws, strconv.Itoa(len(a.rows)), strconv.Itoa(failed), strconv.Itoa(len(by)), strconv.Itoa(len(targets))})
	}
	return t, nil
}

// trail returns the user's latest events from Postgres, the system of
// record: the last trailPerService recorded by each service, with their
// details (or, for a change, the values before and after).
func (st *stores) trail(ctx context.Context, user string) (*table, error) {
	var total int
	if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE user_id = $1`, user).Scan(&total); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	rows, err := st.pool.Query(ctx, `SELECT created_at, service, action, outcome, client_ip, res, what FROM (
			SELECT created_at, event_id, coalesce(service_name, '') AS service, action, outcome,
				coalesce(host(ip_address), '') AS client_ip,
				coalesce(resource || '/' || resource_id, resource_id, '') AS res,
				coalesce(previous_value::text || ' -> ' || new_value::text, details::text, '') AS what,
				row_number() OVER (PARTITION BY service_name ORDER BY created_at DESC, event_id DESC) AS nth
			FROM audit_logs WHERE user_id = $1) AS latest
		WHERE nth <= $2 ORDER BY created_at, event_id`, user, trailPerService)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	t := &table{
		name: user + "'s trail in Postgres",
		notes: []string{
			"the system of record: one user's events from every service, with details or changes",
			fmt.Sprintf("%d events of %s; the last %d of each service:", total, user, trailPerService),
		},
		header: []string{"time", "service", "action", "outcome", "client_ip", "resource", "details_or_change"},
	}
	for rows.Next() {
		var at time.Time
		r := make([]string, 6)
		if err := rows.Scan(&at, &r[0], &r[1], &r[2], &r[3], &r[4], &r[5]); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		t.rows = append(t.rows, append([]string{clock(at)}, r...))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return t, nil
}
