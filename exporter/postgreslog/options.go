package postgreslog

import (
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Defaults of the options.
const (
	// DefaultMaxCopyBytes bounds the encoded rows of one COPY statement, and
	// so the memory an Export holds. A larger batch is written in several
	// COPY statements, each its own transaction.
	DefaultMaxCopyBytes = 8 << 20
	// DefaultWriters is how many connections one Export writes on at
	// once (see [WithWriters]).
	DefaultWriters = 2
	// DefaultRetryInitialInterval, DefaultRetryMaxInterval and
	// DefaultRetryMaxElapsedTime bound the retries of transient errors
	// (see [RetryConfig]); the context given to Export bounds them too.
	DefaultRetryInitialInterval = retry.DefaultInitialInterval
	DefaultRetryMaxInterval     = retry.DefaultMaxInterval
	DefaultRetryMaxElapsedTime  = retry.DefaultMaxElapsedTime
)

// minCopyBytes is the smallest MaxCopyBytes accepted.
const minCopyBytes = 64 << 10

// minShareRecords is the fewest records a writer gets when an Export is
// split over several writers: a smaller batch is written on fewer
// connections, down to one. Each share costs a COPY and a commit of its
// own, worth paying only for enough rows.
const minShareRecords = 512

// Option configures an [Exporter] or a [TxWriter]. Each option says which
// it applies to; the others ignore it.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	schema       pgschema.Options
	mapping      auditrow.Options
	onError      func(error)
	meters       metric.MeterProvider
	maxCopyBytes int
	writers      int
	retry        retry.Config
	serviceName  string
}

// newConfig returns the defaults, overridden by the environment (see
// env.go), overridden by opts.
func newConfig(opts []Option) (config, error) {
	c := config{retry: retry.DefaultConfig()}
	var env envconfig.Reader
	c = c.fromEnv(&env)
	if err := env.Err(); err != nil {
		return c, err
	}
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
	if c.writers <= 0 {
		c.writers = DefaultWriters
	}
	return c, nil
}

// WithSchema names the table written to: the schema and table of o,
// which must be those given to pgschema.Migrate (the other fields are
// ignored, so the Options given to Migrate can be passed as they are).
// Default: public.audit_logs, or OTELAUDIT_POSTGRES_SCHEMA and
// OTELAUDIT_POSTGRES_TABLE. Names are validated by [New] and
// [NewTxWriter].
func WithSchema(o pgschema.Options) Option {
	return optionFunc(func(c config) config {
		c.schema.Schema, c.schema.Table = o.Schema, o.Table
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
// statement. Default: [DefaultMaxCopyBytes], or
// OTELAUDIT_POSTGRES_MAX_COPY_BYTES; values below 64 KiB are raised to
// 64 KiB. Exporter only.
func WithMaxCopyBytes(n int) Option {
	return optionFunc(func(c config) config { c.maxCopyBytes = n; return c })
}

// WithWriters sets how many connections of the pool one Export writes on
// at once. The records of a batch are split into that many consecutive
// shares of about equal size (each at least 512 records: a smaller batch
// gets fewer writers, down to one), and each share is mapped, encoded and
// sent by COPY on a connection of its own, in transactions of its own,
// all at once: the server inserts the rows of one Export on several
// backends, and one share's commit does not wait for the others. Export
// returns once every share is done; its outcomes, errors and exactly-once
// guarantee are those of one writer (see the package documentation,
// "Several writers"). Default: [DefaultWriters], or
// OTELAUDIT_POSTGRES_WRITERS; values below 1 mean the default. An Export
// holds up to n connections and n times the buffers of one writer (see
// [WithMaxCopyBytes]); a pool with fewer connections makes the writers
// take turns. Exporter only.
func WithWriters(n int) Option {
	return optionFunc(func(c config) config { c.writers = n; return c })
}

// RetryConfig says whether and how long transient errors are retried,
// as the OTLP exporters' RetryConfig does: between attempts the exporter
// waits a random time up to a backoff that starts at InitialInterval and
// doubles up to MaxInterval, and it gives up MaxElapsedTime after the
// first attempt, or when the context given to Export ends, whichever
// comes first. Its zero value disables retries: one attempt, whose error
// Export returns. With Enabled, zero durations mean the defaults
// (DefaultRetry*).
type RetryConfig struct {
	// Enabled turns retries on.
	Enabled bool
	// InitialInterval is the first backoff.
	InitialInterval time.Duration
	// MaxInterval caps the backoff.
	MaxInterval time.Duration
	// MaxElapsedTime is how long after the first attempt the exporter
	// stops retrying.
	MaxElapsedTime time.Duration
}

// WithRetry configures the retries of transient errors. Default: enabled,
// with [DefaultRetryInitialInterval], [DefaultRetryMaxInterval] and
// [DefaultRetryMaxElapsedTime], each of which the OTELAUDIT_POSTGRES_RETRY_*
// variables override. Retries disabled, an Export makes one attempt per
// COPY: a failure that retrying could fix (a connection reset, a deadlock)
// fails the records of that COPY (Stats().Failed), for the caller (a
// processor, the journal) to export again. The fallbacks that are part of
// writing (the staging table after a unique violation, creating a missing
// partition, bisecting a refused batch) are not retries and always run. A
// [TxWriter] retries only the creation of partitions, which runs outside
// the caller's transaction; never the insert, which runs inside it.
func WithRetry(rc RetryConfig) Option {
	return optionFunc(func(c config) config {
		c.retry = retry.Config(rc)
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
