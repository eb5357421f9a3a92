package main

import (
	"strconv"
	"strings"
	"syscall/js"

	"github.com/opakit/opa/internal/jwelite"
)

// This file is everything the helper asks of WebCrypto (crypto.subtle): key generation, the public
// key's export, and the three private-key operations — RSA-OAEP key unwrapping, ECDH and AES-GCM.
// The private CryptoKey is only ever passed back to crypto.subtle, never exported.

// subtle returns crypto.subtle, or a webcrypto_unavailable error (browsers offer it only in secure
// contexts: https or localhost).
func subtle() (js.Value, error) {
	c := js.Global().Get("crypto")
	if c.Type() != js.TypeObject || c.Get("subtle").Type() != js.TypeObject {
		return js.Value{}, coded(codeWebCryptoUnavailable, "WebCrypto (crypto.subtle) is not available here; serve the page over https or from localhost")
	}
	return c.Get("subtle"), nil
}

// await blocks the calling goroutine (never the one running a JS callback) until p settles.
func await(p js.Value) (js.Value, bool) {
	type result struct {
		v  js.Value
		ok bool
	}
	ch := make(chan result, 1)
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{args[0], true}; return nil })
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{js.Undefined(), false}; return nil })
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	r := <-ch
	return r.v, r.ok
}

func obj(kv ...any) js.Value {
	o := js.Global().Get("Object").New()
	for i := 0; i < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

func bytesToJS(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

func bytesFromJS(ab js.Value) []byte {
	u := js.Global().Get("Uint8Array").New(ab)
	b := make([]byte, u.Length())
	js.CopyBytesToGo(b, u)
	return b
}

func strs(s ...string) js.Value {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return js.ValueOf(a)
}

// webGenerate makes a key pair with crypto.subtle.generateKey — RSA-OAEP with SHA-256 and e=65537
// (modulusLength 2048 or 3072) or ECDH (P-256 or P-384) — with the given extractability of the
// private key, and returns the private CryptoKey and the public JWK.
func webGenerate(alg, crv string, modulusLength int, extractable bool) (js.Value, *jwelite.PublicJWK, error) {
	s, err := subtle()
	if err != nil {
		return js.Value{}, nil, err
	}
	var params js.Value
	var usages js.Value
	if alg == jwelite.AlgECDHES {
		params = obj("name", "ECDH", "namedCurve", crv)
		usages = strs("deriveBits")
	} else {
		params = obj("name", "RSA-OAEP", "modulusLength", modulusLength, "publicExponent", bytesToJS([]byte{1, 0, 1}), "hash", "SHA-256")
		usages = strs("unwrapKey") // the private key's only use: unwrapping the content key
	}
	pair, ok := await(s.Call("generateKey", params, extractable, usages))
	if !ok {
		return js.Value{}, nil, coded(codeInternal, "WebCrypto could not generate the key")
	}
	j, ok := await(s.Call("exportKey", "jwk", pair.Get("publicKey")))
	if !ok {
		return js.Value{}, nil, coded(codeInternal, "WebCrypto could not export the public key")
	}
	get := func(name string) string {
		if v := j.Get(name); v.Type() == js.TypeString {
			return v.String()
		}
		return ""
	}
	pub, err := jwelite.NewPublicJWK(get("kty"), get("crv"), get("x"), get("y"), get("n"), get("e"))
	if err != nil {
		return js.Value{}, nil, coded(codeInternal, "WebCrypto exported an unexpected public key")
	}
	sum, ok := sha256(s, pub.ThumbprintInput())
	if !ok {
		return js.Value{}, nil, coded(codeInternal, "WebCrypto could not hash")
	}
	pub.SetKid(sum)
	return pair.Get("privateKey"), pub, nil
}

// sha256 hashes b with crypto.subtle.digest.
func sha256(s js.Value, b []byte) ([]byte, bool) {
	d, ok := await(s.Call("digest", "SHA-256", bytesToJS(b)))
	if !ok {
		return nil, false
	}
	return bytesFromJS(d), true
}

// prepare parses and checks a compact JWE for a private key described by desc — "ECDH-ES P-256",
// "ECDH-ES P-384" or "RSA-OAEP-256 <modulus bytes>", which opa-reveal.js derives once per key from
// its CryptoKey's algorithm — (jwelite.Parse: header, algorithms, lengths) and returns what
// opa-reveal.js hands to WebCrypto to decrypt it, as bytes: a kind byte (1 ECDH-ES,
// 2 RSA-OAEP-256), then fields each prefixed by its length as a big-endian uint32:
//
//	ECDH-ES:      epk, kdfPrefix, kdfSuffix, iv, aad, data
//	RSA-OAEP-256: encryptedKey, iv, aad, data
//
// epk is the ephemeral public point (for importKey "raw"; the shared secret is as long as one
// coordinate), kdfPrefix and kdfSuffix what the Concat KDF hashes before and after the shared
// secret (jwelite.KDFInput: one SHA-256 round is the content key), data the ciphertext followed by
// the tag (AES-GCM's input). A failure is an error code instead: codeDecryptFailed (which says
// nothing more) or codeInvalidArgument (desc). opa-reveal.js calls it through the WebAssembly
// export opaRevealPrepare (export_js.go).
func prepare(desc, compact string) ([]byte, string) { //nolint:unused // called by the WebAssembly export opaRevealPrepare
	var key jwelite.Key
	switch desc {
	case "ECDH-ES P-256", "ECDH-ES P-384":
		key = jwelite.Key{Alg: jwelite.AlgECDHES, Curve: desc[len("ECDH-ES "):]}
	default:
		n, ok := strings.CutPrefix(desc, jwelite.AlgRSAOAEP256+" ")
		bytes, err := strconv.Atoi(n)
		if !ok || err != nil || bytes < 256 || bytes > 512 {
			return nil, codeInvalidArgument
		}
		key = jwelite.Key{Alg: jwelite.AlgRSAOAEP256, ModulusBytes: bytes}
	}
	m, err := jwelite.Parse(compact, key)
	if err != nil {
		return nil, codeDecryptFailed
	}
	var fields [][]byte
	kind := byte(2)
	if key.Alg == jwelite.AlgECDHES {
		n := jwelite.CoordinateBytes(key.Curve)
		in := m.KDFInput(make([]byte, n)) // counter || Z || OtherInfo with Z zero: cut out here
		kind, fields = 1, [][]byte{m.EPKPoint(), in[:4], in[4+n:]}
	} else {
		fields = [][]byte{m.EncryptedKey}
	}
	fields = append(fields, m.IV, m.AAD, m.Ciphertext) // the tag follows the ciphertext: see below
	size := 1 + 4 + len(m.Tag)
	for _, f := range fields {
		size += 4 + len(f)
	}
	out := make([]byte, 1, size)
	out[0] = kind
	for i, f := range fields {
		n := len(f)
		if i == len(fields)-1 {
			n += len(m.Tag) // data: ciphertext || tag
		}
		out = append(out, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		out = append(out, f...)
	}
	return append(out, m.Tag...), ""
}

// jwkValue returns the public JWK as a plain JS object.
func jwkValue(j *jwelite.PublicJWK) js.Value {
	o := js.Global().Get("Object").New()
	for _, m := range j.Members() {
		o.Set(m[0], m[1])
	}
	return o
}
