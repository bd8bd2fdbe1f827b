package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Postgres insert benchmark settings (see BenchmarkPostgresInsert).
const (
	pgExporterEvents = 1_000_000
	pgInsertEvents   = 20_000
	// pgBatchSize is the BatchProcessor's export batch: one COPY each.
	pgBatchSize = 8192
	// pgMaxOutstanding bounds how far the emitters run ahead of the
	// exporter: records emitted but not yet handed to Export. Three batches
	// are queued behind the one being written, so the exporter never waits
	// for work; the bound makes the peak memory that of a process in a
	// steady state rather than of a queue holding a whole backlog, and
	// keeps the emitters from taking the CPU Postgres needs on a small
	// machine for work nobody can use yet (in our runs on two cores, a
	// backlog of 16 batches cost 10 to 20% of the throughput).
	pgMaxOutstanding = 3 * pgBatchSize
	// pgEmitters is how many goroutines make the audit calls. One, as in
	// the ClickHouse benchmark: on the 2-core machine Postgres, the export
	// and the emitters share the cores, and a second emitter only takes CPU
	// from the other two (back to back: 24.0-25.0k events/s with one,
	// 21.7-24.0k with two).
	pgEmitters = 1
	pgService  = "bench"
)

// BenchmarkPostgresInsert writes audit events into a fresh, migrated
// Postgres audit table (all its indexes, monthly partitions) in four ways,
// each timed from the first event to the last row committed, and counts
// the rows afterwards:
//
//   - exporter: the whole path for pgExporterEvents events. Auditor calls
//     from pgEmitters goroutines, the SDK's stock BatchProcessor (export
//     batches of pgBatchSize; its queue holds more than the emitters may
//     run ahead, pgMaxOutstanding, so it never drops: checked by the
//     exporter's count and the table's), this project's
//     postgreslog.Exporter, committed rows. Also reports the peak Go heap
//     (sampled every 5ms) and the peak RSS (VmHWM, reset at the start) of
//     the process during the run.
//   - ceiling: the same rows, preformatted in COPY's binary format (dumped
//     from the exporter's table before the clock starts), sent by one COPY
//     from a file into a fresh table: what the server does without us.
//   - export_only: the exporter alone, the same events: Export called
//     with batches of pgBatchSize SDK records built (through the Auditor)
//     before the clock restarts for each batch, one batch after another as
//     the BatchProcessor calls it. The gap between exporter and export_only
//     is what emitting through the SDK costs on the same CPUs.
//   - insert_per_event: the original design, one INSERT (and so one
//     transaction) per event, for pgInsertEvents events from GOMAXPROCS
//     goroutines, with the values mapped and a prepared statement ready
//     before the clock starts.
//
// Each run does its fixed amount of work once, whatever b.N. scripts/bench.sh
// runs them against a durable Postgres (OTELAUDIT_SERVICES_DURABLE=1:
// fsync, synchronous_commit and full_page_writes on), as in production: a
// commit flushes the WAL, once per event for the one-INSERT-per-event
// baseline, once per batch of pgBatchSize for the exporter. (The servers
// `make test` starts are not durable; benchmarks run on them flatter the
// baseline most.) The exporter and Postgres share the machine's CPUs, so
// the whole path pays for the SDK's emit path and the mapping out of
// Postgres's CPU time: compare exporter with export_only.
func BenchmarkPostgresInsert(b *testing.B) {
	dump := filepath.Join(b.TempDir(), "rows.pgcopy")
	b.Run("exporter", func(b *testing.B) { benchPostgresExporter(b, dump) })
	b.Run("ceiling", func(b *testing.B) { benchPostgresCeiling(b, dump) })
	b.Run("export_only", benchPostgresExportOnly)
	b.Run("insert_per_event", benchPostgresInsertPerEvent)
}

// pgTable returns a pool on a fresh database with the audit table migrated.
func pgTable(b *testing.B) *pgxpool.Pool {
	b.Helper()
	pool := testenv.Postgres(b)
	if _, err := pgschema.Migrate(context.Background(), pool, pgschema.Options{}); err != nil {
		b.Fatal(err)
	}
	return pool
}

func benchPostgresExporter(b *testing.B, dump string) {
	pool := pgTable(b)
	elapsed, heap, rss := exportThroughSDK(b, pool, pgExporterEvents)
	checkPgRows(b, pool, pgExporterEvents)
	report(b, pgExporterEvents, elapsed)
	b.ReportMetric(heap, "peak_heap_MiB")
	b.ReportMetric(rss, "peak_rss_MiB")
	if err := dumpRows(pool, dump); err != nil {
		b.Fatal(err)
	}
}

