package httpapi_test

// Tests that send exactly what Okta's own Go clients send (the Terraform provider's hand-written
// client, oktapam/client, and the generated pam-sdk-go v1.3.35 it vendors) and decode the answers
// the way they do. The structs below mirror the clients' models by field name and JSON tag; the
// clients themselves are not imported.

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// sdkAPIError is pam-sdk-go's APIError (client.go): every status >= 400 is decoded into it and
// the error's text is Message alone.
type sdkAPIError struct {
	Message string `json:"message"`
	Errors  []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"errors,omitempty"`
}

// sdkTypedError is the shape of the SDK's typed error models (UnauthorizedAccessResponse,
// ForbiddenUAMResponse, NotFoundResponse …): the key of the type is spelled "nottype" there.
type sdkTypedError struct {
	Nottype *string `json:"nottype,omitempty"`
	Code    *int32  `json:"code,omitempty"`
	Message *string `json:"message,omitempty"`
}

// oktaSDKError is okta-sdk-golang's Error (the Okta management API error body).
type oktaSDKError struct {
	ErrorCode    string           `json:"errorCode"`
	ErrorSummary string           `json:"errorSummary"`
	ErrorLink    string           `json:"errorLink"`
	ErrorID      string           `json:"errorId"`
	ErrorCauses  []map[string]any `json:"errorCauses"`
}

// TestClientWireMissingRole (issue 17 A5): an operation the caller's roles do not allow answers
// 401 authorization_error "Missing capability: role", which the SDK decodes into its
// UnauthorizedAccessResponse (code and message) and its APIError (message); a refusal that is
// not about a role (a stale access method, an unmet condition) stays 403.
func TestClientWireMissingRole(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/connections/active_directory"},                                       // ListActiveDirectoryConnections
		{"GET", "/integrations/ad_connections"},                                        // provider: ListADConnections
		{"PUT", "/resource_assignment/active_directory/" + e.connID() + "/force_sync"}, // StartActiveDirectoryAccountForceSync
		{"GET", "/all_active_directory_accounts"},                                      // ListAllActiveDirectoryAccountsForSecurityAdmin
	} {
		r := e.do("end_user", tc.method, tc.path, nil)
		if r.status != 401 {
			t.Fatalf("%s %s as end user: %d %s", tc.method, tc.path, r.status, r.body)
		}
		var typed sdkTypedError
		var apiErr sdkAPIError
		var raw map[string]any
		r.json(t, &typed)
		r.json(t, &apiErr)
		r.json(t, &raw)
		if typed.Code == nil || *typed.Code != 401 || typed.Message == nil || *typed.Message != "Missing capability: role" ||
			apiErr.Message != "Missing capability: role" || raw["type"] != "authorization_error" {
			t.Fatalf("%s %s: body %s", tc.method, tc.path, r.body)
		}
		if r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	// Missing credentials stay authentication_error.
	r := e.do("", "GET", "/connections/active_directory", nil)
	var raw map[string]any
	r.json(t, &raw)
	if r.status != 401 || raw["type"] != "authentication_error" {
		t.Fatalf("no credentials: %d %s", r.status, r.body)
	}
}

// TestClientWireOktaErrors (issue 17 A8): Okta error bodies as okta-sdk-golang decodes them: the
// summary's prefix appears once, an invalid token is E0000011, a missing header E0000004, and
// injected 502/504 faults carry the agent error codes.
func TestClientWireOktaErrors(t *testing.T) {
	e := newEnv(t)
	path := "/api/v1/directories/0oa1corpexample0ad01/groups/modify"
	okta := func(auth string, app string, body string) (int, oktaSDKError) {
		t.Helper()
		r := e.doHeader("POST", "/api/v1/directories/"+app+"/groups/modify", body, map[string]string{"Authorization": auth})
		var oe oktaSDKError
		r.json(t, &oe)
		return r.status, oe
	}
	tok := "SSWS 00demo-okta-api-token-change-me"
	good := `{"id":"CN=Helpdesk,OU=Groups,DC=corp,DC=example,DC=com","parameters":{"action":"ADD","attribute":"member","values":["CN=nobody,DC=corp,DC=example,DC=com"]}}`
	for _, tc := range []struct {
		name, auth, app, body string
		status                int
		code, summary         string
	}{
		{"no header", "", "0oa1corpexample0ad01", good, 401, "E0000004", "Authentication failed"},
		{"invalid SSWS token", "SSWS 00nope", "0oa1corpexample0ad01", good, 401, "E0000011", "Invalid token provided"},
		{"validation", tok, "0oa1corpexample0ad01", `{"id":"x"}`, 400, "E0000001", "Api validation failed: parameters.action is required"},
		{"unknown app", tok, "0oanope", good, 404, "E0000007", "Not found: Resource not found: 0oanope (AppInstance)"},
		{"unknown member", tok, "0oa1corpexample0ad01", good, 404, "E0000007", "Not found: Resource not found: CN=nobody,DC=corp,DC=example,DC=com (User)"},
	} {
		status, oe := okta(tc.auth, tc.app, tc.body)
		if status != tc.status || oe.ErrorCode != tc.code || oe.ErrorSummary != tc.summary || oe.ErrorLink != tc.code || !strings.HasPrefix(oe.ErrorID, "oae") {
			t.Errorf("%s: %d %+v", tc.name, status, oe)
		}
	}
	for status, code := range map[int]string{502: "E0000150", 504: "E0000151", 429: "E0000047"} {
		e.must(201, "", "POST", "/_fake/faults", map[string]any{"path": path, "status": status, "times": 1})
		got, oe := okta(tok, "0oa1corpexample0ad01", good)
		if got != status || oe.ErrorCode != code {
			t.Errorf("injected %d: %d %+v", status, got, oe)
		}
	}
}

// doHeader sends body (as is, "" for none) with the given headers (an empty value is not set)
// and no other credentials. path is as for env.do.
func (e *env) doHeader(method, path, body string, headers map[string]string) response {
	e.t.Helper()
	url := e.srv.URL + path
	if !strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/_fake/") {
		url = e.srv.TeamURL(path)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
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
