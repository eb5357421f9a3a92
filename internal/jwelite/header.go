package jwelite

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeHeader decodes a protected header (RFC 7515 §4, RFC 7516 §4: a JSON object, RFC 8259) and
// reports whether it was one of the right shape: the string members the helper reads, an "epk"
// object with string members, and any other member of any JSON type, skipped. Member names match
// exactly; a duplicate member is the last one (as with JSON.parse and encoding/json). Invalid JSON
// — bad escapes, control characters in strings, trailing data, nesting deeper than 32 — is refused.
//
// It is a small scanner rather than encoding/json because of the js/wasm build: encoding/json
// (with reflect) adds 320 KB gzipped to the helper, and calling the host's JSON.parse costs a
// round trip per member read (0.3 ms per header in Chromium; BENCHMARKS.md). FuzzDecodeHeader
// checks it against encoding/json.
func decodeHeader(raw []byte) (Header, bool) {
	d := &jsonScanner{b: raw}
	var h Header
	bad := map[string]bool{} // a member whose last occurrence had the wrong type
	// str reads a string member into dst, or skips a value of another type and marks it bad.
	str := func(key string, dst *string) bool {
		if s, ok := d.str(); ok {
			*dst, bad[key] = s, false
			return true
		}
		bad[key] = true
		return d.value(2)
	}
	d.ws()
	ok := d.object(0, func(name string) bool {
		switch name {
		case "alg":
			return str(name, &h.Alg)
		case "enc":
			return str(name, &h.Enc)
		case "kid":
			return str(name, &h.Kid)
		case "apu":
			return str(name, &h.APU)
		case "apv":
			return str(name, &h.APV)
		case "epk":
			if d.peek() != '{' {
				bad[name] = true
				return d.value(1)
			}
			e := &ECPublic{}
			if !d.object(1, func(name string) bool {
				switch name {
				case "kty":
					return str("epk."+name, &e.Kty)
				case "crv":
					return str("epk."+name, &e.Crv)
				case "x":
					return str("epk."+name, &e.X)
				case "y":
					return str("epk."+name, &e.Y)
				}
				return d.value(2)
			}) {
				return false
			}
			h.EPK, bad[name] = e, false
			for _, m := range []string{"epk.kty", "epk.crv", "epk.x", "epk.y"} {
				if bad[m] {
					bad[name] = true
				}
				delete(bad, m) // a later epk starts afresh
			}
			return true
		case "zip", "crit":
			h.Refused = true
		}
		return d.value(1)
	})
	d.ws()
	if !ok || d.i != len(d.b) {
		return Header{}, false
	}
	for _, b := range bad {
		if b {
			return Header{}, false
		}
	}
	return h, true
}

// jsonScanner reads RFC 8259 JSON from b at i.
type jsonScanner struct {
	b []byte
	i int
}

const maxDepth = 32

func (d *jsonScanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonScanner) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object reads an object, calling member for each member name with the scanner at its value;
// member must consume the value.
func (d *jsonScanner) object(depth int, member func(name string) bool) bool {
	if depth > maxDepth || d.peek() != '{' {
		return false
	}
	d.i++
	d.ws()
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		d.ws()
		name, ok := d.str()
		if !ok {
			return false
		}
		d.ws()
		if d.peek() != ':' {
			return false
		}
		d.i++
		d.ws()
		if !member(name) {
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// value skips any JSON value.
func (d *jsonScanner) value(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch d.peek() {
	case '{':
		return d.object(depth, func(string) bool { return d.value(depth + 1) })
	case '[':
		d.i++
		d.ws()
		if d.peek() == ']' {
			d.i++
			return true
		}
		for {
			d.ws()
			if !d.value(depth + 1) {
				return false
			}
			d.ws()
			switch d.peek() {
			case ',':
				d.i++
			case ']':
				d.i++
				return true
			default:
				return false
			}
		}
	case '"':
		_, ok := d.str()
		return ok
	case 't':
		return d.lit("true")
	case 'f':
		return d.lit("false")
	case 'n':
		return d.lit("null")
	default:
		return d.number()
	}
}

func (d *jsonScanner) lit(s string) bool {
	if len(d.b)-d.i >= len(s) && string(d.b[d.i:d.i+len(s)]) == s {
		d.i += len(s)
		return true
	}
	return false
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *jsonScanner) number() bool {
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.peek() == '-' {
		d.i++
	}
	switch {
	case d.peek() == '0':
		d.i++
	case d.peek() >= '1' && d.peek() <= '9':
		digits()
	default:
		return false
	}
	if d.peek() == '.' {
		d.i++
		if digits() == 0 {
			return false
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// str reads a string, decoding escapes. Invalid UTF-8 and lone surrogates become U+FFFD, as
// encoding/json decodes them.
func (d *jsonScanner) str() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	d.i++
	start := d.i
	for d.i < len(d.b) { // fast path: no escapes, ASCII or valid UTF-8
		c := d.b[d.i]
		if c == '"' {
			s := d.b[start:d.i]
			d.i++
			if utf8.Valid(s) {
				return string(s), true
			}
			d.i = start
			break
		}
		if c == '\\' || c < 0x20 {
			d.i = start
			break
		}
		d.i++
	}
	var out []byte
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c == '\\':
			d.i++
			if d.i >= len(d.b) {
				return "", false
			}
			e := d.b[d.i]
			d.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if save := d.i; d.peek() == '\\' && d.i+1 < len(d.b) && d.b[d.i+1] == 'u' {
						d.i += 2
						if v, ok := d.hex4(); ok {
							r2 = v
						} else {
							return "", false
						}
						if utf16.DecodeRune(r, r2) == utf8.RuneError {
							d.i = save // not a pair: the second escape stands on its own
							r2 = -1
						}
					}
					if r2 < 0 {
						r = utf8.RuneError
					} else {
						r = utf16.DecodeRune(r, r2)
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", false
			}
		default:
			r, size := utf8.DecodeRune(d.b[d.i:])
			d.i += size
			out = utf8.AppendRune(out, r) // RuneError for invalid UTF-8
		}
	}
	return "", false
}

func (d *jsonScanner) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d.b[d.i:d.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	d.i += 4
	return rune(v), true
}
