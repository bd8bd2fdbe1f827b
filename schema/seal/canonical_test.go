package seal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestNormNumber(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "0.000": "0", "0e10": "0",
		"1": "1", "100": "1e2", "1e2": "1e2", "1E+2": "1e2", "100.0": "1e2", "1.00e2": "1e2",
		"0.1": "1e-1", "0.10": "1e-1", "1e-1": "1e-1", "10e-2": "1e-1",
		"-1.5": "-15e-1", "-150": "-15e1", "1.5e3": "15e2", "1500": "15e2",
		"1e21": "1e21", "1000000000000000000000": "1e21",
		"123.456": "123456e-3", "1e-7": "1e-7", "0.0000001": "1e-7",
		"1e99999999999999999999":   "1e99999999999999999999", // exponent out of range: as is
		"-1e99999999999999999999":  "-1e99999999999999999999",
		"-1e-99999999999999999999": "-1e-99999999999999999999",
		// At the exponent's limits (±2^62): normalised; beyond them, as is.
		"10e4611686018427387904":   "1e4611686018427387905",
		"10e4611686018427387905":   "10e4611686018427387905",
		"-10e4611686018427387905":  "-10e4611686018427387905",
		"1.5e-4611686018427387904": "15e-4611686018427387905",
		"1.5e-4611686018427387905": "1.5e-4611686018427387905",
	} {
		require.Equal(t, want, normNumber(in), in)
	}
}

func canonicalJSON(js string) []byte { return appendJSON(nil, []byte(js)) }

// referenceJSON is the canonical form computed through encoding/json
// (decoding into any with UseNumber): the oracle of the one-pass encoder.
func referenceJSON(js []byte) []byte {
	if !json.Valid(js) {
		return appendStr([]byte{tagInvalidJSON}, string(js))
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return appendStr([]byte{tagInvalidJSON}, string(js))
	}
	return appendValue(nil, v)
}

// appendValue encodes a value decoded by encoding/json.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, tagNull)
	case bool:
		if v {
			return append(b, tagTrue)
		}
		return append(b, tagFalse)
	case json.Number:
		return appendStr(append(b, tagNumber), normNumber(string(v)))
	case string:
		return appendStr(append(b, tagString), v)
	case []any:
		b = binary.BigEndian.AppendUint32(append(b, tagArray), uint32(len(v)))
		for _, e := range v {
			b = appendValue(b, e)
		}
		return b
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.BigEndian.AppendUint32(append(b, tagObject), uint32(len(keys)))
		for _, k := range keys {
			b = appendStr(b, k)
			b = appendValue(b, v[k])
		}
		return b
	}
	panic("unexpected value")
}

// TestCanonicalJSONIsStoreIndependent: what the exporter writes and what
// jsonb prints back encode alike; other values do not.
func TestCanonicalJSONIsStoreIndependent(t *testing.T) {
	same := [][2]string{
		{`{"b":1,"a":[1.0,1e2,"x"]}`, `{"a": [1, 100, "x"], "b": 1}`},
		{`{"a":1,"a":2}`, `{"a": 2}`},
		{`"\u00e9\n"`, "\"é\\n\""},
		{`{"huge":1e+21,"tiny":1e-7}`, `{"huge": 1000000000000000000000, "tiny": 0.0000001}`},
		{`[true,false,null]`, `[true, false, null]`},
	}
	for _, c := range same {
		require.Equal(t, canonicalJSON(c[0]), canonicalJSON(c[1]), "%s vs %s", c[0], c[1])
	}
	distinct := []string{`1`, `"1"`, `[1]`, `{"a":1}`, `{"a":"1"}`, `{"a":1.1}`, `null`, `true`, `"true"`, `[]`, `{}`, `""`, `not json`, `{"a":1}x`}
	for i, a := range distinct {
		for _, b := range distinct[i+1:] {
			require.NotEqual(t, canonicalJSON(a), canonicalJSON(b), "%s vs %s", a, b)
		}
	}
}

func TestCanonicalJSONDepthLimit(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001, 1 << 20} {
		js := []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		require.Equal(t, referenceJSON(js), appendJSON(nil, js), "arrays, depth %d", depth)
		js = []byte(strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth))
		require.Equal(t, referenceJSON(js), appendJSON(nil, js), "objects, depth %d", depth)
		// Depth is given back on the way out: siblings, each half as deep.
		half := depth / 2
		arrays := strings.Repeat("[", half-1) + strings.Repeat("]", half-1)
		objects := strings.Repeat(`{"b":`, half-1) + "2" + strings.Repeat("}", half-1)
		for _, js := range []string{"[" + arrays + "," + objects + "]", "[" + objects + "," + arrays + "]"} {
			require.Equal(t, referenceJSON([]byte(js)), appendJSON(nil, []byte(js)), "siblings, depth %d", half)
		}
	}
}

