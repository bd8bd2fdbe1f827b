package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/otelaudit/otelaudit/trail"
)

// searchCheckRows is the size of the dataset TestSearchSeedMatchesExporter
// seeds.
const searchCheckRows = 100_000

// TestSearchSeedMatchesExporter seeds the read benchmarks' dataset at
// searchCheckRows rows in both stores and compares, for each event the
// exporters wrote (searchSampleEvents), a generated row of the same kind
// (action and outcome): the same columns set and empty, and the same
// encodings (a UUIDv7 id, microsecond times, a host address in canonical
// form, a session id of the same shape, details and previous/new values
// as JSON objects of the same keys and value types, in the exporter's
// compact form in ClickHouse). It also checks the dataset's promises
// (searchUser's events as actor and as target, the biggest tenant's
// share) and that both stores hold the same events: searchUser's whole
// export is the same from both, field by field.
func TestSearchSeedMatchesExporter(t *testing.T) {
	const db = "otelaudit_bench_search_check"
	pool := searchPostgres(t, searchCheckRows, db, true)
	conn, opts := searchClickHouse(t, searchCheckRows, db, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sample := searchSampleEvents(searchCheckRows - searchSample)
	ids := make([]string, len(sample))
	for i, e := range sample {
		ids[i] = e.ID.String()
	}

	t.Run("postgres", func(t *testing.T) {
		var cols []string
		rows, err := pool.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = 'audit_logs' ORDER BY ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(cols) < 20 {
			t.Fatalf("audit_logs has %d columns", len(cols))
		}
		// What is compared of each row: every column's NULL-ness, then
		// the encodings.
		var shape []string
		for _, c := range cols {
			shape = append(shape, fmt.Sprintf("'%s=' || (%s IS NULL)::text", c, c))
		}
		jsonShape := func(c string) string {
			return fmt.Sprintf(`'%s=' || coalesce((SELECT string_agg(k || ':' || jsonb_typeof(v), ',' ORDER BY k) FROM jsonb_each(%s) AS e(k, v)), jsonb_typeof(%s), 'null')`, c, c, c)
		}
		shape = append(shape,
			"'uuid version=' || substr(event_id::text, 15, 1)",
			"'uuid variant=' || (substr(event_id::text, 20, 1) IN ('8', '9', 'a', 'b'))::text",
			"'ip=' || coalesce(family(ip_address)::text || '/' || masklen(ip_address)::text, 'null')",
			"'session=' || coalesce(left(session_id, 2) || length(session_id)::text, 'null')",
			"'agent=' || coalesce((user_agent LIKE 'Mozilla/5.0 (%')::text, 'null')",
			"'service=' || coalesce(service_name, 'null')",
			"'observed after created=' || coalesce((observed_at >= created_at)::text, 'null')",
			jsonShape("details"), jsonShape("previous_value"), jsonShape("new_value"))
		q := "SELECT ARRAY[" + strings.Join(shape, ", ") + "] FROM audit_logs WHERE "
		for _, e := range sample {
			var exported, generated []string
			if err := pool.QueryRow(ctx, q+"event_id = $1", e.ID).Scan(&exported); err != nil {
				t.Fatalf("the exported %s (%s): %v", e.Action, e.ID, err)
			}
			if err := pool.QueryRow(ctx, q+"action = $1 AND outcome = $2 AND resource IS NOT DISTINCT FROM NULLIF($3, '') AND NOT (event_id::text = ANY($4)) LIMIT 1",
				string(e.Action), e.Outcome.String(), e.Resource.Type, ids).Scan(&generated); err != nil {
				t.Fatalf("a generated %s: %v", e.Action, err)
			}
			if !slices.Equal(exported, generated) {
				t.Errorf("%s (%s): the exported row and a generated one differ:\nexported:  %v\ngenerated: %v", e.Action, e.Outcome, exported, generated)
			}
		}
		var sampled int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE event_id::text = ANY($1)", ids).Scan(&sampled); err != nil || sampled != len(ids) {
			t.Fatalf("%d exported rows (%v), want %d", sampled, err, len(ids))
		}
		for _, c := range []struct {
			what     string
			q        string
			min, max float64
		}{
			{"rows", "SELECT count(*) FROM audit_logs", searchCheckRows, searchCheckRows},
			{"the user's events as actor", "SELECT count(*) FROM audit_logs WHERE user_id = '" + searchUser + "'", searchCheckRows/1000 - searchCheckRows/10000, searchCheckRows/1000 - searchCheckRows/10000},
			{"the user's events as target", "SELECT count(*) FROM audit_logs WHERE resource = 'user' AND resource_id = '" + searchUser + "'", searchCheckRows / 10000, searchCheckRows / 10000},
			{"the user's workspaces", "SELECT count(DISTINCT workspace_id) FROM audit_logs WHERE user_id = '" + searchUser + "'", 1, 1},
			{"biggest tenant's share", "SELECT avg((workspace_id = 'ws_0')::int) FROM audit_logs", 0.28, 0.32},
			{"the user's tenant's share", "SELECT avg((workspace_id = '" + searchWorkspace + "')::int) FROM audit_logs", 0.06, 0.09},
			{"share of Monday to Friday", "SELECT avg((extract(isodow FROM created_at AT TIME ZONE 'UTC') <= 5)::int) FROM audit_logs", 0.88, 0.93},
			{"share of 08:00-18:00 UTC", "SELECT avg((extract(hour FROM created_at AT TIME ZONE 'UTC') BETWEEN 8 AND 17)::int) FROM audit_logs", 0.8, 0.85},
			{"share of failed logins", "SELECT avg((outcome = 'failure')::int) FROM audit_logs WHERE action = 'login'", 0.07, 0.09},
			{"mean details of the actions with details", "SELECT avg(length(details::text)) FROM audit_logs WHERE action NOT IN ('login', 'logout')", 150, 350},
			{"distinct users", "SELECT count(DISTINCT user_id) FROM audit_logs", 5000, 100000},
		} {
			var v float64
			if err := pool.QueryRow(ctx, "SELECT ("+c.q+")::float8").Scan(&v); err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if v < c.min || v > c.max {
				t.Errorf("%s: %v, want %v to %v", c.what, v, c.min, c.max)
			}
		}
	})

	t.Run("clickhouse", func(t *testing.T) {
		from := "`" + opts.Database + "`.audit_logs"
		read := func(where string, args ...any) map[string]any {
			t.Helper()
			rows, err := conn.Query(ctx, "SELECT * FROM "+from+" WHERE "+where+" LIMIT 1", args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Next() {
				t.Fatalf("no row where %s %v", where, args)
			}
			cts := rows.ColumnTypes()
			ptrs := make([]any, len(cts))
			for i, ct := range cts {
				ptrs[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out := map[string]any{}
			for i, ct := range cts {
				out[ct.Name()] = reflect.ValueOf(ptrs[i]).Elem().Interface()
			}
			return out
		}
		for _, e := range sample {
			exported := read("event_id = toUUID(?)", e.ID.String())
			generated := read("action = ? AND outcome = ? AND resource_type = ? AND NOT has(?, toString(event_id))",
				string(e.Action), e.Outcome.String(), e.Resource.Type, ids)
			if len(exported) < 20 {
				t.Fatalf("audit_logs has %d columns", len(exported))
			}
			a, b := chShape(t, exported), chShape(t, generated)
			if !slices.Equal(a, b) {
				t.Errorf("%s (%s): the exported row and a generated one differ:\nexported:  %v\ngenerated: %v", e.Action, e.Outcome, a, b)
			}
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+from+" WHERE has(?, toString(event_id))", ids).Scan(&n); err != nil || n != uint64(len(ids)) {
			t.Fatalf("%d exported rows (%v), want %d", n, err, len(ids))
		}
	})

	t.Run("same events in both stores", func(t *testing.T) {
		pg, err := trail.NewPostgres(pool)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := trail.NewClickHouse(conn, trail.WithClickHouseSchema(opts))
		if err != nil {
			t.Fatal(err)
		}
		f := trail.Filter{Subject: searchUser}
		p := trail.Page{Limit: trail.MaxLimit, Order: trail.OldestFirst}
		a, err := pg.Search(ctx, f, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ch.Search(ctx, f, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Records) != searchCheckRows/1000 || len(b.Records) != len(a.Records) {
			t.Fatalf("%d events from Postgres, %d from ClickHouse, want %d", len(a.Records), len(b.Records), searchCheckRows/1000)
		}
		for i := range a.Records {
			x, y := a.Records[i], b.Records[i]
			x.IngestedAt = time.Time{}
			if fmt.Sprint(x.Event, x.TraceID, x.SpanID, x.ServiceName, x.Sanitized) != fmt.Sprint(y.Event, y.TraceID, y.SpanID, y.ServiceName, y.Sanitized) {
				t.Fatalf("event %d differs:\npostgres:   %+v\nclickhouse: %+v", i, x, y)
			}
		}
	})
}

// chShape is what TestSearchSeedMatchesExporter compares of a ClickHouse
// row: which columns are empty, and the encodings.
func chShape(t *testing.T, row map[string]any) []string {
	t.Helper()
	var out []string
	for _, k := range sortedKeys(row) {
		v := reflect.ValueOf(row[k])
		empty := v.IsZero() || (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0
		out = append(out, fmt.Sprintf("%s empty=%v", k, empty))
	}
	id, _ := row["event_id"].(uuid.UUID)
	out = append(out, fmt.Sprintf("uuid version=%d variant=%v", id.Version(), id.Variant()))
	if ns, ok := row["time_ns"].(uint32); ok {
		out = append(out, fmt.Sprintf("time_ns microseconds=%v", ns%1000 == 0 && ns < 1e9))
	}
	ip, _ := row["client_ip"].(string)
	a, err := netip.ParseAddr(ip)
	out = append(out, fmt.Sprintf("ip canonical=%v v4=%v", err == nil && a.String() == ip, a.Is4()))
	s, _ := row["session_id"].(string)
	out = append(out, fmt.Sprintf("session=%.2s%d", s, len(s)))
	for _, k := range []string{"details", "previous_value", "new_value"} {
		js, _ := row[k].(string)
		out = append(out, k+"="+jsonShape(js))
	}
	return out
}

// jsonShape is "" for no JSON, else whether js is in compact form and
// its keys with the kinds of their values.
func jsonShape(js string) string {
	if js == "" {
		return ""
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(js)); err != nil {
		return "not JSON"
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		return "not an object"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s:%T", k, m[k]))
	}
	return fmt.Sprintf("compact=%v %s", compact.String() == js, strings.Join(parts, ","))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
