package seal

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

// Kind is what a [Finding] reports.
type Kind int

// The kinds of findings. Every kind but [Late] is a failure.
const (
	// Edited: a sealed row's content differs from what was sealed (or a
	// store holds two copies of it that differ).
	Edited Kind = iota + 1
	// Deleted: a sealed row is missing from a store.
	Deleted
	// Moved: a sealed row is in a store with another time than the one
	// sealed: the time order was changed.
	Moved
	// Inserted: a row of a sealed range is in no digest and was not
	// ingested after the range was sealed.
	Inserted
	// Late: a row of a sealed range arrived after the range was sealed
	// (ingested_at after the seal, less the late grace). Not a failure:
	// it is sealed by a later run in a digest of Part > 0, and reported
	// with that digest from then on.
	Late
	// Mismatch: the stores hold different content for a row that no
	// digest covers yet.
	Mismatch
	// BadSignature: a digest's signature does not verify with the public
	// key (edited digest, or signed by another key), or its version is
	// unknown. The rows of its range are not compared.
	BadSignature
	// BrokenChain: a digest's Prev is not the hash of the digest before
	// it, a sequence number is missing, or the sealed ranges have a gap or
	// an overlap.
	BrokenChain
	// BadLeaves: the stored leaves of a digest do not rebuild its signed
	// root (count, order, time range or hashes differ). The rows of its
	// range are not compared.
	BadLeaves
)

var kindNames = map[Kind]string{
	Edited: "edited", Deleted: "deleted", Moved: "moved", Inserted: "inserted", Late: "late",
	Mismatch: "mismatch", BadSignature: "bad_signature", BrokenChain: "broken_chain", BadLeaves: "bad_leaves",
}

// String returns the kind's name: "edited", "deleted", "moved",
// "inserted", "late", "mismatch", "bad_signature", "broken_chain",
// "bad_leaves".
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Fails reports whether a finding of this kind makes the verification
// fail: every kind but [Late].
func (k Kind) Fails() bool { return k != Late }

// Finding is one thing [Verifier.Verify] found.
type Finding struct {
	Kind Kind
	// Store is the source's name ("postgres", "clickhouse"); empty for
	// findings about digests.
	Store string
	// Seq is the digest concerned (0 when none covers the row).
	Seq int64
	// EventID and Time name the row (zero for findings about digests).
	// Time is the row's time in the store (for Deleted, the sealed time).
	EventID uuid.UUID
	Time    time.Time
	Detail  string
}

// String returns a one-line description.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Kind.String())
	if f.Store != "" {
		b.WriteString(" in " + f.Store)
	}
	if f.Seq != 0 {
		b.WriteString(" (digest " + strconv.FormatInt(f.Seq, 10) + ")")
	}
	if f.EventID != uuid.Nil {
		b.WriteString(": event " + f.EventID.String() + " at " + f.Time.UTC().Format(time.RFC3339Nano))
	}
	if f.Detail != "" {
		b.WriteString(": " + f.Detail)
	}
	return b.String()
}

// RangeResult is what one sealed range gave.
type RangeResult struct {
	Start, End time.Time
	// Seqs are the range's digests: its seal, then its late parts.
	Seqs []int64
	// Sealed is the number of rows the digests cover.
	Sealed int64
	// Compared is false when a digest of the range was not trusted (bad
	// signature, bad leaves): its rows were not compared.
	Compared bool
	// Rows is the number of rows each store returned.
	Rows map[string]int64
	// Agree is true when every store returned the same rows with the same
	// hashes (always true with one store).
	Agree bool
}

// Result is the outcome of [Verifier.Verify].
type Result struct {
	// OK is true when no finding fails ([Kind.Fails]).
	OK bool
	// Digests is the number of digests in the chain; Tip the newest one's
	// seq and hash. Deleting the newest digests leaves a shorter valid
	// chain: compare Tip with a copy kept elsewhere.
	Digests int
	TipSeq  int64
	TipHash [32]byte
	// Ranges are the sealed ranges whose rows were read.
	Ranges []RangeResult
	// Erased counts rows whose personal fields were checked through their
	// kept commitment only (salt erased).
	Erased int64
	// Findings lists everything found, late rows included.
	Findings []Finding
}

