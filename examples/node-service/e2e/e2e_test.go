package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/otelaudit/otelaudit/examples/internal/otlpcapture"
)

const scopeName = "github.com/otelaudit/otelaudit/examples/node-service"

// serviceDir is examples/node-service.
var serviceDir, _ = filepath.Abs("..")

var (
	buildOnce sync.Once
	buildErr  error
	skipMsg   string
)

// required reports whether a missing Node.js must fail the tests.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("OTELAUDIT_TEST_REQUIRE_SERVICES") == "1"
}

// build installs the npm packages when needed and compiles the service,
// once per test binary.
func build(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		script := filepath.Join(serviceDir, "..", "..", "scripts", "node-service.sh")
		if exec.Command(script, "check").Run() != nil && !required() {
			skipMsg = "node and npm are not on the PATH (CI=true or OTELAUDIT_TEST_REQUIRE_SERVICES=1 installs them or fails)"
			return
		}
		cmd := exec.Command(script, "build")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%s build: %w\n%s", script, err, out)
		}
	})
	if skipMsg != "" {
		t.Skip(skipMsg)
	}
	require.NoError(t, buildErr)
}

// service is a running node-service process.
type service struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string   // its standard output, line by line
	exited chan struct{} // closed once the process has ended
	err    error         // its exit status, once exited is closed
	base   string
}

// start runs node dist/main.js with args, sending OTLP to capture.
func start(t *testing.T, capture *otlpcapture.Server, args ...string) *service {
	t.Helper()
	build(t)
	cmd := exec.Command("node", append([]string{"dist/main.js"}, args...)...)
	cmd.Dir = serviceDir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "NODE_SERVICE_") && !strings.HasPrefix(kv, "OTELAUDIT_TRUSTED_PROXIES=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+capture.Endpoint(),
		"OTEL_SERVICE_NAME=node-service-test",
		"OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=test",
	)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &service{t: t, cmd: cmd, lines: make(chan string, 64), exited: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			t.Log("stdout:", sc.Text())
			s.lines <- sc.Text()
		}
		close(s.lines)
	})
	wg.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log("stderr:", sc.Text())
		}
	})
	go func() {
		wg.Wait()
		s.err = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Kill()
			go func() {
				for range s.lines { // drain, so that the reader ends
				}
			}()
			<-s.exited
		}
	})
	line := s.expect("listening on ")
	s.base = strings.TrimPrefix(line, "node-service: listening on ")
	return s
}

// expect returns the next output line containing substr.
func (s *service) expect(substr string) string {
	s.t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("the service ended without printing %q", substr)
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			s.t.Fatalf("no %q from the service", substr)
		}
	}
}

// wait waits for the process to exit and requires exit status 0.
func (s *service) wait() {
	s.t.Helper()
	go func() {
		for range s.lines { // drain
		}
	}()
	select {
	case <-s.exited:
		require.NoError(s.t, s.err, "node-service exit status")
	case <-time.After(time.Minute):
		s.t.Fatal("node-service did not exit")
	}
}

// browser sends requests as one browser behind the trusted proxy.
type browser struct {
	t       *testing.T
	base    string
	ip, ua  string
	session string
	traceID string
	spans   []string // span id of each request that records an event
	n       int
}

func (b *browser) do(method, path string, form url.Values, want int) http.Header {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", b.ua)
	req.Header.Set("X-Forwarded-For", "10.9.9.9, "+b.ip) // the client, as the proxy saw it, is the rightmost
	b.n++
	span := fmt.Sprintf("%016x", 0x2000+b.n)
	req.Header.Set("Traceparent", "00-"+b.traceID+"-"+span+"-01")
	if b.session != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: b.session})
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(b.t, want, resp.StatusCode, "%s %s", method, path)
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			b.session = c.Value
		}
	}
	if want != http.StatusUnauthorized || path == "/login" {
		b.spans = append(b.spans, span)
	}
	return resp.Header
}

type want struct {
	action, outcome, errorType string
	user, name, workspace      string
	session                    string
	resourceType, resourceID   string
	details, previous, new     string
}