// TestCanonicalJSONEveryPrefix holds the one-pass encoder to the
// encoding/json oracle on every prefix of documents that use each part of
// the grammar (so every "input ends here" check is reached), and on each
// prefix followed by a byte that continues it wrongly. A prefix is mostly
// not JSON and must encode as invalid JSON, never panic or read past the
// end.
func TestCanonicalJSONEveryPrefix(t *testing.T) {
	docs := []string{
		` { "a b" : [ 10, -0.5e+9, 9E-09, 0, 1.09 ] , "c" : { } , "d" : [ ] , "e\"f" : "g h" } `,
		`{"t":true,"f":false,"n":null,"s":"a\nb\u00e9\ud83d\ude00 \ud800x\/ \t\r\b\f\\"}`,
		"[{\"k\":\"v\"},{\"k\":\"w\",\"k\":\"x\"},\"\xff\xfe\",  \"é ü\", \"\\u0041\\u00DF\\uABcd\"]",
		`[90, 19.99, -9, 0.0e0, 1e1, 2E+2, 3e-3]`,
		`true`, `false`, `null`, `-12.5e3`, `"s"`, `0`,
		`["\u0000","\ud83d\ude00","\ud83d\u0000x","\ude00\ud83d"]`,
	}
	for _, doc := range docs {
		require.True(t, json.Valid([]byte(doc)) || !utf8.ValidString(doc), "%q is JSON", doc)
		for i := 0; i <= len(doc); i++ {
			for _, tail := range []string{"", "x", "}", "]", ",", ":", "\"", "\\", "\x01", " "} {
				js := []byte(doc[:i] + tail)
				require.Equal(t, referenceJSON(js), appendJSON(nil, js), "%q", js)
			}
		}
	}
}

func sampleRow() Row {
	return Row{
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC),
		EventID: uuid.MustParse("018f2a3b-0000-7000-8000-000000000001"),
		Action:  "settings_changed", Outcome: "success", ErrorType: "", WorkspaceID: "ws_1",
		ResourceType: "settings", ResourceID: "set_1",
		Details: []byte(`{"a":1}`), Previous: []byte(`{"t":"dark"}`), New: []byte(`{"t":"light"}`),
		Attributes: []Attr{{"tenant.region", "eu"}, {"invoice.lines", "12"}},
		TraceID:    "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", ServiceName: "billing",
		Sanitized: []string{"user.id:truncated"},
		Personal:  Personal{UserID: "usr_1", UserName: "Ada", ClientIP: "2001:db8::1", UserAgent: "ua", SessionID: "s1"},
	}
}

// leafOf is a row's leaf bytes in the given version, its commitment
// computed under salt.
func leafOf(r Row, version int, salt []byte) []byte {
	return r.appendCanonical(nil, version, r.commit(version, salt))
}

