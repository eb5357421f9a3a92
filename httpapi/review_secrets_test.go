package httpapi_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opakit/opa"
	"github.com/opakit/opa/fixture"
	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/storage"
	"github.com/opakit/opa/storage/filestore"
)

// TestSecretsOfNewRoutesStayHidden: a gateway setup token's value and a service user key's secret,
// made over HTTP and then used (a gateway registers with the token, the key is exchanged for a
// bearer token), are in the answers that exist to show them and nowhere else: not in the request
// log, not in the lists or reads, and not in plaintext (or base64) in the durable store's files.
func TestSecretsOfNewRoutesStayHidden(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	store, err := filestore.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	fx, err := fixture.Parse(opa.DemoFixture)
	if err != nil {
		t.Fatal(err)
	}
	clock := opa.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e, _, err := fixture.Build(ctx, fx, fixture.Options{Clock: clock, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(e, httpapi.WithControls(httpapi.Controls{Clock: clock})))
	defer srv.Close()
	call := func(want int, tok, method, path string, body any) response {
		t.Helper()
		return doURL(t, want, tok, method, srv.URL+path, body)
	}
	var bt struct {
		BearerToken string `json:"bearer_token"`
	}
	call(200, "", "POST", "/v1/teams/demo/service_token", map[string]string{"key_id": roleKeys["all"][0], "key_secret": roleKeys["all"][1]}).json(t, &bt)
	admin := bt.BearerToken
	const team = "/v1/teams/demo"

	var tok struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	call(201, admin, "POST", team+"/gateway_setup_tokens", tfSetupTokenBody("review", map[string]string{"k": "v"})).json(t, &tok)
	call(201, "", "POST", "/_fake/gateways", map[string]any{"setup_token": tok.Token, "name": "review-gw"})
	call(401, "", "POST", "/_fake/gateways", map[string]any{"setup_token": tok.Token + "x", "name": "review-gw2"})

	call(201, admin, "POST", team+"/service_users", map[string]any{"name": "review-bot"})
	var key struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	call(201, admin, "POST", team+"/service_users/review-bot/keys", nil).json(t, &key)
	if tok.Token == "" || key.Secret == "" {
		t.Fatalf("no values: %+v %+v", tok, key)
	}
	call(200, "", "POST", team+"/service_token", map[string]string{"key_id": key.ID, "key_secret": key.Secret})
	call(401, "", "POST", team+"/service_token", map[string]string{"key_id": key.ID, "key_secret": key.Secret + "x"})

	var cert struct {
		ID string `json:"id"`
	}
	call(201, admin, "POST", team+"/certificates/json", map[string]any{"display_name": "review", "common_name": "review",
		"type": "self_signed", "details": map[string]any{"ttl_days": 30}}).json(t, &cert)

	secrets := map[string]string{"setup token": tok.Token, "service key secret": key.Secret}
	if raw, err := base64.StdEncoding.DecodeString(tok.Token); err == nil {
		secrets["setup token claims"] = string(raw)
	}
	haystacks := map[string]string{}
	for _, p := range []string{team + "/gateway_setup_tokens", team + "/gateway_setup_tokens/" + tok.ID, team + "/gateways",
		team + "/service_users", team + "/service_users/review-bot", team + "/service_users/review-bot/keys"} {
		haystacks["GET "+p] = string(call(200, admin, "GET", p, nil).body)
	}
	haystacks["GET certificate"] = string(call(200, admin, "GET", team+"/certificates/"+cert.ID, nil).body)
	haystacks["request log"] = string(call(200, "", "GET", "/_fake/requests?limit=1000", nil).body)
	if !strings.Contains(haystacks["request log"], "/_fake/gateways") && !strings.Contains(haystacks["request log"], "service_token") {
		t.Fatalf("the request log has none of the requests, so its scan proves nothing: %.300s", haystacks["request log"])
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	files := 0
	_ = filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			haystacks["data file "+filepath.Base(path)] = string(b)
			files++
		}
		return nil
	})
	if files == 0 {
		t.Fatal("the store wrote no files")
	}
	// The certificate's private key: no PEM private key anywhere, and the stored record's key is
	// sealed (not a PKCS #8 key, nor the base64 of one).
	for hname, hay := range haystacks {
		if strings.Contains(hay, "PRIVATE KEY") {
			t.Errorf("a PEM private key in %s", hname)
		}
	}
	reopened, err := filestore.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if err := reopened.View(ctx, func(tx storage.ReadTx) error {
		rec, err := storage.Certificates.Get(tx, cert.ID)
		if err != nil {
			return err
		}
		if len(rec.PrivateKey) == 0 {
			t.Error("the certificate record has no key")
		}
		if _, err := x509.ParsePKCS8PrivateKey(rec.PrivateKey); err == nil {
			t.Error("the certificate's private key is stored in plaintext")
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if der, err := enc.DecodeString(string(rec.PrivateKey)); err == nil {
				if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
					t.Error("the certificate's private key is stored as base64 plaintext")
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for sname, s := range secrets {
		forms := []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s))}
		if sname == "service key secret" || sname == "setup token" {
			forms = append(forms, s[:len(s)*2/3]) // a prefix
		}
		for hname, hay := range haystacks {
			for _, f := range forms {
				if strings.Contains(hay, f) {
					t.Errorf("%s found in %s", sname, hname)
				}
			}
		}
	}
}

// doURL sends a request to a full URL with a bearer token ("" for none) and fails unless the
// status is want.
func doURL(t *testing.T, want int, tok, method, url string, body any) response {
	t.Helper()
	e := &env{t: t, tokens: map[string]string{}}
	if tok != "" {
		e.tokens["x"] = tok
		r := e.do("x", method, url, body)
		if r.status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, url, r.status, want, r.body)
		}
		return r
	}
	r := e.do("", method, url, body)
	if r.status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, r.status, want, r.body)
	}
	return r
}

// TestTypeErrorsDoNotEchoSecrets: a client that sends a secret as a JSON number instead of a
// string (a numeric password, a key secret or setup token typed by hand) gets a 400 naming the
// field and the kind, never the value: encoding/json's type error text holds the number itself.
func TestTypeErrorsDoNotEchoSecrets(t *testing.T) {
	e := newEnv(t)
	const secret = "8675309123456789"
	for _, c := range []struct{ path, body string }{
		{"/v1/teams/demo/service_token", `{"key_id":"` + roleKeys["all"][0] + `","key_secret":` + secret + `}`},
		{"/_fake/gateways", `{"setup_token":` + secret + `,"name":"gw"}`},
		{"/integrations/ad_connections", `{"name":"c","domain":"corp.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555",` +
			`"domain_controllers":["dc1.corp.example.com"],"service_account_username":"svc-opa","service_account_password":` + secret + `}`},
		{"/integrations/ad_connections", `{"service_account_password":-` + secret + `e3}`},
	} {
		r := e.do("all", "POST", c.path, c.body)
		if r.status != 400 {
			t.Errorf("POST %s: %d, want 400: %s", c.path, r.status, r.body)
		}
		if strings.Contains(string(r.body), secret) {
			t.Errorf("POST %s: the error repeats the value: %s", c.path, r.body)
		}
	}
}
