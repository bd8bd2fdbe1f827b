package clickhouselog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
	"github.com/otelaudit/otelaudit/exporter/internal/exportstats"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// ErrNilConn is returned by [New] when given no connection.
var ErrNilConn = errors.New("clickhouselog: nil connection")

// storedCheckChunk bounds the event ids looked up per query after an
// ambiguous failure, so the query stays under max_query_size (256 KiB).
const storedCheckChunk = 2000

// Exporter writes audit log records into the ClickHouse audit table, one
// columnar INSERT per Export (several when its rows exceed
// WithMaxInsertBytes, each mapped while the previous one is written). See
// the package documentation for the whole contract.
//
// Export may be called from several goroutines; calls are serialized.
// Export honours the context's deadline and cancellation, retains neither
// the records slice nor the records, and returns
// [sdklog.ErrExporterShutdown] after Shutdown. It returns an error only for
// rows it could not write (counted in Stats().Failed); records refused one
// by one, by the mapping or by the server, are counted and go to the error
// handler and to the context's reject hook
// (auditrow.ContextWithRejectHook) before Export returns.
type Exporter struct {
	conn     driver.Conn
	ownsConn bool // opened by Open: Shutdown closes it
	cfg      config
	target   string // quoted db.table
	cols     []string

	stopped atomic.Bool
	stats   *exportstats.Recorder
	// abort is canceled when Shutdown of an Exporter that owns its
	// connection stops waiting for the Export in flight.
	abort       context.Context
	cancelAbort context.CancelFunc

	mu     sync.Mutex // serializes Export; guards what follows
	layout chschema.Layout
	insert string
	mapper *auditrow.Mapper
	// bufs are the rows of the chunk being mapped and of the chunk in
	// flight, reused from Export to Export.
	bufs [2]columns
}

var _ sdklog.Exporter = (*Exporter)(nil)

// New returns an Exporter writing through conn. It does no I/O; the layout,
// when not given with [WithLayout], is read from the table on the first
// Export. The Exporter never closes conn. Settings not given as options
// are read from the environment (see the package documentation,
// "Configuration"); a variable whose value cannot be used makes New fail.
func New(conn driver.Conn, opts ...Option) (*Exporter, error) {
	if conn == nil {
		return nil, ErrNilConn
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouselog: %w", err)
	}
	return newExporter(conn, cfg)
}

func newExporter(conn driver.Conn, cfg config) (*Exporter, error) {
	target, err := chschema.InsertTarget(cfg.schema)
	if err != nil {
		return nil, fmt.Errorf("clickhouselog: %w", err)
	}
	switch cfg.layout {
	case chschema.LayoutAuto, chschema.LayoutCompat, chschema.LayoutModern:
	default:
		return nil, fmt.Errorf("clickhouselog: %w: unknown layout %v", chschema.ErrInvalidOptions, cfg.layout)
	}
	e := &Exporter{conn: conn, cfg: cfg, target: target, mapper: auditrow.NewMapper(cfg.mapping),
		stats: exportstats.New("clickhouselog", cfg.meters, cfg.errorHandler)}
	e.setLayout(cfg.layout)
	return e, nil
}

// Open returns an Exporter with a connection of its own to the server of
// dsn, a clickhouse-go DSN ("clickhouse://user:password@host:9000/audit";
// "" means the value of OTELAUDIT_CLICKHOUSE_DSN). Shutdown closes that
// connection. The table is in the DSN's database (or "default" when the
// DSN names none) unless [WithSchema] or OTELAUDIT_CLICKHOUSE_DATABASE
// names another. Connections are made when needed: Open does not check
// that the server answers. Like [New], Open reads the settings not given
// as options from the environment.
func Open(ctx context.Context, dsn string, opts ...Option) (*Exporter, error) {
	if dsn == "" {
		var env envconfig.Reader
		var ok bool
		if dsn, ok = env.String(envconfig.ClickHouseDSN); !ok {
			return nil, fmt.Errorf("clickhouselog: no DSN: give Open one or set %s", envconfig.ClickHouseDSN)
		}
	}
	chOpts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouselog: %w", err)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouselog: %w", err)
	}
	if cfg.schema.Database == "" {
		cfg.schema.Database = chOpts.Auth.Database
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("clickhouselog: %w", err)
	}
	conn, err := clickhouse.Open(chOpts)
	if err != nil {
		return nil, fmt.Errorf("clickhouselog: %w", err)
	}
	e, err := newExporter(conn, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	e.ownsConn = true
	e.abort, e.cancelAbort = context.WithCancel(context.Background())
	return e, nil
}

