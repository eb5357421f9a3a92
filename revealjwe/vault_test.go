package revealjwe

import (
	"testing"

	"github.com/cockroachdb/errors"
	jose "github.com/go-jose/go-jose/v4"
)

// TestDecryptAny: the JSON serialization (go-jose FullSerialize, as the Okta SDK sends it) and the
// compact one decrypt, with ECDH-ES direct or key wrapped for EC keys and RSA-OAEP-256 for RSA
// keys; another enc, two recipients, compression and the wrong key are
// ErrDecrypt, and Decrypt still takes only the compact form with the key's own alg.
func TestDecryptAny(t *testing.T) {
	for kind, k := range keyPairs(t) {
		pubKey := k.jwk.Public()
		algs := []jose.KeyAlgorithm{k.alg}
		if k.alg == jose.ECDH_ES {
			algs = append(algs, jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW)
		}
		for _, alg := range algs {
			enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: alg, Key: &pubKey}, &jose.EncrypterOptions{})
			if err != nil {
				t.Fatal(err)
			}
			obj, err := enc.Encrypt([]byte("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			compact, err := obj.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			for form, s := range map[string]string{"json": obj.FullSerialize(), "compact": compact} {
				pt, err := DecryptAny(s, k)
				if err != nil || string(pt) != "s3cret" {
					t.Errorf("%s %s %s: %q %v", kind, alg, form, pt, err)
				}
			}
			if _, err := Decrypt(obj.FullSerialize(), k); !errors.Is(err, ErrDecrypt) {
				t.Errorf("%s: Decrypt took the JSON serialization", kind)
			}
		}
	}
	k := keyPairs(t)[KindP256]
	other := keyPairs(t)[KindP256]
	pub, otherPub := k.jwk.Public(), other.jwk.Public()
	seal := func(ce jose.ContentEncryption, opts *jose.EncrypterOptions, rcpts ...jose.Recipient) string {
		t.Helper()
		var enc jose.Encrypter
		var err error
		if len(rcpts) == 1 {
			enc, err = jose.NewEncrypter(ce, rcpts[0], opts)
		} else {
			enc, err = jose.NewMultiEncrypter(ce, rcpts, opts)
		}
		if err != nil {
			t.Fatal(err)
		}
		obj, err := enc.Encrypt([]byte("s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		return obj.FullSerialize()
	}
	wrap := jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: &pub}
	for name, s := range map[string]string{
		"A128GCM":        seal(jose.A128GCM, nil, jose.Recipient{Algorithm: jose.ECDH_ES, Key: &pub}),
		"wrong key":      seal(jose.A256GCM, nil, jose.Recipient{Algorithm: jose.ECDH_ES, Key: &otherPub}),
		"two recipients": seal(jose.A256GCM, nil, wrap, jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: &otherPub}),
		"zip":            seal(jose.A256GCM, (&jose.EncrypterOptions{Compression: jose.DEFLATE}), wrap),
		"not a JWE":      `{"ciphertext":"x"}`,
		"empty":          "",
	} {
		if _, err := DecryptAny(s, k); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := DecryptAny("x", nil); !errors.Is(err, ErrDecrypt) {
		t.Errorf("nil key: %v", err)
	}
}
