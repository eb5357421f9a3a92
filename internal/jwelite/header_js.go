//go:build js

package jwelite

import "syscall/js"

// decodeHeader decodes a protected header with the host's JSON.parse (so the js build links no
// encoding/json) and reports whether it was a JSON object of the right shape. Member names match
// exactly, as in the native build; a duplicate member is the last one in both.
func decodeHeader(raw []byte) (h Header, ok bool) {
	defer func() {
		if recover() != nil { // JSON.parse threw a SyntaxError
			h, ok = Header{}, false
		}
	}()
	v := js.Global().Get("JSON").Call("parse", string(raw))
	if v.Type() != js.TypeObject || js.Global().Get("Array").Call("isArray", v).Bool() {
		return Header{}, false
	}
	has := func(o js.Value, name string) bool {
		return js.Global().Get("Object").Get("prototype").Get("hasOwnProperty").Call("call", o, name).Bool()
	}
	str := func(o js.Value, name string, dst *string) bool {
		if !has(o, name) {
			return true
		}
		m := o.Get(name)
		if m.Type() != js.TypeString {
			return false
		}
		*dst = m.String()
		return true
	}
	h.Refused = has(v, "zip") || has(v, "crit")
	if !str(v, "alg", &h.Alg) || !str(v, "enc", &h.Enc) || !str(v, "kid", &h.Kid) || !str(v, "apu", &h.APU) || !str(v, "apv", &h.APV) {
		return Header{}, false
	}
	if has(v, "epk") {
		e := v.Get("epk")
		if e.Type() != js.TypeObject || js.Global().Get("Array").Call("isArray", e).Bool() {
			return Header{}, false
		}
		h.EPK = &ECPublic{}
		if !str(e, "kty", &h.EPK.Kty) || !str(e, "crv", &h.EPK.Crv) || !str(e, "x", &h.EPK.X) || !str(e, "y", &h.EPK.Y) {
			return Header{}, false
		}
	}
	return h, true
}
