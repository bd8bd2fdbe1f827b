package seal_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/seal"
)

// TestLateRowIsReportedAsLate writes a row into a sealed window after the
// seal, through the exporters: it is late, not tampering, in both stores;
// the next run seals it in a late part of its range, and from then on it
// is checked like any sealed row.
func TestLateRowIsReportedAsLate(t *testing.T) {
	t.Parallel()
	f, _ := sealed(t)
	late := uuid.Must(uuid.NewV7())
	at := f.base.Add(70*time.Minute + 5*time.Nanosecond)
	f.write(eventWithID(late, at))

	res, err := f.verify()
	require.NoError(t, err, "findings:\n%s", describe(res))
	require.True(t, res.OK)
	for _, store := range []string{"postgres", "clickhouse"} {
		got := findings(res, seal.Late, store)
		require.Len(t, got, 1, store)
		require.Equal(t, late, got[0].EventID)
		require.Equal(t, at.Truncate(time.Microsecond), got[0].Time.Truncate(time.Microsecond))
		require.Zero(t, got[0].Seq, "not sealed yet")
	}
	require.Len(t, res.Findings, 2)

	// The range ended two days ago: reach back further than the default
	// horizon.
	horizon := seal.WithLateHorizon(72 * time.Hour)
	rep := f.seal(horizon)
	require.EqualValues(t, 1, rep.LateRows)
	// One late part (and, if an hour boundary just passed, an empty range).
	var d seal.Digest
	for _, x := range rep.Digests {
		if x.Part > 0 {
			require.Zero(t, d.Seq, "one late part")
			d = x
		}
	}
	require.Equal(t, 1, d.Part)
	require.Equal(t, f.base.Add(time.Hour), d.Start)
	require.EqualValues(t, 1, d.Count)

	res, err = f.verify()
	require.NoError(t, err, "findings:\n%s", describe(res))
	for _, store := range []string{"postgres", "clickhouse"} {
		got := findings(res, seal.Late, store)
		require.Len(t, got, 1, store)
		require.Equal(t, late, got[0].EventID)
		require.Equal(t, d.Seq, got[0].Seq, "sealed in the late part")
	}
	for _, rr := range res.Ranges {
		if rr.Start.Equal(d.Start) {
			require.Len(t, rr.Seqs, 2)
			require.EqualValues(t, 11, rr.Sealed)
			require.True(t, rr.Agree)
		}
	}

	// A run later finds it sealed already.
	require.Zero(t, f.seal(horizon).LateRows)

	// Sealed late, it is protected like the others.
	f.pgTamper("UPDATE audit_logs SET user_agent = 'forged' WHERE event_id = $1", late)
	res, err = f.verify()
	requireFound(t, res, err, seal.Finding{Kind: seal.Edited, Store: "postgres", EventID: late})
}

// TestLateRowOnlyInOneStore: a late row that reached Postgres but not yet
// ClickHouse is late in Postgres; the stores do not agree on the range,
// which is not a failure.
func TestLateRowOnlyInOneStore(t *testing.T) {
	t.Parallel()
	f, _ := sealed(t)
	late := uuid.Must(uuid.NewV7())
	require.NoError(t, f.pgExp.Export(f.ctx, eventWithID(late, f.base.Add(10*time.Minute))))
	res, err := f.verify()
	require.NoError(t, err, "findings:\n%s", describe(res))
	require.Len(t, res.Findings, 1)
	require.Equal(t, seal.Late, res.Findings[0].Kind)
	require.Equal(t, "postgres", res.Findings[0].Store)
	require.False(t, res.Ranges[0].Agree)
	require.True(t, res.Ranges[1].Agree)
}

// TestLateRowsBeyondTheHorizonStayUnsealed: with the late horizon off, a
// late row is reported but never sealed.
func TestLateRowsBeyondTheHorizonStayUnsealed(t *testing.T) {
	t.Parallel()
	f, _ := sealed(t)
	late := uuid.Must(uuid.NewV7())
	f.write(eventWithID(late, f.base.Add(10*time.Minute)))
	require.Zero(t, f.seal(seal.WithLateHorizon(0)).LateRows)
	// The default horizon (24 h before the newest range's end) does not
	// reach back two days either.
	require.Zero(t, f.seal().LateRows)
	require.Zero(t, f.seal(seal.WithLateHorizon(24*time.Hour)).LateRows)
	rep := f.seal(seal.WithLateHorizon(72 * time.Hour))
	require.EqualValues(t, 1, rep.LateRows)
	res, err := f.verify()
	require.NoError(t, err)
	require.Len(t, findings(res, seal.Late, ""), 2)
}
