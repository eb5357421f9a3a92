package opa

import (
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/revealjwe"
)

// vaultKey is an engine's vault key, made on first use. DESIGN: the key lives in the engine's
// memory only, so JWEs made for one engine process do not open in another; clients fetch the JWKS
// before each rotation, as the Okta SDK does.
type vaultKey struct {
	once sync.Once
	key  *revealjwe.PrivateKey
	err  error
}

// vaultKey returns the engine's vault key, generating it on first use.
func (e *Engine) vaultKey() (*revealjwe.PrivateKey, error) {
	k := &e.vault
	k.once.Do(func() { k.key, k.err = revealjwe.GenerateKey(revealjwe.KindP256) })
	if k.err != nil {
		return nil, errors.Wrap(k.err, "generating the vault key")
	}
	return k.key, nil
}

// VaultJWKS returns the engine's vault JWK Set ({"keys":[…]}, RFC 7517 §5) as JSON: the public key
// clients encrypt a new UD password to (GET /v1/teams/{team_name}/vault/jwks.json). Safe for
// concurrent use.
func (e *Engine) VaultJWKS() ([]byte, error) {
	k, err := e.vaultKey()
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicJWK()
	if err != nil {
		return nil, err
	}
	return append(append([]byte(`{"keys":[`), pub...), "]}"...), nil
}
