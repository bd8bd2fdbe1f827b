package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
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
	pgInsertEvents = 20_000
	// pgBatchSize is the BatchProcessor's export batch: one COPY each.
	pgBatchSize = 8192
	pgService   = "bench"
	// insertChildTimeout bounds a child process of the insert benchmarks.
	insertChildTimeout = 10 * time.Minute
)

// pgExporterEvents is how many events the scenarios of
// BenchmarkPostgresInsert but insert_per_event write: one million, or
// OTELAUDIT_PG_INSERT_EVENTS (fewer for quick iterations; the figures
// quoted come from the default).
func pgExporterEvents(b *testing.B) int {
	if s := os.Getenv("OTELAUDIT_PG_INSERT_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("OTELAUDIT_PG_INSERT_EVENTS=%q", s)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkPostgresInsert writes audit events into a fresh, migrated
// Postgres audit table (all its indexes, monthly partitions) in five ways,
// each timed by the wall clock from the first event to the last row
// committed, and counts the rows afterwards:
//
//   - exporter: the whole path for pgExporterEvents events, in a child
//     process (see insert_child_test.go) that reports its peak RSS and
//     live heap. Auditor calls from one goroutine at full speed, the SDK's
//     stock BatchProcessor (export batches of pgBatchSize, a queue that
//     holds the whole run, so that nothing is dropped: checked by the
//     exporter's count and the table's), this project's
//     postgreslog.Exporter with its defaults (each Export written on
//     postgreslog.DefaultWriters connections at once; the child reads
//     OTELAUDIT_POSTGRES_WRITERS like any exporter), committed rows. Nothing paces the emitter: it
//     runs ahead of Postgres, and the queue holds the backlog (the memory
//     figures include it).
//   - ceiling: the same rows, preformatted in COPY's binary format (dumped
//     from the exporter's table before the clock starts), sent by one COPY
//     from a file into a fresh table: what the server does without us.
//   - ceiling_parallel: the same rows split in two halves (before the
//     clock starts), sent by two binary COPYs on two connections at once
//     into a fresh table: what the server does with two backends, the
//     limit for a writer that uses more than one connection. benchfmt
//     prints every scenario's ratio to it as ratio_to_parallel.
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
	b.Run("ceiling_parallel", func(b *testing.B) { benchPostgresParallelCeiling(b, dump) })
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
	n := pgExporterEvents(b)
	pool, dsn := pgTableDSN(b)
	res, rss := insertChild(b, childConfig{Scenario: childPostgresExporter, DSN: dsn, Events: n})
	checkPgRows(b, pool, n)
	reportChild(b, res, rss)
	b.ReportMetric(res.EmitSeconds, "emit_seconds")
	report(b, n, seconds(res.Seconds))
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
	n := pgExporterEvents(b)
	copyCeiling(b, dump, n, func(_ *pgxpool.Pool, dsn string) {
		insertChild(b, childConfig{Scenario: childPostgresExporter, DSN: dsn, Events: n})
	})
}

// copyCeiling times one binary COPY of the n rows in dump into a fresh
// audit table. When dump does not exist (the scenario that writes it did
// not run), produce writes the rows into a scratch table (pool, reached at
// dsn) first, untimed.
func copyCeiling(b *testing.B, dump string, n int, produce func(pool *pgxpool.Pool, dsn string)) {
	ensureDump(b, dump, produce)
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

// ensureDump makes the dump when it does not exist (the scenario that
// writes it did not run): produce writes the rows into a scratch table
// (pool, reached at dsn), untimed, and they are dumped from there.
func ensureDump(b *testing.B, dump string, produce func(pool *pgxpool.Pool, dsn string)) {
	b.Helper()
	if _, err := os.Stat(dump); err == nil {
		return
	}
	scratch, dsn := pgTableDSN(b)
	produce(scratch, dsn)
	if err := dumpRows(scratch, dump); err != nil {
		b.Fatal(err)
	}
}

// benchPostgresParallelCeiling times two binary COPYs on two connections
// at once, each of one half of the rows in dump (split before the clock
// starts), into a fresh audit table.
func benchPostgresParallelCeiling(b *testing.B, dump string) {
	const parts = 2
	n := pgExporterEvents(b)
	ensureDump(b, dump, func(_ *pgxpool.Pool, dsn string) {
		insertChild(b, childConfig{Scenario: childPostgresExporter, DSN: dsn, Events: n})
	})
	files, err := splitCopyBinary(dump, b.TempDir(), parts, n)
	if err != nil {
		b.Fatal(err)
	}
	pool := pgTable(b)
	ctx := context.Background()
	conns := make([]*pgxpool.Conn, parts)
	ins := make([]*os.File, parts)
	for i := range parts {
		if conns[i], err = pool.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
		defer conns[i].Release()
		if ins[i], err = os.Open(files[i]); err != nil {
			b.Fatal(err)
		}
		defer ins[i].Close()
	}
	copySQL := "COPY audit_logs (" + pgCopyColumns() + ") FROM STDIN WITH (FORMAT binary)"
	runtime.GC()

	b.ReportAllocs()
	b.StartTimer() // ensureDump may have stopped it
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	rows := make([]int64, parts)
	errs := make([]error, parts)
	for i := range parts {
		wg.Go(func() {
			tag, err := conns[i].Conn().PgConn().CopyFrom(ctx, ins[i], copySQL)
			rows[i], errs[i] = tag.RowsAffected(), err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	if got := rows[0] + rows[1]; got != int64(n) {
		b.Fatalf("the COPYs wrote %d rows (%v), want %d", got, rows, n)
	}
	checkPgRows(b, pool, n)
	report(b, n, elapsed)
}

// splitCopyBinary splits the n rows of a file in COPY's binary format into
// parts files in dir, each with the header, a consecutive share of the
// rows (the first ones get one more when n does not divide) and the
// trailer, and returns their paths.
func splitCopyBinary(path, dir string, parts, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	// Header: signature, flags, extension length, extension.
	header := make([]byte, 19)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	if string(header[:11]) != "PGCOPY\n\xff\r\n\x00" {
		return nil, fmt.Errorf("%s: not COPY binary", path)
	}
	ext := make([]byte, binary.BigEndian.Uint32(header[15:19]))
	if _, err := io.ReadFull(r, ext); err != nil {
		return nil, fmt.Errorf("%s: header extension: %w", path, err)
	}
	header = append(header, ext...)
	trailer := []byte{0xff, 0xff}

	paths := make([]string, parts)
	var tuple []byte
	read := 0
	for p := range parts {
		paths[p] = filepath.Join(dir, fmt.Sprintf("rows.%d.pgcopy", p))
		out, err := os.Create(paths[p])
		if err != nil {
			return nil, err
		}
		w := bufio.NewWriterSize(out, 1<<20)
		_, err = w.Write(header)
		share := n/parts + btoi(p < n%parts)
		for i := 0; i < share && err == nil; i++ {
			if tuple, err = readTuple(r, tuple[:0]); err == nil {
				_, err = w.Write(tuple)
				read++
			}
		}
		if err == nil {
			_, err = w.Write(trailer)
		}
		if err == nil {
			err = w.Flush()
		}
		if err = errors.Join(err, out.Close()); err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", path, read, err)
		}
	}
	var end [2]byte
	if _, err := io.ReadFull(r, end[:]); err != nil || end != [2]byte{0xff, 0xff} {
		return nil, fmt.Errorf("%s: no trailer after %d rows (%w): it holds more rows", path, n, err)
	}
	return paths, nil
}

// readTuple appends one tuple of COPY's binary format from r to dst: its
// field count and every field's length and bytes (-1 for NULL).
func readTuple(r *bufio.Reader, dst []byte) ([]byte, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:2]); err != nil {
		return dst, err
	}
	fields := int16(binary.BigEndian.Uint16(b[:2]))
	if fields < 0 {
		return dst, fmt.Errorf("trailer where a row was expected")
	}
	dst = append(dst, b[:2]...)
	for range fields {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return dst, err
		}
		dst = append(dst, b[:]...)
		size := int32(binary.BigEndian.Uint32(b[:]))
		if size <= 0 {
			continue
		}
		start := len(dst)
		dst = slices.Grow(dst, int(size))[:start+int(size)]
		if _, err := io.ReadFull(r, dst[start:]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

func benchPostgresExportOnly(b *testing.B) {
	n := pgExporterEvents(b)
	pool, dsn := pgTableDSN(b)
	res, rss := insertChild(b, childConfig{Scenario: childPostgresExportOnly, DSN: dsn, Events: n})
	checkPgRows(b, pool, n)
	reportChild(b, res, rss)
	b.ReportMetric(res.WaitSeconds, "wait_seconds")
	report(b, n, seconds(res.Seconds))
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
