package seal

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
)

// EncodingVersion is the version of the canonical row encoding, of the
// personal-data commitment and of the digest encoding that this package
// writes, recorded in every digest. A change to any of them is a new
// version; verifiers keep the old ones: version 1 digests still verify.
//
// Version 2 moves the resource id and the details, previous and new values
// behind the commitment, next to the personal fields, so that erasure can
// pseudonymise a user named as the target of an event and the personal
// values inside details (see the package documentation, "Erasure").
const EncodingVersion = 2

// encodingV1 is the first encoding: only the five personal fields behind
// the commitment.
const encodingV1 = 1

// knownVersion reports whether v is an encoding version this package
// verifies.
func knownVersion(v int) bool { return v == encodingV1 || v == EncodingVersion }

// Personal holds the personal fields of a row. They enter the row's hash
// only through its commitment ([Row.Commit]), so that pseudonymising them
// later keeps the seal verifiable (see the package documentation,
// "Erasure").
type Personal struct {
	UserID    string
	UserName  string
	ClientIP  string // the address's text form; normalised by the encoding
	UserAgent string
	SessionID string
}

// Attr is an attribute outside the record contract, in its string form:
// a string attribute as it is, any other as JSON text.
type Attr struct {
	Key   string
	Value string
}

// Row is an audit row as read from either store, in the fields that the
// seal covers plus IngestedAt. Empty strings and NULL are the same.
type Row struct {
	// Time is the event time; the encoding keeps whole microseconds
	// (rounded down), what Postgres stores.
	Time    time.Time
	EventID uuid.UUID

	Action       string
	Outcome      string
	ErrorType    string
	WorkspaceID  string
	ResourceType string
	ResourceID   string

	// Details, Previous and New are JSON text, nil when absent.
	Details  []byte
	Previous []byte
	New      []byte

	// Attributes are the attributes outside the contract, in any order;
	// a key given twice keeps its last value.
	Attributes []Attr

	TraceID     string
	SpanID      string
	ServiceName string
	Sanitized   []string

	Personal Personal

	// IngestedAt is when the store wrote the row (Postgres ingested_at),
	// zero when the store does not record it (ClickHouse). Not covered by
	// the seal: it is what tells a late row from an inserted one.
	IngestedAt time.Time
}

// Markers of the sanitized column that one store adds on its own (the
// ClickHouse exporter's clamped time, the Postgres exporter's dropped
// observed time); the encoding leaves them out so that both stores encode
// a row alike.
var storeMarkers = []string{"time:out_of_range", "observed_time:out_of_range"}

// markerAttrsTooLarge marks a row whose attributes object was replaced by a
// truncation object in Postgres while ClickHouse kept each attribute: the
// attributes of such a row are not covered.
const markerAttrsTooLarge = "attributes:too_large"

// Tags of the encoding.
const (
	tagAbsent      = 0x00
	tagPresent     = 0x01
	tagInvalidJSON = 'x'
	tagNull        = 'n'
	tagTrue        = 't'
	tagFalse       = 'f'
	tagNumber      = '#'
	tagString      = 's'
	tagArray       = '['
	tagObject      = '{'
	tagText        = 'S' // attribute value that is not JSON text
	tagJSON        = 'J' // attribute value that is JSON text
)

// Canonical returns the canonical encoding (version [EncodingVersion]) of
// r, with commitment standing for the fields behind it (see
// [Row.Commit]). The leaf of r in a digest's Merkle tree is [LeafHash] of
// these bytes. The encoding is documented in the package documentation.
func (r *Row) Canonical(commitment [32]byte) []byte {
	return r.appendCanonical(make([]byte, 0, 512), EncodingVersion, commitment)
}

// appendCanonical appends the canonical encoding of the given version.
// Version 1 encodes the resource id and the JSON values directly; version
// 2 leaves them to the commitment.
func (r *Row) appendCanonical(b []byte, version int, commitment [32]byte) []byte {
	b = append(b, byte(version))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMicro()))
	b = append(b, r.EventID[:]...)
	b = appendStr(b, r.Action)
	b = appendStr(b, r.Outcome)
	b = appendStr(b, r.ErrorType)
	b = appendStr(b, r.WorkspaceID)
	b = appendStr(b, r.ResourceType)
	if version == encodingV1 {
		b = appendStr(b, r.ResourceID)
		b = appendJSONField(b, r.Details)
		b = appendJSONField(b, r.Previous)
		b = appendJSONField(b, r.New)
	}
	b = r.appendAttributes(b)
	b = appendStr(b, r.TraceID)
	b = appendStr(b, r.SpanID)
	b = appendStr(b, r.ServiceName)
	b = r.appendSanitized(b)
	return append(b, commitment[:]...)
}

func (r *Row) appendAttributes(b []byte) []byte {
	if slices.Contains(r.Sanitized, markerAttrsTooLarge) {
		return append(b, tagAbsent)
	}
	b = append(b, tagPresent)
	if len(r.Attributes) == 0 {
		return binary.BigEndian.AppendUint32(b, 0)
	}
	last := make(map[string]string, len(r.Attributes))
	for _, a := range r.Attributes {
		last[a.Key] = a.Value
	}
	keys := make([]string, 0, len(last))
	for k := range last {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendStr(b, k)
		b = appendAttrValue(b, last[k])
	}
	return b
}

