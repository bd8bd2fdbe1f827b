package postgreslog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/exportstats"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
)

// How one Export is written: each share of it, when it is split over
// several writers (Exporter.writeShares), is a batch written as follows,
// on a goroutine of its own, independently of the others.
//
// The records are mapped (auditrow) and encoded (encode.go) once, in
// record order, into chunks of at most maxCopyBytes. A row goes into the
// main chunk when the range of its partition is known to exist, else into
// the later chunk. The main chunk is sent with one COPY straight into the
// table, and encoded lazily while the COPY runs: pgconn reads the COPY data
// from an io.Reader on a goroutine of its own, and the reader maps and
// encodes the next rows as it is read, so that the mapping overlaps with
// the server's work. Partitions cannot be created while that COPY holds its
// lock on the table, hence the later chunk: once the COPY is done, the
// partitions of the later rows are ensured and the later chunk is copied.
//
// Any failure of a chunk's first COPY leads to write, which replays the
// encoded rows of the whole chunk (or of a part, when bisecting):
//
//   - unique violation: an event of the chunk is stored already; the rows
//     go through a temporary staging table and INSERT ... ON CONFLICT DO
//     NOTHING, which skips (and counts as already stored) the rows that
//     are;
//   - transient error: retried with backoff; when the error may have come
//     after the server had the data (an ambiguous commit), through the
//     staging table;
//   - no partition for a row (retention dropped a cached one): forget the
//     cache, ensure the partitions, retry;
//   - a row's value refused: the chunk is bisected until the row is alone,
//     and that row is rejected;
//   - anything else: the chunk fails and Export returns the error.

// lazyStep is how much the lazy reader encodes at a time.
const lazyStep = 64 << 10

// rowRef locates one encoded row of a chunk.
type rowRef struct {
	off int       // start of the tuple in chunk.buf
	t   int64     // created_at, pgMicros
	id  uuid.UUID // event id, for rejections
}

// chunk is the COPY data of one statement: the binary COPY header, then the
// tuples. The trailer is added when sending.
type chunk struct {
	buf  []byte
	rows []rowRef
}

func (c *chunk) reset() {
	c.buf = append(c.buf[:0], copyHeader...)
	c.rows = c.rows[:0]
}

func (c *chunk) add(r *auditrow.Row, t int64) {
	c.rows = append(c.rows, rowRef{off: len(c.buf), t: t, id: r.EventID})
	c.buf = appendTuple(c.buf, r, t)
}

// without removes the rows whose index drop holds, keeping the order of the
// others.
func (c *chunk) without(drop map[int]bool) {
	buf := append([]byte(nil), copyHeader...)
	var rows []rowRef
	for i, r := range c.rows {
		if drop[i] {
			continue
		}
		end := len(c.buf)
		if i+1 < len(c.rows) {
			end = c.rows[i+1].off
		}
		r.off, buf = len(buf), append(buf, c.buf[c.rows[i].off:end]...)
		rows = append(rows, r)
	}
	c.buf, c.rows = buf, rows
}

// reader returns the COPY data of rows [lo, hi).
func (c *chunk) reader(lo, hi int) io.Reader {
	end := len(c.buf)
	if hi < len(c.rows) {
		end = c.rows[hi].off
	}
	return io.MultiReader(bytes.NewReader(copyHeader), bytes.NewReader(c.buf[c.rows[lo].off:end]), bytes.NewReader(copyTrailer))
}

// batch is the state of one Export; it is reused by later ones.
type batch struct {
	e       *Exporter
	call    *exportstats.Shared // reports rejections, shared by the batches of one Export
	mapper  *auditrow.Mapper
	records []sdklog.Record  // the records of Export, or
	src     auditrow.Records // those of ExportRecords
	base    int              // the first record of this batch's share
	n       int              // how many records, from base
	next    int              // the next record to map, from base
	main    chunk
	later   chunk
	last    span // the partition range of the last row, known to exist
	failed  int  // records not written
}

