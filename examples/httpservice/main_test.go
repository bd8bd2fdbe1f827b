package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// TestMain checks that closing the app stops everything it started: the
// journal's loops, the database connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// session runs the README's requests against a, as a browser with a cookie
// jar: a failed login, a login, two settings changes, a refused one, a
// logout.
func session(t *testing.T, a *app) {
	t.Helper()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := srv.Client()
	c.Jar = jar
	do := func(method, path string, form url.Values, want int) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "curl/8.5.0")
		resp, err := c.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, want, resp.StatusCode, "%s %s", method, path)
	}
	do(http.MethodPost, "/login", url.Values{"user": {"ada"}, "password": {"guess"}}, http.StatusUnauthorized)
	do(http.MethodPost, "/login", url.Values{"user": {"ada"}, "password": {"lovelace"}}, http.StatusNoContent)
	do(http.MethodPut, "/settings/theme", url.Values{"value": {"dark"}}, http.StatusNoContent)
	do(http.MethodPut, "/settings/theme", url.Values{"value": {"light"}}, http.StatusNoContent)
	do(http.MethodPut, "/settings/theme", url.Values{"value": {strings.Repeat("x", 100)}}, http.StatusBadRequest)
	do(http.MethodPost, "/logout", nil, http.StatusNoContent)
}

// clock returns a clock that starts at a fixed time and advances one
// second per call.
func clock() func() time.Time {
	t := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

func TestLines(t *testing.T) {
	var out bytes.Buffer
	a, err := newApp(context.Background(), config{out: &out, now: clock()})
	require.NoError(t, err)
	session(t, a)
	require.NoError(t, a.close(context.Background()))

	require.Equal(t, `2026-11-25T09:30:01.000Z  login             failure  user=ada  ip=127.0.0.1  resource=-  error=invalid_password
2026-11-25T09:30:02.000Z  login             success  user=ada  ip=127.0.0.1  resource=-
2026-11-25T09:30:03.000Z  settings_changed  success  user=ada  ip=127.0.0.1  resource=setting/theme
2026-11-25T09:30:04.000Z  settings_changed  success  user=ada  ip=127.0.0.1  resource=setting/theme
2026-11-25T09:30:05.000Z  settings_changed  failure  user=ada  ip=127.0.0.1  resource=setting/theme  error=value_too_long
2026-11-25T09:30:06.000Z  logout            success  user=ada  ip=127.0.0.1  resource=-
`, out.String())
}

// TestReadmeShowsTheOutput keeps README.md's sample output the program's,
// but for the times.
func TestReadmeShowsTheOutput(t *testing.T) {
	var out bytes.Buffer
	a, err := newApp(context.Background(), config{out: &out, now: clock()})
	require.NoError(t, err)
	session(t, a)
	require.NoError(t, a.close(context.Background()))

	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	times := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  `)
	want := times.ReplaceAllString(out.String(), "<time>  ")
	require.Contains(t, times.ReplaceAllString(string(readme), "<time>  "), want)
}

func TestJSON(t *testing.T) {
	var out bytes.Buffer
	a, err := newApp(context.Background(), config{out: &out, json: true})
	require.NoError(t, err)
	session(t, a)
	require.NoError(t, a.close(context.Background()))

	dec := json.NewDecoder(&out)
	var names []string
	for dec.More() {
		var rec struct{ EventName string }
		require.NoError(t, dec.Decode(&rec))
		names = append(names, rec.EventName)
	}
	require.Equal(t, []string{
		"audit.login", "audit.login", "audit.settings_changed", "audit.settings_changed",
		"audit.settings_changed", "audit.logout",
	}, names)
}

func TestInvalidTrustedProxy(t *testing.T) {
	_, err := newApp(context.Background(), config{out: &bytes.Buffer{}, trustedProxies: "10.0.0.0/8,proxy.internal"})
	require.ErrorContains(t, err, `"proxy.internal"`)
}

// TestStores runs the session with both stores configured and reads the
// events back from Postgres and ClickHouse.
func TestStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pgDSN := testenv.PostgresDSN(t)
	chDSN, _ := testenv.ClickHouseDSN(t)

	var out bytes.Buffer
	cfg := config{
		out: &out, now: clock(),
		postgresDSN: pgDSN, clickhouseDSN: chDSN,
		journalDir: filepath.Join(t.TempDir(), "journal"),
	}
	a, err := newApp(ctx, cfg)
	require.NoError(t, err)
	session(t, a)
	// Close delivers the journal to both stores.
	require.NoError(t, a.close(ctx))
	require.Equal(t, 6, strings.Count(out.String(), "\n"))

	want := []stored{
		{"login", "failure", "ada", "127.0.0.1", "curl/8.5.0", "invalid_password", "", "", nil, nil},
		{"login", "success", "ada", "127.0.0.1", "curl/8.5.0", "", "", "", nil, nil},
		{"settings_changed", "success", "ada", "127.0.0.1", "curl/8.5.0", "", "setting", "theme", nil, "dark"},
		{"settings_changed", "success", "ada", "127.0.0.1", "curl/8.5.0", "", "setting", "theme", "dark", "light"},
		{"settings_changed", "failure", "ada", "127.0.0.1", "curl/8.5.0", "value_too_long", "setting", "theme", "light", map[string]any{"bytes": 100.0}},
		{"logout", "success", "ada", "127.0.0.1", "curl/8.5.0", "", "", "", nil, nil},
	}

	pool, err := pgxpool.New(ctx, pgDSN)
	require.NoError(t, err)
	defer pool.Close()
	rows, err := pool.Query(ctx, `SELECT action, outcome, user_id, host(ip_address), user_agent,
		coalesce(error_type, ''), coalesce(resource, ''), coalesce(resource_id, ''),
		coalesce(previous_value::text, ''), coalesce(new_value::text, '')
		FROM audit_logs WHERE service_name = $1 ORDER BY created_at`, serviceName)
	require.NoError(t, err)
	var got []stored
	for rows.Next() {
		var r stored
		var prev, next string
		require.NoError(t, rows.Scan(&r.action, &r.outcome, &r.user, &r.ip, &r.userAgent, &r.errorType, &r.resourceType, &r.resourceID, &prev, &next))
		r.previous, r.new = decode(t, prev), decode(t, next)
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, want, got, "Postgres")

	opts, err := testenv.ClickHouseOptions(chDSN)
	require.NoError(t, err)
	conn, err := clickhouse.Open(opts)
	require.NoError(t, err)
	defer conn.Close()
	chRows, err := conn.Query(ctx, `SELECT action, outcome, user_id, toString(client_ip), user_agent,
		error_type, resource_type, resource_id, previous_value, new_value
		FROM audit_logs WHERE service_name = ? ORDER BY time`, serviceName)
	require.NoError(t, err)
	got = nil
	for chRows.Next() {
		var r stored
		var prev, next string
		require.NoError(t, chRows.Scan(&r.action, &r.outcome, &r.user, &r.ip, &r.userAgent, &r.errorType, &r.resourceType, &r.resourceID, &prev, &next))
		r.previous, r.new = decode(t, prev), decode(t, next)
		got = append(got, r)
	}
	require.NoError(t, chRows.Err())
	require.NoError(t, chRows.Close())
	require.Equal(t, want, got, "ClickHouse")
}

// stored is what TestStores reads back of a row.
type stored struct {
	action, outcome, user, ip, userAgent, errorType, resourceType, resourceID string
	previous, new                                                             any // decoded JSON, nil when none
}

// decode decodes a JSON column, "" meaning none.
func decode(t *testing.T, s string) any {
	t.Helper()
	if s == "" {
		return nil
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}
