package seal_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/seal"
)

// spread places rows over three windows of the fixture: ten per hour,
// with nanoseconds (Postgres keeps microseconds, ClickHouse nanoseconds),
// and two rows in the same microsecond.
func (f *fixture) spread(i int) time.Time {
	t := f.base.Add(time.Duration(i/10)*time.Hour + time.Duration(i%10)*5*time.Minute + 123456789*time.Nanosecond)
	if i == 5 {
		return f.spread(4).Add(300 * time.Nanosecond) // same microsecond as row 4
	}
	return t
}

// sealed writes 30 rows over three windows to both stores and seals them.
func sealed(t *testing.T) (*fixture, seal.SealReport) {
	f := newFixture(t)
	f.write(events(30, f.spread))
	rep := f.seal()
	return f, rep
}

func TestCleanLogVerifies(t *testing.T) {
	f, rep := sealed(t)
	require.EqualValues(t, 30, rep.Rows)
	require.Zero(t, rep.LateRows)
	// Three windows with rows, then one digest for the empty stretch up to
	// the last closed window.
	require.Len(t, rep.Digests, 4)
	for i, d := range rep.Digests {
		require.EqualValues(t, i+1, d.Seq)
		require.Zero(t, d.Part)
		require.NoError(t, d.Check(f.pub))
		if i < 3 {
			require.Equal(t, f.base.Add(time.Duration(i)*time.Hour), d.Start)
			require.Equal(t, time.Hour, d.End.Sub(d.Start))
			require.EqualValues(t, 10, d.Count)
		} else {
			require.Equal(t, rep.Digests[2].End, d.Start)
			require.Zero(t, d.Count)
			require.True(t, d.End.After(d.Start))
		}
		if i > 0 {
			require.Equal(t, rep.Digests[i-1].Hash(), d.Prev)
		}
	}

	res := f.requireClean()
	require.Equal(t, 4, res.Digests)
	require.EqualValues(t, 4, res.TipSeq)
	require.Len(t, res.Ranges, 4)
	for i, rr := range res.Ranges[:3] {
		require.EqualValues(t, 10, rr.Sealed, "range %d", i)
		require.EqualValues(t, 10, rr.Rows["postgres"], "range %d", i)
		require.EqualValues(t, 10, rr.Rows["clickhouse"], "range %d", i)
	}

	// A second run finds nothing new to seal but closed windows.
	rep2 := f.seal()
	require.Zero(t, rep2.Rows)
	f.requireClean()

	// One store alone verifies too.
	v := f.verifier()
	r1, err := v.Verify(f.ctx, f.pgSrc)
	require.NoError(t, err)
	require.True(t, r1.OK)
	r2, err := v.Verify(f.ctx, f.chSrc)
	require.NoError(t, err)
	require.True(t, r2.OK)
}

func TestVerifyRange(t *testing.T) {
	f, _ := sealed(t)
	res := f.requireClean(seal.WithRange(f.base.Add(time.Hour), f.base.Add(2*time.Hour)))
	require.Len(t, res.Ranges, 1)
	require.Equal(t, f.base.Add(time.Hour), res.Ranges[0].Start)
}

// TestKnownTipCatchesATruncatedChain: deleting the newest digests leaves a
// chain that verifies on its own; a verification given the tip of an
// earlier one reports the cut, and a chain re-sealed after the cut (by the
// key's holder) is reported as rewritten.
func TestKnownTipCatchesATruncatedChain(t *testing.T) {
	t.Parallel()
	f, rep := sealed(t)
	first := f.requireClean()
	require.EqualValues(t, len(rep.Digests), first.TipSeq)
	require.Equal(t, rep.Digests[len(rep.Digests)-1].Hash(), first.TipHash)
	f.requireClean(seal.WithKnownTip(first.TipSeq, first.TipHash))

	// Cut the newest two digests as the database's superuser.
	cut := first.TipSeq - 1
	f.pgExec("DELETE FROM audit_digests_leaves WHERE seq >= $1", cut)
	f.pgExec("DELETE FROM audit_digests WHERE seq >= $1", cut)
	shorter := f.requireClean() // valid on its own: nothing else tells
	require.EqualValues(t, cut-1, shorter.TipSeq)

	res, err := f.verify(seal.WithKnownTip(first.TipSeq, first.TipHash))
	requireFound(t, res, err, seal.Finding{Kind: seal.BrokenChain})
	require.Contains(t, findings(res, seal.BrokenChain, "")[0].Detail, "missing")

	// Sealing again rebuilds digests with the same seqs, and other hashes.
	f.seal()
	res, err = f.verify(seal.WithKnownTip(first.TipSeq, first.TipHash))
	requireFound(t, res, err, seal.Finding{Kind: seal.BrokenChain})
	require.Contains(t, findings(res, seal.BrokenChain, "")[0].Detail, "rewritten")
}

// TestWindowsSealedOnlyAfterTheirDelay: with hour windows and a delay of
// six hours, a run seals the windows that ended at least six hours ago
// and nothing of the window that holds now minus six hours (still open to
// the sealer), nor anything later.
func TestWindowsSealedOnlyAfterTheirDelay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const delay = 6 * time.Hour
	// The window of now-delay must not change before the seal runs: stay
	// clear of the hour's end.
	if now := time.Now(); now.Add(15 * time.Second).Truncate(time.Hour).After(now.Truncate(time.Hour)) {
		time.Sleep(time.Until(now.Truncate(time.Hour).Add(time.Hour + time.Second)))
	}
	now := time.Now().UTC()
	cut := now.Add(-delay).Truncate(time.Hour) // the start of the window of now-delay
	due, open, recent := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	f.write(eventWithID(due, cut.Add(-time.Minute)))
	f.write(eventWithID(open, now.Add(-delay)))
	f.write(eventWithID(recent, now.Add(-time.Minute)))

	rep := f.seal(seal.WithWindow(time.Hour), seal.WithDelay(delay))
	require.EqualValues(t, 1, rep.Rows, "only the row of the window that ended before now-delay")
	require.NotEmpty(t, rep.Digests)
	require.Equal(t, cut, rep.Digests[len(rep.Digests)-1].End, "sealed up to the window of now-delay")
	var sealedRows int64
	for _, d := range rep.Digests {
		sealedRows += d.Count
	}
	require.EqualValues(t, 1, sealedRows)
	_, _, err := f.verifier().Prove(f.ctx, due)
	require.NoError(t, err, "the due row is in a digest")
	for _, id := range []uuid.UUID{open, recent} {
		_, _, err := f.verifier().Prove(f.ctx, id)
		require.Error(t, err, "%v is not sealed", id)
	}
}
