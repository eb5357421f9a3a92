package revealjwe

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// keyPairs returns one key pair of every kind GenerateKey makes, plus P-521 (which clients may send
// but GenerateKey does not make).
func keyPairs(t *testing.T) map[string]*PrivateKey {
	t.Helper()
	keys := map[string]*PrivateKey{}
	for _, kind := range []string{KindP256, KindP384, KindRSA2048, KindRSA3072} {
		k, err := GenerateKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		keys[kind] = k
	}
	ec521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys["P-521"] = &PrivateKey{jwk: jose.JSONWebKey{Key: ec521, KeyID: "k521", Use: "enc", Algorithm: "ECDH-ES"}, alg: jose.ECDH_ES}
	return keys
}

func TestRoundTrip(t *testing.T) {
	for kind, k := range keyPairs(t) {
		t.Run(kind, func(t *testing.T) {
			pub, err := ParsePublicKey(publicJWK(t, k))
			if err != nil {
				t.Fatal(err)
			}
			for _, plaintext := range []string{"correct horse battery staple", "", "päss\x00wörd 🔑", strings.Repeat("x", 4096)} {
				jwe, err := Encrypt(pub, []byte(plaintext))
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(jwe, "."); n != 4 {
					t.Fatalf("not compact serialization: %d dots", n)
				}
				h := header(t, jwe)
				if h.Algorithm != k.Algorithm() || h.KeyID != k.KeyID() || h.ExtraHeaders["enc"] != "A256GCM" {
					t.Errorf("header alg %q kid %q enc %v, want %q %q A256GCM", h.Algorithm, h.KeyID, h.ExtraHeaders["enc"], k.Algorithm(), k.KeyID())
				}
				got, err := Decrypt(jwe, k)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != plaintext {
					t.Errorf("Decrypt = %q, want %q", got, plaintext)
				}
			}
		})
	}
}

func TestEncryptNilKey(t *testing.T) {
	if _, err := Encrypt(nil, []byte("x")); err == nil {
		t.Fatal("Encrypt(nil) succeeded")
	}
	if _, err := Encrypt(&PublicKey{}, []byte("x")); err == nil {
		t.Fatal("Encrypt(zero key) succeeded")
	}
}

// TestDecryptRejects checks that every way a JWE can be wrong gives exactly ErrDecrypt.
func TestDecryptRejects(t *testing.T) {
	keys := keyPairs(t)
	for kind, k := range keys {
		t.Run(kind, func(t *testing.T) {
			pub := k.Public()
			good, err := Encrypt(pub, []byte("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(good, ".")
			bad := map[string]string{}
			for i, name := range []string{"header", "encrypted key", "iv", "ciphertext", "tag"} {
				if parts[i] == "" {
					continue // ECDH-ES has an empty encrypted key
				}
				p := append([]string{}, parts...)
				c := p[i][len(p[i])/2]
				p[i] = p[i][:len(p[i])/2] + string("AB"[boolInt(c == 'A')]) + p[i][len(p[i])/2+1:]
				bad["tampered "+name] = strings.Join(p, ".")
				q := append([]string{}, parts...)
				q[i] = q[i][:len(q[i])-2]
				bad["truncated "+name] = strings.Join(q, ".")
			}
			for other, ok := range keys {
				if other == kind {
					continue
				}
				j, err := Encrypt(ok.Public(), []byte("s3cret"))
				if err != nil {
					t.Fatal(err)
				}
				bad["encrypted to "+other] = j
			}
			// Same parameters, other algorithms: refused by the allow-list.
			for name, rcpt := range map[string]jose.Recipient{
				"RSA-OAEP":       {Algorithm: jose.RSA_OAEP, Key: pub.key},
				"RSA1_5":         {Algorithm: jose.RSA1_5, Key: pub.key},
				"ECDH-ES+A256KW": {Algorithm: jose.ECDH_ES_A256KW, Key: pub.key},
				"dir":            {Algorithm: jose.DIRECT, Key: make([]byte, 32)},
			} {
				enc, err := jose.NewEncrypter(jose.A256GCM, rcpt, nil)
				if err != nil {
					continue // wrong key type for this alg
				}
				obj, err := enc.Encrypt([]byte("s3cret"))
				if err != nil {
					t.Fatal(err)
				}
				bad["alg "+name], _ = obj.CompactSerialize()
			}
			for name, opts := range map[string]*jose.EncrypterOptions{
				"zip DEF":  {Compression: jose.DEFLATE},
				"crit hdr": (&jose.EncrypterOptions{}).WithHeader("crit", []string{"x"}).WithHeader("x", 1),
			} {
				enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: pub.alg, Key: pub.key}, opts)
				if err != nil {
					t.Fatal(err)
				}
				obj, err := enc.Encrypt([]byte("s3cret"))
				if err != nil {
					t.Fatal(err)
				}
				bad[name], _ = obj.CompactSerialize()
			}
			enc, err := jose.NewEncrypter(jose.A128GCM, jose.Recipient{Algorithm: pub.alg, Key: pub.key}, nil)
			if err != nil {
				t.Fatal(err)
			}
			obj, err := enc.Encrypt([]byte("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			bad["enc A128GCM"], _ = obj.CompactSerialize()
			bad["JSON serialization"] = obj.FullSerialize()
			bad["empty"] = ""
			bad["garbage"] = "not.a.jwe.at.all"
			bad["six parts"] = good + ".x"
			bad["too large"] = good + strings.Repeat("A", MaxJWEBytes)

			for name, jwe := range bad {
				got, err := Decrypt(jwe, k)
				if err != ErrDecrypt { //nolint:errorlint // exactly this value, no wrapping allowed
					t.Errorf("%s: Decrypt = %q, %v; want ErrDecrypt itself", name, got, err)
				}
			}
		})
	}
	if _, err := Decrypt("a.b.c.d.e", nil); err != ErrDecrypt { //nolint:errorlint // see above
		t.Errorf("nil key: %v", err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
