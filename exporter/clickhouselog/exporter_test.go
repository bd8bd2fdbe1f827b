package clickhouselog_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

func TestNew(t *testing.T) {
	_, err := clickhouselog.New(nil)
	require.ErrorIs(t, err, clickhouselog.ErrNilConn)

	conn := &flakyConn{} // never used: New does no I/O
	_, err = clickhouselog.New(conn, clickhouselog.WithSchema(chschema.Options{Table: "bad name"}))
	require.ErrorIs(t, err, chschema.ErrInvalidOptions)
	_, err = clickhouselog.New(conn, clickhouselog.WithLayout(chschema.Layout(9)))
	require.ErrorIs(t, err, chschema.ErrInvalidOptions)

	exp, err := clickhouselog.New(conn, nil, clickhouselog.WithErrorHandler(nil))
	require.NoError(t, err)
	require.NoError(t, exp.ForceFlush(context.Background()))
	require.NoError(t, exp.Shutdown(context.Background()))
	require.NoError(t, exp.Shutdown(context.Background()), "Shutdown is idempotent")
	require.ErrorIs(t, exp.Export(context.Background(), make([]sdklog.Record, 1)), sdklog.ErrExporterShutdown)

	var nilExp *clickhouselog.Exporter
	require.Zero(t, nilExp.Stats().Written)
}

func TestExportRoundTripLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	exp, h := newExporter(t, conn, opts)

	at := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.UTC)
	id := uuid.MustParse("01900000-0000-7000-8000-0000000000aa")
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	recs := corpus.Capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp))
		a.Record(ctx, otelaudit.Event{
			ID: id, Time: at, Action: otelaudit.ActionSettingsChanged,
			Actor:    otelaudit.Actor{UserID: "u1", WorkspaceID: "ws1", Name: "Ada"},
			Client:   otelaudit.Client{IP: "2001:db8::1", UserAgent: "curl/8", SessionID: "s1"},
			Resource: otelaudit.Resource{Type: "workspace_settings", ID: "ws1/security"},
			Outcome:  otelaudit.Failure("permission_denied"),
			Details:  attribute.MapValue(attribute.String("reason", "review")),
			Previous: attribute.MapValue(attribute.Bool("mfa", false)),
			New:      attribute.MapValue(attribute.Bool("mfa", true)),
		})
	})
	require.NoError(t, exp.Export(ctxT(t), recs))
	require.Empty(t, h.All())
	require.Equal(t, uint64(1), exp.Stats().Written)

	var (
		gotID                                                uuid.UUID
		tm                                                   time.Time
		action, ws, user, name, ip, ua, sess, rtype, rid     string
		outcome, etype, details, prev, next, trID, spID, svc string
	)
	err := conn.QueryRow(ctxT(t), `SELECT event_id, time, action, workspace_id, user_id, user_name, client_ip, user_agent,
		session_id, resource_type, resource_id, toString(outcome), error_type, details, previous_value, new_value,
		trace_id, span_id, service_name FROM audit_logs`).Scan(&gotID, &tm, &action, &ws, &user, &name, &ip, &ua,
		&sess, &rtype, &rid, &outcome, &etype, &details, &prev, &next, &trID, &spID, &svc)
	require.NoError(t, err)
	require.Equal(t, id, gotID)
	require.Equal(t, []string{"settings_changed", "ws1", "u1", "Ada", "2001:db8::1", "curl/8", "s1", "workspace_settings", "ws1/security", "failure", "permission_denied"},
		[]string{action, ws, user, name, ip, ua, sess, rtype, rid, outcome, etype})
	require.JSONEq(t, `{"reason":"review"}`, details)
	require.JSONEq(t, `{"mfa":false}`, prev)
	require.JSONEq(t, `{"mfa":true}`, next)
	require.Equal(t, []string{tid.String(), sid.String(), corpus.ServiceName}, []string{trID, spID, svc})

	if layout == chschema.LayoutCompat {
		var ns uint32
		var unixNano uint64
		require.NoError(t, conn.QueryRow(ctxT(t), "SELECT time_ns, toUInt64(time) * 1000000000 + time_ns FROM audit_logs").Scan(&ns, &unixNano))
		require.Equal(t, at.Truncate(time.Second), tm.UTC())
		require.EqualValues(t, 123456789, ns)
		require.EqualValues(t, at.UnixNano(), unixNano)
	} else {
		require.Equal(t, at, tm.UTC())
	}
}

func TestExportBadInputCorpusLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	exp, h := newExporter(t, conn, opts)

	cases := corpus.Cases()
	recs := corpus.Records(cases)
	// ClickHouse's own limit: a time its column cannot hold is clamped to
	// the column's range, which depends on the layout: DateTime seconds
	// (compat) from 1970 to 2105, DateTime64(9) (modern) from 1900 to 2262.
	lo, hi := time.Unix(0, 0).UTC(), time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
	if layout == chschema.LayoutModern {
		lo, hi = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC)
	}
	edges := []time.Time{
		time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC),    // before both ranges
		time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), // before compat's only
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),    // after compat's only
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),    // after both
	}
	early := corpus.Capture(func(lp log.LoggerProvider) {
		for i, ts := range edges {
			var r log.Record
			r.SetEventName("audit.login")
			r.SetTimestamp(ts)
			r.AddAttributes(attribute.String(otelaudit.KeyEventID, uuid.NewSHA1(uuid.Nil, []byte{byte(i)}).String()))
			lp.Logger("t").Emit(context.Background(), r)
		}
	})
	all := append(recs, early...)

	// The expected rows: what the shared mapping makes of each stored case.
	m := auditrow.NewMapper(auditrow.Options{})
	want := map[uuid.UUID]badInputRow{}
	rejected := map[string]uint64{}
	for _, reason := range auditrow.Reasons() {
		rejected[reason] = 0 // every reason is a key
	}
	for i, c := range cases {
		row, err := m.MapRecord(&recs[i])
		if !c.Stored {
			rejected[c.Reason]++
			continue
		}
		require.NoError(t, err)
		want[row.EventID] = expectedRow(&row, c.Markers)
	}
	wantTime := map[uuid.UUID]time.Time{} // of the edge cases
	clamped := 0
	for i := range early {
		row, err := m.MapRecord(&early[i])
		require.NoError(t, err)
		switch ts := edges[i]; {
		case ts.Before(lo):
			want[row.EventID] = expectedRow(&row, []string{"time:" + clickhouselog.ChangeTimeOutOfRange})
			wantTime[row.EventID] = lo
			clamped++
		case ts.After(hi):
			want[row.EventID] = expectedRow(&row, []string{"time:" + clickhouselog.ChangeTimeOutOfRange})
			wantTime[row.EventID] = hi
			clamped++
		default:
			want[row.EventID] = expectedRow(&row, nil)
			wantTime[row.EventID] = ts
		}
	}
	if layout == chschema.LayoutModern {
		require.Equal(t, 2, clamped, "1969 and 2200 fit a DateTime64(9)")
	} else {
		require.Equal(t, 4, clamped, "no edge fits a DateTime")
	}

	require.NoError(t, exp.Export(ctxT(t), all), "bad records never fail the batch")
	st := exp.Stats()
	require.EqualValues(t, len(want), st.Written)
	require.Equal(t, rejected, st.Rejected)
	require.Zero(t, st.Failed)
	require.Len(t, h.All(), int(rejected["invalid_action"]), "non-audit records are counted, not reported")
	for _, err := range h.All() {
		var re *clickhouselog.RejectError
		require.ErrorAs(t, err, &re)
		require.ErrorIs(t, err, clickhouselog.ErrRejected)
		require.Equal(t, "clickhouselog", re.Exporter)
		require.Equal(t, "invalid_action", re.Reason)
	}

	attrs := "attr_keys, attr_values"
	if layout == chschema.LayoutModern {
		attrs = "mapKeys(attributes), mapValues(attributes)"
	}
	rows, err := conn.Query(ctxT(t), "SELECT event_id, sanitized, details, previous_value, new_value, user_id, client_ip, "+attrs+", time FROM audit_logs")
	require.NoError(t, err)
	got := map[uuid.UUID]badInputRow{}
	for rows.Next() {
		var id uuid.UUID
		var r badInputRow
		var tm time.Time
		require.NoError(t, rows.Scan(&id, &r.Sanitized, &r.Details, &r.Previous, &r.New, &r.UserID, &r.ClientIP, &r.AttrKeys, &r.AttrValues, &tm))
		if len(r.Sanitized) == 0 {
			r.Sanitized = nil
		}
		if layout == chschema.LayoutModern { // a Map has no order: compare sorted by key
			r.AttrKeys, r.AttrValues = sortedByKey(r.AttrKeys, r.AttrValues)
		}
		got[id] = r
		for _, j := range []string{r.Details, r.Previous, r.New} {
			require.True(t, j == "" || json.Valid([]byte(j)), "stored JSON must parse: %.200s", j)
		}
		require.LessOrEqual(t, len(r.Details), auditrow.DefaultMaxValueBytes)
		require.LessOrEqual(t, len(r.UserID), auditrow.DefaultMaxFieldBytes)
		if w, ok := wantTime[id]; ok {
			require.True(t, tm.Equal(w), "edge time %v, want %v (column range %v to %v)", tm, w, lo, hi)
		}
	}
	require.NoError(t, rows.Err())
	if layout == chschema.LayoutModern {
		for id, r := range want {
			r.AttrKeys, r.AttrValues = sortedByKey(r.AttrKeys, r.AttrValues)
			want[id] = r
		}
	}
	require.Equal(t, want, got, "every stored row holds what the mapping made of its record")
	var marked uint64
	for _, r := range got {
		if len(r.Sanitized) > 0 {
			marked++
		}
	}
	require.NotZero(t, marked)
	require.Equal(t, marked, st.Sanitized, "Sanitized counts the stored rows that carry markers")

	// The cases whose stored values are known without the mapping.
	others := got[uuid.MustParse(corpus.OtherAttributesID)]
	if layout == chschema.LayoutCompat {
		require.Equal(t, corpus.OtherAttributeKeys, others.AttrKeys, "attr_keys, in order")
		require.Equal(t, corpus.OtherAttributeValues, others.AttrValues, "attr_values, parallel to attr_keys")
	}
	require.Equal(t, "fe80::1", got[uuid.MustParse(corpus.ZoneID)].ClientIP, "the zone is dropped")
	require.Equal(t, "fe80::2", got[uuid.MustParse(corpus.ZonePortID)].ClientIP, "the zone and the port are dropped")
	nul := got[uuid.MustParse("01900000-0000-7000-8000-000000000002")]
	require.Equal(t, "u\uFFFDser", nul.UserID)
	require.JSONEq(t, `{"k":"v\uFFFD"}`, nul.Details)
}

