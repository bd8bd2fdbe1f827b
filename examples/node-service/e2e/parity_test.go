package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
)

// runHelper runs a script against the compiled contract helper
// (dist/audit.js) with input on stdin, and decodes its JSON output.
func runHelper(t *testing.T, script string, input, output any) {
	t.Helper()
	build(t)
	in, err := json.Marshal(input)
	require.NoError(t, err)
	cmd := exec.Command("node", "--input-type=module", "-e", script)
	cmd.Dir = serviceDir
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, stderr)
	require.NoError(t, json.Unmarshal(out, output), string(out))
}

const readStdin = `let s = ''; for await (const c of process.stdin) s += c; const input = JSON.parse(s);`

// The helper's action naming rule is the Go rule.
func TestActionRuleMatchesGo(t *testing.T) {
	names := []string{
		"login", "data_export_requested", "invoice.refunded", "api_key.rotated", "v2", "a", "a1b2",
		"", "Login", "user login", "user.12345", "order1234", "order12345", "deadbeef0123", "deadbeef012",
		"abcdefabcdef", "abcdef0abcdef", "x.", ".x", "a..b", "_a", "9a", "a-b", "a/b", "café", "a\x00b",
		strings.Repeat("x", otelaudit.MaxActionLen), strings.Repeat("x", otelaudit.MaxActionLen+1),
		strings.Repeat("ab.", 21) + "c", "log", "audit.login", "http.request",
	}
	for _, a := range otelaudit.Actions() {
		names = append(names, string(a))
	}
	var got []bool
	runHelper(t, `import { validateAction } from './dist/audit.js';`+readStdin+
		`process.stdout.write(JSON.stringify(input.map((n) => validateAction(n) === undefined)));`, names, &got)
	require.Len(t, got, len(names))
	for i, n := range names {
		_, err := otelaudit.ParseAction(n)
		assert.Equal(t, err == nil, got[i], "action %q: Go says %v", n, err)
	}
}

// The helper reserves the keys the Go contract reserves, and writes every
// contract key under the name of the Go constant.
func TestKeysMatchGo(t *testing.T) {
	goKeys := map[string]string{
		"eventId": otelaudit.KeyEventID, "userId": otelaudit.KeyUserID, "userName": otelaudit.KeyUserName,
		"workspaceId": otelaudit.KeyWorkspaceID, "clientAddress": otelaudit.KeyClientAddress,
		"userAgent": otelaudit.KeyUserAgent, "sessionId": otelaudit.KeySessionID,
		"resourceType": otelaudit.KeyResourceType, "resourceId": otelaudit.KeyResourceID,
		"outcome": otelaudit.KeyOutcome, "errorType": otelaudit.KeyErrorType, "details": otelaudit.KeyDetails,
		"previous": otelaudit.KeyPrevious, "new": otelaudit.KeyNew,
	}
	candidates := []string{"user.id", "user.name", "user.full_name", "audit.anything", "audit.", "auditx", "client.address",
		"client.port", "session.id", "error.type", "error.message", "log.record.uid", "service.name", "user_agent.original",
		"http.route", "request.id", ""}
	var got struct {
		Keys     map[string]string `json:"keys"`
		Reserved []bool            `json:"reserved"`
	}
	runHelper(t, `import { Keys, isReservedKey } from './dist/audit.js';`+readStdin+
		`process.stdout.write(JSON.stringify({ keys: Keys, reserved: input.map(isReservedKey) }));`, candidates, &got)
	assert.Equal(t, goKeys, got.Keys)
	require.Len(t, got.Reserved, len(candidates))
	for i, k := range candidates {
		assert.Equal(t, otelaudit.IsReservedKey(k), got.Reserved[i], "key %q", k)
	}
}

// The record the helper builds for an event holds the contract's keys (the
// Go constants) and nothing else but the extra attributes; extra attributes
// with empty or reserved keys are left out, as the Go bridge leaves them
// out; details keep their structure, with no value left out of maps.
func TestBuildRecordFollowsTheContract(t *testing.T) {
	var out struct {
		Record  json.RawMessage `json:"record"`
		Dropped []string        `json:"dropped"`
	}
	runHelper(t, `import { buildRecord, failure } from './dist/audit.js';`+readStdin+
		`const r = buildRecord({ ...input, time: new Date(input.time), outcome: failure('declined'),
			details: { n: 5, f: 1.5, ok: true, list: ['a', 1], nested: { deep: { x: null, y: undefined, z: 'z' } }, when: new Date(0) } });
		 process.stdout.write(JSON.stringify({ record: r.record, dropped: r.dropped }));`,
		map[string]any{
			"action": "invoice.refunded", "id": "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b", "time": "2026-11-29T10:00:00.123Z",
			"actor":      map[string]string{"userId": "u-1", "workspaceId": "ws-1", "name": "Ada"},
			"client":     map[string]string{"ip": "192.0.2.1", "userAgent": "ua", "sessionId": "s-1"},
			"resource":   map[string]string{"type": "invoice", "id": "inv-7"},
			"attributes": map[string]any{"request.id": "r-1", "user.id": "spoofed", "audit.x": 1, "": "empty"},
		}, &out)
	assert.ElementsMatch(t, []string{"user.id", "audit.x", ""}, out.Dropped)
	var rec struct {
		EventName      string         `json:"eventName"`
		Timestamp      string         `json:"timestamp"`
		SeverityNumber int            `json:"severityNumber"`
		Attributes     map[string]any `json:"attributes"`
	}
	require.NoError(t, json.Unmarshal(out.Record, &rec))
	assert.Equal(t, "audit.invoice.refunded", rec.EventName)
	assert.Equal(t, "2026-11-29T10:00:00.123Z", rec.Timestamp)
	assert.Equal(t, 13, rec.SeverityNumber, "WARN for a failure")
	assert.Equal(t, map[string]any{
		otelaudit.KeyEventID: "0190a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b", otelaudit.KeyUserID: "u-1", otelaudit.KeyWorkspaceID: "ws-1",
		otelaudit.KeyUserName: "Ada", otelaudit.KeyClientAddress: "192.0.2.1", otelaudit.KeyUserAgent: "ua", otelaudit.KeySessionID: "s-1",
		otelaudit.KeyResourceType: "invoice", otelaudit.KeyResourceID: "inv-7", otelaudit.KeyOutcome: "failure", otelaudit.KeyErrorType: "declined",
		otelaudit.KeyDetails: map[string]any{"n": 5.0, "f": 1.5, "ok": true, "list": []any{"a", 1.0},
			"nested": map[string]any{"deep": map[string]any{"z": "z"}}, "when": "1970-01-01T00:00:00.000Z"},
		"request.id": "r-1",
	}, rec.Attributes)
}
