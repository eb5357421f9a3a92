package main

import (
	"strings"
	"syscall/js"
	"testing"

	"github.com/opakit/opa/revealjwe"
)

// await blocks until p settles and returns its value or its rejection reason.
func await(t *testing.T, p js.Value) (js.Value, *js.Value) {
	t.Helper()
	type result struct {
		v        js.Value
		rejected bool
	}
	ch := make(chan result, 1)
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{v: args[0]}; return nil })
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{v: args[0], rejected: true}; return nil })
	defer onOK.Release()
	defer onErr.Release()
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		t.Fatalf("not a Promise: %v", p)
	}
	p.Call("then", onOK, onErr)
	r := <-ch
	if r.rejected {
		return js.Undefined(), &r.v
	}
	return r.v, nil
}

func mustResolve(t *testing.T, p js.Value) js.Value {
	t.Helper()
	v, rej := await(t, p)
	if rej != nil {
		t.Fatalf("rejected: %s (code %s)", rej.Get("message").String(), rej.Get("code").String())
	}
	return v
}

func wantReject(t *testing.T, p js.Value, code string) {
	t.Helper()
	_, rej := await(t, p)
	if rej == nil {
		t.Fatalf("resolved, want rejection with code %q", code)
	}
	if !rej.InstanceOf(js.Global().Get("Error")) {
		t.Fatalf("rejected with a non-Error: %v", *rej)
	}
	if got := rej.Get("code").String(); got != code {
		t.Fatalf("code %q (message %q), want %q", got, rej.Get("message").String(), code)
	}
}

func stringify(v js.Value) string { return js.Global().Get("JSON").Call("stringify", v).String() }

// setup installs a fresh API under a unique global and returns it as a JS object.
func setup(t *testing.T) js.Value {
	t.Helper()
	name := "opaRevealTest_" + strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(t.Name())
	a := newAPI()
	a.install(name)
	t.Cleanup(func() {
		if obj := js.Global().Get(name); !obj.IsUndefined() {
			mustResolve(t, obj.Call("close"))
			<-a.done
		}
	})
	return js.Global().Get(name)
}

func TestRoundTrip(t *testing.T) {
	o := setup(t)
	for _, kind := range []string{"P-256", "P-384", "RSA-2048", "RSA-3072"} {
		t.Run(kind, func(t *testing.T) {
			opts := js.Global().Get("Object").New()
			opts.Set("kind", kind)
			res := mustResolve(t, o.Call("generateKey", opts))
			handle := res.Get("handle").String()
			jwk := res.Get("publicJwk")
			if jwk.Type() != js.TypeObject {
				t.Fatalf("publicJwk is %s, want a plain object", jwk.Type())
			}
			if !jwk.Get("d").IsUndefined() || !jwk.Get("p").IsUndefined() {
				t.Fatal("publicJwk carries private members")
			}
			// The server side: validate the JWK and encrypt to it with the Go reveal code.
			pub, err := revealjwe.ParsePublicKey([]byte(stringify(jwk)))
			if err != nil {
				t.Fatal(err)
			}
			for _, password := range []string{"S3cret!pässwörd", "", strings.Repeat("Z", 300)} {
				jwe, err := revealjwe.Encrypt(pub, []byte(password))
				if err != nil {
					t.Fatal(err)
				}
				got := mustResolve(t, o.Call("decrypt", jwe, handle))
				if got.Type() != js.TypeString || got.String() != password {
					t.Errorf("decrypt = %v, want %q", got, password)
				}
			}
			if again := stringify(mustResolve(t, o.Call("publicJwk", handle))); again != stringify(jwk) {
				t.Errorf("publicJwk(handle) = %s, want %s", again, stringify(jwk))
			}
			priv := mustResolve(t, o.Call("exportPrivateJwk", handle))
			if priv.Get("d").Type() != js.TypeString {
				t.Error("exportPrivateJwk has no d")
			}
			mustResolve(t, o.Call("destroyKey", handle))
			wantReject(t, o.Call("publicJwk", handle), codeUnknownKey)
		})
	}
	// Default kind is P-256, with or without an options object.
	for _, args := range [][]any{nil, {js.Null()}, {js.Global().Get("Object").New()}} {
		res := mustResolve(t, o.Call("generateKey", args...))
		if crv := res.Get("publicJwk").Get("crv").String(); crv != "P-256" {
			t.Errorf("default kind gave crv %q", crv)
		}
	}
}

