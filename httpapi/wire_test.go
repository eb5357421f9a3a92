package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newConnBody(domain string) map[string]any {
	return map[string]any{
		"name": "c-" + domain, "gateway_id": "5a3af768-063f-4a12-a056-8ef24e555555", "domain": domain,
		"domain_controllers": []string{"1.2.3.4"}, "service_account_username": "admin",
		"service_account_password": "p@$$w0rD",
	}
}

func TestServiceToken(t *testing.T) {
	e := newEnv(t)
	k := roleKeys["all"]
	r := e.must(200, "", "POST", "/service_token", map[string]string{"key_id": k[0], "key_secret": k[1]})
	var got map[string]any
	r.json(t, &got)
	if got["team_name"] != "demo" || got["bearer_token"] == "" {
		t.Fatalf("body %s", r.body)
	}
	if _, err := time.Parse(time.RFC3339, got["expires_at"].(string)); err != nil {
		t.Fatalf("expires_at: %v", err)
	}
	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"wrong secret", map[string]string{"key_id": k[0], "key_secret": "nope"}, 401},
		{"unknown key", map[string]string{"key_id": "00000000-0000-4000-8000-000000000000", "key_secret": "x"}, 401},
		{"missing fields", map[string]string{}, 400},
		{"malformed", `{"key_id":`, 400},
		{"no body", nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("", "POST", "/service_token", tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
		})
	}
	// Another team's path with a valid key is 401 too.
	r = e.do("", "POST", "/v1/teams/other/service_token", map[string]string{"key_id": k[0], "key_secret": k[1]})
	if r.status != 401 {
		t.Fatalf("other team: %d", r.status)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		header string
		path   string
	}{
		{"no header", "", e.srv.TeamURL("/connections/active_directory")},
		{"unknown token", "Bearer nope", e.srv.TeamURL("/connections/active_directory")},
		{"SSWS on /v1", "SSWS " + e.tokens["all"], e.srv.TeamURL("/connections/active_directory")},
		{"other team", "Bearer " + e.tokens["all"], e.srv.URL + "/v1/teams/other/connections/active_directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != 401 || body["type"] != "authentication_error" || body["code"] != float64(401) {
				t.Fatalf("status %d body %v", resp.StatusCode, body)
			}
		})
	}
	// Tokens expire with the engine's clock.
	e.must(200, "all", "GET", "/connections/active_directory", nil)
	e.srv.Clock.Advance(2 * time.Hour)
	e.must(401, "all", "GET", "/connections/active_directory", nil)
}

func TestErrorBodiesAndStatuses(t *testing.T) {
	e := newEnv(t)
	conn := e.connID()
	missing := "00000000-0000-4000-8000-000000000000"
	for _, tc := range []struct {
		name, role, method, path string
		body                     any
		status                   int
		typ                      string
	}{
		{"get ok", "all", "GET", "/connections/active_directory/" + conn, nil, 200, ""},
		{"not found", "all", "GET", "/connections/active_directory/" + missing, nil, 404, "resource_does_not_exist"},
		{"asa not found", "all", "GET", "/integrations/ad_connections/" + missing, nil, 404, "resource_does_not_exist"},
		{"missing role", "end_user", "GET", "/connections/active_directory/" + conn, nil, 401, "authorization_error"},
		{"bad status", "all", "PUT", "/connections/active_directory/" + conn + "/status", map[string]string{"status": "inactive"}, 400, "invalid_request"},
		{"status ok", "all", "PUT", "/connections/active_directory/" + conn + "/status", map[string]string{"status": "connected"}, 204, ""},
		{"wrong type", "all", "PUT", "/connections/active_directory/" + conn + "/status", `{"status": 1}`, 400, "invalid_request"},
		{"malformed", "all", "PUT", "/connections/active_directory/" + conn + "/status", `{"status": `, 400, "invalid_request"},
		{"trailing garbage", "all", "PUT", "/connections/active_directory/" + conn + "/status", `{"status":"connected"} x`, 400, "invalid_request"},
		{"two values", "all", "PUT", "/connections/active_directory/" + conn + "/status", `{"status":"connected"}{}`, 400, "invalid_request"},
		{"duplicate domain", "all", "POST", "/integrations/ad_connections", newConnBody("corp.example.com"), 409, "resource_already_exists"},
		{"count too big", "all", "GET", "/connections/active_directory?count=100000", nil, 400, "invalid_request"},
		{"count not a number", "all", "GET", "/connections/active_directory?count=x", nil, 400, "invalid_request"},
		{"descending not a bool", "all", "GET", "/connections/active_directory?descending=maybe", nil, 400, "invalid_request"},
		{"no route", "all", "GET", "/no/such/thing", nil, 404, "resource_does_not_exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.role, tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 204 && len(r.body) != 0 {
				t.Fatalf("204 with a body: %q", r.body)
			}
			if tc.typ == "" {
				return
			}
			var body struct {
				Type    string `json:"type"`
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			r.json(t, &body)
			if body.Type != tc.typ || body.Code != tc.status || body.Message == "" {
				t.Fatalf("body %s", r.body)
			}
		})
	}
}

