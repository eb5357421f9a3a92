package revealjwe

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// Key kinds accepted by GenerateKey.
const (
	KindP256    = "P-256"
	KindP384    = "P-384"
	KindRSA2048 = "RSA-2048"
	KindRSA3072 = "RSA-3072"
)

// MinRSABits is the smallest RSA modulus ParsePublicKey accepts. The largest is go-jose's
// MaxRSAModulusBits (4096).
const MinRSABits = 2048

// MaxJWKBytes bounds the size of a JWK ParsePublicKey reads; an RSA-4096 public JWK with a kid is
// under 1 KiB, so this leaves room for certificates without letting a request burn CPU.
const MaxJWKBytes = 16 << 10

// privateMembers are the JWK members that carry secret material (RFC 7518 §6.2.2, §6.3.2, §6.4.1;
// RFC 8037 §2 for OKP "d"). Their presence in a key sent for a reveal means the client leaked its
// private key, so the key is refused rather than silently stripped.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// privateParts decodes just the privateMembers (any JSON type, null included).
type privateParts struct {
	D    json.RawMessage `json:"d"`
	P    json.RawMessage `json:"p"`
	Q    json.RawMessage `json:"q"`
	Dp   json.RawMessage `json:"dp"`
	Dq   json.RawMessage `json:"dq"`
	Qi   json.RawMessage `json:"qi"`
	Oth  json.RawMessage `json:"oth"`
	K    json.RawMessage `json:"k"`
	Priv json.RawMessage `json:"priv"`
}

// present returns the name of the first private member found, or "".
func (p *privateParts) present() string {
	for i, v := range []json.RawMessage{p.D, p.P, p.Q, p.Dp, p.Dq, p.Qi, p.Oth, p.K, p.Priv} {
		if v != nil {
			return privateMembers[i]
		}
	}
	return ""
}

// mayHavePrivateMembers reports whether raw could hold one of privateMembers, so the decoding pass
// for them can be skipped for an ordinary public key (it costs as much as go-jose's own parse).
// If raw has no backslash and no byte above 0x7f, every JSON string in it is written literally
// between two quote characters, so a member name can only be such a quoted run; encoding/json
// matches names ignoring case, and with ASCII only that is ASCII case (the non-ASCII folds, like
// the Kelvin sign for "k", need a byte above 0x7f). Any doubt answers true.
func mayHavePrivateMembers(raw []byte) bool {
	for _, b := range raw {
		if b == '\\' || b >= 0x80 {
			return true
		}
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		end := i + 1
		for end < len(raw) && raw[end] != '"' {
			end++
		}
		if end-i-1 <= 4 {
			name := strings.ToLower(string(raw[i+1 : end]))
			for _, m := range privateMembers {
				if name == m {
					return true
				}
			}
		}
		i = end
	}
	return false
}

// PublicKey is a validated public encryption key: RSA (2048–4096 bits) for RSA-OAEP-256, or EC
// (P-256, P-384, P-521) for ECDH-ES. It is immutable and safe for concurrent use.
type PublicKey struct {
	key any // *rsa.PublicKey or *ecdsa.PublicKey
	alg jose.KeyAlgorithm
	kid string
}

// Algorithm returns the JWE "alg" Encrypt uses for the key: "RSA-OAEP-256" or "ECDH-ES".
func (p *PublicKey) Algorithm() string { return string(p.alg) }

// KeyID returns the JWK's "kid", or "" if it had none.
func (p *PublicKey) KeyID() string { return p.kid }

// Thumbprint returns the key's RFC 7638 SHA-256 thumbprint, base64url without padding. It is safe to
// log (it identifies the key without revealing anything secret).
func (p *PublicKey) Thumbprint() string {
	return thumbprint(jose.JSONWebKey{Key: p.key})
}

