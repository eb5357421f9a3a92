//go:build gokeys

package main

import (
	"crypto/rand"
	"encoding/hex"
	"syscall/js"

	"github.com/opakit/opa/internal/jwelite"
)

// Keys held in Go memory, for environments without WebCrypto (a page served over plain http from
// a host other than localhost has no crypto.subtle). Built only with -tags gokeys
// (opa-reveal-gokeys.wasm): crypto/ecdh, crypto/aes and crypto/sha256 make the module larger, and
// such a key's private scalar is in the module's memory, so a page must ask for it explicitly.

// goKeys holds the EC keys by id. Guarded by api.mu.
type goKeys map[string]goKey

type goKey struct {
	key         *jwelite.ECKey
	extractable bool
}

func newGoKeys() goKeys { return goKeys{} }

func (g goKeys) clear() { clear(g) }

func (a *api) goKeyMethods() map[string]method {
	return map[string]method{
		"generateGoKey": a.generateGoKey,
		"decryptGo":     a.decryptGo,
		"exportGoKey":   a.exportGoKey,
		"destroyGoKey":  a.destroyGoKey,
	}
}

// generateGoKey({alg, crv, extractable}) → {id, publicJwk}: an ECDH-ES key held in Go memory.
func (a *api) generateGoKey(args []js.Value) (any, error) {
	alg, crv, _, extractable, err := keyOptions(args)
	if err != nil {
		return nil, err
	}
	if alg != jwelite.AlgECDHES || (crv != "P-256" && crv != "P-384") {
		return nil, invalidArg(`a key held in Go must be "ECDH-ES" on "P-256" or "P-384"`)
	}
	k, err := jwelite.GenerateEC(crv)
	if err != nil {
		return nil, err
	}
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := "k_" + hex.EncodeToString(b[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, coded(codeClosed, "closed")
	}
	a.goKeys[id] = goKey{key: k, extractable: extractable}
	return obj("id", id, "publicJwk", jwkValue(k.PublicJWK())), nil
}

func (a *api) goKey(args []js.Value) (goKey, string, error) {
	if len(args) < 1 || args[0].Type() != js.TypeString {
		return goKey{}, "", invalidArg("key id must be a string")
	}
	id := args[0].String()
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.goKeys[id]
	if !ok {
		return goKey{}, "", coded(codeUnknownKey, "unknown or destroyed key")
	}
	return k, id, nil
}

// decryptGo(id, jwe) → the password.
func (a *api) decryptGo(args []js.Value) (any, error) {
	k, _, err := a.goKey(args)
	if err != nil {
		return nil, err
	}
	if len(args) < 2 || args[1].Type() != js.TypeString {
		return nil, invalidArg("jwe must be a string")
	}
	pt, err := k.key.Decrypt(args[1].String())
	if err != nil {
		return nil, errDecrypt
	}
	return string(pt), nil
}

// exportGoKey(id) → the private JWK, for a key generated with extractable: true only.
func (a *api) exportGoKey(args []js.Value) (any, error) {
	k, _, err := a.goKey(args)
	if err != nil {
		return nil, err
	}
	if !k.extractable {
		return nil, coded(codeNotExtractable, "the key was not generated with extractable: true")
	}
	o := jwkValue(k.key.PublicJWK())
	o.Set("d", k.key.PrivateD())
	return o, nil
}

// destroyGoKey(id) forgets the key.
func (a *api) destroyGoKey(args []js.Value) (any, error) {
	_, id, err := a.goKey(args)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	delete(a.goKeys, id)
	a.mu.Unlock()
	return js.Undefined(), nil
}

var errDecrypt = &codedError{code: codeDecryptFailed, msg: "opa-reveal: decryption failed"}
