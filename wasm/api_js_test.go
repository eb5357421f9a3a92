package main

import (
	"encoding/binary"
	"strings"
	"syscall/js"
	"testing"
	"unsafe"

	"github.com/opakit/opa/internal/jwelite"
	"github.com/opakit/opa/revealjwe"
)

// These tests run under node (GOOS=js GOARCH=wasm go test ./wasm, scripts/test-browser.sh); the
// whole decryption through opa-reveal.js is tested by wasm/test/interop.test.mjs and in Chromium.

// callPrepare goes through the WebAssembly exports as opa-reveal.js does: write desc and the JWE
// into the exchange buffer (at the address opaRevealBuffer returns), call opaRevealPrepare, read
// the result at opaRevealResult.
func callPrepare(t *testing.T, desc, jwe string) ([]byte, int32) {
	t.Helper()
	in := desc + jwe
	if ptr := opaRevealBuffer(int32(len(in))); ptr != int32(uintptr(unsafe.Pointer(&exchange[0]))) || len(exchange) != len(in) {
		t.Fatalf("opaRevealBuffer: %d, buffer of %d", ptr, len(exchange))
	}
	copy(exchange, in)
	n := opaRevealPrepare(int32(len(desc)), int32(len(jwe)))
	if n < 0 {
		return nil, n
	}
	if opaRevealResult() != int32(uintptr(unsafe.Pointer(&exchange[0]))) || int(n) != len(exchange) {
		t.Fatalf("opaRevealResult does not point at the %d-byte result", n)
	}
	return append([]byte(nil), exchange...), n
}

func splitFields(b []byte) [][]byte {
	var out [][]byte
	for o := 1; o < len(b); {
		n := int(binary.BigEndian.Uint32(b[o:]))
		out = append(out, b[o+4:o+4+n])
		o += 4 + n
	}
	return out
}

// TestPrepare: for each key type, the plan of a JWE revealjwe made holds what WebCrypto needs; with
// JWEs that do not fit the key are refused.
func TestPrepare(t *testing.T) {
	for _, kind := range []string{revealjwe.KindP256, revealjwe.KindP384, revealjwe.KindRSA2048} {
		t.Run(kind, func(t *testing.T) {
			k, err := revealjwe.GenerateKey(kind)
			if err != nil {
				t.Fatal(err)
			}
			jwe, err := revealjwe.Encrypt(k.Public(), []byte("pässword"))
			if err != nil {
				t.Fatal(err)
			}
			desc := "ECDH-ES " + kind
			if strings.HasPrefix(kind, "RSA") {
				desc = "RSA-OAEP-256 " + map[string]string{revealjwe.KindRSA2048: "256"}[kind]
			}
			plan, n := callPrepare(t, desc, jwe)
			if n < 0 {
				t.Fatalf("prepare: %d", n)
			}
			parts := strings.Split(jwe, ".")
			f := splitFields(plan)
			if plan[0] == 1 {
				size := jwelite.CoordinateBytes(kind)
				if len(f) != 6 || len(f[0]) != 1+2*size || f[0][0] != 4 || string(f[1]) != "\x00\x00\x00\x01" || !strings.Contains(string(f[2]), "A256GCM") {
					t.Fatalf("ECDH plan fields %d: %x %x", len(f), f[0][:1], f[1])
				}
				f = f[3:]
			} else if plan[0] != 2 || len(f) != 4 || len(f[0]) != 256 {
				t.Fatalf("RSA plan kind %d, %d fields", plan[0], len(f))
			} else {
				f = f[1:]
			}
			if len(f[0]) != 12 || string(f[1]) != parts[0] || len(f[2]) < 16 {
				t.Errorf("iv %d bytes, aad %q, data %d bytes", len(f[0]), f[1], len(f[2]))
			}
			for name, bad := range map[string][2]string{
				"other curve":    {"ECDH-ES P-521", jwe},
				"desc garbage":   {"RSA-OAEP-256 x", jwe},
				"tampered":       {desc, jwe[:len(jwe)-3] + "!!!"},
				"not compact":    {desc, "a.b.c"},
				"other key type": {map[bool]string{true: "RSA-OAEP-256 256", false: "ECDH-ES P-256"}[plan[0] == 1], jwe},
			} {
				if _, n := callPrepare(t, bad[0], bad[1]); n >= 0 {
					t.Errorf("%s: prepared", name)
				}
			}
		})
	}
	if n := opaRevealPrepare(10, 1<<20); n != -2 {
		t.Errorf("lengths beyond the buffer: %d", n)
	}
}

// TestGenerateKeyOptions: bad options reject with invalid_argument before any WebCrypto call; a
// good one makes a non-extractable key with its public JWK.
func TestGenerateKeyOptions(t *testing.T) {
	a := newAPI()
	o := a.object()
	for _, opts := range []map[string]any{
		{"alg": "dir"}, {"crv": "P-521"}, {"alg": "RSA-OAEP-256", "modulusLength": 1024},
		{"modulusLength": "2048", "alg": "RSA-OAEP-256"}, {"modulusLength": 2048.5, "alg": "RSA-OAEP-256"}, {"extractable": 1},
	} {
		if _, err := a.generateKey([]js.Value{js.ValueOf(opts)}); err == nil || err.(*codedError).code != codeInvalidArgument {
			t.Errorf("%v: %v", opts, err)
		}
	}
	if _, err := a.generateKey([]js.Value{js.ValueOf(7)}); err == nil {
		t.Error("a number as options")
	}
	v, err := a.generateKey([]js.Value{js.ValueOf(map[string]any{"crv": "P-384"})})
	if err != nil {
		t.Fatal(err)
	}
	res := v.(js.Value)
	if res.Get("privateKey").Get("extractable").Bool() || res.Get("publicJwk").Get("crv").String() != "P-384" || res.Get("publicJwk").Get("d").Type() != js.TypeUndefined {
		t.Errorf("key %v", res)
	}
	if _, err := a.close(nil); err != nil || !a.isClosed() {
		t.Fatal(err)
	}
	<-a.done
	_ = o
}
