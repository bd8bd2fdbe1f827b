package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

func TestExportCommand(t *testing.T) {
	c := newCLI(t, false)
	base := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	own := events(6, base) // usr_0 acts in 0 and 3
	target := otelaudit.Event{
		ID: uuid.Must(uuid.NewV7()), Time: base.Add(time.Hour), Action: otelaudit.ActionAdminAction,
		Actor:    otelaudit.Actor{UserID: "admin_1", WorkspaceID: "ws_0"},
		Resource: otelaudit.Resource{Type: "user", ID: "usr_0"},
		Details:  otelaudit.Value(map[string]any{"op": "reset_mfa"}),
	}
	other := otelaudit.Event{ // usr_0 as a resource id of another type: not the user
		ID: uuid.Must(uuid.NewV7()), Time: base.Add(2 * time.Hour), Action: otelaudit.ActionAdminAction,
		Actor: otelaudit.Actor{UserID: "admin_1"}, Resource: otelaudit.Resource{Type: "team", ID: "usr_0"},
	}
	c.write(append(own, target, other)...)
	want := []string{own[0].ID.String(), own[3].ID.String(), target.ID.String()}

	file := filepath.Join(t.TempDir(), "usr_0.jsonl")
	out, errOut, code := c.run("export", "--user", "usr_0", "--out", file, "--operator", "dpo_bob")
	require.Equal(t, exitOK, code, errOut)
	require.Empty(t, out)
	require.Contains(t, errOut, "exported 3 events of user usr_0")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var got []string
	for _, l := range lines(string(b)) {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		got = append(got, m["event_id"].(string))
		if m["event_id"] == target.ID.String() {
			require.Equal(t, map[string]any{"op": "reset_mfa"}, m["details"])
			require.Equal(t, "admin_1", m["user_id"])
		} else {
			require.Equal(t, "curl/8", m["user_agent"], "every field")
			require.NotEmpty(t, m["session_id"])
		}
	}
	require.Equal(t, want, got, "as actor and as target, oldest first")

	// The export is recorded, in both stores.
	var action, actor, rid string
	var details []byte
	require.NoError(t, c.pg.QueryRow(testCtx(t), `SELECT action, user_id, resource_id, details FROM audit_logs
		WHERE action = 'data_export_completed'`).Scan(&action, &actor, &rid, &details))
	require.Equal(t, "dpo_bob", actor)
	require.Equal(t, "usr_0", rid)
	var d map[string]any
	require.NoError(t, json.Unmarshal(details, &d))
	require.EqualValues(t, 3, d["events"])
	var n uint64
	require.NoError(t, c.ch.QueryRow(testCtx(t), "SELECT count() FROM audit_logs WHERE action = 'data_export_completed' AND resource_id = 'usr_0'").Scan(&n))
	require.EqualValues(t, 1, n)

	// CSV, to standard output: the recorded export is now one of the
	// user's events too.
	out, errOut, code = c.run("export", "--user", "usr_0", "--output", "csv")
	require.Equal(t, exitOK, code, errOut)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, csvColumns, recs[0])
	require.Len(t, recs, 1+4)
	require.Equal(t, "data_export_completed", recs[4][2])

	_, errOut, code = c.run("export")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--user is required")
}

