package main

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"syscall/js"

	"github.com/opakit/opa/revealjwe"
)

// api holds the private keys by handle. Its methods are safe for concurrent use.
type api struct {
	mu     sync.Mutex
	keys   map[string]*revealjwe.PrivateKey
	funcs  []js.Func
	global string
	done   chan struct{}
	closed bool
}

func newAPI() *api {
	return &api{keys: map[string]*revealjwe.PrivateKey{}, done: make(chan struct{})}
}

// install sets globalThis[name] to an object whose methods each return a Promise.
func (a *api) install(name string) {
	obj := js.Global().Get("Object").New()
	methods := map[string]func(args []js.Value) (any, error){
		"generateKey":      a.generateKey,
		"publicJwk":        a.publicJwk,
		"exportPrivateJwk": a.exportPrivateJwk,
		"decrypt":          a.decrypt,
		"destroyKey":       a.destroyKey,
		"close":            a.close,
	}
	for n, m := range methods {
		fn := js.FuncOf(func(this js.Value, args []js.Value) any {
			// Copy args: the slice must not be used after the callback returns.
			args = append([]js.Value(nil), args...)
			return makePromise(func() (any, error) { return m(args) })
		})
		a.funcs = append(a.funcs, fn)
		obj.Set(n, fn)
	}
	a.global = name
	js.Global().Set(name, obj)
}

// close forgets every key, removes the global, releases the method js.Funcs and unblocks main.
func (a *api) close(args []js.Value) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return js.Undefined(), nil
	}
	a.closed = true
	clear(a.keys)
	js.Global().Delete(a.global)
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
	js.Global().Call("setTimeout", later, 0)
	return js.Undefined(), nil
}

func (a *api) key(args []js.Value, i int) (*revealjwe.PrivateKey, string, error) {
	if len(args) <= i || args[i].Type() != js.TypeString {
		return nil, "", invalidArg("opaReveal: handle must be a string")
	}
	h := args[i].String()
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.keys[h]
	if !ok {
		return nil, "", &codedError{code: codeUnknownKey, msg: "opaReveal: unknown key handle"}
	}
	return k, h, nil
}

// generateKey({kind}) → {handle, publicJwk}.
func (a *api) generateKey(args []js.Value) (any, error) {
	kind := revealjwe.KindP256
	if len(args) > 0 && !args[0].IsUndefined() && !args[0].IsNull() {
		if args[0].Type() != js.TypeObject {
			return nil, invalidArg("opaReveal: options must be an object")
		}
		switch k := args[0].Get("kind"); k.Type() {
		case js.TypeUndefined:
		case js.TypeString:
			kind = k.String()
		default:
			return nil, invalidArg("opaReveal: kind must be a string")
		}
	}
	switch kind {
	case revealjwe.KindP256, revealjwe.KindP384, revealjwe.KindRSA2048, revealjwe.KindRSA3072:
	default:
		return nil, invalidArg("opaReveal: kind must be one of P-256, P-384, RSA-2048, RSA-3072")
	}
	k, err := revealjwe.GenerateKey(kind)
	if err != nil {
		return nil, err // crypto/rand failure: reported as internal
	}
	pub, err := k.PublicJWK()
	if err != nil {
		return nil, err
	}
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	h := "k_" + hex.EncodeToString(b[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, invalidArg("opaReveal: closed")
	}
	a.keys[h] = k
	return map[string]any{"handle": h, "publicJwk": jsonParse(pub)}, nil
}

func (a *api) publicJwk(args []js.Value) (any, error) {
	k, _, err := a.key(args, 0)
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicJWK()
	if err != nil {
		return nil, err
	}
	return jsonParse(pub), nil
}

func (a *api) exportPrivateJwk(args []js.Value) (any, error) {
	k, _, err := a.key(args, 0)
	if err != nil {
		return nil, err
	}
	priv, err := k.PrivateJWK()
	if err != nil {
		return nil, err
	}
	return jsonParse(priv), nil
}

// decrypt(jwe, handle) → password string.
func (a *api) decrypt(args []js.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != js.TypeString {
		return nil, invalidArg("opaReveal: jwe must be a string")
	}
	k, _, err := a.key(args, 1)
	if err != nil {
		return nil, err
	}
	pt, err := revealjwe.Decrypt(args[0].String(), k)
	if err != nil {
		return nil, &codedError{code: codeDecryptFailed, msg: "opaReveal: decryption failed"}
	}
	return string(pt), nil
}

func (a *api) destroyKey(args []js.Value) (any, error) {
	_, h, err := a.key(args, 0)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	delete(a.keys, h)
	a.mu.Unlock()
	return js.Undefined(), nil
}

func jsonParse(b []byte) js.Value {
	return js.Global().Get("JSON").Call("parse", string(b))
}
