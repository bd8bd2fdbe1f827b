package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// printed is one table of the demo's output, as printed.
type printed struct {
	notes  []string
	header []string
	rows   [][]string
}

var cellSep = regexp.MustCompile(`\s{2,}`)

// parseTables reads the "== name" sections of the output: notes indented
// by three spaces, then the header and rows indented by two, cells at
// least two spaces apart.
func parseTables(t *testing.T, out string) map[string]*printed {
	t.Helper()
	tables := map[string]*printed{}
	var cur *printed
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case strings.HasPrefix(line, "== "):
			name := strings.TrimPrefix(line, "== ")
			require.NotContains(t, tables, name, "two tables named %q", name)
			cur = &printed{}
			tables[name] = cur
		case cur == nil:
		case strings.HasPrefix(line, "   "):
			cur.notes = append(cur.notes, strings.TrimSpace(line))
		case strings.HasPrefix(line, "  ") && line != "  (no rows)":
			cells := cellSep.Split(strings.TrimSpace(line), -1)
			if cur.header == nil {
				cur.header = cells
				continue
			}
			require.Len(t, cells, len(cur.header), "row %q of a table with columns %v", line, cur.header)
			cur.rows = append(cur.rows, cells)
		default:
			cur = nil
		}
	}
	return tables
}

// tableNamed returns the named table, which must have been printed.
func tableNamed(t *testing.T, tables map[string]*printed, name string) *printed {
	t.Helper()
	p, ok := tables[name]
	require.True(t, ok, "no table %q in the output", name)
	return p
}

// col returns the named column of every row.
func (p *printed) col(t *testing.T, name string) []string {
	t.Helper()
	i := -1
	for j, h := range p.header {
		if h == name {
			i = j
		}
	}
	require.GreaterOrEqual(t, i, 0, "no column %q in %v", name, p.header)
	var out []string
	for _, r := range p.rows {
		out = append(out, r[i])
	}
	return out
}

