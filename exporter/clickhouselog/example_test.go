package clickhouselog_test

import (
	"context"
	"log"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// The whole path: migrate, then audit calls through an SDK LoggerProvider
// whose BatchProcessor exports large batches to ClickHouse. (Not run: it
// needs a server.)
func Example() {
	ctx := context.Background()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:9000"}})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close() // the exporter never closes it

	schema := chschema.Options{Database: "audit", TTLDays: 400}
	layout, err := chschema.Migrate(ctx, conn, schema)
	if err != nil {
		log.Fatal(err)
	}
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(schema), clickhouselog.WithLayout(layout))
	if err != nil {
		log.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp,
		sdklog.WithExportMaxBatchSize(10_000),
		sdklog.WithMaxQueueSize(100_000),
		sdklog.WithExportInterval(time.Second),
	)))
	defer lp.Shutdown(ctx)

	audit := bridge.New(bridge.WithLoggerProvider(lp))
	audit.Login(ctx, otelaudit.Actor{UserID: "u1", WorkspaceID: "ws1"})

	_ = lp.ForceFlush(ctx)
	log.Printf("written %d", exp.Stats().Written)
}

// Open makes a connection of its own, to the DSN's database, and closes it
// at Shutdown. With retries off, a failed batch is left to the caller: here
// the journal, which retries it. (Not run: it needs a server.)
func ExampleOpen() {
	ctx := context.Background()
	exp, err := clickhouselog.Open(ctx, "clickhouse://billing@analytics:9000/audit",
		clickhouselog.WithRetry(clickhouselog.RetryConfig{}))
	if err != nil {
		log.Fatal(err)
	}
	defer exp.Shutdown(ctx)
}
