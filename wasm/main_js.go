// Command opa-reveal is the browser-side half of a password reveal, compiled to WebAssembly
// (GOOS=js GOARCH=wasm) and used through the ES module opa-reveal.js (the npm package
// @opakit/opa-reveal, built by wasm/package.sh). It parses and checks the password_jwe the server
// returns (internal/jwelite: header, algorithms, lengths), derives the ECDH-ES content key with the
// Concat KDF, and hands RSA-OAEP, ECDH and AES-GCM to WebCrypto, so a private key generated here is
// a non-extractable CryptoKey whose material is never in Go or JS memory. For environments without
// WebCrypto, an EC key can be held in Go instead (crypto/ecdh), but only when asked for.
//
// It installs no global. opa-reveal.js puts a one-shot registration function on globalThis under a
// random name, passes that name in the environment variable OPA_REVEAL_REGISTER and removes it as
// soon as go.run returns; main removes it too and calls it synchronously with the API object, so
// nothing else on the page can run in between. The API object's methods each return a Promise:
//
//	generateKey({alg, crv, modulusLength, extractable})  → {privateKey: CryptoKey, publicJwk}
//	decrypt(privateKey, jwe)                              → the plaintext password, a string
//	generateGoKey({crv, extractable})                     → {id, publicJwk}  (an EC key held in Go;
//	                                                        only with -tags gokeys, else "unsupported")
//	decryptGo(id, jwe)                                    → the plaintext password   (gokeys)
//	exportGoKey(id)                                       → the private JWK, only for an extractable key (gokeys)
//	destroyGoKey(id)                                      → undefined; the Go key is forgotten (gokeys)
//	close()                                               → undefined; forgets every Go key, releases every
//	                                                        js.Func and lets the Go program exit
//
// A rejection is always a JS Error with a code property (see promise_js.go); decrypt_failed never
// says why.
//
// The default build links no Go crypto, no encoding/json, no fmt and no os (each would add 80 to
// 150 KB gzipped; see BENCHMARKS.md, "Browser reveal helper"): the environment is read with
// package syscall, JSON with the host's JSON.parse.
package main

import (
	"syscall"
	"syscall/js"
)

func main() {
	a := newAPI()
	name, _ := syscall.Getenv("OPA_REVEAL_REGISTER")
	register := js.Global().Get(name)
	if name == "" || register.Type() != js.TypeFunction {
		panic("opa-reveal: start it with opa-reveal.js (no registration function)")
	}
	js.Global().Delete(name)
	register.Invoke(a.object())
	<-a.done
}