// errAborted is the cause of an export ended by Shutdown.
var errAborted = errors.New("clickhouselog: exporter shut down during the export")

func (e *Exporter) setLayout(l chschema.Layout) {
	e.layout = l
	if l == chschema.LayoutAuto {
		return
	}
	e.cols = chschema.Columns(l)
	e.insert = "INSERT INTO " + e.target + " (" + strings.Join(e.cols, ", ") + ")"
}

// Stats returns the counters: every record given to Export ends in exactly
// one of Written, AlreadyStored, Rejected or Failed. A nil *Exporter
// returns zero counts.
func (e *Exporter) Stats() auditrow.ExportStats {
	if e == nil {
		return (*exportstats.Recorder)(nil).Stats()
	}
	return e.stats.Stats()
}

// Export maps the records and writes them in columnar INSERTs of at most
// WithMaxInsertBytes each, retrying transient failures, bisecting a batch
// the server refuses for its data or its size, and never writing a row
// twice after an ambiguous failure (see the package documentation).
func (e *Exporter) Export(ctx context.Context, records []sdklog.Record) error {
	return e.export(ctx, len(records), func(m *auditrow.Mapper, i int) (auditrow.Row, error) {
		return m.MapRecord(&records[i])
	})
}

// ExportRecords writes records that are not SDK records (the Collector's,
// through exporter/otelauditexporter) with the same mapping, exactly-once
// rules, outcomes and errors as [Exporter.Export]. It keeps nothing of
// records once it returns.
func (e *Exporter) ExportRecords(ctx context.Context, records auditrow.Records) error {
	n := 0
	if records != nil {
		n = records.Len()
	}
	return e.export(ctx, n, func(m *auditrow.Mapper, i int) (auditrow.Row, error) {
		src, service := records.At(i)
		return m.Map(src, service)
	})
}

