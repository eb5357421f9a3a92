package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opakit/opa"
	"github.com/opakit/opa/opatest"
)

// Demo fixture service keys, one per role set (testdata/fixtures/demo.json).
var roleKeys = map[string][2]string{
	"all":       {"6f2c1c0e-5b7a-4d8e-9a51-0c3f7f1b2a10", "demo-secret-change-me"},
	"resource":  {"0b8e6f4a-2d7c-4c1b-8e3f-5a9d2c7b1e20", "resource-bot-secret"},
	"security":  {"9c4d2a6e-7f1b-4e3a-b5c8-1d0e2f3a4b30", "security-bot-secret"},
	"delegated": {"3e7a9b1c-4d2f-4a6e-8b0c-7f5d3e1a9c40", "delegate-bot-secret"},
	"end_user":  {"5a1b3c7d-9e2f-4b6a-8c0d-2e4f6a8b0c50", "enduser-bot-secret"},
}

// demoWith returns the demo fixture (opa.DemoFixture) changed by edit, which works on the document
// decoded into generic JSON values.
func demoWith(t *testing.T, edit func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(opa.DemoFixture, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type env struct {
	t      testing.TB
	srv    *opatest.Server
	tokens map[string]string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := opatest.NewServer(t)
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	e.login()
	return e
}

// login exchanges every role's service key for a fresh bearer token.
func (e *env) login() {
	e.t.Helper()
	for role, k := range roleKeys {
		tok, err := e.srv.ExchangeToken(k[0], k[1])
		if err != nil {
			e.t.Fatalf("token for %s: %v", role, err)
		}
		e.tokens[role] = tok
	}
}

// advance moves the server's clock through /_fake/clock (which runs the due work) and logs in
// again, since tokens expire with the clock.
func (e *env) advance(d string) {
	e.t.Helper()
	e.must(200, "", "POST", "/_fake/clock", map[string]string{"advance": d})
	e.login()
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// do sends a request as role ("" for no credentials). body may be nil, a string (sent as is) or a
// value encoded as JSON. path is relative to the team ("/connections/…") unless it starts with
// "http" or "/api/" or "/_fake/" or "/v1/".
func (e *env) do(role, method, path string, body any) response {
	e.t.Helper()
	url := path
	switch {
	case strings.HasPrefix(path, "http"):
	case strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/_fake/"), strings.HasPrefix(path, "/v1/"):
		url = e.srv.URL + path
	default:
		url = e.srv.TeamURL(path)
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != "" {
		tok, ok := e.tokens[role]
		if !ok {
			tok = role // a raw token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must is do that fails the test unless the status is want; it returns the response.
func (e *env) must(want int, role, method, path string, body any) response {
	e.t.Helper()
	r := e.do(role, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s as %s: status %d, want %d; body %s", method, path, role, r.status, want, r.body)
	}
	return r
}

// connID returns the id of the demo connection (corp.example.com).
func (e *env) connID() string {
	return e.srv.Loaded().Team("demo").Connections["corp.example.com"]
}

func (e *env) projectID() string { return e.srv.Loaded().Team("demo").Projects["infra/domain-admins"] }

func (e *env) rgID() string { return e.srv.Loaded().Team("demo").ResourceGroups["infra"] }

// endUserAccountID returns the id of the demo account named name as the end user sees it.
func (e *env) endUserAccountID(name string) string {
	e.t.Helper()
	var found struct {
		List []struct {
			Account struct {
				ID string `json:"id"`
			} `json:"account"`
		} `json:"list"`
	}
	e.must(200, "end_user", "GET", "/active_directory/"+e.connID()+"/accounts?account_name="+name, nil).json(e.t, &found)
	if len(found.List) != 1 {
		e.t.Fatalf("the end user sees %d accounts named %s", len(found.List), name)
	}
	return found.List[0].Account.ID
}
