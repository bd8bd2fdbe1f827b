package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// ClickHouse insert benchmark settings (see BenchmarkClickHouseInsert).
const (
	chInsertEvents = 1_000_000
	// chBatchSize is the BatchProcessor's export batch: ClickHouse wants few
	// large inserts.
	chBatchSize = 50_000
	chService   = "bench"
)

// BenchmarkClickHouseInsert writes chInsertEvents events into a fresh,
// migrated ClickHouse audit table in three ways, timed by the wall clock
// from the first event to the last row acknowledged, and counts the rows
// afterwards (the run fails unless the table holds exactly that many
// distinct events):
//
//   - exporter: the whole path, in a child process (see
//     insert_child_test.go) that reports its peak RSS and live heap.
//     Auditor calls from one goroutine at full speed, an SDK
//     LoggerProvider (default limits; key deduplication off, as
//     newPipeline sets it: the Auditor never emits a key twice) with the
//     stock BatchProcessor (batches of chBatchSize, a queue that holds the
//     whole run, so that nothing is dropped), this project's
//     clickhouselog.Exporter, rows in ClickHouse. Nothing paces the
//     emitter; the queue holds what it runs ahead (the memory figures
//     include it).
//   - export_only: the exporter alone, in a child process: batches of
//     chBatchSize records handed to Export one after another on one
//     goroutine, as the BatchProcessor does, while a second goroutine
//     prepares the next batch (copies of the first chBatchSize events,
//     emitted through the Auditor once, with fresh event ids and times).
//     The clock runs from the first Export to the last one's return, so
//     the server's merges between the calls are on it; wait_seconds is how
//     long Export waited for a batch.
//   - export_prebuilt: the same, but every batch is built before the clock
//     starts, as the ceilings' rows are, and dropped once exported: the
//     exporter's own cost, with no harness beside it on the two cores. Its
//     memory figures include the million records built beforehand.
//   - ceiling: clickhouse-client inserting the same rows, preformatted as
//     TabSeparated in a file (written before the clock starts), into the
//     same table: what the server and its own client do without us.
//   - ceiling_native: the same rows inserted by clickhouse-client in the
//     Native format instead of TSV, which the server need not parse: the
//     write path's limit on this machine. The file is made before the clock
//     starts, by loading the TSV into a TinyLog table (which keeps the
//     rows in generation order) and selecting them as Native in blocks of
//     65,536 rows (max_block_size, the server's default), which the
//     client sends as they are. (In blocks of 1,048,576 rows, the size
//     the client cuts the TSV into, it ran about 1.07x the TSV ceiling
//     here; in blocks of 65,536, 1.4-1.5x.) benchfmt prints every
//     scenario's ratio to it as ratio_to_native.
//
// Each run does its fixed amount of work once, whatever b.N.
func BenchmarkClickHouseInsert(b *testing.B) {
	p := newChPools()
	b.Run("exporter", func(b *testing.B) { benchExporterPath(b, chInsertEvents) })
	b.Run("export_only", func(b *testing.B) { benchExportOnly(b, chInsertEvents) })
	b.Run("export_prebuilt", func(b *testing.B) { benchExportPrebuilt(b, chInsertEvents) })
	b.Run("ceiling", func(b *testing.B) { benchClientCeiling(b, p, chInsertEvents) })
	b.Run("ceiling_native", func(b *testing.B) { benchNativeCeiling(b, p, chInsertEvents) })
}

// chTable migrates a fresh database and returns a connection to it.
func chTable(b *testing.B) (driver.Conn, chschema.Options, chschema.Layout) {
	b.Helper()
	conn, opts, layout, _ := chTableDSN(b)
	return conn, opts, layout
}