// export writes n records, mapping record i with mapAt.
func (e *Exporter) export(ctx context.Context, n int, mapAt func(*auditrow.Mapper, int) (auditrow.Row, error)) error {
	if e.stopped.Load() {
		return sdklog.ErrExporterShutdown
	}
	if n == 0 {
		return nil
	}
	stats := e.stats.Start(ctx, n)
	defer stats.End()
	call := stats.Share() // chunks are mapped and written on two goroutines
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ownsConn {
		if e.stopped.Load() {
			// Shut down while this call waited: the connection is closed.
			e.stats.Failed(n)
			return sdklog.ErrExporterShutdown
		}
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := context.AfterFunc(e.abort, func() { cancel(errAborted) })
		defer stop()
	}

	if e.layout == chschema.LayoutAuto {
		l, err := chschema.TableLayout(ctx, e.conn, e.cfg.schema)
		if err != nil {
			e.stats.Failed(n)
			return fmt.Errorf("clickhouselog: %d records not written: %w", n, err)
		}
		e.setLayout(l)
	}

	// Rows are mapped into a chunk until it holds the chunk's bytes, then
	// sent; so the memory held stays bounded whatever the records. While
	// a chunk is written (on a goroutine of this call), the next one is
	// mapped into the other buffer: the server's work on one INSERT
	// overlaps the mapping of the next. At most one INSERT is in flight.
	var (
		errsMu    sync.Mutex
		errs      []error
		inflight  chan struct{} // closed when the chunk in flight is written
		sanitized int
		cur       = 0
	)
	wait := func() {
		if inflight != nil {
			<-inflight
			inflight = nil
			e.bufs[1-cur].reset(e.layout) // keep no strings of the records alive
		}
	}
	write := func(c columns) {
		if err := e.write(ctx, call, c, e.cfg.checkStored); err != nil {
			errsMu.Lock()
			errs = append(errs, err)
			errsMu.Unlock()
		}
	}
	flush := func(last bool) {
		e.stats.Sanitized(sanitized)
		sanitized = 0
		wait()
		b := &e.bufs[cur]
		c := b.slice(0, b.len())
		if last {
			write(c)
			b.reset(e.layout)
			return
		}
		done := make(chan struct{})
		inflight = done
		go func() {
			defer close(done)
			write(c)
		}()
		cur = 1 - cur
	}
	e.bufs[0].reset(e.layout)
	e.bufs[1].reset(e.layout)
	chunk := e.cfg.maxInsert
	for i := range n {
		r, err := mapAt(e.mapper, i)
		if err != nil {
			// Other logs sharing the pipeline are expected: the error
			// handler does not get them, or they would flood it.
			call.Reject(auditrow.ReasonOf(err), uuid.Nil, err)
			continue
		}
		b := &e.bufs[cur]
		if b.add(&r) {
			sanitized++
		}
		if b.bytes >= chunk {
			flush(false)
		}
	}
	flush(true)
	return errors.Join(errs...)
}

// write sends the rows of c with retries, after looking up which are
// stored already when checkFirst is set; after a refusal for data, or for
// memory, it bisects.
func (e *Exporter) write(ctx context.Context, call *exportstats.Shared, c columns, checkFirst bool) error {
	if c.len() == 0 {
		return nil
	}
	pending := c
	checkStored := checkFirst
	retryable := func(err error) bool {
		switch classify(err) {
		case classTransient:
			return true
		case classMemory:
			// One row alone: the server's memory, not the batch's size.
			return pending.len() == 1
		}
		return false
	}
	err := retry.Do(ctx, e.cfg.retry, retryable, e.stats.Retried, func(ctx context.Context) error {
		if checkStored {
			rest, err := e.dropStored(ctx, &pending)
			if err != nil {
				return err
			}
			e.stats.AlreadyStored(pending.len() - rest.len())
			pending, checkStored = rest, false
			if pending.len() == 0 {
				return nil
			}
		}
		sent, err := e.send(ctx, &pending)
		// A transient failure once data went out is ambiguous: the server
		// may have written the rows. Look before sending them again.
		class := classify(err)
		checkStored = sent && err != nil && (class == classTransient || class == classMemory)
		return err
	})
	n := pending.len()
	if err == nil {
		e.stats.Written(n)
		return nil
	}
	switch classify(err) {
	case classData:
		if n == 1 {
			call.Reject(auditrow.ReasonRefusedByServer, pending.ids[0], err)
			return nil
		}
		return errors.Join(e.write(ctx, call, pending.slice(0, n/2), false), e.write(ctx, call, pending.slice(n/2, n), false))
	case classMemory:
		if n > 1 {
			// Refused for its size. The server may have written some of
			// its parts (one per month) before it ran out: the halves look
			// first.
			e.stats.Retried(err)
			return errors.Join(e.write(ctx, call, pending.slice(0, n/2), true), e.write(ctx, call, pending.slice(n/2, n), true))
		}
	}
	e.stats.Failed(n)
	return fmt.Errorf("clickhouselog: insert %d rows into %s: %w", n, e.target, err)
}

