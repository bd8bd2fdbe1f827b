package seal_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/seal"
)

// readRow reads one row of a source by id and time.
func readRow(t *testing.T, ctx context.Context, src seal.Source, id uuid.UUID, at time.Time) *seal.Row {
	t.Helper()
	var found *seal.Row
	require.NoError(t, src.Rows(ctx, at, at.Add(time.Microsecond), func(r *seal.Row) error {
		if r.EventID == id {
			found = r
		}
		return nil
	}))
	require.NotNil(t, found, "event %s in %s", id, src.Name())
	return found
}

func TestInclusionProof(t *testing.T) {
	t.Parallel()
	f, _ := sealed(t)
	v := f.verifier()
	for _, id := range f.ids() {
		p, d, err := v.Prove(f.ctx, id)
		require.NoError(t, err)
		require.Equal(t, id, p.EventID)
		require.Equal(t, d.Seq, p.Seq)
		// The row as each store holds it proves its inclusion, offline.
		for _, src := range []seal.Source{f.pgSrc, f.chSrc} {
			row := readRow(t, f.ctx, src, id, p.Time)
			require.NoError(t, seal.VerifyInclusion(p, p.Canonical(row), d, f.pub), src.Name())
		}
	}

	id := f.ids()[16]
	p, d, err := v.Prove(f.ctx, id)
	require.NoError(t, err)
	row := readRow(t, f.ctx, f.pgSrc, id, p.Time)
	good := p.Canonical(row)

	t.Run("another key", func(t *testing.T) {
		other, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		require.ErrorIs(t, seal.VerifyInclusion(p, good, d, other), seal.ErrBadSignature)
	})
	t.Run("another digest", func(t *testing.T) {
		ds, err := v.Digests(f.ctx)
		require.NoError(t, err)
		for i := range ds {
			if ds[i].Seq != d.Seq {
				require.ErrorIs(t, seal.VerifyInclusion(p, good, &ds[i], f.pub), seal.ErrProofInvalid)
			}
		}
	})
	t.Run("edited digest", func(t *testing.T) {
		forged := *d
		forged.Count++
		require.ErrorIs(t, seal.VerifyInclusion(p, good, &forged, f.pub), seal.ErrBadSignature)
	})
	t.Run("another row", func(t *testing.T) {
		other := f.ids()[17]
		q, _, err := v.Prove(f.ctx, other)
		require.NoError(t, err)
		require.ErrorIs(t, seal.VerifyInclusion(p, q.Canonical(readRow(t, f.ctx, f.pgSrc, other, q.Time)), d, f.pub), seal.ErrProofInvalid)
	})
	t.Run("bad path", func(t *testing.T) {
		bad := *p
		bad.Path = append([][32]byte(nil), p.Path...)
		bad.Path[0][0] ^= 1
		require.ErrorIs(t, seal.VerifyInclusion(&bad, good, d, f.pub), seal.ErrProofInvalid)
	})
	t.Run("changed row", func(t *testing.T) {
		f.pgTamper("UPDATE audit_logs SET resource_id = 'inv_forged' WHERE event_id = $1", id)
		changed := readRow(t, f.ctx, f.pgSrc, id, p.Time)
		require.Equal(t, "inv_forged", changed.ResourceID)
		require.ErrorIs(t, seal.VerifyInclusion(p, p.Canonical(changed), d, f.pub), seal.ErrProofInvalid)
		// ClickHouse still holds the sealed row.
		require.NoError(t, seal.VerifyInclusion(p, p.Canonical(readRow(t, f.ctx, f.chSrc, id, p.Time)), d, f.pub))
	})
	t.Run("changed personal field", func(t *testing.T) {
		f.chMutate("UPDATE user_id = 'usr_forged' WHERE event_id = " + chUUID(id))
		require.ErrorIs(t, seal.VerifyInclusion(p, p.Canonical(readRow(t, f.ctx, f.chSrc, id, p.Time)), d, f.pub), seal.ErrProofInvalid)
	})

	_, _, err = v.Prove(f.ctx, uuid.Must(uuid.NewV7()))
	require.True(t, errors.Is(err, seal.ErrNotSealed), "%v", err)
}

