package journal_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/clickhouselog"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/chschema"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

// Target names of the fault tests; they name the journal's cursors.
const (
	pgName = "postgres"
	chName = "clickhouse"
)

// emitRate is the pace, in events per second, of the runs that a fault
// interrupts.
const emitRate = 2000

// testCtx returns a context that ends after d or when the test ends.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// sleepFor waits d, and fails the test when ctx ends first.
func sleepFor(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
		t.Fatalf("test deadline while waiting %v: %v", d, context.Cause(ctx))
	}
}

// ------------------------------------------------------------------ stores

// store is an audit table the fault tests deliver to and read back.
type store interface {
	// counts returns count(*) and count(DISTINCT event_id) of the table.
	counts(ctx context.Context) (rows, distinct uint64, err error)
	// ids returns the event id of every row, duplicates included.
	ids(ctx context.Context) ([]uuid.UUID, error)
}

// faultable is a private server a test takes away and gives back.
type faultable interface {
	Stop(tb testing.TB)
	Start(tb testing.TB)
	Pause(tb testing.TB)
	Resume(tb testing.TB)
}

type pgStore struct{ pool *pgxpool.Pool }

func (s pgStore) counts(ctx context.Context) (rows, distinct uint64, err error) {
	var r, d int64
	err = s.pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT event_id) FROM audit_logs").Scan(&r, &d)
	if err != nil {
		return 0, 0, fmt.Errorf("count Postgres rows: %w", err)
	}
	return uint64(r), uint64(d), nil
}

func (s pgStore) ids(ctx context.Context) ([]uuid.UUID, error) {
	rows, err := s.pool.Query(ctx, "SELECT event_id FROM audit_logs")
	if err != nil {
		return nil, fmt.Errorf("read Postgres event ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("read Postgres event ids: %w", err)
	}
	return ids, nil
}

type chStore struct {
	conn  driver.Conn
	table string // quoted database.table
}

func (s chStore) counts(ctx context.Context) (rows, distinct uint64, err error) {
	err = s.conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT event_id) FROM "+s.table).Scan(&rows, &distinct)
	if err != nil {
		return 0, 0, fmt.Errorf("count ClickHouse rows: %w", err)
	}
	return rows, distinct, nil
}

func (s chStore) ids(ctx context.Context) ([]uuid.UUID, error) {
	rs, err := s.conn.Query(ctx, "SELECT toString(event_id) FROM "+s.table)
	if err != nil {
		return nil, fmt.Errorf("read ClickHouse event ids: %w", err)
	}
	defer rs.Close()
	var ids []uuid.UUID
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			return nil, fmt.Errorf("read ClickHouse event ids: %w", err)
		}
		id, err := uuid.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("read ClickHouse event ids: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read ClickHouse event ids: %w", err)
	}
	return ids, nil
}

// openPostgres migrates the audit table in the database of dsn and
// returns a pool on it, closed when the test ends.
func openPostgres(t *testing.T, ctx context.Context, dsn string) pgStore {
	t.Helper()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pgschema.Migrate(ctx, pool, pgschema.Options{})
	require.NoError(t, err)
	return pgStore{pool: pool}
}

// sharedPostgres is a fresh, migrated database on the shared server.
func sharedPostgres(t *testing.T, ctx context.Context) pgStore {
	t.Helper()
	return openPostgres(t, ctx, testenv.PostgresDSN(t))
}

// privatePostgres starts a private server and migrates its database.
func privatePostgres(t *testing.T, ctx context.Context) (*testenv.PostgresServer, pgStore) {
	t.Helper()
	srv := testenv.StartPostgres(t)
	return srv, openPostgres(t, ctx, srv.DSN())
}

func (s pgStore) target(t *testing.T) journal.Target {
	t.Helper()
	exp, err := postgreslog.New(s.pool,
		postgreslog.WithRetry(postgreslog.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 500 * time.Millisecond}),
		postgreslog.WithErrorHandler(func(error) {}))
	require.NoError(t, err)
	return journal.Target{Name: pgName, Exporter: exp}
}

// openClickHouse migrates the audit table in database db (the server's
// default database when empty) over conn.
func openClickHouse(t *testing.T, ctx context.Context, conn driver.Conn, db string) (chStore, chschema.Options, chschema.Layout) {
	t.Helper()
	opts := chschema.Options{Database: db}
	layout, err := chschema.Migrate(ctx, conn, opts)
	require.NoError(t, err)
	if db == "" {
		db = chschema.DefaultDatabase
	}
	return chStore{conn: conn, table: "`" + db + "`.`" + chschema.DefaultTable + "`"}, opts, layout
}

