//go:build !js

package jwelite

import (
	"bytes"
	"encoding/json"
)

// decodeHeader decodes a protected header with encoding/json, matching member names exactly (as
// JSON.parse does in the js build), and reports whether it was a JSON object of the right shape.
func decodeHeader(raw []byte) (Header, bool) {
	var members map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &members) != nil {
		return Header{}, false
	}
	var h Header
	str := func(name string, dst *string) bool {
		v, ok := members[name]
		return !ok || json.Unmarshal(v, dst) == nil && v[0] == '"'
	}
	_, zip := members["zip"]
	_, crit := members["crit"]
	h.Refused = zip || crit
	if !str("alg", &h.Alg) || !str("enc", &h.Enc) || !str("kid", &h.Kid) || !str("apu", &h.APU) || !str("apv", &h.APV) {
		return Header{}, false
	}
	if v, ok := members["epk"]; ok {
		var e map[string]json.RawMessage
		if json.Unmarshal(v, &e) != nil || e == nil {
			return Header{}, false
		}
		h.EPK = &ECPublic{}
		for name, dst := range map[string]*string{"kty": &h.EPK.Kty, "crv": &h.EPK.Crv, "x": &h.EPK.X, "y": &h.EPK.Y} {
			if v, ok := e[name]; ok && (json.Unmarshal(v, dst) != nil || v[0] != '"') {
				return Header{}, false
			}
		}
	}
	return h, true
}
