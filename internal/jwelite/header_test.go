package jwelite

import (
	"bytes"
	"encoding/json"
	"testing"
)

// referenceHeader decodes a header with encoding/json, as the helper did before it had its own
// scanner: the oracle for FuzzDecodeHeader.
func referenceHeader(raw []byte) (Header, bool) {
	var members map[string]json.RawMessage
	// Only JSON's own whitespace (RFC 8259: space, tab, CR, LF) may surround the object;
	// bytes.TrimSpace would also drop \f, \v and Unicode spaces that encoding/json refuses.
	if t := bytes.Trim(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &members) != nil {
		return Header{}, false
	}
	var h Header
	str := func(m map[string]json.RawMessage, name string, dst *string) bool {
		v, ok := m[name]
		return !ok || json.Unmarshal(v, dst) == nil && v[0] == '"'
	}
	_, zip := members["zip"]
	_, crit := members["crit"]
	h.Refused = zip || crit
	if !str(members, "alg", &h.Alg) || !str(members, "enc", &h.Enc) || !str(members, "kid", &h.Kid) || !str(members, "apu", &h.APU) || !str(members, "apv", &h.APV) {
		return Header{}, false
	}
	if v, ok := members["epk"]; ok {
		var e map[string]json.RawMessage
		if json.Unmarshal(v, &e) != nil || e == nil {
			return Header{}, false
		}
		h.EPK = &ECPublic{}
		if !str(e, "kty", &h.EPK.Kty) || !str(e, "crv", &h.EPK.Crv) || !str(e, "x", &h.EPK.X) || !str(e, "y", &h.EPK.Y) {
			return Header{}, false
		}
	}
	return h, true
}

func sameHeader(a, b Header) bool {
	if (a.EPK == nil) != (b.EPK == nil) || a.EPK != nil && *a.EPK != *b.EPK {
		return false
	}
	a.EPK, b.EPK = nil, nil
	return a == b
}

var headerSeeds = []string{
	`{"alg":"ECDH-ES","enc":"A256GCM","epk":{"kty":"EC","crv":"P-256","x":"AA","y":"BB"},"kid":"k"}`,
	`{"alg":"RSA-OAEP-256","enc":"A256GCM","cty":"x","n":[1,2.5e3,-0.1,true,false,null,{"a":{}}]}`,
	` {"alg" : "a\u00e9\ud83d\udd11\/\n" , "zip":"DEF"} `,
	`{"alg":"x","alg":"y"}`, `{"alg":1,"alg":"y"}`, `{"alg":"y","alg":null}`,
	`{"epk":1,"epk":{"x":"1"}}`, `{"epk":{"x":1},"epk":{"x":"1"}}`, `{"epk":{"x":"1","x":2}}`,
	`{"kid":"\ud800"}`, `{"kid":"\ud800\u0041"}`, `{"kid":"\udc00\ud800"}`, "{\"kid\":\"\xff\"}",
	`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":tru}`,
	`{}`, `[]`, `null`, "{}\f", "\v{}", "{}\u00a0", `{"a":1}x`, `{"a":1,}`, `{,}`, `{"a" 1}`, `{"a":[1,]}`, `{"crit":["b64"]}`,
}

func TestDecodeHeaderMatchesEncodingJSON(t *testing.T) {
	for _, s := range headerSeeds {
		got, ok := decodeHeader([]byte(s))
		want, wantOK := referenceHeader([]byte(s))
		if ok != wantOK || ok && !sameHeader(got, want) {
			t.Errorf("%s: %+v %v, encoding/json %+v %v", s, got, ok, want, wantOK)
		}
	}
}

// FuzzDecodeHeader: decodeHeader accepts exactly what encoding/json does (up to its own nesting
// limit) and reads the same members.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeHeader(b)
		if bytes.Count(b, []byte("["))+bytes.Count(b, []byte("{")) > maxDepth-2 {
			return // deeper than the scanner allows: refusing is fine
		}
		want, wantOK := referenceHeader(b)
		if ok != wantOK || ok && !sameHeader(got, want) {
			t.Fatalf("%q: %+v %v, encoding/json %+v %v", b, got, ok, want, wantOK)
		}
	})
}
