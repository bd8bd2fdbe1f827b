package testenv

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Capture runs emit with a real SDK LoggerProvider (resource
// service.name=service, default limits) and returns clones of the records
// it emitted, in order: how tests get SDK records from the bridge to hand
// to an exporter.
func Capture(service string, emit func(lp log.LoggerProvider)) []sdklog.Record {
	p := &capture{}
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(p),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	)
	defer func() { _ = lp.Shutdown(context.Background()) }()
	emit(lp)
	return p.records
}

type capture struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (p *capture) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.records = append(p.records, r.Clone())
	return nil
}

func (p *capture) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (p *capture) Shutdown(context.Context) error                         { return nil }
func (p *capture) ForceFlush(context.Context) error                       { return nil }
