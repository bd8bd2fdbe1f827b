package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/examples/internal/otlpcapture"
)

func setOTLPEnv(t *testing.T, capture *otlpcapture.Server) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", capture.Endpoint())
	t.Setenv("OTEL_SERVICE_NAME", "backend-test")
	for _, k := range []string{"OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
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

func post(t *testing.T, base, body string, want int) {
	t.Helper()
	resp, err := http.Post(base+"/events", "application/json", bytes.NewBufferString(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, want, resp.StatusCode, body)
}

func TestBackendJobsSendContractRecords(t *testing.T) {
	capture := otlpcapture.NewServer(t)
	setOTLPEnv(t, capture)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	// One worker: the records keep the order of the jobs.
	go func() {
		done <- run(ctx, config{addr: "127.0.0.1:0", workers: 1, verbose: true, listening: func(a net.Addr) { addrs <- a }}, testWriter{t})
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("backend did not start")
	}

	start := time.Now()
	post(t, base, `{"type":"oauth_completed","team_id":"ws-acme","user_id":"u-ada","ip":"192.0.2.10","provider":"slack","scopes":["chat:write","commands"],"bot_user_id":"BSLA"}`, 202)
	post(t, base, `{"type":"oauth_failed","team_id":"ws-acme","user_id":"u-grace","ip":"2001:db8::7","provider":"github","scopes":["repo"],"error":"access_denied"}`, 202)
	post(t, base, `{"type":"app_uninstalled","team_id":"ws-acme","user_id":"u-ada","provider":"slack"}`, 202)
	post(t, base, `{"type":"tokens_revoked","team_id":"ws-globex","user_id":"u-ken","provider":"github"}`, 202)
	post(t, base, `{"type":"subscription_created","team_id":"ws-globex","user_id":"u-ken","subscription_id":"sub-000001","plan":"team","seats":5,"amount_cents":4000}`, 202)
	post(t, base, `{"type":"payment_failed","team_id":"ws-globex","user_id":"u-rob","plan":"business","seats":2,"amount_cents":3000,"error":"card_declined"}`, 202)
	post(t, base, `{"type":"subscription_cancelled","team_id":"ws-globex","user_id":"u-ken","subscription_id":"sub-000001","reason":"too_expensive"}`, 202)
	// Refused jobs record nothing.
	post(t, base, `{"type":"channel_renamed","team_id":"ws-acme","user_id":"u-ada"}`, 400)
	post(t, base, `{"type":"oauth_completed","team_id":"ws-acme"}`, 400)
	post(t, base, `{"type":`, 400)
	post(t, base, `{"type":"oauth_completed","team_id":"ws-acme","user_id":"u-ada","color":"red"}`, 400)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("run did not return")
	}
	end := time.Now()

	type want struct {
		action, outcome, errorType, user, workspace, ip, resourceType, resourceID, details string
	}
	wants := []want{
		{"oauth_connected", "success", "", "u-ada", "ws-acme", "192.0.2.10", "oauth_provider", "slack", `{"scopes":["chat:write","commands"],"bot_user_id":"BSLA"}`},
		{"oauth_connected", "failure", "access_denied", "u-grace", "ws-acme", "2001:db8::7", "oauth_provider", "github", `{"scopes":["repo"]}`},
		{"oauth_disconnected", "success", "", "u-ada", "ws-acme", "", "oauth_provider", "slack", `{"trigger":"app_uninstalled"}`},
		{"oauth_disconnected", "success", "", "u-ken", "ws-globex", "", "oauth_provider", "github", `{"trigger":"tokens_revoked"}`},
		{"subscription_created", "success", "", "u-ken", "ws-globex", "", "subscription", "sub-000001", `{"billing":{"plan":"team","seats":5,"amount_cents":4000}}`},
		{"subscription_created", "failure", "card_declined", "u-rob", "ws-globex", "", "subscription", "", `{"billing":{"plan":"business","seats":2,"amount_cents":3000}}`},
		{"subscription_cancelled", "success", "", "u-ken", "ws-globex", "", "subscription", "sub-000001", `{"reason":"too_expensive"}`},
	}
	assert.Empty(t, capture.Errors())
	recs := capture.Records()
	require.Len(t, recs, len(wants), "one record per job taken, none for refused jobs")
	rows, err := otlpcapture.Rows(recs)
	require.NoError(t, err)
	ids := map[uuid.UUID]bool{}
	for i, w := range wants {
		rec, row := recs[i], rows[i]
		t.Run(fmt.Sprintf("%d_%s_%s", i, w.action, w.outcome), func(t *testing.T) {
			assert.Equal(t, "audit."+w.action, rec.EventName())
			wantSev := logspb.SeverityNumber_SEVERITY_NUMBER_INFO
			if w.outcome == "failure" {
				wantSev = logspb.SeverityNumber_SEVERITY_NUMBER_WARN
			}
			assert.Equal(t, wantSev, rec.Log.GetSeverityNumber(), "severity follows the outcome")
			assert.Equal(t, bridge.ScopeName, rec.Scope.GetName())
			assert.Equal(t, "backend-test", rec.ServiceName())

			assert.Equal(t, w.action, row.Action)
			assert.Equal(t, w.outcome, row.Outcome)
			assert.Equal(t, w.errorType, row.ErrorType)
			assert.Equal(t, w.user, row.UserID)
			assert.Equal(t, w.workspace, row.WorkspaceID)
			assert.Empty(t, row.UserName)
			if w.ip == "" {
				assert.False(t, row.ClientIP.IsValid(), "no address for a job without one")
			} else {
				assert.Equal(t, netip.MustParseAddr(w.ip), row.ClientIP)
			}
			assert.Empty(t, row.UserAgent)
			assert.Empty(t, row.SessionID)
			assert.Equal(t, w.resourceType, row.ResourceType)
			assert.Equal(t, w.resourceID, row.ResourceID)
			assert.JSONEq(t, w.details, string(row.Details), "details keep their structure and types")
			assert.Nil(t, row.Previous)
			assert.Nil(t, row.New)
			assert.Equal(t, "backend-test", row.ServiceName)
			assert.Equal(t, trace.TraceID{}, row.TraceID, "no trace in a job")
			assert.Equal(t, uuid.Version(7), row.EventID.Version())
			assert.False(t, ids[row.EventID])
			ids[row.EventID] = true
			assert.False(t, row.Time.Before(start) || row.Time.After(end), "time %s outside the test", row.Time)
			assert.Nil(t, row.Attrs)
			assert.Nil(t, row.Sanitized)
		})
	}
}

func TestWorkloadRecordsExactlyNEventsConcurrentSafe(t *testing.T) {
	const n = 500
	capture := otlpcapture.NewServer(t)
	setOTLPEnv(t, capture)
	cfg, err := parseFlags([]string{"-workload", fmt.Sprint(n), "-seed", "3"}, os.Getenv)
	require.NoError(t, err)
	var tally Tally
	cfg.workloadDone = func(tl Tally) { tally = tl }
	require.NoError(t, run(context.Background(), cfg, testWriter{t}))
	require.Equal(t, n, tally.Total())

	assert.Empty(t, capture.Errors())
	recs := capture.Records()
	require.Len(t, recs, n, "every event sent, once")
	rows, err := otlpcapture.Rows(recs)
	require.NoError(t, err)
	got := Tally{}
	ids := map[uuid.UUID]bool{}
	cancelled := map[string]bool{}
	created := map[string]bool{}
	for _, row := range rows {
		got[row.Action+"/"+row.Outcome]++
		require.False(t, ids[row.EventID])
		ids[row.EventID] = true
		assert.Nil(t, row.Sanitized)
		assert.NotEmpty(t, row.UserID)
		assert.NotEmpty(t, row.WorkspaceID)
		assert.NotEmpty(t, row.Details)
		switch row.Action + "/" + row.Outcome {
		case "subscription_created/success":
			created[row.ResourceID] = true
		case "subscription_cancelled/success":
			assert.False(t, cancelled[row.ResourceID], "%s cancelled twice", row.ResourceID)
			cancelled[row.ResourceID] = true
		case "oauth_connected/success", "oauth_connected/failure":
			assert.True(t, row.ClientIP.IsValid(), "OAuth callbacks carry the user's address")
		}
	}
	for id := range cancelled {
		assert.True(t, created[id], "%s cancelled but never created", id)
	}
	assert.Equal(t, tally, got)
	for _, k := range []string{"oauth_connected/success", "oauth_connected/failure", "oauth_disconnected/success", "subscription_created/success", "subscription_created/failure", "subscription_cancelled/success"} {
		assert.Positive(t, got[k], "the workload covers %s", k)
	}
}

func TestHealthcheck(t *testing.T) {
	capture := otlpcapture.NewServer(t)
	setOTLPEnv(t, capture)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{addr: "127.0.0.1:0", workers: 1, listening: func(a net.Addr) { addrs <- a }}, testWriter{t})
	}()
	addr := (<-addrs).String()
	require.NoError(t, run(context.Background(), config{healthcheck: true, addr: addr}, testWriter{t}))
	cancel()
	require.NoError(t, <-done)
	assert.Error(t, run(context.Background(), config{healthcheck: true, addr: addr}, testWriter{t}), "nothing listens there any more")
	assert.Empty(t, capture.Records(), "a health check records nothing")
}