// chTableDSN migrates a fresh database and returns a connection to it, and
// the server's DSN for a child process.
func chTableDSN(tb testing.TB) (driver.Conn, chschema.Options, chschema.Layout, string) {
	tb.Helper()
	dsn, db := testenv.ClickHouseDSN(tb)
	opt, err := testenv.ClickHouseOptions(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := clickhouse.Open(opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(context.Background(), conn, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return conn, opts, layout, dsn
}

func benchExporterPath(b *testing.B, n int) {
	conn, opts, _, dsn := chTableDSN(b)
	res, rss := insertChild(b, childConfig{Scenario: childClickHouseExporter, DSN: dsn, Database: opts.Database, Events: n})
	checkRows(b, conn, n)
	reportChild(b, res, rss)
	b.ReportMetric(res.EmitSeconds, "emit_seconds")
	report(b, n, seconds(res.Seconds))
}

func benchExportOnly(b *testing.B, n int) {
	conn, opts, _, dsn := chTableDSN(b)
	res, rss := insertChild(b, childConfig{Scenario: childClickHouseExportOnly, DSN: dsn, Database: opts.Database, Events: n})
	checkRows(b, conn, n)
	reportChild(b, res, rss)
	b.ReportMetric(res.WaitSeconds, "wait_seconds")
	report(b, n, seconds(res.Seconds))
}

func benchExportPrebuilt(b *testing.B, n int) {
	conn, opts, _, dsn := chTableDSN(b)
	res, rss := insertChild(b, childConfig{Scenario: childClickHouseExportPre, DSN: dsn, Database: opts.Database, Events: n})
	checkRows(b, conn, n)
	reportChild(b, res, rss)
	report(b, n, seconds(res.Seconds))
}

func benchClientCeiling(b *testing.B, p *chPools, n int) {
	conn, opts, layout := chTable(b)
	if layout != chschema.LayoutCompat {
		b.Fatalf("the ceiling writes the compat layout's columns; the server chose %v", layout)
	}
	path := filepath.Join(b.TempDir(), "rows.tsv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeTSV(f, p, n, time.Now(), chService); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	client := testenv.ClickHouseClient(b)
	args := append(client[1:], "--database", opts.Database, "--query", "INSERT INTO audit_logs ("+compatTSVColumns+") FORMAT TSV")
	in, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(client[0], args...)
	cmd.Stdin = in
	runtime.GC()

	b.ResetTimer()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("clickhouse-client: %v: %s", err, out)
	}
	checkRows(b, conn, n)
	report(b, n, elapsed)
}

func benchNativeCeiling(b *testing.B, p *chPools, n int) {
	conn, opts, layout := chTable(b)
	if layout != chschema.LayoutCompat {
		b.Fatalf("the ceiling writes the compat layout's columns; the server chose %v", layout)
	}
	dir := b.TempDir()
	tsv := filepath.Join(dir, "rows.tsv")
	f, err := os.Create(tsv)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeTSV(f, p, n, time.Now(), chService); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	native := filepath.Join(dir, "rows.native")
	if err := tsvToNative(context.Background(), b, conn, opts.Database, tsv, native); err != nil {
		b.Fatal(err)
	}
	client := testenv.ClickHouseClient(b)
	args := append(client[1:], "--database", opts.Database, "--query", "INSERT INTO audit_logs ("+compatTSVColumns+") FORMAT Native")
	in, err := os.Open(native)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(client[0], args...)
	cmd.Stdin = in
	runtime.GC()

	b.ResetTimer()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatalf("clickhouse-client: %v: %s", err, out)
	}
	checkRows(b, conn, n)
	report(b, n, elapsed)
}

// tsvToNative converts the TSV rows of writeTSV in file tsv to the Native
// format in file native, in the same order: it loads them into a scratch
// TinyLog table of database db (read back in insertion order by one
// stream) and selects them in blocks of 65,536 rows.
func tsvToNative(ctx context.Context, tb testing.TB, conn driver.Conn, db, tsv, native string) error {
	const scratch = "native_rows"
	if err := conn.Exec(ctx, "CREATE TABLE "+db+"."+scratch+" AS "+db+".audit_logs ENGINE = TinyLog"); err != nil {
		return fmt.Errorf("creating %s: %w", scratch, err)
	}
	client := testenv.ClickHouseClient(tb)
	in, err := os.Open(tsv)
	if err != nil {
		return err
	}
	defer in.Close()
	load := exec.Command(client[0], append(client[1:], "--database", db, "--query", "INSERT INTO "+scratch+" ("+compatTSVColumns+") FORMAT TSV")...)
	load.Stdin = in
	if out, err := load.CombinedOutput(); err != nil {
		return fmt.Errorf("loading %s: %w: %s", scratch, err, out)
	}
	f, err := os.Create(native)
	if err != nil {
		return err
	}
	var stderr strings.Builder
	dump := exec.Command(client[0], append(client[1:], "--database", db, "--max_threads", "1", "--max_block_size", "65536",
		"--query", "SELECT "+compatTSVColumns+" FROM "+scratch+" FORMAT Native")...)
	dump.Stdout, dump.Stderr = f, &stderr
	if err := dump.Run(); err != nil {
		return errors.Join(fmt.Errorf("dumping %s as Native: %w: %s", scratch, err, stderr.String()), f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := conn.Exec(ctx, "DROP TABLE "+db+"."+scratch); err != nil {
		return fmt.Errorf("dropping %s: %w", scratch, err)
	}
	return nil
}

// checkRows fails b unless the audit table holds exactly n distinct events
// in n rows.
func checkRows(b *testing.B, conn driver.Conn, n int) {
	b.Helper()
	var rows, distinct uint64
	if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM audit_logs").Scan(&rows, &distinct); err != nil {
		b.Fatal(err)
	}
	if rows != uint64(n) || distinct != uint64(n) {
		b.Fatalf("audit_logs holds %d rows, %d distinct events; want %d", rows, distinct, n)
	}
}

// report prints benchfmt's throughput metrics.
func report(b *testing.B, events int, elapsed time.Duration) {
	b.ReportMetric(float64(events), "events")
	b.ReportMetric(elapsed.Seconds(), "seconds")
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}
