package postgreslog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
	"github.com/otelaudit/otelaudit/exporter/internal/exportstats"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Exporter writes audit log records into the Postgres audit table created
// by schema/pgschema, with COPY, exactly once per event. See the package
// documentation for the whole contract.
//
// It follows the sdk/log Exporter contract:
//
//   - Export writes the batch before it returns and keeps nothing: not the
//     slice, not the records, not the rows. It honours ctx's deadline and
//     cancellation, retries transient errors within them, and returns an
//     error only for records it could not write (counted in Stats().Failed);
//     records rejected for their content are counted, reported to the
//     error handler and to the context's reject hook
//     (auditrow.ContextWithRejectHook) before Export returns, and do not
//     make Export fail.
//   - After Shutdown, Export returns [sdklog.ErrExporterShutdown], and
//     Shutdown and ForceFlush do nothing and return nil.
//   - ForceFlush has nothing to flush: Export holds nothing back.
//
// All methods are safe for concurrent use, Export included (the SDK's
// processors never call it concurrently, but several may share an
// Exporter). Export writes the shares of a batch (see [WithWriters]) on
// goroutines that end before it returns; the Exporter starts no other
// goroutine, and none outlives an Export.
type Exporter struct {
	pool     *pgxpool.Pool
	ownsPool bool
	cfg      config
	stmts    pgschema.WriterStatements
	parts    partitionCache
	batches  sync.Pool // *batch, with their mapper and buffers

	mu       sync.RWMutex // guards stopped and inflight.Add
	stopped  bool
	inflight sync.WaitGroup
	// abort is canceled when Shutdown stops waiting for in-flight exports;
	// they then end promptly.
	abort       context.Context
	cancelAbort context.CancelFunc

	stats *exportstats.Recorder
}

var _ sdklog.Exporter = (*Exporter)(nil)

// ErrNilConn is returned by [New] and [NewTxWriter] for a nil pool.
var ErrNilConn = errors.New("postgreslog: nil connection pool")

// New returns an Exporter that writes through pool. The pool stays the
// caller's: Shutdown does not close it. The table must have been created
// with pgschema.Migrate ([WithSchema] names it when it is not
// public.audit_logs); New itself does not touch the database. Settings
// not given as options are read from the environment (see [Open]); a
// variable whose value cannot be used makes New fail.
func New(pool *pgxpool.Pool, opts ...Option) (*Exporter, error) {
	if pool == nil {
		return nil, ErrNilConn
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("postgreslog: %w", err)
	}
	stmts, err := pgschema.Writer(cfg.schema)
	if err != nil {
		return nil, fmt.Errorf("postgreslog: %w", err)
	}
	e := &Exporter{
		pool:  pool,
		cfg:   cfg,
		stmts: stmts,
		stats: exportstats.New("postgreslog", cfg.meters, cfg.onError),
	}
	e.abort, e.cancelAbort = context.WithCancel(context.Background())
	e.batches.New = func() any { return &batch{e: e, mapper: auditrow.NewMapper(cfg.mapping)} }
	return e, nil
}

