package clickhouselog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/internal/metricstest"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// migrated returns a connection to a fresh database holding a migrated
// audit table, and the schema options naming it.
func migrated(t testing.TB) (driver.Conn, chschema.Options, chschema.Layout) {
	t.Helper()
	conn, db := testenv.ClickHouse(t)
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctxT(t), conn, opts)
	require.NoError(t, err)
	return conn, opts, layout
}

// newExporter returns an exporter over conn with fast retries, a handler
// log and metrics read by a ManualReader (metricsOf). After the test,
// every record it was given must have exactly one outcome in its Stats,
// and its metrics must count what its Stats count.
func newExporter(t testing.TB, conn driver.Conn, opts chschema.Options, extra ...clickhouselog.Option) (*clickhouselog.Exporter, *corpus.ErrorLog) {
	t.Helper()
	h := &corpus.ErrorLog{}
	m := metricstest.New(t)
	all := append([]clickhouselog.Option{
		clickhouselog.WithSchema(opts),
		clickhouselog.WithRetry(clickhouselog.RetryConfig{Enabled: true, InitialInterval: time.Millisecond, MaxInterval: 10 * time.Millisecond, MaxElapsedTime: 10 * time.Second}),
		clickhouselog.WithErrorHandler(h.Handle),
		clickhouselog.WithMeterProvider(m.Provider),
	}, extra...)
	exp, err := clickhouselog.New(conn, all...)
	require.NoError(t, err)
	readers.Store(exp, m)
	t.Cleanup(func() { metricstest.RequireMatches(t, m, "clickhouselog", exp.Stats()) })
	return exp, h
}

// readers maps each exporter of newExporter to its metrics.
var readers sync.Map // *clickhouselog.Exporter -> *metricstest.Reader

// metricsOf returns the metrics of an exporter made by newExporter.
func metricsOf(e *clickhouselog.Exporter) *metricstest.Reader {
	m, _ := readers.Load(e)
	return m.(*metricstest.Reader)
}

// logins returns n login records of workspace ws, one millisecond apart.
func logins(n int, ws string) []sdklog.Record {
	start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	return corpus.Capture(func(lp log.LoggerProvider) {
		i := 0
		a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithClock(func() time.Time {
			i++
			return start.Add(time.Duration(i) * time.Millisecond)
		}))
		for k := range n {
			a.Login(context.Background(), otelaudit.Actor{UserID: "u" + string(rune('a'+k%26)), WorkspaceID: ws})
		}
	})
}

func count(t testing.TB, conn driver.Conn, q string, args ...any) uint64 {
	t.Helper()
	var n uint64
	require.NoError(t, conn.QueryRow(ctxT(t), q, args...).Scan(&n), q)
	return n
}

// flakyConn is a real connection whose batches fail on purpose: the first
// failPrepare PrepareBatch calls fail before anything is sent, and the
// first failAfterSend batches are sent for real and then reported as
// failed, as when the connection drops before the server's answer. When
// sendRows is positive, such a failing batch sends only its first
// sendRows rows: the server stores part of the batch before the
// connection drops.
type flakyConn struct {
	driver.Conn
	failPrepare, failAfterSend, sendRows atomic.Int32
}

func (c *flakyConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if c.failPrepare.Add(-1) >= 0 {
		return nil, io.ErrUnexpectedEOF
	}
	b, err := c.Conn.PrepareBatch(ctx, q, opts...)
	if err != nil {
		return nil, err
	}
	fb := &flakyBatch{Batch: b}
	if c.failAfterSend.Add(-1) >= 0 {
		fb.fail, fb.rows = true, int(c.sendRows.Load())
	}
	return fb, nil
}

type flakyBatch struct {
	driver.Batch
	fail bool
	rows int // > 0: send only the first rows rows
}

func (b *flakyBatch) Column(i int) driver.BatchColumn {
	if !b.fail || b.rows <= 0 {
		return b.Batch.Column(i)
	}
	return &prefixColumn{BatchColumn: b.Batch.Column(i), n: b.rows}
}

