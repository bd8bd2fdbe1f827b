package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// insertChild runs cfg (one of the insert scenarios) in a child process
// and returns its result and peak RSS in MiB; the child gives up after
// insertChildTimeout. The caller counts the rows.
func insertChild(tb testing.TB, cfg childConfig) (childResult, float64) {
	tb.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = insertChildTimeout
	}
	if b, ok := tb.(*testing.B); ok {
		b.ReportAllocs()
		b.ResetTimer()
		defer b.StopTimer()
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout+time.Minute)
	defer cancel()
	res, rss, err := runChild(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if res.Emitted != cfg.Events {
		tb.Fatalf("child %s handled %d events of %d", cfg.Scenario, res.Emitted, cfg.Events)
	}
	return res, rss
}

// reportChild reports a child's memory: its peak RSS (VmHWM) and the
// largest live heap a garbage collection left.
func reportChild(b *testing.B, res childResult, rssMiB float64) {
	b.ReportMetric(rssMiB, "peak_rss_MiB")
	b.ReportMetric(res.PeakLiveHeapMiB, "peak_live_heap_MiB")
}

// seconds converts a child's seconds to a Duration.
func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

// childContext returns the context of a child's run, ending after
// cfg.Timeout, and checks cfg.
func childContext(cfg childConfig) (context.Context, context.CancelFunc, error) {
	if cfg.Timeout <= 0 || cfg.Events <= 0 || cfg.DSN == "" {
		return nil, nil, fmt.Errorf("invalid configuration %+v", cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	return ctx, cancel, nil
}

// openChildClickHouse opens a connection to the server of cfg.DSN and
// returns it with the schema options and the layout of cfg.Database's
// audit table.
func openChildClickHouse(ctx context.Context, cfg childConfig) (driver.Conn, chschema.Options, chschema.Layout, error) {
	opt, err := testenv.ClickHouseOptions(cfg.DSN)
	if err != nil {
		return nil, chschema.Options{}, 0, err
	}
	conn, err := clickhouse.Open(opt)
	if err != nil {
		return nil, chschema.Options{}, 0, fmt.Errorf("open ClickHouse: %w", err)
	}
	opts := chschema.Options{Database: cfg.Database}
	layout, err := chschema.TableLayout(ctx, conn, opts)
	if err != nil {
		return nil, chschema.Options{}, 0, errors.Join(err, conn.Close())
	}
	return conn, opts, layout, nil
}

// wholePath records cfg.Events events (event(i)) through an Auditor over
// the stock BatchProcessor (export batches of batchSize, a queue holding
// the whole run) in front of exp, from one goroutine at full speed, then
// shuts the provider down (delivering the rest). It checks that nothing
// was rejected or dropped: exp must have written every event.
func wholePath(ctx context.Context, cfg childConfig, exp sdklog.Exporter, written func() uint64, batchSize int, service string, event func(int) otelaudit.Event) (childResult, error) {
	var res childResult
	p := newPipeline(exp, max(cfg.Events, batchSize), batchSize, service)
	runtime.GC()
	start := time.Now()
	for i := range cfg.Events {
		if i%1024 == 0 && ctx.Err() != nil {
			break
		}
		p.auditor.Record(ctx, event(i))
		res.Emitted++
	}
	res.EmitSeconds = time.Since(start).Seconds()
	err := p.provider.Shutdown(ctx) // flushes the queue, then shuts exp down
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return res, fmt.Errorf("shutdown: %w", err)
	}
	if n := p.rejected.Load(); n > 0 {
		return res, fmt.Errorf("the Auditor rejected %d events", n)
	}
	if w := written(); w != uint64(cfg.Events) {
		return res, fmt.Errorf("the exporter wrote %d events of %d", w, cfg.Events)
	}
	return res, nil
}

// postgresExporterChild is PostgresInsert/exporter's whole path into the
// table at cfg.DSN.
func postgresExporterChild(cfg childConfig) (childResult, error) {
	ctx, cancel, err := childContext(cfg)
	if err != nil {
		return childResult{}, err
	}
	defer cancel()
	pool, err := pgxpool.New(ctx, cfg.DSN)
	if err != nil {
		return childResult{}, fmt.Errorf("open Postgres pool: %w", err)
	}
	defer pool.Close()
	errs := &errorLog{}
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(errs.handle))
	if err != nil {
		return childResult{}, err
	}
	written := func() uint64 { return exp.Stats().Written }
	res, err := wholePath(ctx, cfg, exp, written, pgBatchSize, pgService, pgEvent)
	return res, errors.Join(err, errs.err())
}

