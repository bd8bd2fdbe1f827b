package autoexport

import (
	"context"
	"errors"
	"sync"

	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// fanOut is an exporter that gives each batch to every one of its
// exporters, at once, and returns their errors joined. The exporters only
// read the records, so they share the batch.
type fanOut []sdklog.Exporter

var _ sdklog.Exporter = fanOut{}

// Export calls every exporter's Export on a goroutine of its own and waits
// for all of them.
func (f fanOut) Export(ctx context.Context, records []sdklog.Record) error {
	return f.each(func(e sdklog.Exporter) error { return e.Export(ctx, records) })
}

// Shutdown shuts every exporter down.
func (f fanOut) Shutdown(ctx context.Context) error {
	return f.each(func(e sdklog.Exporter) error { return e.Shutdown(ctx) })
}

// ForceFlush flushes every exporter.
func (f fanOut) ForceFlush(ctx context.Context) error {
	return f.each(func(e sdklog.Exporter) error { return e.ForceFlush(ctx) })
}

func (f fanOut) each(call func(sdklog.Exporter) error) error {
	errs := make([]error, len(f))
	var wg sync.WaitGroup
	for i, e := range f {
		wg.Go(func() { errs[i] = call(e) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
