//go:build !js || gokeys

package jwelite_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cockroachdb/errors"
	jose "github.com/go-jose/go-jose/v4"
	josecipher "github.com/go-jose/go-jose/v4/cipher"
	"github.com/opakit/opa/internal/jwelite"
	"github.com/opakit/opa/revealjwe"
)

var b64 = base64.RawURLEncoding

// jwkJSON is the public JWK as a reveal request sends it, plus extra members.
func jwkJSON(j *jwelite.PublicJWK, extra ...string) []byte {
	m := map[string]string{}
	for _, kv := range j.Members() {
		m[kv[0]] = kv[1]
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(m)
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestECKeyAgainstRevealjwe: the server side (revealjwe, go-jose) accepts the helper's public JWK
// with the same thumbprint, encrypts to it, and the helper's in-Go key decrypts; the private JWK is
// one go-jose reads as the same key pair.
func TestECKeyAgainstRevealjwe(t *testing.T) {
	for _, curve := range []string{"P-256", "P-384"} {
		t.Run(curve, func(t *testing.T) {
			k, err := jwelite.GenerateEC(curve)
			if err != nil {
				t.Fatal(err)
			}
			pubJSON := jwkJSON(k.PublicJWK())
			pub, err := revealjwe.ParsePublicKey(pubJSON)
			if err != nil {
				t.Fatalf("server refused the public JWK %s: %v", pubJSON, err)
			}
			if pub.Thumbprint() != k.PublicJWK().Kid || pub.KeyID() != k.PublicJWK().Kid {
				t.Errorf("kid %q, go-jose thumbprint %q", k.PublicJWK().Kid, pub.Thumbprint())
			}
			for _, pw := range []string{"", "pässwörd-🔑", strings.Repeat("x", 300)} {
				jwe, err := revealjwe.Encrypt(pub, []byte(pw))
				if err != nil {
					t.Fatal(err)
				}
				got, err := k.Decrypt(jwe)
				if err != nil || string(got) != pw {
					t.Fatalf("Decrypt = %q, %v; want %q", got, err, pw)
				}
			}
			var priv jose.JSONWebKey
			if err := priv.UnmarshalJSON(jwkJSON(k.PublicJWK(), "d", k.PrivateD())); err != nil || priv.IsPublic() || !priv.Valid() {
				t.Fatalf("go-jose reads the private JWK as %v (public %v): %v", priv.Key, priv.IsPublic(), err)
			}
			ek, ok := priv.Key.(*ecdsa.PrivateKey)
			if !ok {
				t.Fatalf("private JWK is %T", priv.Key)
			}
			again, _ := json.Marshal(priv.Public())
			if pub2, err := revealjwe.ParsePublicKey(again); err != nil || pub2.Thumbprint() != pub.Thumbprint() || ek.Curve.Params().Name != curve {
				t.Errorf("private JWK's public half differs: %v", err)
			}
		})
	}
}

// TestParseRSAAgainstRevealjwe: a JWE revealjwe makes to an RSA key parses, and RSA-OAEP of its
// encrypted key (done here with crypto/rsa, in the browser by WebCrypto) gives the content key
// that opens it; the public JWK built from n and e has go-jose's thumbprint.
func TestParseRSAAgainstRevealjwe(t *testing.T) {
	for _, kind := range []string{revealjwe.KindRSA2048, revealjwe.KindRSA3072} {
		t.Run(kind, func(t *testing.T) {
			priv, err := revealjwe.GenerateKey(kind)
			if err != nil {
				t.Fatal(err)
			}
			var full jose.JSONWebKey
			pj, _ := priv.PrivateJWK()
			if err := full.UnmarshalJSON(pj); err != nil {
				t.Fatal(err)
			}
			rk := full.Key.(*rsa.PrivateKey)
			var members map[string]string
			pubJSON, _ := priv.PublicJWK()
			_ = json.Unmarshal(pubJSON, &members)
			j, err := jwelite.NewPublicJWK("RSA", "", "", "", members["n"], members["e"])
			if err != nil {
				t.Fatal(err)
			}
			j.Thumbprint()
			if j.Kid != priv.KeyID() || j.Alg != "RSA-OAEP-256" || j.Use != "enc" {
				t.Errorf("JWK %+v, want kid %q", j, priv.KeyID())
			}
			jwe, err := revealjwe.Encrypt(priv.Public(), []byte("Tr0ub4dor&3"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := jwelite.Parse(jwe, jwelite.Key{Alg: jwelite.AlgRSAOAEP256, ModulusBytes: rk.Size()})
			if err != nil {
				t.Fatal(err)
			}
			cek, err := rsa.DecryptOAEP(sha256.New(), nil, rk, m.EncryptedKey, nil)
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := m.OpenGCM(cek); err != nil || string(pt) != "Tr0ub4dor&3" {
				t.Fatalf("OpenGCM = %q, %v", pt, err)
			}
			if _, err := jwelite.Parse(jwe, jwelite.Key{Alg: jwelite.AlgRSAOAEP256, ModulusBytes: rk.Size() + 128}); !errors.Is(err, jwelite.ErrDecrypt) {
				t.Errorf("a JWE for another modulus size parsed: %v", err)
			}
		})
	}
}

// TestParseRefuses tampers with a valid ECDH-ES JWE in every way Parse or decryption must catch.
func TestParseRefuses(t *testing.T) {
	k, err := jwelite.GenerateEC("P-256")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := revealjwe.ParsePublicKey(jwkJSON(k.PublicJWK()))
	if err != nil {
		t.Fatal(err)
	}
	jwe, err := revealjwe.Encrypt(pub, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwe, ".")
	hdrJSON, _ := b64.DecodeString(parts[0])
	var hdr map[string]any
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		t.Fatal(err)
	}
	withHeader := func(f func(h map[string]any)) string {
		h := map[string]any{}
		for k, v := range hdr {
			h[k] = v
		}
		f(h)
		p := append([]string(nil), parts...)
		p[0] = b64.EncodeToString(mustJSON(t, h))
		return strings.Join(p, ".")
	}
	withPart := func(i int, s string) string {
		p := append([]string(nil), parts...)
		p[i] = s
		return strings.Join(p, ".")
	}
	other, _ := jwelite.GenerateEC("P-384")
	otherPub, _ := revealjwe.ParsePublicKey(jwkJSON(other.PublicJWK()))
	jwe384, _ := revealjwe.Encrypt(otherPub, []byte("secret"))
	ct, _ := b64.DecodeString(parts[3])
	ct[0] ^= 1
	cases := map[string]string{
		"empty":           "",
		"four parts":      strings.Join(parts[:4], "."),
		"six parts":       jwe + ".",
		"padding":         withPart(2, parts[2]+"="),
		"std base64":      withPart(4, strings.NewReplacer("-", "+", "_", "/").Replace(parts[4])+"+/"),
		"header not JSON": withPart(0, b64.EncodeToString([]byte("[1]"))),
		"alg RSA":         withHeader(func(h map[string]any) { h["alg"] = "RSA-OAEP-256" }),
		"alg dir":         withHeader(func(h map[string]any) { h["alg"] = "dir" }),
		"enc A128GCM":     withHeader(func(h map[string]any) { h["enc"] = "A128GCM" }),
		"zip":             withHeader(func(h map[string]any) { h["zip"] = "DEF" }),
		"crit":            withHeader(func(h map[string]any) { h["crit"] = []string{"exp"} }),
		"no epk":          withHeader(func(h map[string]any) { delete(h, "epk") }),
		"epk P-384":       withHeader(func(h map[string]any) { h["epk"] = map[string]any{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"} }),
		"epk off curve": withHeader(func(h map[string]any) {
			e := h["epk"].(map[string]any)
			h["epk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": e["x"], "y": b64.EncodeToString(make([]byte, 32))}
		}),
		"apu not base64":   withHeader(func(h map[string]any) { h["apu"] = "!!" }),
		"apu changed":      withHeader(func(h map[string]any) { h["apu"] = "QWxpY2U" }),
		"encrypted key":    withPart(1, "AAAA"),
		"short IV":         withPart(2, b64.EncodeToString(make([]byte, 8))),
		"short tag":        withPart(4, b64.EncodeToString(make([]byte, 8))),
		"tampered ct":      withPart(3, b64.EncodeToString(ct)),
		"other key's JWE":  jwe384,
		"too long":         jwe + strings.Repeat("A", jwelite.MaxJWEBytes),
		"header with kid2": withHeader(func(h map[string]any) { h["kid"] = "other" }),
		"alg a number":     withHeader(func(h map[string]any) { h["alg"] = 1 }),
		"ALG upper case":   withHeader(func(h map[string]any) { h["ALG"] = h["alg"]; delete(h, "alg") }),
		"kid null":         withHeader(func(h map[string]any) { h["kid"] = nil }),
		"epk an array":     withHeader(func(h map[string]any) { h["epk"] = []any{1} }),
		"epk x null": withHeader(func(h map[string]any) {
			e := h["epk"].(map[string]any)
			h["epk"] = map[string]any{"kty": "EC", "crv": "P-256", "x": nil, "y": e["y"]}
		}),
		"header null":    withPart(0, b64.EncodeToString([]byte("null"))),
		"header garbage": withPart(0, b64.EncodeToString([]byte("{\"alg\":"))),
	}
	for name, c := range cases {
		if pt, err := k.Decrypt(c); !errors.Is(err, jwelite.ErrDecrypt) || err.Error() != "jwelite: decryption failed" || pt != nil {
			t.Errorf("%s: Decrypt = %q, %v; want ErrDecrypt", name, pt, err)
		}
	}
	if pt, err := k.Decrypt(jwe); err != nil || !bytes.Equal(pt, []byte("secret")) {
		t.Fatalf("the untampered JWE: %q, %v", pt, err)
	}
}

func TestNewPublicJWKRefuses(t *testing.T) {
	x := b64.EncodeToString(make([]byte, 32))
	for name, args := range map[string][6]string{
		"kty oct":      {"oct", "", "", "", "", ""},
		"curve P-521":  {"EC", "P-521", x, x, "", ""},
		"short x":      {"EC", "P-256", "AAAA", x, "", ""},
		"x not base64": {"EC", "P-256", x + "=", x, "", ""},
		"RSA 1024":     {"RSA", "", "", "", b64.EncodeToString(append([]byte{1}, make([]byte, 127)...)), "AQAB"},
		"RSA no e":     {"RSA", "", "", "", b64.EncodeToString(append([]byte{1}, make([]byte, 255)...)), ""},
	} {
		if j, err := jwelite.NewPublicJWK(args[0], args[1], args[2], args[3], args[4], args[5]); !errors.Is(err, jwelite.ErrInvalidArgument) {
			t.Errorf("%s: %+v, %v; want ErrInvalidArgument", name, j, err)
		}
	}
	if _, err := jwelite.GenerateEC("P-521"); !errors.Is(err, jwelite.ErrInvalidArgument) {
		t.Errorf("GenerateEC(P-521): %v", err)
	}
}

// FuzzParse: Parse never panics, and whatever it accepts round-trips its parts.
func FuzzParse(f *testing.F) {
	k, _ := jwelite.GenerateEC("P-256")
	pub, _ := revealjwe.ParsePublicKey(jwkJSON(k.PublicJWK()))
	jwe, _ := revealjwe.Encrypt(pub, []byte("seed"))
	f.Add(jwe)
	f.Add("a.b.c.d.e")
	f.Fuzz(func(t *testing.T, s string) {
		for _, key := range []jwelite.Key{{Alg: jwelite.AlgECDHES, Curve: "P-256"}, {Alg: jwelite.AlgRSAOAEP256, ModulusBytes: 256}} {
			m, err := jwelite.Parse(s, key)
			if err != nil {
				continue
			}
			if len(m.IV) != 12 || len(m.Tag) != 16 || m.Header.Alg != key.Alg {
				t.Fatalf("accepted %q as %+v", s, m)
			}
		}
		_, _ = k.Decrypt(s)
	})
}

// TestContentKeyMatchesGoJose: SHA-256 of KDFInput is go-jose's Concat KDF of the same inputs, as
// its ECDH-ES uses them (length-prefixed "enc", apu and apv; the key size in bits).
func TestContentKeyMatchesGoJose(t *testing.T) {
	k, _ := jwelite.GenerateEC("P-256")
	pub, _ := revealjwe.ParsePublicKey(jwkJSON(k.PublicJWK()))
	jwe, _ := revealjwe.Encrypt(pub, []byte("x"))
	parts := strings.Split(jwe, ".")
	for _, hdr := range []map[string]any{
		nil,
		{"apu": b64.EncodeToString([]byte("Alice")), "apv": b64.EncodeToString([]byte("Bob"))},
		{"apu": b64.EncodeToString(bytes.Repeat([]byte{7}, 300))},
	} {
		h := map[string]any{}
		orig, _ := b64.DecodeString(parts[0])
		_ = json.Unmarshal(orig, &h)
		for k, v := range hdr {
			h[k] = v
		}
		p := append([]string(nil), parts...)
		p[0] = b64.EncodeToString(mustJSONF(h))
		m, err := jwelite.Parse(strings.Join(p, "."), jwelite.Key{Alg: jwelite.AlgECDHES, Curve: "P-256"})
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range [][]byte{make([]byte, 32), bytes.Repeat([]byte{0xa5}, 32), bytes.Repeat([]byte{1}, 48)} {
			apu, _ := b64.DecodeString(stringOf(h["apu"]))
			apv, _ := b64.DecodeString(stringOf(h["apv"]))
			lp := func(b []byte) []byte { return binary.BigEndian.AppendUint32(nil, uint32(len(b))) }
			want := make([]byte, 32)
			_, _ = josecipher.NewConcatKDF(crypto.SHA256, z, append(lp([]byte("A256GCM")), "A256GCM"...), append(lp(apu), apu...), append(lp(apv), apv...), binary.BigEndian.AppendUint32(nil, 256), nil).Read(want)
			if got := m.ContentKey(z); !bytes.Equal(got, want) {
				t.Errorf("header %v: content key %x, go-jose %x", hdr, got, want)
			}
		}
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func mustJSONF(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