// clickHouseExporterChild is ClickHouseInsert/exporter's whole path into
// cfg.Database's table.
func clickHouseExporterChild(cfg childConfig) (childResult, error) {
	ctx, cancel, err := childContext(cfg)
	if err != nil {
		return childResult{}, err
	}
	defer cancel()
	conn, opts, layout, err := openChildClickHouse(ctx, cfg)
	if err != nil {
		return childResult{}, err
	}
	defer conn.Close()
	errs := &errorLog{}
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout),
		clickhouselog.WithErrorHandler(errs.handle))
	if err != nil {
		return childResult{}, err
	}
	p := newChPools()
	event := func(i int) otelaudit.Event {
		e := p.at(i)
		return e.event()
	}
	written := func() uint64 { return exp.Stats().Written }
	res, err := wholePath(ctx, cfg, exp, written, chBatchSize, chService, event)
	return res, errors.Join(err, errs.err())
}

// postgresExportOnlyChild is PostgresInsert/export_only.
func postgresExportOnlyChild(cfg childConfig) (childResult, error) {
	ctx, cancel, err := childContext(cfg)
	if err != nil {
		return childResult{}, err
	}
	defer cancel()
	pool, err := pgxpool.New(ctx, cfg.DSN)
	if err != nil {
		return childResult{}, fmt.Errorf("open Postgres pool: %w", err)
	}
	defer pool.Close()
	errs := &errorLog{}
	exp, err := postgreslog.New(pool, postgreslog.WithErrorHandler(errs.handle))
	if err != nil {
		return childResult{}, err
	}
	template, err := auditRecords(pgEvent, min(pgBatchSize, cfg.Events), pgService)
	if err != nil {
		return childResult{}, err
	}
	res, err := exportBatches(ctx, exp, template, cfg.Events)
	if err == nil {
		if st := exp.Stats(); st.Written != uint64(cfg.Events) || st.Failed > 0 {
			err = fmt.Errorf("exporter stats %+v, want %d written", st, cfg.Events)
		}
	}
	return res, errors.Join(err, exp.Shutdown(ctx), errs.err())
}

// clickHouseExportOnlyChild is ClickHouseInsert/export_only.
func clickHouseExportOnlyChild(cfg childConfig) (childResult, error) {
	return clickHouseExportChild(cfg, exportBatches)
}

// clickHouseExportPrebuiltChild is ClickHouseInsert/export_prebuilt.
func clickHouseExportPrebuiltChild(cfg childConfig) (childResult, error) {
	return clickHouseExportChild(cfg, exportPrebuilt)
}

// clickHouseExportChild hands cfg.Events records to a ClickHouse exporter
// with run.
func clickHouseExportChild(cfg childConfig, run func(context.Context, sdklog.Exporter, []sdklog.Record, int) (childResult, error)) (childResult, error) {
	ctx, cancel, err := childContext(cfg)
	if err != nil {
		return childResult{}, err
	}
	defer cancel()
	conn, opts, layout, err := openChildClickHouse(ctx, cfg)
	if err != nil {
		return childResult{}, err
	}
	defer conn.Close()
	errs := &errorLog{}
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(opts), clickhouselog.WithLayout(layout),
		clickhouselog.WithErrorHandler(errs.handle))
	if err != nil {
		return childResult{}, err
	}
	p := newChPools()
	event := func(i int) otelaudit.Event {
		e := p.at(i)
		return e.event()
	}
	template, err := auditRecords(event, min(chBatchSize, cfg.Events), chService)
	if err != nil {
		return childResult{}, err
	}
	res, err := run(ctx, exp, template, cfg.Events)
	if err == nil {
		if st := exp.Stats(); st.Written != uint64(cfg.Events) || st.Failed > 0 {
			err = fmt.Errorf("exporter stats %+v, want %d written", st, cfg.Events)
		}
	}
	return res, errors.Join(err, exp.Shutdown(ctx), errs.err())
}