func TestErrors(t *testing.T) {
	o := setup(t)
	res := mustResolve(t, o.Call("generateKey"))
	h := res.Get("handle").String()
	other := mustResolve(t, o.Call("generateKey"))
	otherPub, err := revealjwe.ParsePublicKey([]byte(stringify(other.Get("publicJwk"))))
	if err != nil {
		t.Fatal(err)
	}
	toOther, err := revealjwe.Encrypt(otherPub, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := revealjwe.ParsePublicKey([]byte(stringify(res.Get("publicJwk"))))
	if err != nil {
		t.Fatal(err)
	}
	good, err := revealjwe.Encrypt(pub, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := good[:len(good)-3] + "AAA"
	if tampered == good {
		tampered = good[:len(good)-3] + "BBB"
	}
	kind := func(k any) js.Value {
		o := js.Global().Get("Object").New()
		o.Set("kind", k)
		return o
	}
	tests := []struct {
		name   string
		method string
		args   []any
		code   string
	}{
		{"unknown kind", "generateKey", []any{kind("RSA-1024")}, codeInvalidArgument},
		{"kind not a string", "generateKey", []any{kind(256)}, codeInvalidArgument},
		{"options a string", "generateKey", []any{"P-256"}, codeInvalidArgument},
		{"decrypt without args", "decrypt", nil, codeInvalidArgument},
		{"decrypt jwe not a string", "decrypt", []any{42, h}, codeInvalidArgument},
		{"decrypt handle missing", "decrypt", []any{good}, codeInvalidArgument},
		{"decrypt handle not a string", "decrypt", []any{good, 1}, codeInvalidArgument},
		{"decrypt unknown handle", "decrypt", []any{good, "k_nope"}, codeUnknownKey},
		{"decrypt garbage", "decrypt", []any{"a.b.c.d.e", h}, codeDecryptFailed},
		{"decrypt empty", "decrypt", []any{"", h}, codeDecryptFailed},
		{"decrypt tampered", "decrypt", []any{tampered, h}, codeDecryptFailed},
		{"decrypt for another key", "decrypt", []any{toOther, h}, codeDecryptFailed},
		{"publicJwk unknown", "publicJwk", []any{"k_nope"}, codeUnknownKey},
		{"publicJwk no handle", "publicJwk", nil, codeInvalidArgument},
		{"exportPrivateJwk unknown", "exportPrivateJwk", []any{"k_nope"}, codeUnknownKey},
		{"destroyKey unknown", "destroyKey", []any{"k_nope"}, codeUnknownKey},
		{"destroyKey object", "destroyKey", []any{js.Global().Get("Object").New()}, codeInvalidArgument},
	}
	msgs := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := o.Call(tt.method, tt.args...)
			wantReject(t, p, tt.code)
			if tt.code == codeDecryptFailed {
				_, rej := await(t, o.Call(tt.method, tt.args...))
				msgs[rej.Get("message").String()] = true
			}
		})
	}
	if len(msgs) != 1 {
		t.Errorf("decrypt failures differ in message (an oracle): %v", msgs)
	}
	// The key still works after all that.
	if got := mustResolve(t, o.Call("decrypt", good, h)).String(); got != "x" {
		t.Errorf("decrypt = %q", got)
	}
}

func TestPanicBecomesRejection(t *testing.T) {
	wantReject(t, makePromise(func() (any, error) { panic("boom") }), codeInternal)
}

func TestClose(t *testing.T) {
	a := newAPI()
	a.install("opaRevealClose")
	o := js.Global().Get("opaRevealClose")
	mustResolve(t, o.Call("generateKey"))
	mustResolve(t, o.Call("close"))
	<-a.done
	if !js.Global().Get("opaRevealClose").IsUndefined() {
		t.Error("global still set after close")
	}
	if len(a.keys) != 0 || len(a.funcs) != 0 {
		t.Error("keys or funcs left after close")
	}
}
