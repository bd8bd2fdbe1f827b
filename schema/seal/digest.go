package seal

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Digest is one signed entry of the chain: the Merkle root of the rows of
// one sealed range, or of the late rows of a range sealed before.
type Digest struct {
	// Seq is the digest's place in the chain: 1, 2, 3, ...
	Seq int64
	// Version is the encoding version ([EncodingVersion]) of the rows and
	// of this digest.
	Version int
	// Start and End bound the range of event times the digest covers,
	// [Start, End). Ranges of digests of Part 0 follow each other without
	// gap or overlap; a range may span several empty windows.
	Start, End time.Time
	// Part is 0 for the seal of the range, 1, 2, ... for late rows of the
	// range sealed afterwards.
	Part int
	// Count is the number of rows (Merkle leaves).
	Count int64
	// Root is the RFC 6962 Merkle tree hash of the leaves, in (time, event
	// id) order; zero when Count is 0.
	Root [32]byte
	// First and Last are the times of the first and last row (zero when
	// Count is 0), in microseconds.
	First, Last time.Time
	// SealedAt is when the sealing transaction started, by the database's
	// clock. Rows of the range ingested after it are late.
	SealedAt time.Time
	// Prev is [Digest.Hash] of the digest before this one; zero for the
	// first.
	Prev [32]byte
	// KeyID names the signing key: the first 8 bytes of SHA-256 of the
	// Ed25519 public key.
	KeyID [8]byte
	// Signature is the Ed25519 signature of [Digest.SignedBytes].
	Signature []byte
}

// digestDomain starts the signed bytes of every digest.
const digestDomain = "otelaudit.digest.v1\x00"

// SignedBytes returns what the signature covers: "otelaudit.digest.v1", a
// NUL byte, then Version (one byte), Seq, Start, End (Unix microseconds),
// Part, Count, Root, First, Last, SealedAt (Unix microseconds; 0 for a
// zero time), Prev and KeyID; integers are 64-bit big-endian.
func (d *Digest) SignedBytes() []byte {
	b := make([]byte, 0, len(digestDomain)+1+8*9+32+32+8)
	b = append(b, digestDomain...)
	b = append(b, byte(d.Version))
	b = binary.BigEndian.AppendUint64(b, uint64(d.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(micros(d.Start)))
	b = binary.BigEndian.AppendUint64(b, uint64(micros(d.End)))
	b = binary.BigEndian.AppendUint64(b, uint64(d.Part))
	b = binary.BigEndian.AppendUint64(b, uint64(d.Count))
	b = append(b, d.Root[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(micros(d.First)))
	b = binary.BigEndian.AppendUint64(b, uint64(micros(d.Last)))
	b = binary.BigEndian.AppendUint64(b, uint64(micros(d.SealedAt)))
	b = append(b, d.Prev[:]...)
	return append(b, d.KeyID[:]...)
}

// Hash returns SHA-256 of [Digest.SignedBytes]: what the next digest's
// Prev holds.
func (d *Digest) Hash() [32]byte {
	return sha256.Sum256(d.SignedBytes())
}

// Errors of [Digest.Check].
var (
	// ErrBadSignature: the digest's signature does not verify with the
	// public key, or it names another key.
	ErrBadSignature = errors.New("seal: bad digest signature")
	// ErrUnknownVersion: the digest has an encoding version this package
	// does not know.
	ErrUnknownVersion = errors.New("seal: unknown digest version")
)

// Check verifies the digest's signature with pub.
func (d *Digest) Check(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key of %d bytes", ErrInvalidOptions, len(pub))
	}
	if !knownVersion(d.Version) {
		return fmt.Errorf("%w: digest %d has version %d", ErrUnknownVersion, d.Seq, d.Version)
	}
	if d.KeyID != KeyID(pub) {
		return fmt.Errorf("%w: digest %d was signed by key %x, not by %x", ErrBadSignature, d.Seq, d.KeyID, KeyID(pub))
	}
	if !ed25519.Verify(pub, d.SignedBytes(), d.Signature) {
		return fmt.Errorf("%w: digest %d", ErrBadSignature, d.Seq)
	}
	return nil
}

// KeyID returns the id of a public key as digests record it: the first 8
// bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) [8]byte {
	sum := sha256.Sum256(pub)
	var id [8]byte
	copy(id[:], sum[:8])
	return id
}

// micros returns t in Unix microseconds, 0 for the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
