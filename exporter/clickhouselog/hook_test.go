package clickhouselog_test

import (
	"cmp"
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
)

// rejection is what a test expects of one *RejectError.
type rejection struct {
	Reason  string
	EventID uuid.UUID
}

func rejections(errs []*auditrow.RejectError) []rejection {
	out := make([]rejection, len(errs))
	for i, re := range errs {
		out[i] = rejection{re.Reason, re.EventID}
	}
	return sorted(out)
}

func sorted(rs []rejection) []rejection {
	slices.SortFunc(rs, func(a, b rejection) int {
		return cmp.Or(cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.EventID.String(), b.EventID.String()))
	})
	return rs
}

// mappingRefusals returns the corpus records the mapping refuses, and the
// rejections they must cause (no event id: no row was mapped).
func mappingRefusals() ([]sdklog.Record, []rejection) {
	var cases []corpus.Case
	var want []rejection
	for _, c := range corpus.Cases() {
		if !c.Stored {
			cases = append(cases, c)
			want = append(want, rejection{Reason: c.Reason})
		}
	}
	return corpus.Records(cases), want
}

// poisoned returns n logins; those in bad are by the user the poisoned
// table refuses.
func poisoned(n int, bad map[int]bool) []sdklog.Record {
	return corpus.Capture(func(lp log.LoggerProvider) {
		a := bridge.New(bridge.WithLoggerProvider(lp))
		for i := range n {
			user := "u"
			if bad[i] {
				user = "poison-pill"
			}
			a.Login(context.Background(), otelaudit.Actor{UserID: user, WorkspaceID: "ws"})
		}
	})
}

// TestRejectHookLive: the hook of an Export's context gets exactly the
// records that Export refused for their content (rows the server refused
// among good ones, records the mapping refused), with their ids and
// reasons, the same errors as the handler (which does not get the
// non-audit records), while every good row is written.
func TestRejectHookLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	require.NoError(t, conn.Exec(ctxT(t), "ALTER TABLE audit_logs ADD COLUMN poison UInt8 MATERIALIZED throwIf(user_id = 'poison-pill')"))
	exp, h := newExporter(t, conn, opts)

	const n = 200
	bad := map[int]bool{17: true, 150: true}
	recs := poisoned(n, bad)
	m := auditrow.NewMapper(auditrow.Options{})
	var want []rejection
	good := map[uuid.UUID]bool{}
	for i := range recs {
		row, err := m.MapRecord(&recs[i])
		require.NoError(t, err)
		if bad[i] {
			want = append(want, rejection{auditrow.ReasonRefusedByServer, row.EventID})
		} else {
			good[row.EventID] = true
		}
	}
	refused, wantRefused := mappingRefusals()
	recs = append(recs, refused...)
	want = append(want, wantRefused...)

	var got []*auditrow.RejectError
	hooked := auditrow.ContextWithRejectHook(ctxT(t), func(re *auditrow.RejectError) { got = append(got, re) })
	require.NoError(t, exp.Export(hooked, recs))

	require.Equal(t, sorted(want), rejections(got))
	for _, re := range got {
		require.Equal(t, "clickhouselog", re.Exporter)
		require.ErrorIs(t, re, clickhouselog.ErrRejected)
	}
	// The handler gets the very same errors, non-audit records excepted.
	handled := map[*auditrow.RejectError]bool{}
	for _, err := range h.All() {
		re, ok := err.(*auditrow.RejectError)
		require.True(t, ok, "%T", err)
		handled[re] = true
	}
	hookOnly := 0
	for _, re := range got {
		if re.Reason == auditrow.ReasonNonAudit {
			hookOnly++
			require.False(t, handled[re])
		} else {
			require.True(t, handled[re], "%v", re)
		}
	}
	require.Len(t, handled, len(got)-hookOnly)
	require.Positive(t, hookOnly)

	rows, err := conn.Query(ctxT(t), "SELECT event_id FROM audit_logs")
	require.NoError(t, err)
	stored := map[uuid.UUID]bool{}
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		stored[id] = true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, good, stored, "every good row, nothing else")
	st := exp.Stats()
	require.EqualValues(t, len(good), st.Written)
	require.EqualValues(t, len(bad), st.Rejected[auditrow.ReasonRefusedByServer])
	require.EqualValues(t, len(recs), st.Received)

	t.Run("per Export", func(t *testing.T) {
		before := len(got)
		refused, _ := mappingRefusals()
		require.NoError(t, exp.Export(ctxT(t), refused))
		require.Len(t, got, before, "a context without the hook")
	})

	t.Run("panicking hook", func(t *testing.T) {
		calls := 0
		panicky := auditrow.ContextWithRejectHook(ctxT(t), func(*auditrow.RejectError) { calls++; panic("hook bug") })
		refused, wantRefused := mappingRefusals()
		more := append(logins(10, "ws2"), refused...)
		written := exp.Stats().Written
		require.NotPanics(t, func() { require.NoError(t, exp.Export(panicky, more)) })
		require.Equal(t, len(wantRefused), calls, "called for each rejection despite the panics")
		require.Equal(t, written+10, exp.Stats().Written)
		require.EqualValues(t, len(good)+10, count(t, conn, "SELECT count() FROM audit_logs"))
	})
}

