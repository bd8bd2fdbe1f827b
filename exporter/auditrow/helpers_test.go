package auditrow_test

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit/bridge"
)

// captureProcessor keeps a clone of every emitted record.
type captureProcessor struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (p *captureProcessor) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, r.Clone())
	return nil
}

func (p *captureProcessor) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *captureProcessor) Shutdown(context.Context) error                         { return nil }
func (p *captureProcessor) ForceFlush(context.Context) error                       { return nil }

func (p *captureProcessor) take() []sdklog.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.records
	p.records = nil
	return out
}

// newAuditor returns an Auditor over a real SDK provider whose records the
// returned processor captures, and which reports rejections to t.
func newAuditor(tb testing.TB, opts ...bridge.Option) (*bridge.Auditor, *captureProcessor) {
	tb.Helper()
	p := &captureProcessor{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(p),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "billing"))),
	)
	tb.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	opts = append([]bridge.Option{bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(err error) { tb.Logf("rejected: %v", err) })}, opts...)
	return bridge.New(opts...), p
}
