import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';

/** service.name when OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) sets none. */
export const DEFAULT_SERVICE_NAME = 'node-service';

/**
 * The SDK's BatchLogRecordProcessor drops new records when its queue is
 * full, so the queue is sized for the bursts of the workload mode.
 */
const MAX_QUEUE = 1 << 16;

/**
 * newLoggerProvider returns a LoggerProvider that sends OTLP/HTTP (the OTLP
 * JSON encoding) through @opentelemetry/exporter-logs-otlp-http, configured
 * by the standard environment variables (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS...), with the
 * resource from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. Shutting it
 * down sends what it still holds.
 */
export function newLoggerProvider(): LoggerProvider {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': DEFAULT_SERVICE_NAME }))
    .merge(detectResources({ detectors: [envDetector] }));
  return new LoggerProvider({
    resource,
    processors: [
      new BatchLogRecordProcessor({
        exporter: new OTLPLogExporter(),
        maxQueueSize: MAX_QUEUE,
      }),
    ],
  });
}