// exportBatches hands n records to exp in batches of len(template), one
// Export after another on the calling goroutine, as the BatchProcessor's
// export goroutine does. A second goroutine prepares each batch while the
// previous one is exported: copies of the template's records with a fresh
// event id (a UUIDv7) and the current time, so that every exported record
// is a new event. Seconds is the wall-clock time from the first Export to
// the last one's return; WaitSeconds the part of it the exporting
// goroutine spent waiting for a batch.
func exportBatches(ctx context.Context, exp sdklog.Exporter, template []sdklog.Record, n int) (childResult, error) {
	var res childResult
	size := len(template)
	if size == 0 {
		return res, errors.New("no template records")
	}
	// Two buffers: one being exported, one being filled.
	free := make(chan []sdklog.Record, 2)
	free <- make([]sdklog.Record, size)
	free <- make([]sdklog.Record, size)
	ready := make(chan []sdklog.Record)
	prepCtx, stopPrep := context.WithCancel(ctx)
	defer stopPrep()
	go func() {
		defer close(ready)
		var kvs []attribute.KeyValue
		for done := 0; done < n; done += size {
			var buf []sdklog.Record
			select {
			case buf = <-free:
			case <-prepCtx.Done():
				return
			}
			buf = buf[:min(size, n-done)]
			kvs = freshRecords(buf, template, kvs)
			select {
			case ready <- buf:
			case <-prepCtx.Done():
				return
			}
		}
	}()

	batch, ok := <-ready
	runtime.GC()
	var wait time.Duration
	start := time.Now()
	for ok {
		if err := exp.Export(ctx, batch); err != nil {
			return res, fmt.Errorf("export of %d records after %d: %w", len(batch), res.Emitted, err)
		}
		res.Emitted += len(batch)
		free <- batch[:cap(batch)]
		t := time.Now()
		batch, ok = <-ready
		wait += time.Since(t)
	}
	res.Seconds = time.Since(start).Seconds()
	res.WaitSeconds = wait.Seconds()
	if res.Emitted != n {
		return res, fmt.Errorf("exported %d records of %d: %w", res.Emitted, n, ctx.Err())
	}
	return res, nil
}

// freshRecords fills buf with copies of the first len(buf) records of
// template, each with a fresh event id (a UUIDv7) and the current time. kvs
// is scratch space, returned for the next call.
func freshRecords(buf, template []sdklog.Record, kvs []attribute.KeyValue) []attribute.KeyValue {
	now := time.Now()
	for i := range buf {
		buf[i] = template[i].Clone()
		kvs = kvs[:0]
		buf[i].WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key == otelaudit.KeyEventID {
				kv.Value = attribute.StringValue(uuid.Must(uuid.NewV7()).String())
			}
			kvs = append(kvs, kv)
			return true
		})
		buf[i].SetAttributes(kvs...)
		buf[i].SetTimestamp(now)
	}
	return kvs
}

// exportPrebuilt hands n records to exp as exportBatches does, but builds
// every batch before the clock starts, as the ceilings' rows are: the
// exporter then shares the machine with the server only. Each batch is
// dropped once exported. Seconds is the wall-clock time from the first
// Export to the last one's return.
func exportPrebuilt(ctx context.Context, exp sdklog.Exporter, template []sdklog.Record, n int) (childResult, error) {
	var res childResult
	size := len(template)
	if size == 0 {
		return res, errors.New("no template records")
	}
	batches := make([][]sdklog.Record, 0, (n+size-1)/size)
	var kvs []attribute.KeyValue
	for done := 0; done < n; done += size {
		buf := make([]sdklog.Record, min(size, n-done))
		kvs = freshRecords(buf, template, kvs)
		batches = append(batches, buf)
	}
	runtime.GC()
	start := time.Now()
	for i, batch := range batches {
		if err := exp.Export(ctx, batch); err != nil {
			return res, fmt.Errorf("export of %d records after %d: %w", len(batch), res.Emitted, err)
		}
		res.Emitted += len(batch)
		batches[i] = nil
	}
	res.Seconds = time.Since(start).Seconds()
	if res.Emitted != n {
		return res, fmt.Errorf("exported %d records of %d", res.Emitted, n)
	}
	return res, nil
}