func (b *flakyBatch) Send() error {
	if err := b.Batch.Send(); err != nil {
		return err
	}
	if b.fail {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// prefixColumn appends the first n values of each column slice it is
// given, or the first n rows given one by one.
type prefixColumn struct {
	driver.BatchColumn
	n, rows int
}

func (c *prefixColumn) Append(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && rv.Len() > c.n {
		v = rv.Slice(0, c.n).Interface()
	}
	return c.BatchColumn.Append(v)
}

func (c *prefixColumn) AppendRow(v any) error {
	if c.rows >= c.n {
		return nil
	}
	c.rows++
	return c.BatchColumn.AppendRow(v)
}

// stopMerges keeps the parts of the audit table apart for the rest of the
// test, so that copies of a row stay countable: a ReplacingMergeTree
// would otherwise collapse them whenever its parts merge.
func stopMerges(t testing.TB, conn driver.Conn) {
	t.Helper()
	require.NoError(t, conn.Exec(ctxT(t), "SYSTEM STOP MERGES audit_logs"))
}

// storedIDs returns the event ids of every row of the audit table, one
// per row (copies included), sorted.
func storedIDs(t testing.TB, conn driver.Conn) []string {
	t.Helper()
	rows, err := conn.Query(ctxT(t), "SELECT toString(event_id) FROM audit_logs")
	require.NoError(t, err)
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	slices.Sort(ids)
	return ids
}

// recordIDs returns the event ids the mapping gives recs, sorted.
func recordIDs(t testing.TB, recs []sdklog.Record) []string {
	t.Helper()
	m := auditrow.NewMapper(auditrow.Options{})
	ids := make([]string, 0, len(recs))
	for i := range recs {
		row, err := m.MapRecord(&recs[i])
		require.NoError(t, err)
		ids = append(ids, row.EventID.String())
	}
	slices.Sort(ids)
	return ids
}

// partitionLimitConn refuses, as newer servers do with
// max_partitions_per_insert_block, a batch whose rows span more than limit
// months: Send aborts it (nothing is written) and returns the server's
// exception. Other batches are sent for real.
type partitionLimitConn struct {
	driver.Conn
	limit         int
	refused, sent atomic.Int32
}

func (c *partitionLimitConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	b, err := c.Conn.PrepareBatch(ctx, q, opts...)
	if err != nil {
		return nil, err
	}
	return &partitionLimitBatch{Batch: b, conn: c}, nil
}

type partitionLimitBatch struct {
	driver.Batch
	conn   *partitionLimitConn
	months map[int]bool
}

func (b *partitionLimitBatch) Column(i int) driver.BatchColumn {
	return monthsColumn{b.Batch.Column(i), b}
}

// monthsColumn notes the months of the time column's values.
type monthsColumn struct {
	driver.BatchColumn
	b *partitionLimitBatch
}

func (c monthsColumn) Append(v any) error {
	if times, ok := v.([]time.Time); ok {
		c.b.months = map[int]bool{}
		for _, t := range times {
			c.b.months[t.Year()*100+int(t.Month())] = true
		}
	}
	return c.BatchColumn.Append(v)
}

func (b *partitionLimitBatch) Send() error {
	if len(b.months) > b.conn.limit {
		b.conn.refused.Add(1)
		if err := b.Batch.Abort(); err != nil {
			return err
		}
		return &clickhouse.Exception{Code: 252, Name: "DB::Exception", Message: fmt.Sprintf(
			"Too many partitions for single INSERT block (more than %d). The limit is controlled by 'max_partitions_per_insert_block' setting.", b.conn.limit)}
	}
	b.conn.sent.Add(1)
	return b.Batch.Send()
}

// sendCounter counts the batches a real connection sent, and the codes
// of the server exceptions of those that failed.
type sendCounter struct {
	driver.Conn
	sent    atomic.Int32
	mu      sync.Mutex
	refused []int32
}

func (c *sendCounter) codes() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.refused)
}

func (c *sendCounter) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	b, err := c.Conn.PrepareBatch(ctx, q, opts...)
	if err != nil {
		return nil, err
	}
	return &countedBatch{Batch: b, c: c}, nil
}

type countedBatch struct {
	driver.Batch
	c *sendCounter
}

func (b *countedBatch) Send() error {
	err := b.Batch.Send()
	if err == nil {
		b.c.sent.Add(1)
		return nil
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		b.c.mu.Lock()
		b.c.refused = append(b.c.refused, ex.Code)
		b.c.mu.Unlock()
	}
	return err
}
