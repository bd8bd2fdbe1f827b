package postgreslog

import (
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Defaults of the options.
const (
	// DefaultMaxCopyBytes bounds the encoded rows of one COPY statement, and
	// so the memory an Export holds. A larger batch is written in several
	// COPY statements, each its own transaction.
	DefaultMaxCopyBytes = 8 << 20
	// DefaultRetryInitialInterval, DefaultRetryMaxInterval and
	// DefaultRetryMaxElapsed bound the retries of transient errors; the
	// context given to Export bounds them too.
	DefaultRetryInitialInterval = retry.DefaultInitialInterval
	DefaultRetryMaxInterval     = retry.DefaultMaxInterval
	DefaultRetryMaxElapsed      = retry.DefaultMaxElapsed
)

// minCopyBytes is the smallest MaxCopyBytes accepted.
const minCopyBytes = 64 << 10

// Option configures an [Exporter] or a [TxWriter]. Each option says which
// it applies to; the others ignore it.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	table        pgschema.Options
	mapping      auditrow.Options
	onError      func(error)
	meters       metric.MeterProvider
	maxCopyBytes int
	retry        retry.Policy
	serviceName  string
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	if c.onError == nil {
		c.onError = otel.Handle
	}
	if c.meters == nil {
		c.meters = otel.GetMeterProvider()
	}
	if c.maxCopyBytes <= 0 {
		c.maxCopyBytes = DefaultMaxCopyBytes
	}
	c.maxCopyBytes = max(c.maxCopyBytes, minCopyBytes)
	return c
}

// WithTable sets the schema and table written to; they must be those given
// to pgschema.Migrate. Default: public.audit_logs. Empty strings mean the
// defaults. Names are validated by [New] and [NewTxWriter].
func WithTable(schema, table string) Option {
	return optionFunc(func(c config) config {
		c.table.Schema, c.table.Table = schema, table
		return c
	})
}

// WithMapping sets the options of the record-to-row mapping: limits, and
// whether records that are not audit records are stored
// (IncludeNonAudit) instead of refused. Default: the zero
// auditrow.Options (auditrow's default limits, non-audit records refused).
// A [TxWriter] maps with the same options; give both the same, and the
// same event makes the same row through either.
func WithMapping(o auditrow.Options) Option {
	return optionFunc(func(c config) config { c.mapping = o; return c })
}

// WithErrorHandler sets the function that receives each rejected record as
// a [*RejectError] (records that are not audit records excepted: those are
// only counted). It is called while Export runs, possibly on another
// goroutine (the one sending the COPY data), and concurrently when several
// Exports run at once; it must be fast and must not block. A panic in it
// is recovered. Default: otel.Handle. A nil handler means the default.
// The reject hook of an Export's context (auditrow.ContextWithRejectHook)
// gets the same errors, non-audit records included, for that Export only.
// Exporter only: a [TxWriter] returns its refusals to the caller.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c config) config { c.onError = f; return c })
}

// WithMeterProvider sets the MeterProvider of the Exporter's metrics (see
// the package documentation). Default: otel.GetMeterProvider() at the
// time of [New]. A nil provider means the default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config { c.meters = mp; return c })
}

// WithMaxCopyBytes bounds the encoded size of the rows sent in one COPY
// statement. Default: [DefaultMaxCopyBytes]; values below 64 KiB are
// raised to 64 KiB. Exporter only.
func WithMaxCopyBytes(n int) Option {
	return optionFunc(func(c config) config { c.maxCopyBytes = n; return c })
}

// WithRetry bounds the retries of transient errors: the first wait, the
// longest wait, and the total time after which Export gives up. Zero values
// mean the defaults. The context given to Export bounds them as well. A
// [TxWriter] retries only the creation of partitions, which runs outside
// the caller's transaction; never the insert, which runs inside it.
func WithRetry(initialInterval, maxInterval, maxElapsed time.Duration) Option {
	return optionFunc(func(c config) config {
		c.retry = retry.Policy{InitialInterval: initialInterval, MaxInterval: maxInterval, MaxElapsed: maxElapsed}
		return c
	})
}

// WithServiceName sets the service_name of the rows a [TxWriter] writes.
// The Exporter ignores it: it takes service.name from each record's
// resource. Default: the service.name of the OpenTelemetry SDK's default
// resource (resource.Default: OTEL_SERVICE_NAME, else
// OTEL_RESOURCE_ATTRIBUTES, else "unknown_service:" and the executable's
// name), which is what a LoggerProvider built without WithResource puts
// on its records. An empty name means the default.
func WithServiceName(name string) Option {
	return optionFunc(func(c config) config { c.serviceName = name; return c })
}
