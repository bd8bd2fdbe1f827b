package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// ClickHouse insert benchmark settings (see BenchmarkClickHouseInsert).
const (
	chInsertEvents = 1_000_000
	// chBatchSize is the BatchProcessor's export batch: ClickHouse wants few
	// large inserts.
	chBatchSize = 50_000
	// chQueueSize is the BatchProcessor's queue, and chMaxLag how far the
	// emitters may run ahead of the rows written: they pause while more than
	// chMaxLag events are emitted but not written, so the queue, which
	// overwrites its oldest record when full, never fills. (A queue as large
	// as the whole run would do too, but the collector would then scan a
	// million queued records on every cycle, which is not what a service
	// pays.)
	chQueueSize = 4 * chBatchSize
	chMaxLag    = 3 * chBatchSize
	// chEmitters is how many goroutines make the audit calls. One: on the
	// 2-core machine the ClickHouse server, the BatchProcessor's export
	// goroutine and the emitters share the cores, and a second emitter only
	// takes CPU from the other two (measured: 46-61k events/s with two
	// against 75-84k with one, back to back).
	chEmitters = 1
	chService  = "bench"
)

// BenchmarkClickHouseInsert writes chInsertEvents events into a fresh,
// migrated ClickHouse audit table in three ways, timed from the first
// event to the last row acknowledged, and counts the rows afterwards (the
// run fails unless the table holds exactly that many distinct events):
//
//   - exporter: the whole path. Auditor calls from chEmitters goroutines,
//     an SDK LoggerProvider (default limits; key deduplication off, as
//     newPipeline sets it: the Auditor never emits a key twice) with the
//     stock BatchProcessor (batches of chBatchSize, a queue the
//     emitters never fill: see chMaxLag), this project's
//     clickhouselog.Exporter, rows in ClickHouse.
//   - export_only: the exporter alone. The same events, emitted through the
//     Auditor into memory one batch at a time (untimed), handed to Export in
//     batches of chBatchSize on one goroutine, as the BatchProcessor does;
//     only the Export calls are timed: the mapping, the columns and the
//     INSERTs, without the SDK's emit path.
//   - ceiling: clickhouse-client inserting the same rows, preformatted as
//     TabSeparated in a file (written before the clock starts), into the
//     same table: what the server and its own client do without us.
//
// Each run does its fixed amount of work once, whatever b.N.
func BenchmarkClickHouseInsert(b *testing.B) {
	p := newChPools()
	b.Run("exporter", func(b *testing.B) { benchExporterPath(b, p, chInsertEvents) })
	b.Run("export_only", func(b *testing.B) { benchExportOnly(b, p, chInsertEvents) })
	b.Run("ceiling", func(b *testing.B) { benchClientCeiling(b, p, chInsertEvents) })
}

// chTable migrates a fresh database and returns a connection to it.
func chTable(b *testing.B) (driver.Conn, chschema.Options, chschema.Layout) {
	b.Helper()
	conn, db := testenv.ClickHouse(b)
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(context.Background(), conn, opts)
	if err != nil {
		b.Fatal(err)
	}
	return conn, opts, layout
}

func benchExporterPath(b *testing.B, p *chPools, n int) {
	conn, opts, layout := chTable(b)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	if err != nil {
		b.Fatal(err)
	}
	pl := newPipeline(exp, chQueueSize, chBatchSize, chService)
	a, lp := pl.auditor, pl.provider
	workers := chEmitters
	ctx := context.Background()
	runtime.GC()

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var emitted atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if i%1024 < workers { // now and then: wait for the exporter
					for emitted.Load()-int64(exp.Stats().Written) > chMaxLag {
						time.Sleep(time.Millisecond)
					}
				}
				e := p.at(i)
				a.Record(ctx, e.event())
				emitted.Add(1)
			}
		})
	}
	wg.Wait()
	if err := lp.Shutdown(ctx); err != nil { // flushes the queue
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	if n := pl.rejected.Load(); n > 0 {
		b.Fatalf("the Auditor rejected %d events", n)
	}
	if st := exp.Stats(); st.Written != uint64(n) || st.Failed > 0 {
		b.Fatalf("exporter stats %+v, want %d written", st, n)
	}
	checkRows(b, conn, n)
	report(b, n, elapsed)
}

func benchExportOnly(b *testing.B, p *chPools, n int) {
	conn, opts, layout := chTable(b)
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout))
	if err != nil {
		b.Fatal(err)
	}
	capture := &captureExporter{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(capture)),
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, chService))))
	a := bridge.New(bridge.WithLoggerProvider(lp))
	ctx := context.Background()

	// Only the Export calls are timed; each batch is emitted into memory
	// just before, so that no more than one batch of records is alive.
	var elapsed time.Duration
	for start := 0; start < n; start += chBatchSize {
		for i := start; i < min(start+chBatchSize, n); i++ {
			e := p.at(i)
			a.Record(ctx, e.event())
		}
		records := capture.take()
		t0 := time.Now()
		if err := exp.Export(ctx, records); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(t0)
	}
	b.StopTimer()

	checkRows(b, conn, n)
	report(b, n, elapsed)
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