// Open returns an Exporter with a pool of its own on the database of dsn (a
// pgx connection string or URL; "" means the value of
// OTELAUDIT_POSTGRES_DSN). Shutdown closes that pool. Connections are made
// when needed: Open does not check that the database answers.
//
// Like [New], Open reads the settings not given as options from the
// environment; see the package documentation, "Configuration".
func Open(ctx context.Context, dsn string, opts ...Option) (*Exporter, error) {
	if dsn == "" {
		var env envconfig.Reader
		var ok bool
		if dsn, ok = env.String(envconfig.PostgresDSN); !ok {
			return nil, fmt.Errorf("postgreslog: no DSN: give Open one or set %s", envconfig.PostgresDSN)
		}
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgreslog: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgreslog: %w", err)
	}
	e, err := New(pool, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	e.ownsPool = true
	return e, nil
}

// Export writes records; see [Exporter] for the contract and the package
// documentation for what happens to each record.
func (e *Exporter) Export(ctx context.Context, records []sdklog.Record) error {
	return e.export(ctx, len(records), func(b *batch) { b.records = records })
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
	return e.export(ctx, n, func(b *batch) { b.src = records })
}

// export writes the n records that set gives the batch.
func (e *Exporter) export(ctx context.Context, n int, set func(*batch)) error {
	e.mu.RLock()
	if e.stopped {
		e.mu.RUnlock()
		return sdklog.ErrExporterShutdown
	}
	e.inflight.Add(1)
	e.mu.RUnlock()
	defer e.inflight.Done()

	if n == 0 {
		return nil
	}
	call := e.stats.Start(ctx, n)
	defer call.End()
	if err := ctx.Err(); err != nil {
		e.stats.Failed(n)
		return fmt.Errorf("postgreslog: export %d records to %s: %w", n, e.stmts.Table, err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(e.abort, func() { cancel(errAborted) })
	defer stop()

	failed, err := e.writeShares(ctx, n, set, call.Share())
	if err != nil {
		e.stats.Failed(failed)
		return fmt.Errorf("postgreslog: export %d records to %s: %d not written: %w", n, e.stmts.Table, failed, err)
	}
	return nil
}

// writeShares writes the n records that set gives a batch, in shares of
// consecutive records, one per writer (see WithWriters), each share a
// batch of its own on a goroutine of its own when there are several. It
// returns how many records were not written, with the errors of every
// share.
func (e *Exporter) writeShares(ctx context.Context, n int, set func(*batch), call *exportstats.Shared) (int, error) {
	shares := min(e.cfg.writers, max(1, n/minShareRecords))
	if shares == 1 {
		b := e.getBatch(set, call, 0, n)
		defer e.putBatch(b)
		return b.run(ctx)
	}
	failed := make([]int, shares)
	errs := make([]error, shares)
	var wg sync.WaitGroup
	for i := range shares {
		b := e.getBatch(set, call, i*n/shares, (i+1)*n/shares)
		wg.Go(func() {
			defer e.putBatch(b)
			failed[i], errs[i] = b.run(ctx)
		})
	}
	wg.Wait()
	total := 0
	for _, f := range failed {
		total += f
	}
	return total, errors.Join(errs...)
}

// getBatch returns a batch for records [lo, hi) of those set gives it.
func (e *Exporter) getBatch(set func(*batch), call *exportstats.Shared, lo, hi int) *batch {
	b := e.batches.Get().(*batch)
	set(b)
	b.call, b.base, b.n = call, lo, hi-lo
	return b
}

// errAborted is the cause of an export ended by Shutdown.
var errAborted = errors.New("postgreslog: exporter shut down during the export")

// maxKeptBuffer is the largest chunk buffer kept for the next Export.
const maxKeptBuffer = 2 * DefaultMaxCopyBytes

func (e *Exporter) putBatch(b *batch) {
	b.records, b.src, b.base, b.n, b.call = nil, nil, 0, 0, nil
	for _, c := range []*chunk{&b.main, &b.later} {
		if cap(c.buf) > max(maxKeptBuffer, 2*e.cfg.maxCopyBytes) {
			c.buf = nil
		}
		c.reset()
	}
	e.batches.Put(b)
}

// Shutdown stops the Exporter: Export returns ErrExporterShutdown from now
// on. It waits for exports in flight until ctx ends, then makes them end
// (they return an error and count their unwritten records as failed). It
// closes the pool only when the Exporter opened it ([Open]). A second call
// does nothing and returns nil.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	e.mu.Unlock()

	done := make(chan struct{})
	go func() {
		e.inflight.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.cancelAbort()
	if e.ownsPool {
		if err == nil {
			e.pool.Close()
		} else {
			// Aborted exports still hold connections, which pool.Close
			// waits for; they end promptly now.
			go func() {
				<-done
				e.pool.Close()
			}()
		}
	}
	return err
}

// ForceFlush returns nil: Export writes everything before it returns. It
// returns ctx's error when ctx is already done.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	e.mu.RLock()
	stopped := e.stopped
	e.mu.RUnlock()
	if stopped {
		return nil
	}
	return ctx.Err()
}

// Stats returns the Exporter's counters: every record given to Export
// ends in exactly one of Written, AlreadyStored, Rejected or Failed.
func (e *Exporter) Stats() auditrow.ExportStats {
	return e.stats.Stats()
}