func thumbprint(k jose.JSONWebKey) string {
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		// Thumbprint fails only for key types this package never constructs.
		panic("revealjwe: thumbprint of a validated key: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// ParsePublicKey parses and validates a client's public JWK (RFC 7517 §4) for a reveal. It accepts
//
//   - "kty":"RSA" with a modulus of 2048 to 4096 bits and "alg" absent or "RSA-OAEP-256"
//     (RFC 7518 §6.3.1), and
//   - "kty":"EC" with "crv" P-256, P-384 or P-521, a point on the curve (RFC 7518 §6.2.1) and "alg"
//     absent or "ECDH-ES".
//
// If "use" is present it must be "enc" (RFC 7517 §4.2). Any private member (d, p, q, dp, dq, qi,
// oth, k, …), a symmetric ("oct") or OKP key, any other key type, curve or algorithm, and malformed
// JSON are refused with an error marked ErrInvalidKey (and errclass.Invalid in native builds). It is
// safe for concurrent use.
func ParsePublicKey(raw []byte) (*PublicKey, error) {
	if len(raw) > MaxJWKBytes {
		return nil, invalidKeyf("JWK larger than %d bytes", MaxJWKBytes)
	}
	// A first pass for the private members only, so that a private key is refused even where
	// go-jose would ignore the member (an RSA "p" without "d"). encoding/json matches member names
	// case-insensitively, so "D" is caught too; other members are skipped unparsed.
	if mayHavePrivateMembers(raw) {
		var priv privateParts
		if err := json.Unmarshal(raw, &priv); err != nil {
			return nil, invalidKeyf("not a JSON object")
		}
		if name := priv.present(); name != "" {
			return nil, invalidKeyf("private key material (%q member) must never be sent", name)
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		// go-jose's message names the problem (missing x, bad e, not on curve) without key bytes.
		return nil, invalidKeyf("%s", strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, invalidKeyf("not a public key")
	}
	if jwk.Use != "" && jwk.Use != "enc" {
		return nil, invalidKeyf("\"use\" must be \"enc\"")
	}
	pk := &PublicKey{key: jwk.Key, kid: jwk.KeyID}
	switch k := jwk.Key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, invalidKeyf("RSA modulus of %d bits, at least %d required", bits, MinRSABits)
		}
		// crypto/rsa refuses to encrypt to an even modulus or an exponent outside [3, 2^31-1];
		// refusing them here keeps "accepted" meaning "Encrypt works" (FuzzParsePublicKey found
		// an even modulus that parsed and then failed at reveal time with a 500).
		if k.N.Bit(0) == 0 {
			return nil, invalidKeyf("RSA modulus is even")
		}
		if k.E < 3 || k.E%2 == 0 || k.E > 1<<31-1 {
			return nil, invalidKeyf("bad RSA public exponent")
		}
		pk.alg = jose.RSA_OAEP_256
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, invalidKeyf("unsupported curve")
		}
		pk.alg = jose.ECDH_ES
	default:
		return nil, invalidKeyf("key type must be RSA or EC")
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(pk.alg) {
		return nil, invalidKeyf("\"alg\" must be absent or %q for this key type", string(pk.alg))
	}
	return pk, nil
}

// PrivateKey is a key pair made by GenerateKey. It is immutable and safe for concurrent use.
type PrivateKey struct {
	jwk jose.JSONWebKey // Key is *rsa.PrivateKey or *ecdsa.PrivateKey
	alg jose.KeyAlgorithm
}

// GenerateKey generates a key pair from crypto/rand. kind is one of KindP256, KindP384,
// KindRSA2048 and KindRSA3072; anything else is an error marked ErrInvalidArgument. The key's "kid"
// is its RFC 7638 SHA-256 thumbprint. It is safe for concurrent use.
func GenerateKey(kind string) (*PrivateKey, error) {
	var (
		key any
		alg jose.KeyAlgorithm
		err error
	)
	switch kind {
	case KindP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		alg = jose.ECDH_ES
	case KindP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		alg = jose.ECDH_ES
	case KindRSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		alg = jose.RSA_OAEP_256
	case KindRSA3072:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
		alg = jose.RSA_OAEP_256
	default:
		return nil, invalidArgf("key kind must be one of %s, %s, %s, %s", KindP256, KindP384, KindRSA2048, KindRSA3072)
	}
	if err != nil {
		return nil, err // crypto/rand failing is not something a caller can fix; no detail to hide.
	}
	jwk := jose.JSONWebKey{Key: key, Algorithm: string(alg), Use: "enc"}
	jwk.KeyID = thumbprint(jwk.Public())
	return &PrivateKey{jwk: jwk, alg: alg}, nil
}

// Algorithm returns the JWE "alg" of the key pair: "RSA-OAEP-256" or "ECDH-ES".
func (k *PrivateKey) Algorithm() string { return string(k.alg) }

// KeyID returns the key's "kid" (its RFC 7638 thumbprint).
func (k *PrivateKey) KeyID() string { return k.jwk.KeyID }

// PublicJWK returns the public half as JWK JSON with "kid", "alg" and "use":"enc" — what a client
// puts in a reveal request as public_key. ParsePublicKey accepts it.
func (k *PrivateKey) PublicJWK() ([]byte, error) {
	return json.Marshal(k.jwk.Public())
}

// Public returns the public half, ready for Encrypt.
func (k *PrivateKey) Public() *PublicKey {
	return &PublicKey{key: k.jwk.Public().Key, alg: k.alg, kid: k.jwk.KeyID}
}

// PrivateJWK returns the whole key pair as JWK JSON, including the private members. The result is
// a secret: never log it and never send it to the server.
func (k *PrivateKey) PrivateJWK() ([]byte, error) {
	return json.Marshal(k.jwk)
}

// ParsePrivateKey parses a key pair from the JWK JSON PrivateJWK returned (a server that keeps its
// key pair sealed in storage reads it back with this). It accepts an EC key on P-256, P-384 or
// P-521 ("alg" ECDH-ES or absent) and an RSA key of MinRSABits to 4096 bits ("alg" RSA-OAEP-256
// or absent); anything else, a public key among them, is refused with an error marked
// ErrInvalidKey. The key's "kid" is recomputed (its RFC 7638 thumbprint). It is safe for
// concurrent use.
func ParsePrivateKey(raw []byte) (*PrivateKey, error) {
	var jwk jose.JSONWebKey
	if len(raw) > MaxJWKBytes {
		return nil, invalidKeyf("the JWK is larger than %d bytes", MaxJWKBytes)
	}
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, invalidKeyf("the private JWK does not parse")
	}
	var alg jose.KeyAlgorithm
	switch k := jwk.Key.(type) {
	case *ecdsa.PrivateKey:
		alg = jose.ECDH_ES
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits || bits > 4096 {
			return nil, invalidKeyf("RSA modulus of %d bits is outside %d-4096", bits, MinRSABits)
		}
		alg = jose.RSA_OAEP_256
	default:
		return nil, invalidKeyf("the JWK is not an EC or RSA private key")
	}
	if jwk.Algorithm != "" && jwk.Algorithm != string(alg) {
		return nil, invalidKeyf("\"alg\" must be absent or %q for this key type", string(alg))
	}
	jwk.Algorithm, jwk.Use = string(alg), "enc"
	jwk.KeyID = thumbprint(jwk.Public())
	return &PrivateKey{jwk: jwk, alg: alg}, nil
}
