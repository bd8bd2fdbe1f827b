package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// benchEvents is how many events each scenario writes:
// OTELAUDIT_BENCH_EVENTS, default a million.
func benchEvents(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("OTELAUDIT_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(b, err, "OTELAUDIT_BENCH_EVENTS")
		n = v
	}
	return n
}

// benchBatch is the batch size on both paths.
const benchBatch = 10_000

// benchCtx bounds one scenario.
func benchCtx(b *testing.B) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	b.Cleanup(cancel)
	return ctx
}

// blockingBatcher is the processor of both paths: batches of benchBatch
// records, exported one at a time by a goroutine of its own while the
// next batch fills, and at most two batches waiting. Unlike the SDK's
// BatchProcessor it never drops a record: the emitting call waits.
type blockingBatcher struct {
	exp     sdklog.Exporter
	buf     []sdklog.Record
	batches chan []sdklog.Record
	done    chan struct{}
	errs    []error
}

func newBlockingBatcher(exp sdklog.Exporter) *blockingBatcher {
	p := &blockingBatcher{exp: exp, batches: make(chan []sdklog.Record, 2), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for batch := range p.batches {
			if err := exp.Export(context.Background(), batch); err != nil {
				p.errs = append(p.errs, err)
			}
		}
	}()
	return p
}

func (p *blockingBatcher) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.buf = append(p.buf, r.Clone())
	if len(p.buf) == benchBatch {
		p.batches <- p.buf
		p.buf = make([]sdklog.Record, 0, benchBatch)
	}
	return nil
}

func (p *blockingBatcher) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *blockingBatcher) ForceFlush(context.Context) error                       { return nil }

// Shutdown exports what is left, waits for the exports and returns their
// errors.
func (p *blockingBatcher) Shutdown(ctx context.Context) error {
	if len(p.buf) > 0 {
		p.batches <- p.buf
	}
	close(p.batches)
	<-p.done
	return errors.Join(append(p.errs, p.exp.Shutdown(ctx))...)
}

// emitBench records n audit events through a: the same events (ids,
// times, fields) for the same n.
func emitBench(ctx context.Context, a *bridge.Auditor, n int) {
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	ns := uuid.MustParse("5a1d6d3c-6b7e-4b47-9d4f-3f8f2b6d2f10")
	for i := range n {
		a.Record(ctx, otelaudit.Event{
			ID:       uuid.NewSHA1(ns, []byte(strconv.Itoa(i))),
			Time:     base.Add(time.Duration(i) * time.Microsecond),
			Action:   []otelaudit.Action{otelaudit.ActionLogin, otelaudit.ActionSettingsChanged, otelaudit.ActionDataExportRequested}[i%3],
			Actor:    otelaudit.Actor{UserID: "u_" + strconv.Itoa(i%5000), WorkspaceID: "ws_" + strconv.Itoa(i%50)},
			Client:   otelaudit.Client{IP: "203.0.113." + strconv.Itoa(i%250+1), UserAgent: "Mozilla/5.0 (bench)", SessionID: "s_" + strconv.Itoa(i%20000)},
			Resource: otelaudit.Resource{Type: "workspace", ID: "ws_" + strconv.Itoa(i%50)},
			Details:  attribute.MapValue(attribute.String("plan", "pro"), attribute.Int("seats", i%100), attribute.Bool("sso", i%2 == 0)),
		})
	}
}

