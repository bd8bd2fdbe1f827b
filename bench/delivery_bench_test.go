package bench

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Delivery benchmark settings (see BenchmarkDelivery).
const (
	// dlvPostgresEvents is how many events stock_postgres,
	// journal_postgres and ceiling write in each round.
	dlvPostgresEvents = 200_000
	// outageEvents is how many events outage_postgres writes; Postgres
	// stops once outageAfter rows are written and stays down for outageFor.
	outageEvents = 200_000
	outageAfter  = outageEvents / 3
	outageFor    = 3 * time.Second
	// fullSpeedEvents is how many events fullspeed_postgres writes, in at
	// most fullSpeedTimeout; the child samples the journal every
	// fullSpeedPoll.
	fullSpeedEvents  = 1_000_000
	fullSpeedTimeout = 5 * time.Minute
	fullSpeedPoll    = 2 * time.Millisecond
	// dlvShutdownTimeout bounds the delivery of what is left when a
	// scenario shuts its provider down.
	dlvShutdownTimeout = 5 * time.Minute
)

// runOnce turns on the scenarios that scripts/bench.sh runs in its first
// round only: they take long and vary little.
var runOnce = flag.Bool("once", true, "run the scenarios that make bench runs in its first round only (Delivery/fullspeed_postgres)")

// BenchmarkDelivery compares the durable journal (exporter/journal) with
// the SDK's stock BatchProcessor: what an emitting caller pays, how fast
// events reach Postgres, what an outage of Postgres costs, and what the
// journal needs in disk and memory. See the package documentation for
// each scenario.
func BenchmarkDelivery(b *testing.B) {
	// The references of this round, for the ratios reported by the
	// scenarios that follow them.
	var ref struct{ onemit, emit, postgres float64 }
	b.Run("onemit_batchprocessor", func(b *testing.B) { ref.onemit = benchOnEmitBatchProcessor(b) })
	b.Run("onemit_journal", func(b *testing.B) {
		reportRatio(b, benchOnEmitJournal(b), ref.onemit, "ratio_to_batchprocessor")
	})
	b.Run("emit_stock", func(b *testing.B) { ref.emit = benchEmitStock(b) })
	b.Run("emit_recommended", func(b *testing.B) {
		reportRatio(b, benchEmitRecommended(b), ref.emit, "ratio_to_stock")
	})

	dump := filepath.Join(b.TempDir(), "delivery.pgcopy")
	b.Run("stock_postgres", func(b *testing.B) { ref.postgres = benchStockPostgres(b) })
	b.Run("journal_postgres", func(b *testing.B) {
		reportRatio(b, benchJournalPostgres(b, dump), ref.postgres, "ratio_to_stock")
	})
	b.Run("ceiling", func(b *testing.B) {
		copyCeiling(b, dump, dlvPostgresEvents, func(pool *pgxpool.Pool, _ string) { journalToPostgres(b, pool, dlvPostgresEvents) })
	})
	b.Run("outage_postgres", benchOutagePostgres)
	if *runOnce {
		b.Run("fullspeed_postgres", benchFullSpeedPostgres)
	}
}

