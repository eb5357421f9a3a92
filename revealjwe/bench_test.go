package revealjwe

import (
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

var password = []byte("Tr0ub4dor&3-correct-horse-batt!!") // 32 bytes, like the perf baseline

// BenchmarkEncrypt compares the reveal path (ParsePublicKey of the client's JWK + Encrypt) with bare
// go-jose (NewEncrypter + Encrypt + CompactSerialize with an already parsed key) in the same run;
// the ratio of the two is this package's overhead.
func BenchmarkEncrypt(b *testing.B) {
	for _, kind := range []string{KindP256, KindP384, KindRSA2048, KindRSA3072} {
		k, err := GenerateKey(kind)
		if err != nil {
			b.Fatal(err)
		}
		jwk := publicJWK(b, k)
		pub := k.Public()
		b.Run(kind+"/revealjwe", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pk, err := ParsePublicKey(jwk)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Encrypt(pk, password); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kind+"/go-jose", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: pub.alg, Key: pub.key}, nil)
				if err != nil {
					b.Fatal(err)
				}
				obj, err := enc.Encrypt(password)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := obj.CompactSerialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecrypt measures Decrypt per key kind (the browser-side cost; compare native with
// GOOS=js GOARCH=wasm).
func BenchmarkDecrypt(b *testing.B) {
	for _, kind := range []string{KindP256, KindP384, KindRSA2048, KindRSA3072} {
		k, err := GenerateKey(kind)
		if err != nil {
			b.Fatal(err)
		}
		jwe, err := Encrypt(k.Public(), password)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				if _, err := Decrypt(jwe, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGenerateKey measures GenerateKey per key kind. RSA timings vary widely (prime search);
// use several -count runs.
func BenchmarkGenerateKey(b *testing.B) {
	for _, kind := range []string{KindP256, KindP384, KindRSA2048, KindRSA3072} {
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				if _, err := GenerateKey(kind); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParsePublicKey measures the validation alone: the part of the reveal path that bare
// go-jose encryption does not do.
func BenchmarkParsePublicKey(b *testing.B) {
	for _, kind := range []string{KindP256, KindP384, KindRSA2048, KindRSA3072} {
		k, err := GenerateKey(kind)
		if err != nil {
			b.Fatal(err)
		}
		jwk := publicJWK(b, k)
		b.Run(kind, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParsePublicKey(jwk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
