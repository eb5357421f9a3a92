package directory

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/opakit/opa/internal/errclass"
)

// NormalizeDN returns the canonical form of a DN, the module's one key for comparing DNs: two DNs
// get the same key exactly when go-ldap's parser (RFC 4514) reads them as the same name under
// distinguishedNameMatch (ldap.DN.EqualFold), that is when they differ only in the case of types
// and values, in escaping (`\,` or `\2c`), in insignificant spaces around types and values, or in
// the order of the values of a multi-valued RDN.
//
// The form is itself an RFC 4514 string that parses back to the same name: types and values
// case-folded (the same folding as strings.EqualFold, so "Straße" and "STRASSE" stay different), the
// values of a multi-valued RDN sorted, and only what must be escaped escaped: `\` `,` `+` `"` `;`
// `<` `>`, a leading `#` or space, a trailing space, control bytes and bytes that are not UTF-8 (as
// \xx). '=' in a value is not escaped. So `CN=a\=b,DC=x` and `cn=a=b,dc=x` both read "cn=a=b,dc=x".
// directory.ErrInvalid for a malformed DN. An empty DN (the root) is "".
func NormalizeDN(dn string) (string, error) {
	key, _, ok := AppendNormalizedDN(nil, nil, dn)
	if !ok {
		if _, err := ldap.ParseDN(dn); err != nil {
			return "", errclass.Wrap(err, ErrInvalid, "malformed DN %q", dn)
		}
		return "", errclass.Mark(ErrInvalid, "malformed DN %q", dn)
	}
	return string(key), nil
}

// AppendNormalizedDN appends the canonical form of dn (see NormalizeDN) to dst, and to ancestors
// the offset in the returned buffer at which the canonical form of each strict ancestor of dn
// starts, nearest first (the text after each RDN separator), so an evaluation can look up every
// ancestor of a DN without allocating. ok is false, and nothing is appended, for a malformed DN.
// Plain DNs (printable ASCII without escapes, quotes, '+', ';', '#', '<' or '>', nearly all of
// them) are handled without parsing; the result is the same as the parser's. Safe for concurrent
// use.
func AppendNormalizedDN(dst []byte, ancestors []int, dn string) (key []byte, offsets []int, ok bool) {
	if key, offsets, ok := appendPlainDN(dst, ancestors, dn); ok {
		return key, offsets, true
	}
	return appendParsedDN(dst, ancestors, dn)
}

// SplitPlainRDN returns the text after the first RDN separator of dn when that first RDN is
// plain (printable ASCII without escapes, quotes, '+', ';', '#', '<' or '>'; see
// AppendNormalizedDN) and well formed (a non-empty type, '=', a value); only the first RDN is
// read. Two DNs it accepts with the same parent text that is itself plain (IsPlainDN) have the same
// strict ancestors under AppendNormalizedDN, and either both are well formed or neither is, so a
// caller may cache per plain parent text whatever it derives from a DN's ancestors. ok is false
// for a DN of one RDN or whose first RDN is not plain or malformed. It does not allocate. Safe for
// concurrent use.
func SplitPlainRDN(dn string) (parent string, ok bool) {
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c == ',':
			typ, _, found := strings.Cut(dn[:i], "=")
			if !found || strings.Trim(typ, " ") == "" {
				return "", false
			}
			return dn[i+1:], true
		case !plainByte(c):
			return "", false
		}
	}
	return "", false
}

// IsPlainDN reports whether every byte of dn may appear in a plain DN (see SplitPlainRDN); it says
// nothing of whether dn is well formed. Safe for concurrent use.
func IsPlainDN(dn string) bool {
	for i := 0; i < len(dn); i++ {
		if !plainByte(dn[i]) {
			return false
		}
	}
	return true
}

// appendParsedDN is AppendNormalizedDN for any DN: it parses dn with go-ldap.
func appendParsedDN(dst []byte, ancestors []int, dn string) (key []byte, offsets []int, ok bool) {
	d, err := ldap.ParseDN(dn)
	if err != nil {
		return dst, ancestors, false
	}
	key, offsets = dst, ancestors
	var parts []string
	for i, r := range d.RDNs {
		if i > 0 {
			key = append(key, ',')
			offsets = append(offsets, len(key))
		}
		parts = parts[:0]
		for _, at := range r.Attributes {
			parts = append(parts, string(appendEscaped(nil, fold(at.Type), true))+"="+string(appendEscaped(nil, fold(at.Value), false)))
		}
		slices.Sort(parts)
		key = append(key, strings.Join(parts, "+")...)
	}
	return key, offsets, true
}

// appendPlainDN is AppendNormalizedDN's fast path; ok is false for a DN it does not handle.
func appendPlainDN(dst []byte, ancestors []int, dn string) ([]byte, []int, bool) {
	if dn == "" {
		return dst, ancestors, false
	}
	if !IsPlainDN(dn) {
		return dst, ancestors, false
	}
	key, offsets := dst, ancestors
	start := len(key)
	for rest := dn; ; {
		part := rest
		i := strings.IndexByte(rest, ',')
		if i >= 0 {
			part, rest = rest[:i], rest[i+1:]
		}
		typ, val, found := strings.Cut(part, "=")
		typ, val = strings.Trim(typ, " "), strings.Trim(val, " ")
		if !found || typ == "" {
			return dst, ancestors, false
		}
		if len(key) > start {
			key = append(key, ',')
			offsets = append(offsets, len(key))
		}
		key = append(append(append(key, typ...), '='), val...)
		if i < 0 {
			break
		}
	}
	for i := start; i < len(key); i++ {
		if c := key[i]; 'A' <= c && c <= 'Z' {
			key[i] = c + 'a' - 'A'
		}
	}
	return key, offsets, true
}

// plainByte reports whether c may appear in a plain DN, one the fast path normalizes without the
// parser: printable ASCII other than the escape, the quote, '+', ';', '#', '<' and '>'.
func plainByte(c byte) bool { return plainBytes[c] }

var plainBytes = func() (t [256]bool) {
	for c := ' '; c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`\"+;#<>`, c)
	}
	return t
}()

// fold case-folds s so that fold(a) == fold(b) exactly when strings.EqualFold(a, b): ASCII letters
// to lower case, any other rune to the lower case of the smallest rune of its simple folding orbit
// (so 'K', 'k' and the Kelvin sign all fold to 'k'). Bytes that are not UTF-8 are kept.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(s[i])
			i++
			continue
		}
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(unicode.ToLower(low))
		i += n
	}
	return b.String()
}

// appendEscaped appends s escaped for an RFC 4514 string: a type (isType: '=' escaped too) or a
// value.
func appendEscaped(dst []byte, s string, isType bool) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' || c == ',' || c == '+' || c == '"' || c == ';' || c == '<' || c == '>' || (isType && c == '='),
			(c == '#' || c == ' ') && i == 0,
			c == ' ' && i == len(s)-1:
			dst = append(dst, '\\', c)
		case c < ' ' || c == 0x7f:
			dst = append(dst, '\\', hex[c>>4], hex[c&0xf])
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, '\\', hex[c>>4], hex[c&0xf])
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		default:
			dst = append(dst, c)
		}
		i++
	}
	return dst
}