// TestCanonicalCoversEveryField: in both versions, changing any covered
// field changes the leaf; what the stores differ in does not.
func TestCanonicalCoversEveryField(t *testing.T) {
	salt := []byte("0123456789abcdef")
	for _, ver := range []int{encodingV1, EncodingVersion} {
		ref := leafOf(sampleRow(), ver, salt)
		changes := map[string]func(r *Row){
			"time":          func(r *Row) { r.Time = r.Time.Add(time.Microsecond) },
			"event id":      func(r *Row) { r.EventID[15] ^= 1 },
			"action":        func(r *Row) { r.Action = "login" },
			"outcome":       func(r *Row) { r.Outcome = "failure" },
			"error type":    func(r *Row) { r.ErrorType = "x" },
			"workspace":     func(r *Row) { r.WorkspaceID = "ws_2" },
			"resource type": func(r *Row) { r.ResourceType = "invoice" },
			"resource id":   func(r *Row) { r.ResourceID = "set_2" },
			"details":       func(r *Row) { r.Details = []byte(`{"a":2}`) },
			"no details":    func(r *Row) { r.Details = nil },
			"previous":      func(r *Row) { r.Previous = []byte(`{"t":"light"}`) },
			"new":           func(r *Row) { r.New = nil },
			"attribute":     func(r *Row) { r.Attributes = []Attr{{"tenant.region", "us"}, {"invoice.lines", "12"}} },
			"attribute key": func(r *Row) { r.Attributes = []Attr{{"tenant.regio", "eu"}, {"invoice.lines", "12"}} },
			"no attributes": func(r *Row) { r.Attributes = nil },
			"trace":         func(r *Row) { r.TraceID = "" },
			"span":          func(r *Row) { r.SpanID = "b7ad6b7169203332" },
			"service":       func(r *Row) { r.ServiceName = "auth" },
			"sanitized":     func(r *Row) { r.Sanitized = nil },
			"user id":       func(r *Row) { r.Personal.UserID = "usr_2" },
			"user name":     func(r *Row) { r.Personal.UserName = "Bob" },
			"client ip":     func(r *Row) { r.Personal.ClientIP = "2001:db8::2" },
			"user agent":    func(r *Row) { r.Personal.UserAgent = "ub" },
			"session":       func(r *Row) { r.Personal.SessionID = "s2" },
			"boundaries":    func(r *Row) { r.Personal.UserID, r.Personal.UserName = "usr_1A", "da" },
			// The fields behind a version 2 commitment shift into each
			// other only if lengths are not encoded.
			"resource id into details": func(r *Row) { r.ResourceID, r.Details = "", []byte(`{"a":1}`) },
		}
		for name, change := range changes {
			r := sampleRow()
			change(&r)
			require.NotEqual(t, ref, leafOf(r, ver, salt), "version %d: %s", ver, name)
		}
		require.NotEqual(t, ref, leafOf(sampleRow(), ver, []byte("0123456789abcdeg")), "version %d: salt", ver)
		require.NotEqual(t, ref, leafOf(sampleRow(), ver, nil), "version %d: no salt", ver)
		require.NotEqual(t, ref, leafOf(sampleRow(), 3-ver, salt), "version %d: the other version", ver)

		alike := map[string]func(r *Row){
			"nanoseconds":        func(r *Row) { r.Time = r.Time.Add(99 * time.Nanosecond) },
			"time zone":          func(r *Row) { r.Time = r.Time.In(time.FixedZone("x", 3600)) },
			"attribute order":    func(r *Row) { r.Attributes = []Attr{{"invoice.lines", "12"}, {"tenant.region", "eu"}} },
			"attribute repeated": func(r *Row) { r.Attributes = append([]Attr{{"tenant.region", "old"}}, r.Attributes...) },
			"typed attribute":    func(r *Row) { r.Attributes[1].Value = "12.0" },
			"store marker":       func(r *Row) { r.Sanitized = append(r.Sanitized, "time:out_of_range", "observed_time:out_of_range") },
			"ingestion time":     func(r *Row) { r.IngestedAt = time.Now() },
			"details spacing":    func(r *Row) { r.Details = []byte(`{ "a" : 1.0 }`) },
			"address form":       func(r *Row) { r.Personal.ClientIP = "2001:0db8:0:0::1" },
		}
		for name, change := range alike {
			r := sampleRow()
			change(&r)
			require.Equal(t, ref, leafOf(r, ver, salt), "version %d: %s", ver, name)
		}

		r := sampleRow()
		r.Sanitized = append(r.Sanitized, markerAttrsTooLarge)
		a := leafOf(r, ver, salt)
		r.Attributes = nil
		require.Equal(t, a, leafOf(r, ver, salt), "version %d: attributes of a row whose attributes were truncated in Postgres are not covered", ver)
	}
}

// TestCommitmentStandsForTheErasableFields: with the commitment kept (the
// salt erased), what erasure may change no longer enters the encoding:
// the personal fields in both versions, and in version 2 the resource id
// and the JSON values too. Everything else still does.
func TestCommitmentStandsForTheErasableFields(t *testing.T) {
	var comm [32]byte
	comm[0] = 7
	erase := func(r *Row) {
		r.Personal = Personal{UserID: "erased_1"}
		r.ResourceID = "erased_1"
		r.Details = []byte(`{"a":"[erased]"}`)
		r.Previous, r.New = nil, []byte(`[]`)
	}
	base := sampleRow()
	erased := sampleRow()
	erase(&erased)
	require.Equal(t, base.appendCanonical(nil, EncodingVersion, comm), erased.appendCanonical(nil, EncodingVersion, comm))
	require.Equal(t, base.Canonical(comm), erased.Canonical(comm))

	personalOnly := sampleRow()
	personalOnly.Personal = Personal{UserID: "erased_1"}
	require.Equal(t, base.appendCanonical(nil, encodingV1, comm), personalOnly.appendCanonical(nil, encodingV1, comm))
	require.NotEqual(t, base.appendCanonical(nil, encodingV1, comm), erased.appendCanonical(nil, encodingV1, comm),
		"version 1 covers the resource id and JSON values directly")

	other := sampleRow()
	other.Action = "login"
	erase(&other)
	require.NotEqual(t, base.Canonical(comm), other.Canonical(comm), "the rest stays covered")
}

