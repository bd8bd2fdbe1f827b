package main

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// defaultServiceName is service.name when OTEL_SERVICE_NAME (or
// OTEL_RESOURCE_ATTRIBUTES) does not set one.
const defaultServiceName = "webportal"

// maxQueue is the BatchProcessor's queue. The stock BatchProcessor drops
// the oldest records when its queue is full, so it is sized for the bursts
// of the workload mode, which sends requests as fast as the portal answers.
const maxQueue = 1 << 16

// newLoggerProvider returns a LoggerProvider that sends OTLP/HTTP through
// the SDK's otlploghttp exporter, configured by the standard environment
// variables (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_COMPRESSION...), with the
// resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. Shutting it
// down sends what it still holds.
func newLoggerProvider(ctx context.Context) (*sdklog.LoggerProvider, error) {
	exp, err := otlploghttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("webportal: OTLP log exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", defaultServiceName)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil {
		// A partial resource is still usable; say what was missing.
		fmt.Fprintf(os.Stderr, "webportal: resource: %v\n", err)
	}
	return sdklog.NewLoggerProvider(
		sdklog.WithResource(res),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithMaxQueueSize(maxQueue))),
	), nil
}
