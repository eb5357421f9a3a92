package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/opakit/opa/opatest"
)

// secretTargets has a field for every secret a request body of the API carries, spelled as the
// handlers' request types spell them. Decoding a body into it tells what Go's JSON decoder would
// put into a secret field, whatever spelling the body used.
type secretTargets struct {
	KeySecret              string `json:"key_secret"`
	ServiceAccountPassword string `json:"service_account_password"`
	Password               string `json:"password"`
	PublicKey              struct {
		D  string `json:"d"`
		P  string `json:"p"`
		Q  string `json:"q"`
		DP string `json:"dp"`
		DQ string `json:"dq"`
		QI string `json:"qi"`
		K  string `json:"k"`
	} `json:"public_key"`
}

// decodesSecret reports whether decoding body puts value into a secret field, and whether into
// key_secret.
func decodesSecret(body []byte, value string) (secret, keySecret bool) {
	var s secretTargets
	_ = json.Unmarshal(body, &s) // a malformed body fills nothing
	keySecret = s.KeySecret == value
	pk := s.PublicKey
	for _, v := range []string{s.KeySecret, s.ServiceAccountPassword, s.Password, pk.D, pk.P, pk.Q, pk.DP, pk.DQ, pk.QI, pk.K} {
		if v == value {
			return true, keySecret
		}
	}
	return false, false
}

// queryNames are the secret parameter names a handler or client could use in a query string.
var queryNames = []string{"key_secret", "password", "service_account_password", "bearer_token"}

// FuzzRequestLogRedaction: a member (or query parameter) with a fuzzed name carries a secret, at
// the top of the body, inside public_key, or in the query string, its name inserted as a JSON
// string or as raw JSON text (so escapes like \u017f reach the decoder). Whenever the decoder
// would put the secret into a secret field (or the parameter's name folds onto a secret one), the
// secret never appears in GET /_fake/requests. For the service token exchange, the decoder's verdict
// is checked against the real handler: it logs in exactly when the oracle says key_secret was set.
func FuzzRequestLogRedaction(f *testing.F) {
	for _, name := range []string{"key_secret", "key_ſecret", "KEY_SECRET", "Key_Secret", `key_\u017fecret`, `key_\u0073ecret`,
		"service_account_paſſword", "password", "d", "D", "\u212a", "k", "qi", "QI", "key_id", "name", "keysecret", "key_secret ", "\x00"} {
		for where := range uint8(8) {
			f.Add(name, where)
		}
	}
	srv := opatest.NewServer(f)
	k := roleKeys["all"]
	n := 0
	f.Fuzz(func(t *testing.T, name string, where uint8) {
		n++
		const marker = "zq8-SECRET-VALUE-7c1"
		secret := marker
		raw := where&4 != 0
		member := func(v string) string {
			if raw {
				return `"` + name + `":` + strconvQuote(v)
			}
			return strconvQuote(name) + `:` + strconvQuote(v)
		}
		method, target, body := "POST", "/no/such/path", ""
		switch where % 4 {
		case 0: // the real exchange, with the real secret under the fuzzed name
			secret = k[1]
			target = "/v1/teams/demo/service_token"
			body = `{"key_id":` + strconvQuote(k[0]) + `,` + member(secret) + `}`
		case 1:
			body = `{"name":"x",` + member(secret) + `}`
		case 2:
			body = `{"public_key":{"kty":"EC",` + member(secret) + `}}`
		}
		query := ""
		if where%4 == 3 {
			method, query = "GET", "a=1&"+url.QueryEscape(name)+"="+secret
			if raw { // the name as sent, escapes and all
				query = name + "=" + secret
			}
		}
		srv.Handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "http://opa.test/_fake/requests", nil))
		req := httptest.NewRequest(method, "http://opa.test"+target, strings.NewReader(body))
		req.URL.RawQuery = query
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", n>>16&255, n>>8&255, n&255) // one failed-login bucket each
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, req)

		var accepted, keySecret bool
		if where%4 == 3 {
			q, _ := url.ParseQuery(req.URL.RawQuery)
			for key, vs := range q {
				for _, sn := range queryNames {
					if strings.EqualFold(key, sn) && len(vs) > 0 && vs[0] == secret {
						accepted = true
					}
				}
			}
		} else {
			accepted, keySecret = decodesSecret([]byte(body), secret)
		}
		if where%4 == 0 && keySecret != (rec.Code == 200) {
			t.Fatalf("the oracle says key_secret is %v, the exchange answered %d: %s", keySecret, rec.Code, body)
		}
		log := httptest.NewRecorder()
		srv.Handler.ServeHTTP(log, httptest.NewRequest("GET", "http://opa.test/_fake/requests", nil))
		if accepted && bytes.Contains(log.Body.Bytes(), []byte(secret)) {
			t.Fatalf("the request log holds the secret sent as %q (%s %s?%s %s): %s", name, method, target, query, body, log.Body.Bytes())
		}
	})
}
