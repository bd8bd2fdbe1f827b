package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/internal/testenv"
)

// sendOverHTTP records the workload (rounds of five events) through
// OTLP/HTTP into c and returns how many events it sent; every one was
// acknowledged by the collector when it returns.
func sendOverHTTP(t *testing.T, c collector, rounds int, tag string) int {
	t.Helper()
	ctx := ctxT(t)
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(fmt.Sprintf("127.0.0.1:%d", c.http)), otlploghttp.WithInsecure())
	require.NoError(t, err)
	var failed []error
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "crash-test"))),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(errorsOf{exp, &failed}, sdklog.WithExportMaxBatchSize(500))))
	n := emitWorkload(ctx, bridge.New(bridge.WithLoggerProvider(lp)), rounds, tag)
	require.NoError(t, lp.Shutdown(ctx))
	require.Empty(t, failed, "every batch acknowledged")
	return n
}

// errorsOf keeps the errors of its exporter's Exports.
type errorsOf struct {
	sdklog.Exporter
	errs *[]error
}

func (e errorsOf) Export(ctx context.Context, recs []sdklog.Record) error {
	err := e.Exporter.Export(ctx, recs)
	if err != nil {
		*e.errs = append(*e.errs, err)
	}
	return err
}

// TestCrashWithQueuedRecordsLosesNothing: the databases are down when the
// collector starts; it acknowledges events into its sending queue on disk
// (file_storage); it is killed with SIGKILL while they wait there,
// restarted, and only then do the databases come back. Every event must
// then be stored exactly once in both, counting the stored copies
// (no DISTINCT, no FINAL).
func TestCrashWithQueuedRecordsLosesNothing(t *testing.T) {
	pg := testenv.StartPostgres(t)
	ch := testenv.StartClickHouse(t)
	pg.Stop(t)
	ch.Stop(t)

	c := newCollectorPorts(t)
	c.queueDir = t.TempDir()
	cfg := writeConfig(t, c.configYAML(pg.DSN(), ch.DSN(), "disk", "drop"))
	p := startProcess(t, c, cfg)
	total := sendOverHTTP(t, c, 200, "before")
	time.Sleep(time.Second) // let the exporter try, fail and wait to retry
	p.kill(t)

	p = startProcess(t, c, cfg)
	total += sendOverHTTP(t, c, 20, "after")
	pg.Start(t)
	ch.Start(t)

	pool := pgPool(t, pg.DSN())
	conn := chConn(t, ch.DSN())
	ctx := ctxT(t)
	require.Eventually(t, func() bool {
		var pgN int
		var chN uint64
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM audit_logs`).Scan(&pgN)
		_ = conn.QueryRow(ctx, `SELECT count() FROM audit_logs`).Scan(&chN)
		return pgN >= total && chN >= uint64(total)
	}, 3*time.Minute, 200*time.Millisecond, "every event stored")
	p.stop(t) // a graceful stop: nothing left in flight

	rows, dups := pgCount(t, pool)
	assert.Equal(t, total, rows, "postgres: every event, once")
	assert.Zero(t, dups)
	chN, chDups := chCount(t, conn)
	assert.Equal(t, uint64(total), chN, "clickhouse: every event, once (copies counted)")
	assert.Zero(t, chDups)
}
