package otelauditexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/otelauditexporter/internal/metadata"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newTestExporter returns a started exporter on fresh databases of the
// test servers, without a sending queue so that ConsumeLogs returns what
// the stores say.
func newTestExporter(t *testing.T, edit func(*Config)) (exporter.Logs, *Config) {
	t.Helper()
	return newTestExporterWith(t, exportertest.NewNopSettings(metadata.Type), edit)
}

func newTestExporterWith(t *testing.T, set exporter.Settings, edit func(*Config)) (exporter.Logs, *Config) {
	t.Helper()
	pgDSN := testenv.PostgresDSN(t)
	chDSN, _ := testenv.ClickHouseDSN(t)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Postgres = PostgresConfig{DSN: pgDSN, Migrate: true}
	cfg.ClickHouse = ClickHouseConfig{DSN: chDSN, Migrate: true}
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.Enabled = false
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	exp, err := NewFactory().CreateLogs(ctxT(t), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctxT(t), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp, cfg
}

var (
	at       = time.Now().UTC().Truncate(time.Second).Add(-time.Hour + 123456789)
	traceID  = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	spanID   = pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
	settings = "0190b9b2-7f00-7000-8000-00000000a001"
	oldSDK   = "0190b9b2-7f00-7000-8000-00000000a002"
)

// otlpLogs is what a non-Go SDK sends: one audit record with a body, a
// severity and attributes of every type; one that names its event in the
// event.name attribute, as older SDKs do; and one ordinary log.
func otlpLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "node-portal")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()

	lr := lrs.AppendEmpty()
	lr.SetEventName("audit.settings_changed")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Millisecond)))
	lr.SetTraceID(traceID)
	lr.SetSpanID(spanID)
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.SetSeverityText("INFO")
	lr.Body().SetStr("settings changed")
	a := lr.Attributes()
	a.PutStr(otelaudit.KeyEventID, settings)
	a.PutStr(otelaudit.KeyUserID, "u_7")
	a.PutStr(otelaudit.KeyUserName, "Ada")
	a.PutStr(otelaudit.KeyWorkspaceID, "ws_1")
	a.PutStr(otelaudit.KeyClientAddress, "[2001:db8::5]:8443")
	a.PutStr(otelaudit.KeyUserAgent, "node/20")
	a.PutStr(otelaudit.KeySessionID, "s_1")
	a.PutStr(otelaudit.KeyResourceType, "settings")
	a.PutStr(otelaudit.KeyResourceID, "notifications")
	a.PutStr(otelaudit.KeyOutcome, "success")
	d := a.PutEmptyMap(otelaudit.KeyDetails)
	d.PutStr("plan", "pro")
	d.PutInt("seats", 5)
	d.PutDouble("ratio", 0.5)
	d.PutBool("trial", false)
	d.PutEmptyBytes("raw").FromRaw([]byte{0, 1, 2})
	s := d.PutEmptySlice("tags")
	s.AppendEmpty().SetStr("a")
	s.AppendEmpty().SetInt(2)
	a.PutEmptyMap(otelaudit.KeyPrevious).PutBool("email", true)
	a.PutEmptyMap(otelaudit.KeyNew).PutBool("email", false)
	a.PutInt("retries", 3)
	a.PutDouble("score", 1.25)
	a.PutBool("mfa", true)
	a.PutEmptyBytes("nonce").FromRaw([]byte{255})
	a.PutEmptySlice("roles").AppendEmpty().SetStr("admin")
	a.PutEmptyMap("geo").PutStr("country", "NZ")
	a.PutEmpty("nothing")

	lr = lrs.AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Second)))
	lr.Attributes().PutStr("event.name", "audit.login")
	lr.Attributes().PutStr(otelaudit.KeyEventID, oldSDK)
	lr.Attributes().PutStr(otelaudit.KeyUserID, "u_8")

	lr = lrs.AppendEmpty()
	lr.SetEventName("http.request")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.Body().SetStr("GET /health")
	return ld
}

