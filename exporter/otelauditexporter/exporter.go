package otelauditexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
	ch      *clickhouselog.Exporter // sends every batch as it comes
	chCheck *clickhouselog.Exporter // first looks up which events are stored
	stopped bool

	// checkUntil (Unix nanoseconds) ends the time in which batches may
	// come again: after start (the persistent queue hands back what was in
	// flight) and after a failed write (the exporterhelper retries it).
	// Until then ClickHouse writes go through chCheck, so that nothing is
	// stored twice; the lookup costs a query per 2,000 events, which grows
	// with the table, so it is not paid for every batch. Postgres needs
	// none: it skips stored events itself.
	checkUntil atomic.Int64
}

// suspectWindow is how long batches are looked up after start or after a
// failed write: at least a minute, and two of the retries' longest
// intervals.
func (e *logsExporter) suspectWindow() time.Duration {
	return max(time.Minute, 2*e.cfg.BackOffConfig.MaxInterval)
}

func (e *logsExporter) markSuspect() {
	e.checkUntil.Store(time.Now().Add(e.suspectWindow()).UnixNano())
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
	e.markSuspect()
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
// returns the ones to write with now (nil when not configured).
func (e *logsExporter) ready(ctx context.Context) (*postgreslog.Exporter, *clickhouselog.Exporter, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.readyLocked(ctx)
	if time.Now().UnixNano() < e.checkUntil.Load() {
		return e.pg, e.chCheck, err
	}
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
	var chs [2]*clickhouselog.Exporter
	for i := range chs {
		ch, err := clickhouselog.New(e.chConn,
			clickhouselog.WithSchema(opts),
			clickhouselog.WithLayout(layout),
			clickhouselog.WithMapping(e.mapping()),
			clickhouselog.WithMeterProvider(e.set.MeterProvider),
			clickhouselog.WithErrorHandler(e.handleError),
			clickhouselog.WithRetry(clickhouselog.RetryConfig{}),
			clickhouselog.WithStoredCheck(i == 1),
		)
		if err != nil {
			return fmt.Errorf("otelaudit: clickhouse: %w", err)
		}
		chs[i] = ch
	}
	e.ch, e.chCheck = chs[0], chs[1]
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
		e.markSuspect()
		return err
	}
	recs := newRecords(ld)
	if recs.Len() == 0 {
		return nil
	}
	// Each store refuses the same records: their refusals are collected
	// apart, and a record counts once.
	var pgRefusals, chRefusals refusals
	var errs []error
	if pg != nil {
		if err := pg.ExportRecords(auditrow.ContextWithRejectHook(ctx, pgRefusals.add), recs); err != nil {
			errs = append(errs, err)
		}
	}
	if ch != nil {
		if err := ch.ExportRecords(auditrow.ContextWithRejectHook(ctx, chRefusals.add), recs); err != nil {
			errs = append(errs, err)
		}
	}
	refusals := pgRefusals.merge(&chRefusals)
	if len(errs) > 0 {
		e.markSuspect()
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

// merge returns the refusals of two stores: by reason, the larger count
// (the stores refuse the same records for their content; one may refuse
// more, such as a value only it cannot hold).
func (r *refusals) merge(o *refusals) *refusals {
	m := &refusals{count: make(map[string]int), first: r.first}
	if m.first == nil {
		m.first = o.first
	}
	for _, src := range []*refusals{r, o} {
		for reason, c := range src.count {
			m.count[reason] = max(m.count[reason], c)
		}
	}
	return m
}

// err returns the refusals as one error, nil when none counts: non-audit
// records count only when rejectNonAudit is set.
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
		errs = append(errs, e.ch.Shutdown(ctx), e.chCheck.Shutdown(ctx))
	}
	if e.pool != nil {
		e.pool.Close()
	}
	if e.chConn != nil {
		errs = append(errs, e.chConn.Close())
	}
	return errors.Join(errs...)
}
