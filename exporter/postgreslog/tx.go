package postgreslog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// TxWriter writes audit events inside a transaction of the caller's, so
// that a change and its audit row commit or roll back together: a data
// deletion, a permission change, an admin action. An event makes the same
// row as through the bridge and the [Exporter], and is stored once by
// event id. The package documentation, section "In the caller's
// transaction", has the whole contract.
//
// A TxWriter is safe for concurrent use, each goroutine with a transaction
// of its own (a pgx transaction is not safe for concurrent use). It starts
// no goroutine and holds no connection between calls: there is nothing to
// close.
type TxWriter struct {
	pool    *pgxpool.Pool
	cfg     config
	stmts   pgschema.WriterStatements
	service string
	parts   partitionCache
	mappers sync.Pool // *auditrow.Mapper
}

// TxResult says what [TxWriter.Write] did with one event.
type TxResult struct {
	// EventID is the event's id: its own, or the UUIDv7 Write gave it.
	EventID uuid.UUID
	// Time is the row's created_at as stored: the event's time (or the
	// time of the call), in UTC, rounded down to the microsecond. With
	// EventID it is the row's key.
	Time time.Time
	// Written is true when Write inserted the row, and false when a row
	// with the same created_at and event id was stored already (committed
	// by another transaction, or written earlier in this one), which Write
	// left as it was. Either way, once the transaction commits, the table
	// holds the event's row once.
	Written bool
}

// ErrNilTx is returned by [TxWriter.Write] for a nil transaction.
var ErrNilTx = errors.New("postgreslog: nil transaction")

// NewTxWriter returns a TxWriter for the table of [WithSchema], mapping
// with the options of [WithMapping] and writing the service name of
// [WithServiceName]; [WithRetry] bounds the retries of partition creation.
// pool serves only to create missing partitions outside the caller's
// transactions (see the package documentation); it stays the caller's.
// NewTxWriter does not touch the database.
func NewTxWriter(pool *pgxpool.Pool, opts ...Option) (*TxWriter, error) {
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
	service := cfg.serviceName
	if service == "" {
		service = defaultServiceName()
	}
	w := &TxWriter{pool: pool, cfg: cfg, stmts: stmts, service: service}
	w.mappers.New = func() any { return auditrow.NewMapper(cfg.mapping) }
	return w, nil
}

// defaultServiceName is the service.name of the SDK's default resource.
func defaultServiceName() string {
	if v, ok := resource.Default().Set().Value(attribute.Key(otelaudit.KeyServiceName)); ok {
		return v.Emit()
	}
	return ""
}

// Record writes one event in tx; see [TxWriter.Write].
func (w *TxWriter) Record(ctx context.Context, tx pgx.Tx, e otelaudit.Event) (TxResult, error) {
	rs, err := w.Write(ctx, tx, e)
	if err != nil {
		return TxResult{}, err
	}
	return rs[0], nil
}

// Write writes events in tx and returns, in the order of events, what it
// did with each. An event that is refused (a [*RejectError]) makes Write
// return before anything is sent: none of the events is written, and tx is
// as it was. Any other error comes from the database; when it comes from a
// statement run in tx, Postgres has aborted tx, which must be rolled back
// (write through a savepoint, tx.Begin, to keep the outer transaction).
// A nil ctx is treated as context.Background().
func (w *TxWriter) Write(ctx context.Context, tx pgx.Tx, events ...otelaudit.Event) ([]TxResult, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if tx == nil {
		return nil, ErrNilTx
	}
	if len(events) == 0 {
		return nil, nil
	}
	rows, err := w.rows(ctx, events)
	if err != nil {
		return nil, err
	}
	if err := w.ensurePartitions(ctx, tx, rows); err != nil {
		if errors.As(err, new(*RejectError)) {
			return nil, err // says already that nothing was written
		}
		return nil, fmt.Errorf("postgreslog: write %d events to %s: %w", len(events), w.stmts.Table, err)
	}
	if err := w.insert(ctx, tx, rows); err != nil {
		return nil, fmt.Errorf("postgreslog: write %d events to %s: %w", len(events), w.stmts.Table, err)
	}
	results := make([]TxResult, len(rows))
	for i := range rows {
		results[i] = TxResult{EventID: rows[i].row.EventID, Time: fromPgMicros(rows[i].t), Written: rows[i].written}
	}
	return results, nil
}

