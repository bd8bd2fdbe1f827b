package seal

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SaltSize is the size of the random salt of each row's personal-data
// commitment.
const SaltSize = 16

// Sealer seals closed windows of the Postgres audit table: it builds the
// Merkle tree of each window's rows, signs its root into a digest chained
// to the previous one, and stores digest and leaves in the digest tables
// (see [Migrate]). Run it from a job that holds the signing key; the
// services that write audit rows never need it.
type Sealer struct {
	pool *pgxpool.Pool
	key  ed25519.PrivateKey
	pub  ed25519.PublicKey
	c    config
	st   *statements
	// version is the encoding the sealer writes: EncodingVersion (tests
	// seal older versions to check that they still verify).
	version int
}

// NewSealer returns a sealer that reads the audit table of pool and writes
// digests signed with key into the digest tables of the same database.
// Options: [WithSchema], [WithAuditTable], [WithDigestTable],
// [WithWindow], [WithDelay], [WithLateGrace], [WithLateHorizon],
// [WithSince]. It never closes pool.
func NewSealer(pool *pgxpool.Pool, key ed25519.PrivateKey, opts ...Option) (*Sealer, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrInvalidOptions)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: Ed25519 private key of %d bytes, want %d", ErrInvalidOptions, len(key), ed25519.PrivateKeySize)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	st, err := newStatements(c)
	if err != nil {
		return nil, err
	}
	return &Sealer{pool: pool, key: key, pub: key.Public().(ed25519.PublicKey), c: c, st: st, version: EncodingVersion}, nil
}

// SealReport is what one [Sealer.Seal] run wrote.
type SealReport struct {
	// Digests are the digests written, in chain order.
	Digests []Digest
	// Rows is the number of rows sealed, late rows included.
	Rows int64
	// LateRows is the number of late rows sealed.
	LateRows int64
}

// ErrChainBroken is returned (wrapped) by [Sealer.Seal] when the newest
// digest does not verify with the sealer's key: the sealer does not chain
// onto a digest it cannot vouch for. Run [Verifier.Verify].
var ErrChainBroken = errors.New("seal: the newest digest does not verify")

// Seal seals what is due, in one transaction that sees one snapshot of
// the table, and whose start (by the database's clock) is the digests'
// SealedAt:
//
//  1. late rows: rows of already sealed ranges that ended within the late
//     horizon before the newest sealed range's end, not in any digest, and
//     ingested after the previous seal run (less the late grace), are
//     sealed in a new digest per range (Part 1, 2, ...);
//  2. closed windows: from the end of the newest sealed range (or, on the
//     first run, the window of [WithSince] or of the oldest row) up to the
//     last window that ended at least the delay ago, one digest per window
//     that has rows and one per stretch of empty windows.
//
// Runs are serialised by an advisory lock; a run that finds nothing due
// writes nothing. Seal refuses to extend a chain whose newest digest does
// not verify with its key ([ErrChainBroken]).
func (s *Sealer) Seal(ctx context.Context) (SealReport, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return SealReport{}, fmt.Errorf("seal: %w", err)
	}
	defer conn.Release()
	key := s.c.lockKey("seal")
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return SealReport{}, fmt.Errorf("seal: take the seal lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Conn().Close(uctx) // closing the session releases the lock
		}
	}()
	var rep SealReport
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var err error
		rep, err = s.seal(ctx, tx)
		return err
	})
	if err != nil {
		return SealReport{}, err
	}
	return rep, nil
}

// chainState is the chain as a run extends it.
type chainState struct {
	seq      int64
	prev     [32]byte
	mainEnd  time.Time // end of the newest range; zero when nothing is sealed
	sealedAt time.Time // SealedAt of the newest digest
}

