package trail_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/trail"
)

// follower drains Follow until it has want records (other tests' open
// transactions on the shared server may hold the horizon back a moment).
func follow(t *testing.T, r *trail.Postgres, f trail.Filter, cursor *string, want int) []trail.Record {
	t.Helper()
	var got []trail.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		recs, next, err := r.Follow(testCtx(t), f, *cursor, 2)
		require.NoError(t, err)
		got = append(got, recs...)
		*cursor = next
		if len(recs) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	require.Len(t, got, want)
	// And nothing more.
	recs, next, err := r.Follow(testCtx(t), f, *cursor, 0)
	require.NoError(t, err)
	require.Empty(t, recs)
	*cursor = next
	return got
}

func TestFollowDeliversEachRowOnce(t *testing.T) {
	s := newStores(t)
	base := time.Now().UTC().Add(-time.Hour)
	// Rows written before the tail starts are never delivered, even when
	// a transaction older than theirs still runs at the start (the
	// snapshot's xmin is behind them).
	hold, err := s.pg.Begin(s.ctx)
	require.NoError(t, err)
	_, err = hold.Exec(s.ctx, "SELECT pg_current_xact_id()")
	require.NoError(t, err)
	s.write(corpus(4, base.Add(-time.Hour)))
	all := trail.Filter{}

	cursor, err := s.pgR.TailStart(s.ctx)
	require.NoError(t, err)
	require.Contains(t, cursor, "~", "the ended transactions above the running one are skipped")
	require.NoError(t, hold.Rollback(s.ctx))
	first := corpus(5, base)
	s.write(first)
	got := follow(t, s.pgR, all, &cursor, 5)
	seen := map[uuid.UUID]int{}
	for i, r := range got {
		require.Equal(t, first[i].ID, r.ID, "one transaction's rows come in (time, id) order")
		require.Equal(t, r.Cursor(), got[i].Cursor())
		seen[r.ID]++
	}

	// A transaction that started first and commits last: its row is not
	// skipped, although rows committed after it started were followed.
	conn, err := s.pg.Acquire(s.ctx)
	require.NoError(t, err)
	tx, err := conn.Begin(s.ctx)
	require.NoError(t, err)
	slow := uuid.Must(uuid.NewV7())
	_, err = tx.Exec(s.ctx, `INSERT INTO audit_logs (created_at, event_id, action, outcome) VALUES ($1, $2, 'logout', 'success')`, base, slow)
	require.NoError(t, err)
	second := corpus(3, base.Add(time.Minute))
	s.write(second)
	recs, next, err := s.pgR.Follow(s.ctx, all, cursor, 0)
	require.NoError(t, err)
	require.Empty(t, recs, "rows behind an open, older transaction wait for it")
	cursor = next
	require.NoError(t, tx.Commit(s.ctx))
	conn.Release()
	got = follow(t, s.pgR, all, &cursor, 4)
	require.Equal(t, slow, got[0].ID, "arrival order: the older transaction's row first")
	for _, r := range got {
		seen[r.ID]++
	}

	// Reconnect: a new pool and a new reader go on from the kept cursor.
	pool2, err := pgxpool.NewWithConfig(s.ctx, s.pg.Config().Copy())
	require.NoError(t, err)
	r2, err := trail.NewPostgres(pool2)
	require.NoError(t, err)
	third := corpus(3, base.Add(2*time.Minute))
	s.write(third)
	got = follow(t, r2, all, &cursor, 3)
	pool2.Close()
	for _, r := range got {
		seen[r.ID]++
	}
	require.Len(t, seen, 5+1+3+3)
	for id, n := range seen {
		require.Equal(t, 1, n, "event %s delivered %d times", id, n)
	}

	// With a filter, rows left out move the cursor on all the same.
	fourth := corpus(6, base.Add(3*time.Minute))
	s.write(fourth)
	got = follow(t, s.pgR, trail.Filter{Outcome: otelaudit.OutcomeFailure}, &cursor, 1)
	require.Equal(t, fourth[1].ID, got[0].ID)
}

func TestTailConcurrentSafe(t *testing.T) {
	s := newStores(t)
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	start, err := s.pgR.TailStart(ctx)
	require.NoError(t, err)

	var mu sync.Mutex
	seen := map[uuid.UUID]int{}
	done := make(chan error, 1)
	go func() {
		done <- s.pgR.Tail(ctx, trail.Filter{}, start, 10*time.Millisecond, func(r trail.Record) error {
			mu.Lock()
			defer mu.Unlock()
			seen[r.ID]++
			return nil
		})
	}()
	base := time.Now().UTC().Add(-time.Hour)
	var wg sync.WaitGroup
	var all []otelaudit.Event
	for w := range 4 {
		evs := corpus(25, base.Add(time.Duration(w)*time.Second))
		all = append(all, evs...)
		wg.Go(func() {
			for i := 0; i < len(evs); i += 5 {
				recs := evs[i : i+5]
				s.write(recs)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == len(all)
	}, 30*time.Second, 20*time.Millisecond)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	for _, ev := range all {
		require.Equal(t, 1, seen[ev.ID], "event %s", ev.ID)
	}

	stop := errors.New("stop")
	err = s.pgR.Tail(s.ctx, trail.Filter{}, start, 0, func(trail.Record) error { return stop })
	require.ErrorIs(t, err, stop, "the callback's error ends Tail")
	_, _, err = s.pgR.Follow(s.ctx, trail.Filter{}, "12.x", 0)
	require.ErrorIs(t, err, trail.ErrInvalidCursor)
}
