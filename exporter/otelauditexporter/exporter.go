package otelauditexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelaudit/otelaudit/exporter/auditrow"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// logsExporter writes plog.Logs into the audit tables. The exporterhelper
// in front of it (factory.go) brings the timeout, queue and retries.
type logsExporter struct {
	cfg    *Config
	logger *zap.Logger
	set    exporter.Settings

	// ready guards the stores: opened at start, migrated (when asked) and
	// their exporters made before the first write that finds them
	// reachable. A database down at start so only delays writes.
	mu      sync.Mutex
	pool    *pgxpool.Pool
	chConn  driver.Conn
	chDB    string
	pg      *postgreslog.Exporter
	ch      *clickhouselog.Exporter
	stopped bool
}

func newLogsExporter(cfg *Config, set exporter.Settings) *logsExporter {
	return &logsExporter{cfg: cfg, logger: set.Logger, set: set}
}

// start opens the connections (no I/O: they connect when used) and tries
// to get the stores ready; a store that does not answer yet is retried
// before each write, so the Collector starts whatever the databases do.
func (e *logsExporter) start(ctx context.Context, _ component.Host) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if dsn := e.cfg.Postgres.DSN; dsn != "" {
		pcfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return fmt.Errorf("otelaudit: postgres.dsn: %w", err)
		}
		if e.pool, err = pgxpool.NewWithConfig(context.WithoutCancel(ctx), pcfg); err != nil {
			return fmt.Errorf("otelaudit: postgres: %w", err)
		}
	}
	if dsn := e.cfg.ClickHouse.DSN; dsn != "" {
		opts, err := clickhouse.ParseDSN(dsn)
		if err != nil {
			return fmt.Errorf("otelaudit: clickhouse.dsn: %w", err)
		}
		e.chDB = opts.Auth.Database
		if e.chConn, err = clickhouse.Open(opts); err != nil {
			return fmt.Errorf("otelaudit: clickhouse: %w", err)
		}
	}
	if err := e.readyLocked(ctx); err != nil {
		e.logger.Warn("audit store not ready at start; writes wait for it", zap.Error(err))
	}
	return nil
}

// ready makes the store exporters, migrating first when configured, and
// returns them (nil when not configured).
func (e *logsExporter) ready(ctx context.Context) (*postgreslog.Exporter, *clickhouselog.Exporter, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.readyLocked(ctx)
	return e.pg, e.ch, err
}

