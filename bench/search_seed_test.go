package bench

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// The read side's dataset (BenchmarkSearch, BenchmarkExport): searchRows
// events (10,000,000, or OTELAUDIT_SEARCH_ROWS for a quicker run) over the
// searchSpanDays days before today, the same
// events in both stores, generated inside each server (Postgres: INSERT
// ... SELECT from generate_series, ClickHouse: INSERT ... SELECT from
// numbers()), one statement per day, with the skew of a real service:
//
//   - tenants of Zipf-like sizes, as in the query benchmark's dataset
//     (chSeedSQL): ws_0 holds 30% of the events, ws_1 about 7%, ws_500 a
//     few hundred; users of Zipf-like activity within their tenant
//     (u_<ws>_<k>);
//   - a weekly and a daily cycle: a weekend day has a quarter of a
//     weekday's events, and 82% of a day's events fall between 08:00 and
//     18:00 UTC. Times grow with the row number, as a writer appends them;
//   - the actions, outcomes, office and personal addresses, browser user
//     agents, sessions and details (150 to 350 bytes) of chSeedSQL, with
//     previous and new values on settings changes;
//   - searchUser (u_export, a member of searchWorkspace, ws_1) holds
//     exactly searchRows/1,000 events (10,000 of 10M): one row in a
//     thousand, of which one in ten is an administrator's action on its
//     account (u_export as the target, ws_1's admin u_1_0 as the actor),
//     and the others its own actions. searchSample of them (the first
//     rows of that series) are not generated but written through the
//     exporters (postgreslog, clickhouselog) by an Auditor, so that the
//     table holds rows of both origins; TestSearchSeedMatchesExporter
//     checks that they look alike.
//
// The databases outlive the benchmark on purpose (each round of
// scripts/bench.sh runs against the same throwaway servers): they are
// named after the row count and only seeded when they do not hold it.
func searchRows(tb testing.TB) int {
	if s := os.Getenv("OTELAUDIT_SEARCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100_000 || n%10_000 != 0 {
			tb.Fatalf("OTELAUDIT_SEARCH_ROWS=%q: a multiple of 10000, at least 100000", s)
		}
		return n
	}
	return 10_000_000
}

const (
	searchSpanDays  = 80
	searchWorkspace = "ws_1"
	searchUser      = "u_export"
	searchAdmin     = "u_1_0"
	// searchSample is how many of searchUser's events the exporters write.
	searchSample = 10
)

// searchUserEvents is how many events name searchUser as actor or target.
func searchUserEvents(rows int) int { return rows / 1000 }

// searchBase is the seed's first day (midnight UTC): searchSpanDays
// before today, so that the newest events are a few hours old, as in a
// live trail, and every row is in the past and inside the Postgres
// partition window.
func searchBase() time.Time {
	return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -searchSpanDays)
}

// searchDay is one day of the seed: rows lo to lo+count-1.
type searchDay struct {
	start     time.Time
	lo, count int64
}

// searchDays splits rows generated rows over the days, a weekend day
// weighing a quarter of a weekday (largest remainders, so that the counts
// add up to rows).
func searchDays(rows int64) []searchDay {
	base := searchBase()
	weights := make([]float64, searchSpanDays)
	var sum float64
	for i := range weights {
		weights[i] = 1
		if wd := base.AddDate(0, 0, i).Weekday(); wd == time.Saturday || wd == time.Sunday {
			weights[i] = 0.25
		}
		sum += weights[i]
	}
	days := make([]searchDay, searchSpanDays)
	var given int64
	rem := make([]float64, searchSpanDays)
	for i, w := range weights {
		exact := float64(rows) * w / sum
		days[i].count = int64(math.Floor(exact))
		rem[i] = exact - math.Floor(exact)
		given += days[i].count
	}
	for ; given < rows; given++ {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		days[best].count++
		rem[best] = -1
	}
	var lo int64
	for i := range days {
		days[i].start = base.AddDate(0, 0, i)
		days[i].lo = lo
		lo += days[i].count
	}
	return days
}

// dialect writes the generator's expressions for one store: the same
// arithmetic on 64-bit integers and doubles in both, so that both hold
// the same events.
type dialect struct{ pg bool }

