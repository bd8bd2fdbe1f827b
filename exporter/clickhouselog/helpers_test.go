package clickhouselog_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
	"github.com/otelaudit/otelaudit/exporter/internal/metricstest"
	"github.com/otelaudit/otelaudit/internal/testenv"
	chschema "github.com/otelaudit/otelaudit/schema/clickhouse"
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
		clickhouselog.WithRetry(time.Millisecond, 10*time.Millisecond, 10*time.Second),
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
// failed, as when the connection drops before the server's answer.
type flakyConn struct {
	driver.Conn
	failPrepare, failAfterSend atomic.Int32
}

func (c *flakyConn) PrepareBatch(ctx context.Context, q string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if c.failPrepare.Add(-1) >= 0 {
		return nil, io.ErrUnexpectedEOF
	}
	b, err := c.Conn.PrepareBatch(ctx, q, opts...)
	if err != nil {
		return nil, err
	}
	return &flakyBatch{Batch: b, conn: c}, nil
}

type flakyBatch struct {
	driver.Batch
	conn *flakyConn
}

func (b *flakyBatch) Send() error {
	if err := b.Batch.Send(); err != nil {
		return err
	}
	if b.conn.failAfterSend.Add(-1) >= 0 {
		return io.ErrUnexpectedEOF
	}
	return nil
}
