package clickhouselog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
	chschema "github.com/otelaudit/otelaudit/schema/clickhouse"
)

// ErrNilConn is returned by [New] when given no connection.
var ErrNilConn = errors.New("clickhouselog: nil connection")

// storedCheckChunk bounds the event ids looked up per query after an
// ambiguous failure, so the query stays under max_query_size (256 KiB).
const storedCheckChunk = 2000

// Exporter writes audit log records into the ClickHouse audit table, one
// columnar INSERT per Export. See the package documentation for the whole
// contract.
//
// Export may be called from several goroutines; calls are serialized.
// Export honours the context's deadline and cancellation, retains neither
// the records slice nor the records, and returns
// [sdklog.ErrExporterShutdown] after Shutdown. It returns an error only for
// rows it could not write (counted in Stats.Failed); records refused one
// by one, by the mapping or by the server, go to the error handler.
type Exporter struct {
	conn   driver.Conn
	cfg    config
	target string // quoted db.table
	cols   []string

	stopped atomic.Bool
	stats   counters

	mu      sync.Mutex // serializes Export; guards what follows
	layout  chschema.Layout
	insert  string
	mapper  *auditrow.Mapper
	rows    []row
	columns columns
}

var _ sdklog.Exporter = (*Exporter)(nil)

// New returns an Exporter writing through conn. It does no I/O; the layout,
// when not given with [WithLayout], is read from the table on the first
// Export. The Exporter never closes conn.
func New(conn driver.Conn, opts ...Option) (*Exporter, error) {
	if conn == nil {
		return nil, ErrNilConn
	}
	cfg := newConfig(opts)
	target, err := chschema.InsertTarget(cfg.schema)
	if err != nil {
		return nil, fmt.Errorf("clickhouselog: %w", err)
	}
	switch cfg.layout {
	case chschema.LayoutAuto, chschema.LayoutCompat, chschema.LayoutModern:
	default:
		return nil, fmt.Errorf("clickhouselog: %w: unknown layout %v", chschema.ErrInvalidOptions, cfg.layout)
	}
	e := &Exporter{conn: conn, cfg: cfg, target: target, mapper: auditrow.NewMapper(cfg.mapper)}
	e.setLayout(cfg.layout)
	return e, nil
}

func (e *Exporter) setLayout(l chschema.Layout) {
	e.layout = l
	if l == chschema.LayoutAuto {
		return
	}
	e.cols = chschema.Columns(l)
	e.insert = "INSERT INTO " + e.target + " (" + strings.Join(e.cols, ", ") + ")"
}

// Stats returns the counters. A nil *Exporter returns zero Stats.
func (e *Exporter) Stats() Stats {
	if e == nil {
		return Stats{Rejected: map[string]uint64{}}
	}
	return e.stats.snapshot()
}

// Export maps the records and writes them in one columnar INSERT, retrying
// transient failures, bisecting a batch the server refuses for its data,
// and never writing a row twice after an ambiguous failure (see the
// package documentation).
func (e *Exporter) Export(ctx context.Context, records []sdklog.Record) error {
	if e.stopped.Load() {
		return sdklog.ErrExporterShutdown
	}
	if len(records) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()

	if e.layout == chschema.LayoutAuto {
		l, err := chschema.TableLayout(ctx, e.conn, e.cfg.schema)
		if err != nil {
			e.stats.failed.Add(uint64(len(records)))
			return fmt.Errorf("clickhouselog: %d records not written: %w", len(records), err)
		}
		e.setLayout(l)
	}

	rows := e.rows[:0]
	for i := range records {
		r, err := e.mapper.MapRecord(&records[i])
		if err != nil {
			e.stats.reject(err)
			e.cfg.errorHandler(&RejectError{Reason: auditrow.ReasonOf(err), Err: err})
			continue
		}
		rw := newRow(&r, e.layout)
		if len(rw.sanitized) > 0 {
			e.stats.sanitized.Add(1)
		}
		rows = append(rows, rw)
	}
	err := e.write(ctx, rows)
	clear(rows) // keep no strings of the records alive
	e.rows = rows[:0]
	return err
}

