package bench

import (
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
)

// pipeline is the whole emitting path of the insert benchmarks: an Auditor
// over an SDK LoggerProvider (resource service.name) with the stock
// BatchProcessor in front of an exporter.
type pipeline struct {
	provider *sdklog.LoggerProvider
	auditor  *bridge.Auditor
	// rejected counts the events the Auditor refused.
	rejected *atomic.Int64
}

// newPipeline returns the pipeline in front of exp. The BatchProcessor
// exports batches of batchSize and holds at most queueSize records: a
// benchmark sizes it so that nothing is dropped, and checks by counting.
func newPipeline(exp sdklog.Exporter, queueSize, batchSize int, service string) pipeline {
	bp := sdklog.NewBatchProcessor(exp,
		sdklog.WithMaxQueueSize(queueSize),
		sdklog.WithExportMaxBatchSize(batchSize),
		sdklog.WithExportInterval(time.Second),
		sdklog.WithExportTimeout(5*time.Minute),
	)
	// The Auditor never emits a key twice, so an audit provider can skip the
	// SDK's per-record key deduplication (see the bridge documentation).
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(bp),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, service))))
	rejected := &atomic.Int64{}
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(error) { rejected.Add(1) }))
	return pipeline{provider: lp, auditor: a, rejected: rejected}
}