// onEmitLoop times proc.OnEmit with the login record and returns how many
// records it emitted and the time per call in nanoseconds.
func onEmitLoop(b *testing.B, proc sdklog.Processor) (n int64, nsPerOp float64) {
	b.Helper()
	r, err := loginRecord()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	runtime.GC()
	b.ReportAllocs()
	cpu := startCallerCPU()
	for b.Loop() {
		if err := proc.OnEmit(ctx, &r); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportCallerCPU(b, cpu)
	return n, perOp(b)
}

// perOp returns the time per operation of a finished b.Loop loop.
func perOp(b *testing.B) float64 {
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// reportCallerCPU reports the CPU time the calling goroutine spent per
// operation of a finished b.Loop loop since cpu was started (cpu_ns/op),
// when the platform can tell (Linux).
func reportCallerCPU(b *testing.B, cpu callerCPU) {
	if d, ok := cpu.stop(); ok {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu_ns/op")
	}
}

func benchOnEmitBatchProcessor(b *testing.B) float64 {
	exp := &discardExporter{}
	bp := newBatchProcessor(exp)
	n, ns := onEmitLoop(b, bp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bp.ForceFlush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := bp.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	// In a loop that does nothing but OnEmit, the export goroutine has to
	// take millions of records a second, and a pause of a few milliseconds
	// overflows the queue. A drop costs OnEmit neither more nor less (it
	// overwrites the oldest record instead of a free slot), so it is
	// reported, not failed.
	b.ReportMetric(float64(n-exp.exported.Load()), "dropped")
	return ns
}

// discardJournal opens a journal in a fresh directory, delivering to a
// discarding exporter, and shuts it down when b ends.
func discardJournal(b *testing.B) (*journal.Processor, *discardExporter, *errorLog) {
	b.Helper()
	exp := &discardExporter{}
	proc, errs, err := newJournal(b.TempDir(), "discard", exp)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	return proc, exp, errs
}

// checkDiscardJournal shuts proc down (delivering what is left) and fails b
// unless it accepted and delivered n records and reported nothing.
func checkDiscardJournal(b *testing.B, proc *journal.Processor, exp *discardExporter, errs *errorLog, n int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dlvShutdownTimeout)
	defer cancel()
	if err := proc.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := checkJournal(proc, "discard", uint64(n)); err != nil {
		b.Fatal(err)
	}
	if got := exp.exported.Load(); got != n {
		b.Fatalf("exporter received %d records, %d were emitted", got, n)
	}
	if err := errs.err(); err != nil {
		b.Fatal(err)
	}
}

func benchOnEmitJournal(b *testing.B) float64 {
	proc, exp, errs := discardJournal(b)
	n, ns := onEmitLoop(b, proc)
	checkDiscardJournal(b, proc, exp, errs, n)
	return ns
}

// benchEmitStock is BenchmarkEmit's bridge scenario, again: the reference
// of emit_recommended in the same round.
func benchEmitStock(b *testing.B) float64 {
	exp := &discardExporter{}
	lp := newProvider(exp, false)
	em := newBridge(lp)
	cpu := startCallerCPU()
	n := loop(b, em)
	reportCallerCPU(b, cpu)
	ns := perOp(b)
	if err := flushAndCount(lp, exp, n); err != nil {
		b.Fatal(err)
	}
	return ns
}

// benchEmitRecommended makes the same Auditor call as emit_stock through a
// provider set up as recommended: the journal, no key deduplication, a
// resource with service.name.
func benchEmitRecommended(b *testing.B) float64 {
	proc, exp, errs := discardJournal(b)
	lp := newAuditProvider(proc, pgService)
	em := newBridge(lp)
	cpu := startCallerCPU()
	n := loop(b, em)
	reportCallerCPU(b, cpu)
	ns := perOp(b)
	checkDiscardJournal(b, proc, exp, errs, n)
	return ns
}

// postgresPath times the whole path of stock_postgres and journal_postgres:
// n events through p at full speed, then p's provider shut down, which
// delivers the rest. The clock runs from the first event to the
// shutdown's return.
func postgresPath(b *testing.B, p pipeline, n int) time.Duration {
	b.Helper()
	ctx := context.Background()
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	emitEvents(ctx, p.auditor, n)
	sctx, cancel := context.WithTimeout(ctx, dlvShutdownTimeout)
	defer cancel()
	err := p.provider.Shutdown(sctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if r := p.rejected.Load(); r > 0 {
		b.Fatalf("the Auditor rejected %d events", r)
	}
	return elapsed
}

// benchStockPostgres is the stock path: PostgresInsert/exporter's pipeline
// (BatchProcessor with export batches of pgBatchSize and a queue that
// holds the whole run) for dlvPostgresEvents events. It reports what the
// table lacks rather than failing.
func benchStockPostgres(b *testing.B) float64 {
	pool := pgTable(b)
	errs := &errorLog{}
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(errs.handle))
	if err != nil {
		b.Fatal(err)
	}
	p := newPipeline(exp, dlvPostgresEvents, pgBatchSize, pgService)
	elapsed := postgresPath(b, p, dlvPostgresEvents)
	if lost, dup := reportLoss(b, pool, dlvPostgresEvents); lost != 0 || dup != 0 {
		b.Logf("the stock path lost %d events and stored %d twice (exporter stats %+v)", lost, dup, exp.Stats())
	}
	if err := errs.err(); err != nil {
		b.Logf("exporter: %v", err)
	}
	report(b, dlvPostgresEvents, elapsed)
	return dlvPostgresEvents / elapsed.Seconds()
}

// journalToPostgres runs the journal path for n events into pool's table
// and returns its time; it fails b unless the journal delivered every
// event and nothing reported an error.
func journalToPostgres(b *testing.B, pool *pgxpool.Pool, n int) time.Duration {
	b.Helper()
	errs := &errorLog{}
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(errs.handle))
	if err != nil {
		b.Fatal(err)
	}
	proc, jErrs, err := newJournal(b.TempDir(), "postgres", exp)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	elapsed := postgresPath(b, newPipelineWith(proc, pgService), n)
	if err := checkJournal(proc, "postgres", uint64(n)); err != nil {
		b.Fatal(err)
	}
	if err := jErrs.err(); err != nil {
		b.Fatalf("journal: %v", err)
	}
	if err := errs.err(); err != nil {
		b.Fatalf("exporter: %v", err)
	}
	return elapsed
}

// benchJournalPostgres is the journal path for dlvPostgresEvents events:
// the journal with its default options in place of the BatchProcessor,
// the same provider, exporter and emitter. Every event must be in the
// table, once. The rows are dumped for the ceiling.
func benchJournalPostgres(b *testing.B, dump string) float64 {
	pool := pgTable(b)
	elapsed := journalToPostgres(b, pool, dlvPostgresEvents)
	if lost, dup := reportLoss(b, pool, dlvPostgresEvents); lost != 0 || dup != 0 {
		b.Fatalf("the journal path lost %d events and stored %d twice", lost, dup)
	}
	report(b, dlvPostgresEvents, elapsed)
	if err := dumpRows(pool, dump); err != nil {
		b.Fatal(err)
	}
	return dlvPostgresEvents / elapsed.Seconds()
}

// benchOutagePostgres writes outageEvents events through the journal into
// a private Postgres server that is stopped once outageAfter rows are
// written and started again outageFor later. The clock runs from the first
// event to the last row confirmed; every event must be in the table, once.
func benchOutagePostgres(b *testing.B) {
	pg := testenv.StartPostgres(b)
	matchSharedServer(b, pg)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pg.DSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pgschema.Migrate(ctx, pool, pgschema.Options{}); err != nil {
		b.Fatal(err)
	}
	// Errors are expected while the server is down; they are counted only.
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(func(error) {}))
	if err != nil {
		b.Fatal(err)
	}
	proc, _, err := newJournal(b.TempDir(), "postgres", exp)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = proc.Shutdown(context.Background()) })
	p := newPipelineWith(proc, pgService)

	emitCtx, stopEmitting := context.WithCancel(ctx)
	defer stopEmitting()
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var (
		emitting sync.WaitGroup
		emitted  int
		emitTime time.Duration
	)
	emitting.Go(func() {
		emitted = emitEvents(emitCtx, p.auditor, outageEvents)
		emitTime = time.Since(start)
	})
	if !waitUntil(time.Minute, func() bool { return exp.Stats().Written >= outageAfter }) {
		stopEmitting()
		emitting.Wait()
		b.Fatalf("%d rows written after a minute, want %d before the outage", exp.Stats().Written, outageAfter)
	}
	pg.Stop(b)
	down := time.Now()
	time.Sleep(outageFor)
	pg.Start(b)
	up := time.Now()
	downFor := up.Sub(down)
	// Nothing is written while the server is down: the next row written
	// is the first after the restart.
	before := exp.Stats().Written
	if !waitUntil(2*time.Minute, func() bool { return exp.Stats().Written > before }) {
		b.Fatal("no row written within two minutes of the restart")
	}
	resumeAfter := time.Since(up)
	emitting.Wait()
	sctx, cancel := context.WithTimeout(ctx, dlvShutdownTimeout)
	defer cancel()
	err = p.provider.Shutdown(sctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}

	lost, dup := reportLoss(b, pool, outageEvents)
	ts := proc.Stats().Targets["postgres"]
	b.ReportMetric(downFor.Seconds(), "outage_seconds")
	b.ReportMetric(resumeAfter.Seconds(), "resume_seconds")
	b.ReportMetric(emitTime.Seconds(), "emit_seconds")
	// postgreslog retries a broken connection itself for a while, and the
	// journal retries an Export that failed: either shows the outage.
	retries := exp.Stats().Retried
	b.ReportMetric(float64(ts.FailedExports), "failed_exports")
	b.ReportMetric(float64(retries), "exporter_retries")
	report(b, outageEvents, elapsed)
	if lost != 0 || dup != 0 {
		b.Fatalf("lost %d events and stored %d twice across the outage", lost, dup)
	}
	if emitted != outageEvents || p.rejected.Load() != 0 {
		b.Fatalf("emitted %d events of %d, %d rejected", emitted, outageEvents, p.rejected.Load())
	}
	if err := checkJournal(proc, "postgres", outageEvents); err != nil {
		b.Fatal(err)
	}
	if ts.FailedExports == 0 && retries == 0 {
		b.Fatal("no export failed and the exporter retried nothing: the outage did not interrupt the delivery")
	}
}

