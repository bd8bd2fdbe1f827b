package seal

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// errNotJSON stops canonicalJSON at the first syntax error.
var errNotJSON = errors.New("seal: not JSON")

// jsonCanon turns JSON text into the tagged canonical form of the package
// documentation in one pass, with the semantics of encoding/json decoding
// into any with UseNumber (a key given twice keeps its last value; invalid
// UTF-8 and lone surrogates become U+FFFD), which the fuzz test holds it to.
type jsonCanon struct {
	src   []byte
	pos   int
	depth int
}

// maxJSONDepth is encoding/json's nesting limit: deeper text is not JSON
// to it, and must not grow the stack without bound here.
const maxJSONDepth = 10000

// appendCanonicalJSON appends the canonical form of js to b, or reports
// false when js is not one JSON value.
func appendCanonicalJSON(b, js []byte) ([]byte, bool) {
	p := jsonCanon{src: js}
	out, err := p.value(b)
	if err != nil {
		return b, false
	}
	p.ws()
	if p.pos != len(js) {
		return b, false
	}
	return out, true
}

func (p *jsonCanon) ws() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

type jsonMember struct {
	key string
	enc []byte
}

func (p *jsonCanon) value(b []byte) ([]byte, error) {
	p.ws()
	if p.pos >= len(p.src) {
		return b, errNotJSON
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		p.pos++
		if p.depth++; p.depth > maxJSONDepth {
			return b, errNotJSON
		}
		defer func() { p.depth-- }()
		var ms []jsonMember
		p.ws()
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			p.pos++
		} else {
			for {
				p.ws()
				if p.pos >= len(p.src) || p.src[p.pos] != '"' {
					return b, errNotJSON
				}
				key, err := p.str()
				if err != nil {
					return b, err
				}
				p.ws()
				if p.pos >= len(p.src) || p.src[p.pos] != ':' {
					return b, errNotJSON
				}
				p.pos++
				enc, err := p.value(nil)
				if err != nil {
					return b, err
				}
				ms = append(ms, jsonMember{key, enc})
				if done, err := p.next('}'); err != nil || done {
					if err != nil {
						return b, err
					}
					break
				}
			}
		}
		// Sort by key; of equal keys the last one given wins.
		slices.SortStableFunc(ms, func(x, y jsonMember) int { return strings.Compare(x.key, y.key) })
		kept := ms[:0]
		for i, m := range ms {
			if i+1 < len(ms) && ms[i+1].key == m.key {
				continue
			}
			kept = append(kept, m)
		}
		b = binary.BigEndian.AppendUint32(append(b, tagObject), uint32(len(kept)))
		for _, m := range kept {
			b = appendStr(b, m.key)
			b = append(b, m.enc...)
		}
		return b, nil
	case c == '[':
		p.pos++
		if p.depth++; p.depth > maxJSONDepth {
			return b, errNotJSON
		}
		defer func() { p.depth-- }()
		b = append(b, tagArray)
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		n := uint32(0)
		p.ws()
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			p.pos++
		} else {
			for {
				var err error
				if b, err = p.value(b); err != nil {
					return b, err
				}
				n++
				done, err := p.next(']')
				if err != nil {
					return b, err
				}
				if done {
					break
				}
			}
		}
		binary.BigEndian.PutUint32(b[at:], n)
		return b, nil
	case c == '"':
		s, err := p.str()
		if err != nil {
			return b, err
		}
		return appendStr(append(b, tagString), s), nil
	case c == 't':
		return p.literal(b, "true", tagTrue)
	case c == 'f':
		return p.literal(b, "false", tagFalse)
	case c == 'n':
		return p.literal(b, "null", tagNull)
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		if !p.number() {
			return b, errNotJSON
		}
		return appendStr(append(b, tagNumber), normNumber(string(p.src[start:p.pos]))), nil
	}
	return b, errNotJSON
}

// next consumes the separator after a member or element: true at the
// closing byte, false after a comma.
func (p *jsonCanon) next(closing byte) (bool, error) {
	p.ws()
	if p.pos >= len(p.src) {
		return false, errNotJSON
	}
	switch p.src[p.pos] {
	case ',':
		p.pos++
		return false, nil
	case closing:
		p.pos++
		return true, nil
	}
	return false, errNotJSON
}

func (p *jsonCanon) literal(b []byte, word string, tag byte) ([]byte, error) {
	if len(p.src)-p.pos < len(word) || string(p.src[p.pos:p.pos+len(word)]) != word {
		return b, errNotJSON
	}
	p.pos += len(word)
	return append(b, tag), nil
}

// number consumes -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *jsonCanon) number() bool {
	s, i := p.src, p.pos
	digits := func() bool {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	p.pos = i
	return true
}

// str consumes a string literal (p.src[p.pos] is '"') and returns its
// value.
func (p *jsonCanon) str() (string, error) {
	p.pos++
	start := p.pos
	// Fast path: no escapes, ASCII or valid UTF-8.
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '"' {
			s := p.src[start:p.pos]
			p.pos++
			if utf8.Valid(s) {
				return string(s), nil
			}
			return p.decode(s)
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", errNotJSON
		}
		p.pos++
	}
	// Slow path: find the end, then decode.
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			s := p.src[start:p.pos]
			p.pos++
			return p.decode(s)
		case c == '\\':
			p.pos += 2
		case c < 0x20:
			return "", errNotJSON
		default:
			p.pos++
		}
	}
	return "", errNotJSON
}

// decode unescapes the body of a string literal as encoding/json does.
func (p *jsonCanon) decode(s []byte) (string, error) {
	var out []byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", errNotJSON
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				i += 2
			case 'b':
				out, i = append(out, '\b'), i+2
			case 'f':
				out, i = append(out, '\f'), i+2
			case 'n':
				out, i = append(out, '\n'), i+2
			case 'r':
				out, i = append(out, '\r'), i+2
			case 't':
				out, i = append(out, '\t'), i+2
			case 'u':
				r := hex4(s[i+2:])
				if r < 0 {
					return "", errNotJSON
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2 := hex4u(s[i:]); r2 >= 0 {
						if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
							out = utf8.AppendRune(out, dec)
							i += 6
							break
						}
					}
					r = unicode.ReplacementChar
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", errNotJSON
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
	return string(out), nil
}

// hex4 reads four hex digits, -1 when they are not.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// hex4u reads \uXXXX, -1 when s does not start with one.
func hex4u(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	return hex4(s[2:])
}
