package auditrow

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
)

// Change markers, appended to a field name in [Row.Sanitized]
// ("user.id:invalid_utf8").
const (
	ChangeInvalidUTF8    = "invalid_utf8"    // invalid UTF-8 sequences replaced by U+FFFD
	ChangeNULByte        = "nul_byte"        // NUL bytes replaced by U+FFFD
	ChangeTruncated      = "truncated"       // string cut to its limit at a rune boundary
	ChangeNonFinite      = "non_finite"      // NaN or ±Inf written as a JSON string
	ChangeDepthLimit     = "depth_limit"     // nesting below the depth limit replaced
	ChangeTooLarge       = "too_large"       // JSON value replaced by a truncation object
	ChangeInvalidIP      = "invalid_ip"      // client address did not parse as an IP
	ChangePortOrZone     = "port_or_zone"    // client address had a port or zone; the IP kept, raw value in attributes
	ChangeInvalidID      = "invalid_id"      // event id was not a UUID; id derived from it
	ChangeGeneratedID    = "generated_id"    // no event id; id derived from the content
	ChangeTimeObserved   = "observed"        // no timestamp; the observed timestamp used
	ChangeTimeMissing    = "missing"         // no timestamp at all; the mapping time used
	ChangeNonAudit       = "non_audit"       // a non-audit record stored on request
	ChangeWrongType      = "wrong_type"      // a contract key held a non-string; its JSON text used
	ChangeDuplicateKey   = "duplicate"       // a contract key appeared twice; the last one kept
	ChangeInvalidOutcome = "invalid_outcome" // an outcome other than success/failure; failure assumed
)

// replacement is what invalid UTF-8 and NUL bytes become.
const replacement = "\uFFFD"

// needsCleaning reports, cheaply, whether cleanString would change s.
func needsCleaning(s string, limit int) bool {
	if len(s) > limit {
		return true
	}
	i := 0
	// Eight bytes at a time while they are ASCII without NUL (most
	// strings, wholly): a byte >= 0x80 sets its high bit in w; a zero byte
	// sets it in (w - 0x01..) &^ w (exact for the word as a whole).
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if w&highs != 0 || (w-ones)&^w&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c == 0 || c >= utf8.RuneSelf {
			return !utf8.ValidString(s[i:]) || strings.IndexByte(s[i:], 0) >= 0
		}
	}
	return false
}

// cleanString returns s as valid UTF-8 without NUL bytes, at most limit bytes
// long (limit <= 0: no limit), and the changes made. When nothing changes it
// returns s itself.
func cleanString(s string, limit int) (string, []string) {
	if limit <= 0 {
		limit = math.MaxInt
	}
	if !needsCleaning(s, limit) {
		return s, nil
	}
	var changes []string
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, replacement)
		changes = append(changes, ChangeInvalidUTF8)
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", replacement)
		changes = append(changes, ChangeNULByte)
	}
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
		changes = append(changes, ChangeTruncated)
	}
	return s, changes
}

// jsonWriter appends sanitized JSON for attribute values.
type jsonWriter struct {
	buf      []byte
	maxDepth int
	changes  uint8 // bit set of jsonChange*
}

const (
	jsonInvalidUTF8 uint8 = 1 << iota
	jsonNUL
	jsonNonFinite
	jsonDepth
)

func (w *jsonWriter) changeList() []string {
	if w.changes == 0 {
		return nil
	}
	var out []string
	if w.changes&jsonInvalidUTF8 != 0 {
		out = append(out, ChangeInvalidUTF8)
	}
	if w.changes&jsonNUL != 0 {
		out = append(out, ChangeNULByte)
	}
	if w.changes&jsonNonFinite != 0 {
		out = append(out, ChangeNonFinite)
	}
	if w.changes&jsonDepth != 0 {
		out = append(out, ChangeDepthLimit)
	}
	return out
}