// TestVersion1Unchanged pins the version 1 encoding and commitment to the
// bytes sealed before version 2, so that those digests keep verifying.
func TestVersion1Unchanged(t *testing.T) {
	row := Row{
		Time:        time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		EventID:     uuid.MustParse("0195f0e2-7c1a-7d3e-9a4b-2c6d8e0f1a2b"),
		Action:      "login",
		Outcome:     "success",
		WorkspaceID: "ws_1",
		Details:     []byte(`{"method":"password","attempts":1}`),
		Personal:    Personal{UserID: "usr_1", ClientIP: "203.0.113.7"},
	}
	b := leafOf(row, encodingV1, []byte("0123456789abcdef"))
	leaf := LeafHash(b)
	require.Len(t, b, 167)
	require.Equal(t, "9f076b6ebd4c4ba4", hex.EncodeToString(leaf[:8]))
}

func TestDigestSignedBytesCoverEveryField(t *testing.T) {
	base := Digest{Seq: 2, Version: 1, Start: time.Unix(3600, 0), End: time.Unix(7200, 0), Count: 3,
		First: time.Unix(3601, 0), Last: time.Unix(3700, 0), SealedAt: time.Unix(9000, 0)}
	ref := base.SignedBytes()
	for name, change := range map[string]func(d *Digest){
		"seq": func(d *Digest) { d.Seq++ }, "version": func(d *Digest) { d.Version++ },
		"start": func(d *Digest) { d.Start = d.Start.Add(time.Microsecond) }, "end": func(d *Digest) { d.End = d.End.Add(time.Second) },
		"part": func(d *Digest) { d.Part++ }, "count": func(d *Digest) { d.Count++ },
		"root": func(d *Digest) { d.Root[31] ^= 1 }, "first": func(d *Digest) { d.First = time.Time{} },
		"last": func(d *Digest) { d.Last = d.Last.Add(time.Microsecond) }, "sealed at": func(d *Digest) { d.SealedAt = d.SealedAt.Add(time.Second) },
		"prev": func(d *Digest) { d.Prev[0] ^= 1 }, "key id": func(d *Digest) { d.KeyID[7] ^= 1 },
	} {
		d := base
		change(&d)
		require.False(t, bytes.Equal(ref, d.SignedBytes()), name)
	}
}

// FuzzCanonicalJSON: the one-pass encoder agrees with the encoding/json
// oracle on every input, and the canonical form of a JSON text equals that
// of its re-encoding (what a store may print back).
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x",null,true]}`, `"é"`, `1e400`, `{"a":{"b":{}}}`, `[`, `-0.0`,
		`{"a":1,"a":2,"b":[]}`, `"\ud83d\ude00 \ud800 \u00e9\n\/"`, "\"\xff\xfe\"", ` [ 1 , {"x" : "y"} ] `, `01`, `1.`, `-`, `tru`, `nul`, `"\u12"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		c := appendJSON(nil, js)
		require.Equal(t, referenceJSON(js), c, "%q", js)
		if !json.Valid(js) {
			require.Equal(t, byte(tagInvalidJSON), c[0], "%q", js)
			return
		}
		require.NotEqual(t, byte(tagInvalidJSON), c[0], "%q", js)
		d := json.NewDecoder(bytes.NewReader(js))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return
		}
		again, err := json.MarshalIndent(v, "", " ")
		require.NoError(t, err)
		require.Equal(t, c, appendJSON(nil, again))
	})
}

// TestVersion2Pinned pins the version 2 encoding of a row with every kind
// of field (attributes, sanitized markers among which one a store adds on
// its own, JSON values behind the commitment): digests sealed now must
// verify with every later release.
func TestVersion2Pinned(t *testing.T) {
	r := sampleRow()
	r.Sanitized = append(r.Sanitized, "time:out_of_range", "details:truncated")
	b := leafOf(r, EncodingVersion, []byte("0123456789abcdef"))
	leaf := LeafHash(b)
	require.Len(t, b, 279)
	require.Equal(t, "c7dfec53f06e3bd3", hex.EncodeToString(leaf[:8]))
}
