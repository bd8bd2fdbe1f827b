package trail_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit"
	"github.com/otelaudit/otelaudit/trail"
)

// followCH drains Follow until it has want records, then checks that
// nothing more comes once the lag has passed.
func followCH(t *testing.T, r *trail.ClickHouse, f trail.Filter, cursor *string, want int) []trail.Record {
	t.Helper()
	var got []trail.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		recs, next, err := r.Follow(testCtx(t), f, *cursor, 2)
		require.NoError(t, err)
		got = append(got, recs...)
		*cursor = next
		if len(recs) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	require.Len(t, got, want)
	time.Sleep(2100 * time.Millisecond)
	recs, next, err := r.Follow(testCtx(t), f, *cursor, 0)
	require.NoError(t, err)
	require.Empty(t, recs)
	*cursor = next
	return got
}

func TestFollowClickHouse(t *testing.T) {
	s := newStores(t)
	r, err := trail.NewClickHouse(s.ch, trail.WithClickHouseSchema(s.chOpts), trail.WithFollowLag(time.Second))
	require.NoError(t, err)
	base := time.Now().UTC().Add(-time.Hour)
	s.write(corpus(3, base.Add(-time.Hour)))
	time.Sleep(2100 * time.Millisecond) // older than the lag: before the start
	cursor, err := r.TailStart(s.ctx)
	require.NoError(t, err)

	seen := map[uuid.UUID]int{}
	first := corpus(5, base)
	s.write(first)
	for i, rec := range followCH(t, r, trail.Filter{}, &cursor, 5) {
		require.Equal(t, first[i].ID, rec.ID, "one insert's rows come in (time, id) order")
		seen[rec.ID]++
	}

	// A new reader on the kept cursor goes on.
	r2, err := trail.NewClickHouse(s.ch, trail.WithClickHouseSchema(s.chOpts), trail.WithFollowLag(time.Second))
	require.NoError(t, err)
	second := corpus(6, base.Add(time.Minute))
	s.write(second)
	for _, rec := range followCH(t, r2, trail.Filter{Outcome: otelaudit.OutcomeFailure}, &cursor, 1) {
		require.Equal(t, second[1].ID, rec.ID)
		seen[rec.ID]++
	}
	require.Len(t, seen, 6)
	for id, n := range seen {
		require.Equal(t, 1, n, "event %s", id)
	}

	pgCursor, err := s.pgR.TailStart(s.ctx)
	require.NoError(t, err)
	_, _, err = r.Follow(s.ctx, trail.Filter{}, pgCursor, 0)
	require.ErrorIs(t, err, trail.ErrInvalidCursor, "a Postgres cursor is not a ClickHouse one")
	_, err = trail.NewClickHouse(s.ch, trail.WithFollowLag(time.Millisecond))
	require.ErrorIs(t, err, trail.ErrInvalidOptions)
}
