package opa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/storage"
)

// sealer encrypts secrets at rest with AES-256-GCM under the engine's key-encryption key. The
// additional data binds each ciphertext to its purpose and record, so a sealed value copied into
// another record does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, invalidf("the key-encryption key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errors.Wrap(err, "key-encryption key")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errors.Wrap(err, "key-encryption key")
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plaintext, purpose, recordID string) storage.Sealed {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(purpose+"\x00"+recordID))
}

func (s *sealer) open(sealed storage.Sealed, purpose, recordID string) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return "", corruptf("sealed secret is truncated")
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(purpose+"\x00"+recordID))
	if err != nil {
		return "", corruptf("sealed secret does not open with this engine's key")
	}
	return string(pt), nil
}

// Purposes of sealed secrets (part of the additional data).
const (
	purposeServiceAccountPassword = "connection.service_account_password"
	purposeAccountPassword        = "account.password"
	purposeUDAccountPassword      = "ud_account.password"
)
