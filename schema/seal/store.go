package seal

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// querier is what reads need: a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// leaf is one sealed row as the leaves table holds it.
type leaf struct {
	seq        int64
	idx        int64
	t          int64 // Unix microseconds
	id         uuid.UUID
	hash       [32]byte
	salt       []byte // nil once erased
	commitment [32]byte
}

// before orders leaves by (time, event id): the order of a digest's tree.
func (l *leaf) before(o *leaf) bool {
	if l.t != o.t {
		return l.t < o.t
	}
	return bytes.Compare(l.id[:], o.id[:]) < 0
}

func sortLeaves(ls []leaf) {
	slices.SortFunc(ls, func(a, b leaf) int {
		switch {
		case a.before(&b):
			return -1
		case b.before(&a):
			return 1
		}
		return 0
	})
}

// readDigests returns the digests of the query (the "digests" or
// "last_digest" shape), in seq order.
func readDigests(ctx context.Context, q querier, sql string) ([]Digest, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("seal: read digests: %w", err)
	}
	defer rows.Close()
	var out []Digest
	for rows.Next() {
		var (
			d                      Digest
			version                int16
			part                   int32
			first, last            pgtype.Timestamptz
			root, prev, keyID, sig []byte
			start, end, sealedAt   time.Time
			count                  int64
		)
		if err := rows.Scan(&d.Seq, &version, &start, &end, &part, &count, &root, &first, &last,
			&sealedAt, &prev, &keyID, &sig); err != nil {
			return nil, fmt.Errorf("seal: read digests: %w", err)
		}
		d.Version, d.Part, d.Count = int(version), int(part), count
		d.Start, d.End, d.SealedAt = start.UTC(), end.UTC(), sealedAt.UTC()
		if first.Valid {
			d.First = first.Time.UTC()
		}
		if last.Valid {
			d.Last = last.Time.UTC()
		}
		// Wrong lengths leave a zero or cut value: the signature check
		// then fails, which is the finding.
		copy(d.Root[:], root)
		copy(d.Prev[:], prev)
		copy(d.KeyID[:], keyID)
		d.Signature = sig
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seal: read digests: %w", err)
	}
	return out, nil
}

// insertDigest writes d and its leaves (in tree order, idx set).
func insertDigest(ctx context.Context, tx pgx.Tx, st *statements, d *Digest, leaves []leaf) error {
	var first, last any
	if d.Count > 0 {
		first, last = d.First, d.Last
	}
	if _, err := tx.Exec(ctx, st.insertDigest, d.Seq, int16(d.Version), d.Start, d.End, int32(d.Part), d.Count,
		d.Root[:], first, last, d.SealedAt, d.Prev[:], d.KeyID[:], d.Signature); err != nil {
		return fmt.Errorf("seal: write digest %d: %w", d.Seq, err)
	}
	if len(leaves) == 0 {
		return nil
	}
	cols := []string{"seq", "idx", "created_at", "event_id", "leaf_hash", "salt", "commitment"}
	n, err := tx.CopyFrom(ctx, pgx.Identifier(st.leavesTable), cols, pgx.CopyFromSlice(len(leaves), func(i int) ([]any, error) {
		l := &leaves[i]
		return []any{d.Seq, l.idx, time.UnixMicro(l.t), l.id, l.hash[:], l.salt, l.commitment[:]}, nil
	}))
	if err != nil {
		return fmt.Errorf("seal: write %d leaves of digest %d: %w", len(leaves), d.Seq, err)
	}
	if n != int64(len(leaves)) {
		return fmt.Errorf("seal: wrote %d of %d leaves of digest %d", n, len(leaves), d.Seq)
	}
	return nil
}

// readLeaves returns the leaves of the digests seqs, ordered by seq, idx.
func readLeaves(ctx context.Context, q querier, st *statements, seqs []int64) ([]leaf, error) {
	rows, err := q.Query(ctx, st.leaves, seqs)
	if err != nil {
		return nil, fmt.Errorf("seal: read leaves of digests %v: %w", seqs, err)
	}
	out, err := scanLeaves(rows)
	if err != nil {
		return nil, fmt.Errorf("seal: read leaves of digests %v: %w", seqs, err)
	}
	return out, nil
}

func scanLeaves(rows pgx.Rows) ([]leaf, error) {
	defer rows.Close()
	var (
		out        []leaf
		l          leaf
		created    time.Time
		id         pgtype.UUID
		hash, comm []byte
		salt       []byte
	)
	for rows.Next() {
		salt = nil
		if err := rows.Scan(&l.seq, &l.idx, &created, &id, &hash, &salt, &comm); err != nil {
			return nil, err
		}
		l.t = created.UnixMicro()
		l.id = uuid.UUID(id.Bytes)
		l.hash, l.commitment = [32]byte{}, [32]byte{}
		copy(l.hash[:], hash)
		copy(l.commitment[:], comm)
		l.salt = nil
		if salt != nil {
			l.salt = slices.Clone(salt)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
