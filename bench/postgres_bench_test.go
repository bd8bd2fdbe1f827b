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
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Postgres insert benchmark settings (see BenchmarkPostgresInsert).
const (
	pgExporterEvents = 1_000_000
	pgInsertEvents   = 20_000
	// pgBatchSize is the BatchProcessor's export batch: one COPY each.
	pgBatchSize = 8192
	pgService   = "bench"
	// insertChildTimeout bounds a child process of the insert benchmarks.
	insertChildTimeout = 10 * time.Minute
)

// BenchmarkPostgresInsert writes audit events into a fresh, migrated
// Postgres audit table (all its indexes, monthly partitions) in four ways,
// each timed by the wall clock from the first event to the last row
// committed, and counts the rows afterwards:
//
//   - exporter: the whole path for pgExporterEvents events, in a child
//     process (see insert_child_test.go) that reports its peak RSS and
//     live heap. Auditor calls from one goroutine at full speed, the SDK's
//     stock BatchProcessor (export batches of pgBatchSize, a queue that
//     holds the whole run, so that nothing is dropped: checked by the
//     exporter's count and the table's), this project's
//     postgreslog.Exporter, committed rows. Nothing paces the emitter: it
//     runs ahead of Postgres, and the queue holds the backlog (the memory
//     figures include it).
//   - ceiling: the same rows, preformatted in COPY's binary format (dumped
//     from the exporter's table before the clock starts), sent by one COPY
//     from a file into a fresh table: what the server does without us.
//   - export_only: the exporter alone, the same number of events, in a
//     child process: Export called with batches of pgBatchSize SDK records,
//     one batch after another as the BatchProcessor calls it, while a
//     second goroutine prepares the next batch (copies of records emitted
//     through the Auditor once, with fresh event ids and times). The clock
//     runs from the first Export to the last one's return, so whatever
//     Postgres does between the calls (checkpoints, WAL writes) is on it;
//     wait_seconds is how long Export waited for a batch (part of the
//     time). The gap between exporter and export_only is what emitting
//     through the SDK costs on the same CPUs.
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
	pool, _ := pgTableDSN(b)
	return pool
}

// pgTableDSN returns a pool on a fresh database with the audit table
// migrated, and the database's DSN for a child process.
func pgTableDSN(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	dsn := testenv.PostgresDSN(tb)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if _, err := pgschema.Migrate(context.Background(), pool, pgschema.Options{}); err != nil {
		tb.Fatal(err)
	}
	return pool, dsn
}

func benchPostgresExporter(b *testing.B, dump string) {
	pool, dsn := pgTableDSN(b)
	res, rss := insertChild(b, childConfig{Scenario: childPostgresExporter, DSN: dsn, Events: pgExporterEvents})
	checkPgRows(b, pool, pgExporterEvents)
	reportChild(b, res, rss)
	b.ReportMetric(res.EmitSeconds, "emit_seconds")
	report(b, pgExporterEvents, seconds(res.Seconds))
	if err := dumpRows(pool, dump); err != nil {
		b.Fatal(err)
	}
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
	copyCeiling(b, dump, pgExporterEvents, func(_ *pgxpool.Pool, dsn string) {
		insertChild(b, childConfig{Scenario: childPostgresExporter, DSN: dsn, Events: pgExporterEvents})
	})
}

// copyCeiling times one binary COPY of the n rows in dump into a fresh
// audit table. When dump does not exist (the scenario that writes it did
// not run), produce writes the rows into a scratch table (pool, reached at
// dsn) first, untimed.
func copyCeiling(b *testing.B, dump string, n int, produce func(pool *pgxpool.Pool, dsn string)) {
	if _, err := os.Stat(dump); err != nil {
		// Run alone: make the rows the exporter scenario would have made.
		scratch, dsn := pgTableDSN(b)
		produce(scratch, dsn)
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
	b.StartTimer() // produce may have stopped it
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
	pool, dsn := pgTableDSN(b)
	res, rss := insertChild(b, childConfig{Scenario: childPostgresExportOnly, DSN: dsn, Events: pgExporterEvents})
	checkPgRows(b, pool, pgExporterEvents)
	reportChild(b, res, rss)
	b.ReportMetric(res.WaitSeconds, "wait_seconds")
	report(b, pgExporterEvents, seconds(res.Seconds))
}

// auditRecords returns the SDK records of events [0, n) of event, emitted
// through the Auditor into a provider with the audit settings of
// newAuditProvider (no key deduplication, resource service.name service).
func auditRecords(event func(i int) otelaudit.Event, n int, service string) ([]sdklog.Record, error) {
	exp := &captureExporter{}
	lp := newAuditProvider(sdklog.NewSimpleProcessor(exp), service)
	a := bridge.New(bridge.WithLoggerProvider(lp))
	for i := range n {
		a.Record(context.Background(), event(i))
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
	records, err := auditRecords(pgEvent, n, pgService)
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