func (d dialect) concat(parts ...string) string {
	if d.pg {
		return "(" + strings.Join(parts, " || ") + ")"
	}
	return "concat(" + strings.Join(parts, ", ") + ")"
}

func (d dialect) str(e string) string {
	if d.pg {
		return "(" + e + ")::text"
	}
	return "toString(" + e + ")"
}

// integer is e (a double) truncated to a 64-bit integer.
func (d dialect) integer(e string) string {
	if d.pg {
		return "(" + e + ")::bigint"
	}
	return "toInt64(" + e + ")"
}

// float is e as a double.
func (d dialect) float(e string) string {
	if d.pg {
		return "(" + e + ")::float8"
	}
	return "toFloat64(" + e + ")"
}

// idiv is a / b, rounded down (both non-negative integers).
func (d dialect) idiv(a, b string) string {
	if d.pg {
		return "((" + a + ") / " + b + ")"
	}
	return "intDiv(" + a + ", " + b + ")"
}

func (d dialect) xor(a, b string) string {
	if d.pg {
		return "((" + a + ") # (" + b + "))"
	}
	return "bitXor(" + a + ", " + b + ")"
}

func (d dialect) shr(a string, k int) string {
	if d.pg {
		return "((" + a + ") >> " + strconv.Itoa(k) + ")"
	}
	return "bitShiftRight(" + a + ", " + strconv.Itoa(k) + ")"
}

func (d dialect) ifThen(c, a, b string) string {
	if d.pg {
		return "CASE WHEN " + c + " THEN " + a + " ELSE " + b + " END"
	}
	return "if(" + c + ", " + a + ", " + b + ")"
}

// cases is a chain of conditions and values ending with the default.
func (d dialect) cases(parts ...string) string {
	if d.pg {
		var b strings.Builder
		b.WriteString("CASE")
		for i := 0; i+1 < len(parts); i += 2 {
			b.WriteString(" WHEN " + parts[i] + " THEN " + parts[i+1])
		}
		b.WriteString(" ELSE " + parts[len(parts)-1] + " END")
		return b.String()
	}
	return "multiIf(" + strings.Join(parts, ", ") + ")"
}