// ErrVerifyFailed is returned (wrapped) by [Verifier.Verify] when a finding
// fails: the Result says which.
var ErrVerifyFailed = errors.New("seal: verification failed")

// Verifier checks the chain of digests and the stores against it, and
// builds inclusion proofs.
type Verifier struct {
	pool *pgxpool.Pool
	pub  ed25519.PublicKey
	c    config
	st   *statements
}

// NewVerifier returns a verifier of the digests stored in the database of
// pool, signed by the key of pub. Options: [WithSchema],
// [WithDigestTable], [WithLateGrace], [WithRange]. It never closes pool.
func NewVerifier(pool *pgxpool.Pool, pub ed25519.PublicKey, opts ...Option) (*Verifier, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: nil pool", ErrInvalidOptions)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key of %d bytes, want %d", ErrInvalidOptions, len(pub), ed25519.PublicKeySize)
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	st, err := newStatements(c)
	if err != nil {
		return nil, err
	}
	return &Verifier{pool: pool, pub: pub, c: c, st: st}, nil
}

// Digests returns every stored digest, in chain order, unchecked.
func (v *Verifier) Digests(ctx context.Context) ([]Digest, error) {
	return readDigests(ctx, v.pool, v.st.digests)
}

// Verify checks the whole chain of digests (sequence, links, signatures,
// contiguous ranges), then, for every sealed range (within [WithRange]),
// that the stored leaves rebuild each signed root and that every source
// holds exactly the sealed rows: it recomputes each row's leaf hash and
// reports, with the event id, every row edited, deleted, moved in time,
// or inserted into the range after its seal, and every late row. With
// several sources, it also reports rows no digest covers yet whose
// content differs between them, and says per range whether the stores
// agree.
//
// With no source, only the chain and the stored leaves are checked.
//
// The Result lists every finding. When one fails ([Kind.Fails]), Result.OK
// is false and Verify returns the Result with an error wrapping
// [ErrVerifyFailed]. Other errors (a store that cannot be read) come
// without a Result.
func (v *Verifier) Verify(ctx context.Context, sources ...Source) (*Result, error) {
	ds, err := v.Digests(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Digests: len(ds)}
	if n := len(ds); n > 0 {
		res.TipSeq, res.TipHash = ds[n-1].Seq, ds[n-1].Hash()
	}
	trusted := v.checkChain(ds, res)
	if f, ok := v.checkKnownTip(ds); !ok {
		res.Findings = append(res.Findings, f)
	}

	// Ranges are verified concurrently, each into its own partial result,
	// merged in range order: reading a range keeps a database backend
	// busy, hashing it keeps this process busy, and the two overlap.
	type rangeOut struct {
		rr      RangeResult
		part    Result
		moved   map[storeEvent]bool
		deleted []Finding
	}
	var outs []*rangeOut
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(verifyConcurrency)
	for _, rg := range groupRanges(ds) {
		if !v.inRange(rg.main) {
			continue
		}
		o := &rangeOut{moved: map[storeEvent]bool{}}
		outs = append(outs, o)
		g.Go(func() error {
			var err error
			o.rr, o.deleted, err = v.verifyRange(gctx, rg, trusted, sources, &o.part, o.moved)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	moved := map[storeEvent]bool{}
	var deleted []Finding
	for _, o := range outs {
		res.Ranges = append(res.Ranges, o.rr)
		res.Findings = append(res.Findings, o.part.Findings...)
		res.Erased += o.part.Erased
		maps.Copy(moved, o.moved)
		deleted = append(deleted, o.deleted...)
	}
	for _, f := range deleted {
		if !moved[storeEvent{f.Store, f.EventID}] {
			res.Findings = append(res.Findings, f)
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := &res.Findings[i], &res.Findings[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.EventID != b.EventID {
			return string(a.EventID[:]) < string(b.EventID[:])
		}
		return a.Store < b.Store
	})
	failed := 0
	for _, f := range res.Findings {
		if f.Kind.Fails() {
			failed++
		}
	}
	res.OK = failed == 0
	if !res.OK {
		return res, fmt.Errorf("%w: %d findings (%s)", ErrVerifyFailed, failed, summary(res.Findings))
	}
	return res, nil
}

// summary counts failing findings by kind, e.g. "2 edited, 1 deleted".
func summary(fs []Finding) string {
	counts := map[Kind]int{}
	for _, f := range fs {
		if f.Kind.Fails() {
			counts[f.Kind]++
		}
	}
	kinds := make([]Kind, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = strconv.Itoa(counts[k]) + " " + k.String()
	}
	return strings.Join(parts, ", ")
}

type storeEvent struct {
	store string
	id    uuid.UUID
}

// checkChain checks sequence, links, signatures and range contiguity, and
// returns the seqs of the digests whose signature verifies.
func (v *Verifier) checkChain(ds []Digest, res *Result) map[int64]bool {
	trusted := map[int64]bool{}
	mains := map[int64]*Digest{} // by start, Unix microseconds
	var prev *Digest
	var mainEnd time.Time
	for i := range ds {
		d := &ds[i]
		if err := d.Check(v.pub); err != nil {
			res.Findings = append(res.Findings, Finding{Kind: BadSignature, Seq: d.Seq, Detail: err.Error()})
		} else {
			trusted[d.Seq] = true
		}
		wantSeq, wantPrev := int64(1), [32]byte{}
		if prev != nil {
			wantSeq, wantPrev = prev.Seq+1, prev.Hash()
		}
		switch {
		case d.Seq != wantSeq:
			res.Findings = append(res.Findings, Finding{Kind: BrokenChain, Seq: d.Seq,
				Detail: fmt.Sprintf("digest %d follows digest %d: digests are missing", d.Seq, wantSeq-1)})
		case d.Prev != wantPrev:
			res.Findings = append(res.Findings, Finding{Kind: BrokenChain, Seq: d.Seq,
				Detail: fmt.Sprintf("prev hash %x is not the hash %x of digest %d", d.Prev[:8], wantPrev[:8], wantSeq-1)})
		}
		if d.Part == 0 {
			if !mainEnd.IsZero() && !d.Start.Equal(mainEnd) {
				res.Findings = append(res.Findings, Finding{Kind: BrokenChain, Seq: d.Seq,
					Detail: fmt.Sprintf("range starts at %s, the previous range ended at %s", d.Start.Format(time.RFC3339), mainEnd.Format(time.RFC3339))})
			}
			mainEnd = d.End
			mains[d.Start.UnixMicro()] = d
		} else if m := mains[d.Start.UnixMicro()]; m == nil || !m.End.Equal(d.End) {
			res.Findings = append(res.Findings, Finding{Kind: BrokenChain, Seq: d.Seq,
				Detail: fmt.Sprintf("late part %d of range [%s, %s), which no earlier digest seals", d.Part, d.Start.Format(time.RFC3339), d.End.Format(time.RFC3339))})
		}
		prev = d
	}
	return trusted
}

// verifyConcurrency is how many sealed ranges Verify reads at once.
const verifyConcurrency = 2

// checkKnownTip reports whether ds holds the digest given by WithKnownTip
// (true when none was given), and the finding when it does not.
func (v *Verifier) checkKnownTip(ds []Digest) (Finding, bool) {
	if v.c.tipSeq == 0 {
		return Finding{}, true
	}
	for i := range ds {
		if ds[i].Seq != v.c.tipSeq {
			continue
		}
		h := ds[i].Hash()
		if h == v.c.tipHash {
			return Finding{}, true
		}
		return Finding{Kind: BrokenChain, Seq: v.c.tipSeq,
			Detail: fmt.Sprintf("digest %d has hash %x, not the known tip's %x: the chain was rewritten", v.c.tipSeq, h[:8], v.c.tipHash[:8])}, false
	}
	return Finding{Kind: BrokenChain, Seq: v.c.tipSeq,
		Detail: fmt.Sprintf("the known tip, digest %d, is missing: the chain was cut back to %d digests", v.c.tipSeq, len(ds))}, false
}

// sealedRange is a range's seal and its late parts.
type sealedRange struct {
	main  *Digest
	parts []*Digest // main first
}

func groupRanges(ds []Digest) []*sealedRange {
	byStart := map[int64]*sealedRange{}
	var out []*sealedRange
	for i := range ds {
		d := &ds[i]
		k := d.Start.UnixMicro()
		rg := byStart[k]
		if d.Part == 0 && (rg == nil || rg.main != nil) {
			rg = &sealedRange{main: d}
			byStart[k] = rg
			out = append(out, rg)
		} else if rg == nil {
			continue // a late part without its range: a BrokenChain finding
		}
		rg.parts = append(rg.parts, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].main.Start.Before(out[j].main.Start) })
	return out
}

func (v *Verifier) inRange(d *Digest) bool {
	if !v.c.from.IsZero() && !d.End.After(v.c.from) {
		return false
	}
	if !v.c.to.IsZero() && !d.Start.Before(v.c.to) {
		return false
	}
	return true
}

// storeView is what one source returned for one range.
type storeView struct {
	seen      []int32    // matching rows per leaf
	hash      [][32]byte // the hash of the row matched to each leaf
	uncovered map[uuid.UUID]uncoveredRow
	late      map[uuid.UUID]bool // classification of uncovered rows
	rows      int64
}

// checkedRow is a row with its leaf (li, -1 when no digest covers it) and
// its recomputed leaf hash.
type checkedRow struct {
	r      *Row
	li     int32
	hash   [32]byte
	moved  bool // its time differs from the sealed one; hash not computed
	erased bool // checked through the kept commitment
}

type uncoveredRow struct {
	t        time.Time
	hash     [32]byte
	ingested time.Time
}

// verifyRange compares every source with one range's leaves. It returns
// the range's result and its Deleted findings, which the caller drops for
// rows found Moved elsewhere.
func (v *Verifier) verifyRange(ctx context.Context, rg *sealedRange, trusted map[int64]bool, sources []Source, res *Result, moved map[storeEvent]bool) (RangeResult, []Finding, error) {
	m := rg.main
	rr := RangeResult{Start: m.Start, End: m.End, Rows: map[string]int64{}, Agree: true}
	for _, d := range rg.parts {
		rr.Seqs = append(rr.Seqs, d.Seq)
		rr.Sealed += d.Count
	}
	for _, d := range rg.parts {
		if !trusted[d.Seq] {
			return rr, nil, nil // reported by checkChain
		}
	}
	leaves, err := readLeaves(ctx, v.pool, v.st, rr.Seqs)
	if err != nil {
		return rr, nil, err
	}
	if !v.checkLeaves(rg, leaves, res) {
		return rr, nil, nil
	}
	rr.Compared = true
	part := map[int64]int{}
	version := map[int64]int{}
	for _, d := range rg.parts {
		part[d.Seq] = d.Part
		version[d.Seq] = d.Version
	}
	index := make(map[uuid.UUID]int32, len(leaves))
	for i := range leaves {
		index[leaves[i].id] = int32(i)
	}
	lateBefore := m.SealedAt.Add(-v.c.lateGrace)

	views := make([]*storeView, len(sources))
	for si, src := range sources {
		sv := &storeView{
			seen:      make([]int32, len(leaves)),
			hash:      make([][32]byte, len(leaves)),
			uncovered: map[uuid.UUID]uncoveredRow{},
			late:      map[uuid.UUID]bool{},
		}
		views[si] = sv
		name := src.Name()
		compute := func(r *Row, buf *[]byte) checkedRow {
			li, ok := index[r.EventID]
			if !ok {
				*buf = r.appendCanonical((*buf)[:0], EncodingVersion, r.commit(EncodingVersion, nil))
				return checkedRow{r: r, li: -1, hash: LeafHash(*buf)}
			}
			l := &leaves[li]
			if l.t != r.Time.UnixMicro() {
				return checkedRow{r: r, li: li, moved: true}
			}
			ver := version[l.seq]
			comm := l.commitment
			if l.salt != nil {
				comm = r.commit(ver, l.salt)
			}
			*buf = r.appendCanonical((*buf)[:0], ver, comm)
			return checkedRow{r: r, li: li, hash: LeafHash(*buf), erased: l.salt == nil}
		}
		apply := func(x checkedRow) {
			r := x.r
			sv.rows++
			if x.li < 0 {
				sv.uncovered[r.EventID] = uncoveredRow{t: r.Time, hash: x.hash, ingested: r.IngestedAt}
				return
			}
			l := &leaves[x.li]
			sv.seen[x.li]++
			switch {
			case x.moved:
				moved[storeEvent{name, r.EventID}] = true
				res.Findings = append(res.Findings, Finding{Kind: Moved, Store: name, Seq: l.seq, EventID: r.EventID, Time: r.Time,
					Detail: "sealed at " + time.UnixMicro(l.t).UTC().Format(time.RFC3339Nano)})
				return
			case sv.seen[x.li] > 1:
				if x.hash != sv.hash[x.li] {
					res.Findings = append(res.Findings, Finding{Kind: Edited, Store: name, Seq: l.seq, EventID: r.EventID, Time: r.Time,
						Detail: "two copies of the row differ"})
				}
				return
			}
			if x.erased && si == 0 {
				res.Erased++
			}
			switch {
			case x.hash != l.hash:
				res.Findings = append(res.Findings, Finding{Kind: Edited, Store: name, Seq: l.seq, EventID: r.EventID, Time: r.Time,
					Detail: "content differs from the sealed row"})
			case part[l.seq] > 0:
				res.Findings = append(res.Findings, Finding{Kind: Late, Store: name, Seq: l.seq, EventID: r.EventID, Time: r.Time,
					Detail: fmt.Sprintf("arrived after the range was sealed; sealed in digest %d", l.seq)})
			}
			sv.hash[x.li] = x.hash
		}
		err := pipeline(func(emit func(*Row) error) error {
			return src.Rows(ctx, m.Start, m.End, emit)
		}, compute, apply)
		if err != nil {
			return rr, nil, err
		}
		rr.Rows[name] = sv.rows
	}

	// Rows no digest covers: first those whose store records when they
	// were ingested, which vouches for the others.
	for _, sv := range views {
		for id, u := range sv.uncovered {
			if !u.ingested.IsZero() {
				sv.late[id] = u.ingested.After(lateBefore)
			}
		}
	}
	for si, src := range sources {
		name, sv := src.Name(), views[si]
		ids := make([]uuid.UUID, 0, len(sv.uncovered))
		for id := range sv.uncovered {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(string(a[:]), string(b[:])) })
		for _, id := range ids {
			u := sv.uncovered[id]
			elsewhere, err := v.sealedElsewhere(ctx, id)
			if err != nil {
				return rr, nil, err
			}
			if elsewhere != nil {
				moved[storeEvent{name, id}] = true
				res.Findings = append(res.Findings, Finding{Kind: Moved, Store: name, Seq: elsewhere.seq, EventID: id, Time: u.t,
					Detail: "sealed at " + time.UnixMicro(elsewhere.t).UTC().Format(time.RFC3339Nano)})
				continue
			}
			late, detail := false, ""
			switch {
			case !u.ingested.IsZero():
				late = sv.late[id]
				detail = "ingested at " + u.ingested.UTC().Format(time.RFC3339Nano) + ", range sealed at " + m.SealedAt.Format(time.RFC3339Nano)
			default:
				// No ingestion time in this store: ask the stores that have one.
				detail = "in no digest, and no other store vouches for a late arrival"
				for oi := range sources {
					if oi != si && views[oi].late[id] {
						late, detail = true, "late in "+sources[oi].Name()
					}
				}
			}
			kind := Inserted
			if late {
				kind = Late
				detail = "arrived after the range was sealed, not sealed yet; " + detail
			}
			res.Findings = append(res.Findings, Finding{Kind: kind, Store: name, EventID: id, Time: u.t, Detail: detail})
		}
	}

	// Agreement between stores.
	for si := 1; si < len(views); si++ {
		a, b := views[0], views[si]
		if !slices.Equal(a.hash, b.hash) || len(a.uncovered) != len(b.uncovered) {
			rr.Agree = false
		}
		for li := range a.seen {
			// Unmerged ClickHouse copies of a row count once.
			if (a.seen[li] == 0) != (b.seen[li] == 0) {
				rr.Agree = false
			}
		}
		for id, ua := range a.uncovered {
			ub, ok := b.uncovered[id]
			if !ok {
				rr.Agree = false
				continue
			}
			if ua.hash != ub.hash {
				rr.Agree = false
				res.Findings = append(res.Findings, Finding{Kind: Mismatch, Store: sources[si].Name(), EventID: id, Time: ub.t,
					Detail: "differs from " + sources[0].Name() + " (no digest covers it yet)"})
			}
		}
	}

	var deleted []Finding
	for si, src := range sources {
		for li := range leaves {
			if views[si].seen[li] == 0 {
				l := &leaves[li]
				deleted = append(deleted, Finding{Kind: Deleted, Store: src.Name(), Seq: l.seq, EventID: l.id,
					Time: time.UnixMicro(l.t).UTC(), Detail: "sealed row not found"})
			}
		}
	}
	return rr, deleted, nil
}

// sealedElsewhere returns the leaf of an event sealed in any digest, or
// nil.
func (v *Verifier) sealedElsewhere(ctx context.Context, id uuid.UUID) (*leaf, error) {
	rows, err := v.pool.Query(ctx, v.st.leafOfEvent, id)
	if err != nil {
		return nil, fmt.Errorf("seal: look up the leaf of event %s: %w", id, err)
	}
	ls, err := scanLeaves(rows)
	if err != nil {
		return nil, fmt.Errorf("seal: look up the leaf of event %s: %w", id, err)
	}
	if len(ls) == 0 {
		return nil, nil
	}
	return &ls[0], nil
}

// checkLeaves checks that the leaves of each digest of the range rebuild
// its signed root, and reports those that do not.
func (v *Verifier) checkLeaves(rg *sealedRange, leaves []leaf, res *Result) bool {
	ok := true
	i := 0
	for _, d := range rg.parts {
		j := i
		for j < len(leaves) && leaves[j].seq == d.Seq {
			j++
		}
		ls := leaves[i:j]
		i = j
		if problem := leavesProblem(d, ls); problem != "" {
			ok = false
			res.Findings = append(res.Findings, Finding{Kind: BadLeaves, Seq: d.Seq, Detail: problem})
		}
	}
	return ok
}

// leavesProblem describes how ls fails to rebuild d, or returns "".
func leavesProblem(d *Digest, ls []leaf) string {
	if int64(len(ls)) != d.Count {
		return fmt.Sprintf("%d leaves stored, the digest seals %d", len(ls), d.Count)
	}
	lo, hi := d.Start.UnixMicro(), d.End.UnixMicro()
	hashes := make([][32]byte, len(ls))
	for i := range ls {
		l := &ls[i]
		switch {
		case l.idx != int64(i):
			return fmt.Sprintf("leaf %d stored at index %d", i, l.idx)
		case l.t < lo || l.t >= hi:
			return fmt.Sprintf("leaf %d (event %s) is outside the range", i, l.id)
		case i > 0 && !ls[i-1].before(l):
			return fmt.Sprintf("leaf %d (event %s) is out of (time, event id) order", i, l.id)
		}
		hashes[i] = l.hash
	}
	if n := len(ls); n > 0 && (ls[0].t != d.First.UnixMicro() || ls[n-1].t != d.Last.UnixMicro()) {
		return "first or last leaf time differs from the digest's"
	}
	t, err := newTree(hashes)
	if err != nil {
		return err.Error()
	}
	root, err := t.root()
	if err != nil {
		return err.Error()
	}
	if root != d.Root {
		return fmt.Sprintf("the leaves' root %x differs from the signed root %x", root[:8], d.Root[:8])
	}
	return ""
}