// chTarget is a ClickHouse store with what its exporter needs.
type chTarget struct {
	chStore
	opts   chschema.Options
	layout chschema.Layout
}

func sharedClickHouse(t *testing.T, ctx context.Context) chTarget {
	t.Helper()
	conn, db := testenv.ClickHouse(t)
	s, opts, layout := openClickHouse(t, ctx, conn, db)
	return chTarget{s, opts, layout}
}

// privateClickHouse starts a private server and migrates its default
// database.
func privateClickHouse(t *testing.T, ctx context.Context) (*testenv.ClickHouseServer, chTarget) {
	t.Helper()
	srv := testenv.StartClickHouse(t)
	opt, err := testenv.ClickHouseOptions(srv.DSN())
	require.NoError(t, err)
	conn, err := clickhouse.Open(opt)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, conn.Close()) })
	s, opts, layout := openClickHouse(t, ctx, conn, "")
	return srv, chTarget{s, opts, layout}
}

func (c chTarget) target(t *testing.T) journal.Target {
	t.Helper()
	exp, err := clickhouselog.New(c.conn,
		clickhouselog.WithSchema(c.opts),
		clickhouselog.WithLayout(c.layout),
		clickhouselog.WithRetry(clickhouselog.RetryConfig{Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 500 * time.Millisecond}),
		clickhouselog.WithErrorHandler(func(error) {}))
	require.NoError(t, err)
	return journal.Target{Name: chName, Exporter: exp}
}

// -------------------------------------------------------------- pipelines

// pipeline is what a service runs: an Auditor emitting through an SDK
// LoggerProvider whose only processor is the journal.
type pipeline struct {
	proc    *journal.Processor
	lp      *sdklog.LoggerProvider
	auditor *bridge.Auditor
	reports *reports
}

// reports counts what the journal hands to its error handler.
type reports struct {
	n    atomic.Int64
	mu   sync.Mutex
	last error
}

func (r *reports) handle(err error) {
	r.n.Add(1)
	r.mu.Lock()
	r.last = err
	r.mu.Unlock()
}

func (r *reports) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("%d reports, last: %v", r.n.Load(), r.last)
}

// newPipeline opens a journal in dir delivering to targets, with quick
// retries and a 5 s export deadline (opts come after, and win), and an
// Auditor on top. The provider, and so the journal, is shut down when the
// test ends; what is left then stays in dir.
func newPipeline(t *testing.T, dir string, targets []journal.Target, opts ...journal.Option) *pipeline {
	t.Helper()
	rep := &reports{}
	all := append([]journal.Option{
		journal.WithRetry(journal.RetryConfig{InitialInterval: 50 * time.Millisecond, MaxInterval: 500 * time.Millisecond}),
		journal.WithExportTimeout(5 * time.Second),
		journal.WithErrorHandler(rep.handle),
	}, opts...)
	proc, err := journal.New(dir, targets, all...)
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(
		sdklog.WithProcessor(proc),
		sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, "journal-faults"))),
		sdklog.WithAllowKeyDuplication(),
	)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// An error only says that records stay in the journal; the
		// test has checked what it needed.
		_ = lp.Shutdown(ctx)
	})
	return &pipeline{
		proc:    proc,
		lp:      lp,
		auditor: bridge.New(bridge.WithLoggerProvider(lp), bridge.WithErrorHandler(func(error) {})),
		reports: rep,
	}
}

// flush waits, at most d, until every record journaled so far is
// confirmed by every target.
func (p *pipeline) flush(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	err := p.proc.ForceFlush(ctx)
	require.NoError(t, err, "journal: %+v; %v", p.proc.Stats(), p.reports)
	t.Logf("flushed in %v", time.Since(start).Round(time.Millisecond))
}

// checkAccounting checks that every event the Auditor emitted was
// journaled: none rejected, none refused.
func (p *pipeline) checkAccounting(t *testing.T, emitted int) journal.Stats {
	t.Helper()
	as := p.auditor.Stats()
	s := p.proc.Stats()
	assert.EqualValues(t, emitted, as.Emitted, "Auditor.Stats().Emitted")
	for reason, n := range as.Rejected {
		assert.Zero(t, n, "events rejected by the Auditor (%s)", reason)
	}
	assert.Equal(t, as.Emitted, s.Accepted, "journal Stats().Accepted equals Auditor.Stats().Emitted")
	for reason, n := range s.Dropped {
		assert.Zero(t, n, "records refused by the journal (%s)", reason)
	}
	return s
}