func (d dialect) array(items []string) string {
	if d.pg {
		return "(ARRAY[" + strings.Join(items, ", ") + "])"
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// hash is a 32-bit mix (two multiply-xorshift rounds) of the
// non-negative integer x, as an integer in [0, 2^32).
func (d dialect) hash(x string) string {
	a := "(((" + x + ") % 2147483648) * 2654435761 % 4294967296)"
	b := d.xor(a, d.shr(a, 16))
	c := "((" + b + ") * 73244475 % 4294967296)"
	if d.pg {
		return d.xor(c, d.shr(c, 16))
	}
	return "toInt64(" + d.xor(c, d.shr(c, 16)) + ")" // signed, as in Postgres
}

// hex is x (an integer in [0, 16^digits)) in lower-case hex, zero-padded
// to digits.
func (d dialect) hex(x string, digits int) string {
	top := strconv.FormatUint(1<<(4*digits), 10)
	if d.pg {
		return "substr(to_hex((" + x + ") % " + top + " + " + top + "), 2)"
	}
	// hex writes whole bytes: 16^digits has digits+1 hex digits, one
	// more leading zero when that is odd.
	from := "2"
	if digits%2 == 0 {
		from = "3"
	}
	return "substring(lower(hex(toUInt64((" + x + ") % " + top + " + " + top + "))), " + from + ")"
}

// step is a named expression of the generator; later steps refer to
// earlier ones by name.
type step struct{ name, expr string }

// searchSteps are the generator's expressions for the rows of day.
// Column n is the row number.
func searchSteps(d dialect, day searchDay) []step {
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	unit := func(k int) string { return d.float(d.hash("n * 32 + "+strconv.Itoa(k))) + " / 4294967296" }
	agents := make([]string, len(chUserAgents))
	for i, a := range chUserAgents {
		agents[i] = "'" + a + "'"
	}
	ws, usr := "ws", "usr"
	return []step{
		{"u_ws", unit(1)}, {"u_rank", unit(2)}, {"u_user", unit(3)}, {"u_act", unit(4)},
		{"u_fail", unit(5)}, {"u_ip", unit(6)}, {"u_agent", unit(7)},
		{"h_misc", d.hash("n * 32 + 8")}, {"h_sec", d.hash("n * 32 + 9")}, {"h_id", d.hash("n * 32 + 10")},
		// searchUser's rows: every thousandth, but for the first
		// searchSample, which the exporters write.
		{"is_exp", "(n % 1000 = 500 AND n >= " + i64(searchSample*1000) + ")"},
		{"is_tgt", "(is_exp AND n % 10000 = 500)"},
		{"ws_n", d.cases("is_exp", "1", "u_ws < 0.3", "0", d.integer("floor(exp(u_rank * ln(1000)))"))},
		{"n_users", d.cases("ws_n = 0", "30000", "ws_n < 10", "5000", "ws_n < 100", "500", "50")},
		{"user_n", d.integer("floor(exp(u_user * ln(n_users)))") + " - 1"},
		{ws, d.concat("'ws_'", d.str("ws_n"))},
		{usr, d.cases("is_tgt", "'"+searchAdmin+"'", "is_exp", "'"+searchUser+"'",
			d.concat("'u_'", d.str("ws_n"), "'_'", d.str("user_n")))},
		{"user_key", d.ifThen("is_exp", "99999", "user_n") + " * 1000 + ws_n"},
		{"h_user", d.hash("user_key")},
		// The time: the day's rows in order, spread by the inverse of a
		// daily profile (a uniform 30% over 24 hours, 70% over 08-18).
		{"day_frac", d.float("(n - "+i64(day.lo)+") * 2 + 1") + " / " + i64(2*day.count)},
		{"hrs", d.cases("day_frac < 0.1", "day_frac / 0.0125", "day_frac < 0.925", "8 + (day_frac - 0.1) / 0.0825", "18 + (day_frac - 0.925) / 0.0125")},
		{"t_us", i64(day.start.UnixMicro()) + " + " + d.integer("floor(hrs * 3600000000)")},
		{"act", d.ifThen("is_tgt", "'admin_action'",
			d.cases("u_act < 0.40", "'login'", "u_act < 0.60", "'logout'", "u_act < 0.70", "'settings_changed'",
				"u_act < 0.74", "'admin_action'", "u_act < 0.77", "'data_export_requested'", "u_act < 0.80", "'data_export_completed'",
				"u_act < 0.83", "'oauth_connected'", "u_act < 0.85", "'oauth_disconnected'", "u_act < 0.87", "'subscription_created'",
				"u_act < 0.88", "'subscription_cancelled'", "u_act < 0.90", "'data_delete_requested'", "u_act < 0.91", "'data_delete_completed'",
				"'invoice.paid'"))},
		{"failed", "(act = 'login' AND u_fail < 0.08)"},
		{"err", d.cases("NOT failed", "''", "u_fail < 0.056", "'invalid_password'", "u_fail < 0.072", "'mfa_failed'", "'account_locked'")},
		{"offices", d.cases("ws_n = 0", "20", "ws_n < 10", "4", "ws_n < 100", "2", "0")},
		// 172.16.0.0 + ws * 32 + office, or the user's own address in
		// 203.0.0.0/10, now and then another.
		{"ip_n", d.cases("offices > 0 AND u_ip < 0.6", "2886729728 + ws_n * 32 + h_misc % (CASE WHEN offices > 0 THEN offices ELSE 1 END)",
			"u_ip < 0.97", "3405803776 + h_user % 4000000", "3405803776 + h_misc % 4000000")},
		{"agent", d.array(agents) + "[" + d.ifThen("u_agent < 0.9", "h_user", "h_misc") + " % " + strconv.Itoa(len(chUserAgents)) + " + 1]"},
		{"session", d.concat("'s_'", d.hex(d.hash("user_key * 128 + "+i64(int64(day.start.Sub(searchBase())/(24*time.Hour)))), 8), d.hex("h_user", 8))},
		{"req", d.concat(d.hex("h_misc", 8), d.hex("h_sec", 8))},
		{"ticket", d.str("h_misc % 100000")},
		{"res_type", d.cases("act = 'settings_changed'", "'workspace_settings'", "act LIKE 'oauth%'", "'oauth_provider'",
			"act LIKE 'subscription%'", "'subscription'", "act LIKE 'data_export%'", "'data_export'",
			"act LIKE 'data_delete%'", "'data_deletion'", "act = 'admin_action'", "'user'", "act = 'invoice.paid'", "'invoice'", "''")},
		{"res_id", d.cases("is_tgt", "'"+searchUser+"'",
			"act = 'settings_changed'", d.concat(ws, "'/'", d.array([]string{"'security'", "'billing'", "'sso'", "'members'"})+"[h_sec % 4 + 1]"),
			"act LIKE 'oauth%'", d.array([]string{"'google'", "'github'", "'microsoft'", "'slack'", "'okta'"})+"[h_sec % 5 + 1]",
			"act LIKE 'subscription%'", d.concat("'sub_'", d.str("ws_n"), "'_'", d.str("h_sec % 20")),
			"act LIKE 'data_%'", d.concat("'job_'", d.str("n")),
			"act = 'admin_action'", d.concat("'u_'", d.str("ws_n"), "'_'", d.str("h_sec % n_users")),
			"act = 'invoice.paid'", d.concat("'in_'", "req"), "''")},
		{"details", d.cases(
			"act = 'admin_action'", d.concat(`'{"reason":"support ticket escalated by tier 2: the customer asked to change the role of a member during onboarding","ticket":"SEC-'`, "ticket", `'","approved_by":"'`, usr, `'","change":{"field":"role","from":"member","to":"admin"},"source":"admin-console","request_id":"'`, "req", `'"}'`),
			"act LIKE 'data_export%'", d.concat(`'{"format":"json","scope":["profile","activity","billing","documents"],"requested_via":"privacy-portal","delivery":"signed-url","expires_in_hours":72,"ticket":"DSR-'`, "ticket", `'","size_bytes":'`, d.str("h_misc % 500000000"), `',"request_id":"'`, "req", `'"}'`),
			"act = 'settings_changed'", d.concat(`'{"reason":"quarterly access review following the security policy update","ticket":"SEC-'`, "ticket", `'","notify_members":true,"source":"settings-page","request_id":"'`, "req", `'"}'`),
			"act LIKE 'subscription%' OR act = 'invoice.paid'", d.concat(`'{"plan":"'`, d.array([]string{"'team'", "'business'", "'enterprise'"})+"[h_misc % 3 + 1]", `'","seats":'`, d.str("h_misc % 500 + 1"), `',"currency":"EUR","amount_cents":'`, d.str("h_misc % 1000000"), `',"billing_period":"monthly","payment_method":"card","invoice_id":"in_'`, "req", `'"}'`),
			"act LIKE 'oauth%'", d.concat(`'{"scopes":["openid","email","profile","offline_access"],"client_id":"'`, "req", `'","redirect_uri":"https://app.example.com/oauth/callback","grant":"authorization_code","consent":"explicit"}'`),
			"act LIKE 'data_delete%'", d.concat(`'{"scope":"account","requested_via":"privacy-portal","retention_exception":false,"legal_hold":false,"ticket":"DSR-'`, "ticket", `'","request_id":"'`, "req", `'"}'`),
			"failed", d.concat(`'{"attempt":'`, d.str("h_misc % 5 + 1"), `',"mfa_method":"totp"}'`),
			"''")},
		{"prev_val", d.ifThen("act = 'settings_changed'", `'{"mfa_required":false,"session_ttl_hours":24,"allowed_domains":["example.com"]}'`, "''")},
		{"new_val", d.ifThen("act = 'settings_changed'", `'{"mfa_required":true,"session_ttl_hours":8,"allowed_domains":["example.com","example.org"]}'`, "''")},
		// A UUIDv7 of the event's millisecond, as the bridge assigns.
		{"ms", d.idiv("t_us", "1000")},
		{"uid", d.concat(d.hex(d.idiv("ms", "65536"), 8), "'-'", d.hex("ms % 65536", 4), "'-7'", d.hex("h_id % 4096", 3), "'-'",
			d.hex("8 + "+d.idiv("h_id", "4096")+" % 4", 1), d.hex(d.idiv("h_id", "16384")+" % 4096", 3), "'-'", d.hex("h_sec", 8), d.hex("h_misc", 4))},
		// The SDK's observed time: when the bridge emitted the event, a
		// little after it happened.
		{"obs_us", "t_us + h_sec % 200000"},
	}
}

// stepLevels groups steps so that each refers only to steps of earlier
// groups (a name is referred to when it appears as a whole word; a match
// inside a literal only delays a step).
func stepLevels(steps []step) [][]step {
	level := map[string]int{}
	var out [][]step
	for _, s := range steps {
		l := 0
		for name, nl := range level {
			if nl+1 > l && refersTo(s.expr, name) {
				l = nl + 1
			}
		}
		level[s.name] = l
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], s)
	}
	return out
}

