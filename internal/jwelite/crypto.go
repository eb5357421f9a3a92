//go:build !js || gokeys

package jwelite

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
)

// This file is the Go-crypto half: natively, and in the js build only with the gokeys build tag
// (the larger opa-reveal-gokeys.wasm, for environments without WebCrypto). The default js build
// does all of this with WebCrypto.

// ContentKey derives the message's A256GCM content key from the ECDH shared secret z:
// SHA-256(KDFInput(z)).
func (m *Message) ContentKey(z []byte) []byte {
	sum := sha256.Sum256(m.KDFInput(z))
	return sum[:]
}

// Thumbprint sets the JWK's "kid" to its RFC 7638 SHA-256 thumbprint and returns the JWK.
func (j *PublicJWK) Thumbprint() *PublicJWK {
	sum := sha256.Sum256(j.ThumbprintInput())
	j.SetKid(sum[:])
	return j
}

// ECKey is an ECDH-ES key pair held in Go memory (crypto/ecdh), for environments without WebCrypto.
// In a browser, prefer WebCrypto's non-extractable keys: this key's private scalar is in the
// WebAssembly module's memory. It is immutable and safe for concurrent use.
type ECKey struct {
	priv  *ecdh.PrivateKey
	curve string
	pub   *PublicJWK
}

// GenerateEC generates an ECDH-ES key pair on curve ("P-256" or "P-384") from crypto/rand. Another
// curve is an error wrapping ErrInvalidArgument.
func GenerateEC(curve string) (*ECKey, error) {
	var c ecdh.Curve
	switch curve {
	case "P-256":
		c = ecdh.P256()
	case "P-384":
		c = ecdh.P384()
	default:
		return nil, invalidArg("curve must be P-256 or P-384")
	}
	priv, err := c.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err // crypto/rand failing; nothing a caller can fix
	}
	p := priv.PublicKey().Bytes()
	n := (len(p) - 1) / 2
	pub, err := NewPublicJWK("EC", curve, b64.EncodeToString(p[1:1+n]), b64.EncodeToString(p[1+n:]), "", "")
	if err != nil {
		return nil, err
	}
	return &ECKey{priv: priv, curve: curve, pub: pub.Thumbprint()}, nil
}

// PublicJWK returns the key's public JWK (with "kid", "alg":"ECDH-ES", "use":"enc").
func (k *ECKey) PublicJWK() *PublicJWK { return k.pub }

// PrivateD returns the private scalar as the JWK member "d" holds it (RFC 7518 §6.2.2.1,
// base64url). It is a secret: the helper hands it out only for a key generated extractable.
func (k *ECKey) PrivateD() string { return b64.EncodeToString(k.priv.Bytes()) }

// Decrypt decrypts a compact ECDH-ES/A256GCM JWE addressed to the key. Any failure is ErrDecrypt.
func (k *ECKey) Decrypt(compact string) ([]byte, error) {
	m, err := Parse(compact, Key{Alg: AlgECDHES, Curve: k.curve})
	if err != nil {
		return nil, err
	}
	epk, err := k.priv.Curve().NewPublicKey(m.EPKPoint()) // refuses a point not on the curve
	if err != nil {
		return nil, ErrDecrypt
	}
	z, err := k.priv.ECDH(epk)
	if err != nil {
		return nil, ErrDecrypt
	}
	return m.OpenGCM(m.ContentKey(z))
}

// OpenGCM decrypts the message's ciphertext and tag with the A256GCM content key cek (RFC 7518
// §5.3), authenticating the protected header. Any failure is ErrDecrypt.
func (m *Message) OpenGCM(cek []byte) ([]byte, error) {
	if len(cek) != 32 {
		return nil, ErrDecrypt
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, ErrDecrypt
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, ErrDecrypt
	}
	pt, err := gcm.Open(nil, m.IV, append(append([]byte(nil), m.Ciphertext...), m.Tag...), m.AAD)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
