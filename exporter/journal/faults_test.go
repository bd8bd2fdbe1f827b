package journal_test

// Fault tests: the journal between an Auditor and real Postgres and
// ClickHouse servers, with the servers stopped, frozen, or missing, the
// journal full or damaged. Each test counts what landed, read back from
// the databases: count(*) and count(DISTINCT event_id) both, and the
// event ids themselves, so that a lost event and a duplicated row are
// both caught.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/bridge"
	"github.com/otelaudit/otelaudit/exporter/journal"
	"github.com/otelaudit/otelaudit/exporter/postgreslog"
)

// TestFaultBurst: 50,000 events recorded as fast as one goroutine can all
// land in both stores, once each, and every counter on the way agrees.
func TestFaultBurst(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 3*time.Minute)
	pg := sharedPostgres(t, ctx)
	ch := sharedClickHouse(t, ctx)
	p := newPipeline(t, t.TempDir(), []journal.Target{pg.target(t), ch.target(t)})

	const n = 50_000
	events := newEvents(t, n)
	start := time.Now()
	for i := range events {
		p.auditor.Record(ctx, events[i])
	}
	t.Logf("%d events recorded in %v", n, time.Since(start).Round(time.Millisecond))
	p.flush(t, ctx, 2*time.Minute)

	s := p.checkAccounting(t, n)
	for _, name := range []string{pgName, chName} {
		assert.EqualValues(t, n, s.Targets[name].Delivered, "%s: delivered", name)
		assert.Zero(t, s.Targets[name].DeadLettered, "%s: dead-lettered", name)
		assert.Zero(t, s.Targets[name].Backlog, "%s: backlog", name)
	}
	ids := idsOf(events)
	requireExactlyOnce(t, ctx, "postgres", pg, ids)
	requireExactlyOnce(t, ctx, "clickhouse", ch, ids)
}

// faulted is a store under test and the journal target that delivers to
// it.
type faulted struct {
	store
	target journal.Target
}

// faultRun records events at emitRate for runFor, into every store of
// ss; faultAt into the run, fault takes the stores away, and after
// faultFor, restore gives them back. Afterwards every event is in each
// store exactly once, and the journal retried the exports that failed
// meanwhile.
func faultRun(t *testing.T, ctx context.Context, ss []faulted, fault, restore func(), runFor, faultAt, faultFor time.Duration) {
	t.Helper()
	var targets []journal.Target
	for _, s := range ss {
		targets = append(targets, s.target)
	}
	p := newPipeline(t, t.TempDir(), targets)
	events := newEvents(t, int(runFor.Seconds()*emitRate))
	r := startRun(t, p.auditor, events, emitRate)

	sleepFor(t, ctx, faultAt)
	fault()
	t.Logf("fault at %d events", r.n.Load())
	sleepFor(t, ctx, faultFor)
	during := p.proc.Stats()
	restore()
	t.Logf("stores back at %d events; journal meanwhile: %d accepted", r.n.Load(), during.Accepted)
	for _, s := range ss {
		ts := during.Targets[s.target.Name]
		t.Logf("%s during the fault: backlog %d bytes, %d retries", s.target.Name, ts.Backlog, ts.Retried)
		assert.NotZero(t, ts.Backlog, "%s: records waited in the journal during the fault", s.target.Name)
	}

	r.wait(t, runFor)
	t.Logf("run over; slowest Record call %v", r.slowestCall())
	p.flush(t, ctx, time.Minute)

	st := p.checkAccounting(t, len(events))
	t.Logf("%v", p.reports)
	for _, s := range ss {
		ts := st.Targets[s.target.Name]
		t.Logf("%s: %+v", s.target.Name, ts)
		assert.NotZero(t, ts.Retried, "%s: the journal retried the exports that failed", s.target.Name)
		assert.NotZero(t, ts.FailedExports, "%s: failed exports", s.target.Name)
		assert.Zero(t, ts.DeadLettered, "%s: dead-lettered", s.target.Name)
		assert.EqualValues(t, len(events), ts.Delivered, "%s: delivered", s.target.Name)
		requireExactlyOnce(t, ctx, s.target.Name, s.store, idsOf(events))
	}
}

// TestFaultPostgresOutage: Postgres stopped for 30 s in the middle of a
// 40 s run at 2,000 events/s, then started again: nothing lost, nothing
// duplicated.
func TestFaultPostgresOutage(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 3*time.Minute)
	srv, pg := privatePostgres(t, ctx)
	faultRun(t, ctx, []faulted{{pg, pg.target(t)}}, func() { srv.Stop(t) }, func() { srv.Start(t) },
		40*time.Second, 5*time.Second, 30*time.Second)
}