// exportThroughSDK records n events through the whole path into pool's
// table and returns the time it took and the memory peaks.
func exportThroughSDK(b *testing.B, pool *pgxpool.Pool, n int) (elapsed time.Duration, heapMiB, rssMiB float64) {
	b.Helper()
	var handled atomic.Int64
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(func(error) { handled.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	// The queue holds more than the emitters may run ahead: nothing dropped.
	p := newPipeline(exp, pgMaxOutstanding+pgBatchSize, pgBatchSize, pgService)
	workers := pgEmitters
	ctx := context.Background()
	var emitted atomic.Int64
	runtime.GC()

	mem := startMemoryPeak()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if emitted.Add(1)%1024 == 0 {
					// Received counts records as Export receives them.
					for emitted.Load()-int64(exp.Stats().Received) > pgMaxOutstanding {
						time.Sleep(200 * time.Microsecond)
					}
				}
				p.auditor.Record(ctx, pgEvent(i))
			}
		})
	}
	wg.Wait()
	if err := p.provider.Shutdown(ctx); err != nil { // flushes the queue, then shuts exp down
		b.Fatal(err)
	}
	elapsed = time.Since(start)
	b.StopTimer()
	heapMiB, rssMiB = mem.end()

	if n := p.rejected.Load(); n > 0 {
		b.Fatalf("the Auditor rejected %d events", n)
	}
	if st := exp.Stats(); st.Written != uint64(n) || st.Failed > 0 || handled.Load() > 0 {
		b.Fatalf("exporter stats %+v (%d errors handled), want %d written", st, handled.Load(), n)
	}
	return elapsed, heapMiB, rssMiB
}

// pgCopyColumns is the column list of the dump and of the ceiling's COPY.
func pgCopyColumns() string {
	var b strings.Builder
	for i, c := range pgschema.Columns() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{c.Name}.Sanitize())
	}
	return b.String()
}

// dumpRows writes the table's rows to path in COPY's binary format.
func dumpRows(pool *pgxpool.Pool, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		return errors.Join(err, f.Close())
	}
	defer conn.Release()
	_, err = conn.Conn().PgConn().CopyTo(context.Background(), f,
		"COPY (SELECT "+pgCopyColumns()+" FROM audit_logs) TO STDOUT WITH (FORMAT binary)")
	return errors.Join(err, f.Close())
}

func benchPostgresCeiling(b *testing.B, dump string) {
	copyCeiling(b, dump, pgExporterEvents, func(pool *pgxpool.Pool) {
		exportThroughSDK(b, pool, pgExporterEvents)
	})
}

// copyCeiling times one binary COPY of the n rows in dump into a fresh
// audit table. When dump does not exist (the scenario that writes it did
// not run), produce writes the rows into a scratch table first, untimed.
func copyCeiling(b *testing.B, dump string, n int, produce func(*pgxpool.Pool)) {
	if _, err := os.Stat(dump); err != nil {
		// Run alone: make the rows the exporter scenario would have made.
		scratch := pgTable(b)
		produce(scratch)
		if err := dumpRows(scratch, dump); err != nil {
			b.Fatal(err)
		}
	}
	pool := pgTable(b)
	f, err := os.Open(dump)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(0, 0); err != nil {
		b.Fatal(err)
	}
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	copySQL := "COPY audit_logs (" + pgCopyColumns() + ") FROM STDIN WITH (FORMAT binary)"
	runtime.GC()

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	tag, err := conn.Conn().PgConn().CopyFrom(context.Background(), f, copySQL)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if tag.RowsAffected() != int64(n) {
		b.Fatalf("COPY wrote %d rows, want %d", tag.RowsAffected(), n)
	}
	checkPgRows(b, pool, n)
	report(b, n, elapsed)
}

