package postgreslog_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
	"github.com/otelaudit/otelaudit/internal/testenv"
	"github.com/otelaudit/otelaudit/schema/pgschema"
)

func TestNew(t *testing.T) {
	_, err := postgreslog.New(nil)
	require.ErrorIs(t, err, postgreslog.ErrNilConn)

	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none")
	require.NoError(t, err) // lazy: no connection yet
	defer pool.Close()
	_, err = postgreslog.New(pool, postgreslog.WithSchema(pgschema.Options{Schema: "audit", Table: `x"; DROP TABLE y`}))
	require.ErrorIs(t, err, pgschema.ErrInvalidOptions)
	e, err := postgreslog.New(pool, nil, postgreslog.WithSchema(pgschema.Options{Schema: "audit", Table: "events"}))
	require.NoError(t, err, "nil options are ignored")
	require.NoError(t, e.Shutdown(context.Background()))

	_, err = postgreslog.Open(context.Background(), "not a dsn ::")
	require.Error(t, err)
}

func TestShutdown(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, err := postgreslog.New(pool)
	require.NoError(t, err)
	require.NoError(t, e.Export(ctx, logins(3, batchTime)))
	require.NoError(t, e.Export(ctx, nil))
	require.NoError(t, e.ForceFlush(ctx))

	require.NoError(t, e.Shutdown(ctx))
	require.ErrorIs(t, e.Export(ctx, logins(1, batchTime)), sdklog.ErrExporterShutdown)
	require.ErrorIs(t, e.Export(ctx, nil), sdklog.ErrExporterShutdown)
	require.NoError(t, e.Shutdown(ctx), "a second Shutdown does nothing")
	require.NoError(t, e.ForceFlush(ctx), "ForceFlush after Shutdown does nothing")

	// The caller's pool is not closed.
	require.NoError(t, pool.Ping(ctx))
	rows, _ := count(t, pool)
	require.Equal(t, 3, rows)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	e2, _ := newExporter(t, pool)
	require.ErrorIs(t, e2.ForceFlush(canceled), context.Canceled)
}

func TestOpenOwnsItsPool(t *testing.T) {
	// goleak (TestMain) fails the run if Shutdown leaves the pool's
	// goroutines behind.
	ctx := testCtx(t)
	dsn := testenv.PostgresDSN(t)
	admin, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer admin.Close()
	_, err = pgschema.Migrate(ctx, admin, pgschema.Options{Back: pgschema.MaxBack})
	require.NoError(t, err)

	e, err := postgreslog.Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, e.Export(ctx, logins(5, batchTime)))
	require.NoError(t, e.Shutdown(ctx))
	rows, _ := count(t, admin)
	require.Equal(t, 5, rows)
}

// lockTable holds an ACCESS EXCLUSIVE lock on audit_logs until the test
// ends or release is called: every write waits.
func lockTable(t *testing.T, pool *pgxpool.Pool) (release func()) {
	t.Helper()
	ctx := testCtx(t)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback(context.Background()) }) }
	t.Cleanup(release)
	return release
}

func TestExportHonoursDeadline(t *testing.T) {
	pool := migrated(t, pgschema.Options{})
	e, _ := newExporter(t, pool)
	require.NoError(t, e.Export(testCtx(t), logins(1, batchTime))) // warm the partition cache
	release := lockTable(t, pool)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	records := logins(100, batchTime.Add(time.Second))
	start := time.Now()
	err := e.Export(ctx, records)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second, "returned soon after the deadline")
	s := e.Stats()
	require.Equal(t, uint64(100), s.Failed, "not confirmed written")
	release()

	// The COPY in flight may still commit once the lock is gone (the
	// server does not notice the closed connection while it waits): its
	// outcome is unknown, and exporting the records again is how the
	// caller makes sure, without a duplicate either way.
	require.NoError(t, e.Export(testCtx(t), records))
	rows, ids := count(t, pool)
	require.Equal(t, 101, rows)
	require.Equal(t, 101, ids)

	t.Run("already canceled", func(t *testing.T) {
		canceled, cancel := context.WithCancel(context.Background())
		cancel()
		require.ErrorIs(t, e.Export(canceled, logins(7, batchTime)), context.Canceled)
		require.Equal(t, uint64(107), e.Stats().Failed)
		rows, _ := count(t, pool)
		require.Equal(t, 101, rows, "nothing sent")
	})
}