func TestTailCommand(t *testing.T) {
	c := newCLI(t, false)
	base := time.Now().UTC().Add(-time.Hour)
	old := events(3, base)
	c.write(old...)

	// Without -f: the newest n, oldest first.
	out, errOut, code := c.run("tail", "-n", "2", "--output", "jsonl")
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, lines(out), 2)
	require.Contains(t, lines(out)[0], old[1].ID.String())
	require.Contains(t, lines(out)[1], old[2].ID.String())

	// -f: the newest, then each new event once, until interrupted.
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"tail", "-f", "-n", "1", "--interval", "20ms", "--output", "jsonl", "--action", "login", "--print-cursor"},
			env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return c.vars[k] }})
	}()
	require.Eventually(t, func() bool { return len(lines(stdout.String())) == 1 }, 30*time.Second, 10*time.Millisecond)
	fresh := events(8, base.Add(time.Minute))
	c.write(fresh[:4]...)
	c.write(fresh[4:]...)
	var logins []string
	for _, ev := range fresh {
		if ev.Action == otelaudit.ActionLogin {
			logins = append(logins, ev.ID.String())
		}
	}
	require.Eventually(t, func() bool { return len(lines(stdout.String())) == 1+len(logins) }, 30*time.Second, 10*time.Millisecond, stdout.String())
	time.Sleep(100 * time.Millisecond) // and nothing more
	cancel()
	require.Equal(t, exitOK, <-done, stderr.String())
	got := lines(stdout.String())
	require.Len(t, got, 1+len(logins))
	require.Contains(t, got[0], old[2].ID.String(), "the newest login before")
	for i, id := range logins {
		require.Contains(t, got[1+i], id)
	}
	cursors := lines(stderr.String())
	require.Len(t, cursors, len(logins))

	// Resume from a cursor: what came after it, once.
	resume := strings.TrimPrefix(cursors[1], "cursor ")
	ctx2, cancel2 := context.WithCancel(testCtx(t))
	var out2 syncBuffer
	done2 := make(chan int, 1)
	go func() {
		done2 <- run(ctx2, []string{"tail", "-f", "--after", resume, "--interval", "20ms", "--output", "jsonl", "--action", "login"},
			env{stdout: &out2, stderr: &stderr, getenv: func(k string) string { return c.vars[k] }})
	}()
	require.Eventually(t, func() bool { return len(lines(out2.String())) == len(logins)-2 }, 30*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	cancel2()
	require.Equal(t, exitOK, <-done2)
	require.Len(t, lines(out2.String()), len(logins)-2)
	require.Contains(t, lines(out2.String())[0], logins[2])
}

func TestQueryCommand(t *testing.T) {
	c := newCLI(t, false)
	now := time.Now().UTC().Truncate(time.Second)
	var evs []otelaudit.Event
	for i := range 5 {
		evs = append(evs, otelaudit.Event{Time: now.Add(-time.Duration(i+1) * time.Minute), Action: otelaudit.ActionLogin,
			Actor: otelaudit.Actor{UserID: "usr_o'brien", WorkspaceID: "ws_0"}, Client: otelaudit.Client{IP: "198.51.100.7"},
			Outcome: otelaudit.Failure("invalid_password")})
	}
	evs = append(evs, otelaudit.Event{Time: now.Add(-time.Minute), Action: otelaudit.ActionLogin,
		Actor: otelaudit.Actor{UserID: "usr_1", WorkspaceID: "ws_1"}, Client: otelaudit.Client{IP: "192.0.2.1"},
		Outcome: otelaudit.Failure("invalid_password")})
	c.write(evs...)

	out, errOut, code := c.run("query", "--list")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "failed_logins_by_ip")
	require.Regexp(t, `\nuser_activity +user_id String, from DateTime, to DateTime +Everything about one user`, out)

	nowArg := now.Add(time.Second).Format(time.RFC3339)
	out, errOut, code = c.run("query", "failed_logins_by_ip", "--param", "now="+nowArg, "--param", "min_failures=2", "--output", "csv")
	require.Equal(t, exitOK, code, errOut)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"client_ip", "failures", "users", "workspaces", "first_seen", "last_seen"}, recs[0])
	require.Len(t, recs, 2, out)
	require.Equal(t, []string{"198.51.100.7", "5", "1", "1"}, recs[1][:4])

	// --sql: literals, and it runs as it is in clickhouse-client, with the
	// same answer.
	sql, errOut, code := c.run("query", "failed_logins_by_ip", "--param", "now="+nowArg, "--param", "min_failures=2", "--sql")
	require.Equal(t, exitOK, code, errOut)
	require.NotContains(t, sql, "@")
	require.Contains(t, sql, "toDateTime(")
	args := append(testenv.ClickHouseClient(t), "--database", c.chDB, "--format", "CSV", "-q", sql)
	res, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, string(res))
	require.True(t, strings.HasPrefix(string(res), `"198.51.100.7",5,1,1,`), string(res))
	require.Len(t, lines(string(res)), 1)

	// A string with a quote is a literal, not SQL.
	sql, errOut, code = c.run("query", "user_activity", "--param", "user_id=usr_o'brien", "--param", "from=1h", "--sql")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, sql, `'usr_o\'brien'`)
	args = append(testenv.ClickHouseClient(t), "--database", c.chDB, "--format", "TSV", "-q", sql)
	res, err = exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, string(res))
	require.Len(t, lines(string(res)), 5)
	out, errOut, code = c.run("query", "user_activity", "--param", "user_id=usr_o'brien", "--param", "from=1h", "--output", "jsonl")
	require.Equal(t, exitOK, code, errOut)
	require.Len(t, lines(out), 5)
	require.Contains(t, lines(out)[0], `"role":"actor"`)

	for _, bad := range [][]string{
		{"query", "no_such_query"},
		{"query", "failed_logins_by_ip", "--param", "min_failures=many"},
		{"query", "failed_logins_by_ip", "--param", "nope=1", "--param", "min_failures=1"},
		{"query", "failed_logins_by_ip"},
		{"query", "failed_logins_by_ip", "--param", "min_failures=1", "--param", "now=yesterday-ish"},
	} {
		_, errOut, code := c.run(bad...)
		require.Equal(t, exitUsage, code, "%v: %s", bad, errOut)
	}
}