// send sends the rows of c as one INSERT: one Append per column, one Send.
// sent reports whether any data may have reached the server.
func (e *Exporter) send(ctx context.Context, c *columns) (sent bool, err error) {
	b, err := e.conn.PrepareBatch(ctx, e.insert)
	if err != nil {
		return false, err
	}
	vals := c.values()
	mem := strPool.Get().(*strBuffers)
	sized := presize(b.Columns(), vals, mem)
	defer func() {
		_ = b.Close()
		reclaim(sized, mem)
		strPool.Put(mem)
	}()
	for i, v := range vals {
		col := b.Column(i)
		if rows, ok := v.([][]string); ok {
			// An Array column appends a [][]string by reflection, with an
			// allocation per element; row by row it takes the typed path.
			for _, r := range rows {
				var v any = emptyRow // boxing an empty slice would allocate
				if len(r) > 0 {
					v = r
				}
				if err := col.AppendRow(v); err != nil {
					return false, fmt.Errorf("column %s: %w", e.cols[i], err)
				}
			}
			continue
		}
		if err := col.Append(v); err != nil {
			return false, fmt.Errorf("column %s: %w", e.cols[i], err)
		}
	}
	return true, b.Send()
}

// emptyRow is an empty array value, boxed once.
var emptyRow any = emptyStrings

// dropStored returns the rows of c whose event ids are not in the table
// yet. The lookup is bounded by the rows' time range (partition pruning).
func (e *Exporter) dropStored(ctx context.Context, c *columns) (columns, error) {
	stored := make(map[uuid.UUID]bool)
	for start := 0; start < c.len(); start += storedCheckChunk {
		end := min(start+storedCheckChunk, c.len())
		lo, hi := c.times[start], c.times[start]
		var ids strings.Builder
		for i := start; i < end; i++ {
			lo, hi = minTime(lo, c.times[i]), maxTime(hi, c.times[i])
			if i > start {
				ids.WriteByte(',')
			}
			ids.WriteString("'" + c.ids[i].String() + "'") // hex and dashes: nothing to escape
		}
		// hi is the last stored time: the range ends just after it. On the
		// modern layout the bounds are exact (chschema.TimeRange): bound as
		// time.Time, whole seconds, ClickHouse 26.5 missed rows later in a
		// second, and they were written twice.
		bounds, args := chschema.TimeRange(c.layout, lo, hi.Add(time.Nanosecond))
		q := "SELECT DISTINCT toString(event_id) FROM " + e.target +
			" WHERE " + bounds + " AND toString(event_id) IN (" + ids.String() + ")"
		rs, err := e.conn.Query(ctx, q, args...)
		if err != nil {
			return columns{}, fmt.Errorf("look up stored event ids: %w", err)
		}
		for rs.Next() {
			var s string
			if err := rs.Scan(&s); err != nil {
				rs.Close()
				return columns{}, err
			}
			if id, err := uuid.Parse(s); err == nil {
				stored[id] = true
			}
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return columns{}, fmt.Errorf("look up stored event ids: %w", err)
		}
	}
	if len(stored) == 0 {
		return *c, nil
	}
	return c.without(func(i int) bool { return stored[c.ids[i]] }), nil
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

// Shutdown makes later Exports return [sdklog.ErrExporterShutdown]. When
// the Exporter opened its connection ([Open]), Shutdown waits for the
// Export in flight, until ctx ends, and closes the connection; it never
// closes a connection given to [New]. It is idempotent and safe to call
// concurrently: only the first call does anything.
func (e *Exporter) Shutdown(ctx context.Context) error {
	if e.stopped.Swap(true) || !e.ownsConn {
		return nil
	}
	done := make(chan struct{})
	go func() {
		e.mu.Lock() // the Export in flight, if any, has returned
		e.mu.Unlock()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("clickhouselog: shutdown: %w", ctx.Err())
		e.cancelAbort() // the Export in flight ends promptly, its rows counted as failed
		<-done
	}
	e.cancelAbort()
	if cerr := e.conn.Close(); cerr != nil {
		return errors.Join(err, fmt.Errorf("clickhouselog: close the connection: %w", cerr))
	}
	return err
}
