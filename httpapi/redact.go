package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// redacted replaces a secret in the request log.
const redacted = "REDACTED"

// secretField reports whether a JSON member or query parameter of that name may carry a secret:
// its folded name (foldName) contains PASSWORD, SECRET or TOKEN, or is a private JSON Web Key
// member (d, p, q, dp, dq, qi, k). Because the comparison is on folded names, every spelling that
// encoding/json would decode into a secret field (key_secret, KEY_SECRET, key_ſecret with a long
// s, service_account_paſſword, a Kelvin sign for k) is caught.
func secretField(name string) bool {
	f := foldName(name)
	switch f {
	case "D", "P", "Q", "DP", "DQ", "QI", "K":
		return true
	}
	return strings.Contains(f, "PASSWORD") || strings.Contains(f, "SECRET") || strings.Contains(f, "TOKEN")
}

// foldName folds name the way encoding/json does when it matches an object key to a struct
// field: foldName(x) == foldName(y) exactly when bytes.EqualFold(x, y). ASCII letters become upper
// case; every other rune becomes the smallest rune of its Unicode simple case-folding orbit.
func foldName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune returns the smallest rune of r's simple case-folding orbit.
func foldRune(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return min
}

// redactJSON re-encodes the JSON text body with the value (scalar, object or array) of every
// secret-named member (secretField) replaced by "REDACTED". It reads at most 2 × limit bytes of
// body and stops once the output passes limit bytes, so a huge body costs no more than that. A
// string cut by that read is written as far as it goes unless it is a key or a secret's value;
// nothing of a secret is ever written. whole reports whether the
// output holds the entire body (then it is valid JSON). ok is false when body is not a single JSON
// value, as far as it was read; then nothing of it may be kept.
func redactJSON(body []byte, limit int) (out []byte, whole, ok bool) {
	read := body[:min(len(body), 2*limit)]
	cut := len(read) < len(body)
	dec := json.NewDecoder(bytes.NewReader(read))
	dec.UseNumber()
	type frame struct {
		object  bool
		n       int  // members or elements written
		wantKey bool // an object whose next token is a key or its end
	}
	var (
		buf    bytes.Buffer
		stack  []frame
		done   bool // the top-level value is complete
		secret bool // the next value belongs to a secret member
		skip   int  // depth inside a secret compound value being dropped
	)
	valueDone := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		top := &stack[len(stack)-1]
		top.n++
		top.wantKey = top.object
	}
	for {
		tok, err := dec.Token()
		if cut && (err == io.EOF || err == io.ErrUnexpectedEOF) {
			// The part read was JSON so far. A string value the read cut is kept as far as it got.
			rest := bytes.TrimLeft(read[dec.InputOffset():], " \t\r\n,:")
			inValue := len(stack) == 0 || !stack[len(stack)-1].wantKey
			if inValue && !secret && skip == 0 && len(rest) > 0 && rest[0] == '"' {
				if len(stack) > 0 && !stack[len(stack)-1].object && stack[len(stack)-1].n > 0 {
					buf.WriteByte(',')
				}
				buf.Write(rest)
			}
			return buf.Bytes(), false, true
		}
		if err == io.EOF {
			return buf.Bytes(), done, done
		}
		if err != nil || done {
			return nil, false, false // malformed, or data after the value
		}
		if skip > 0 {
			switch tok {
			case json.Delim('{'), json.Delim('['):
				skip++
			case json.Delim('}'), json.Delim(']'):
				skip--
			}
			continue
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
			buf.WriteByte(byte(d))
			stack = stack[:len(stack)-1]
			valueDone()
		} else if top != nil && top.wantKey {
			key, _ := tok.(string) // the decoder allows only a string here
			if top.n > 0 {
				buf.WriteByte(',')
			}
			writeJSON(&buf, key)
			buf.WriteByte(':')
			top.wantKey = false
			secret = secretField(key)
		} else {
			if top != nil && !top.object && top.n > 0 {
				buf.WriteByte(',')
			}
			switch {
			case secret:
				writeJSON(&buf, redacted)
				secret = false
				if tok == json.Delim('{') || tok == json.Delim('[') {
					skip = 1
				}
				valueDone()
			case tok == json.Delim('{'):
				buf.WriteByte('{')
				stack = append(stack, frame{object: true, wantKey: true})
			case tok == json.Delim('['):
				buf.WriteByte('[')
				stack = append(stack, frame{})
			default:
				writeJSON(&buf, tok)
				valueDone()
			}
		}
		if buf.Len() > limit {
			return buf.Bytes(), false, true
		}
	}
}

// writeJSON appends the JSON encoding of a token value (string, json.Number, bool or nil).
func writeJSON(buf *bytes.Buffer, v any) {
	if n, isNumber := v.(json.Number); isNumber {
		buf.WriteString(n.String())
		return
	}
	b, _ := json.Marshal(v)
	buf.Write(b)
}

// redactQuery returns the raw query with the value of every secret-named parameter (secretField
// of its unescaped name) replaced by REDACTED, cut to about limit bytes. A parameter whose name does
// not unescape, or that holds a ';' (which net/url refuses to split on), is redacted whole.
func redactQuery(raw string, limit int) string {
	if raw == "" {
		return ""
	}
	var b strings.Builder
	for i, pair := range strings.Split(raw, "&") {
		if b.Len() > limit {
			return cutUTF8(b.String(), limit) + "…[truncated]"
		}
		if i > 0 {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(name)
		switch {
		case err != nil || strings.Contains(pair, ";"):
			b.WriteString(redacted)
		case secretField(key):
			b.WriteString(name)
			if hasValue {
				b.WriteString("=" + redacted)
			}
		default:
			b.WriteString(pair)
		}
	}
	if b.Len() > limit {
		return cutUTF8(b.String(), limit) + "…[truncated]"
	}
	return b.String()
}