func refersTo(expr, name string) bool {
	word := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; ; {
		j := strings.Index(expr[i:], name)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(name)
		if (j == 0 || !word(expr[j-1])) && (end == len(expr) || !word(expr[end])) {
			return true
		}
		i = j + 1
	}
}

// pgSearchSeedSQL is the INSERT of day's rows into the Postgres table.
// Each group of steps is a subquery whose OFFSET 0 keeps the planner from
// pulling it up, so that a step is computed once per row rather than at
// every reference.
func pgSearchSeedSQL(table string, day searchDay) string {
	final := "SELECT timestamptz 'epoch' + t_us * interval '1 microsecond', uid::uuid, act, CASE WHEN failed THEN 'failure' ELSE 'success' END,\n" +
		"    NULLIF(err, ''), usr, NULL, ws, '0.0.0.0'::inet + ip_n, agent, session, NULLIF(res_type, ''), NULLIF(res_id, ''),\n" +
		"    NULLIF(details, '')::jsonb, NULLIF(prev_val, '')::jsonb, NULLIF(new_val, '')::jsonb, NULL,\n" +
		"    NULL, NULL, 'api', NULL, timestamptz 'epoch' + obs_us * interval '1 microsecond'"
	levels := stepLevels(searchSteps(dialect{pg: true}, day))
	// Each level passes on only what a later one or the final SELECT
	// uses.
	later := make([]string, len(levels)) // the text that comes after each level
	text := final
	for i := len(levels) - 1; i >= 0; i-- {
		later[i] = text
		for _, s := range levels[i] {
			text += " " + s.expr
		}
	}
	var known []string
	from := fmt.Sprintf("SELECT g.n FROM generate_series(%d::bigint, %d::bigint) AS g(n)", day.lo, day.lo+day.count-1)
	known = append(known, "n")
	for i, group := range levels {
		var cols []string
		for _, name := range known {
			if refersTo(later[i], name) {
				cols = append(cols, "s."+name)
			}
		}
		for _, s := range group {
			cols = append(cols, s.expr+" AS "+s.name)
			known = append(known, s.name)
		}
		from = "SELECT " + strings.Join(cols, ", ") + "\nFROM (" + from + " OFFSET 0) AS s"
	}
	return `INSERT INTO ` + table + ` (created_at, event_id, action, outcome, error_type, user_id, user_name, workspace_id,
    ip_address, user_agent, session_id, resource, resource_id, details, previous_value, new_value, attributes,
    trace_id, span_id, service_name, sanitized, observed_at)
` + final + `
FROM (` + from + `) AS r`
}

