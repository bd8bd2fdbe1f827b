package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/examples/internal/otlpcapture"
)

// startPortal runs the portal with run(), as main does, sending OTLP to a
// capture server configured through the standard environment variables. It
// returns the portal's base URL, the capture server and a function that
// stops the portal (SIGTERM's path: the context ends) and returns run's
// error.
func startPortal(t *testing.T, cfg config) (string, *otlpcapture.Server, func() error) {
	t.Helper()
	capture := otlpcapture.NewServer(t)
	setOTLPEnv(t, capture)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	cfg.listening = func(a net.Addr) { addrs <- a }
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, testWriter{t}) }()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("run returned before listening: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("portal did not start listening")
	}
	var stopped bool
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			return fmt.Errorf("run did not return")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return base, capture, stop
}

func setOTLPEnv(t *testing.T, capture *otlpcapture.Server) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", capture.Endpoint())
	t.Setenv("OTEL_SERVICE_NAME", "webportal-test")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
	for _, k := range []string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
		if _, ok := os.LookupEnv(k); ok {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// client sends the requests of one browser behind the trusted proxy: its
// address in X-Forwarded-For, a user agent, the session cookie, and a W3C
// traceparent per request.
type client struct {
	t       *testing.T
	base    string
	ip, ua  string
	session string
	traceID string
	n       int
	spans   []string // span id sent with each request, in order
}

func (c *client) do(method, path string, form url.Values, want int) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", c.ua)
	req.Header.Set("X-Forwarded-For", c.ip)
	c.n++
	span := fmt.Sprintf("%016x", 0x1000+c.n)
	req.Header.Set("Traceparent", "00-"+c.traceID+"-"+span+"-01")
	if c.session != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.session})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(c.t, want, resp.StatusCode, "%s %s", method, path)
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			c.session = ck.Value
		}
	}
	if want != http.StatusUnauthorized || path == "/login" {
		c.spans = append(c.spans, span)
	}
}

// want is what one row must hold; JSON fields are compared as JSON.
type want struct {
	action, outcome, errorType string
	user, name, workspace      string
	ip                         string
	session                    string // "" none, "*" the session of the client at that point
	resourceType, resourceID   string
	details, previous, new     string
}