// ------------------------------------------------------------------ events

// newEvents returns n login events with fresh UUIDv7 ids; the Auditor
// sets their time when they are recorded.
func newEvents(t *testing.T, n int) []otelaudit.Event {
	t.Helper()
	evs := make([]otelaudit.Event, n)
	for i := range evs {
		id, err := uuid.NewV7()
		require.NoError(t, err)
		evs[i] = otelaudit.Event{
			ID:     id,
			Action: otelaudit.ActionLogin,
			Actor:  otelaudit.Actor{UserID: fmt.Sprintf("usr_%d", i%1000), WorkspaceID: fmt.Sprintf("ws_%d", i%7)},
			Client: otelaudit.Client{IP: "203.0.113.7", UserAgent: "journal-faults"},
		}
	}
	return evs
}

func idsOf(evs []otelaudit.Event) []uuid.UUID {
	ids := make([]uuid.UUID, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	return ids
}

// run records events through an Auditor on a goroutine of its own.
type run struct {
	done    chan struct{}
	n       atomic.Int64 // events recorded so far
	slowest atomic.Int64 // the longest Record call, in ns
}

// startRun records events at rate per second (0: as fast as it can),
// until all are recorded or the test ends.
func startRun(t *testing.T, a *bridge.Auditor, events []otelaudit.Event, rate int) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &run{done: make(chan struct{})}
	t.Cleanup(func() { cancel(); <-r.done })
	go func() {
		defer close(r.done)
		start := time.Now()
		for i := range events {
			if ctx.Err() != nil {
				return
			}
			if rate > 0 {
				// Sleep only when 5 ms ahead, so that one wake-up
				// records ten events.
				due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				if d := time.Until(due); d > 5*time.Millisecond {
					time.Sleep(d)
				}
			}
			t0 := time.Now()
			a.Record(ctx, events[i])
			if d := int64(time.Since(t0)); d > r.slowest.Load() {
				r.slowest.Store(d)
			}
			r.n.Add(1)
		}
	}()
	return r
}

// wait waits until every event is recorded, at most d.
func (r *run) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		t.Fatalf("the run did not end within %v (%d events recorded)", d, r.n.Load())
	}
}

func (r *run) slowestCall() time.Duration { return time.Duration(r.slowest.Load()) }

// ----------------------------------------------------------------- checks

// requireExactlyOnce checks that s holds exactly the events want, one row
// each: count(*) and count(DISTINCT event_id) both equal len(want), no
// event id of want is missing, none appears twice, and no other is there.
func requireExactlyOnce(t *testing.T, ctx context.Context, name string, s store, want []uuid.UUID) {
	t.Helper()
	rows, distinct, err := s.counts(ctx)
	require.NoError(t, err)
	got, err := s.ids(ctx)
	require.NoError(t, err)
	lost, dup, foreign := tally(got, want)
	t.Logf("%s: %d rows, %d distinct event ids; of %d events, %d lost, %d duplicated, %d rows of unknown ids",
		name, rows, distinct, len(want), len(lost), dup, foreign)
	assert.EqualValues(t, len(want), rows, "%s: count(*)", name)
	assert.EqualValues(t, len(want), distinct, "%s: count(DISTINCT event_id)", name)
	assert.EqualValues(t, rows, len(got), "%s: rows read back", name)
	assert.Empty(t, lost, "%s: events lost", name)
	assert.Zero(t, dup, "%s: duplicated rows", name)
	assert.Zero(t, foreign, "%s: rows of events never recorded", name)
}

// tally compares the ids read back with those expected: the expected ones
// missing, the rows beyond the first of each id, and the rows of ids not
// expected.
func tally(got, want []uuid.UUID) (lost []uuid.UUID, dup, foreign int) {
	seen := make(map[uuid.UUID]int, len(got))
	for _, id := range got {
		seen[id]++
	}
	wanted := make(map[uuid.UUID]bool, len(want))
	for _, id := range want {
		wanted[id] = true
		if seen[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range seen {
		dup += n - 1
		if !wanted[id] {
			foreign += n
		}
	}
	return lost, dup, foreign
}

// waitLanded waits until s holds at least n distinct events, at most d,
// and returns how long that took.
func waitLanded(t *testing.T, ctx context.Context, name string, s store, n int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var distinct uint64
	for {
		var err error
		_, distinct, err = s.counts(ctx)
		require.NoError(t, err)
		if distinct >= uint64(n) {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: %d of %d events after %v", name, distinct, n, d)
		}
		sleepFor(t, ctx, 100*time.Millisecond)
	}
}