// chSearchSeedSQL is the INSERT of day's rows into the ClickHouse table.
func chSearchSeedSQL(layout chschema.Layout, target string, day searchDay) string {
	steps := searchSteps(dialect{}, day)
	with := make([]string, len(steps))
	for i, s := range steps {
		with[i] = "    " + s.expr + " AS " + s.name
	}
	timeCols := "toDateTime(intDiv(t_us, 1000000)), toUInt32(t_us % 1000000 * 1000),"
	attrCols := "emptyArrayString(), emptyArrayString(),"
	if layout == chschema.LayoutModern {
		timeCols = "fromUnixTimestamp64Nano(t_us * 1000),"
		attrCols = "map(),"
	}
	return `INSERT INTO ` + target + ` (` + strings.Join(chschema.Columns(layout), ", ") + `)
WITH
` + strings.Join(with, ",\n") + `
SELECT toUUID(uid), ` + timeCols + ` act, ws, usr, '', IPv4NumToString(toUInt32(ip_n)), agent, session,
    res_type, res_id, if(failed, 'failure', 'success'), err, details, prev_val, new_val, ` + attrCols + `
    '', '', 'api', emptyArrayString()
FROM (SELECT number + ` + strconv.FormatInt(day.lo, 10) + ` AS n FROM numbers(` + strconv.FormatInt(day.count, 10) + `))`
}