func TestShutdownEndsExportsInFlight(t *testing.T) {
	pool := migrated(t, pgschema.Options{})
	e, err := postgreslog.New(pool, postgreslog.WithErrorHandler(func(error) {}))
	require.NoError(t, err)
	require.NoError(t, e.Export(testCtx(t), logins(1, batchTime)))
	lockTable(t, pool)

	exported := make(chan error, 1)
	go func() { exported <- e.Export(context.Background(), logins(50, batchTime.Add(time.Second))) }()
	time.Sleep(200 * time.Millisecond) // the export is waiting for the lock

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.ErrorIs(t, e.Shutdown(ctx), context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
	select {
	case err := <-exported:
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the export in flight did not end after Shutdown gave up waiting")
	}
	require.Equal(t, uint64(50), e.Stats().Failed)
}

func TestMissingTableFailsFast(t *testing.T) {
	pool := testenv.Postgres(t) // not migrated
	e, _ := newExporter(t, pool)
	start := time.Now()
	err := e.Export(testCtx(t), logins(10, batchTime))
	require.Error(t, err)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42883", pgErr.Code, "undefined function: the partition function of a migrated table")
	require.ErrorContains(t, err, "export 10 records to public.audit_logs: 10 not written")
	require.Less(t, time.Since(start), 5*time.Second, "a permanent error is not retried")
	require.Equal(t, uint64(10), e.Stats().Failed)
	require.Zero(t, e.Stats().Retried)
}

func TestExportConcurrentSafe(t *testing.T) {
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	shared := logins(2000, batchTime.Add(-time.Minute)) // every goroutine exports these too

	const goroutines, batches, perBatch = 6, 4, 500
	exporters := make([]*postgreslog.Exporter, 3)
	for i := range exporters {
		exporters[i], _ = newExporter(t, pool)
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*(batches+1))
	for g := range goroutines {
		e := exporters[g%len(exporters)] // two goroutines per exporter
		wg.Go(func() {
			for b := range batches {
				start := batchTime.Add(time.Duration(g*batches+b) * time.Second)
				errs <- e.Export(ctx, logins(perBatch, start))
			}
			errs <- e.Export(ctx, shared)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	rows, ids := count(t, pool)
	want := goroutines*batches*perBatch + len(shared)
	require.Equal(t, want, rows)
	require.Equal(t, want, ids)
	var written, dups uint64
	for _, e := range exporters {
		s := e.Stats()
		written += s.Written
		dups += s.AlreadyStored
		require.Zero(t, s.Failed)
	}
	require.Equal(t, uint64(want), written)
	require.Equal(t, uint64((goroutines-1)*len(shared)), dups)
}

func TestWriterRoleExports(t *testing.T) {
	ctx := testCtx(t)
	admin, writer := writerLogin(t)

	e, h := newExporter(t, writer)
	records := append(logins(300, batchTime), at(time.Date(2011, 6, 1, 0, 0, 0, 0, time.UTC), "old"))
	require.NoError(t, e.Export(ctx, records), "COPY and partition creation as the writer")
	require.NoError(t, e.Export(ctx, records), "duplicates through the staging table as the writer")
	require.Empty(t, h.All())
	s := e.Stats()
	require.Equal(t, uint64(len(records)), s.Written)
	require.Equal(t, uint64(len(records)), s.AlreadyStored)

	rows, _ := count(t, admin)
	require.Equal(t, len(records), rows)

	for _, stmt := range []string{`UPDATE audit_logs SET action = 'x'`, `DELETE FROM audit_logs`, `TRUNCATE audit_logs`} {
		_, err := writer.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, stmt)
		require.Equal(t, "42501", pgErr.Code, stmt)
	}
}

func TestThroughBatchProcessor(t *testing.T) {
	// The whole path: Auditor -> SDK BatchProcessor -> Exporter -> rows.
	ctx := testCtx(t)
	pool := migrated(t, pgschema.Options{})
	e, err := postgreslog.New(pool)
	require.NoError(t, err)
	const goroutines, perGoroutine = 4, 5000
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(e,
		sdklog.WithMaxQueueSize(goroutines*perGoroutine), // nothing dropped
		sdklog.WithExportMaxBatchSize(2048),
		sdklog.WithExportInterval(100*time.Millisecond),
	)))
	a := bridge.New(bridge.WithLoggerProvider(lp))
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				a.Login(ctx, otelaudit.Actor{UserID: "usr_" + strconv.Itoa(g*perGoroutine+i), WorkspaceID: "ws_1"})
			}
		})
	}
	wg.Wait()
	require.NoError(t, lp.Shutdown(ctx), "flushes, then shuts the exporter down")
	rows, ids := count(t, pool)
	require.Equal(t, goroutines*perGoroutine, rows)
	require.Equal(t, goroutines*perGoroutine, ids)
	require.ErrorIs(t, e.Export(ctx, logins(1, batchTime)), sdklog.ErrExporterShutdown)
}
