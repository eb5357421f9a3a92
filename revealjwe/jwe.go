package revealjwe

import (
	"crypto/ecdsa"
	"crypto/rsa"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxJWEBytes bounds the compact JWE Decrypt reads. A password JWE to an RSA-4096 key is well under
// 2 KiB.
const MaxJWEBytes = 64 << 10

// Encrypt encrypts plaintext to pub and returns a JWE in compact serialization (RFC 7516 §7.1):
// "alg" RSA-OAEP-256 (RFC 7518 §4.3) for an RSA key or ECDH-ES direct key agreement (RFC 7518
// §4.6) for an EC key, "enc" A256GCM (RFC 7518 §5.3), and the JWK's "kid" as the header's "kid"
// (RFC 7516 §4.1.6) when it had one. A nil key is an error marked ErrInvalidKey. It is safe for
// concurrent use.
func Encrypt(pub *PublicKey, plaintext []byte) (string, error) {
	if pub == nil || pub.key == nil {
		return "", invalidKeyf("no key")
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: pub.alg, Key: pub.key, KeyID: pub.kid}, nil)
	if err != nil {
		return "", err // unreachable for validated keys; go-jose's message holds no key material.
	}
	obj, err := enc.Encrypt(plaintext)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// Decrypt decrypts a compact JWE made by Encrypt (or by any JOSE library with the same parameters)
// and returns the plaintext. Only "alg" RSA-OAEP-256 with an RSA key and ECDH-ES with an EC key, each
// with "enc" A256GCM, are accepted (RFC 7516 §5.2 steps 1–4 with an algorithm allow-list, as RFC 8725
// §3.1 recommends). Every failure — malformed input, another algorithm, the wrong key, a tampered
// header, key or ciphertext — returns ErrDecrypt and nothing else, so the error is no oracle. It is
// safe for concurrent use.
func Decrypt(compact string, priv *PrivateKey) ([]byte, error) {
	if priv == nil || len(compact) > MaxJWEBytes {
		return nil, ErrDecrypt
	}
	obj, err := jose.ParseEncryptedCompact(compact, []jose.KeyAlgorithm{priv.alg}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, ErrDecrypt
	}
	return open(obj, priv)
}

// open decrypts a parsed JWE of one recipient with priv; every failure is ErrDecrypt.
func open(obj *jose.JSONWebEncryption, priv *PrivateKey) ([]byte, error) {
	// Encrypt never compresses; refuse "zip" (RFC 7516 §4.1.3) rather than inflate attacker data.
	if _, ok := obj.Header.ExtraHeaders["zip"]; ok {
		return nil, ErrDecrypt
	}
	var key any
	switch k := priv.jwk.Key.(type) {
	case *rsa.PrivateKey:
		key = k
	case *ecdsa.PrivateKey:
		key = k
	default:
		return nil, ErrDecrypt
	}
	plaintext, err := obj.Decrypt(key) // more than one recipient is an error here
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}