func benchPostgresExportOnly(b *testing.B) {
	pool := pgTable(b)
	var handled atomic.Int64
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(func(error) { handled.Add(1) }))
	if err != nil {
		b.Fatal(err)
	}
	// One batch of records from the Auditor; each round gives them fresh
	// ids and times, so that every exported record is a new event.
	template, err := auditRecords(0, pgBatchSize)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]sdklog.Record, len(template))
	var kvs []attribute.KeyValue
	ctx := context.Background()
	runtime.GC()

	b.ResetTimer()
	var elapsed time.Duration
	for done := 0; done < pgExporterEvents; done += len(batch) {
		b.StopTimer()
		n := min(len(batch), pgExporterEvents-done)
		now := time.Now()
		for i := range n {
			batch[i] = template[(done+i)%len(template)].Clone()
			kvs = kvs[:0]
			batch[i].WalkAttributes(func(kv attribute.KeyValue) bool {
				if kv.Key == otelaudit.KeyEventID {
					kv.Value = attribute.StringValue(uuid.Must(uuid.NewV7()).String())
				}
				kvs = append(kvs, kv)
				return true
			})
			batch[i].SetAttributes(kvs...)
			batch[i].SetTimestamp(now)
		}
		b.StartTimer()
		start := time.Now()
		if err := exp.Export(ctx, batch[:n]); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
	}
	b.StopTimer()
	if st := exp.Stats(); st.Written != pgExporterEvents || handled.Load() > 0 {
		b.Fatalf("exporter stats %+v (%d errors handled), want %d written", st, handled.Load(), pgExporterEvents)
	}
	checkPgRows(b, pool, pgExporterEvents)
	report(b, pgExporterEvents, elapsed)
}

// auditRecords returns the SDK records of events [from, from+n), emitted
// through the Auditor into a provider with the benchmarks' resource.
func auditRecords(from, n int) ([]sdklog.Record, error) {
	exp := &captureExporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, pgService))))
	a := bridge.New(bridge.WithLoggerProvider(lp))
	for i := range n {
		a.Record(context.Background(), pgEvent(from+i))
	}
	if err := lp.Shutdown(context.Background()); err != nil {
		return nil, err
	}
	records := exp.take()
	if len(records) != n {
		return nil, fmt.Errorf("captured %d records of %d", len(records), n)
	}
	return records, nil
}

// pgInsertSQL is the original design's statement: one row, all columns.
var pgInsertSQL = "INSERT INTO audit_logs (" + pgCopyColumns() + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"

func benchPostgresInsertPerEvent(b *testing.B) {
	pool := pgTable(b)
	args, err := insertArgs(pgInsertEvents)
	if err != nil {
		b.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	ctx := context.Background()
	// One connection per worker, each with the statement prepared.
	conns := make([]*pgxpool.Conn, workers)
	for w := range conns {
		if conns[w], err = pool.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
		defer conns[w].Release()
		if _, err := conns[w].Conn().Prepare(ctx, "insert", pgInsertSQL); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(args); i += workers {
				if _, err := conns[w].Exec(ctx, "insert", args[i]...); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	checkPgRows(b, pool, pgInsertEvents)
	report(b, pgInsertEvents, elapsed)
}

// insertArgs returns the INSERT arguments of n events: the rows the
// exporter would write, mapped by auditrow from SDK records emitted through
// the Auditor.
func insertArgs(n int) ([][]any, error) {
	records, err := auditRecords(0, n)
	if err != nil {
		return nil, err
	}
	m := auditrow.NewMapper(auditrow.Options{})
	out := make([][]any, len(records))
	for i := range records {
		r, err := m.MapRecord(&records[i])
		if err != nil {
			return nil, err
		}
		r = r.Clone()
		var ip any
		if r.ClientIP.IsValid() {
			ip = netip.PrefixFrom(r.ClientIP, r.ClientIP.BitLen())
		}
		out[i] = []any{
			r.Time, r.EventID, r.Action, r.Outcome, null(r.ErrorType), null(r.UserID), null(r.UserName), null(r.WorkspaceID),
			ip, null(r.UserAgent), null(r.SessionID), null(r.ResourceType), null(r.ResourceID),
			jsonb(r.Details), jsonb(r.Previous), jsonb(r.New), jsonb(r.AttributesJSON),
			nil, nil, null(r.ServiceName), r.Sanitized, r.ObservedTime,
		}
	}
	return out, nil
}

func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonb(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// checkPgRows fails b unless the audit table holds exactly n distinct
// events in n rows.
func checkPgRows(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	var rows, distinct int
	if err := pool.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT event_id) FROM audit_logs").Scan(&rows, &distinct); err != nil {
		b.Fatal(err)
	}
	if rows != n || distinct != n {
		b.Fatalf("audit_logs holds %d rows, %d distinct events; want %d", rows, distinct, n)
	}
}
