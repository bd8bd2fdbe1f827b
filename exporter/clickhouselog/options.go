package clickhouselog

import (
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/internal/retry"
	chschema "github.com/otelaudit/otelaudit/schema/clickhouse"
)

// Defaults of the options.
const (
	// DefaultRetryInitialInterval is the first backoff after a transient
	// error; it doubles up to DefaultRetryMaxInterval.
	DefaultRetryInitialInterval = retry.DefaultInitialInterval
	// DefaultRetryMaxInterval caps the backoff.
	DefaultRetryMaxInterval = retry.DefaultMaxInterval
	// DefaultRetryMaxElapsed stops retrying a batch this long after its
	// first attempt (the Export context's deadline stops it earlier).
	DefaultRetryMaxElapsed = retry.DefaultMaxElapsed
	// DefaultMaxInsertBytes bounds the rows of one INSERT, as the sum of
	// their values' sizes, and so the memory an Export holds (about three
	// times as much: the rows, and the driver's block).
	DefaultMaxInsertBytes = 16 << 20
)

// minInsertBytes is the smallest MaxInsertBytes accepted.
const minInsertBytes = 64 << 10

type config struct {
	schema       chschema.Options
	layout       chschema.Layout
	mapper       auditrow.Options
	retry        retry.Policy
	errorHandler func(error)
	meters       metric.MeterProvider
	maxInsert    int
}

func newConfig(opts []Option) config {
	c := config{errorHandler: otel.Handle}
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
	return c
}

// Option configures an [Exporter].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithSchema names the database and table to write, as given to
// chschema.Migrate (Database, Table, Cluster; the other fields are
// ignored). Default: database "default", table "audit_logs".
func WithSchema(o chschema.Options) Option {
	return optionFunc(func(c config) config { c.schema = o; return c })
}

// WithLayout says which layout the table has, as returned by
// chschema.Migrate. Default: read from the table's columns on the first
// Export (one query, then cached).
func WithLayout(l chschema.Layout) Option {
	return optionFunc(func(c config) config { c.layout = l; return c })
}

// WithMapperOptions sets the record -> row mapping options (limits, and
// IncludeNonAudit to store records that are not audit records). Default:
// the zero auditrow.Options.
func WithMapperOptions(o auditrow.Options) Option {
	return optionFunc(func(c config) config { c.mapper = o; return c })
}

// WithRetry bounds the retries of a batch after transient errors: the
// first backoff, its cap, and the total time. Zero values mean the
// defaults (DefaultRetry*). The Export context's deadline always wins.
func WithRetry(initial, maxInterval, maxElapsed time.Duration) Option {
	return optionFunc(func(c config) config {
		c.retry = retry.Policy{InitialInterval: initial, MaxInterval: maxInterval, MaxElapsed: maxElapsed}
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
// as they go, so that the memory an Export holds stays near a few times n
// whatever the batch. Default: [DefaultMaxInsertBytes]; values below 64
// KiB mean 64 KiB. A single row larger than n is sent alone.
func WithMaxInsertBytes(n int) Option {
	return optionFunc(func(c config) config { c.maxInsert = n; return c })
}
