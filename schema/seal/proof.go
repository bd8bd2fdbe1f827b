package seal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
)

// Proof is the audit path that proves one row is a leaf of a signed
// digest. It holds no personal data: only the salt and commitment of the
// row's personal fields.
type Proof struct {
	EventID uuid.UUID
	// Time is the sealed time of the row (microseconds).
	Time time.Time
	// Seq is the digest whose tree holds the row, Index the row's leaf.
	Seq   int64
	Index int64
	// Version is the digest's encoding version, which the row's canonical
	// bytes must use ([Proof.Canonical] does). 0, in a proof kept from
	// before this field existed, means version 1, the only one then.
	Version int
	// Salt is the salt of the row's commitment (the personal fields, and
	// from version 2 the resource id and JSON values); nil once the person
	// was erased, and then Commitment alone stands for those fields.
	Salt       []byte
	Commitment [32]byte
	// Path is the RFC 6962 inclusion proof (golang.org/x/mod/sumdb/tlog
	// RecordProof): the sibling hashes from the leaf up to the root.
	Path [][32]byte
}

// Canonical returns the canonical bytes of r as sealed under p, in the
// digest's encoding version: the committed fields committed with p.Salt,
// or p.Commitment when the salt was erased.
func (p *Proof) Canonical(r *Row) []byte {
	ver := p.Version
	if ver == 0 {
		ver = encodingV1
	}
	comm := p.Commitment
	if p.Salt != nil {
		comm = r.commit(ver, p.Salt)
	}
	return r.appendCanonical(make([]byte, 0, 512), ver, comm)
}

// ErrNotSealed is returned (wrapped) by [Verifier.Prove] for an event that
// no digest covers (yet).
var ErrNotSealed = errors.New("seal: event not sealed")

// ErrProofInvalid is returned (wrapped) by [VerifyInclusion] when the proof
// does not tie the row to the digest.
var ErrProofInvalid = errors.New("seal: inclusion proof does not verify")

// Prove returns the inclusion proof of the event and the digest it is in.
// It checks that the stored leaves rebuild the digest's signed root, and
// that the digest verifies with the verifier's key, before returning.
func (v *Verifier) Prove(ctx context.Context, id uuid.UUID) (*Proof, *Digest, error) {
	l, err := v.sealedElsewhere(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if l == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotSealed, id)
	}
	ds, err := v.Digests(ctx)
	if err != nil {
		return nil, nil, err
	}
	var d *Digest
	for i := range ds {
		if ds[i].Seq == l.seq {
			d = &ds[i]
		}
	}
	if d == nil {
		return nil, nil, fmt.Errorf("seal: event %s: digest %d is missing", id, l.seq)
	}
	if err := d.Check(v.pub); err != nil {
		return nil, nil, err
	}
	rows, err := v.pool.Query(ctx, v.st.leafHashes, l.seq)
	if err != nil {
		return nil, nil, fmt.Errorf("seal: read the leaves of digest %d: %w", l.seq, err)
	}
	var hashes [][32]byte
	var h []byte
	for rows.Next() {
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("seal: read the leaves of digest %d: %w", l.seq, err)
		}
		var x [32]byte
		copy(x[:], h)
		hashes = append(hashes, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("seal: read the leaves of digest %d: %w", l.seq, err)
	}
	t, err := newTree(hashes)
	if err != nil {
		return nil, nil, err
	}
	if root, err := t.root(); err != nil || root != d.Root || int64(len(hashes)) != d.Count {
		return nil, nil, fmt.Errorf("seal: the stored leaves of digest %d do not rebuild its root: run Verify", d.Seq)
	}
	path, err := t.prove(l.idx)
	if err != nil {
		return nil, nil, err
	}
	p := &Proof{
		EventID:    id,
		Time:       time.UnixMicro(l.t).UTC(),
		Seq:        l.seq,
		Index:      l.idx,
		Version:    d.Version,
		Salt:       l.salt,
		Commitment: l.commitment,
		Path:       make([][32]byte, len(path)),
	}
	for i, x := range path {
		p.Path[i] = x
	}
	return p, d, nil
}

// VerifyInclusion checks, offline, that canonical (a row's canonical
// bytes, see [Row.Canonical] and [Proof.Canonical]) is the leaf p.Index of
// the tree whose root d signs, and that d verifies with pub. It needs no
// database. The canonical bytes must name p.EventID and p.Time.
func VerifyInclusion(p *Proof, canonical []byte, d *Digest, pub ed25519.PublicKey) error {
	if p == nil || d == nil {
		return fmt.Errorf("%w: nil proof or digest", ErrProofInvalid)
	}
	if err := d.Check(pub); err != nil {
		return err
	}
	if p.Seq != d.Seq {
		return fmt.Errorf("%w: the proof is for digest %d, not %d", ErrProofInvalid, p.Seq, d.Seq)
	}
	if len(canonical) < 25 || int(canonical[0]) != d.Version {
		return fmt.Errorf("%w: not canonical row bytes of version %d", ErrProofInvalid, d.Version)
	}
	var head [25]byte
	head[0] = byte(d.Version)
	putMicros(head[1:9], p.Time)
	copy(head[9:], p.EventID[:])
	if !bytes.Equal(canonical[:25], head[:]) {
		return fmt.Errorf("%w: the row is not event %s at %s", ErrProofInvalid, p.EventID, p.Time.Format(time.RFC3339Nano))
	}
	path := make(tlog.RecordProof, len(p.Path))
	for i, x := range p.Path {
		path[i] = x
	}
	if err := tlog.CheckRecord(path, d.Count, d.Root, p.Index, LeafHash(canonical)); err != nil {
		return fmt.Errorf("%w: event %s in digest %d: %w", ErrProofInvalid, p.EventID, d.Seq, err)
	}
	return nil
}

func putMicros(b []byte, t time.Time) {
	us := uint64(t.UnixMicro())
	for i := 7; i >= 0; i-- {
		b[i] = byte(us)
		us >>= 8
	}
}
