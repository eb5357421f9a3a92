// Command opa-reveal is the browser-side half of a password reveal, compiled to WebAssembly
// (GOOS=js GOARCH=wasm). It generates a key pair whose private half never leaves the module, hands
// the page the public JWK to send in a reveal request, and decrypts the password_jwe the server
// returns. It is a thin adapter over github.com/opakit/opa/revealjwe; all JOSE work happens there.
//
// It installs one global, globalThis.opaReveal, with these methods, each returning a Promise:
//
//	generateKey({kind})         → {handle, publicJwk}  kind: "P-256" (default), "P-384", "RSA-2048", "RSA-3072"
//	publicJwk(handle)           → the public JWK as a plain object
//	exportPrivateJwk(handle)    → the private JWK as a plain object (only when explicitly asked for)
//	decrypt(jwe, handle)        → the plaintext password, a string
//	destroyKey(handle)          → undefined; the key is forgotten
//	close()                     → undefined; forgets every key, releases every js.Func, removes the
//	                              global and lets the Go program exit
//
// A rejection is always a JS Error with a code property: "invalid_argument", "unknown_key",
// "decrypt_failed" (which never says why) or "internal" (a recovered panic). opa-reveal.js loads the
// module and re-exports these as an ES module; opa-reveal.d.ts types them.
package main

func main() {
	a := newAPI()
	a.install("opaReveal")
	<-a.done
}