func (e *logsExporter) readyLocked(ctx context.Context) error {
	if e.stopped {
		return errors.New("otelaudit: exporter shut down")
	}
	var errs []error
	if e.pool != nil && e.pg == nil {
		if err := e.readyPostgres(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if e.chConn != nil && e.ch == nil {
		if err := e.readyClickHouse(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *logsExporter) readyPostgres(ctx context.Context) error {
	opts := e.cfg.pgSchema()
	if e.cfg.Postgres.Migrate {
		if _, err := pgschema.Migrate(ctx, e.pool, opts); err != nil {
			return fmt.Errorf("otelaudit: postgres: migrate: %w", err)
		}
	}
	pg, err := postgreslog.New(e.pool,
		postgreslog.WithSchema(opts),
		postgreslog.WithMapping(e.mapping()),
		postgreslog.WithMeterProvider(e.set.MeterProvider),
		postgreslog.WithErrorHandler(e.handleError),
		// The exporterhelper retries: a failed write returns at once.
		postgreslog.WithRetry(postgreslog.RetryConfig{}),
	)
	if err != nil {
		return fmt.Errorf("otelaudit: postgres: %w", err)
	}
	e.pg = pg
	return nil
}

func (e *logsExporter) readyClickHouse(ctx context.Context) error {
	opts := e.cfg.chSchema(e.chDB)
	layout := chschema.LayoutAuto
	if e.cfg.ClickHouse.Migrate {
		l, err := chschema.Migrate(ctx, e.chConn, opts)
		if err != nil {
			return fmt.Errorf("otelaudit: clickhouse: migrate: %w", err)
		}
		layout = l
	}
	ch, err := clickhouselog.New(e.chConn,
		clickhouselog.WithSchema(opts),
		clickhouselog.WithLayout(layout),
		clickhouselog.WithMapping(e.mapping()),
		clickhouselog.WithMeterProvider(e.set.MeterProvider),
		clickhouselog.WithErrorHandler(e.handleError),
		clickhouselog.WithRetry(clickhouselog.RetryConfig{}),
		// Records come again after a retry or a restart of the queue:
		// never store them twice.
		clickhouselog.WithStoredCheck(true),
	)
	if err != nil {
		return fmt.Errorf("otelaudit: clickhouse: %w", err)
	}
	e.ch = ch
	return nil
}

func (e *logsExporter) mapping() auditrow.Options {
	return auditrow.Options{IncludeNonAudit: e.cfg.NonAudit == NonAuditStore}
}

// handleError logs what the store exporters report: records refused for
// their content (*auditrow.RejectError), other than non-audit ones.
func (e *logsExporter) handleError(err error) {
	e.logger.Warn("audit record not stored", zap.Error(err))
}

// pushLogs writes ld to every configured store. A store that fails (down,
// timing out) makes it return a retryable error: the exporterhelper
// retries the whole batch, and what was stored already is not stored
// again. Records refused for their content, and only those, make it
// return a permanent error once everything else is stored.
func (e *logsExporter) pushLogs(ctx context.Context, ld plog.Logs) error {
	pg, ch, err := e.ready(ctx)
	if err != nil {
		return err
	}
	recs := newRecords(ld)
	if recs.Len() == 0 {
		return nil
	}
	var refusals refusals
	ctx = auditrow.ContextWithRejectHook(ctx, refusals.add)

	var errs []error
	if pg != nil {
		if err := pg.ExportRecords(ctx, recs); err != nil {
			errs = append(errs, err)
		}
	}
	if ch != nil {
		if err := ch.ExportRecords(ctx, recs); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("otelaudit: %d records: %w", recs.Len(), errors.Join(errs...))
	}
	if err := refusals.err(e.cfg.NonAudit == NonAuditReject, recs.Len()); err != nil {
		// InvalidArgument: the OTLP receiver answers 400 (gRPC
		// InvalidArgument), which senders do not retry.
		return consumererror.NewPermanent(status.Error(codes.InvalidArgument, err.Error()))
	}
	return nil
}

// refusals collects the records the stores refused during one push.
type refusals struct {
	mu    sync.Mutex
	first error
	count map[string]int
}

func (r *refusals) add(re *auditrow.RejectError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == nil {
		r.count = make(map[string]int)
	}
	r.count[re.Reason]++
	if r.first == nil && re.Reason != auditrow.ReasonNonAudit {
		r.first = re
	}
}

// err returns the refusals as one error, nil when none counts: non-audit
// records count only when rejectNonAudit is set. With two stores a record
// refused by both is counted twice.
func (r *refusals) err(rejectNonAudit bool, total int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for reason, c := range r.count {
		if reason == auditrow.ReasonNonAudit && !rejectNonAudit {
			continue
		}
		n += c
	}
	if n == 0 {
		return nil
	}
	first := r.first
	if first == nil {
		first = auditrow.ErrNotAudit
	}
	return fmt.Errorf("otelaudit: %d of %d records refused (%v); the others are stored: %w", n, total, r.count, first)
}

// shutdown stops the store exporters and closes the connections.
func (e *logsExporter) shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	var errs []error
	if e.pg != nil {
		errs = append(errs, e.pg.Shutdown(ctx))
	}
	if e.ch != nil {
		errs = append(errs, e.ch.Shutdown(ctx))
	}
	if e.pool != nil {
		e.pool.Close()
	}
	if e.chConn != nil {
		errs = append(errs, e.chConn.Close())
	}
	return errors.Join(errs...)
}