func TestRetentionCommand(t *testing.T) {
	c := newCLI(t, false)
	now := time.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	old := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: thisMonth.AddDate(0, -2, 3), Action: otelaudit.ActionLogin}
	recent := otelaudit.Event{ID: uuid.Must(uuid.NewV7()), Time: now.Add(-time.Minute), Action: otelaudit.ActionLogin}
	c.write(old, recent)
	cutoff := thisMonth.AddDate(0, -1, 0).Format("2006-01-02") // the end of the old event's month
	oldPart := old.Time.Format("200601")

	out, errOut, code := c.run("retention", "--before", cutoff, "--dry-run")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: would drop audit_logs_p"+oldPart+" ")
	require.Contains(t, out, "clickhouse: would drop partition "+oldPart+" of ")
	count := func() (pg int, ch uint64) {
		require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT count(*) FROM audit_logs").Scan(&pg))
		require.NoError(t, c.ch.QueryRow(testCtx(t), "SELECT count() FROM audit_logs").Scan(&ch))
		return pg, ch
	}
	pg, ch := count()
	require.Equal(t, 2, pg, "the dry run drops nothing")
	require.EqualValues(t, 2, ch)

	out, errOut, code = c.run("retention", "--before", cutoff)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "postgres: dropped audit_logs_p"+oldPart+" ")
	require.Contains(t, out, "clickhouse: dropped partition "+oldPart+" of ")
	pg, ch = count()
	require.Equal(t, 1, pg)
	require.EqualValues(t, 1, ch)
	var id uuid.UUID
	require.NoError(t, c.pg.QueryRow(testCtx(t), "SELECT event_id FROM audit_logs").Scan(&id))
	require.Equal(t, recent.ID, id, "what is newer stays")

	_, errOut, code = c.run("retention")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--before is required")
}