func TestBadBodiesChangeNothing(t *testing.T) {
	e := newEnv(t)
	list := func() string { return string(e.must(200, "all", "GET", "/integrations/ad_connections", nil).body) }
	before := list()
	big := `{"name":"x","domain":"big.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555","pad":"` + strings.Repeat("a", 1<<20) + `"}`
	for _, body := range []string{
		`{"name":"x","domain":"a.example.com"} trailing`,
		`{"name":"x","domain":`,
		`{"name":1,"domain":"b.example.com"}`,
		`{"name":"x","domain":"c.example.com","domain_controllers":"not-an-array"}`,
		`[]`,
		big,
	} {
		r := e.do("all", "POST", "/integrations/ad_connections", body)
		if r.status != 400 {
			t.Fatalf("status %d for %.60s: %s", r.status, body, r.body)
		}
	}
	if diff := cmp.Diff(before, list()); diff != "" {
		t.Fatalf("a rejected request changed state (-want +got):\n%s", diff)
	}
	// null for unset fields and unknown fields are fine.
	body := `{"name":"n","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555","domain":"null.example.com","domain_controllers":null,"service_account_username":null,"service_account_password":null,"extra_field":{"x":1}}`
	e.must(201, "all", "POST", "/integrations/ad_connections", body)
}

func TestRateLimitHeaders(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, "all", "GET", "/connections/active_directory", nil)
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
		if r.header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
}

func TestOktaErrors(t *testing.T) {
	e := newEnv(t)
	path := "/api/v1/directories/0oa1corpexample0ad01/groups/modify"
	okta := func(auth, app string, body any) response {
		t.Helper()
		raw, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			raw = []byte(s)
		}
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/directories/"+app+"/groups/modify", strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b []byte
		b, _ = readAll(resp)
		return response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	_ = path
	action := map[string]any{"id": "CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com",
		"parameters": map[string]any{"action": "ADD", "attribute": "member", "values": []string{"CN=adm.jane.doe,OU=Admins,DC=corp,DC=example,DC=com"}}}
	for _, tc := range []struct {
		name, auth, app string
		body            any
		status          int
		code            string
	}{
		{"no auth", "", "0oa1corpexample0ad01", action, 401, "E0000004"},
		{"bad token", "SSWS nope", "0oa1corpexample0ad01", action, 401, "E0000011"},
		{"bad bearer", "Bearer nope", "0oa1corpexample0ad01", action, 401, "E0000011"},
		{"unknown scheme", "Basic nope", "0oa1corpexample0ad01", action, 401, "E0000004"},
		{"malformed", "SSWS 00demo-okta-api-token-change-me", "0oa1corpexample0ad01", `{"id":`, 400, "E0000003"},
		{"validation", "SSWS 00demo-okta-api-token-change-me", "0oa1corpexample0ad01", map[string]any{"id": "x"}, 400, "E0000001"},
		{"unknown app", "SSWS 00demo-okta-api-token-change-me", "0oanope", action, 404, "E0000007"},
		{"forbidden", "Bearer " + e.tokens["end_user"], "0oa1corpexample0ad01", action, 403, "E0000006"},
		{"ok with SSWS", "SSWS 00demo-okta-api-token-change-me", "0oa1corpexample0ad01", action, 200, ""},
		{"ok with bearer", "Bearer " + e.tokens["resource"], "0oa1corpexample0ad01", action, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := okta(tc.auth, tc.app, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code == "" {
				if len(r.body) != 0 {
					t.Fatalf("200 with a body %q", r.body)
				}
				return
			}
			var body map[string]any
			r.json(t, &body)
			for _, k := range []string{"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"} {
				if _, ok := body[k]; !ok {
					t.Errorf("missing %s in %s", k, r.body)
				}
			}
			if body["errorCode"] != tc.code {
				t.Fatalf("errorCode %v, want %s", body["errorCode"], tc.code)
			}
		})
	}
	// No agent: 502 with Okta's summary; agent timeout: 504.
	dir := e.srv.Directory("corp.example.com")
	dir.SetNoAgent(true)
	r := okta("SSWS 00demo-okta-api-token-change-me", "0oa1corpexample0ad01", action)
	if r.status != 502 || !strings.Contains(string(r.body), "There are no connected agents.") {
		t.Fatalf("no agent: %d %s", r.status, r.body)
	}
	dir.SetNoAgent(false)
	dir.SetAgentTimeout(true)
	r = okta("SSWS 00demo-okta-api-token-change-me", "0oa1corpexample0ad01", action)
	if r.status != 504 || !strings.Contains(string(r.body), "Timed out waiting for agent") {
		t.Fatalf("timeout: %d %s", r.status, r.body)
	}
}

func readAll(resp *http.Response) ([]byte, error) { return io.ReadAll(resp.Body) }
