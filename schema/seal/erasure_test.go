package seal_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
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

// TestErasureOfTargetAndDetailsKeepsTheSeal: in a version 2 digest the
// resource id and the details, previous and new values are behind the
// commitment too, so erasure may pseudonymise a user named as the target
// of an event and personal values inside details. The rest of the row
// stays sealed.
func TestErasureOfTargetAndDetailsKeepsTheSeal(t *testing.T) {
	t.Parallel()
	f, rep := sealed(t)
	for _, d := range rep.Digests {
		require.Equal(t, seal.EncodingVersion, d.Version)
	}
	id := f.idWhere("user_id = 'usr_5'")
	f.pgExec("UPDATE audit_digests_leaves SET salt = NULL WHERE event_id = $1", id)
	f.pgTamper(`UPDATE audit_logs SET user_id = 'erased_2', user_name = NULL, ip_address = NULL, user_agent = NULL, session_id = NULL,
		resource_id = 'erased_2', details = '{"email":"[erased]"}', previous_value = NULL, new_value = '["[erased]"]'
		WHERE event_id = $1`, id)
	f.chMutate(`UPDATE user_id = 'erased_2', user_name = '', client_ip = '', user_agent = '', session_id = '',
		resource_id = 'erased_2', details = '{"email": "[erased]"}', previous_value = '', new_value = '["[erased]"]' WHERE event_id = ` + chUUID(id))

	res := f.requireClean()
	require.EqualValues(t, 1, res.Erased)
	p, d, err := f.verifier().Prove(f.ctx, id)
	require.NoError(t, err)
	require.Equal(t, seal.EncodingVersion, p.Version)
	require.NoError(t, seal.VerifyInclusion(p, p.Canonical(readRow(t, f.ctx, f.pgSrc, id, p.Time)), d, f.pub))

	// A row whose salt is kept still has its resource id and details
	// checked through the commitment.
	other := f.idWhere("user_id = 'usr_6'")
	f.pgTamper(`UPDATE audit_logs SET details = '{"forged":true}' WHERE event_id = $1`, other)
	res, err = f.verify()
	requireFound(t, res, err, seal.Finding{Kind: seal.Edited, Store: "postgres", EventID: other})
	f.chMutate("UPDATE resource_id = 'forged' WHERE event_id = " + chUUID(other))
	res, err = f.verify()
	requireFound(t, res, err, seal.Finding{Kind: seal.Edited, Store: "clickhouse", EventID: other},
		seal.Finding{Kind: seal.Edited, Store: "postgres", EventID: other})
}

// TestVersion1DigestsStillVerify seals with the version 1 encoding, as
// sealers did before version 2, then seals a late row with the current
// one into the same range: the chain of mixed versions verifies, proofs of
// both versions check offline, erasing a version 1 row's personal fields
// keeps the seal, and its resource id is still covered directly.
func TestVersion1DigestsStillVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.write(events(30, f.spread))
	old := f.sealer()
	seal.SealVersion1(old)
	rep, err := old.Seal(f.ctx)
	require.NoError(t, err)
	require.NotEmpty(t, rep.Digests)
	for _, d := range rep.Digests {
		require.Equal(t, 1, d.Version)
	}
	late := uuid.Must(uuid.NewV7())
	f.write(eventWithID(late, f.base.Add(70*time.Minute)))
	rep2 := f.seal(seal.WithLateHorizon(72 * time.Hour))
	require.EqualValues(t, 1, rep2.LateRows)
	res, err := f.verify()
	require.NoError(t, err, "findings:\n%s", describe(res))
	require.True(t, res.OK)
	require.Len(t, findings(res, seal.Late, "postgres"), 1)

	v1 := f.idWhere("user_id = 'usr_4'")
	for _, id := range []uuid.UUID{v1, late} {
		p, d, err := f.verifier().Prove(f.ctx, id)
		require.NoError(t, err)
		want := 1
		if id == late {
			want = seal.EncodingVersion
		}
		require.Equal(t, want, p.Version)
		require.Equal(t, want, d.Version)
		require.NoError(t, seal.VerifyInclusion(p, p.Canonical(readRow(t, f.ctx, f.chSrc, id, p.Time)), d, f.pub))
		if id == v1 {
			// A proof kept from before Proof.Version existed has none:
			// it was a version 1 proof.
			old := *p
			old.Version = 0
			require.NoError(t, seal.VerifyInclusion(&old, old.Canonical(readRow(t, f.ctx, f.chSrc, id, p.Time)), d, f.pub))
		}
	}

	f.pgExec("UPDATE audit_digests_leaves SET salt = NULL WHERE event_id = $1", v1)
	f.pgTamper(`UPDATE audit_logs SET user_id = 'erased_1', user_name = NULL, ip_address = NULL, user_agent = NULL, session_id = NULL
		WHERE event_id = $1`, v1)
	f.chMutate("UPDATE user_id = 'erased_1', user_name = '', client_ip = '', user_agent = '', session_id = '' WHERE event_id = " + chUUID(v1))
	res, err = f.verify()
	require.NoError(t, err, "findings:\n%s", describe(res))
	require.EqualValues(t, 1, res.Erased)

	f.pgTamper("UPDATE audit_logs SET resource_id = 'erased_1' WHERE event_id = $1", v1)
	res, err = f.verify()
	requireFound(t, res, err, seal.Finding{Kind: seal.Edited, Store: "postgres", EventID: v1})
}

// HoldOffSealing keeps Seal runs out until the holder's transaction ends:
// the run waits on the lock, then seals what the transaction committed.
func TestHoldOffSealing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.write(events(30, f.spread))
	tx, err := f.pg.Begin(f.ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(f.ctx) }()
	require.NoError(t, seal.HoldOffSealing(f.ctx, tx))
	var pid int
	require.NoError(t, tx.QueryRow(f.ctx, "SELECT pg_backend_pid()").Scan(&pid))

	done := make(chan error, 1)
	var rep seal.SealReport
	go func() {
		var err error
		rep, err = f.sealer().Seal(f.ctx)
		done <- err
	}()
	// The run waits on the advisory lock that the transaction holds.
	require.Eventually(t, func() bool {
		var waiting bool
		err := f.pg.QueryRow(f.ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks AS l
			JOIN pg_locks AS h ON h.locktype = 'advisory' AND h.objid = l.objid AND h.classid = l.classid AND h.granted AND h.pid = $1
			WHERE l.locktype = 'advisory' AND NOT l.granted)`, pid).Scan(&waiting)
		return err == nil && waiting
	}, time.Minute, 20*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Seal ran while the lock was held: %v", err)
	default:
	}
	require.NoError(t, tx.Commit(f.ctx))
	require.NoError(t, <-done)
	require.EqualValues(t, 30, rep.Rows)
}