func (s *Sealer) seal(ctx context.Context, tx pgx.Tx) (SealReport, error) {
	var now time.Time
	if err := tx.QueryRow(ctx, s.st.dbTime).Scan(&now); err != nil {
		return SealReport{}, fmt.Errorf("seal: read the database clock: %w", err)
	}
	now = time.UnixMicro(now.UnixMicro()).UTC()
	ds, err := readDigests(ctx, tx, s.st.digests)
	if err != nil {
		return SealReport{}, err
	}
	var cs chainState
	if n := len(ds); n > 0 {
		tip := &ds[n-1]
		if err := tip.Check(s.pub); err != nil {
			return SealReport{}, fmt.Errorf("%w: digest %d: %w", ErrChainBroken, tip.Seq, err)
		}
		cs = chainState{seq: tip.Seq, prev: tip.Hash(), sealedAt: tip.SealedAt}
		for i := range ds {
			if ds[i].Part == 0 && ds[i].End.After(cs.mainEnd) {
				cs.mainEnd = ds[i].End
			}
		}
	}
	var rep SealReport
	if !cs.mainEnd.IsZero() && s.c.lateHorizon > 0 {
		if err := s.sealLate(ctx, tx, ds, &cs, now, &rep); err != nil {
			return SealReport{}, err
		}
	}
	if err := s.sealWindows(ctx, tx, &cs, now, &rep); err != nil {
		return SealReport{}, err
	}
	return rep, nil
}

// sealLate seals the late rows of the ranges within the late horizon.
func (s *Sealer) sealLate(ctx context.Context, tx pgx.Tx, ds []Digest, cs *chainState, now time.Time, rep *SealReport) error {
	var mains []*Digest
	parts := map[int64]int{} // by range start, Unix microseconds
	for i := range ds {
		d := &ds[i]
		if d.Part == 0 {
			mains = append(mains, d)
		}
		parts[d.Start.UnixMicro()] = max(parts[d.Start.UnixMicro()], d.Part)
	}
	if len(mains) == 0 {
		return nil
	}
	sort.Slice(mains, func(i, j int) bool { return mains[i].Start.Before(mains[j].Start) })
	lo := cs.mainEnd.Add(-s.c.lateHorizon)
	if first := mains[0].Start; lo.Before(first) {
		lo = first
	}
	since := cs.sealedAt.Add(-s.c.lateGrace)
	rows, err := tx.Query(ctx, s.st.lateRows, lo, cs.mainEnd, since)
	if err != nil {
		return fmt.Errorf("seal: read late rows [%v, %v): %w", lo, cs.mainEnd, err)
	}
	byRange := map[*Digest][]leaf{}
	buf := make([]byte, 0, 1024)
	err = scanPostgresRows(rows, func(r *Row) error {
		i := sort.Search(len(mains), func(i int) bool { return mains[i].End.After(r.Time) })
		if i == len(mains) || r.Time.Before(mains[i].Start) {
			return nil // outside every range: not possible with contiguous ranges
		}
		byRange[mains[i]] = append(byRange[mains[i]], newLeaf(r, s.version, &buf))
		return nil
	})
	if err != nil {
		return fmt.Errorf("seal: read late rows [%v, %v): %w", lo, cs.mainEnd, err)
	}
	for _, m := range mains { // in range order
		ls, ok := byRange[m]
		if !ok {
			continue
		}
		parts[m.Start.UnixMicro()]++
		if err := s.write(ctx, tx, cs, m.Start, m.End, parts[m.Start.UnixMicro()], ls, now, rep); err != nil {
			return err
		}
		rep.LateRows += int64(len(ls))
	}
	return nil
}

// sealWindows seals the closed windows after the newest sealed range.
func (s *Sealer) sealWindows(ctx context.Context, tx pgx.Tx, cs *chainState, now time.Time, rep *SealReport) error {
	closed := s.align(now.Add(-s.c.delay))
	cursor := cs.mainEnd
	if cursor.IsZero() {
		if !s.c.since.IsZero() {
			cursor = s.align(s.c.since)
		} else {
			first, ok, err := s.nextTime(ctx, tx, time.Unix(-62135596800, 0), closed)
			if err != nil || !ok {
				return err
			}
			cursor = s.align(first)
		}
	}
	for cursor.Before(closed) {
		next, ok, err := s.nextTime(ctx, tx, cursor, closed)
		if err != nil {
			return err
		}
		if !ok {
			return s.write(ctx, tx, cs, cursor, closed, 0, nil, now, rep)
		}
		if start := s.align(next); start.After(cursor) {
			if err := s.write(ctx, tx, cs, cursor, start, 0, nil, now, rep); err != nil {
				return err
			}
			cursor = start
		}
		end := s.align(cursor).Add(s.c.window)
		var leaves []leaf
		err = pipeline(func(emit func(*Row) error) error {
			rows, err := tx.Query(ctx, s.st.rows, cursor, end)
			if err != nil {
				return err
			}
			return scanPostgresRows(rows, emit)
		}, func(r *Row, buf *[]byte) leaf {
			return newLeaf(r, s.version, buf)
		}, func(l leaf) {
			leaves = append(leaves, l)
		})
		if err != nil {
			return fmt.Errorf("seal: read rows [%v, %v): %w", cursor, end, err)
		}
		if err := s.write(ctx, tx, cs, cursor, end, 0, leaves, now, rep); err != nil {
			return err
		}
		cursor = end
	}
	return nil
}