// TestFaultClickHouseOutage: the same with ClickHouse.
func TestFaultClickHouseOutage(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 3*time.Minute)
	srv, ch := privateClickHouse(t, ctx)
	faultRun(t, ctx, []faulted{{ch, ch.target(t)}}, func() { srv.Stop(t) }, func() { srv.Start(t) },
		40*time.Second, 5*time.Second, 30*time.Second)
}

// TestFaultHang: Postgres and ClickHouse frozen (SIGSTOP) together for
// 20 s during a run: their connections, and new ones, hang. Exports are
// abandoned at the export deadline (5 s, see newPipeline; see also
// clickhouselog's handshake below) and retried; once the servers are
// resumed, everything lands in both, once, although an abandoned insert
// may have been completed by the server after the client gave up.
//
// A ClickHouse export can outlast its deadline here: the driver's
// handshake with a frozen server waits for its own dial timeout (10 s from
// testenv) whatever the context says. The journal waits for Export to
// return, so that only delays the retry.
func TestFaultHang(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 3*time.Minute)
	pgSrv, pg := privatePostgres(t, ctx)
	chSrv, ch := privateClickHouse(t, ctx)
	faultRun(t, ctx, []faulted{{pg, pg.target(t)}, {ch, ch.target(t)}},
		func() { pgSrv.Pause(t); chSrv.Pause(t) },
		func() { pgSrv.Resume(t); chSrv.Resume(t) },
		30*time.Second, 4*time.Second, 20*time.Second)
}

// TestFaultOneStoreDown: with ClickHouse stopped, Postgres stays current;
// ClickHouse catches up once it is back.
func TestFaultOneStoreDown(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 2*time.Minute)
	pg := sharedPostgres(t, ctx)
	srv, ch := privateClickHouse(t, ctx)
	p := newPipeline(t, t.TempDir(), []journal.Target{pg.target(t), ch.target(t)})
	srv.Stop(t)

	events := newEvents(t, 5*emitRate)
	r := startRun(t, p.auditor, events, emitRate)
	// Postgres keeps up during the run: it never lags by more than a
	// few seconds of events.
	for {
		select {
		case <-r.done:
		case <-time.After(time.Second):
		}
		recorded := int(r.n.Load())
		_, distinct, err := pg.counts(ctx)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, int(distinct), recorded-3*emitRate, "Postgres lags more than 3 s of events behind")
		if recorded == len(events) {
			break
		}
	}
	lag := waitLanded(t, ctx, "postgres", pg, len(events), 3*time.Second)
	t.Logf("every event in Postgres %v after the run", lag.Round(time.Millisecond))
	requireExactlyOnce(t, ctx, "postgres", pg, idsOf(events))
	s := p.proc.Stats()
	assert.Zero(t, s.Targets[chName].Delivered, "nothing reached the stopped ClickHouse")
	assert.NotZero(t, s.Targets[chName].Retried)
	assert.NotZero(t, s.Targets[chName].Backlog)
	assert.Zero(t, s.Targets[pgName].Backlog, "Postgres is current")

	srv.Start(t)
	p.flush(t, ctx, time.Minute)
	s = p.checkAccounting(t, len(events))
	assert.EqualValues(t, len(events), s.Targets[chName].Delivered)
	assert.EqualValues(t, len(events), s.Targets[pgName].Delivered)
	requireExactlyOnce(t, ctx, "postgres", pg, idsOf(events))
	requireExactlyOnce(t, ctx, "clickhouse", ch, idsOf(events))
}