// sharedSettings are the settings outage_postgres's private server copies
// from the shared server the other scenarios write to: its durability
// (make bench turns fsync, synchronous_commit and full_page_writes on
// there) and its cache.
var sharedSettings = []string{"fsync", "synchronous_commit", "full_page_writes", "shared_buffers"}

// matchSharedServer gives the private server pg the sharedSettings of the
// shared server and restarts it so that they apply.
func matchSharedServer(b *testing.B, pg *testenv.PostgresServer) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shared := testenv.Postgres(b)
	want := make(map[string]string, len(sharedSettings))
	var alter []string
	for _, name := range sharedSettings {
		var v string
		if err := shared.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			b.Fatal(err)
		}
		want[name] = v
		alter = append(alter, "ALTER SYSTEM SET "+name+" = '"+strings.ReplaceAll(v, "'", "''")+"'")
	}
	if err := execEach(ctx, pg.DSN(), alter...); err != nil {
		b.Fatal(err)
	}
	pg.Stop(b)
	pg.Start(b)
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for name, v := range want {
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			b.Fatal(err)
		}
		if got != v {
			b.Fatalf("private Postgres server: %s = %s after restart, want %s", name, got, v)
		}
	}
}

// execEach runs each statement on a new connection to dsn.
func execEach(ctx context.Context, dsn string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// waitUntil polls cond every 5 ms until it holds (true) or d has passed
// (false).
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// benchFullSpeedPostgres runs fullSpeedEvents events at full speed through
// the journal into Postgres in a child process (runChild), and reports the
// journal's bytes per event and peak size and the child's peak RSS and
// live heap. Every event must be in the table, once.
func benchFullSpeedPostgres(b *testing.B) {
	res, rss := fullSpeedPostgres(b, childConfig{Events: fullSpeedEvents, Timeout: fullSpeedTimeout, PollEvery: fullSpeedPoll})
	n := res.Emitted
	b.ReportMetric(float64(res.Journal.Bytes)/float64(n), "disk_bytes/event")
	b.ReportMetric(float64(res.Journal.PeakBytes)/(1<<20), "journal_peak_MiB")
	b.ReportMetric(rss, "peak_rss_MiB")
	b.ReportMetric(res.PeakLiveHeapMiB, "peak_live_heap_MiB")
	b.ReportMetric(res.EmitSeconds, "emit_seconds")
	report(b, n, time.Duration(res.Seconds*float64(time.Second)))
}

// fullSpeedPostgres runs cfg in a child process against a fresh migrated
// database and a fresh journal directory (cfg's DSN and Dir are set here),
// checks that the table holds every event once, and returns the child's
// result and peak RSS in MiB.
func fullSpeedPostgres(tb testing.TB, cfg childConfig) (childResult, float64) {
	tb.Helper()
	ctx := context.Background()
	cfg.Scenario = childJournalPostgres
	pool, dsn := pgTableDSN(tb)
	cfg.DSN = dsn
	cfg.Dir = filepath.Join(tb.TempDir(), "journal")
	if b, ok := tb.(*testing.B); ok {
		b.ReportAllocs()
		b.ResetTimer()
		defer b.StopTimer()
	}
	// The child gives up at cfg.Timeout; it is killed a minute later.
	cctx, cancel := context.WithTimeout(ctx, cfg.Timeout+time.Minute)
	defer cancel()
	res, rss, err := runChild(cctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	rows, distinct, err := countEvents(ctx, pool)
	if err != nil {
		tb.Fatal(err)
	}
	if res.Emitted != cfg.Events || rows != int64(cfg.Events) || distinct != rows {
		tb.Fatalf("child emitted %d events of %d; the table holds %d rows, %d distinct events", res.Emitted, cfg.Events, rows, distinct)
	}
	return res, rss
}