// badInputRow is what TestExportBadInputCorpusLive compares of a row.
type badInputRow struct {
	Sanitized              []string
	Details, Previous, New string
	UserID, ClientIP       string
	AttrKeys, AttrValues   []string
}

// expectedRow is the stored form of a mapped row (copied: the Mapper
// reuses its buffers).
func expectedRow(r *auditrow.Row, markers []string) badInputRow {
	w := badInputRow{
		Sanitized: markers, Details: string(r.Details), Previous: string(r.Previous), New: string(r.New),
		UserID: r.UserID, AttrKeys: []string{}, AttrValues: []string{},
	}
	if r.ClientIP.IsValid() {
		w.ClientIP = r.ClientIP.String()
	}
	for _, a := range r.Attrs {
		w.AttrKeys = append(w.AttrKeys, a.Key)
		w.AttrValues = append(w.AttrValues, a.Value)
	}
	return w
}

// sortedByKey returns parallel keys and values sorted by key.
func sortedByKey(keys, values []string) ([]string, []string) {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	k, v := make([]string, len(keys)), make([]string, len(keys))
	for i, j := range idx {
		k[i], v[i] = keys[j], values[j]
	}
	return k, v
}

func TestExportRetriesTransientFailuresLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	flaky := &flakyConn{Conn: conn}
	flaky.failPrepare.Store(2)
	exp, _ := newExporter(t, flaky, opts)

	require.NoError(t, exp.Export(ctxT(t), logins(50, "ws")))
	st := exp.Stats()
	require.EqualValues(t, 50, st.Written)
	require.EqualValues(t, 2, st.Retried)
	require.EqualValues(t, 50, count(t, conn, "SELECT count() FROM audit_logs"))
}

