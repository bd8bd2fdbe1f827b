package bridge

import (
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/log"
)

// ScopeName is the instrumentation scope name of the Auditor's logger.
const ScopeName = "github.com/otelaudit/otelaudit/bridge"

// Option configures an [Auditor].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	provider log.LoggerProvider
	onError  func(error)
	now      func() time.Time
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	if c.provider == nil {
		c.provider = otel.GetLoggerProvider()
	}
	if c.onError == nil {
		c.onError = otel.Handle
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// WithLoggerProvider sets the LoggerProvider the Auditor emits through.
// Default: the global provider, [otel.GetLoggerProvider], looked up once by
// [New] (the global provider delegates to one set later). A nil provider
// means the default.
func WithLoggerProvider(p log.LoggerProvider) Option {
	return optionFunc(func(c config) config { c.provider = p; return c })
}

// WithErrorHandler sets the function that receives what the Auditor
// refuses: every event it rejects (a [*RejectError], with the reason), every
// extra attribute it leaves out ([ErrAttributeDropped]) and, from a
// [SlogHandler] on it, every slog attribute that could not fill its field
// ([ErrSlogAttribute]). It is called synchronously on the caller's
// goroutine, so it must be fast and must not block. Default: [otel.Handle].
// A nil handler means the default.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c config) config { c.onError = f; return c })
}

// WithClock sets the clock used for events without a time. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c config) config { c.now = now; return c })
}
