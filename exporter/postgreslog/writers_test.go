package postgreslog_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// storedIDs returns the event ids of the table, sorted.
func storedIDs(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(testCtx(t), `SELECT event_id::text FROM audit_logs ORDER BY event_id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return ids
}

// sortedIDs returns the event ids the mapping gives records, sorted.
func sortedIDs(t *testing.T, records []sdklog.Record) []string {
	t.Helper()
	ids := eventIDs(t, records)
	slices.Sort(ids)
	return ids
}

// transactions returns how many transactions wrote the table's rows (the
// distinct values of arrival, the writing transaction's id).
func transactions(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(testCtx(t), `SELECT count(DISTINCT arrival) FROM audit_logs`).Scan(&n))
	return n
}

// waitingCopies returns how many COPY statements of the database wait
// for a lock.
func waitingCopies(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(testCtx(t), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY %'`).Scan(&n))
	return n
}

// TestWritersSplitExportConcurrentSafe checks that WithWriters(4) writes a
// batch of 4000 records as four COPYs in flight at once (all four wait
// for a lock on the table at the same time), each its own transaction,
// and stores every record once; and that a batch too small to split (600
// records: shares would be under 512) is one COPY.
func TestWritersSplitExportConcurrentSafe(t *testing.T) {
	const writers = 4
	t.Run("split", func(t *testing.T) {
		ctx := testCtx(t)
		pool := migrated(t, pgschema.Options{})
		// A pool of its own for the exporter: the test holds connections
		// of the other one.
		cfg := pool.Config()
		cfg.MaxConns = writers
		own, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(own.Close)
		e, h := newExporter(t, own, postgreslog.WithWriters(writers))
		records := logins(4000, batchTime)

		release := lockTable(t, pool)
		done := make(chan error, 1)
		go func() { done <- e.Export(ctx, records) }()
		require.Eventually(t, func() bool { return waitingCopies(t, pool) == writers },
			30*time.Second, 20*time.Millisecond, "four COPYs wait for the table at once")
		release()
		require.NoError(t, <-done)

		require.Equal(t, sortedIDs(t, records), storedIDs(t, pool), "every event once")
		require.Equal(t, writers, transactions(t, pool), "one transaction per writer")
		s := e.Stats()
		require.Equal(t, uint64(len(records)), s.Written)
		require.Zero(t, s.AlreadyStored+s.Failed)
		require.Empty(t, h.All())
	})
	t.Run("too small to split", func(t *testing.T) {
		pool := migrated(t, pgschema.Options{})
		e, _ := newExporter(t, pool, postgreslog.WithWriters(writers))
		records := logins(600, batchTime)
		require.NoError(t, e.Export(testCtx(t), records))
		require.Equal(t, sortedIDs(t, records), storedIDs(t, pool))
		require.Equal(t, 1, transactions(t, pool))
	})
}

// TestWriterFailureThenRetryConcurrentSafe cuts the connection of one of
// two writers, retries off (as behind the journal): the Export returns an
// error and counts that writer's share as failed, while the other share is
// written. Exporting the same batch again stores each event exactly once,
// whether the cut COPY had committed or not.
func TestWriterFailureThenRetryConcurrentSafe(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mode      killMode
		committed bool // the cut COPY committed before the cut
	}{
		{"cut during the COPY", killOnCopyData, false},
		{"cut after the commit", killAfterCopyCommit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			pool := migrated(t, pgschema.Options{})
			p := newProxy(t, pool.Config().ConnConfig.Host+":"+fmt.Sprint(pool.Config().ConnConfig.Port))
			e, _ := newExporter(t, poolThrough(t, pool, p), postgreslog.WithWriters(2), postgreslog.WithRetry(postgreslog.RetryConfig{}))
			const n = 3001
			all := logins(n, batchTime)
			require.NoError(t, e.Export(ctx, all[:1])) // warm the partition cache
			records := all[1:]

			p.arm(tc.mode)
			err := e.Export(ctx, records)
			require.Error(t, err, "one writer's COPY was cut")
			require.Equal(t, int32(1), p.killed.Load())
			half := uint64(len(records) / 2)
			s := e.Stats()
			require.Equal(t, half, s.Failed, "the cut writer's share")
			require.Equal(t, 1+half, s.Written, "the other share")
			rows, ids := count(t, pool)
			want := 1 + int(half)
			if tc.committed {
				want = n
			}
			require.Equal(t, want, rows)
			require.Equal(t, want, ids)

			// The retry, as the journal makes it: the same batch.
			require.NoError(t, e.Export(ctx, records))
			require.Equal(t, sortedIDs(t, all), storedIDs(t, pool), "every event once")
			s = e.Stats()
			require.Equal(t, uint64(2*len(records)+1), s.Received)
			require.Equal(t, half, s.Failed)
			if tc.committed {
				require.Equal(t, 1+half, s.Written)
				require.Equal(t, uint64(len(records)), s.AlreadyStored, "both shares found stored")
			} else {
				require.Equal(t, uint64(n), s.Written)
				require.Equal(t, half, s.AlreadyStored, "the share written by the first Export")
			}
		})
	}
}

