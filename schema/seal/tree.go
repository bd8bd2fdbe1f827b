package seal

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// tree is the Merkle tree of one digest's leaves, as the stored hashes of
// golang.org/x/mod/sumdb/tlog (RFC 6962 hashing): every leaf and every
// complete subtree, 2n hashes for n leaves, in memory.
type tree struct {
	n      int64
	stored []tlog.Hash
}

// newTree builds the tree of the leaf hashes, in order.
func newTree(leaves [][32]byte) (*tree, error) {
	t := &tree{stored: make([]tlog.Hash, 0, 2*len(leaves))}
	for _, l := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(t.n, tlog.Hash(l), t)
		if err != nil {
			return nil, fmt.Errorf("seal: merkle tree, leaf %d: %w", t.n, err)
		}
		t.stored = append(t.stored, hs...)
		t.n++
	}
	return t, nil
}

// ReadHashes implements tlog.HashReader.
func (t *tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.stored)) {
			return nil, fmt.Errorf("seal: merkle tree: no stored hash %d", x)
		}
		out[i] = t.stored[x]
	}
	return out, nil
}

// root returns the tree hash (zero for no leaves).
func (t *tree) root() ([32]byte, error) {
	h, err := tlog.TreeHash(t.n, t)
	if err != nil {
		return [32]byte{}, fmt.Errorf("seal: merkle root of %d leaves: %w", t.n, err)
	}
	return h, nil
}

// prove returns the inclusion proof of leaf i.
func (t *tree) prove(i int64) (tlog.RecordProof, error) {
	p, err := tlog.ProveRecord(t.n, i, t)
	if err != nil {
		return nil, fmt.Errorf("seal: inclusion proof of leaf %d of %d: %w", i, t.n, err)
	}
	return p, nil
}
