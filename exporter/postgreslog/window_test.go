package postgreslog_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// monthStart returns the first instant of the UTC month months after t's.
func monthStart(t time.Time, months int) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
}

// partitionCount returns the number of partitions of public.audit_logs.
func partitionCount(t testing.TB, admin interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) int {
	t.Helper()
	var n int
	require.NoError(t, admin.QueryRow(testCtx(t), `SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_logs'::regclass`).Scan(&n))
	return n
}

// Replays the flood: one Export of 512 records spread over 512 months, as
// the writer role, made 516 partitions. The partition function now creates
// them only in its window; the others are rejected with a reason, and the
// batch's other records are written.
func TestPartitionWindowExport(t *testing.T) {
	ctx := testCtx(t)
	admin, writer := writerLoginWith(t, pgschema.Options{Ahead: -1}) // the default window: 12 months back, 1 ahead
	e, h := newExporter(t, writer)

	now := time.Now()
	var records []sdklog.Record
	inWindow := map[string]bool{}
	for m := -256; m < 256; m++ {
		user := "m" + itoa(m+256)
		records = append(records, at(monthStart(now, m).Add(36*time.Hour), user))
		if m >= -pgschema.DefaultBackMonthly && m <= 1 {
			inWindow[user] = true
		}
	}
	records = append(records, at(now, "now"))
	require.NoError(t, e.Export(ctx, records), "refused records never fail the batch")

	s := e.Stats()
	require.EqualValues(t, len(inWindow)+1, s.Written)
	require.EqualValues(t, 512-len(inWindow), s.Rejected[auditrow.ReasonTimeOutOfRange])
	require.Zero(t, s.Failed)
	stored := map[string]bool{}
	for _, r := range readRows(t, admin) {
		stored[*r.UserID] = true
	}
	want := map[string]bool{"now": true}
	for u := range inWindow {
		want[u] = true
	}
	require.Equal(t, want, stored)
	require.Equal(t, pgschema.DefaultBackMonthly+2, partitionCount(t, admin), "the window's partitions, no more")

	errs := h.All()
	require.Len(t, errs, 512-len(inWindow))
	var re *postgreslog.RejectError
	require.ErrorAs(t, errs[0], &re)
	require.Equal(t, auditrow.ReasonTimeOutOfRange, re.Reason)
	require.ErrorIs(t, errs[0], postgreslog.ErrTimeOutOfRange)
	require.Contains(t, errs[0].Error(), "outside the window")

	t.Run("a wider window takes them in", func(t *testing.T) {
		_, err := pgschema.Migrate(ctx, admin, pgschema.Options{Ahead: -1, Back: 300})
		require.NoError(t, err)
		e2, _ := newExporter(t, writer)
		require.NoError(t, e2.Export(ctx, records[:256]))
		require.EqualValues(t, 256-pgschema.DefaultBackMonthly, e2.Stats().Written)
		require.EqualValues(t, pgschema.DefaultBackMonthly, e2.Stats().AlreadyStored)
	})
}

// A partition the exporter knew, dropped by retention, that the partition
// function no longer creates: the rows of its month are rejected, the
// others of the batch written.
func TestPartitionWindowAfterRetention(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{Back: 6})
	e, h := newExporter(t, pool)
	now := time.Now()
	old := monthStart(now, -4).Add(time.Hour)
	require.NoError(t, e.Export(ctx, []sdklog.Record{at(old, "first")}))

	_, err := pgschema.Migrate(ctx, pool, pgschema.Options{Back: 2})
	require.NoError(t, err)
	dropped, err := pgschema.DropPartitionsBefore(ctx, pool, pgschema.Options{}, monthStart(now, -3))
	require.NoError(t, err)
	require.NotEmpty(t, dropped)

	// The exporter still believes the month exists.
	require.NoError(t, e.Export(ctx, []sdklog.Record{at(now, "a"), at(old.Add(time.Minute), "late"), at(now.Add(time.Second), "b")}))
	require.EqualValues(t, 3, e.Stats().Written)
	require.EqualValues(t, 1, e.Stats().Rejected[auditrow.ReasonTimeOutOfRange])
	users := map[string]bool{}
	for _, r := range readRows(t, pool) {
		users[*r.UserID] = true
	}
	require.Equal(t, map[string]bool{"a": true, "b": true}, users)
	require.Len(t, h.All(), 1)
	require.ErrorIs(t, h.All()[0], postgreslog.ErrTimeOutOfRange)
}

// Replays what the BC partitions did: a relation under the name of a
// future month that is not that month's partition. Exports into the month
// fail, loudly, and the other records of the batch are written.
func TestPartitionImpostorFailsLoudly(t *testing.T) {
	ctx := testCtx(t)
	admin, writer := writerLoginWith(t, pgschema.Options{Ahead: -1})
	next := monthStart(time.Now(), 1)
	_, err := admin.Exec(ctx, `CREATE TABLE audit_logs_p`+next.Format("200601")+` PARTITION OF audit_logs FOR VALUES FROM ('`+
		next.Format("2006-01-02 15:04:05Z07")+` BC') TO ('`+next.AddDate(0, 0, 1).Format("2006-01-02 15:04:05Z07")+` BC')`)
	require.NoError(t, err)

	e, _ := newExporter(t, writer)
	err = e.Export(ctx, []sdklog.Record{at(time.Now(), "now"), at(next.Add(time.Hour), "next")})
	require.Error(t, err)
	require.Contains(t, err.Error(), "exists but is not the partition")
	require.EqualValues(t, 1, e.Stats().Written)
	require.EqualValues(t, 1, e.Stats().Failed, "not rejected: the table needs its owner's attention, and the record is kept for a later export")
	rows := readRows(t, admin)
	require.Len(t, rows, 1)
	require.Equal(t, "now", *rows[0].UserID)
}

func TestTxWriterPartitionWindow(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{Back: 2})
	w := newTxWriter(t, pool)
	far := monthStart(time.Now(), -30).Add(time.Hour)

	check := func(t *testing.T, err error) {
		t.Helper()
		var re *postgreslog.RejectError
		require.ErrorAs(t, err, &re)
		require.Equal(t, auditrow.ReasonTimeOutOfRange, re.Reason)
		require.True(t, errors.Is(err, postgreslog.ErrTimeOutOfRange))
		require.Contains(t, err.Error(), "nothing written")
	}

	t.Run("through the pool", func(t *testing.T) {
		tx := begin(t, pool)
		_, err := w.Write(ctx, tx, login(time.Now(), "a"), login(far, "far"))
		check(t, err)
		usable(t, tx)
		_, err = w.Record(ctx, tx, login(time.Now(), "b"))
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	})

	t.Run("in the transaction", func(t *testing.T) {
		// The transaction holds a lock on the table (it wrote a row), so
		// the partition would be created in it: the refusal must leave it
		// usable too.
		tx := begin(t, pool)
		_, err := w.Record(ctx, tx, login(time.Now(), "c"))
		require.NoError(t, err)
		_, err = w.Record(ctx, tx, login(far, "far"))
		check(t, err)
		usable(t, tx)
		require.NoError(t, tx.Commit(ctx))
	})

	users := map[string]bool{}
	for _, r := range readRows(t, pool) {
		users[*r.UserID] = true
	}
	require.Equal(t, map[string]bool{"b": true, "c": true}, users)
}
