package clickhouselog_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
)

// watchConn is a real connection that watches the INSERTs: how many are
// in flight at once (from PrepareBatch to the end of Send), and how far
// the mapping of the records (mapped, set by countingRecords) went on
// meanwhile. Each INSERT waits a little first, so that the mapping has
// time to move on.
type watchConn struct {
	driver.Conn
	mapped                       *atomic.Int64
	sends, inFlight, maxInFlight atomic.Int64
	mappedDuringInsert           atomic.Int64
}

func (c *watchConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	n := c.inFlight.Add(1)
	for m := c.maxInFlight.Load(); n > m && !c.maxInFlight.CompareAndSwap(m, n); m = c.maxInFlight.Load() {
	}
	before := c.mapped.Load()
	time.Sleep(5 * time.Millisecond)
	b, err := c.Conn.PrepareBatch(ctx, q, opts...)
	if err != nil {
		c.inFlight.Add(-1)
		return nil, err
	}
	return &watchBatch{Batch: b, c: c, before: before}, nil
}

type watchBatch struct {
	driver.Batch
	c      *watchConn
	before int64
}

func (b *watchBatch) Send() error {
	c := b.c
	defer c.inFlight.Add(-1)
	c.sends.Add(1)
	err := b.Batch.Send()
	c.mappedDuringInsert.Add(c.mapped.Load() - b.before)
	return err
}

// countingRecords counts the records the Exporter has asked for.
type countingRecords struct {
	corpus.OTLPRecords
	mapped *atomic.Int64
}

func (r countingRecords) At(i int) (auditrow.Source, string) {
	r.mapped.Add(1)
	return r.OTLPRecords.At(i)
}

// TestExportOverlapsChunksLive: an Export larger than one INSERT maps the
// next chunk while the previous one is written, with one INSERT in flight
// at a time, and keeps every guarantee of the sequential path: rows the
// server refuses in any chunk are isolated by bisection (on the writing
// goroutine) while records the mapping refuses are reported (on the
// mapping one); the hook, which is not safe for concurrent use, is never
// called concurrently (the race detector watches it); every good row is
// stored once, and Stats count every record once.
func TestExportOverlapsChunksLive(t *testing.T) {
	t.Parallel()
	conn, opts, _ := migrated(t)
	require.NoError(t, conn.Exec(ctxT(t), "ALTER TABLE audit_logs ADD COLUMN poison UInt8 MATERIALIZED throwIf(user_id = 'poison-pill')"))
	stopMerges(t, conn) // one part per INSERT

	const n = 3000
	at := time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)
	var recs corpus.OTLPRecords
	var wantRejected []rejection
	good := map[uuid.UUID]bool{}
	m := auditrow.NewMapper(auditrow.Options{})
	for i := range n {
		user, name := "u", "audit.login"
		switch {
		case i%700 == 350:
			user = "poison-pill"
		case i%450 == 5:
			name = "http.request" // not an audit record: refused by the mapping
		}
		recs = append(recs, corpus.OTLPRecord{Name: name, Time: at.Add(time.Duration(i) * time.Millisecond),
			Attrs: []attribute.KeyValue{
				attribute.String(otelaudit.KeyEventID, uuid.Must(uuid.NewV7()).String()),
				attribute.String(otelaudit.KeyUserID, user), attribute.String(otelaudit.KeyWorkspaceID, "ws"),
				attribute.String("padding", string(make([]byte, 64))),
			}})
		src, service := recs.At(i)
		row, err := m.Map(src, service)
		switch {
		case err != nil:
			wantRejected = append(wantRejected, rejection{Reason: auditrow.ReasonOf(err)})
		case user == "poison-pill":
			wantRejected = append(wantRejected, rejection{auditrow.ReasonRefusedByServer, row.EventID})
		default:
			good[row.EventID] = true
		}
	}
	require.Len(t, wantRejected, 4+7)

	var mapped atomic.Int64
	watch := &watchConn{Conn: conn, mapped: &mapped}
	exp, h := newExporter(t, watch, opts, clickhouselog.WithMaxInsertBytes(64<<10))
	var got []*auditrow.RejectError
	hooked := auditrow.ContextWithRejectHook(ctxT(t), func(re *auditrow.RejectError) { got = append(got, re) })
	require.NoError(t, exp.ExportRecords(hooked, countingRecords{recs, &mapped}))

	require.Equal(t, sorted(wantRejected), rejections(got))
	require.Len(t, h.All(), 4, "the handler gets the rows the server refused")
	st := exp.Stats()
	require.EqualValues(t, n, st.Received)
	require.EqualValues(t, len(good), st.Written)
	require.EqualValues(t, 4, st.Rejected[auditrow.ReasonRefusedByServer])
	require.EqualValues(t, 7, st.Rejected[auditrow.ReasonNonAudit])
	require.Zero(t, st.Failed)
	require.Zero(t, st.AlreadyStored)

	stored := map[uuid.UUID]bool{}
	rows, err := conn.Query(ctxT(t), "SELECT event_id FROM audit_logs")
	require.NoError(t, err)
	for rows.Next() {
		var id uuid.UUID
		require.NoError(t, rows.Scan(&id))
		require.False(t, stored[id], "event %s stored twice", id)
		stored[id] = true
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, good, stored, "every good row once, nothing else")

	// 3,000 rows of a few hundred bytes in chunks of 32 KiB: dozens of
	// INSERTs, one at a time, and the mapping went on during them.
	require.Greater(t, watch.sends.Load(), int64(20))
	require.EqualValues(t, 1, watch.maxInFlight.Load(), "one INSERT in flight at a time")
	require.Positive(t, watch.mappedDuringInsert.Load(), "records were mapped while an INSERT was written")
	parts := count(t, conn, "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'audit_logs' AND active")
	require.Greater(t, parts, uint64(20), "one part per INSERT")
}
