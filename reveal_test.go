package opa_test

import (
	"testing"

	"github.com/cockroachdb/errors"

	"github.com/opakit/opa"
)

func FuzzDecodeRevealRequest(f *testing.F) {
	f.Add([]byte(`{"public_key":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"},"user_access_method":{"rule_ids":["r"]}}`))
	f.Add([]byte(`{"public_key":{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RSA-OAEP-256"},"user_access_method":{"details":{"privileges":[{"privilege_type":"reveal_password","privilege_value":{"reveal_password":true}}]}}}`))
	f.Add([]byte(`{"public_key":{},"user_access_method":{"details":{"privileges":{"_type":"string","secret_reveal":true}}}}`))
	f.Add([]byte(`{"public_key":"x","user_access_method":{}}`))
	f.Add([]byte(`{"public_key":{}} trailing`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := opa.DecodeRevealRequest(body)
		if err != nil {
			if !errors.Is(err, opa.ErrInvalid) {
				t.Fatalf("error of another class: %v", err)
			}
			return
		}
		if len(req.PublicKey) == 0 || req.PublicKey[0] != '{' {
			t.Fatalf("accepted a public_key that is not an object: %q", req.PublicKey)
		}
	})
}
