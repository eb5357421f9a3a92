package opa_test

import (
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/opakit/opa"
	"github.com/opakit/opa/revealjwe"
)

// BenchmarkReveal compares a whole engine reveal (key validation, policy and access method checks,
// a memstore write transaction with its audit event, opening the sealed password, the JWE) with
// bare go-jose doing the same crypto (parse the JWK, NewEncrypter, Encrypt, CompactSerialize) in
// the same run.
//
// The "paired" sub-benchmark is the one to read: each iteration runs one engine reveal and one
// bare go-jose encryption back to back and times each, so drift in the shared machine's speed hits
// both alike; it reports their mean times and overhead-% = 100 × (engine/go-jose − 1). The
// "engine" and "go-jose" sub-benchmarks run each alone, for allocation figures.
func BenchmarkReveal(b *testing.B) {
	for _, kind := range []string{revealjwe.KindRSA2048, revealjwe.KindP256, revealjwe.KindP384} {
		key := testKey(b, kind)
		jwk, err := key.PublicJWK()
		must(b, err)
		alg := jose.ECDH_ES
		if kind == revealjwe.KindRSA2048 {
			alg = jose.RSA_OAEP_256
		}
		pw := []byte("Tr0ub4dor&3-correct-horse-batt!!")
		bare := func() {
			var k jose.JSONWebKey
			if err := k.UnmarshalJSON(jwk); err != nil {
				b.Fatal(err)
			}
			enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: alg, Key: k.Key, KeyID: k.KeyID}, nil)
			if err != nil {
				b.Fatal(err)
			}
			obj, err := enc.Encrypt(pw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := obj.CompactSerialize(); err != nil {
				b.Fatal(err)
			}
		}
		engine := func(b *testing.B) func() {
			f := newAccessFixture(b)
			a := f.account("svc1", opa.AccountTypeShared, "")
			f.policy(opa.PolicyRule{Name: "r", Privileges: []string{opa.PrivilegeRevealPassword},
				Resources: opa.PolicyResources{ADAccountIDs: []string{a.ID}}}, f.alice)
			m := f.uam(f.alice, a.ID, opa.PrivilegeRevealPassword)
			req := opa.RevealRequest{PublicKey: jwk, UserAccessMethod: m}
			_, err := f.e.RevealADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, req) // sets the first password
			must(b, err)
			return func() {
				if _, err := f.e.RevealADAccountPassword(f.ctx, f.alice, f.conn.ID, a.ID, req); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(kind+"/paired", func(b *testing.B) {
			reveal := engine(b)
			var inEngine, inJose time.Duration
			for b.Loop() {
				t0 := time.Now()
				reveal()
				t1 := time.Now()
				bare()
				inEngine, inJose = inEngine+t1.Sub(t0), inJose+time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(inEngine.Nanoseconds())/n, "engine-ns/op")
			b.ReportMetric(float64(inJose.Nanoseconds())/n, "go-jose-ns/op")
			b.ReportMetric(100*(float64(inEngine)/float64(inJose)-1), "overhead-%")
		})
		b.Run(kind+"/engine", func(b *testing.B) {
			reveal := engine(b)
			b.ReportAllocs()
			for b.Loop() {
				reveal()
			}
		})
		b.Run(kind+"/go-jose", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bare()
			}
		})
	}
}
