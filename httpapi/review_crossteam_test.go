package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opakit/opa/opatest"
)

// TestCrossTeamNewRoutes: team A (alpha), with every admin role, addresses team B's (demo's)
// gateways, setup tokens, sudo bundles, resource groups and resource-group projects by id, in
// A's paths and in B's; every attempt is refused without telling A whether the id exists (404 in
// A's paths, as for an unknown id; 401 for A's credentials in B's paths), and B's objects read back
// unchanged. A's references to B's objects in its own bodies (a policy granting B's bundle, a
// resource group delegated to B's group) are refused (400) too.
func TestCrossTeamNewRoutes(t *testing.T) {
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(isolationFixture(t)))
	e := &env{t: t, srv: srv, tokens: map[string]string{}}
	e.login()
	e.tokens["A"] = teamToken(t, srv, "alpha", alphaAdminKey)
	const a = "/v1/teams/alpha"

	// B's objects.
	gw := srv.Loaded().Team("demo").Gateways["gateway1"]
	if gw == "" {
		gw = "5a3af768-063f-4a12-a056-8ef24e555555"
	}
	tok := idOf(t, e.must(201, "all", "POST", "/gateway_setup_tokens", tfSetupTokenBody("b's token", map[string]string{"k": "v"})))
	bundle := idOf(t, e.must(201, "all", "POST", "/sudo_command_bundles", tfBundleCreate))
	rg := idOf(t, e.must(201, "all", "POST", "/resource_groups", map[string]any{"name": "b-rg"}))
	prj := idOf(t, e.must(201, "all", "POST", "/resource_groups/"+rg+"/projects", map[string]any{"name": "b-p"}))
	group := idOf(t, e.must(200, "all", "GET", "/groups/engineers", nil))
	cert := idOf(t, e.must(201, "all", "POST", "/certificates/json", map[string]any{"display_name": "b's cert", "common_name": "b",
		"type": "certificate_signing_request", "details": map[string]any{"organization": "B"}}))
	aRG := srv.Loaded().Team("alpha").ResourceGroups["rg"]
	aPrj := srv.Loaded().Team("alpha").Projects["rg/p"]

	paths := map[string]string{
		"gateway":       "/gateways/" + gw,
		"status":        "/gateways/" + gw + "/status",
		"setup token":   "/gateway_setup_tokens/" + tok,
		"token value":   "/gateway_setup_tokens/" + tok + "/token",
		"bundle":        "/sudo_command_bundles/" + bundle,
		"rg":            "/resource_groups/" + rg,
		"rg projects":   "/resource_groups/" + rg + "/projects",
		"project":       "/resource_groups/" + rg + "/projects/" + prj,
		"B prj in A rg": "/resource_groups/" + aRG + "/projects/" + prj,
	}
	state := func() map[string]string {
		out := map[string]string{}
		for name, p := range paths {
			if strings.HasPrefix(name, "B prj in A") {
				continue
			}
			r := e.must(200, "all", "GET", p, nil)
			out[name] = string(r.body)
		}
		return out
	}
	before := state()

	bodies := map[string]any{
		"gateway":       map[string]any{"labels": map[string]string{"owned": "by-a"}},
		"setup token":   nil,
		"bundle":        strings.Replace(tfBundleCreate, `"name":"test-sudo-command-bundle-x1"`, `"name":"stolen"`, 1),
		"rg":            map[string]any{"name": "stolen"},
		"certificate":   map[string]any{"display_name": "stolen"},
		"project":       map[string]any{"gateway_selector": "a=b"},
		"B prj in A rg": map[string]any{"gateway_selector": "a=b"},
	}
	for name, p := range paths {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			body, hasBody := bodies[name]
			if method == "PUT" && (!hasBody || body == nil) {
				continue
			}
			if method != "GET" && (name == "status" || name == "token value" || name == "rg projects") {
				continue
			}
			if method != "PUT" {
				body = nil
			}
			if r := e.do("A", method, a+p, body); r.status != 404 {
				t.Errorf("%s %s (B's %s) in A's team: status %d, want 404: %s", method, p, name, r.status, r.body)
			}
			if strings.HasPrefix(name, "B prj in A") {
				continue
			}
			if r := e.do("A", method, p, body); r.status != 401 {
				t.Errorf("%s %s (B's %s) with A's token in B's team: status %d, want 401: %s", method, p, name, r.status, r.body)
			}
		}
	}
	// A uploads a well-formed certificate for B's request's key (anyone can make one: the
	// request is public), in A's path and in B's.
	var req struct {
		Content string `json:"content"`
	}
	e.must(200, "all", "GET", "/certificates/"+cert, nil).json(t, &req)
	signed := signCSR(t, req.Content, srv.Clock.Now())
	if r := uploadAt(t, srv.URL+a+"/certificates/"+cert+"/upload", e.tokens["A"], signed); r.status != 404 {
		t.Errorf("A uploads to B's certificate in A's team: %d %s", r.status, r.body)
	}
	if r := e.upload("A", cert, "file", signed); r.status != 401 {
		t.Errorf("A uploads to B's certificate in B's team: %d %s", r.status, r.body)
	}
	// A creates a project in B's resource group, in A's path.
	if r := e.do("A", "POST", a+"/resource_groups/"+rg+"/projects", map[string]any{"name": "x"}); r.status != 404 {
		t.Errorf("A creates a project in B's resource group: %d %s", r.status, r.body)
	}
	// A's bodies naming B's objects.
	if r := e.do("A", "POST", a+"/resource_groups", map[string]any{"name": "x",
		"delegated_resource_admin_groups": []any{map[string]any{"id": group, "type": "user_group"}}}); r.status != 400 {
		t.Errorf("A delegates a resource group to B's group: %d %s", r.status, r.body)
	}
	if r := e.do("A", "PUT", a+"/resource_groups/"+aRG, map[string]any{"name": "rg",
		"delegated_resource_admin_groups": []any{map[string]any{"id": group, "type": "user_group"}}}); r.status != 400 {
		t.Errorf("A delegates its resource group to B's group: %d %s", r.status, r.body)
	}
	if r := e.do("A", "POST", a+"/resource_groups/"+aRG+"/projects", map[string]any{"name": "x", "resource_group_id": rg}); r.status != 400 && r.status != 404 {
		t.Errorf("A creates a project naming B's resource group: %d %s", r.status, r.body)
	}
	_ = aPrj
	// A's policy granting B's sudo bundle, and A's own (which it may grant).
	aGroup := srv.Loaded().Team("alpha").GroupIDs["users"]
	if r := e.do("A", "POST", a+"/security_policy", v1PolicyBody(aGroup, bundle)); r.status != 400 {
		t.Errorf("A's policy grants B's sudo bundle: %d %s", r.status, r.body)
	}
	aBundle := idOf(t, e.must(201, "A", "POST", a+"/sudo_command_bundles", tfBundleCreate)) // B's name is free in A
	if r := e.do("A", "POST", a+"/security_policy", v1PolicyBody(aGroup, aBundle)); r.status != 200 {
		t.Errorf("A's policy grants A's sudo bundle: %d %s", r.status, r.body)
	}
	if diff := cmp.Diff(before, state()); diff != "" {
		t.Errorf("B's objects changed (-before +after):\n%s", diff)
	}
	// The certificate A sent was good: B's own administrator's upload of it succeeds.
	if r := e.upload("all", cert, "file", signed); r.status != 200 {
		t.Errorf("B uploads the certificate A sent: %d %s", r.status, r.body)
	}
	// Lists of A show nothing of B.
	for _, p := range []string{"/gateways", "/gateway_setup_tokens", "/sudo_command_bundles", "/resource_groups"} {
		r := e.must(200, "A", "GET", a+p, nil)
		for _, id := range []string{gw, tok, bundle, rg, prj, cert} {
			if strings.Contains(string(r.body), id) {
				t.Errorf("A's %s lists B's %s: %s", p, id, r.body)
			}
		}
		var l struct {
			List []json.RawMessage `json:"list"`
		}
		r.json(t, &l)
	}
}

// uploadAt posts content as the "file" part of a multipart body to url with the bearer token.
func uploadAt(t *testing.T, url, token string, content []byte) response {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	part, err := mw.CreateFormFile("file", "cert-upload-tf")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(content)
	_ = mw.Close()
	req, err := http.NewRequest("POST", url, &b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}