// sumCol adds up a column of whole numbers.
func (p *printed) sumCol(t *testing.T, name string) int {
	t.Helper()
	n := 0
	for _, c := range p.col(t, name) {
		n += atoi(t, c)
	}
	return n
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// noteCount reads the N of a note "N <what>...".
func (p *printed) noteCount(t *testing.T, what string) int {
	t.Helper()
	for _, n := range p.notes {
		if i := strings.Index(n, " "+what); i > 0 {
			return atoi(t, n[:i])
		}
	}
	t.Fatalf("no note %q among %q", what, p.notes)
	return 0
}

// actionTotal adds up the services' tallies of an action, of one outcome
// or ("") of both.
func actionTotal(res result, action, outcome string) int {
	n := 0
	for _, tally := range res.Tallies {
		for ao, c := range tally {
			a, o, _ := strings.Cut(ao, "/")
			if a == action && (outcome == "" || o == outcome) {
				n += c
			}
		}
	}
	return n
}

// The demo's core with smaller workloads, on databases of its own: every
// table it prints holds what the services reported, and what the
// databases hold when the test reads them itself.
func TestDemoThroughTheCollector(t *testing.T) {
	if exec.Command(filepath.Join("..", "..", "scripts", "node-service.sh"), "check").Run() != nil && !testenv.Required() {
		t.Skip("node and npm are not on the PATH")
	}
	pgDSN := testenv.PostgresDSN(t)
	chDSN, chDB := testenv.ClickHouseDSN(t)

	var out bytes.Buffer
	cfg := config{
		Root:          filepath.Join("..", ".."),
		Bin:           t.TempDir(),
		PostgresDSN:   pgDSN,
		ClickHouseDSN: chDSN,
		Webportal:     700,
		Backend:       400,
		Node:          500,
		Seed:          7,
		User:          "u-ada",
		Timeout:       4 * time.Minute,
		Out:           &out,
	}
	res, err := run(context.Background(), cfg)
	require.NoError(t, err, "the demo's output:\n%s", out.String())
	t.Logf("the demo's output:\n%s", out.String())

	const want = 700 + 400 + 500
	require.Equal(t, want, res.Total)
	for svc, n := range map[string]int{"webportal": 700, "backend": 400, "node-service": 500} {
		assert.Equal(t, n, sum(res.Tallies[svc]), "%s's tally", svc)
	}

	// What the databases hold, read by the test itself.
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgDSN)
	require.NoError(t, err)
	defer pool.Close()
	pgCount := func(where string, args ...any) int {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs WHERE `+where, args...).Scan(&n))
		return n
	}
	require.Equal(t, want, pgCount("true"), "Postgres rows")
	chOpts, err := testenv.ClickHouseOptions(chDSN)
	require.NoError(t, err)
	ch, err := clickhouse.Open(chOpts)
	require.NoError(t, err)
	defer ch.Close()
	var chRows uint64
	require.NoError(t, ch.QueryRow(ctx, "SELECT count() FROM `"+chDB+"`.audit_logs").Scan(&chRows))
	require.Equal(t, uint64(want), chRows, "ClickHouse rows")

	tables := parseTables(t, out.String())

	t.Run("stored events", func(t *testing.T) {
		p := tableNamed(t, tables, "stored events by action and outcome")
		require.Equal(t, []string{"action", "outcome", "webportal", "backend", "node-service", "postgres", "clickhouse"}, p.header)
		seen := map[string]bool{}
		for _, r := range p.rows {
			if r[0] == "total" {
				assert.Equal(t, []string{"total", "-", "700", "400", "500", strconv.Itoa(want), strconv.Itoa(want)}, r)
				continue
			}
			key := r[0] + "/" + r[1]
			seen[key] = true
			total := 0
			for i, svc := range serviceNames {
				assert.Equal(t, res.Tallies[svc][key], atoi(t, r[2+i]), "%s %s", svc, key)
				total += atoi(t, r[2+i])
			}
			assert.Equal(t, total, atoi(t, r[5]), "%s in Postgres", key)
			assert.Equal(t, total, atoi(t, r[6]), "%s in ClickHouse", key)
			a, o, _ := strings.Cut(key, "/")
			assert.Equal(t, total, pgCount("action = $1 AND outcome = $2", a, o), "%s: the printed count is what Postgres holds", key)
		}
		for _, tally := range res.Tallies {
			for key := range tally {
				assert.True(t, seen[key], "no row for %s", key)
			}
		}
		// Every action of the three services, failures included.
		for _, key := range []string{"login/success", "login/failure", "logout/success", "settings_changed/success",
			"data_export_requested/success", "admin_action/success", "admin_action/failure", "oauth_connected/success",
			"oauth_disconnected/success", "subscription_created/success", "subscription_cancelled/success"} {
			assert.True(t, seen[key], "the workloads recorded no %s", key)
		}
	})

	t.Run("logins and failed logins", func(t *testing.T) {
		p := tableNamed(t, tables, "logins_per_day")
		assert.Equal(t, actionTotal(res, "login", ""), p.sumCol(t, "logins"))
		assert.Equal(t, actionTotal(res, "login", "failure"), p.sumCol(t, "failed"))

		p = tableNamed(t, tables, "failed_logins_by_ip")
		assert.Equal(t, actionTotal(res, "login", "failure"), p.sumCol(t, "failures"))
		ips := p.col(t, "client_ip")
		users := p.col(t, "users")
		for _, attacker := range []string{"203.0.113.66", "198.51.100.23", "192.0.2.200"} {
			i := indexOf(ips, attacker)
			require.GreaterOrEqual(t, i, 0, "password guessing from %s is not in %v", attacker, ips)
			assert.Greater(t, atoi(t, users[i]), 1, "%s tried more than one user", attacker)
			assert.Equal(t, atoi(t, p.col(t, "failures")[i]),
				pgCount("action = 'login' AND outcome = 'failure' AND ip_address = $1::inet", attacker), attacker)
		}
	})

	t.Run("data exports", func(t *testing.T) {
		p := tableNamed(t, tables, "data_exports_per_user")
		assert.Equal(t, actionTotal(res, "data_export_requested", ""), p.sumCol(t, "requested"))
	})

	t.Run("admin actions", func(t *testing.T) {
		p := tableNamed(t, tables, "admin_actions per workspace")
		assert.Equal(t, actionTotal(res, "admin_action", ""), p.sumCol(t, "actions"))
		assert.Equal(t, actionTotal(res, "admin_action", "failure"), p.sumCol(t, "failed"))
		for i, ws := range p.col(t, "workspace_id") {
			assert.Equal(t, pgCount("action = 'admin_action' AND workspace_id = $1", ws), atoi(t, p.col(t, "actions")[i]), ws)
		}

		p = tableNamed(t, tables, "admin_actions")
		assert.Equal(t, pgCount("action = 'admin_action' AND workspace_id = 'ws-acme'"), p.noteCount(t, "admin actions in ws-acme"))
		assert.NotEmpty(t, p.rows)
		assert.LessOrEqual(t, len(p.rows), listRows)
		for _, o := range p.col(t, "outcome") {
			assert.Contains(t, []string{"success", "failure"}, o)
		}
	})

	t.Run("settings changes", func(t *testing.T) {
		p := tableNamed(t, tables, "settings_changes")
		assert.Equal(t, pgCount("action = 'settings_changed' AND workspace_id = 'ws-acme' AND resource_id = 'theme'"),
			p.noteCount(t, "changes of the theme setting"))
		assert.NotEmpty(t, p.rows)
	})

	t.Run("oauth and subscriptions", func(t *testing.T) {
		p := tableNamed(t, tables, "oauth_churn")
		assert.Equal(t, actionTotal(res, "oauth_connected", ""), p.sumCol(t, "connected"))
		assert.Equal(t, actionTotal(res, "oauth_disconnected", ""), p.sumCol(t, "disconnected"))
		for _, r := range p.rows {
			assert.Equal(t, atoi(t, r[1])-atoi(t, r[2]), atoi(t, r[3]), "net of %s", r[0])
		}

		p = tableNamed(t, tables, "subscriptions_per_month")
		assert.Equal(t, actionTotal(res, "subscription_created", ""), p.sumCol(t, "created"))
		assert.Equal(t, actionTotal(res, "subscription_cancelled", ""), p.sumCol(t, "cancelled"))
	})

	t.Run("workspace activity", func(t *testing.T) {
		p := tableNamed(t, tables, "most_active_users")
		require.NotEmpty(t, p.rows)
		assert.LessOrEqual(t, len(p.rows), 5)
		prev := want
		for i, u := range p.col(t, "user_id") {
			n := atoi(t, p.col(t, "events")[i])
			assert.Equal(t, pgCount("workspace_id = 'ws-acme' AND user_id = $1", u), n, u)
			assert.LessOrEqual(t, n, prev, "most active first")
			prev = n
		}

		p = tableNamed(t, tables, "daily_activity")
		got := map[string][2]int{}
		for _, r := range p.rows {
			v := got[r[1]]
			got[r[1]] = [2]int{v[0] + atoi(t, r[2]), v[1] + atoi(t, r[3])}
		}
		wantByAction := map[string][2]int{}
		rows, err := pool.Query(ctx, `SELECT action, count(*), count(*) FILTER (WHERE outcome = 'failure') FROM audit_logs WHERE workspace_id = 'ws-acme' GROUP BY 1`)
		require.NoError(t, err)
		for rows.Next() {
			var a string
			var n, f int
			require.NoError(t, rows.Scan(&a, &n, &f))
			wantByAction[a] = [2]int{n, f}
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, wantByAction, got, "ws-acme's events and failures by action, from the rollup")
	})

	t.Run("one user's trail", func(t *testing.T) {
		n := pgCount("user_id = 'u-ada'")
		require.Positive(t, n)
		// The subject access query also finds the admin actions done to
		// the user.
		asTarget := pgCount("resource = 'user' AND resource_id = 'u-ada' AND user_id IS DISTINCT FROM 'u-ada'")
		p := tableNamed(t, tables, "user_activity")
		assert.Equal(t, n+asTarget, p.noteCount(t, "events of u-ada as actor or as target"), "user_activity (ClickHouse)")
		assert.Len(t, p.rows, listRows)

		p = tableNamed(t, tables, "u-ada's trail in Postgres")
		assert.Equal(t, n, p.noteCount(t, "events of u-ada"))
		assert.Len(t, p.rows, trailPerService*len(serviceNames), "the last events of each service")
		for _, svc := range serviceNames {
			assert.Equal(t, trailPerService, count(p.col(t, "service"), svc), svc)
		}
	})
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}