func (w *jsonWriter) value(v attribute.Value, depth int) {
	if depth >= w.maxDepth {
		w.changes |= jsonDepth
		w.str(depthLimitMarker)
		return
	}
	switch v.Type() {
	case attribute.EMPTY:
		w.buf = append(w.buf, "null"...)
	case attribute.BOOL:
		w.buf = strconv.AppendBool(w.buf, v.AsBool())
	case attribute.INT64:
		w.buf = strconv.AppendInt(w.buf, v.AsInt64(), 10)
	case attribute.FLOAT64:
		w.float(v.AsFloat64())
	case attribute.STRING:
		w.str(v.AsString())
	case attribute.BYTESLICE:
		b := v.AsByteSlice()
		w.buf = append(w.buf, '"')
		w.buf = base64.StdEncoding.AppendEncode(w.buf, b)
		w.buf = append(w.buf, '"')
	case attribute.BOOLSLICE:
		w.buf = append(w.buf, '[')
		for i, b := range v.AsBoolSlice() {
			w.comma(i)
			w.buf = strconv.AppendBool(w.buf, b)
		}
		w.buf = append(w.buf, ']')
	case attribute.INT64SLICE:
		w.buf = append(w.buf, '[')
		for i, n := range v.AsInt64Slice() {
			w.comma(i)
			w.buf = strconv.AppendInt(w.buf, n, 10)
		}
		w.buf = append(w.buf, ']')
	case attribute.FLOAT64SLICE:
		w.buf = append(w.buf, '[')
		for i, f := range v.AsFloat64Slice() {
			w.comma(i)
			w.float(f)
		}
		w.buf = append(w.buf, ']')
	case attribute.STRINGSLICE:
		w.buf = append(w.buf, '[')
		for i, s := range v.AsStringSlice() {
			w.comma(i)
			w.str(s)
		}
		w.buf = append(w.buf, ']')
	case attribute.SLICE:
		w.buf = append(w.buf, '[')
		for i, e := range v.AsSlice() {
			w.comma(i)
			w.value(e, depth+1)
		}
		w.buf = append(w.buf, ']')
	case attribute.MAP:
		w.buf = append(w.buf, '{')
		for i, kv := range v.AsMap() {
			w.comma(i)
			w.str(string(kv.Key))
			w.buf = append(w.buf, ':')
			w.value(kv.Value, depth+1)
		}
		w.buf = append(w.buf, '}')
	default:
		w.str(v.Emit())
	}
}

func (w *jsonWriter) comma(i int) {
	if i > 0 {
		w.buf = append(w.buf, ',')
	}
}

func (w *jsonWriter) float(f float64) {
	switch {
	case math.IsNaN(f):
		w.changes |= jsonNonFinite
		w.buf = append(w.buf, `"NaN"`...)
	case math.IsInf(f, 1):
		w.changes |= jsonNonFinite
		w.buf = append(w.buf, `"Infinity"`...)
	case math.IsInf(f, -1):
		w.changes |= jsonNonFinite
		w.buf = append(w.buf, `"-Infinity"`...)
	default:
		// Same form as encoding/json: no exponent for ordinary magnitudes.
		abs := math.Abs(f)
		format := byte('f')
		if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		w.buf = strconv.AppendFloat(w.buf, f, format, -1, 64)
	}
}

const hexDigits = "0123456789abcdef"

// str appends s as a JSON string: invalid UTF-8 and NUL become U+FFFD,
// other control characters are escaped.
func (w *jsonWriter) str(s string) {
	w.buf = append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			w.buf = append(w.buf, s[start:i]...)
			switch c {
			case 0:
				w.changes |= jsonNUL
				w.buf = append(w.buf, replacement...)
			case '"', '\\':
				w.buf = append(w.buf, '\\', c)
			case '\n':
				w.buf = append(w.buf, '\\', 'n')
			case '\r':
				w.buf = append(w.buf, '\\', 'r')
			case '\t':
				w.buf = append(w.buf, '\\', 't')
			default:
				w.buf = append(w.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			w.buf = append(w.buf, s[start:i]...)
			w.changes |= jsonInvalidUTF8
			w.buf = append(w.buf, replacement...)
			i += size
			start = i
			continue
		}
		i += size
	}
	w.buf = append(w.buf, s[start:]...)
	w.buf = append(w.buf, '"')
}

// depthLimitMarker replaces values nested deeper than the depth limit.
const depthLimitMarker = "[otelaudit: depth limit]"
