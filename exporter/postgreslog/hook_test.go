package postgreslog_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
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

// year10000 returns a login in year 10000, which Postgres cannot store.
func year10000(id uuid.UUID) sdklog.Record {
	return corpus.Capture(func(lp log.LoggerProvider) {
		var r log.Record
		r.SetEventName("audit.login")
		r.SetTimestamp(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
		r.AddAttributes(attribute.String(otelaudit.KeyEventID, id.String()))
		lp.Logger("t").Emit(context.Background(), r)
	})[0]
}

// TestRejectHook: the hook of an Export's context gets exactly the records
// that Export refused for their content (rows Postgres refused among good
// ones, records the mapping refused, a time Postgres cannot hold), with
// their ids and reasons, the same errors as the handler (which does not
// get the non-audit records), while every good row is written.
func TestRejectHook(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, h := newExporter(t, pool, postgreslog.WithMapping(auditrow.Options{MaxFieldBytes: 64 << 10}))

	const n = 200
	bad := map[int]bool{17: true, 150: true}
	records := loginsWithHugeUsers(t, n, bad)
	m := auditrow.NewMapper(auditrow.Options{MaxFieldBytes: 64 << 10})
	var want []rejection
	good := map[uuid.UUID]bool{}
	for i := range records {
		row, err := m.MapRecord(&records[i])
		require.NoError(t, err)
		if bad[i] {
			want = append(want, rejection{auditrow.ReasonRefusedByServer, row.EventID})
		} else {
			good[row.EventID] = true
		}
	}
	refused, wantRefused := mappingRefusals()
	records = append(records, refused...)
	want = append(want, wantRefused...)
	late := uuid.MustParse("01900000-0000-7000-8000-0000000000f1")
	records = append(records, year10000(late))
	want = append(want, rejection{auditrow.ReasonTimeOutOfRange, late})

	// The calls of one Export never overlap: no lock here, -race checks it.
	var got []*auditrow.RejectError
	hooked := auditrow.ContextWithRejectHook(ctx, func(re *auditrow.RejectError) { got = append(got, re) })
	require.NoError(t, e.Export(hooked, records))

	require.Equal(t, sorted(want), rejections(got))
	for _, re := range got {
		require.Equal(t, "postgreslog", re.Exporter)
		require.ErrorIs(t, re, postgreslog.ErrRejected)
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

	stored := map[uuid.UUID]bool{}
	for _, r := range readRows(t, pool) {
		stored[r.EventID] = true
	}
	require.Equal(t, good, stored, "every good row, nothing else")
	s := e.Stats()
	require.Equal(t, uint64(len(good)), s.Written)
	require.Equal(t, uint64(len(bad)), s.Rejected[auditrow.ReasonRefusedByServer])
	require.Equal(t, uint64(len(records)), s.Received)

	t.Run("per Export", func(t *testing.T) {
		before := len(got)
		refused, _ := mappingRefusals()
		require.NoError(t, e.Export(ctx, refused))
		require.Len(t, got, before, "a context without the hook")
	})

	t.Run("panicking hook", func(t *testing.T) {
		calls := 0
		panicky := auditrow.ContextWithRejectHook(ctx, func(*auditrow.RejectError) { calls++; panic("hook bug") })
		refused, wantRefused := mappingRefusals()
		more := append(logins(10, batchTime.Add(time.Hour)), refused...)
		written := e.Stats().Written
		require.NotPanics(t, func() { require.NoError(t, e.Export(panicky, more)) })
		require.Equal(t, len(wantRefused), calls, "called for each rejection despite the panics")
		require.Equal(t, written+10, e.Stats().Written)
		rows, _ := count(t, pool)
		require.Equal(t, len(good)+10, rows)
	})

	t.Run("nil hook hides a parent's", func(t *testing.T) {
		before := len(got)
		refused, _ := mappingRefusals()
		require.NoError(t, e.Export(auditrow.ContextWithRejectHook(hooked, nil), refused))
		require.Len(t, got, before)
	})
}

// TestOutcomesAndMetrics: every record given to Export ends in exactly one
// outcome, and the metrics read back from a ManualReader count the same
// outcomes as Stats, under the documented names and attributes.
func TestOutcomesAndMetrics(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, _ := newExporter(t, pool)

	refused, wantRefused := mappingRefusals()
	batch := append(logins(100, batchTime), refused...)
	require.NoError(t, e.Export(ctx, batch))
	require.NoError(t, e.Export(ctx, batch), "again: already stored")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, e.Export(canceled, logins(7, batchTime.Add(time.Hour))))
	require.NoError(t, e.Export(ctx, nil), "an empty Export is not measured")

	nonAudit := 0
	for _, r := range wantRefused {
		if r.Reason == auditrow.ReasonNonAudit {
			nonAudit++
		}
	}
	invalid := len(wantRefused) - nonAudit
	s := e.Stats()
	require.Equal(t, auditrow.ExportStats{
		Received:      uint64(2*len(batch) + 7),
		Written:       100,
		AlreadyStored: 100,
		Failed:        7,
		Rejected: map[string]uint64{
			auditrow.ReasonNonAudit: uint64(2 * nonAudit), auditrow.ReasonInvalidAction: uint64(2 * invalid),
			auditrow.ReasonTimeOutOfRange: 0, auditrow.ReasonRefusedByServer: 0, auditrow.ReasonOther: 0,
		},
	}, s)
	rows, _ := count(t, pool)
	require.Equal(t, 100, rows)

	got := metricsOf(e).Read(t, "postgreslog")
	require.Equal(t, map[string]int64{
		"written": 100, "already_stored": 100, "failed": 7,
		"rejected/non_audit": int64(2 * nonAudit), "rejected/invalid_action": int64(2 * invalid),
	}, got.Records)
	require.Zero(t, got.Retries)
	require.Equal(t, uint64(3), got.Exports, "one duration per Export call with records")
	require.Positive(t, got.Seconds)
	require.Empty(t, metricsOf(e).Read(t, "clickhouselog").Records, "attributed to this exporter only")
}
