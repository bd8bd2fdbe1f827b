package auditrow_test

import (
	"testing"

	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/internal/corpus"
)

// emit runs f with an Auditor over a real SDK provider (corpus.Capture,
// service.name corpus.ServiceName) and returns the records it emitted.
// Rejections are logged to tb unless opts set another error handler.
func emit(tb testing.TB, f func(a *bridge.Auditor), opts ...bridge.Option) []sdklog.Record {
	tb.Helper()
	return corpus.Capture(func(lp log.LoggerProvider) {
		opts = append([]bridge.Option{
			bridge.WithLoggerProvider(lp),
			bridge.WithErrorHandler(func(err error) { tb.Logf("rejected: %v", err) }),
		}, opts...)
		f(bridge.New(opts...))
	})
}
