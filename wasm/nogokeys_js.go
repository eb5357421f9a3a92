//go:build !gokeys

package main

import "syscall/js"

// The default module holds no keys in Go: every private key is a WebCrypto CryptoKey. Its
// generateGoKey answers "unsupported" (build with -tags gokeys for opa-reveal-gokeys.wasm).

type goKeys struct{}

func newGoKeys() goKeys { return goKeys{} }

func (goKeys) clear() {}

func (a *api) goKeyMethods() map[string]method {
	unsupported := func([]js.Value) (any, error) {
		return nil, coded(codeUnsupported, "this module holds no keys in Go; load opa-reveal-gokeys.wasm for that")
	}
	return map[string]method{"generateGoKey": unsupported}
}
