package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/internal/testenv"
)

// otlpJSON is one OTLP/JSON logs request of one resource, with the given
// log records (JSON objects).
func otlpJSON(records ...string) string {
	return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"hostile"}}]},
		"scopeLogs":[{"scope":{"name":"test"},"logRecords":[` + strings.Join(records, ",") + `]}]}]}`
}

// auditRecord is an OTLP/JSON audit record with the given id and extra
// attributes (JSON key/value objects).
func auditRecord(action, id string, attrs ...string) string {
	ts := time.Now().Add(-time.Minute).UnixNano()
	all := append([]string{
		`{"key":"log.record.uid","value":{"stringValue":"` + id + `"}}`,
		`{"key":"user.id","value":{"stringValue":"u_hostile"}}`,
	}, attrs...)
	return fmt.Sprintf(`{"timeUnixNano":"%d","eventName":"audit.%s","severityNumber":9,"severityText":"INFO",
		"body":{"stringValue":"something happened"},"attributes":[%s]}`, ts, action, strings.Join(all, ","))
}

func post(t *testing.T, url, contentType string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, contentType, bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestHostileOTLP sends what a broken or hostile client sends, with no
// sending queue, so that each answer says what became of the records:
// bodies that are not OTLP are refused with 400 and store nothing; an
// attribute of every type and values of 10 MiB are stored (oversized
// values replaced by a marked truncation object, never dropped
// silently); a record refused for its content gets 400 while the others
// of its request are stored.
func TestHostileOTLP(t *testing.T) {
	pgDSN := testenv.PostgresDSN(t)
	chDSN, _ := testenv.ClickHouseDSN(t)
	c := newCollectorPorts(t)
	runInProcess(t, c, writeConfig(t, c.configYAML(pgDSN, chDSN, "none", "drop")))
	url := c.httpURL("/v1/logs")
	pool := pgPool(t, pgDSN)
	conn := chConn(t, chDSN)

	for _, tc := range []struct {
		name, contentType string
		body              []byte
		status            int
	}{
		{"protobuf that is not protobuf", "application/x-protobuf", []byte("\xff\xff\xff\xff\x0f not a message"), http.StatusBadRequest},
		{"JSON that is not JSON", "application/json", []byte(`{"resourceLogs":[{`), http.StatusBadRequest},
		{"JSON of the wrong shape", "application/json", []byte(`{"resourceLogs":"yes"}`), http.StatusBadRequest},
		{"a content type that is not OTLP", "text/plain", []byte("audit.login u1"), http.StatusUnsupportedMediaType},
		{"a body over the receiver's limit", "application/json", []byte(otlpJSON(auditRecord("login", "0190b9b2-7f00-7000-8000-00000000b0ff",
			`{"key":"blob","value":{"stringValue":"`+strings.Repeat("x", 25<<20)+`"}}`))), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := post(t, url, tc.contentType, tc.body)
			assert.Equal(t, tc.status, status, msg)
			assert.NotEmpty(t, msg, "a refusal says why")
		})
	}
	var n int
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT count(*) FROM audit_logs`).Scan(&n))
	require.Zero(t, n, "nothing refused is stored")

	const everyType = "0190b9b2-7f00-7000-8000-00000000b001"
	const bigDetails = "0190b9b2-7f00-7000-8000-00000000b002"
	const bigAttr = "0190b9b2-7f00-7000-8000-00000000b003"
	ten := strings.Repeat("y", 10<<20)
	status, msg := post(t, url, "application/json", []byte(otlpJSON(auditRecord("settings_changed", everyType,
		`{"key":"s","value":{"stringValue":"text"}}`,
		`{"key":"i","value":{"intValue":"-9007199254740993"}}`,
		`{"key":"d","value":{"doubleValue":2.5}}`,
		`{"key":"b","value":{"boolValue":true}}`,
		`{"key":"bytes","value":{"bytesValue":"`+base64.StdEncoding.EncodeToString([]byte{0, 1, 254})+`"}}`,
		`{"key":"arr","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"two"},{"arrayValue":{}}]}}}`,
		`{"key":"kv","value":{"kvlistValue":{"values":[{"key":"k","value":{"boolValue":false}}]}}}`,
		`{"key":"empty","value":{}}`,
		`{"key":"audit.details","value":{"kvlistValue":{"values":[{"key":"n","value":{"doubleValue":0.5}}]}}}`,
	))))
	require.Equal(t, http.StatusOK, status, msg)
	status, msg = post(t, url, "application/json", []byte(otlpJSON(auditRecord("data_export_requested", bigDetails,
		`{"key":"audit.details","value":{"kvlistValue":{"values":[{"key":"blob","value":{"stringValue":"`+ten+`"}}]}}}`))))
	require.Equal(t, http.StatusOK, status, msg)
	status, msg = post(t, url, "application/json", []byte(otlpJSON(auditRecord("login", bigAttr,
		`{"key":"note","value":{"stringValue":"`+ten+`"}}`))))
	require.Equal(t, http.StatusOK, status, msg)

	var attrs string
	var sanitized []string
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT attributes::text, sanitized FROM audit_logs WHERE event_id = $1`, everyType).Scan(&attrs, &sanitized))
	assert.JSONEq(t, `{"s":"text","i":-9007199254740993,"d":2.5,"b":true,"bytes":"AAH+","arr":[1,"two",[]],"kv":{"k":false},
		"empty":null,"log.body":"something happened","log.severity_number":9,"log.severity_text":"INFO"}`, attrs)
	assert.Nil(t, sanitized)

	var details string
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT details->>'otelaudit.truncated', details->>'original_bytes', sanitized
		FROM audit_logs WHERE event_id = $1`, bigDetails).Scan(&attrs, &details, &sanitized))
	assert.Equal(t, "true", attrs)
	assert.Equal(t, fmt.Sprint(len(`{"blob":""}`)+len(ten)), details)
	assert.Equal(t, []string{"audit.details:too_large"}, sanitized)
	// A string attribute is cut to 256 KiB; the attributes together are
	// then over the limit of a JSON column and replaced as a whole.
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT attributes->>'otelaudit.truncated', sanitized
		FROM audit_logs WHERE event_id = $1`, bigAttr).Scan(&details, &sanitized))
	assert.Equal(t, "true", details)
	assert.Equal(t, []string{"note:truncated", "attributes:too_large"}, sanitized)

	// A record refused for its content: 400 for the request, and the
	// other record of the request is stored.
	const fine = "0190b9b2-7f00-7000-8000-00000000b004"
	status, msg = post(t, url, "application/json", []byte(otlpJSON(
		auditRecord("Not An Action", "0190b9b2-7f00-7000-8000-00000000b005"), auditRecord("logout", fine))))
	assert.Equal(t, http.StatusBadRequest, status, msg)
	assert.Contains(t, msg, "invalid_action")

	for _, id := range []string{everyType, bigDetails, bigAttr, fine} {
		require.NoError(t, pool.QueryRow(ctxT(t), `SELECT count(*) FROM audit_logs WHERE event_id = $1`, id).Scan(&n))
		assert.Equal(t, 1, n, "postgres %s", id)
		var chN uint64
		require.NoError(t, conn.QueryRow(ctxT(t), `SELECT count() FROM audit_logs WHERE event_id = toUUID(?)`, id).Scan(&chN))
		assert.Equal(t, uint64(1), chN, "clickhouse %s", id)
	}
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT count(*) FROM audit_logs`).Scan(&n))
	assert.Equal(t, 4, n, "nothing else")
}
