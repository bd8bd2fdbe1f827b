package bench

import (
	"context"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
)

// discardProvider hands out loggers that are enabled for everything and
// discard every record on Emit: no SDK at all. Emitting into it measures
// what a scenario does on the caller's side before the SDK gets the record.
type discardProvider struct{ embedded.LoggerProvider }

var _ log.LoggerProvider = discardProvider{}

func (discardProvider) Logger(string, ...log.LoggerOption) log.Logger { return discardLogger{} }

type discardLogger struct{ embedded.Logger }

var _ log.Logger = discardLogger{}

func (discardLogger) Emit(context.Context, log.Record)                    {}
func (discardLogger) Enabled(context.Context, log.EnabledParameters) bool { return true }
