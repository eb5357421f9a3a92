package revealjwe

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"os"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// loadPrivate reads a committed test key pair (testdata/*.private.jwk.json). These keys protect
// nothing; they exist so fuzz seeds and fixtures are stable.
func loadPrivate(tb testing.TB, name string) *PrivateKey {
	tb.Helper()
	raw, err := os.ReadFile("testdata/" + name + ".private.jwk.json")
	if err != nil {
		tb.Fatal(err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		tb.Fatal(err)
	}
	k := &PrivateKey{jwk: jwk}
	switch jwk.Key.(type) {
	case *rsa.PrivateKey:
		k.alg = jose.RSA_OAEP_256
	case *ecdsa.PrivateKey:
		k.alg = jose.ECDH_ES
	default:
		tb.Fatalf("%s: unexpected key type %T", name, jwk.Key)
	}
	return k
}

// jwkMembers returns a JWK as a map so tests can add, change and remove members.
func jwkMembers(tb testing.TB, raw []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// publicJWK returns k's public JWK JSON.
func publicJWK(tb testing.TB, k *PrivateKey) []byte {
	tb.Helper()
	b, err := k.PublicJWK()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// header returns the protected header of a compact JWE, parsed by go-jose with every algorithm
// allowed.
func header(tb testing.TB, compact string) jose.Header {
	tb.Helper()
	obj, err := jose.ParseEncryptedCompact(compact,
		[]jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.RSA_OAEP, jose.ECDH_ES, jose.ECDH_ES_A256KW},
		[]jose.ContentEncryption{jose.A256GCM, jose.A128GCM})
	if err != nil {
		tb.Fatal(err)
	}
	return obj.Header
}