func TestSealAndVerifyCommands(t *testing.T) {
	c := newCLI(t, false)
	base := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	evs := events(10, base)
	c.write(evs...)
	key := filepath.Join(t.TempDir(), "seal.key")
	out, errOut, code := c.run("keygen", "--out", key)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "public key "+key+".pub")

	out, errOut, code = c.run("seal", "--key", key)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, ": 10 rows, root ")
	require.Contains(t, out, "10 rows (0 late)")

	out, errOut, code = c.run("verify", "--public-key", key+".pub")
	require.Equal(t, exitOK, code, out+errOut)
	require.Contains(t, out, "10 sealed rows checked in 2 stores")
	require.True(t, strings.HasSuffix(out, "OK\n"), out)

	// An edit, by the owner with the triggers off, is found.
	conn, err := c.pg.Acquire(testCtx(t))
	require.NoError(t, err)
	_, err = conn.Exec(testCtx(t), "SET session_replication_role = replica")
	require.NoError(t, err)
	_, err = conn.Exec(testCtx(t), "UPDATE audit_logs SET outcome = 'success', error_type = NULL WHERE event_id = $1", evs[2].ID)
	require.NoError(t, err)
	_, err = conn.Exec(testCtx(t), "RESET session_replication_role")
	require.NoError(t, err)
	conn.Release()
	out, errOut, code = c.run("verify", "--public-key", key+".pub")
	require.Equal(t, exitVerify, code, out+errOut)
	require.Contains(t, out, "edited")
	require.Contains(t, out, evs[2].ID.String())
	require.Contains(t, errOut, "verification failed")

	// Another key (here the private key's seed, 32 bytes like a public
	// key) verifies no signature.
	out, errOut, code = c.run("verify", "--public-key", key)
	require.Equal(t, exitVerify, code, errOut)
	require.Contains(t, out, "bad_signature")
}

func TestBadInvocations(t *testing.T) {
	c := newCLI(t, true) // nothing migrated
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "usage: otelaudit"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"search", "--no-such-flag"}, exitUsage, "flag provided but not defined"},
		{[]string{"search", "--output", "xml"}, exitUsage, `--output "xml"`},
		{[]string{"search", "--outcome", "maybe"}, exitUsage, "outcome"},
		{[]string{"search", "--since", "last tuesday"}, exitUsage, "not a time"},
		{[]string{"search", "--store", "mysql"}, exitUsage, "postgres or clickhouse"},
		{[]string{"search"}, exitNotMigrated, "run otelaudit migrate"},
		{[]string{"search", "--store", "clickhouse"}, exitNotMigrated, "run otelaudit migrate"},
		{[]string{"tail"}, exitNotMigrated, "run otelaudit migrate"},
		{[]string{"export", "--user", "u"}, exitNotMigrated, "run otelaudit migrate"},
		{[]string{"query", "user_activity", "--param", "user_id=u"}, exitNotMigrated, "run otelaudit migrate"},
		{[]string{"retention", "--before", "2020-01-01"}, exitNotMigrated, "run otelaudit migrate"},
		{[]string{"verify", "--public-key", "/nonexistent"}, exitError, "no such file"},
	} {
		_, errOut, code := c.run(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.msg, "%v", tc.args)
	}
	_, errOut, code := c.run("search", "-h")
	require.Equal(t, exitOK, code)
	require.Contains(t, errOut, "-workspace")

	delete(c.vars, envPostgres)
	delete(c.vars, envClickHouse)
	_, errOut, code = c.run("search")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "OTELAUDIT_POSTGRES_DSN")
}

func TestTailClickHouseCommand(t *testing.T) {
	c := newCLI(t, false)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"tail", "-f", "-n", "0", "--store", "clickhouse", "--lag", "1s", "--interval", "50ms", "--output", "jsonl"},
			env{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return c.vars[k] }})
	}()
	time.Sleep(300 * time.Millisecond)
	evs := events(4, time.Now().UTC().Add(-time.Hour))
	c.write(evs...)
	require.Eventually(t, func() bool { return len(lines(stdout.String())) == 4 }, 30*time.Second, 20*time.Millisecond, stderr.String())
	time.Sleep(1500 * time.Millisecond)
	cancel()
	require.Equal(t, exitOK, <-done, stderr.String())
	got := lines(stdout.String())
	require.Len(t, got, 4)
	for i, ev := range evs {
		require.Contains(t, got[i], ev.ID.String())
	}
	_, errOut, code := c.run("tail", "--store", "clickhouse", "--lag", "1ms")
	require.Equal(t, exitUsage, code, errOut)
}