// TestDigestSignedByAnotherKeyIsRefused: a chain sealed with another key,
// a digest re-signed with another key, and a sealer with another key.
func TestDigestSignedByAnotherKeyIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.write(events(30, f.spread))
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	other, err := seal.NewSealer(f.pg, otherKey)
	require.NoError(t, err)
	rep, err := other.Seal(f.ctx)
	require.NoError(t, err)
	require.Len(t, rep.Digests, 4)

	res, err := f.verify()
	var want []seal.Finding
	for _, d := range rep.Digests {
		want = append(want, seal.Finding{Kind: seal.BadSignature, Seq: d.Seq})
	}
	requireFound(t, res, err, want...)
	for _, rr := range res.Ranges {
		require.False(t, rr.Compared, "rows are not compared with untrusted digests")
	}
	// Our sealer does not chain onto them.
	_, err = f.sealer().Seal(f.ctx)
	require.ErrorIs(t, err, seal.ErrChainBroken)
}

func TestResignedDigestIsRefused(t *testing.T) {
	t.Parallel()
	f, rep := sealed(t)
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	// Rewrite digest 2 with a forged root, signed with another key (the
	// attacker does not hold ours).
	d := rep.Digests[1]
	d.Root[0] ^= 1
	d.Signature = ed25519.Sign(otherKey, d.SignedBytes())
	f.pgExec("UPDATE audit_digests SET root = $1, signature = $2 WHERE seq = $3", d.Root[:], d.Signature, d.Seq)
	res, err := f.verify()
	requireFound(t, res, err,
		seal.Finding{Kind: seal.BadSignature, Seq: 2},
		// Digest 3 links to the digest 2 that was signed, not to this one.
		seal.Finding{Kind: seal.BrokenChain, Seq: 3},
	)
}

func TestBrokenChainIsReported(t *testing.T) {
	t.Parallel()
	t.Run("digest removed", func(t *testing.T) {
		t.Parallel()
		f, _ := sealed(t)
		f.pgExec("DELETE FROM audit_digests_leaves WHERE seq = 2")
		f.pgExec("DELETE FROM audit_digests WHERE seq = 2")
		res, err := f.verify()
		// A seq is missing, and so is a range.
		requireFound(t, res, err, seal.Finding{Kind: seal.BrokenChain, Seq: 3}, seal.Finding{Kind: seal.BrokenChain, Seq: 3})
		require.Contains(t, findings(res, seal.BrokenChain, "")[0].Detail, "missing")
		require.Contains(t, findings(res, seal.BrokenChain, "")[1].Detail, "previous range ended")
	})
	t.Run("digests reordered", func(t *testing.T) {
		t.Parallel()
		f, _ := sealed(t)
		// Swap the seqs of digests 2 and 3 (their signatures cover seq:
		// both fail too).
		f.pgExec("UPDATE audit_digests SET seq = CASE seq WHEN 2 THEN 103 ELSE 102 END WHERE seq IN (2, 3)")
		f.pgExec("UPDATE audit_digests SET seq = seq - 100 WHERE seq > 100")
		res, err := f.verify()
		require.ErrorIs(t, err, seal.ErrVerifyFailed)
		require.NotEmpty(t, findings(res, seal.BrokenChain, ""), describe(res))
		require.NotEmpty(t, findings(res, seal.BadSignature, ""), describe(res))
	})
	t.Run("newest digests removed", func(t *testing.T) {
		t.Parallel()
		f, _ := sealed(t)
		res := f.requireClean()
		f.pgExec("DELETE FROM audit_digests WHERE seq = 4")
		// A shorter chain is still valid: the tip, kept elsewhere, tells.
		res2 := f.requireClean()
		require.NotEqual(t, res.TipHash, res2.TipHash)
		require.EqualValues(t, 3, res2.TipSeq)
	})
}

func TestTamperedLeavesAreReported(t *testing.T) {
	t.Parallel()
	f, _ := sealed(t)
	// Make the leaves agree with an edited row: the signed root does not.
	f.pgExec("UPDATE audit_digests_leaves SET leaf_hash = sha256(leaf_hash) WHERE seq = 1 AND idx = 3")
	res, err := f.verify()
	requireFound(t, res, err, seal.Finding{Kind: seal.BadLeaves, Seq: 1})
	require.False(t, res.Ranges[0].Compared)
	_, _, err = f.verifier().Prove(f.ctx, f.ids()[0])
	require.Error(t, err)
}