// TestExportAmbiguousFailureWritesOnceLive: the data went out, then the
// connection dropped before the server's answer. The retry looks up which
// rows the server stored and sends only the others, so each event is in
// the table exactly once, even before any merge (merges are stopped: the
// counts see every copy), and each record is counted once: Written or
// AlreadyStored.
func TestExportAmbiguousFailureWritesOnceLive(t *testing.T) {
	t.Parallel()

	t.Run("whole batch stored", func(t *testing.T) {
		t.Parallel()
		conn, opts, _ := migrated(t)
		stopMerges(t, conn)
		flaky := &flakyConn{Conn: conn}
		flaky.failAfterSend.Store(1)
		exp, _ := newExporter(t, flaky, opts)

		recs := logins(300, "ws")
		require.NoError(t, exp.Export(ctxT(t), recs))
		st := exp.Stats()
		require.Zero(t, st.Written, "the rows were stored by the attempt whose answer was lost")
		require.EqualValues(t, 300, st.AlreadyStored)
		require.EqualValues(t, 1, st.Retried)
		require.Zero(t, st.Failed)
		require.Equal(t, recordIDs(t, recs), storedIDs(t, conn), "each event once")
		require.EqualValues(t, 300, count(t, conn, "SELECT sum(events) FROM audit_logs_daily"), "the rollup counted each event once")
	})

	// A batch of exactly two lookups (2,000 ids each) whose rows are
	// stored in part, in every lookup's range: the first 2,100 by the
	// attempt whose answer was lost, the last 100 by an earlier export of
	// the same records (a re-sent batch). Only the 1,800 others are sent
	// again.
	t.Run("part of a large batch stored", func(t *testing.T) {
		t.Parallel()
		conn, opts, _ := migrated(t)
		stopMerges(t, conn)
		const n, lost, tail = 4000, 2100, 100
		recs := logins(n, "ws")

		earlier, _ := newExporter(t, conn, opts)
		require.NoError(t, earlier.Export(ctxT(t), recs[n-tail:]))
		require.Equal(t, auditrow.ExportStats{Received: tail, Written: tail, Rejected: zeroRejected()}, earlier.Stats())

		flaky := &flakyConn{Conn: conn}
		flaky.failAfterSend.Store(1)
		flaky.sendRows.Store(lost)
		exp, _ := newExporter(t, flaky, opts)
		require.NoError(t, exp.Export(ctxT(t), recs))
		require.Equal(t, auditrow.ExportStats{
			Received: n, Written: n - lost - tail, AlreadyStored: lost + tail, Retried: 1, Rejected: zeroRejected(),
		}, exp.Stats())

		require.EqualValues(t, n, count(t, conn, "SELECT count() FROM audit_logs"), "no copies, without FINAL")
		require.Equal(t, recordIDs(t, recs), storedIDs(t, conn), "every event once")
		require.EqualValues(t, n, count(t, conn, "SELECT sum(events) FROM audit_logs_daily"), "the rollup counted each event once")

		// A plain re-export (no failure) is not looked up: only an
		// ambiguous failure is. Its copies are in the table until the
		// parts merge.
		plain, _ := newExporter(t, conn, opts)
		require.NoError(t, plain.Export(ctxT(t), recs[:100]))
		require.Equal(t, auditrow.ExportStats{Received: 100, Written: 100, Rejected: zeroRejected()}, plain.Stats())
		require.Equal(t, recordIDs(t, append(slices.Clone(recs), recs[:100]...)), storedIDs(t, conn))
		require.NoError(t, conn.Exec(ctxT(t), "SYSTEM START MERGES audit_logs"))
		require.NoError(t, conn.Exec(ctxT(t), "OPTIMIZE TABLE audit_logs FINAL"))
		require.Equal(t, recordIDs(t, recs), storedIDs(t, conn), "the copies collapsed at merge (ReplacingMergeTree)")
	})
}