func TestPortalSessionSendsContractRecords(t *testing.T) {
	start := time.Now()
	base, capture, stop := startPortal(t, config{addr: "127.0.0.1:0", trustedProxies: "127.0.0.1", visitors: 1})

	ada := &client{t: t, base: base, ip: "203.0.113.7", ua: "test-browser/1.0", traceID: "4bf92f3577b34da6a3ce929d0e0e4736"}
	ada.do("POST", "/login", url.Values{"user": {"u-ada"}, "password": {"nope"}}, 401)
	ada.do("POST", "/login", url.Values{"user": {"nobody"}, "password": {"x"}}, 401)
	ada.do("PUT", "/settings/theme", url.Values{"value": {"dark"}}, 401) // no session: not recorded
	ada.do("POST", "/login", url.Values{"user": {"u-ada"}, "password": {"pw-u-ada"}}, 204)
	adaSession := ada.session
	require.NotEmpty(t, adaSession)
	ada.do("PUT", "/settings/theme", url.Values{"value": {"dark"}}, 204)
	ada.do("PUT", "/settings/theme", url.Values{"value": {"light"}}, 204)
	ada.do("PUT", "/settings/theme", url.Values{"value": {strings.Repeat("x", 100)}}, 422)
	ada.do("POST", "/exports", url.Values{"format": {"csv"}, "scope": {"profile", "billing"}}, 202)
	ada.do("POST", "/exports", url.Values{"format": {"xlsx"}}, 400)
	ada.do("POST", "/admin/users/u-grace/reset_mfa", url.Values{"ticket": {"SUP-1234"}}, 204)
	ada.do("POST", "/admin/users/u-ken/suspend", nil, 404)
	ada.do("POST", "/logout", nil, 204)

	grace := &client{t: t, base: base, ip: "2001:db8::42", ua: "other-browser/2.0", traceID: "0af7651916cd43dd8448eb211c80319c"}
	grace.do("POST", "/login", url.Values{"user": {"u-grace"}, "password": {"pw-u-grace"}}, 204)
	graceSession := grace.session
	grace.do("POST", "/admin/users/u-alan/suspend", nil, 403)

	require.NoError(t, stop())
	end := time.Now()

	acme := func(w want) want {
		if w.workspace == "" {
			w.workspace = "ws-acme"
		}
		return w
	}
	wants := []want{
		acme(want{action: "login", outcome: "failure", errorType: "invalid_password", user: "u-ada", name: "ada", ip: "203.0.113.7"}),
		{action: "login", outcome: "failure", errorType: "unknown_user", user: "nobody", ip: "203.0.113.7"},
		acme(want{action: "login", outcome: "success", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession}),
		acme(want{action: "settings_changed", outcome: "success", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession,
			resourceType: "setting", resourceID: "theme", new: `"dark"`}),
		acme(want{action: "settings_changed", outcome: "success", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession,
			resourceType: "setting", resourceID: "theme", previous: `"dark"`, new: `"light"`}),
		acme(want{action: "settings_changed", outcome: "failure", errorType: "value_too_long", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession,
			resourceType: "setting", resourceID: "theme", previous: `"light"`, new: `{"bytes":100,"limit":64}`}),
		acme(want{action: "data_export_requested", outcome: "success", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession,
			resourceType: "data_export", resourceID: "exp-000001", details: `{"format":"csv","scope":["profile","billing"]}`}),
		acme(want{action: "data_export_requested", outcome: "failure", errorType: "unsupported_format", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession,
			resourceType: "data_export", details: `{"format":"xlsx","scope":["profile","activity"]}`}),
		acme(want{action: "admin_action", outcome: "success", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession,
			resourceType: "user", resourceID: "u-grace", details: `{"op":"reset_mfa","ticket":"SUP-1234"}`}),
		acme(want{action: "admin_action", outcome: "failure", errorType: "target_not_found", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession,
			resourceType: "user", resourceID: "u-ken", details: `{"op":"suspend"}`}),
		acme(want{action: "logout", outcome: "success", user: "u-ada", name: "ada", ip: "203.0.113.7", session: adaSession}),
		acme(want{action: "login", outcome: "success", user: "u-grace", name: "grace", ip: "2001:db8::42", session: graceSession}),
		acme(want{action: "admin_action", outcome: "failure", errorType: "permission_denied", user: "u-grace", name: "grace", ip: "2001:db8::42", session: graceSession,
			resourceType: "user", resourceID: "u-alan", details: `{"op":"suspend"}`}),
	}
	type sent struct{ trace, span, ua string }
	var sents []sent
	for _, s := range ada.spans {
		sents = append(sents, sent{ada.traceID, s, ada.ua})
	}
	for _, s := range grace.spans {
		sents = append(sents, sent{grace.traceID, s, grace.ua})
	}
	require.Len(t, sents, len(wants))

	assert.Empty(t, capture.Errors(), "requests the capture server could not decode")
	recs := capture.Records()
	require.Len(t, recs, len(wants), "one record per recorded request, and nothing else")
	for _, req := range capture.Requests() {
		assert.Equal(t, "application/x-protobuf", req.ContentType, "otlploghttp sends protobuf")
		assert.Contains(t, req.UserAgent, "OTel Go OTLP over HTTP/protobuf logs exporter")
	}
	rows, err := otlpcapture.Rows(recs)
	require.NoError(t, err)

	ids := map[uuid.UUID]bool{}
	for i, w := range wants {
		rec, row := recs[i], rows[i]
		t.Run(fmt.Sprintf("%02d_%s_%s", i, w.action, w.outcome), func(t *testing.T) {
			// The record as it travelled.
			assert.Equal(t, "audit."+w.action, rec.EventName())
			wantSev := logspb.SeverityNumber_SEVERITY_NUMBER_INFO
			if w.outcome == "failure" {
				wantSev = logspb.SeverityNumber_SEVERITY_NUMBER_WARN
			}
			assert.Equal(t, wantSev, rec.Log.GetSeverityNumber())
			assert.Equal(t, bridge.ScopeName, rec.Scope.GetName())
			assert.Equal(t, "webportal-test", rec.ServiceName())
			assert.Equal(t, "test", otlpcapture.ResourceAttr(rec, "deployment.environment.name").Emit())
			assert.Equal(t, "opentelemetry", otlpcapture.ResourceAttr(rec, "telemetry.sdk.name").Emit())

			// The row the stores would write.
			assert.Equal(t, w.action, row.Action)
			assert.Equal(t, w.outcome, row.Outcome)
			assert.Equal(t, w.errorType, row.ErrorType)
			assert.Equal(t, w.user, row.UserID)
			assert.Equal(t, w.name, row.UserName)
			assert.Equal(t, w.workspace, row.WorkspaceID)
			assert.Equal(t, netip.MustParseAddr(w.ip), row.ClientIP)
			assert.Equal(t, sents[i].ua, row.UserAgent)
			assert.Equal(t, w.session, row.SessionID)
			assert.Equal(t, w.resourceType, row.ResourceType)
			assert.Equal(t, w.resourceID, row.ResourceID)
			assertJSON(t, w.details, row.Details, "details")
			assertJSON(t, w.previous, row.Previous, "previous")
			assertJSON(t, w.new, row.New, "new")
			assert.Equal(t, "webportal-test", row.ServiceName)
			assert.Equal(t, sents[i].trace, row.TraceID.String(), "trace id from the traceparent of a trusted proxy")
			assert.Equal(t, sents[i].span, row.SpanID.String())
			assert.Equal(t, uuid.Version(7), row.EventID.Version(), "a UUIDv7 assigned at emit time")
			assert.False(t, ids[row.EventID], "event id %s given twice", row.EventID)
			ids[row.EventID] = true
			assert.False(t, row.Time.Before(start) || row.Time.After(end), "time %s outside the test", row.Time)
			assert.False(t, row.ObservedTime.IsZero(), "observed time set by the SDK")
			assert.Nil(t, row.Attrs, "no attribute outside the contract")
			assert.Nil(t, row.Sanitized, "nothing for the mapping to change")
		})
	}
}

