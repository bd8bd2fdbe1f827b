package postgreslog_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func TestExportRecordsStoresOTLPRecordsOnce(t *testing.T) {
	pool := migrated(t, pgschema.Options{})
	exp, _ := newExporter(t, pool)
	at := time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)
	recs := corpus.OTLPRecords{
		{Name: "audit.login", Time: at, BodyValue: attribute.StringValue("user logged in"), Severity: 9, SevText: "INFO",
			Attrs: []attribute.KeyValue{
				attribute.String(otelaudit.KeyEventID, "0190b9b2-7f00-7000-8000-000000000001"),
				attribute.String(otelaudit.KeyUserID, "u1"),
				attribute.String(otelaudit.KeyClientAddress, "203.0.113.9:51000"),
			}},
		{Name: "http.request", Time: at.Add(time.Second), BodyValue: attribute.StringValue("GET /")},
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
