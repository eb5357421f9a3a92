package revealjwe

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	jose "github.com/go-jose/go-jose/v4"
)

// FuzzParsePublicKey checks that ParsePublicKey never panics, that every refusal is marked
// ErrInvalidKey, and that every accepted key is a public RSA or EC key Encrypt can use.
func FuzzParsePublicKey(f *testing.F) {
	for _, name := range []string{"p256", "rsa2048"} {
		k := loadPrivate(f, name)
		pub := publicJWK(f, k)
		priv, err := k.PrivateJWK()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pub)
		f.Add(priv)
		f.Add([]byte(strings.Replace(string(pub), `"use":"enc"`, `"use":"sig"`, 1)))
		f.Add([]byte(strings.Replace(string(pub), `"kty"`, `"kty":"oct","k":"AAAA","x"`, 1)))
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"kty":"oct","k":"AAAA"}`, `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		`{"kty":"EC","crv":"P-256","x":"","y":""}`, `{"kty":"RSA","n":"AQAB","e":"AQAB"}`, `{"kty":"EC","kty":"RSA"}`,
		`{"D":"x"}`, `{"\u0064":"x"}`, `{"K":"x"}`, `{"kid":"d","Qi":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The shortcut may skip the private-member pass only where that pass finds nothing.
		var priv privateParts
		if json.Unmarshal(raw, &priv) == nil && priv.present() != "" && !mayHavePrivateMembers(raw) {
			t.Fatalf("mayHavePrivateMembers missed the %q member", priv.present())
		}
		pk, err := ParsePublicKey(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("refusal not marked ErrInvalidKey: %v", err)
			}
			return
		}
		switch k := pk.key.(type) {
		case *rsa.PublicKey:
			if pk.alg != jose.RSA_OAEP_256 || k.N.BitLen() < MinRSABits {
				t.Fatalf("accepted RSA key: alg %s, %d bits", pk.alg, k.N.BitLen())
			}
		case *ecdsa.PublicKey:
			if pk.alg != jose.ECDH_ES {
				t.Fatalf("accepted EC key with alg %s", pk.alg)
			}
		default:
			t.Fatalf("accepted key of type %T", pk.key)
		}
		if _, err := Encrypt(pk, []byte("x")); err != nil {
			t.Fatalf("Encrypt to an accepted key: %v", err)
		}
	})
}

// FuzzDecrypt checks that Decrypt never panics and fails only with ErrDecrypt, for both key types.
func FuzzDecrypt(f *testing.F) {
	keys := []*PrivateKey{loadPrivate(f, "p256"), loadPrivate(f, "rsa2048")}
	for _, k := range keys {
		jwe, err := Encrypt(k.Public(), []byte("s3cret"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(jwe)
		f.Add(jwe[:len(jwe)-1])
		f.Add(strings.Replace(jwe, ".", "..", 1))
	}
	for _, s := range []string{"", "....", "a.b.c.d.e", "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9....", "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0....", `{"protected":""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, jwe string) {
		for _, k := range keys {
			if _, err := Decrypt(jwe, k); err != nil && err != ErrDecrypt { //nolint:errorlint // exactly this value
				t.Fatalf("Decrypt error other than ErrDecrypt: %v", err)
			}
		}
	})
}
