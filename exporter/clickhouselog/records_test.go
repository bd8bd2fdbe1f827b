package clickhouselog_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

func otlpLogins(n int) corpus.OTLPRecords {
	at := time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)
	recs := make(corpus.OTLPRecords, n)
	for i := range recs {
		recs[i] = corpus.OTLPRecord{Name: "audit.login", Time: at.Add(time.Duration(i) * time.Millisecond),
			BodyValue: attribute.StringValue("user logged in"), Severity: 9, SevText: "INFO",
			Attrs: []attribute.KeyValue{attribute.String(otelaudit.KeyUserID, "u1"), attribute.Int("attempt", i)}}
	}
	return append(recs, corpus.OTLPRecord{Name: "http.request", Time: at, BodyValue: attribute.StringValue("GET /")})
}

func TestExportRecordsStoresOTLPRecords(t *testing.T) {
	conn, opts, layout := migrated(t)
	exp, _ := newExporter(t, conn, opts)
	require.NoError(t, exp.ExportRecords(ctxT(t), otlpLogins(3)))
	st := exp.Stats()
	assert.Equal(t, uint64(3), st.Written)
	assert.Equal(t, uint64(1), st.Rejected[auditrow.ReasonNonAudit])

	// The third login, 2 ms after the first: attributes are key and value
	// arrays in the compat layout, a Map in the modern one.
	query := `SELECT service_name, action, user_id, attr_keys, attr_values FROM audit_logs WHERE time_ns = 2000000`
	if layout == chschema.LayoutModern {
		query = `SELECT service_name, action, user_id, mapKeys(attributes), mapValues(attributes) FROM audit_logs
			WHERE time = toDateTime64('2025-06-01 09:30:00.002', 9, 'UTC')`
	}
	var svc, action, user string
	var keys, values []string
	require.NoError(t, conn.QueryRow(ctxT(t), query).Scan(&svc, &action, &user, &keys, &values))
	assert.Equal(t, "node-portal", svc)
	assert.Equal(t, "login", action)
	assert.Equal(t, "u1", user)
	require.Len(t, values, len(keys))
	got := map[string]string{}
	for i, k := range keys {
		got[k] = values[i]
	}
	assert.Equal(t, map[string]string{"attempt": "2", "log.body": "user logged in", "log.severity_number": "9", "log.severity_text": "INFO"}, got)
}

// TestExportRecordsStoredCheck gives the same records twice, as a
// Collector retry does: with WithStoredCheck the second Export writes
// nothing; without it, copies are written (they collapse only when parts
// merge, which the test stops).
func TestExportRecordsStoredCheck(t *testing.T) {
	for _, check := range []bool{true, false} {
		conn, opts, _ := migrated(t)
		stopMerges(t, conn)
		exp, _ := newExporter(t, conn, opts, clickhouselog.WithStoredCheck(check))
		recs := otlpLogins(5)
		require.NoError(t, exp.ExportRecords(ctxT(t), recs))
		require.NoError(t, exp.ExportRecords(ctxT(t), recs))
		rows := count(t, conn, "SELECT count() FROM audit_logs")
		if check {
			assert.Equal(t, uint64(5), rows, "with the check, each event once")
			assert.Equal(t, uint64(5), exp.Stats().AlreadyStored)
		} else {
			assert.Equal(t, uint64(10), rows, "without the check, the second Export writes copies")
		}
	}
}
