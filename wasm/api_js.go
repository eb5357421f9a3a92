package main

import (
	"sync"
	"syscall/js"

	"github.com/opakit/opa/internal/jwelite"
)

// api is the object handed to opa-reveal.js. WebCrypto keys live in CryptoKeys the page holds;
// only the EC keys asked to be held in Go (generateGoKey, in a module built with the gokeys tag)
// are kept here, by id. Its methods are safe for concurrent use.
type api struct {
	mu     sync.Mutex
	goKeys goKeys
	funcs  []js.Func
	done   chan struct{}
	closed bool
}

type method = func(args []js.Value) (any, error)

func newAPI() *api {
	return &api{goKeys: newGoKeys(), done: make(chan struct{})}
}

// object returns a new JS object whose methods each return a Promise.
func (a *api) object() js.Value {
	o := js.Global().Get("Object").New()
	methods := map[string]method{
		"generateKey": a.generateKey,
		"close":       a.close,
	}
	for n, m := range a.goKeyMethods() {
		methods[n] = m
	}
	for n, m := range methods {
		fn := js.FuncOf(func(this js.Value, args []js.Value) any {
			// Copy args: the slice must not be used after the callback returns.
			args = append([]js.Value(nil), args...)
			return makePromise(func() (any, error) {
				if a.isClosed() {
					return nil, coded(codeClosed, "closed")
				}
				return m(args)
			})
		})
		a.funcs = append(a.funcs, fn)
		o.Set(n, fn)
	}
	return o
}

func (a *api) isClosed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// close forgets every Go key, releases the method js.Funcs and unblocks main.
func (a *api) close([]js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return js.Undefined(), nil
	}
	a.closed = true
	a.goKeys.clear()
	// Release the method Funcs and let main return only after this call's Promise has been
	// resolved: the resolve happens on this goroutine right after we return, before Go yields to
	// the event loop, and a setTimeout callback runs only after that.
	funcs := a.funcs
	a.funcs = nil
	var later js.Func
	later = js.FuncOf(func(js.Value, []js.Value) any {
		for _, f := range funcs {
			f.Release()
		}
		later.Release()
		close(a.done)
		return nil
	})
	js.Global().Get("setTimeout").Invoke(later, 0) // Invoke: this is undefined, as WebIDL wants for a global operation
	return js.Undefined(), nil
}

// options reads an optional options object: its string, number and boolean members by name.
type options struct{ v js.Value }

func optionsArg(args []js.Value) (options, error) {
	if len(args) == 0 || args[0].IsUndefined() || args[0].IsNull() {
		return options{js.Undefined()}, nil
	}
	if args[0].Type() != js.TypeObject {
		return options{}, invalidArg("options must be an object")
	}
	return options{args[0]}, nil
}

func (o options) str(name, def string) (string, error) {
	if o.v.IsUndefined() {
		return def, nil
	}
	switch v := o.v.Get(name); v.Type() {
	case js.TypeUndefined:
		return def, nil
	case js.TypeString:
		return v.String(), nil
	}
	return "", invalidArg(name + " must be a string")
}

func (o options) int(name string, def int) (int, error) {
	if o.v.IsUndefined() {
		return def, nil
	}
	switch v := o.v.Get(name); v.Type() {
	case js.TypeUndefined:
		return def, nil
	case js.TypeNumber:
		if f := v.Float(); f != float64(int(f)) {
			return 0, invalidArg(name + " must be an integer")
		}
		return v.Int(), nil
	}
	return 0, invalidArg(name + " must be a number")
}

func (o options) bool(name string) (bool, error) {
	if o.v.IsUndefined() {
		return false, nil
	}
	switch v := o.v.Get(name); v.Type() {
	case js.TypeUndefined:
		return false, nil
	case js.TypeBoolean:
		return v.Bool(), nil
	}
	return false, invalidArg(name + " must be a boolean")
}

// keyOptions reads generateKey's and generateGoKey's options, with their defaults: alg
// "ECDH-ES", crv "P-256", modulusLength 2048, extractable false.
func keyOptions(args []js.Value) (alg, crv string, bits int, extractable bool, err error) {
	o, err := optionsArg(args)
	if err == nil {
		alg, err = o.str("alg", jwelite.AlgECDHES)
	}
	if err == nil {
		crv, err = o.str("crv", "P-256")
	}
	if err == nil {
		bits, err = o.int("modulusLength", 2048)
	}
	if err == nil {
		extractable, err = o.bool("extractable")
	}
	return alg, crv, bits, extractable, err
}

// generateKey({alg, crv, modulusLength, extractable}) → {privateKey, publicJwk}. alg is "ECDH-ES"
// (default; crv "P-256" (default) or "P-384") or "RSA-OAEP-256" (modulusLength 2048 (default) or
// 3072); the private key is extractable only with extractable: true.
func (a *api) generateKey(args []js.Value) (any, error) {
	alg, crv, bits, extractable, err := keyOptions(args)
	if err != nil {
		return nil, err
	}
	switch {
	case alg == jwelite.AlgECDHES && (crv == "P-256" || crv == "P-384"):
	case alg == jwelite.AlgRSAOAEP256 && (bits == 2048 || bits == 3072):
	default:
		return nil, invalidArg(`alg must be "ECDH-ES" with crv "P-256" or "P-384", or "RSA-OAEP-256" with modulusLength 2048 or 3072`)
	}
	priv, pub, err := webGenerate(alg, crv, bits, extractable)
	if err != nil {
		return nil, err
	}
	return obj("privateKey", priv, "publicJwk", jwkValue(pub)), nil
}