// TestDuplicatesAcrossWritersConcurrentSafe gives two writers the same
// 1000 events, in the same order and in reverse order (their COPYs then
// wait for each other's rows, and Postgres aborts one as a deadlock): one
// share is written, the other is found stored, each event is stored
// once.
func TestDuplicatesAcrossWritersConcurrentSafe(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		t.Run(fmt.Sprintf("reverse=%v", reverse), func(t *testing.T) {
			pool := migrated(t, pgschema.Options{})
			e, h := newExporter(t, pool, postgreslog.WithWriters(2))
			events := logins(1000, batchTime)
			again := slices.Clone(events)
			if reverse {
				slices.Reverse(again)
			}
			require.NoError(t, e.Export(testCtx(t), append(slices.Clone(events), again...)))
			require.Equal(t, sortedIDs(t, events), storedIDs(t, pool))
			s := e.Stats()
			require.Equal(t, uint64(1000), s.Written)
			require.Equal(t, uint64(1000), s.AlreadyStored)
			require.Zero(t, s.Failed)
			require.Empty(t, h.All())
		})
	}
}

// TestRejectHookWithWritersConcurrentSafe exports a batch in which every
// other record is refused (not an audit record) over four writers: the
// reject hook hears of each refusal once and its calls never overlap, as
// with one writer; the audit records are stored.
func TestRejectHookWithWritersConcurrentSafe(t *testing.T) {
	pool := migrated(t, pgschema.Options{})
	e, _ := newExporter(t, pool, postgreslog.WithWriters(4))
	audit := logins(1024, batchTime)
	other := nonAuditRecords(1024)
	var records []sdklog.Record
	for i := range audit {
		records = append(records, audit[i], other[i])
	}
	var inside, overlaps, calls atomic.Int64
	ctx := auditrow.ContextWithRejectHook(testCtx(t), func(*auditrow.RejectError) {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		calls.Add(1)
		time.Sleep(10 * time.Microsecond)
		inside.Add(-1)
	})
	require.NoError(t, e.Export(ctx, records))
	require.Equal(t, int64(1024), calls.Load())
	require.Zero(t, overlaps.Load(), "calls of the hook overlapped")
	require.Equal(t, uint64(1024), e.Stats().Rejected[auditrow.ReasonNonAudit])
	require.Equal(t, sortedIDs(t, audit), storedIDs(t, pool))
	require.Equal(t, 4, transactions(t, pool))
}

// TestExportRecordsWithWritersConcurrentSafe writes 1600 records that are
// not SDK records (ExportRecords) over three writers: every event once, in
// three transactions.
func TestExportRecordsWithWritersConcurrentSafe(t *testing.T) {
	pool := migrated(t, pgschema.Options{})
	e, _ := newExporter(t, pool, postgreslog.WithWriters(3))
	recs := make(corpus.OTLPRecords, 1600)
	want := make([]string, len(recs))
	for i := range recs {
		want[i] = fmt.Sprintf("0190b9b2-7f00-7000-8000-%012d", i)
		recs[i] = corpus.OTLPRecord{Name: "audit.login", Time: batchTime.Add(time.Duration(i) * time.Millisecond),
			Attrs: []attribute.KeyValue{
				attribute.String(otelaudit.KeyEventID, want[i]),
				attribute.String(otelaudit.KeyUserID, fmt.Sprint("u", i)),
			}}
	}
	require.NoError(t, e.ExportRecords(context.Background(), recs))
	require.Equal(t, want, storedIDs(t, pool))
	require.Equal(t, 3, transactions(t, pool))
	require.Equal(t, uint64(len(recs)), e.Stats().Written)
}

// TestWritersTakeTurnsConcurrentSafe gives four writers a pool of one
// connection and a batch of 4000 records that needs partitions created
// (each share spans months the table has no partition for, and shares of
// the current month come between them): the writers take turns on the
// connection, the partitions are made, every event is stored once.
func TestWritersTakeTurnsConcurrentSafe(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{Ahead: -1}) // only this month's partition exists
	cfg := pool.Config()
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(one.Close)
	e, h := newExporter(t, one, postgreslog.WithWriters(4))

	start := time.Date(2019, 11, 30, 12, 0, 0, 0, time.UTC)
	var records []sdklog.Record
	for i, r := range logins(4000, start) {
		if i%1000 >= 500 { // the second half of each share: now
			r.SetTimestamp(time.Now())
		} else {
			r.SetTimestamp(start.AddDate(0, 0, 10*(i/1000)).Add(time.Duration(i) * time.Minute))
		}
		records = append(records, r)
	}
	require.NoError(t, e.Export(ctx, records))
	require.Empty(t, h.All())
	require.Equal(t, sortedIDs(t, records), storedIDs(t, pool))
	require.Equal(t, uint64(len(records)), e.Stats().Written)
	parts := map[string]int{}
	for _, r := range readRows(t, pool) {
		parts[r.Partition]++
	}
	for _, p := range []string{"audit_logs_p201911", "audit_logs_p201912", "audit_logs_p202001"} {
		require.Positive(t, parts[p], "rows in %s, made by the writers", p)
	}
}
