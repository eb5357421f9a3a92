// Package revealjwe is the reveal crypto shared by the engine and the browser helper: it validates a
// client's public JWK, encrypts a password to it as a compact JWE, and, on the client side,
// generates key pairs and decrypts those JWEs.
//
// Only two JWE shapes exist (RFC 7516 §7.1 compact serialization, one recipient):
//
//   - "alg":"RSA-OAEP-256" (RFC 7518 §4.3) for RSA keys of 2048 to 4096 bits, and
//   - "alg":"ECDH-ES" in direct key agreement mode (RFC 7518 §4.6) for EC keys on P-256, P-384 and
//     P-521,
//
// both with "enc":"A256GCM" (RFC 7518 §5.3). Decrypt accepts nothing else. All JOSE work is done by
// github.com/go-jose/go-jose/v4; this package only chooses and checks.
//
// # Errors
//
// ParsePublicKey, Encrypt and GenerateKey return errors that satisfy errors.Is(err, ErrInvalidKey)
// (ParsePublicKey, Encrypt) or errors.Is(err, ErrInvalidArgument) (GenerateKey). In native builds
// they are also marked with errclass.Invalid (github.com/cockroachdb/errors), so the root package
// maps them to opa.ErrInvalid. Decrypt returns only ErrDecrypt, whatever went wrong, so a caller
// learns nothing that could serve as a padding or curve oracle. No error ever contains key material
// or plaintext.
//
// # Why the js/wasm build does not use cockroachdb/errors
//
// The browser helper (github.com/opakit/opa/wasm) no longer links this package: it decrypts with
// WebCrypto and internal/jwelite. The js build remains for the GOOS=js tests. cockroachdb/errors
// pulls in sentry-go, gogo/protobuf and net/http. Measured with go1.26.8 on the former
// wasm helper (GOOS=js GOARCH=wasm, -trimpath -ldflags="-s -w"), see BENCHMARKS.md section
// "Browser reveal helper", History: linking it grows the module from 6.45 MB to 11.97 MB raw and from
// 1.78 MB to 2.97 MB gzip -9 (+67% download). The browser has no use for
// error classes, so errors_js.go builds the same sentinels with the standard library's errors package,
// and errors_other.go (every other GOOS) marks them with errclass.Invalid. The exported API is the
// same on both.
//
// # Concurrency
//
// Every function is safe for concurrent use. *PublicKey and *PrivateKey are immutable after
// construction and may be shared between goroutines.
package revealjwe
