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
	return newPipelineWith(bp, service)
}

// newPipelineWith returns the pipeline in front of proc (a BatchProcessor,
// a journal), on a provider with the audit settings of newAuditProvider.
func newPipelineWith(proc sdklog.Processor, service string) pipeline {
	lp := newAuditProvider(proc, service)
	rejected := &atomic.Int64{}
	a := bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(error) { rejected.Add(1) }))
	return pipeline{provider: lp, auditor: a, rejected: rejected}
}

// newAuditProvider returns a LoggerProvider configured as the bridge and
// journal documentation recommend for audit records: proc as its only
// processor, the SDK's per-record key deduplication off (the Auditor never
// emits a key twice; see the bridge documentation) and a resource naming
// the service.
func newAuditProvider(proc sdklog.Processor, service string) *sdklog.LoggerProvider {
	return sdklog.NewLoggerProvider(sdklog.WithProcessor(proc),
		sdklog.WithAllowKeyDuplication(),
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, service))))
}
