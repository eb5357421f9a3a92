// Package jwelite is the JWE half of the browser reveal helper (github.com/opakit/opa/wasm) without
// go-jose: it parses and checks the compact JWEs the server sends (RFC 7516 §7.1, the two shapes
// package revealjwe makes: "alg" RSA-OAEP-256 or ECDH-ES direct key agreement, "enc" A256GCM),
// lays out the input of the Concat KDF that turns an ECDH-ES shared secret into the content key
// (RFC 7518 §4.6.2), and builds public JWKs and the input of their RFC 7638 thumbprints.
//
// It does no cryptography of its own. In the browser the helper hashes (SHA-256), unwraps
// (RSA-OAEP), agrees (ECDH) and decrypts (AES-GCM) with WebCrypto, so that private keys stay in
// non-extractable CryptoKeys; elsewhere, and for keys held in Go (ECKey, built only natively or
// with the gokeys build tag), the standard library's crypto/sha256, crypto/ecdh, crypto/aes and
// crypto/cipher do. The point of the package is size: the js/wasm build of it links no crypto
// package, no encoding/json (a header is decoded with the host's JSON.parse) and no fmt, and
// without go-jose and math/big the WebAssembly module is a third of its former size
// (BENCHMARKS.md, "Browser reveal helper"). Tests check every layout against go-jose.
//
// # Errors
//
// Parse and the decryption functions return only ErrDecrypt, whatever went wrong, so the error is
// no padding or curve oracle. NewPublicJWK and GenerateEC return errors wrapping
// ErrInvalidArgument. No error contains key material or plaintext.
//
// # Concurrency
//
// Every function is safe for concurrent use; *Message, *PublicJWK (once its Kid is set) and
// *ECKey are immutable.
package jwelite

import (
	"encoding/base64"
	// The standard library's errors, not cockroachdb/errors as elsewhere: this package is linked
	// into the size-bounded WebAssembly helper, and it only needs sentinel errors.
	"errors"
	"strings"
)

// ErrDecrypt is the only error of Parse and the decryption functions. It says nothing about why.
var ErrDecrypt = errors.New("jwelite: decryption failed")

// ErrInvalidArgument marks errors about a caller's arguments: an unknown curve or algorithm, a
// malformed public key.
var ErrInvalidArgument = errors.New("jwelite: invalid argument")

// invalidArg returns an error wrapping ErrInvalidArgument (without fmt, which the js build avoids).
func invalidArg(msg string) error { return argError(msg) }

type argError string

func (e argError) Error() string        { return "jwelite: invalid argument: " + string(e) }
func (e argError) Is(target error) bool { return target == ErrInvalidArgument }

// JOSE algorithm names the helper uses (RFC 7518 §4.3, §4.6, §5.3).
const (
	AlgRSAOAEP256 = "RSA-OAEP-256"
	AlgECDHES     = "ECDH-ES"
	EncA256GCM    = "A256GCM"
)

// MaxJWEBytes bounds the compact JWE Parse reads (as revealjwe.MaxJWEBytes).
const MaxJWEBytes = 64 << 10

// Key describes the private key a JWE must be addressed to: its "alg", and the curve ("P-256",
// "P-384") of an ECDH-ES key or the modulus size in bytes (256 to 512) of an RSA-OAEP-256 key.
type Key struct {
	Alg          string
	Curve        string
	ModulusBytes int
}

// Message is a parsed, checked compact JWE.
type Message struct {
	Header       Header
	AAD          []byte // the Additional Authenticated Data: ASCII(BASE64URL(protected header)), RFC 7516 §5.2 step 14
	EncryptedKey []byte // empty for ECDH-ES direct key agreement
	IV           []byte // 12 bytes
	Ciphertext   []byte
	Tag          []byte // 16 bytes
	epk          []byte // ECDH-ES: the uncompressed ephemeral public point
	apu, apv     []byte
}

// Header is the protected header members the helper reads. Present reports the members whose
// mere presence makes the JWE unacceptable: "zip" (RFC 7516 §4.1.3; the server never compresses)
// and "crit" (§4.1.13; no extension is understood). A member of the wrong JSON type fails
// decoding.
type Header struct {
	Alg, Enc, Kid string
	EPK           *ECPublic
	APU, APV      string // base64url, RFC 7518 §4.6.1.2
	Refused       bool   // "zip" or "crit" was present
}

// ECPublic is an EC public key as a JWK (RFC 7518 §6.2.1), coordinates base64url-encoded.
type ECPublic struct {
	Kty, Crv, X, Y string
}