func TestNodeServiceSendsContractRecords(t *testing.T) {
	capture := otlpcapture.NewServer(t)
	begin := time.Now()
	s := start(t, capture, "--addr", "127.0.0.1:0", "--trusted-proxies", "127.0.0.1")

	b := &browser{t: t, base: s.base, ip: "203.0.113.9", ua: "node-test-browser/1.0", traceID: "5bf92f3577b34da6a3ce929d0e0e4736"}
	b.do("POST", "/login", url.Values{"user": {"u-ken"}, "password": {"nope"}}, 401)
	b.do("POST", "/login", url.Values{"user": {"mallory"}, "password": {"x"}}, 401)
	b.do("POST", "/exports", url.Values{"format": {"csv"}}, 401) // no session: not recorded
	b.do("POST", "/login", url.Values{"user": {"u-ken"}, "password": {"pw-u-ken"}}, 204)
	sess := b.session
	require.NotEmpty(t, sess)
	b.do("PUT", "/settings/theme", url.Values{"value": {"dark"}}, 204)
	b.do("PUT", "/settings/theme", url.Values{"value": {"light"}}, 204)
	b.do("PUT", "/settings/theme", url.Values{"value": {strings.Repeat("y", 80)}}, 422)
	b.do("POST", "/exports", url.Values{"format": {"json"}, "scope": {"profile", "billing"}}, 202)
	b.do("POST", "/exports", url.Values{"format": {"pdf"}}, 400)
	b.do("POST", "/admin/users/u-rob/revoke_sessions", url.Values{"ticket": {"SUP-4321"}}, 204)
	b.do("POST", "/admin/users/u-ada/suspend", nil, 404)
	b.do("POST", "/integrations/github", url.Values{"scope": {"repo"}}, 204)
	b.do("DELETE", "/integrations/github", nil, 204)
	b.do("DELETE", "/integrations/slack", nil, 404)
	h := b.do("POST", "/subscriptions", url.Values{"plan": {"business"}, "seats": {"3"}}, 201)
	subID := h.Get("Location")[len("/subscriptions/"):]
	b.do("POST", "/subscriptions", url.Values{"plan": {"platinum"}, "seats": {"3"}}, 400)
	b.do("DELETE", "/subscriptions/"+subID, url.Values{"reason": {"too_expensive"}}, 204)
	b.do("POST", "/logout", nil, 204)

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	s.wait()
	end := time.Now()

	globex := func(w want) want {
		w.user, w.name, w.workspace = "u-ken", "ken", "ws-globex"
		if w.session == "" && w.action != "login" {
			w.session = sess
		}
		return w
	}
	wants := []want{
		globex(want{action: "login", outcome: "failure", errorType: "invalid_password"}),
		{action: "login", outcome: "failure", errorType: "unknown_user", user: "mallory"},
		globex(want{action: "login", outcome: "success", session: sess}),
		globex(want{action: "settings_changed", outcome: "success", resourceType: "setting", resourceID: "theme", new: `"dark"`}),
		globex(want{action: "settings_changed", outcome: "success", resourceType: "setting", resourceID: "theme", previous: `"dark"`, new: `"light"`}),
		globex(want{action: "settings_changed", outcome: "failure", errorType: "value_too_long", resourceType: "setting", resourceID: "theme",
			previous: `"light"`, new: `{"bytes":80,"limit":64}`}),
		globex(want{action: "data_export_requested", outcome: "success", resourceType: "data_export", resourceID: "exp-000001",
			details: `{"format":"json","scope":["profile","billing"]}`}),
		globex(want{action: "data_export_requested", outcome: "failure", errorType: "unsupported_format", resourceType: "data_export",
			details: `{"format":"pdf","scope":["profile","activity"]}`}),
		globex(want{action: "admin_action", outcome: "success", resourceType: "user", resourceID: "u-rob", details: `{"op":"revoke_sessions","ticket":"SUP-4321"}`}),
		globex(want{action: "admin_action", outcome: "failure", errorType: "target_not_found", resourceType: "user", resourceID: "u-ada", details: `{"op":"suspend"}`}),
		globex(want{action: "oauth_connected", outcome: "success", resourceType: "oauth_provider", resourceID: "github", details: `{"scopes":["repo"]}`}),
		globex(want{action: "oauth_disconnected", outcome: "success", resourceType: "oauth_provider", resourceID: "github", details: `{"trigger":"user"}`}),
		globex(want{action: "oauth_disconnected", outcome: "failure", errorType: "not_connected", resourceType: "oauth_provider", resourceID: "slack"}),
		globex(want{action: "subscription_created", outcome: "success", resourceType: "subscription", resourceID: subID,
			details: `{"billing":{"plan":"business","seats":3,"amount_cents":4500}}`}),
		globex(want{action: "subscription_created", outcome: "failure", errorType: "invalid_plan", resourceType: "subscription",
			details: `{"billing":{"plan":"platinum","seats":"3"}}`}),
		globex(want{action: "subscription_cancelled", outcome: "success", resourceType: "subscription", resourceID: subID, details: `{"reason":"too_expensive"}`}),
		globex(want{action: "logout", outcome: "success"}),
	}
	require.Len(t, b.spans, len(wants))

	assert.Empty(t, capture.Errors(), "requests the capture server could not decode")
	recs := capture.Records()
	require.Len(t, recs, len(wants), "one record per recorded request, and nothing else")
	for _, req := range capture.Requests() {
		assert.Equal(t, "application/json", req.ContentType, "exporter-logs-otlp-http sends the OTLP JSON encoding")
	}
	rows, err := otlpcapture.Rows(recs)
	require.NoError(t, err)

	ids := map[uuid.UUID]bool{}
	for i, w := range wants {
		rec, row := recs[i], rows[i]
		t.Run(fmt.Sprintf("%02d_%s_%s", i, w.action, w.outcome), func(t *testing.T) {
			assert.Equal(t, "audit."+w.action, rec.EventName())
			wantSev := logspb.SeverityNumber_SEVERITY_NUMBER_INFO
			if w.outcome == "failure" {
				wantSev = logspb.SeverityNumber_SEVERITY_NUMBER_WARN
			}
			assert.Equal(t, wantSev, rec.Log.GetSeverityNumber())
			assert.Empty(t, rec.Log.GetSeverityText(), "as the Go bridge: severity number only")
			assert.Equal(t, attribute.EMPTY, rec.Body().Type(), "as the Go bridge: no body")
			assert.Equal(t, scopeName, rec.Scope.GetName())
			assert.Equal(t, "node-service-test", rec.ServiceName())
			assert.Equal(t, "test", otlpcapture.ResourceAttr(rec, "deployment.environment.name").Emit())
			assert.Equal(t, "nodejs", otlpcapture.ResourceAttr(rec, "telemetry.sdk.language").Emit())

			assert.Equal(t, w.action, row.Action)
			assert.Equal(t, w.outcome, row.Outcome)
			assert.Equal(t, w.errorType, row.ErrorType)
			assert.Equal(t, w.user, row.UserID)
			assert.Equal(t, w.name, row.UserName)
			assert.Equal(t, w.workspace, row.WorkspaceID)
			assert.Equal(t, netip.MustParseAddr(b.ip), row.ClientIP, "the client from X-Forwarded-For of a trusted proxy")
			assert.Equal(t, b.ua, row.UserAgent)
			assert.Equal(t, w.session, row.SessionID)
			assert.Equal(t, w.resourceType, row.ResourceType)
			assert.Equal(t, w.resourceID, row.ResourceID)
			assertJSON(t, w.details, row.Details, "details")
			assertJSON(t, w.previous, row.Previous, "previous")
			assertJSON(t, w.new, row.New, "new")
			assert.Equal(t, "node-service-test", row.ServiceName)
			assert.Equal(t, b.traceID, row.TraceID.String(), "trace id from the traceparent of a trusted proxy")
			assert.Equal(t, b.spans[i], row.SpanID.String())
			assert.Equal(t, uuid.Version(7), row.EventID.Version(), "a UUIDv7 assigned at emit time")
			assert.Equal(t, uuid.RFC4122, row.EventID.Variant())
			idMillis := int64(binary.BigEndian.Uint64(append([]byte{0, 0}, row.EventID[:6]...)))
			assert.Equal(t, row.Time.UnixMilli(), idMillis, "the UUIDv7 carries the event time")
			assert.False(t, ids[row.EventID], "event id %s twice", row.EventID)
			ids[row.EventID] = true
			assert.False(t, row.Time.Before(begin.Truncate(time.Millisecond)) || row.Time.After(end), "time %s outside the test", row.Time)
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

func TestNodeServiceWorkloadRecordsExactlyNEvents(t *testing.T) {
	const n = 400
	capture := otlpcapture.NewServer(t)
	s := start(t, capture, "--workload", fmt.Sprint(n), "--visitors", "4", "--seed", "11")
	line := s.expect("workload done ")
	s.wait()
	var summary struct {
		Events int            `json:"events"`
		Tally  map[string]int `json:"tally"`
	}
	require.NoError(t, json.Unmarshal([]byte(line[strings.Index(line, "{"):]), &summary))
	require.Equal(t, n, summary.Events)

	assert.Empty(t, capture.Errors())
	recs := capture.Records()
	require.Len(t, recs, n, "every event sent, once")
	rows, err := otlpcapture.Rows(recs)
	require.NoError(t, err)
	got := map[string]int{}
	ids := map[uuid.UUID]bool{}
	workspaces := map[string]bool{}
	for _, row := range rows {
		got[row.Action+"/"+row.Outcome]++
		require.False(t, ids[row.EventID])
		ids[row.EventID] = true
		assert.Nil(t, row.Sanitized)
		assert.Nil(t, row.Attrs)
		assert.True(t, row.ClientIP.IsValid())
		assert.Equal(t, "node-service-test", row.ServiceName)
		if row.WorkspaceID != "" {
			workspaces[row.WorkspaceID] = true
		}
	}
	assert.Equal(t, summary.Tally, got, "the rows hold the events the workload caused, by action and outcome")
	assert.Len(t, workspaces, 4)
	for _, k := range []string{"login/success", "login/failure", "logout/success", "settings_changed/success", "data_export_requested/success",
		"admin_action/success", "oauth_connected/success", "subscription_created/success"} {
		assert.Positive(t, got[k], "the workload covers %s", k)
	}
}