func assertJSON(t *testing.T, want string, got []byte, field string) {
	t.Helper()
	if want == "" {
		assert.Nil(t, got, "%s: no value", field)
		return
	}
	assert.JSONEq(t, want, string(got), field)
}

func TestWorkloadRecordsExactlyNEventsConcurrentSafe(t *testing.T) {
	const n = 400
	var tally Tally
	capture := otlpcapture.NewServer(t)
	setOTLPEnv(t, capture)
	cfg, err := parseFlags([]string{"-workload", fmt.Sprint(n), "-visitors", "4", "-seed", "7"}, os.Getenv)
	require.NoError(t, err)
	cfg.workloadDone = func(tl Tally) { tally = tl }
	require.NoError(t, run(context.Background(), cfg, testWriter{t}), "run returns once the workload is sent")

	require.Equal(t, n, tally.Total(), "the workload caused exactly the events asked for")
	assert.Empty(t, capture.Errors())
	recs := capture.Records()
	require.Len(t, recs, n, "every event sent, once")
	rows, err := otlpcapture.Rows(recs)
	require.NoError(t, err)

	got := Tally{}
	ids := map[uuid.UUID]bool{}
	workspacesSeen := map[string]bool{}
	attackerFailures := 0
	for _, row := range rows {
		got[row.Action+"/"+row.Outcome]++
		require.False(t, ids[row.EventID], "event id %s twice", row.EventID)
		ids[row.EventID] = true
		assert.Nil(t, row.Sanitized)
		assert.Equal(t, "webportal-test", row.ServiceName)
		assert.True(t, row.ClientIP.IsValid(), "every event has the visitor's address")
		assert.NotEmpty(t, row.UserAgent)
		assert.NotEmpty(t, row.UserID)
		if row.WorkspaceID != "" {
			workspacesSeen[row.WorkspaceID] = true
		} else {
			assert.Equal(t, "unknown_user", row.ErrorType, "only unknown users have no workspace")
		}
		if row.Outcome == "failure" {
			assert.NotEmpty(t, row.ErrorType)
		}
		for _, ip := range attackerIPs {
			if row.ClientIP.String() == ip {
				assert.Equal(t, "login/failure", row.Action+"/"+row.Outcome, "attackers only fail to log in")
				attackerFailures++
			}
		}
	}
	assert.Equal(t, tally, got, "the rows hold the events the workload caused, by action and outcome")
	assert.Len(t, workspacesSeen, len(workspaces), "every workspace")
	assert.Positive(t, attackerFailures, "failed logins from the attackers' addresses")
	for _, k := range []string{"login/success", "login/failure", "logout/success", "settings_changed/success", "data_export_requested/success", "admin_action/success", "admin_action/failure"} {
		assert.Positive(t, got[k], "the workload covers %s", k)
	}
}

func TestParseFlagsFromEnvironment(t *testing.T) {
	env := map[string]string{"WEBPORTAL_ADDR": ":9999", "WEBPORTAL_WORKLOAD": "25", "OTELAUDIT_TRUSTED_PROXIES": "10.0.0.0/8"}
	cfg, err := parseFlags(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, ":9999", cfg.addr)
	assert.Equal(t, 25, cfg.workload)
	assert.Equal(t, "10.0.0.0/8", cfg.trustedProxies)

	cfg, err = parseFlags([]string{"-workload", "3"}, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, 3, cfg.workload, "a flag wins over the environment")

	env["WEBPORTAL_WORKLOAD"] = "many"
	_, err = parseFlags(nil, func(k string) string { return env[k] })
	assert.ErrorContains(t, err, "WEBPORTAL_WORKLOAD")
}

func TestHealthcheck(t *testing.T) {
	base, _, _ := startPortal(t, config{addr: "127.0.0.1:0", visitors: 1})
	u, err := url.Parse(base)
	require.NoError(t, err)
	require.NoError(t, run(context.Background(), config{healthcheck: true, addr: u.Host}, io.Discard))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	assert.Error(t, run(context.Background(), config{healthcheck: true, addr: addr}, io.Discard), "nothing listens there")
}