// CoordinateBytes returns the size of a coordinate (and of the ECDH shared secret) on curve, or 0
// for a curve the helper does not use.
func CoordinateBytes(curve string) int {
	switch curve {
	case "P-256":
		return 32
	case "P-384":
		return 48
	}
	return 0
}

var b64 = base64.RawURLEncoding.Strict()

// Parse splits and checks a compact JWE addressed to key: five base64url parts without padding, a
// protected header that is a JSON object with "alg" equal to key.Alg, "enc" A256GCM, no "zip" and
// no "crit"; for ECDH-ES an empty encrypted key and an "epk" on key.Curve with coordinates of the
// curve's size (the point itself is checked by whoever imports it: WebCrypto or crypto/ecdh), and
// for RSA-OAEP-256 an encrypted key of key.ModulusBytes; a 96-bit IV and a 128-bit tag. The header
// is decoded with encoding/json natively and with JSON.parse in the js build; either way member
// names match exactly. Any failure is ErrDecrypt. It is safe for concurrent use.
func Parse(compact string, key Key) (*Message, error) {
	if len(compact) > MaxJWEBytes {
		return nil, ErrDecrypt
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 5 {
		return nil, ErrDecrypt
	}
	var raw [5][]byte
	for i, p := range parts {
		b, err := b64.DecodeString(p)
		if err != nil {
			return nil, ErrDecrypt
		}
		raw[i] = b
	}
	m := &Message{AAD: []byte(parts[0]), EncryptedKey: raw[1], IV: raw[2], Ciphertext: raw[3], Tag: raw[4]}
	h, ok := decodeHeader(raw[0])
	if !ok {
		return nil, ErrDecrypt
	}
	m.Header = h
	if h.Alg != key.Alg || h.Enc != EncA256GCM || h.Refused || len(m.IV) != 12 || len(m.Tag) != 16 {
		return nil, ErrDecrypt
	}
	switch key.Alg {
	case AlgECDHES:
		n := CoordinateBytes(key.Curve)
		e := h.EPK
		if n == 0 || len(m.EncryptedKey) != 0 || e == nil || e.Kty != "EC" || e.Crv != key.Curve {
			return nil, ErrDecrypt
		}
		x, errX := b64.DecodeString(e.X)
		y, errY := b64.DecodeString(e.Y)
		apu, errU := b64.DecodeString(h.APU)
		apv, errV := b64.DecodeString(h.APV)
		if errX != nil || errY != nil || errU != nil || errV != nil || len(x) != n || len(y) != n {
			return nil, ErrDecrypt
		}
		m.epk = append(append([]byte{4}, x...), y...)
		m.apu, m.apv = apu, apv
	case AlgRSAOAEP256:
		if key.ModulusBytes < 256 || len(m.EncryptedKey) != key.ModulusBytes || h.EPK != nil {
			return nil, ErrDecrypt
		}
	default:
		return nil, ErrDecrypt
	}
	return m, nil
}

// EPKPoint returns the ephemeral public key of an ECDH-ES message as an uncompressed point
// (0x04 || X || Y, SEC 1 §2.3.3), the form crypto/ecdh and WebCrypto's "raw" import take. It is
// nil for an RSA-OAEP-256 message.
func (m *Message) EPKPoint() []byte { return m.epk }

// KDFInput returns what the Concat KDF (NIST SP 800-56A §5.8.1, as RFC 7518 §4.6.2 profiles it)
// hashes with SHA-256 to derive the message's 256-bit A256GCM content key from the ECDH shared
// secret z: the round counter 1, z, and OtherInfo — AlgorithmID (the "enc" value), PartyUInfo and
// PartyVInfo (the decoded "apu" and "apv"), each prefixed by its 32-bit big-endian length, then
// SuppPubInfo, the key length in bits (256) as 32 bits. One round gives 256 bits, so the content
// key is exactly SHA-256(KDFInput(z)). TestContentKeyMatchesGoJose checks it against go-jose's
// Concat KDF (github.com/go-jose/go-jose/v4/cipher).
func (m *Message) KDFInput(z []byte) []byte {
	out := make([]byte, 0, 4+len(z)+4+len(m.Header.Enc)+4+len(m.apu)+4+len(m.apv)+4)
	out = appendUint32(out, 1)
	out = append(out, z...)
	for _, f := range [][]byte{[]byte(m.Header.Enc), m.apu, m.apv} {
		out = appendUint32(out, uint32(len(f)))
		out = append(out, f...)
	}
	return appendUint32(out, 256)
}

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
