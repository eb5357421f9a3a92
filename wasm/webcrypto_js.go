package main

import (
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

// webKey is what the helper reads from a private CryptoKey's algorithm to check a JWE against it.
func webKey(priv js.Value) (jwelite.Key, error) {
	if priv.Type() != js.TypeObject || !priv.InstanceOf(js.Global().Get("CryptoKey")) || priv.Get("type").String() != "private" {
		return jwelite.Key{}, invalidArg("not a private CryptoKey of this helper")
	}
	alg := priv.Get("algorithm")
	switch alg.Get("name").String() {
	case "ECDH":
		crv := alg.Get("namedCurve").String()
		if jwelite.CoordinateBytes(crv) == 0 {
			return jwelite.Key{}, invalidArg("unsupported curve")
		}
		return jwelite.Key{Alg: jwelite.AlgECDHES, Curve: crv}, nil
	case "RSA-OAEP":
		if alg.Get("hash").Get("name").String() != "SHA-256" {
			return jwelite.Key{}, invalidArg("RSA-OAEP key without SHA-256")
		}
		return jwelite.Key{Alg: jwelite.AlgRSAOAEP256, ModulusBytes: alg.Get("modulusLength").Int() / 8}, nil
	}
	return jwelite.Key{}, invalidArg("not an ECDH or RSA-OAEP key")
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

// webDecrypt decrypts a compact JWE with a private CryptoKey: jwelite checks the JWE against the
// key, then WebCrypto unwraps the content key (RSA-OAEP) or derives the shared secret (ECDH, with
// the Concat KDF here), and decrypts (AES-GCM). Every failure is errDecrypt.
func webDecrypt(priv js.Value, compact string) (string, error) {
	key, err := webKey(priv)
	if err != nil {
		return "", err
	}
	s, err := subtle()
	if err != nil {
		return "", err
	}
	m, err := jwelite.Parse(compact, key)
	if err != nil {
		return "", errDecrypt
	}
	gcm := obj("name", "AES-GCM")
	var cek js.Value
	if key.Alg == jwelite.AlgECDHES {
		epk, ok := await(s.Call("importKey", "raw", bytesToJS(m.EPKPoint()), obj("name", "ECDH", "namedCurve", key.Curve), true, strs()))
		if !ok { // not a point on the curve
			return "", errDecrypt
		}
		bits, ok := await(s.Call("deriveBits", obj("name", "ECDH", "public", epk), priv, 8*jwelite.CoordinateBytes(key.Curve)))
		if !ok {
			return "", errDecrypt
		}
		z := bytesFromJS(bits)
		in := m.KDFInput(z) // the Concat KDF: one SHA-256 round gives the 256-bit content key
		raw, ok := sha256(s, in)
		clear(z)
		clear(in)
		if !ok {
			return "", errDecrypt
		}
		cek, ok = await(s.Call("importKey", "raw", bytesToJS(raw), gcm, false, strs("decrypt")))
		clear(raw)
		if !ok {
			return "", errDecrypt
		}
	} else {
		var ok bool
		cek, ok = await(s.Call("unwrapKey", "raw", bytesToJS(m.EncryptedKey), priv, obj("name", "RSA-OAEP"), gcm, false, strs("decrypt")))
		if !ok || cek.Get("algorithm").Get("length").Int() != 256 { // A256GCM needs a 256-bit key
			return "", errDecrypt
		}
	}
	ct := append(append(make([]byte, 0, len(m.Ciphertext)+len(m.Tag)), m.Ciphertext...), m.Tag...)
	pt, ok := await(s.Call("decrypt", obj("name", "AES-GCM", "iv", bytesToJS(m.IV), "additionalData", bytesToJS(m.AAD), "tagLength", 128), cek, bytesToJS(ct)))
	if !ok {
		return "", errDecrypt
	}
	return string(bytesFromJS(pt)), nil
}

// jwkValue returns the public JWK as a plain JS object.
func jwkValue(j *jwelite.PublicJWK) js.Value {
	o := js.Global().Get("Object").New()
	for _, m := range j.Members() {
		o.Set(m[0], m[1])
	}
	return o
}
