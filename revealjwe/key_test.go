package revealjwe

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	jose "github.com/go-jose/go-jose/v4"
)

func TestParsePublicKeyAccepts(t *testing.T) {
	p256 := loadPrivate(t, "p256")
	rsa2048 := loadPrivate(t, "rsa2048")
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	without := func(raw []byte, names ...string) []byte {
		m := jwkMembers(t, raw)
		for _, n := range names {
			delete(m, n)
		}
		return mustJSON(t, m)
	}
	tests := []struct {
		name    string
		jwk     []byte
		wantAlg string
		wantKid string
	}{
		{"EC P-256 from GenerateKey", publicJWK(t, p256), "ECDH-ES", p256.KeyID()},
		{"RSA-2048 from GenerateKey", publicJWK(t, rsa2048), "RSA-OAEP-256", rsa2048.KeyID()},
		{"EC without alg, use, kid", without(publicJWK(t, p256), "alg", "use", "kid"), "ECDH-ES", ""},
		{"RSA without alg, use, kid", without(publicJWK(t, rsa2048), "alg", "use", "kid"), "RSA-OAEP-256", ""},
		{"EC P-521", mustJSON(t, jose.JSONWebKey{Key: &p521.PublicKey, KeyID: "k521"}), "ECDH-ES", "k521"},
		{"unknown extra members are ignored", []byte(strings.Replace(string(publicJWK(t, p256)), "{", `{"ext":true,"key_ops":["deriveKey"],`, 1)), "ECDH-ES", p256.KeyID()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk, err := ParsePublicKey(tt.jwk)
			if err != nil {
				t.Fatalf("ParsePublicKey(%s): %v", tt.jwk, err)
			}
			if pk.Algorithm() != tt.wantAlg || pk.KeyID() != tt.wantKid {
				t.Errorf("got alg %q kid %q, want %q %q", pk.Algorithm(), pk.KeyID(), tt.wantAlg, tt.wantKid)
			}
			if pk.Thumbprint() == "" {
				t.Error("empty thumbprint")
			}
		})
	}
	// The kid of a generated key is its thumbprint.
	pk, err := ParsePublicKey(publicJWK(t, p256))
	if err != nil {
		t.Fatal(err)
	}
	if pk.Thumbprint() != p256.KeyID() {
		t.Errorf("thumbprint %q != kid %q", pk.Thumbprint(), p256.KeyID())
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	p256 := loadPrivate(t, "p256")
	rsa2048 := loadPrivate(t, "rsa2048")
	ecPub := publicJWK(t, p256)
	rsaPub := publicJWK(t, rsa2048)
	ecPriv, err := p256.PrivateJWK()
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, err := rsa2048.PrivateJWK()
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	with := func(raw []byte, kv ...any) []byte {
		m := jwkMembers(t, raw)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return mustJSON(t, m)
	}
	// A point off the curve: flip the last bit of y.
	y, err := base64.RawURLEncoding.DecodeString(jwkMembers(t, ecPub)["y"].(string))
	if err != nil {
		t.Fatal(err)
	}
	y[len(y)-1] ^= 1
	offCurveY := base64.RawURLEncoding.EncodeToString(y)
	b64 := func(n int) string { return base64.RawURLEncoding.EncodeToString(make([]byte, n)) }
	// The 2048-bit modulus with its low bit cleared: it parses, but crypto/rsa will not encrypt to it.
	n, err := base64.RawURLEncoding.DecodeString(jwkMembers(t, rsaPub)["n"].(string))
	if err != nil {
		t.Fatal(err)
	}
	n[len(n)-1] &^= 1
	evenModulus := base64.RawURLEncoding.EncodeToString(n)

	tests := []struct {
		name string
		jwk  []byte
	}{
		{"EC private key", ecPriv},
		{"RSA private key", rsaPriv},
		{"RSA public with p only", with(rsaPub, "p", b64(128))},
		{"RSA public with dp", with(rsaPub, "dp", b64(128))},
		{"EC public with D in upper case", with(ecPub, "D", b64(32))},
		{"EC public with d null", []byte(strings.Replace(string(ecPub), "{", `{"d":null,`, 1))},
		{"oct with k in mixed case", []byte(`{"kty":"oct","K":"` + b64(32) + `"}`)},
		{"oct with k", []byte(`{"kty":"oct","k":"` + b64(32) + `"}`)},
		{"oct without k", []byte(`{"kty":"oct"}`)},
		{"OKP Ed25519", mustJSON(t, jose.JSONWebKey{Key: edPub})},
		{"OKP X25519", []byte(`{"kty":"OKP","crv":"X25519","x":"` + b64(32) + `"}`)},
		{"RSA 1024 bits", mustJSON(t, jose.JSONWebKey{Key: &rsa1024.PublicKey})},
		{"RSA even exponent", with(rsaPub, "e", "AQAA")},
		{"RSA exponent over 2^31-1", with(rsaPub, "e", "AQAAAAE")},
		{"RSA even modulus", with(rsaPub, "n", evenModulus)},
		{"RSA missing n", with(rsaPub, "n", nil)},
		{"RSA with alg ECDH-ES", with(rsaPub, "alg", "ECDH-ES")},
		{"RSA with alg RSA-OAEP (SHA-1)", with(rsaPub, "alg", "RSA-OAEP")},
		{"RSA with alg RSA1_5", with(rsaPub, "alg", "RSA1_5")},
		{"EC with alg RSA-OAEP-256", with(ecPub, "alg", "RSA-OAEP-256")},
		{"EC with alg ECDH-ES+A256KW", with(ecPub, "alg", "ECDH-ES+A256KW")},
		{"use sig", with(ecPub, "use", "sig")},
		{"EC point not on curve", with(ecPub, "y", offCurveY)},
		{"EC coordinate of wrong length", with(ecPub, "x", b64(31))},
		{"EC secp256k1", with(ecPub, "crv", "secp256k1")},
		{"EC crv P-384 with P-256 coordinates", with(ecPub, "crv", "P-384")},
		{"missing kty", with(ecPub, "kty", nil)},
		{"unknown kty", with(ecPub, "kty", "XYZ")},
		{"kty of wrong type", with(ecPub, "kty", 7)},
		{"bad base64", with(ecPub, "x", "!!!")},
		{"empty", []byte(``)},
		{"null", []byte(`null`)},
		{"array", []byte(`[]`)},
		{"string", []byte(`"EC"`)},
		{"truncated", ecPub[:len(ecPub)-1]},
		{"trailing garbage", append(append([]byte{}, ecPub...), "x"...)},
		{"too large", []byte(`{"kty":"EC","pad":"` + strings.Repeat("a", MaxJWKBytes) + `"}`)},
	}
	secrets := []string{
		jwkMembers(t, ecPriv)["d"].(string),
		jwkMembers(t, rsaPriv)["d"].(string),
		jwkMembers(t, rsaPriv)["p"].(string),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk, err := ParsePublicKey(tt.jwk)
			if err == nil {
				t.Fatalf("ParsePublicKey accepted %s (alg %s)", tt.jwk, pk.Algorithm())
			}
			if !errors.Is(err, ErrInvalidKey) || !classInvalid(err) {
				t.Errorf("error %q is not marked ErrInvalidKey and errclass.Invalid", err)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) || strings.Contains(errors.FlattenDetails(err), s) {
					t.Errorf("error leaks key material: %v", err)
				}
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	for _, kind := range []string{KindP256, KindP384, KindRSA2048, KindRSA3072} {
		t.Run(kind, func(t *testing.T) {
			k, err := GenerateKey(kind)
			if err != nil {
				t.Fatal(err)
			}
			pub := jwkMembers(t, publicJWK(t, k))
			for _, p := range privateMembers {
				if _, ok := pub[p]; ok {
					t.Errorf("public JWK has private member %q", p)
				}
			}
			if pub["use"] != "enc" || pub["alg"] != k.Algorithm() || pub["kid"] != k.KeyID() || k.KeyID() == "" {
				t.Errorf("public JWK members: %v", pub)
			}
			priv, err := k.PrivateJWK()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := jwkMembers(t, priv)["d"]; !ok {
				t.Error("private JWK has no d")
			}
			if k.Public().Thumbprint() != k.KeyID() {
				t.Error("kid is not the thumbprint")
			}
		})
	}
	for _, kind := range []string{"", "P-521", "RSA-1024", "p-256", "RSA-4096", "oct"} {
		_, err := GenerateKey(kind)
		if !errors.Is(err, ErrInvalidArgument) || !classInvalid(err) {
			t.Errorf("GenerateKey(%q): got %v, want ErrInvalidArgument", kind, err)
		}
	}
}

// TestPrivateMembersShortcut: every spelling encoding/json would match to a private member (ASCII
// case, escapes, the Kelvin sign for "k") takes the full pass and is refused.
func TestPrivateMembersShortcut(t *testing.T) {
	pub := string(publicJWK(t, loadPrivate(t, "p256")))
	for _, member := range []string{`"d"`, `"D"`, `"\u0064"`, `"Dq"`, `"QI"`, `"oTh"`, `"\u212a"`, "\"\u212a\"", `"PRIV"`} {
		raw := strings.Replace(pub, `{`, `{`+member+`:"AAAA",`, 1)
		if !mayHavePrivateMembers([]byte(raw)) {
			t.Errorf("%s: the shortcut would skip the private-member pass", member)
		}
		if _, err := ParsePublicKey([]byte(raw)); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "private key material") {
			t.Errorf("%s: ParsePublicKey = %v, want a private key material refusal", member, err)
		}
	}
	if mayHavePrivateMembers([]byte(pub)) {
		t.Errorf("an ordinary public key takes the slow pass: %s", pub)
	}
}

// TestParsePrivateKeyRoundTrip: a key pair read back from its PrivateJWK decrypts what was
// encrypted to the original, with the same kid; a public key and garbage are refused.
func TestParsePrivateKeyRoundTrip(t *testing.T) {
	for _, kind := range []string{KindP256, KindRSA2048} {
		k, err := GenerateKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := k.PrivateJWK()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrivateKey(raw)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if back.KeyID() != k.KeyID() || back.Algorithm() != k.Algorithm() {
			t.Fatalf("%s: kid %s alg %s, want %s %s", kind, back.KeyID(), back.Algorithm(), k.KeyID(), k.Algorithm())
		}
		jwe, err := Encrypt(k.Public(), []byte("s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := Decrypt(jwe, back); err != nil || string(pt) != "s3cret" {
			t.Fatalf("%s: decrypt with the parsed key: %q %v", kind, pt, err)
		}
		pub, err := k.PublicJWK()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParsePrivateKey(pub); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("%s: a public JWK: %v", kind, err)
		}
	}
	if _, err := ParsePrivateKey([]byte(`{"kty":`)); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("garbage: %v", err)
	}
}