// nextTime returns the time of the oldest row in [from, to).
func (s *Sealer) nextTime(ctx context.Context, tx pgx.Tx, from, to time.Time) (time.Time, bool, error) {
	var t pgtype.Timestamptz
	if err := tx.QueryRow(ctx, s.st.nextTime, from, to).Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("seal: find rows in [%v, %v): %w", from, to, err)
	}
	return t.Time.UTC(), t.Valid, nil
}

// align rounds t down to the start of its window (Unix epoch aligned).
func (s *Sealer) align(t time.Time) time.Time {
	w := int64(s.c.window / time.Second)
	sec := t.Unix()
	r := sec % w
	if r < 0 {
		r += w
	}
	return time.Unix(sec-r, 0).UTC()
}

// newLeaf salts and hashes one row in the given encoding version; buf is
// scratch space. (crypto/rand.Read never fails: it crashes the program
// rather than return an error.)
func newLeaf(r *Row, version int, buf *[]byte) leaf {
	salt := make([]byte, SaltSize)
	_, _ = rand.Read(salt)
	comm := r.commit(version, salt)
	*buf = r.appendCanonical((*buf)[:0], version, comm)
	return leaf{
		t:          r.Time.UnixMicro(),
		id:         r.EventID,
		hash:       LeafHash(*buf),
		salt:       salt,
		commitment: comm,
	}
}

// write builds, signs and stores the digest of leaves for [start, end).
func (s *Sealer) write(ctx context.Context, tx pgx.Tx, cs *chainState, start, end time.Time, part int, leaves []leaf, now time.Time, rep *SealReport) error {
	sortLeaves(leaves)
	hashes := make([][32]byte, len(leaves))
	for i := range leaves {
		leaves[i].idx = int64(i)
		hashes[i] = leaves[i].hash
	}
	t, err := newTree(hashes)
	if err != nil {
		return err
	}
	root, err := t.root()
	if err != nil {
		return err
	}
	d := Digest{
		Seq:      cs.seq + 1,
		Version:  s.version,
		Start:    start.UTC(),
		End:      end.UTC(),
		Part:     part,
		Count:    int64(len(leaves)),
		Root:     root,
		SealedAt: now,
		Prev:     cs.prev,
		KeyID:    KeyID(s.pub),
	}
	if n := len(leaves); n > 0 {
		d.First, d.Last = time.UnixMicro(leaves[0].t).UTC(), time.UnixMicro(leaves[n-1].t).UTC()
	}
	d.Signature = ed25519.Sign(s.key, d.SignedBytes())
	if err := insertDigest(ctx, tx, s.st, &d, leaves); err != nil {
		return err
	}
	cs.seq, cs.prev = d.Seq, d.Hash()
	if part == 0 {
		cs.mainEnd = d.End
	}
	rep.Digests = append(rep.Digests, d)
	rep.Rows += d.Count
	return nil
}

// HoldOffSealing takes, for the rest of tx, the lock that serialises
// [Sealer.Seal] runs on the same digest table (options: [WithSchema],
// [WithDigestTable]): no run starts until tx ends, and tx waits for a run
// in progress to end. An erasure takes it so that it never interleaves
// with a run: a run that read a row before the erasure changed it would
// seal the old values with a salt the erasure did not drop, and the row
// would verify as edited.
func HoldOffSealing(ctx context.Context, tx pgx.Tx, opts ...Option) error {
	c, err := newConfig(opts)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", c.lockKey("seal")); err != nil {
		return fmt.Errorf("seal: take the seal lock: %w", err)
	}
	return nil
}
