package clickhouselog

import (
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/envconfig"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
	"github.com/otelaudit/otelaudit/schema/chschema"
)

// Defaults of the options.
const (
	// DefaultRetryInitialInterval is the first backoff after a transient
	// error; it doubles up to DefaultRetryMaxInterval.
	DefaultRetryInitialInterval = retry.DefaultInitialInterval
	// DefaultRetryMaxInterval caps the backoff.
	DefaultRetryMaxInterval = retry.DefaultMaxInterval
	// DefaultRetryMaxElapsedTime stops retrying a batch this long after
	// its first attempt (the Export context's deadline stops it earlier).
	DefaultRetryMaxElapsedTime = retry.DefaultMaxElapsedTime
	// DefaultMaxInsertBytes bounds the rows of one INSERT, as the sum of
	// their values' sizes, and so the memory an Export holds (about four
	// times as much when it needs several INSERTs: the rows in flight, the
	// driver's block, and the next rows being mapped).
	DefaultMaxInsertBytes = 16 << 20
)

// minInsertBytes is the smallest MaxInsertBytes accepted.
const minInsertBytes = 64 << 10

type config struct {
	schema       chschema.Options
	layout       chschema.Layout
	mapping      auditrow.Options
	retry        retry.Config
	errorHandler func(error)
	meters       metric.MeterProvider
	maxInsert    int
	checkStored  bool
}

// newConfig returns the defaults, overridden by the environment (see
// env.go), overridden by opts.
func newConfig(opts []Option) (config, error) {
	c := config{errorHandler: otel.Handle, retry: retry.DefaultConfig()}
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
	if c.meters == nil {
		c.meters = otel.GetMeterProvider()
	}
	if c.maxInsert <= 0 {
		c.maxInsert = DefaultMaxInsertBytes
	}
	c.maxInsert = max(c.maxInsert, minInsertBytes)
	return c, nil
}

// Option configures an [Exporter].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithSchema names the database and table to write: those of o, which
// must be the Options given to chschema.Migrate (Database and Table are
// used, the other fields ignored). Default: OTELAUDIT_CLICKHOUSE_DATABASE
// and OTELAUDIT_CLICKHOUSE_TABLE, else database "default" and table
// "audit_logs". An empty Database means the default, which for [Open] is
// the DSN's database when it names one.
func WithSchema(o chschema.Options) Option {
	return optionFunc(func(c config) config {
		c.schema.Database, c.schema.Table = o.Database, o.Table
		return c
	})
}

// WithLayout says which layout the table has, as returned by
// chschema.Migrate. Default: OTELAUDIT_CLICKHOUSE_LAYOUT ("compat",
// "modern"), else read from the table's columns on the first Export (one
// query, then cached).
func WithLayout(l chschema.Layout) Option {
	return optionFunc(func(c config) config { c.layout = l; return c })
}

// WithMapping sets the options of the record-to-row mapping: limits, and
// whether records that are not audit records are stored
// (IncludeNonAudit) instead of refused. Default: the zero
// auditrow.Options (auditrow's default limits, non-audit records
// refused).
func WithMapping(o auditrow.Options) Option {
	return optionFunc(func(c config) config { c.mapping = o; return c })
}

// RetryConfig says whether and how long transient failures are retried,
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

// WithRetry configures the retries of a batch after transient failures.
// Default: enabled, with [DefaultRetryInitialInterval],
// [DefaultRetryMaxInterval] and [DefaultRetryMaxElapsedTime], each of
// which the OTELAUDIT_CLICKHOUSE_RETRY_* variables override. Retries
// disabled, an Export sends its INSERT once: a failure that retrying
// could fix fails the batch (Stats().Failed), for the caller (a
// processor, the journal) to export again. Bisecting a batch the server
// refuses for its data is not a retry and always runs.
func WithRetry(rc RetryConfig) Option {
	return optionFunc(func(c config) config {
		c.retry = retry.Config(rc)
		return c
	})
}

// WithErrorHandler receives what Export does not return: each record the
// mapping refused (records that are not audit records excepted: those are
// only counted) and each row the server refused, as a *RejectError.
// Default: otel.Handle. A nil handler restores the default. The handler
// runs on the exporting goroutine and must be fast; a panic in it is
// recovered. The reject hook of an Export's context
// (auditrow.ContextWithRejectHook) gets the same errors, non-audit records
// included, for that Export only.
func WithErrorHandler(h func(error)) Option {
	return optionFunc(func(c config) config {
		if h == nil {
			h = otel.Handle
		}
		c.errorHandler = h
		return c
	})
}

// WithMeterProvider sets the MeterProvider of the Exporter's metrics (see
// the package documentation). Default: otel.GetMeterProvider() at the
// time of [New]. A nil provider means the default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config { c.meters = mp; return c })
}

// WithMaxInsertBytes bounds the size of the rows sent in one INSERT (the
// sum of their values' lengths, plus a few dozen bytes a row): an Export
// whose rows exceed it is written as several INSERTs, the records mapped
// as they go (the next INSERT's while the previous one is written), so
// that the memory an Export holds stays near a few times n whatever the
// batch. Default: [DefaultMaxInsertBytes]; values below 64 KiB mean 64
// KiB. A single row larger than n is sent alone.
func WithMaxInsertBytes(n int) Option {
	return optionFunc(func(c config) config { c.maxInsert = n; return c })
}

// WithStoredCheck makes every Export look up, before its first INSERT,
// which of its events the table holds already, and send only the others
// (counted in Stats().AlreadyStored). It is for callers that may give the
// same records again after a failure the Exporter did not see: the
// Collector's retries, and its persistent queue replaying what was in
// flight when the process died (exporter/otelauditexporter turns it on).
// It costs one query per 2,000 events. Default: off; an ambiguous failure
// inside one Export is checked either way.
func WithStoredCheck(on bool) Option {
	return optionFunc(func(c config) config { c.checkStored = on; return c })
}