// TestFaultJournalFull: a journal of 64 KiB with Postgres stopped.
func TestFaultJournalFull(t *testing.T) {
	t.Parallel()
	small := []journal.Option{journal.WithMaxBytes(64 << 10), journal.WithSegmentBytes(16 << 10)}

	// RefuseWhenFull: what does not fit is refused at once, and counted;
	// once Postgres is back, exactly the accepted events land.
	t.Run("refuse", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		srv, pg := privatePostgres(t, ctx)
		srv.Stop(t)
		p := newPipeline(t, t.TempDir(), []journal.Target{pg.target(t)}, append(small, journal.WithFullPolicy(journal.RefuseWhenFull()))...)

		// RecordSync tells, for each event, whether the journal took it:
		// nil once it is journaled and fsynced, a refusal otherwise.
		const n = 2000
		events := newEvents(t, n)
		var accepted []uuid.UUID
		refused := 0
		for i := range events {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			start := time.Now()
			err := p.auditor.RecordSync(cctx, events[i])
			took := time.Since(start)
			cancel()
			switch {
			case err == nil:
				accepted = append(accepted, events[i].ID)
			case errors.Is(err, journal.ErrJournalFull):
				require.ErrorIs(t, err, otelaudit.ErrNotDurable)
				require.Less(t, took, 500*time.Millisecond, "a refusal waited")
				refused++
			default:
				t.Fatalf("event %d: %v", i, err)
			}
		}
		s := p.proc.Stats()
		t.Logf("%d accepted, %d refused; journal %d bytes", len(accepted), refused, s.Bytes)
		require.NotZero(t, refused, "the journal filled up")
		assert.EqualValues(t, refused, s.Dropped[journal.ReasonJournalFull], "every refusal is counted")
		assert.EqualValues(t, len(accepted), s.Accepted)
		assert.EqualValues(t, p.auditor.Stats().Emitted, s.Accepted+s.Dropped[journal.ReasonJournalFull], "accepted + dropped == emitted")
		assert.LessOrEqual(t, s.Bytes, int64(64<<10+4<<10), "the cap holds, to within the estimate of a few records")

		srv.Start(t)
		p.flush(t, ctx, 30*time.Second)
		requireExactlyOnce(t, ctx, "postgres", pg, accepted)
	})

	// WaitWhenFull: an emit at the cap waits for room, and is accepted
	// once Postgres is back and confirmed records free some.
	t.Run("wait", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		srv, pg := privatePostgres(t, ctx)
		srv.Stop(t)
		p := newPipeline(t, t.TempDir(), []journal.Target{pg.target(t)}, append(small, journal.WithFullPolicy(journal.WaitWhenFull(30*time.Second)))...)

		const n = 1000
		events := newEvents(t, n)
		r := startRun(t, p.auditor, events, 0)
		// The run stops short of the end: a Record call is waiting.
		last, stillFor := int64(-1), time.Duration(0)
		for stillFor < time.Second {
			sleepFor(t, ctx, 100*time.Millisecond)
			if cur := r.n.Load(); cur != last {
				last, stillFor = cur, 0
				continue
			}
			stillFor += 100 * time.Millisecond
		}
		require.Less(t, last, int64(n), "every event fit in the journal: it never filled")
		t.Logf("a Record call waits after %d events", last)
		blockedSince := time.Now()
		assert.Zero(t, p.proc.Stats().Dropped[journal.ReasonJournalFull])

		srv.Start(t)
		r.wait(t, 30*time.Second)
		assert.Greater(t, r.slowestCall(), time.Since(blockedSince)-500*time.Millisecond, "the waiting call returned after Postgres came back")
		p.flush(t, ctx, 30*time.Second)
		p.checkAccounting(t, n)
		requireExactlyOnce(t, ctx, "postgres", pg, idsOf(events))
	})
}

// TestFaultCorruptTail: records journaled while Postgres is stopped; the
// processor shut down; the tail of the last segment damaged. A new
// processor on the directory delivers every complete record and counts
// the damaged stretch.
func TestFaultCorruptTail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string)
		tornOff int // records at the end that the damage destroys
	}{
		{
			name: "truncated mid-frame",
			damage: func(t *testing.T, path string) {
				fi, err := os.Stat(path)
				require.NoError(t, err)
				// A record is about 300 bytes: 7 bytes less cut the
				// last one's payload.
				require.NoError(t, os.Truncate(path, fi.Size()-7))
			},
			tornOff: 1,
		},
		{
			name: "garbage appended",
			damage: func(t *testing.T, path string) {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				require.NoError(t, err)
				_, err = f.Write([]byte(strings.Repeat("\xde\xad\xbe\xef", 64)))
				require.NoError(t, err)
				require.NoError(t, f.Close())
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t, time.Minute)
			srv, pg := privatePostgres(t, ctx)
			srv.Stop(t)
			dir := t.TempDir()

			const n = 500
			events := newEvents(t, n)
			p := newPipeline(t, dir, []journal.Target{pg.target(t)})
			for i := range events {
				p.auditor.Record(ctx, events[i])
			}
			sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := p.proc.Shutdown(sctx)
			cancel()
			require.Error(t, err, "the records could not be delivered")
			assert.Contains(t, err.Error(), "not confirmed")
			assert.EqualValues(t, n, p.proc.Stats().Accepted)

			tc.damage(t, lastSegment(t, dir))
			srv.Start(t)
			p2 := newPipeline(t, dir, []journal.Target{pg.target(t)})
			p2.flush(t, ctx, 30*time.Second)
			s := p2.proc.Stats()
			t.Logf("damaged: %d stretches, %d bytes", s.Damaged, s.DamagedBytes)
			assert.EqualValues(t, 1, s.Damaged, "the damaged tail is counted once")
			assert.NotZero(t, s.DamagedBytes)
			assert.EqualValues(t, n-tc.tornOff, s.Targets[pgName].Delivered)
			requireExactlyOnce(t, ctx, "postgres", pg, idsOf(events[:n-tc.tornOff]))
		})
	}
}

