package postgreslog_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// otlpRecord is a record as another SDK sends it over OTLP: a body and a
// severity besides the attributes.
type otlpRecord struct {
	name     string
	ts       time.Time
	body     attribute.Value
	attrs    []attribute.KeyValue
	severity int
	sevText  string
}

func (r *otlpRecord) EventName() string            { return r.name }
func (r *otlpRecord) Timestamp() time.Time         { return r.ts }
func (r *otlpRecord) ObservedTimestamp() time.Time { return time.Time{} }
func (r *otlpRecord) Body() attribute.Value        { return r.body }
func (r *otlpRecord) TraceID() trace.TraceID       { return trace.TraceID{} }
func (r *otlpRecord) SpanID() trace.SpanID         { return trace.SpanID{} }
func (r *otlpRecord) SeverityNumber() int          { return r.severity }
func (r *otlpRecord) SeverityText() string         { return r.sevText }
func (r *otlpRecord) WalkAttributes(f func(attribute.KeyValue) bool) {
	for _, kv := range r.attrs {
		if !f(kv) {
			return
		}
	}
}

// otlpRecords is an auditrow.Records of one service.
type otlpRecords []otlpRecord

func (rs otlpRecords) Len() int                           { return len(rs) }
func (rs otlpRecords) At(i int) (auditrow.Source, string) { return &rs[i], "node-portal" }

func TestExportRecordsStoresOTLPRecordsOnce(t *testing.T) {
	pool := migrated(t, pgschema.Options{})
	exp, _ := newExporter(t, pool)
	at := time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)
	recs := otlpRecords{
		{name: "audit.login", ts: at, body: attribute.StringValue("user logged in"), severity: 9, sevText: "INFO",
			attrs: []attribute.KeyValue{
				attribute.String(otelaudit.KeyEventID, "0190b9b2-7f00-7000-8000-000000000001"),
				attribute.String(otelaudit.KeyUserID, "u1"),
				attribute.String(otelaudit.KeyClientAddress, "203.0.113.9:51000"),
			}},
		{name: "http.request", ts: at.Add(time.Second), body: attribute.StringValue("GET /")},
	}
	require.NoError(t, exp.ExportRecords(testCtx(t), recs))
	st := exp.Stats()
	assert.Equal(t, uint64(1), st.Written)
	assert.Equal(t, uint64(1), st.Rejected[auditrow.ReasonNonAudit])

	rows := readRows(t, pool)
	require.Len(t, rows, 1)
	r := rows[0]
	assert.Equal(t, "0190b9b2-7f00-7000-8000-000000000001", r.EventID.String())
	assert.Equal(t, "login", r.Action)
	assert.Equal(t, ptr("u1"), r.UserID)
	assert.Equal(t, ptr("node-portal"), r.ServiceName)
	require.NotNil(t, r.IPAddress)
	assert.Equal(t, "203.0.113.9", r.IPAddress.String())
	assert.Equal(t, []string{"client.address:port_or_zone"}, r.Sanitized)
	var attrs map[string]any
	require.NoError(t, json.Unmarshal(r.Attributes, &attrs))
	assert.Equal(t, map[string]any{"client.address": "203.0.113.9:51000", "log.body": "user logged in",
		"log.severity_number": float64(9), "log.severity_text": "INFO"}, attrs)

	// The same records again (a Collector retry): nothing new.
	require.NoError(t, exp.ExportRecords(testCtx(t), recs))
	assert.Equal(t, uint64(1), exp.Stats().AlreadyStored)
	n, ids := count(t, pool)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, ids)
}
