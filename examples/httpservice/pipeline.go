package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// serviceName is the service.name resource attribute of the records.
const serviceName = "httpservice"

// pipeline is the OpenTelemetry side: one LoggerProvider whose processors
// print every event and, with a DSN, journal it for the stores.
type pipeline struct {
	provider *sdklog.LoggerProvider
	close    func(context.Context) error
}

// newPipeline builds the pipeline of cfg. Printing is synchronous (a
// SimpleProcessor), so a line appears as soon as its event is recorded;
// the stores are fed by the journal, which makes each event durable on
// local disk first and never holds up a request.
func newPipeline(ctx context.Context, cfg config) (p *pipeline, err error) {
	var closers []func(context.Context) error
	closeAll := func(ctx context.Context) error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i](ctx))
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, closeAll(ctx))
		}
	}()

	var printer sdklog.Exporter = newLineExporter(cfg.out)
	if cfg.json {
		if printer, err = stdoutlog.New(stdoutlog.WithWriter(cfg.out)); err != nil {
			return nil, err
		}
	}
	opts := []sdklog.LoggerProviderOption{
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, serviceName))),
		sdklog.WithProcessor(sdklog.NewSimpleProcessor(printer)),
		sdklog.WithAllowKeyDuplication(), // audit records carry no duplicate keys
	}

	var targets []journal.Target
	if cfg.postgresDSN != "" {
		exp, closePool, err := openPostgres(ctx, cfg.postgresDSN)
		if err != nil {
			return nil, err
		}
		closers = append(closers, closePool)
		targets = append(targets, journal.Target{Name: "postgres", Exporter: exp})
	}
	if cfg.clickhouseDSN != "" {
		exp, closeConn, err := openClickHouse(ctx, cfg.clickhouseDSN)
		if err != nil {
			return nil, err
		}
		closers = append(closers, closeConn)
		targets = append(targets, journal.Target{Name: "clickhouse", Exporter: exp})
	}
	if len(targets) > 0 {
		proc, err := journal.New(cfg.journalDir, targets)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		opts = append(opts, sdklog.WithProcessor(proc))
	}

	provider := sdklog.NewLoggerProvider(opts...)
	// Shutdown first: it delivers what the journal holds (and shuts the
	// exporters down), then the connections close.
	closers = append(closers, provider.Shutdown)
	return &pipeline{provider: provider, close: closeAll}, nil
}

// openPostgres migrates the audit table (an example may; a real service
// leaves it to a deploy step, see examples/quickstart) and returns an
// exporter on it.
func openPostgres(ctx context.Context, dsn string) (sdklog.Exporter, func(context.Context) error, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	closePool := func(context.Context) error { pool.Close(); return nil }
	if _, err := pgschema.Migrate(ctx, pool, pgschema.Options{}); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres migrate: %w", err)
	}
	exp, err := postgreslog.New(pool)
	if err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	return exp, closePool, nil
}

// openClickHouse migrates the audit table in the DSN's database and returns
// an exporter on it.
func openClickHouse(ctx context.Context, dsn string) (sdklog.Exporter, func(context.Context) error, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse: %w", err)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("clickhouse: %w", err)
	}
	closeConn := func(context.Context) error { return conn.Close() }
	schema := chschema.Options{Database: opts.Auth.Database}
	layout, err := chschema.Migrate(ctx, conn, schema)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("clickhouse migrate: %w", err), conn.Close())
	}
	exp, err := clickhouselog.New(conn, clickhouselog.WithSchema(schema), clickhouselog.WithLayout(layout))
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("clickhouse: %w", err), conn.Close())
	}
	return exp, closeConn, nil
}