// write sends rows with retries; after a refusal for data it bisects.
func (e *Exporter) write(ctx context.Context, rows []row) error {
	if len(rows) == 0 {
		return nil
	}
	pending := rows
	checkStored := false
	transient := func(err error) bool { return classify(err) == classTransient }
	onRetry := func(error) { e.stats.retried.Add(1) }
	err := retry.Do(ctx, e.cfg.retry, transient, onRetry, func(ctx context.Context) error {
		if checkStored {
			rest, err := e.dropStored(ctx, pending)
			if err != nil {
				return err
			}
			stored := uint64(len(pending) - len(rest))
			e.stats.alreadyStored.Add(stored)
			e.stats.written.Add(stored)
			pending, checkStored = rest, false
			if len(pending) == 0 {
				return nil
			}
		}
		sent, err := e.send(ctx, pending)
		// A transient failure once data went out is ambiguous: the server
		// may have written the rows. Look before sending them again.
		checkStored = sent && err != nil && classify(err) == classTransient
		return err
	})
	if err == nil {
		e.stats.written.Add(uint64(len(pending)))
		return nil
	}
	if classify(err) == classData {
		if len(pending) == 1 {
			e.stats.refused.Add(1)
			e.cfg.errorHandler(&RejectError{EventID: pending[0].id.String(), Reason: ReasonRefusedByServer, Err: err})
			return nil
		}
		mid := len(pending) / 2
		return errors.Join(e.write(ctx, pending[:mid]), e.write(ctx, pending[mid:]))
	}
	e.stats.failed.Add(uint64(len(pending)))
	return fmt.Errorf("clickhouselog: insert %d rows into %s: %w", len(pending), e.target, err)
}

// send builds the columns of rows and sends them as one INSERT. sent
// reports whether any data may have reached the server.
func (e *Exporter) send(ctx context.Context, rows []row) (sent bool, err error) {
	e.columns.fill(rows, e.layout)
	if e.cfg.dedupToken {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplication_token": dedupToken(rows)}))
	}
	b, err := e.conn.PrepareBatch(ctx, e.insert)
	if err != nil {
		return false, err
	}
	defer b.Close()
	for i, v := range e.columns.values(e.layout) {
		if err := b.Column(i).Append(v); err != nil {
			return false, fmt.Errorf("column %s: %w", e.cols[i], err)
		}
	}
	return true, b.Send()
}

// dedupToken identifies a batch by its event ids.
func dedupToken(rows []row) string {
	h := sha256.New()
	for i := range rows {
		h.Write(rows[i].id[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dropStored returns the rows whose event ids are not in the table yet.
// The lookup is bounded by the rows' time range (partition pruning).
func (e *Exporter) dropStored(ctx context.Context, rows []row) ([]row, error) {
	stored := make(map[string]bool)
	for start := 0; start < len(rows); start += storedCheckChunk {
		chunk := rows[start:min(start+storedCheckChunk, len(rows))]
		lo, hi := chunk[0].time, chunk[0].time
		var ids strings.Builder
		for i := range chunk {
			lo, hi = minTime(lo, chunk[i].time), maxTime(hi, chunk[i].time)
			if i > 0 {
				ids.WriteByte(',')
			}
			ids.WriteString("'" + chunk[i].id.String() + "'") // hex and dashes: nothing to escape
		}
		q := "SELECT DISTINCT toString(event_id) FROM " + e.target +
			" WHERE time >= toDateTime(?) AND time < toDateTime(?) AND toString(event_id) IN (" + ids.String() + ")"
		rs, err := e.conn.Query(ctx, q, lo.Unix(), hi.Unix()+1)
		if err != nil {
			return nil, fmt.Errorf("look up stored event ids: %w", err)
		}
		for rs.Next() {
			var id string
			if err := rs.Scan(&id); err != nil {
				rs.Close()
				return nil, err
			}
			stored[id] = true
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("look up stored event ids: %w", err)
		}
	}
	if len(stored) == 0 {
		return rows, nil
	}
	rest := make([]row, 0, len(rows)-len(stored))
	for i := range rows {
		if !stored[rows[i].id.String()] {
			rest = append(rest, rows[i])
		}
	}
	return rest, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ForceFlush does nothing: the Exporter holds no records between calls.
func (e *Exporter) ForceFlush(context.Context) error { return nil }

// Shutdown makes later Exports return [sdklog.ErrExporterShutdown]. It
// does not close the connection, which belongs to the caller. It is
// idempotent and safe to call concurrently.
func (e *Exporter) Shutdown(context.Context) error {
	e.stopped.Store(true)
	return nil
}