// TestInsertChildren runs each insert scenario's child process on a few
// thousand events and checks what it reports and what the table holds:
// every event, once.
func TestInsertChildren(t *testing.T) {
	const events = 3000
	check := func(t *testing.T, res childResult, rss float64) {
		t.Helper()
		t.Logf("%+v, peak RSS %.1f MiB", res, rss)
		if res.Seconds <= 0 || res.EmitSeconds > res.Seconds || res.WaitSeconds > res.Seconds {
			t.Errorf("seconds %v, emit_seconds %v, wait_seconds %v", res.Seconds, res.EmitSeconds, res.WaitSeconds)
		}
		if rss < 5 || rss > 4096 {
			t.Errorf("peak RSS %.1f MiB", rss)
		}
		if res.PeakLiveHeapMiB <= 0 || res.PeakLiveHeapMiB > rss {
			t.Errorf("peak live heap %.2f MiB, peak RSS %.1f MiB", res.PeakLiveHeapMiB, rss)
		}
	}
	for _, scenario := range []string{childPostgresExporter, childPostgresExportOnly} {
		t.Run(scenario, func(t *testing.T) {
			pool, dsn := pgTableDSN(t)
			res, rss := insertChild(t, childConfig{Scenario: scenario, DSN: dsn, Events: events, Timeout: 2 * time.Minute})
			check(t, res, rss)
			rows, distinct, err := countEvents(context.Background(), pool)
			if err != nil {
				t.Fatal(err)
			}
			if rows != events || distinct != events {
				t.Errorf("the table holds %d rows, %d distinct events; want %d", rows, distinct, events)
			}
		})
	}
	for _, scenario := range []string{childClickHouseExporter, childClickHouseExportOnly, childClickHouseExportPre} {
		t.Run(scenario, func(t *testing.T) {
			conn, opts, _, dsn := chTableDSN(t)
			res, rss := insertChild(t, childConfig{Scenario: scenario, DSN: dsn, Database: opts.Database, Events: events, Timeout: 2 * time.Minute})
			check(t, res, rss)
			var rows, distinct uint64
			if err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM audit_logs").Scan(&rows, &distinct); err != nil {
				t.Fatal(err)
			}
			if rows != events || distinct != events {
				t.Errorf("the table holds %d rows, %d distinct events; want %d", rows, distinct, events)
			}
		})
	}
}

// TestExportBatchesFreshEvents checks that exportBatches and
// exportPrebuilt hand the exporter n records, in batches of the
// template's size, each with an event id of its own.
func TestExportBatchesFreshEvents(t *testing.T) {
	template, err := auditRecords(pgEvent, 7, pgService)
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(context.Context, sdklog.Exporter, []sdklog.Record, int) (childResult, error){
		"exportBatches": exportBatches, "exportPrebuilt": exportPrebuilt,
	} {
		t.Run(name, func(t *testing.T) { checkFreshEvents(t, run, template) })
	}
}

func checkFreshEvents(t *testing.T, run func(context.Context, sdklog.Exporter, []sdklog.Record, int) (childResult, error), template []sdklog.Record) {
	exp := &captureExporter{}
	res, err := run(context.Background(), exp, template, 30)
	if err != nil {
		t.Fatal(err)
	}
	recs := exp.take()
	if res.Emitted != 30 || len(recs) != 30 {
		t.Fatalf("reported %d records, exported %d; want 30", res.Emitted, len(recs))
	}
	ids := make(map[string]bool)
	for i := range recs {
		var id string
		recs[i].WalkAttributes(func(kv attribute.KeyValue) bool {
			if kv.Key == otelaudit.KeyEventID {
				id = kv.Value.AsString()
			}
			return true
		})
		if id == "" || ids[id] {
			t.Fatalf("record %d: event id %q missing or repeated", i, id)
		}
		ids[id] = true
		if got, want := recs[i].EventName(), template[i%7].EventName(); got != want {
			t.Errorf("record %d: event %q, want the template's %q", i, got, want)
		}
	}
}