func (r *Row) appendSanitized(b []byte) []byte {
	n := 0
	for _, s := range r.Sanitized {
		if !slices.Contains(storeMarkers, s) {
			n++
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	for _, s := range r.Sanitized {
		if !slices.Contains(storeMarkers, s) {
			b = appendStr(b, s)
		}
	}
	return b
}

// The domains separate commitments from every other hash, and the
// versions from each other.
const (
	personalDomainV1 = "otelaudit.personal.v1\x00"
	personalDomainV2 = "otelaudit.personal.v2\x00"
)

// Commit returns the commitment (version [EncodingVersion]) to the fields
// of r that erasure may change, under salt: SHA-256 of
// "otelaudit.personal.v2", a NUL byte, then salt, user id, user name,
// client IP (normalised), user agent, session id and resource id, each as
// a 32-bit big-endian length and its bytes, then details, previous and new
// value as the canonical encoding encodes JSON columns. Rows not yet sealed
// are committed with an empty salt.
func (r *Row) Commit(salt []byte) [32]byte {
	return r.commit(EncodingVersion, salt)
}

// commit returns the commitment of the given version: version 1 covers the
// five personal fields only (domain "otelaudit.personal.v1").
func (r *Row) commit(version int, salt []byte) [32]byte {
	p := &r.Personal
	b := make([]byte, 0, 256+len(r.Details)+len(r.Previous)+len(r.New))
	if version == encodingV1 {
		b = append(b, personalDomainV1...)
	} else {
		b = append(b, personalDomainV2...)
	}
	b = appendStr(b, string(salt))
	b = appendStr(b, p.UserID)
	b = appendStr(b, p.UserName)
	b = appendStr(b, canonicalIP(p.ClientIP))
	b = appendStr(b, p.UserAgent)
	b = appendStr(b, p.SessionID)
	if version != encodingV1 {
		b = appendStr(b, r.ResourceID)
		b = appendJSONField(b, r.Details)
		b = appendJSONField(b, r.Previous)
		b = appendJSONField(b, r.New)
	}
	return sha256.Sum256(b)
}

// LeafHash returns the Merkle leaf hash of a row's canonical bytes:
// RFC 6962's SHA-256(0x00 || canonical).
func LeafHash(canonical []byte) [32]byte {
	return tlog.RecordHash(canonical)
}

// canonicalIP returns the text form of an address as net/netip prints it,
// or s itself when it is not an address.
func canonicalIP(s string) string {
	if s == "" {
		return ""
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return a.String()
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendJSONField appends a JSON column: absent, or present and its
// canonical value (or the raw bytes when they are not JSON).
func appendJSONField(b, js []byte) []byte {
	if js == nil {
		return append(b, tagAbsent)
	}
	return appendJSON(append(b, tagPresent), js)
}

// appendAttrValue appends an attribute's string form: JSON text (no
// surrounding white space) as its canonical value, anything else as text.
// Postgres keeps attribute values typed and ClickHouse as strings, so a
// string that reads as JSON ("12", "true") and the JSON value itself encode
// alike.
func appendAttrValue(b []byte, s string) []byte {
	if s != "" && strings.TrimSpace(s) == s {
		if out, ok := appendCanonicalJSON(append(b, tagJSON), []byte(s)); ok {
			return out
		}
	}
	return appendStr(append(b, tagText), s)
}

// appendJSON appends the canonical form of the JSON text js: a tagged tree
// with object keys sorted by their bytes (a key given twice keeps its last
// value, as jsonb does) and numbers normalised (normNumber). Text that is
// not JSON is appended raw, tagged tagInvalidJSON.
func appendJSON(b, js []byte) []byte {
	if out, ok := appendCanonicalJSON(b, js); ok {
		return out
	}
	return appendStr(append(b, tagInvalidJSON), string(js))
}

// normNumber returns the exact value of a JSON number as
// [-]<digits>[e<exponent>], the digits without leading or trailing zeros
// ("0" for zero, whatever its sign): 100, 1e2 and 100.0 are all "1e2",
// 0.10 is "1e-1". jsonb prints numbers in its own way (1e2 as 100), so
// the text each store returns cannot be compared as it is. An exponent
// out of int64 range (or beyond ±2^62) leaves the text as it is, sign
// included. (Before, the sign of such a number was dropped: -1e99999999999999999999
// and 1e99999999999999999999 encoded alike. The exporters never write one,
// their numbers being int64 or float64 values, and jsonb cannot hold one,
// so no row sealed from Postgres had one.)
func normNumber(text string) string {
	neg := strings.HasPrefix(text, "-")
	s := strings.TrimPrefix(text, "-")
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil {
			return text
		}
		mant, exp = s[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if exp < -(1<<62) || exp > 1<<62 {
		return text
	}
	exp -= int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	if trimmed == "" {
		return "0"
	}
	out := trimmed
	if exp != 0 {
		out += "e" + strconv.FormatInt(exp, 10)
	}
	if neg {
		out = "-" + out
	}
	return out
}
