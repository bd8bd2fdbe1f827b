package pipeline

import (
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
)

// Target names of the stores in the journal: they name the stores'
// cursors on disk, so they must stay the same across restarts.
const (
	TargetPostgres   = "postgres"
	TargetClickHouse = "clickhouse"
)

// Option configures [Setup].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

type config struct {
	journalDir  string
	journalOpts []journal.Option

	postgres     bool
	postgresDSN  string
	postgresOpts []postgreslog.Option

	clickhouse     bool
	clickhouseDSN  string
	clickhouseOpts []clickhouselog.Option

	resource    *resource.Resource
	auditorOpts []bridge.Option
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// WithJournalDir sets the journal's directory. Default:
// OTELAUDIT_JOURNAL_DIR; one of the two is required.
func WithJournalDir(dir string) Option {
	return optionFunc(func(c config) config { c.journalDir = dir; return c })
}

// WithJournalOptions adds options of the journal, after those read from
// the environment (they win over it).
func WithJournalOptions(opts ...journal.Option) Option {
	return optionFunc(func(c config) config {
		c.journalOpts = append(c.journalOpts[:len(c.journalOpts):len(c.journalOpts)], opts...)
		return c
	})
}

// WithPostgres makes Postgres a store, written through
// postgreslog.Open(ctx, dsn, opts...); dsn "" means
// OTELAUDIT_POSTGRES_DSN. Default: Postgres is a store when
// OTELAUDIT_POSTGRES_DSN is set, with no options.
func WithPostgres(dsn string, opts ...postgreslog.Option) Option {
	return optionFunc(func(c config) config {
		c.postgres, c.postgresDSN = true, dsn
		c.postgresOpts = append(c.postgresOpts[:len(c.postgresOpts):len(c.postgresOpts)], opts...)
		return c
	})
}

// WithClickHouse makes ClickHouse a store, written through
// clickhouselog.Open(ctx, dsn, opts...); dsn "" means
// OTELAUDIT_CLICKHOUSE_DSN. Default: ClickHouse is a store when
// OTELAUDIT_CLICKHOUSE_DSN is set, with no options.
func WithClickHouse(dsn string, opts ...clickhouselog.Option) Option {
	return optionFunc(func(c config) config {
		c.clickhouse, c.clickhouseDSN = true, dsn
		c.clickhouseOpts = append(c.clickhouseOpts[:len(c.clickhouseOpts):len(c.clickhouseOpts)], opts...)
		return c
	})
}

// WithResource sets the resource of the LoggerProvider, whose
// service.name the stores write in every row. Default: the resource the
// SDK detects (see the package documentation). A nil resource means the
// default.
func WithResource(res *resource.Resource) Option {
	return optionFunc(func(c config) config { c.resource = res; return c })
}

// WithAuditorOptions adds options of the bridge.Auditor (an error
// handler, a clock); bridge.WithLoggerProvider among them is
// overridden by the pipeline's provider.
func WithAuditorOptions(opts ...bridge.Option) Option {
	return optionFunc(func(c config) config {
		c.auditorOpts = append(c.auditorOpts[:len(c.auditorOpts):len(c.auditorOpts)], opts...)
		return c
	})
}