// zeroRejected is ExportStats.Rejected of an exporter that rejected
// nothing: every reason is a key.
func zeroRejected() map[string]uint64 {
	m := map[string]uint64{}
	for _, r := range auditrow.Reasons() {
		m[r] = 0
	}
	return m
}

// TestExportIsolatesRowsTheServerRefusesLive: the server refuses any block
// holding a poisoned row (a MATERIALIZED throwIf column); bisection writes
// every other row and reports the poisoned ones by id.
func TestExportIsolatesRowsTheServerRefusesLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	require.NoError(t, conn.Exec(ctxT(t), "ALTER TABLE audit_logs ADD COLUMN poison UInt8 MATERIALIZED throwIf(user_id = 'poison-pill')"))
	exp, h := newExporter(t, conn, opts)

	recs := corpus.Capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp))
		for i := range 200 {
			user := "u"
			if i == 17 || i == 150 {
				user = "poison-pill"
			}
			a.Login(context.Background(), otelaudit.Actor{UserID: user, WorkspaceID: "ws"})
		}
	})
	require.NoError(t, exp.Export(ctxT(t), recs))
	st := exp.Stats()
	require.EqualValues(t, 198, st.Written)
	require.EqualValues(t, 2, st.Rejected[auditrow.ReasonRefusedByServer])
	require.EqualValues(t, 198, count(t, conn, "SELECT count() FROM audit_logs"))
	errs := h.All()
	require.Len(t, errs, 2)
	for _, err := range errs {
		var re *clickhouselog.RejectError
		require.ErrorAs(t, err, &re)
		require.Equal(t, auditrow.ReasonRefusedByServer, re.Reason)
		require.EqualValues(t, 0, count(t, conn, "SELECT count() FROM audit_logs WHERE toString(event_id) = ?", re.EventID.String()))
	}
}

// TestExportSplitsABatchOverTooManyMonthsLive: a server refuses an INSERT
// whose rows span more monthly partitions than max_partitions_per_insert_block
// (100 by default). ClickHouse 18.16, which the tests run first, predates
// that limit, so partitionLimitConn refuses such a batch the way newer
// servers do (code 252, "Too many partitions for single INSERT block") before it
// is sent. The Exporter takes that as a refusal of the batch, not of its
// rows, nor as a transient error: it splits the batch, and the halves are
// written for real; nothing is rejected, retried or lost.
func TestExportSplitsABatchOverTooManyMonthsLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	limited := &partitionLimitConn{Conn: conn, limit: 100}
	exp, h := newExporter(t, limited, opts)
	start := time.Date(2010, 1, 15, 0, 0, 0, 0, time.UTC)
	recs := corpus.Capture(func(lp log.LoggerProvider) {
		i := 0
		a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithClock(func() time.Time { i++; return start.AddDate(0, i, 0) }))
		for range 150 {
			a.Logout(context.Background(), otelaudit.Actor{UserID: "u", WorkspaceID: "ws"})
		}
	})
	require.NoError(t, exp.Export(ctxT(t), recs))
	require.Equal(t, auditrow.ExportStats{Received: 150, Written: 150, Rejected: zeroRejected()}, exp.Stats())
	require.Empty(t, h.All())
	require.EqualValues(t, 1, limited.refused.Load(), "the whole batch was refused once")
	require.EqualValues(t, 2, limited.sent.Load(), "then written in two halves of 75 months")
	require.Equal(t, recordIDs(t, recs), storedIDs(t, conn))
	require.EqualValues(t, 150, count(t, conn, "SELECT uniqExact(toYYYYMM(time)) FROM audit_logs"))
}

func TestExportPermanentErrorLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	o := opts
	o.Table = "no_such_table"
	exp, _ := newExporter(t, conn, o, clickhouselog.WithLayout(chschema.LayoutCompat))
	err := exp.Export(ctxT(t), logins(3, "ws"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "no_such_table")
	require.EqualValues(t, 3, exp.Stats().Failed)

	exp2, _ := newExporter(t, conn, o) // layout read from the (missing) table
	require.Error(t, exp2.Export(ctxT(t), logins(2, "ws")))
	require.EqualValues(t, 2, exp2.Stats().Failed)
}

func TestExportHonoursContextLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	flaky := &flakyConn{Conn: conn}
	flaky.failPrepare.Store(1 << 30) // never succeeds
	exp, _ := newExporter(t, flaky, opts, clickhouselog.WithLayout(layout), clickhouselog.WithRetry(clickhouselog.RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxElapsedTime: time.Hour}))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := exp.Export(ctx, logins(5, "ws"))
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.EqualValues(t, 5, exp.Stats().Failed)
	require.Positive(t, exp.Stats().Retried)
}

func TestExportConcurrentSafeLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	exp, _ := newExporter(t, conn, opts)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() { errs <- exp.Export(ctxT(t), logins(100, "ws"+string(rune('a'+g)))) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 800, exp.Stats().Written)
	require.EqualValues(t, 800, count(t, conn, "SELECT count() FROM audit_logs"))
}

// TestExportTooManyMonthsOnTheServerLive is the test above without the
// stand-in: what the server itself does with a batch over 150 months.
// ClickHouse 18.16 has no max_partitions_per_insert_block and takes it in
// one INSERT; ClickHouse 26.5 refuses it (code 252) and the Exporter
// writes it in halves. Either way every row is written once.
func TestExportTooManyMonthsOnTheServerLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	counted := &sendCounter{Conn: conn}
	exp, h := newExporter(t, counted, opts)
	start := time.Date(2010, 1, 15, 0, 0, 0, 0, time.UTC)
	recs := corpus.Capture(func(lp log.LoggerProvider) {
		i := 0
		a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithClock(func() time.Time { i++; return start.AddDate(0, i, 0) }))
		for range 150 {
			a.Logout(context.Background(), otelaudit.Actor{UserID: "u", WorkspaceID: "ws"})
		}
	})
	require.NoError(t, exp.Export(ctxT(t), recs))
	require.Equal(t, auditrow.ExportStats{Received: 150, Written: 150, Rejected: zeroRejected()}, exp.Stats())
	require.Empty(t, h.All())
	require.Equal(t, recordIDs(t, recs), storedIDs(t, conn))
	if layout == chschema.LayoutModern { // 26.5
		require.Equal(t, []int32{252}, counted.codes(), "refused once: too many partitions for one INSERT")
		require.EqualValues(t, 2, counted.sent.Load(), "then written in two halves of 75 months")
	} else { // 18.16
		require.Empty(t, counted.codes())
		require.EqualValues(t, 1, counted.sent.Load(), "one INSERT")
	}
}