// txRow is one event's row.
type txRow struct {
	row     auditrow.Row // a clone: it owns its memory
	t       int64        // created_at, pgMicros
	written bool
}

// rows fills in and maps the events, or returns the error of the first
// one refused.
func (w *TxWriter) rows(ctx context.Context, events []otelaudit.Event) ([]txRow, error) {
	m := w.mappers.Get().(*auditrow.Mapper)
	defer w.mappers.Put(m)
	sc := trace.SpanContextFromContext(ctx)
	client, hasClient := bridge.ClientFromContext(ctx)
	rows := make([]txRow, len(events))
	for i := range events {
		refuse := func(err error) error {
			return fmt.Errorf("postgreslog: nothing written to %s: event %d of %d: %w", w.stmts.Table, i+1, len(events), err)
		}
		e := events[i]
		// What bridge.Auditor.Record fills in, and what the SDK adds
		// when it turns the API record into its own (the span context,
		// the observed time).
		now := time.Now()
		if e.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return nil, refuse(fmt.Errorf("generate an event id: %w", err))
			}
			e.ID = id
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		if hasClient {
			e.Client = mergeClient(e.Client, client)
		}
		var r log.Record
		bridge.BuildRecord(&r, &e)
		r.SetObservedTimestamp(now)

		row, err := m.Map(txSource{&r, sc}, w.service)
		if err != nil {
			return nil, refuse(&RejectError{Exporter: "postgreslog", Reason: auditrow.ReasonOf(err), EventID: e.ID, Err: err})
		}
		if !inTimeRange(row.Time) {
			return nil, refuse(&RejectError{Exporter: "postgreslog", Reason: auditrow.ReasonTimeOutOfRange, EventID: row.EventID, Err: timeRangeError{row.Time}})
		}
		rows[i] = txRow{row: row.Clone(), t: pgMicros(row.Time)}
	}
	return rows, nil
}

// mergeClient fills the client fields e leaves empty from the context's,
// as bridge.Auditor.Record does.
func mergeClient(e, fromCtx otelaudit.Client) otelaudit.Client {
	if e.IP == "" {
		e.IP = fromCtx.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = fromCtx.UserAgent
	}
	if e.SessionID == "" {
		e.SessionID = fromCtx.SessionID
	}
	return e
}

// txSource is an API log record with the span context of the call: what
// the mapping reads of the SDK record the same record would become.
type txSource struct {
	*log.Record
	sc trace.SpanContext
}

var _ auditrow.Source = txSource{}

func (s txSource) TraceID() trace.TraceID { return s.sc.TraceID() }
func (s txSource) SpanID() trace.SpanID   { return s.sc.SpanID() }