// searchSampleEvents are the events of searchUser that the exporters
// write: the first searchSample rows of its series (n = 500 + 1000k),
// at the times the generator gives those rows, the first an
// administrator's action on its account, the others its own actions of
// the generator's kinds, with ids built from their times.
func searchSampleEvents(rows int64) []otelaudit.Event {
	days := searchDays(rows)
	timeOf := func(n int64) time.Time {
		for _, d := range days {
			if n >= d.lo && n < d.lo+d.count {
				p := float64((n-d.lo)*2+1) / float64(2*d.count)
				var hrs float64
				switch {
				case p < 0.1:
					hrs = p / 0.0125
				case p < 0.925:
					hrs = 8 + (p-0.1)/0.0825
				default:
					hrs = 18 + (p-0.925)/0.0125
				}
				return time.UnixMicro(d.start.UnixMicro() + int64(math.Floor(hrs*3600000000))).UTC()
			}
		}
		return days[len(days)-1].start // not reached: n < rows
	}
	ua := chUserAgents[2]
	client := otelaudit.Client{IP: "203.0.113.77", UserAgent: ua, SessionID: "s_00c0ffee00c0ffee"}
	me := otelaudit.Actor{UserID: searchUser, WorkspaceID: searchWorkspace}
	req := func(k int) string { return fmt.Sprintf("%016x", uint64(k)*0x9e3779b97f4a7c15) }
	kinds := []otelaudit.Event{
		{Action: "admin_action", Actor: otelaudit.Actor{UserID: searchAdmin, WorkspaceID: searchWorkspace},
			Client:   otelaudit.Client{IP: "172.16.0.33", UserAgent: chUserAgents[0], SessionID: "s_0000abcd0000abcd"},
			Resource: otelaudit.Resource{Type: "user", ID: searchUser},
			Details: otelaudit.Value(map[string]any{"reason": "support ticket escalated by tier 2: the customer asked to change the role of a member during onboarding",
				"ticket": "SEC-1", "approved_by": searchAdmin, "change": map[string]any{"field": "role", "from": "member", "to": "admin"},
				"source": "admin-console", "request_id": req(0)})},
		{Action: "login", Actor: me, Client: client},
		{Action: "login", Actor: me, Client: client, Outcome: otelaudit.Failure("invalid_password"),
			Details: otelaudit.Value(map[string]any{"attempt": 2, "mfa_method": "totp"})},
		{Action: "settings_changed", Actor: me, Client: client, Resource: otelaudit.Resource{Type: "workspace_settings", ID: searchWorkspace + "/security"},
			Details: otelaudit.Value(map[string]any{"reason": "quarterly access review following the security policy update", "ticket": "SEC-3",
				"notify_members": true, "source": "settings-page", "request_id": req(3)}),
			Previous: otelaudit.Value(map[string]any{"mfa_required": false, "session_ttl_hours": 24, "allowed_domains": []any{"example.com"}}),
			New:      otelaudit.Value(map[string]any{"mfa_required": true, "session_ttl_hours": 8, "allowed_domains": []any{"example.com", "example.org"}})},
		{Action: "logout", Actor: me, Client: client},
		{Action: "data_export_requested", Actor: me, Client: client, Resource: otelaudit.Resource{Type: "data_export", ID: "job_5500"},
			Details: otelaudit.Value(map[string]any{"format": "json", "scope": []any{"profile", "activity", "billing", "documents"},
				"requested_via": "privacy-portal", "delivery": "signed-url", "expires_in_hours": 72, "ticket": "DSR-5", "size_bytes": 1234567, "request_id": req(5)})},
		{Action: "oauth_connected", Actor: me, Client: client, Resource: otelaudit.Resource{Type: "oauth_provider", ID: "github"},
			Details: otelaudit.Value(map[string]any{"scopes": []any{"openid", "email", "profile", "offline_access"}, "client_id": req(6),
				"redirect_uri": "https://app.example.com/oauth/callback", "grant": "authorization_code", "consent": "explicit"})},
		{Action: "login", Actor: me, Client: client},
		{Action: "invoice.paid", Actor: me, Client: client, Resource: otelaudit.Resource{Type: "invoice", ID: "in_" + req(8)},
			Details: otelaudit.Value(map[string]any{"plan": "business", "seats": 42, "currency": "EUR", "amount_cents": 99000,
				"billing_period": "monthly", "payment_method": "card", "invoice_id": "in_" + req(8)})},
		{Action: "logout", Actor: me, Client: client},
	}
	events := make([]otelaudit.Event, searchSample)
	for k := range events {
		e := kinds[k%len(kinds)]
		e.Time = timeOf(int64(500 + 1000*k))
		e.ID = uuidV7(e.Time, uint64(k))
		events[k] = e
	}
	return events
}