// lastSegment returns the path of the highest-numbered segment file.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.NotEmpty(t, segs)
	slices.Sort(segs) // fixed-width numbers: text order is number order
	return segs[len(segs)-1]
}

// TestFaultWaitingCaller: RecordSync returns nil once the event is
// durable, and otherwise an error matching ErrNotDurable, never later than
// its context's deadline.
func TestFaultWaitingCaller(t *testing.T) {
	t.Parallel()

	t.Run("durable", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		pg := sharedPostgres(t, ctx)
		synced := make(chan struct{}, 1)
		p := newPipeline(t, t.TempDir(), []journal.Target{pg.target(t)}, journal.WithFsyncHook(func(sync func() error) error {
			err := sync()
			select {
			case synced <- struct{}{}:
			default:
			}
			return err
		}))
		events := newEvents(t, 1)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, p.auditor.RecordSync(cctx, events[0]))
		select {
		case <-synced:
		default:
			t.Fatal("RecordSync returned nil before any fsync")
		}
		p.flush(t, ctx, 10*time.Second)
		requireExactlyOnce(t, ctx, "postgres", pg, idsOf(events))
	})

	t.Run("fsync blocked", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		pg := sharedPostgres(t, ctx)
		release := make(chan struct{})
		var once sync.Once
		p := newPipeline(t, t.TempDir(), []journal.Target{pg.target(t)}, journal.WithFsyncHook(func(sync func() error) error {
			<-release
			return sync()
		}))
		unblock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unblock) // before the journal's shutdown, which fsyncs

		events := newEvents(t, 2)
		const deadline = 300 * time.Millisecond
		start := time.Now() // before the deadline's timer starts
		cctx, cancel := context.WithTimeout(ctx, deadline)
		err := p.auditor.RecordSync(cctx, events[0])
		took := time.Since(start)
		cancel()
		t.Logf("RecordSync with a stuck fsync returned after %v: %v", took.Round(time.Millisecond), err)
		require.ErrorIs(t, err, otelaudit.ErrNotDurable)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.GreaterOrEqual(t, took, deadline, "RecordSync waited for the fsync")
		assert.Less(t, took, deadline+500*time.Millisecond, "RecordSync returned at its deadline")

		// Once the disk answers, the next call is durable, and the first
		// event, journaled though not confirmed in time, is delivered.
		unblock()
		cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, p.auditor.RecordSync(cctx, events[1]))
		p.flush(t, ctx, 10*time.Second)
		requireExactlyOnce(t, ctx, "postgres", pg, idsOf(events))
	})

	t.Run("no journal", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		pg := sharedPostgres(t, ctx)
		exp, err := postgreslog.New(pg.pool)
		require.NoError(t, err)
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)),
			sdklog.WithResource(resource.NewSchemaless(attribute.String(otelaudit.KeyServiceName, "journal-faults"))))
		t.Cleanup(func() { assert.NoError(t, lp.Shutdown(context.Background())) })
		a := bridge.New(bridge.WithLoggerProvider(lp))

		events := newEvents(t, 1)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		start := time.Now()
		err = a.RecordSync(cctx, events[0])
		t.Logf("RecordSync without a journal: %v after %v", err, time.Since(start).Round(time.Millisecond))
		require.ErrorIs(t, err, otelaudit.ErrNotDurable)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "it did not wait for the deadline")
		// Not confirmed durable is not lost: the simple processor
		// exported it synchronously.
		requireExactlyOnce(t, ctx, "postgres", pg, idsOf(events))
	})

	t.Run("journal shut down", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		pg := sharedPostgres(t, ctx)
		p := newPipeline(t, t.TempDir(), []journal.Target{pg.target(t)})
		require.NoError(t, p.proc.Shutdown(ctx))
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := p.auditor.RecordSync(cctx, newEvents(t, 1)[0])
		require.ErrorIs(t, err, otelaudit.ErrNotDurable)
		assert.ErrorIs(t, err, journal.ErrShutdown)
		assert.EqualValues(t, 1, p.proc.Stats().Dropped[journal.ReasonShutdown])
		requireExactlyOnce(t, ctx, "postgres", pg, nil)
	})
}