// ensurePartitions makes sure that every row has its partition before
// anything is inserted in tx. Partitions are created through the pool, in
// transactions of their own, unless tx holds a lock on the table already
// (it wrote audit rows): then they are created in tx, in a savepoint, and
// exist once tx commits.
func (w *TxWriter) ensurePartitions(ctx context.Context, tx pgx.Tx, rows []txRow) error {
	if err := w.loadPartitions(ctx, tx); err != nil {
		return err
	}
	var missing []int64
	var last span
	for i := range rows {
		t := rows[i].t
		if last.has(t) {
			continue
		}
		s, ok := w.parts.lookup(t)
		if !ok {
			missing = append(missing, t)
			continue
		}
		last = s
	}
	if len(missing) == 0 {
		return nil
	}
	var held bool
	if err := tx.QueryRow(ctx, w.stmts.HoldsLock).Scan(&held); err != nil {
		return fmt.Errorf("check the transaction's locks on the table: %w", err)
	}
	var ensured []span // by this call, cached or not
	for _, t := range missing {
		if _, ok := w.parts.lookup(t); ok || slices.ContainsFunc(ensured, func(s span) bool { return s.has(t) }) {
			continue
		}
		ss, err := w.ensurePartition(ctx, tx, held, t)
		var we *windowError
		if errors.As(err, &we) {
			i := slices.IndexFunc(rows, func(r txRow) bool { return r.t == t })
			return fmt.Errorf("postgreslog: nothing written to %s: event %d of %d: %w", w.stmts.Table, i+1, len(rows),
				&RejectError{Exporter: "postgreslog", Reason: auditrow.ReasonTimeOutOfRange, EventID: rows[i].row.EventID, Err: we})
		}
		if err != nil {
			return err
		}
		ensured = append(ensured, ss...)
	}
	return nil
}

// ensurePartition makes sure that the partition holding t (pgMicros)
// exists: through the pool, with retries, when tx holds no lock on the
// table, caching the ranges; else in tx (in a savepoint, so that a refusal
// leaves tx as it was), with nothing ahead and nothing cached (the
// partition exists only if tx commits). When the partition function
// refuses to create the partition, the error is a *windowError.
func (w *TxWriter) ensurePartition(ctx context.Context, tx pgx.Tx, inTx bool, t int64) ([]span, error) {
	at := fromPgMicros(t)
	var ss []span
	var err error
	if inTx {
		err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			var err error
			ss, err = querySpans(ctx, sp, true, w.stmts.EnsurePartitions, at, at, 0)
			return err
		})
	} else {
		transient := func(err error) bool { return classify(ctx, err) == classTransient }
		err = retry.Do(ctx, w.cfg.retry, transient, nil, func(ctx context.Context) error {
			var err error
			ss, err = querySpans(ctx, w.pool, true, w.stmts.EnsurePartitions, at, at, partitionsAhead)
			return err
		})
		if err == nil {
			w.parts.add(ss...)
		}
	}
	if isWindowRefusal(err) {
		return nil, &windowError{t: at, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure the partition for %s: %w", at.Format(time.RFC3339Nano), err)
	}
	return ss, nil
}

// loadPartitions reads the partition registry, in tx, once after each
// reset of the cache.
func (w *TxWriter) loadPartitions(ctx context.Context, tx pgx.Tx) error {
	w.parts.mu.RLock()
	loaded := w.parts.loaded
	w.parts.mu.RUnlock()
	if loaded {
		return nil
	}
	ss, err := querySpans(ctx, tx, false, w.stmts.ListPartitions)
	if err != nil {
		return fmt.Errorf("read the partition registry: %w", err)
	}
	w.parts.add(ss...)
	w.parts.mu.Lock()
	w.parts.loaded = true
	w.parts.mu.Unlock()
	return nil
}

// insert inserts the rows in tx, in one round trip, in the order of their
// keys (so that two transactions writing the same events take their locks
// in the same order), and records which were written.
func (w *TxWriter) insert(ctx context.Context, tx pgx.Tx, rows []txRow) error {
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(rows[a].t, rows[b].t), slices.Compare(rows[a].row.EventID[:], rows[b].row.EventID[:]))
	})
	args := make([]any, 0, numColumns*len(rows))
	var b pgx.Batch
	for _, i := range order {
		start := len(args)
		args = appendTextArgs(args, &rows[i].row, rows[i].t)
		b.Queue(w.stmts.Insert, args[start:len(args):len(args)]...)
	}
	br := tx.SendBatch(ctx, &b)
	for _, i := range order {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			if classify(ctx, err) == classNoPartition {
				// Retention dropped a partition the cache still had.
				w.parts.reset()
			}
			return fmt.Errorf("insert event %s: %w", rows[i].row.EventID, err)
		}
		rows[i].written = tag.RowsAffected() == 1
	}
	return br.Close()
}