// BenchmarkCollector writes a million audit events (fewer with
// OTELAUDIT_BENCH_EVENTS) over OTLP/HTTP into the distribution, running
// as a process of its own, into ClickHouse and into Postgres; and, in the
// same run, the same events through the in-process path (bridge ->
// BatchProcessor -> clickhouselog or postgreslog), the ceiling. Each
// scenario is timed from the first event to the last one counted in the
// database, and every event must be there. It prints
//
//	scenario=Collector/clickhouse events=N seconds=S events_per_s=R ratio_to_ceiling=Q peak_rss_mib=M
//	scenario=Collector/clickhouse_ceiling events=N seconds=S events_per_s=R ratio_to_ceiling=1.00
//
// and the same for postgres; peak_rss_mib is the collector's peak
// resident set (VmHWM). Run it with -benchtime 1x: each scenario runs
// once, whatever b.N.
func BenchmarkCollector(b *testing.B) {
	n := benchEvents(b)
	for _, store := range []string{"clickhouse", "postgres"} {
		b.Run(store, func(b *testing.B) {
			ceiling := benchInProcess(b, store, n)
			secs, rss := benchCollector(b, store, n)
			fmt.Printf("scenario=Collector/%s events=%d seconds=%.2f events_per_s=%.0f ratio_to_ceiling=%.2f peak_rss_mib=%d\n",
				store, n, secs, float64(n)/secs, ceiling/secs, rss>>20)
			fmt.Printf("scenario=Collector/%s_ceiling events=%d seconds=%.2f events_per_s=%.0f ratio_to_ceiling=1.00\n",
				store, n, ceiling, float64(n)/ceiling)
			b.ReportMetric(float64(n)/secs, "events/s")
			b.ReportMetric(ceiling/secs, "ratio_to_ceiling")
		})
	}
}

// benchInProcess writes n events through the library's own path into a
// fresh database of store and returns the seconds it took.
func benchInProcess(b *testing.B, store string, n int) float64 {
	ctx := benchCtx(b)
	var exp sdklog.Exporter
	var count func() int
	switch store {
	case "clickhouse":
		conn, db := testenv.ClickHouse(b)
		layout, err := chschema.Migrate(ctx, conn, chschema.Options{Database: db})
		require.NoError(b, err)
		e, err := clickhouselog.New(conn, clickhouselog.WithSchema(chschema.Options{Database: db}), clickhouselog.WithLayout(layout))
		require.NoError(b, err)
		exp = e
		count = func() int { n, _ := chCount(b, conn); return int(n) }
	default:
		pool := testenv.Postgres(b)
		_, err := pgschema.Migrate(ctx, pool, pgschema.Options{})
		require.NoError(b, err)
		e, err := postgreslog.New(pool)
		require.NoError(b, err)
		exp = e
		count = func() int { n, _ := pgCount(b, pool); return n }
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(newBlockingBatcher(exp)))
	start := time.Now()
	emitBench(ctx, bridge.New(bridge.WithLoggerProvider(lp)), n)
	require.NoError(b, lp.Shutdown(ctx))
	secs := time.Since(start).Seconds()
	require.Equal(b, n, count(), "every event stored (in-process)")
	return secs
}

// benchCollector writes n events over OTLP/HTTP into the distribution,
// writing into a fresh database of store, and returns the seconds until
// the database held them all, and the collector's peak RSS in bytes.
func benchCollector(b *testing.B, store string, n int) (secs float64, peakRSS int64) {
	ctx := benchCtx(b)
	c := newCollectorPorts(b)
	var pgDSN, chDSN string
	var count func() int
	switch store {
	case "clickhouse":
		chDSN, _ = testenv.ClickHouseDSN(b)
		conn := chConn(b, chDSN)
		count = func() int { n, _ := chCount(b, conn); return int(n) }
	default:
		pgDSN = testenv.PostgresDSN(b)
		pool := pgPool(b, pgDSN)
		count = func() int { n, _ := pgCount(b, pool); return n }
	}
	cfg := strings.Replace(c.configYAML(pgDSN, chDSN, "memory", "drop"), "    retry_on_failure:", `    sending_queue:
      sizer: items
      queue_size: 40000
      block_on_overflow: true
      num_consumers: 2
      batch:
        flush_timeout: 200ms
        min_size: 10000
        max_size: 20000
    retry_on_failure:`, 1)
	p := startProcess(b, c, writeConfig(b, cfg))

	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", c.http)), otlploghttp.WithInsecure())
	require.NoError(b, err)
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "bench"))),
		sdklog.WithProcessor(newBlockingBatcher(exp)))
	start := time.Now()
	emitBench(ctx, bridge.New(bridge.WithLoggerProvider(lp)), n)
	require.NoError(b, lp.Shutdown(ctx), "every batch acknowledged")
	for count() < n {
		require.NoError(b, ctx.Err(), "events stored before the deadline")
		time.Sleep(20 * time.Millisecond)
	}
	secs = time.Since(start).Seconds()
	peakRSS = p.peakRSS(b)
	p.stop(b)
	require.Equal(b, n, count(), "every event stored once (collector)")
	return secs, peakRSS
}