// run writes records and returns how many were not written, with the
// error.
func (b *batch) run(ctx context.Context) (int, error) {
	b.next, b.failed, b.last = 0, 0, span{}
	b.e.loadPartitions(ctx)

	var errs []error
	for b.next < b.n {
		if err := ctx.Err(); err != nil {
			errs = append(errs, context.Cause(ctx))
			b.failed += b.n - b.next
			break
		}
		b.main.reset()
		b.later.reset()
		if err := b.writeMain(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := b.writeLater(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return b.failed, errors.Join(errs...)
}

// encodeMore maps and encodes records until the main chunk has grown by
// lazyStep bytes, either chunk is full, or the records are done. It reports
// whether the main chunk grew.
func (b *batch) encodeMore() bool {
	limit := b.e.cfg.maxCopyBytes
	start := len(b.main.buf)
	for b.next < b.n && len(b.main.buf)-start < lazyStep &&
		len(b.main.buf) < limit && len(b.later.buf) < limit {
		b.encode(b.next)
		b.next++
	}
	return len(b.main.buf) > start
}

// fill encodes the rest of the current chunks.
func (b *batch) fill() {
	for b.encodeMore() {
	}
}

// encode maps one record into the main or the later chunk, or rejects it.
func (b *batch) encode(i int) {
	var row auditrow.Row
	var err error
	if b.src != nil {
		src, service := b.src.At(b.base + i)
		row, err = b.mapper.Map(src, service)
	} else {
		row, err = b.mapper.MapRecord(&b.records[b.base+i])
	}
	if err != nil {
		b.call.Reject(auditrow.ReasonOf(err), uuid.Nil, err)
		return
	}
	if !inTimeRange(row.Time) {
		b.call.Reject(auditrow.ReasonTimeOutOfRange, row.EventID, timeRangeError{row.Time})
		return
	}
	if len(row.Sanitized) > 0 {
		b.e.stats.Sanitized(1)
	}
	t := pgMicros(row.Time)
	if !b.last.has(t) {
		s, ok := b.e.parts.lookup(t)
		if !ok {
			b.later.add(&row, t)
			return
		}
		b.last = s
	}
	b.main.add(&row, t)
}

// writeMain sends the main chunk with a COPY that encodes while it reads,
// and falls back to write when that fails.
func (b *batch) writeMain(ctx context.Context) error {
	if !b.encodeMore() {
		return nil // nothing for the main chunk: all later, rejected or done
	}
	r := &lazyReader{b: b}
	err := b.e.copyRows(ctx, r, 0, false)
	r.close()
	b.fill()
	if err == nil {
		return nil
	}
	return b.write(ctx, &b.main, 0, len(b.main.rows), err)
}

// writeLater ensures the partitions of the later chunk's rows, then writes
// it. Rows whose partition the partition function refuses to create
// (outside its window) are rejected and left out.
func (b *batch) writeLater(ctx context.Context) error {
	n := len(b.later.rows)
	if n == 0 {
		return nil
	}
	var refused []refusal
	if err := b.ensureRows(ctx, &b.later, 0, n, &refused); err != nil {
		b.failed += n
		return err
	}
	if len(refused) > 0 {
		drop := make(map[int]bool, len(refused))
		for _, r := range refused {
			b.call.Reject(auditrow.ReasonTimeOutOfRange, b.later.rows[r.row].id, r.err)
			drop[r.row] = true
		}
		b.later.without(drop)
		if n = len(b.later.rows); n == 0 {
			return nil
		}
	}
	return b.write(ctx, &b.later, 0, n, nil)
}

// refusal is a row whose partition the partition function refused to
// create.
type refusal struct {
	row int
	err *windowError
}

// ensureRows ensures, with retries, the partitions of rows [lo, hi) of c,
// and sets refused to the rows whose partition is refused.
func (b *batch) ensureRows(ctx context.Context, c *chunk, lo, hi int, refused *[]refusal) error {
	return retry.Do(ctx, b.e.cfg.retry, b.transient(ctx), b.e.stats.Retried, func(ctx context.Context) error {
		return b.ensureRowsOnce(ctx, c, lo, hi, refused)
	})
}

// ensureRowsOnce ensures the partitions of rows [lo, hi) of c that the
// cache does not know, and sets refused to the rows whose partition the
// partition function refuses to create. Rows in the range of the row
// before them skip the cache lookup, as in encode.
func (b *batch) ensureRowsOnce(ctx context.Context, c *chunk, lo, hi int, refused *[]refusal) error {
	*refused = (*refused)[:0]
	var last span
	for i := lo; i < hi; i++ {
		t := c.rows[i].t
		if last.has(t) {
			continue
		}
		s, ok := b.e.parts.lookup(t)
		if !ok {
			if err := b.e.ensurePartition(ctx, t); err != nil {
				var we *windowError
				if errors.As(err, &we) {
					*refused = append(*refused, refusal{row: i, err: we})
					last = span{}
					continue
				}
				return err
			}
			s, _ = b.e.parts.lookup(t) // zero if the function did not return it: ensured again for the next row
		}
		last = s
	}
	return nil
}

func (b *batch) transient(ctx context.Context) func(error) bool {
	return func(err error) bool { return classify(ctx, err) == classTransient }
}

// write writes rows [lo, hi) of the complete chunk c, after a first attempt
// that failed with prev (nil: none), with the fallbacks described above.
func (b *batch) write(ctx context.Context, c *chunk, lo, hi int, prev error) error {
	// ensure: forget the cached partitions and ensure those of the rows
	// before the next COPY; ensured: done once, successfully.
	slow, ensure, ensured := false, false, false
	if prev != nil {
		switch classify(ctx, prev) {
		case classDuplicate:
			slow = true
		case classTransient:
			if !b.e.cfg.retry.Enabled {
				// The first attempt was the only one.
				b.failed += hi - lo
				return prev
			}
			slow = !pgconn.SafeToRetry(prev)
			b.e.stats.Retried(prev)
		case classRecord:
			return b.bisect(ctx, c, lo, hi, prev)
		case classNoPartition:
			ensure = true
		case classPermanent:
			b.failed += hi - lo
			return prev
		}
	}
	var refused []refusal
	err := retry.Do(ctx, b.e.cfg.retry, b.transient(ctx), b.e.stats.Retried, func(ctx context.Context) error {
		for {
			if ensure {
				b.e.parts.reset()
				b.last = span{}
				if err := b.ensureRowsOnce(ctx, c, lo, hi, &refused); err != nil {
					return err
				}
				if len(refused) > 0 {
					// Retention dropped a partition that the function
					// no longer creates: bisect down to those rows.
					return &rowError{refused[0].err}
				}
				ensure, ensured = false, true
			}
			err := b.e.copyRows(ctx, c.reader(lo, hi), hi-lo, slow)
			if err == nil {
				return nil
			}
			switch classify(ctx, err) {
			case classDuplicate:
				if slow {
					return err
				}
				slow = true
				continue
			case classNoPartition:
				if ensured {
					return &rowError{err} // still no partition: some row's own problem
				}
				ensure = true
				continue
			case classTransient:
				if !pgconn.SafeToRetry(err) {
					slow = true // the data may be in: skip what is
				}
			}
			return err
		}
	})
	switch {
	case err == nil:
		return nil
	case classify(ctx, err) == classRecord:
		return b.bisect(ctx, c, lo, hi, err)
	}
	b.failed += hi - lo
	return err
}

// bisect writes rows [lo, hi) of c, one of which Postgres refused with
// err, in halves, until the refused rows are alone: those are rejected.
func (b *batch) bisect(ctx context.Context, c *chunk, lo, hi int, err error) error {
	if hi-lo == 1 {
		var re *rowError
		if errors.As(err, &re) {
			err = re.err
		}
		reason := auditrow.ReasonRefusedByServer
		if errors.Is(err, ErrTimeOutOfRange) {
			reason = auditrow.ReasonTimeOutOfRange
		}
		b.call.Reject(reason, c.rows[lo].id, err)
		return nil
	}
	mid := lo + (hi-lo)/2
	return errors.Join(b.write(ctx, c, lo, mid, nil), b.write(ctx, c, mid, hi, nil))
}

// copyRows sends one COPY's data, straight into the table or, when slow,
// through the staging table with ON CONFLICT DO NOTHING, and counts the
// rows written and, when slow, those already stored among the sent ones.
func (e *Exporter) copyRows(ctx context.Context, data io.Reader, sent int, slow bool) error {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return &acquireError{err}
	}
	defer conn.Release()
	if !slow {
		tag, err := conn.Conn().PgConn().CopyFrom(ctx, data, e.stmts.Copy)
		if err != nil {
			return err
		}
		e.stats.Written(int(tag.RowsAffected()))
		return nil
	}
	var inserted int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, e.stmts.CreateStage); err != nil {
			return err
		}
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, data, e.stmts.CopyStage); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, e.stmts.InsertFromStage)
		inserted = tag.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	e.stats.Written(int(inserted))
	e.stats.AlreadyStored(sent - int(inserted))
	return nil
}

// lazyReader is the COPY data of the main chunk, encoded as it is read.
// pgconn reads it on a goroutine of its own and may, when the connection
// fails, return before that goroutine's last Read has; close waits for
// any Read in progress and makes later ones fail, so that the batch is
// never touched by two goroutines at once.
type lazyReader struct {
	mu     sync.Mutex
	b      *batch
	pos    int // next byte of b.main.buf to send
	eof    bool
	tpos   int // next byte of copyTrailer to send, once eof
	closed bool
}

var errReaderClosed = errors.New("postgreslog: COPY data read after the COPY ended")

func (r *lazyReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errReaderClosed
	}
	buf := r.b.main.buf
	if r.pos == len(buf) && !r.eof {
		r.eof = !r.b.encodeMore()
		buf = r.b.main.buf
	}
	if r.pos < len(buf) {
		n := copy(p, buf[r.pos:])
		r.pos += n
		return n, nil
	}
	if r.tpos < len(copyTrailer) {
		n := copy(p, copyTrailer[r.tpos:])
		r.tpos += n
		return n, nil
	}
	return 0, io.EOF
}

func (r *lazyReader) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}