// TestOutcomesAndMetricsLive: every record given to Export ends in exactly
// one outcome, and the metrics read back from a ManualReader count the
// same outcomes as Stats, under the documented names and attributes.
func TestOutcomesAndMetricsLive(t *testing.T) {
	t.Parallel()
	conn, opts, layout := migrated(t)
	flaky := &flakyConn{Conn: conn}
	exp, _ := newExporter(t, flaky, opts, clickhouselog.WithLayout(layout))

	refused, wantRefused := mappingRefusals()
	batch := append(logins(100, "ws"), refused...)
	flaky.failAfterSend.Store(1) // written, then reported lost: found stored on the retry
	require.NoError(t, exp.Export(ctxT(t), batch))
	require.NoError(t, exp.Export(ctxT(t), logins(50, "ws")))
	flaky.failPrepare.Store(1 << 30)
	canceled, cancel := context.WithCancel(ctxT(t))
	cancel()
	require.Error(t, exp.Export(canceled, logins(7, "ws")))
	require.NoError(t, exp.Export(ctxT(t), nil), "an empty Export is not measured")

	nonAudit := 0
	for _, r := range wantRefused {
		if r.Reason == auditrow.ReasonNonAudit {
			nonAudit++
		}
	}
	invalid := len(wantRefused) - nonAudit
	st := exp.Stats()
	require.Equal(t, auditrow.ExportStats{
		Received:      uint64(len(batch) + 50 + 7),
		Written:       50,
		AlreadyStored: 100,
		Failed:        7,
		Retried:       1,
		Rejected: map[string]uint64{
			auditrow.ReasonNonAudit: uint64(nonAudit), auditrow.ReasonInvalidAction: uint64(invalid),
			auditrow.ReasonTimeOutOfRange: 0, auditrow.ReasonRefusedByServer: 0, auditrow.ReasonOther: 0,
		},
	}, st)
	require.EqualValues(t, 150, count(t, conn, "SELECT count() FROM audit_logs"))

	got := metricsOf(exp).Read(t, "clickhouselog")
	require.Equal(t, map[string]int64{
		"written": 50, "already_stored": 100, "failed": 7,
		"rejected/non_audit": int64(nonAudit), "rejected/invalid_action": int64(invalid),
	}, got.Records)
	require.EqualValues(t, 1, got.Retries)
	require.Equal(t, uint64(3), got.Exports, "one duration per Export call with records")
	require.Positive(t, got.Seconds)
	require.Empty(t, metricsOf(exp).Read(t, "postgreslog").Records, "attributed to this exporter only")
}