// uuidV7 is a UUIDv7 of t's millisecond with the random bits taken from
// seed, so that both stores get the same ids.
func uuidV7(t time.Time, seed uint64) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	x := seed*0x9e3779b97f4a7c15 + 0x2545f4914f6cdd1d
	for i := 6; i < 16; i++ {
		x ^= x >> 29
		x *= 0xbf58476d1ce4e5b9
		u[i] = byte(x >> 56)
	}
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}

// writeSearchSample writes the sample events through exp with an Auditor,
// as a service would, and fails unless every one was exported.
func writeSearchSample(tb testing.TB, exp sdklog.Exporter, rows int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newPipelineWith(sdklog.NewSimpleProcessor(exp), "api")
	for _, e := range searchSampleEvents(rows) {
		p.auditor.Record(ctx, e)
	}
	if err := p.provider.Shutdown(ctx); err != nil {
		tb.Fatalf("sample: %v", err)
	}
	if n := p.rejected.Load(); n > 0 {
		tb.Fatalf("sample: the Auditor refused %d events", n)
	}
}

// searchPostgres returns a pool on the seeded Postgres database (db, or
// otelaudit_bench_search_<rows> when db is empty), seeding it when it
// does not hold rows rows, or always when fresh.
func searchPostgres(tb testing.TB, rows int, db string, fresh bool) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	// testenv skips or fails (under make bench) when no server is
	// configured; its throwaway database is only used to reach the server.
	dsn := testenv.PostgresDSN(tb)
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close(ctx)
	if db == "" {
		db = fmt.Sprintf("otelaudit_bench_search_%d", rows)
	}
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		tb.Fatal(err)
	}
	if !exists {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			tb.Fatal(err)
		}
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + db
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM audit_logs").Scan(&n); err == nil && n == rows && !fresh {
		return pool
	}
	start := time.Now()
	for _, stmt := range []string{"DROP SCHEMA public CASCADE", "CREATE SCHEMA public"} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := pgschema.Migrate(ctx, pool, pgschema.Options{}); err != nil {
		tb.Fatal(err)
	}
	days := searchDays(int64(rows - searchSample))
	for at := days[0].start; at.Before(time.Now()); {
		ps, err := pgschema.EnsurePartitions(ctx, pool, pgschema.Options{}, at, at, 0)
		if err != nil {
			tb.Fatal(err)
		}
		at = ps[len(ps)-1].Hi
	}
	// The secondary indexes are built once the rows are in, as a bulk
	// load does: building them is a few times faster than maintaining
	// them row by row, and gives the same indexes, if more compact. The
	// primary key stays.
	c, err := pool.Acquire(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Release()
	var names, indexes []string
	ix, err := c.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'audit_logs'
		AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'audit_logs'::regclass) ORDER BY indexname`)
	if err != nil {
		tb.Fatal(err)
	}
	for ix.Next() {
		var name, def string
		if err := ix.Scan(&name, &def); err != nil {
			tb.Fatal(err)
		}
		// The definition of a partitioned index reads ON ONLY, which
		// would leave it invalid, without the partitions' indexes.
		names, indexes = append(names, name), append(indexes, strings.Replace(def, " ON ONLY ", " ON ", 1))
	}
	if err := ix.Err(); err != nil {
		tb.Fatal(err)
	}
	for _, name := range names {
		if _, err := c.Exec(ctx, "DROP INDEX "+pgx.Identifier{name}.Sanitize()); err != nil {
			tb.Fatal(err)
		}
	}
	if len(indexes) < 4 {
		tb.Fatalf("audit_logs has %d secondary indexes", len(indexes))
	}
	// Two connections insert the days, one day per statement.
	next := make(chan searchDay)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for day := range next {
				if _, err := pool.Exec(ctx, pgSearchSeedSQL("audit_logs", day)); err != nil {
					errs <- fmt.Errorf("seed postgres, %s: %w", day.start.Format(time.DateOnly), err)
					cancel()
					return
				}
			}
		})
	}
	for _, day := range days {
		select {
		case next <- day:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	loaded := time.Since(start)
	if _, err := c.Exec(ctx, "SET maintenance_work_mem = '256MB'"); err != nil {
		tb.Fatal(err)
	}
	for _, def := range indexes {
		if _, err := c.Exec(ctx, def); err != nil {
			tb.Fatalf("%s: %v", def, err)
		}
	}
	var invalid int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_index WHERE NOT indisvalid").Scan(&invalid); err != nil || invalid != 0 {
		tb.Fatalf("%d invalid indexes (%v)", invalid, err)
	}
	c.Release()
	exp, err := postgreslog.New(pool)
	if err != nil {
		tb.Fatal(err)
	}
	writeSearchSample(tb, exp, int64(rows-searchSample))
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE audit_logs"); err != nil {
		tb.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM audit_logs").Scan(&n); err != nil || n != rows {
		tb.Fatalf("seeded %d rows (%v), want %d", n, err, rows)
	}
	tb.Logf("seeded %d rows in Postgres in %v (rows loaded in %v)", rows, time.Since(start).Round(time.Millisecond), loaded.Round(time.Millisecond))
	return pool
}

// searchClickHouse returns a connection and the options of the seeded
// ClickHouse table (database db, or otelaudit_bench_search_<rows> when db
// is empty), every partition merged into one part; it seeds the table
// when it does not hold rows rows, or always when fresh.
func searchClickHouse(tb testing.TB, rows int, db string, fresh bool) (driver.Conn, chschema.Options) {
	tb.Helper()
	dsn, _ := testenv.ClickHouseDSN(tb)
	opt, err := testenv.ClickHouseOptions(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	opt.Auth.Database = "default"
	opt.ReadTimeout = 10 * time.Minute
	conn, err := clickhouse.Open(opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if db == "" {
		db = fmt.Sprintf("otelaudit_bench_search_%d", rows)
	}
	opts := chschema.Options{Database: db}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".audit_logs").Scan(&n); err == nil && n == uint64(rows) && !fresh {
		if err := waitMerges(ctx, conn, db); err != nil {
			tb.Fatal(err)
		}
		return conn, opts
	}
	start := time.Now()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		tb.Fatal(err)
	}
	layout, err := chschema.Migrate(ctx, conn, opts)
	if err != nil {
		tb.Fatal(err)
	}
	target, err := chschema.InsertTarget(opts)
	if err != nil {
		tb.Fatal(err)
	}
	for _, day := range searchDays(int64(rows - searchSample)) {
		if err := conn.Exec(ctx, chSearchSeedSQL(layout, target, day)); err != nil {
			tb.Fatalf("seed clickhouse, %s: %v", day.start.Format(time.DateOnly), err)
		}
	}
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts))
	if err != nil {
		tb.Fatal(err)
	}
	writeSearchSample(tb, exp, int64(rows-searchSample))
	if err := optimizeFinal(ctx, conn, db); err != nil {
		tb.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".audit_logs").Scan(&n); err != nil || n != uint64(rows) {
		tb.Fatalf("seeded %d rows (%v), want %d", n, err, rows)
	}
	tb.Logf("seeded %d rows in ClickHouse (%v layout) and merged them in %v", rows, layout, time.Since(start).Round(time.Millisecond))
	return conn, opts
}