func TestExportOTLPRecordsToBothStores(t *testing.T) {
	exp, cfg := newTestExporter(t, nil)
	require.NoError(t, exp.ConsumeLogs(ctxT(t), otlpLogs()), "the ordinary log is dropped, not refused")

	pool := pgPool(t, cfg.Postgres.DSN)
	var (
		action, outcome, user, userName, ws, ip, ua, session, res, resID, trace, span, svc string
		details, prev, next, attrs                                                         string
		created, observed                                                                  time.Time
		sanitized                                                                          []string
	)
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT action, outcome, user_id, user_name, workspace_id, host(ip_address),
		user_agent, session_id, resource, resource_id, trace_id, span_id, service_name,
		details::text, previous_value::text, new_value::text, attributes::text, created_at, observed_at, sanitized
		FROM audit_logs WHERE event_id = $1`, settings).Scan(&action, &outcome, &user, &userName, &ws, &ip, &ua, &session,
		&res, &resID, &trace, &span, &svc, &details, &prev, &next, &attrs, &created, &observed, &sanitized))
	assert.Equal(t, "settings_changed", action)
	assert.Equal(t, "success", outcome)
	assert.Equal(t, []string{"u_7", "Ada", "ws_1", "2001:db8::5", "node/20", "s_1", "settings", "notifications", "node-portal"},
		[]string{user, userName, ws, ip, ua, session, res, resID, svc})
	assert.Equal(t, "0102030405060708090a0b0c0d0e0f10", trace)
	assert.Equal(t, "0102030405060708", span)
	assert.Equal(t, at.Truncate(time.Microsecond), created.UTC())
	assert.Equal(t, at.Add(time.Millisecond).Truncate(time.Microsecond), observed.UTC())
	assert.JSONEq(t, `{"plan":"pro","seats":5,"ratio":0.5,"trial":false,"raw":"AAEC","tags":["a",2]}`, details)
	assert.JSONEq(t, `{"email":true}`, prev)
	assert.JSONEq(t, `{"email":false}`, next)
	assert.JSONEq(t, `{"client.address":"[2001:db8::5]:8443","retries":3,"score":1.25,"mfa":true,"nonce":"/w==",
		"roles":["admin"],"geo":{"country":"NZ"},"nothing":null,"log.body":"settings changed",
		"log.severity_number":9,"log.severity_text":"INFO"}`, attrs)
	assert.Equal(t, []string{"client.address:port_or_zone"}, sanitized)

	var oldAction, oldUser string
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT action, user_id FROM audit_logs WHERE event_id = $1`, oldSDK).Scan(&oldAction, &oldUser))
	assert.Equal(t, "login", oldAction, "event.name stands for a missing event name")
	assert.Equal(t, "u_8", oldUser)
	var n int
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT count(*) FROM audit_logs`).Scan(&n))
	assert.Equal(t, 2, n, "the ordinary log is not stored")

	conn := chConn(t, cfg.ClickHouse.DSN)
	var (
		chAction, chUser, chIP, chDetails, chTrace, chSvc string
		keys, values, chSanitized                         []string
		chTime                                            time.Time
		chNanos                                           uint32
	)
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT action, user_id, client_ip, details, trace_id, service_name,
		attr_keys, attr_values, sanitized, time, time_ns FROM audit_logs WHERE event_id = toUUID(?)`, settings).Scan(
		&chAction, &chUser, &chIP, &chDetails, &chTrace, &chSvc, &keys, &values, &chSanitized, &chTime, &chNanos))
	assert.Equal(t, []string{"settings_changed", "u_7", "2001:db8::5", "0102030405060708090a0b0c0d0e0f10", "node-portal"},
		[]string{chAction, chUser, chIP, chTrace, chSvc})
	assert.JSONEq(t, details, chDetails, "the same details in both stores")
	got := map[string]string{}
	for i, k := range keys {
		got[k] = values[i]
	}
	assert.Equal(t, map[string]string{"client.address": "[2001:db8::5]:8443", "retries": "3", "score": "1.25", "mfa": "true",
		"nonce": `"/w=="`, "roles": `["admin"]`, "geo": `{"country":"NZ"}`, "nothing": "null", "log.body": "settings changed",
		"log.severity_number": "9", "log.severity_text": "INFO"}, got)
	assert.Equal(t, []string{"client.address:port_or_zone"}, chSanitized)
	assert.Equal(t, at.Unix(), chTime.Unix())
	assert.Equal(t, uint32(at.Nanosecond()), chNanos)
	var chCount uint64
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT count() FROM audit_logs`).Scan(&chCount))
	assert.Equal(t, uint64(2), chCount)

	// The same logs again, as after a retry: nothing is stored twice.
	require.NoError(t, exp.ConsumeLogs(ctxT(t), otlpLogs()))
	require.NoError(t, pool.QueryRow(ctxT(t), `SELECT count(*) FROM audit_logs`).Scan(&n))
	assert.Equal(t, 2, n)
	require.NoError(t, conn.QueryRow(ctxT(t), `SELECT count() FROM audit_logs`).Scan(&chCount))
	assert.Equal(t, uint64(2), chCount)
}

// TestRefusalsArePermanentForThoseRecordsOnly: an invalid action is
// refused as a permanent error, and the valid records of the same batch
// are stored.
func TestRefusalsArePermanentForThoseRecordsOnly(t *testing.T) {
	for _, mode := range []string{NonAuditDrop, NonAuditStore, NonAuditReject} {
		t.Run(mode, func(t *testing.T) {
			exp, cfg := newTestExporter(t, func(c *Config) { c.NonAudit = mode })
			ld := otlpLogs()
			err := exp.ConsumeLogs(ctxT(t), ld)
			want := map[string]int{NonAuditDrop: 2, NonAuditStore: 3, NonAuditReject: 2}[mode]
			if mode == NonAuditReject {
				require.Error(t, err)
				assert.True(t, consumererror.IsPermanent(err), "%v", err)
				assert.Contains(t, err.Error(), "1 of 3 records refused", "refused by both stores, counted once")
			} else {
				require.NoError(t, err)
			}
			var n int
			require.NoError(t, pgPool(t, cfg.Postgres.DSN).QueryRow(ctxT(t), `SELECT count(*) FROM audit_logs`).Scan(&n))
			assert.Equal(t, want, n)

			bad := plog.NewLogs()
			lr := bad.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetEventName("audit.Not An Action")
			fresh := bad.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
			fresh.SetEventName("audit.logout")
			fresh.SetTimestamp(pcommon.NewTimestampFromTime(at))
			fresh.Attributes().PutStr(otelaudit.KeyUserID, "u_9")
			want++
			err = exp.ConsumeLogs(ctxT(t), bad)
			if mode == NonAuditStore {
				// Stored as a non-audit record, as every other name is.
				require.NoError(t, err)
				want++
			} else {
				require.Error(t, err)
				assert.True(t, consumererror.IsPermanent(err), "%v", err)
				assert.Contains(t, err.Error(), "invalid_action")
				st, ok := status.FromError(err)
				require.True(t, ok)
				assert.Equal(t, codes.InvalidArgument, st.Code(), "the OTLP receiver answers 400")
			}
			require.NoError(t, pgPool(t, cfg.Postgres.DSN).QueryRow(ctxT(t), `SELECT count(*) FROM audit_logs`).Scan(&n))
			assert.Equal(t, want, n, "the other record of the batch is stored")
		})
	}
}

// TestComponentTelemetry: the stores' metrics (exporter/auditrow's) come
// out of the Collector's MeterProvider.
func TestComponentTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	exp, _ := newTestExporterWith(t, set, nil)
	require.NoError(t, exp.ConsumeLogs(ctxT(t), otlpLogs()))

	m, err := tel.GetMetric("otelaudit.exporter.records")
	require.NoError(t, err)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%T", m.Data)
	got := map[string]int64{}
	for _, dp := range sum.DataPoints {
		store, _ := dp.Attributes.Value("otelaudit.exporter")
		outcome, _ := dp.Attributes.Value("otelaudit.export.outcome")
		reason, _ := dp.Attributes.Value("otelaudit.reject.reason")
		got[store.AsString()+"/"+outcome.AsString()+"/"+reason.AsString()] += dp.Value
	}
	assert.Equal(t, map[string]int64{
		"postgreslog/written/":             2,
		"postgreslog/rejected/non_audit":   1,
		"clickhouselog/written/":           2,
		"clickhouselog/rejected/non_audit": 1,
	}, got)
}

// TestClickHouseLookupWindow: batches are looked up in ClickHouse after
// start and after a failed write, and only then.
func TestClickHouseLookupWindow(t *testing.T) {
	chDSN, _ := testenv.ClickHouseDSN(t)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.ClickHouse = ClickHouseConfig{DSN: chDSN, Migrate: true}
	e := newLogsExporter(cfg, exportertest.NewNopSettings(metadata.Type))
	require.NoError(t, e.start(ctxT(t), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, e.shutdown(context.Background())) })

	_, ch, err := e.ready(ctxT(t))
	require.NoError(t, err)
	assert.Same(t, e.chCheck, ch, "after start: looked up")

	// Copies stay countable: no merges collapse them.
	require.NoError(t, chConn(t, chDSN).Exec(ctxT(t), "SYSTEM STOP MERGES audit_logs"))
	e.checkUntil.Store(0)
	_, ch, err = e.ready(ctxT(t))
	require.NoError(t, err)
	assert.Same(t, e.ch, ch, "later: inserted as they come")
	require.NoError(t, e.pushLogs(ctxT(t), otlpLogs()))
	require.NoError(t, e.pushLogs(ctxT(t), otlpLogs()))
	assert.Equal(t, uint64(4), countCH(t, chDSN), "outside the window a batch given twice is inserted twice (until parts merge)")

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, e.pushLogs(canceled, otlpLogs()), "a failed write")
	_, ch, err = e.ready(ctxT(t))
	require.NoError(t, err)
	assert.Same(t, e.chCheck, ch, "after a failed write: looked up")
	require.NoError(t, e.pushLogs(ctxT(t), otlpLogs()))
	assert.Equal(t, uint64(4), countCH(t, chDSN), "the retry stores nothing again")
}

func countCH(t *testing.T, dsn string) uint64 {
	t.Helper()
	var n uint64
	require.NoError(t, chConn(t, dsn).QueryRow(ctxT(t), `SELECT count() FROM audit_logs`).Scan(&n))
	return n
}
