package seal_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/otelaudit/otelaudit/schema/seal"
)

// TestErasureKeepsTheSeal pseudonymises a user in both stores after the
// seal, as an erasure would: the salt of the user's leaves is dropped, the
// commitment kept. The log still verifies; the rest of those rows is still
// covered.
func TestErasureKeepsTheSeal(t *testing.T) {
	t.Parallel()
	f, _ := sealed(t)
	id := f.idWhere("user_id = 'usr_4'")
	f.pgExec("UPDATE audit_digests_leaves SET salt = NULL WHERE event_id = $1", id)
	f.pgTamper(`UPDATE audit_logs SET user_id = 'erased_1', user_name = NULL, ip_address = NULL, user_agent = NULL, session_id = NULL
		WHERE event_id = $1`, id)
	f.chMutate("UPDATE user_id = 'erased_1', user_name = '', client_ip = '', user_agent = '', session_id = '' WHERE event_id = " + chUUID(id))

	res := f.requireClean()
	require.EqualValues(t, 1, res.Erased)

	// The proof of the erased row still verifies, with the commitment.
	p, d, err := f.verifier().Prove(f.ctx, id)
	require.NoError(t, err)
	require.Nil(t, p.Salt)
	row := readRow(t, f.ctx, f.chSrc, id, p.Time)
	require.Equal(t, "erased_1", row.Personal.UserID)
	require.NoError(t, seal.VerifyInclusion(p, p.Canonical(row), d, f.pub))

	// Its other fields are still sealed.
	f.pgTamper("UPDATE audit_logs SET workspace_id = 'ws_other' WHERE event_id = $1", id)
	res, err = f.verify()
	requireFound(t, res, err, seal.Finding{Kind: seal.Edited, Store: "postgres", EventID: id})
}

// TestSealConcurrentSafe runs sealers at once: the advisory lock
// serialises them, so every row is sealed once and the chain verifies.
func TestSealConcurrentSafe(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.write(events(30, f.spread))
	var wg sync.WaitGroup
	reps := make([]seal.SealReport, 4)
	errs := make([]error, 4)
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := seal.NewSealer(f.pg, f.key)
			if err != nil {
				errs[i] = err
				return
			}
			reps[i], errs[i] = s.Seal(f.ctx)
		}()
	}
	wg.Wait()
	var rows int64
	var digests int
	for i := range reps {
		require.NoError(t, errs[i])
		rows += reps[i].Rows
		digests += len(reps[i].Digests)
	}
	require.EqualValues(t, 30, rows)
	res := f.requireClean()
	require.Equal(t, digests, res.Digests)
}
