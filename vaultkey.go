package opa

import (
	"context"
	"sync"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/storage"
)

// vaultKeyID is the id of the store's one VaultKey record.
const vaultKeyID = "vault"

// purposeVaultKey is the purpose of the sealed vault key (part of the additional data).
const purposeVaultKey = "vault.private_jwk"

// vaultKey caches the store's vault key in an engine. DESIGN: the key pair lives in the store
// (storage.VaultKeys), sealed with the key-encryption key, so every engine on one store (the
// replicas of a service on one database) serves the same JWKS and opens the JWEs made for any of
// them, and a durable store keeps it across restarts. The first engine that needs it makes it
// and inserts it in a transaction that finds none; an engine that loses that race (its insert
// conflicts, or its transaction is retried and finds the winner's) loads the winner's key, so a
// store has one vault key whatever the number of engines starting at once. Engines on one store
// must therefore share the key-encryption key (WithKey).
type vaultKey struct {
	mu  sync.Mutex
	key *revealjwe.PrivateKey
}

// vaultKey returns the store's vault key, loading it, or making it when the store has none, on
// first use. Errors: the store's; ErrCorrupt when the stored key does not open with this engine's
// key-encryption key.
func (e *Engine) vaultKey(ctx context.Context) (*revealjwe.PrivateKey, error) {
	k := &e.vault
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	var rec *storage.VaultKey
	err := e.store.View(ctx, func(tx storage.ReadTx) error {
		var err error
		rec, err = storage.VaultKeys.Get(tx, vaultKeyID)
		if errors.Is(err, ErrNotFound) {
			rec, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if rec == nil {
		if rec, err = e.createVaultKey(ctx); err != nil {
			return nil, err
		}
	}
	jwk, err := e.seal.open(rec.PrivateJWK, purposeVaultKey, rec.ID)
	if err != nil {
		return nil, errors.WithHint(err, "every engine on one store needs the same key-encryption key (WithKey)")
	}
	key, err := revealjwe.ParsePrivateKey([]byte(jwk))
	if err != nil {
		return nil, corruptf("the stored vault key does not parse")
	}
	k.key = key
	return key, nil
}

// createVaultKey makes a vault key and stores it unless another engine stored one first, and
// returns the stored record (this engine's or the winner's).
func (e *Engine) createVaultKey(ctx context.Context) (*storage.VaultKey, error) {
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		return nil, errors.Wrap(err, "generating the vault key")
	}
	jwk, err := key.PrivateJWK()
	if err != nil {
		return nil, errors.Wrap(err, "encoding the vault key")
	}
	mine := &storage.VaultKey{ID: vaultKeyID, PrivateJWK: e.seal.seal(string(jwk), purposeVaultKey, vaultKeyID),
		KeyID: key.KeyID(), CreatedAt: e.now()}
	var rec *storage.VaultKey
	insert := func() error {
		return e.store.Update(ctx, func(tx storage.WriteTx) error {
			cur, err := storage.VaultKeys.Get(tx, vaultKeyID)
			if err == nil {
				rec = cur // another engine made it first
				return nil
			}
			if !errors.Is(err, ErrNotFound) {
				return err
			}
			rec = mine
			return storage.VaultKeys.Insert(tx, mine)
		})
	}
	err = insert()
	if errors.Is(err, ErrConflict) { // a concurrent insert won: read the winner's
		err = insert()
	}
	return rec, err
}

// VaultJWKS returns the vault JWK Set ({"keys":[…]}, RFC 7517 §5) as JSON: the public key clients
// encrypt a new UD password to (GET /v1/teams/{team_name}/vault/jwks.json). The key is the store's,
// the same in every engine on it (made by the first engine that needs it). Errors: the store's;
// ErrCorrupt when the stored key does not open with this engine's key-encryption key. Safe for
// concurrent use.
func (e *Engine) VaultJWKS(ctx context.Context) ([]byte, error) {
	k, err := e.vaultKey(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicJWK()
	if err != nil {
		return nil, err
	}
	return append(append([]byte(`{"keys":[`), pub...), "]}"...), nil
}
