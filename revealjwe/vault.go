package revealjwe

import (
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// DecryptAny is Decrypt for a JWE a client encrypted to a key of ours with a general JOSE library,
// such as a new UD password the Okta SDK encrypts to the vault key (its APIClient.Encrypt makes
// the JSON serialization with go-jose's FullSerialize). It accepts the compact serialization (RFC
// 7516 §7.1) and the JSON serialization (§7.2, flattened or general) with exactly one recipient;
// "enc" A256GCM; and "alg" RSA-OAEP-256 for an RSA key, or for an EC key ECDH-ES in direct key
// agreement or with key wrapping (ECDH-ES+A128KW, +A192KW, +A256KW; RFC 7518 §4.6), the key
// wrapped modes being the ones the SDK prefers when a JWKS offers them. Any failure returns
// ErrDecrypt and nothing else, as Decrypt does. It is safe for concurrent use.
func DecryptAny(serialized string, priv *PrivateKey) ([]byte, error) {
	if priv == nil || len(serialized) > MaxJWEBytes {
		return nil, ErrDecrypt
	}
	algs := []jose.KeyAlgorithm{priv.alg}
	if priv.alg == jose.ECDH_ES {
		algs = append(algs, jose.ECDH_ES_A128KW, jose.ECDH_ES_A192KW, jose.ECDH_ES_A256KW)
	}
	var obj *jose.JSONWebEncryption
	var err error
	if strings.HasPrefix(strings.TrimSpace(serialized), "{") {
		obj, err = jose.ParseEncryptedJSON(serialized, algs, []jose.ContentEncryption{jose.A256GCM})
	} else {
		obj, err = jose.ParseEncryptedCompact(serialized, algs, []jose.ContentEncryption{jose.A256GCM})
	}
	if err != nil {
		return nil, ErrDecrypt
	}
	return open(obj, priv)
}
