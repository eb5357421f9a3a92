package webui_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/opatest"
	"github.com/opakit/opa/revealjwe"
	"github.com/opakit/opa/webui"
)

const (
	team      = "acme"
	keyID     = "6f1c1f54-0e5c-4a53-9c4b-3a2d6b8d7e01"
	keySecret = "service-key-secret"
	password  = "Dir3ctory-Pässw0rd!"
	connID    = "conn-7b1e"
	accountID = "acct-42"
)

// fakeServer implements just the endpoints the demo page calls, with revealjwe doing the reveal. It
// records every request body so the test can check that no private key was ever sent.
type fakeServer struct {
	mu     sync.Mutex
	bodies []string
	kids   []string
}

func (f *fakeServer) routes(pkgDir string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", webui.Handler(os.DirFS(pkgDir))))
	writeJSON := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	apiErr := func(w http.ResponseWriter, code int, typ, msg string) {
		writeJSON(w, code, map[string]any{"type": typ, "code": code, "message": msg})
	}
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok-1" || r.PathValue("team") != team {
				apiErr(w, 401, "authentication_error", "bad token")
				return
			}
			h(w, r)
		}
	}
	base := "/v1/teams/{team}/active_directory/{conn}/accounts/{id}"
	mux.HandleFunc("POST /v1/teams/{team}/service_token", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			KeyID     string `json:"key_id"`
			KeySecret string `json:"key_secret"`
		}
		if json.NewDecoder(r.Body).Decode(&req) != nil || req.KeyID != keyID || req.KeySecret != keySecret || r.PathValue("team") != team {
			apiErr(w, 401, "authentication_error", "bad credentials")
			return
		}
		writeJSON(w, 200, map[string]any{"bearer_token": "tok-1", "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339), "team_name": team})
	})
	mux.HandleFunc("GET /v1/teams/{team}/active_directory", authed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"list": []any{map[string]any{"id": connID, "domain": "corp.example.com", "okta_app_instance_id": "0oa1", "status": "connected"}}})
	}))
	mux.HandleFunc("GET /v1/teams/{team}/active_directory/{conn}/accounts", authed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"list": []any{map[string]any{
			"account":          map[string]any{"id": accountID, "username": "svc-backup@corp.example.com", "account_type": "SHARED", "availability_status": "AVAILABLE"},
			"checkout_details": map[string]any{"checkout_required": false},
		}}})
	}))
	mux.HandleFunc("GET "+base+"/user_access_methods", authed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"list": []any{uam()}})
	}))
	mux.HandleFunc("POST "+base+"/reveal_credentials", authed(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			PublicKey        json.RawMessage `json:"public_key"`
			UserAccessMethod json.RawMessage `json:"user_access_method"`
		}
		if json.NewDecoder(r.Body).Decode(&req) != nil || len(req.UserAccessMethod) == 0 || r.PathValue("conn") != connID || r.PathValue("id") != accountID {
			apiErr(w, 400, "invalid_request", "bad request")
			return
		}
		pub, err := revealjwe.ParsePublicKey(req.PublicKey)
		if err != nil {
			apiErr(w, 400, "invalid_request", err.Error())
			return
		}
		jwe, err := revealjwe.Encrypt(pub, []byte(password))
		if err != nil {
			apiErr(w, 500, "internal", "internal error")
			return
		}
		f.mu.Lock()
		f.kids = append(f.kids, pub.Algorithm())
		f.mu.Unlock()
		writeJSON(w, 200, map[string]any{"password_jwe": jwe})
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(body))
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		mux.ServeHTTP(w, r)
	})
}

func uam() map[string]any {
	return map[string]any{
		"identity": "svc-backup@corp.example.com", "access_credential": "password", "brokered": false,
		"server_host_name": "", "user_access_type": "active_directory_account", "resource_status": "active",
		"sudo_display_name": "", "short_text": "Reveal password", "rule_ids": []string{"rule-1"},
		"rule_resource_type": "active_directory_based_resource",
		"details":            map[string]any{"_type": "active_directory_account", "account_id": accountID, "privileges": []any{map[string]any{"privilege_type": "reveal_password", "privilege_value": map[string]any{"reveal_password": true}}}},
	}
}

// privateMember reports whether v holds, at any depth, a JWK-like object with a private member.
func privateMember(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if _, isJWK := x["kty"]; isJWK {
			for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"} {
				if _, ok := x[m]; ok {
					return true
				}
			}
		}
		for _, e := range x {
			if privateMember(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if privateMember(e) {
				return true
			}
		}
	}
	return false
}

// e2eResult is what wasm/test/e2e.mjs reports.
type e2eResult struct {
	Passwords []string `json:"passwords"`
	Errors    []string `json:"errors"`
	Bodies    []string `json:"bodies"`
	URLs      []string `json:"urls"`
	Statuses  []string `json:"statuses"`
}

// e2eEnv is where the browser tests find what scripts/test-browser.sh prepared.
type e2eEnv struct {
	pkgDir  string // the built package (wasm/build.sh OUTDIR), from OPA_REVEAL_PKG
	testDir string // wasm/test, with node_modules/playwright-core
}

// e2eSetup skips unless OPA_E2E is set and then fails if anything the browser test needs is
// missing: the built package named by OPA_REVEAL_PKG, wasm/test's playwright-core, Chromium.
func e2eSetup(t *testing.T) e2eEnv {
	t.Helper()
	if os.Getenv("OPA_E2E") == "" {
		t.Skip("browser end-to-end test: run scripts/test-browser.sh (or set OPA_E2E=1 and OPA_REVEAL_PKG)")
	}
	testDir, err := filepath.Abs("../wasm/test")
	if err != nil {
		t.Fatal(err)
	}
	env := e2eEnv{pkgDir: os.Getenv("OPA_REVEAL_PKG"), testDir: testDir}
	if env.pkgDir == "" {
		t.Fatal("OPA_REVEAL_PKG must name the built package (wasm/build.sh OUTDIR): run scripts/test-browser.sh")
	}
	for _, need := range []string{filepath.Join(env.pkgDir, "opa-reveal.wasm"), filepath.Join(env.pkgDir, "go-runtime.js"), filepath.Join(testDir, "node_modules/playwright-core"), "/usr/bin/chromium"} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("missing %s: run scripts/test-browser.sh", need)
		}
	}
	return env
}

// runBrowser opens pageURL in headless Chromium, signs in with the service key and reveals three
// times (P-256 with a key kept in IndexedDB, RSA-2048, the kept P-256 key again)
// (EC P-256, then RSA-2048). It checks that the page showed wantPassword() (called after the run)
// both times, reported no
// errors, and that no request body the browser sent carried a private key.
func runBrowser(t *testing.T, env e2eEnv, pageURL, team, keyID, keySecret string, wantPassword func() string) e2eResult {
	t.Helper()
	cmd := exec.Command("node", filepath.Join(env.testDir, "e2e.mjs"), pageURL)
	cmd.Env = append(os.Environ(), "OPA_TEAM="+team, "OPA_KEY_ID="+keyID, "OPA_KEY_SECRET="+keySecret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("e2e.mjs: %v\n%s", err, stderr.String())
	}
	var res e2eResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("e2e.mjs output %q: %v", out, err)
	}
	if len(res.Errors) != 0 {
		t.Errorf("page errors: %v", res.Errors)
	}
	if want := wantPassword(); fmt.Sprint(res.Passwords) != fmt.Sprint([]string{want, want, want}) {
		t.Errorf("page showed %q, want the directory password three times", res.Passwords)
	}
	if len(res.Statuses) != 3 || !strings.Contains(res.Statuses[2], "kept key") {
		t.Errorf("statuses %q: the third reveal did not use the kept key", res.Statuses)
	}
	checkBodies(t, "browser", res.Bodies)
	for _, u := range res.URLs {
		if strings.Contains(u, "key_secret") || strings.Contains(u, url.QueryEscape(keySecret)) {
			t.Errorf("the page requested %s: the key secret went into a URL", u)
		}
	}
	return res
}

// checkBodies fails the test if a body is not JSON or carries a JWK with private members, and
// checks that exactly two reveal requests (with a public_key) were among them.
func checkBodies(t *testing.T, who string, bodies []string) {
	t.Helper()
	reveals := 0
	var kids []string
	for _, b := range bodies {
		if b == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Errorf("%s: non-JSON request body %q", who, b)
			continue
		}
		if privateMember(v) {
			t.Errorf("%s: a request carried a private key: %s", who, b)
		}
		if strings.Contains(b, `"public_key"`) {
			reveals++
			var r struct {
				PublicKey struct{ Kid string } `json:"public_key"`
			}
			_ = json.Unmarshal([]byte(b), &r)
			kids = append(kids, r.PublicKey.Kid)
		}
	}
	if reveals != 3 || kids[0] == "" || kids[0] != kids[2] || kids[1] == kids[0] {
		t.Errorf("%s: %d reveal requests seen with kids %q, want 3, the first and the last with the kept key", who, reveals, kids)
	}
}

// TestRevealInChromium serves the demo page from a fake API server (just the endpoints the page
// calls, revealing with revealjwe) and drives headless Chromium through it with wasm/test/e2e.mjs
// (playwright-core). It needs wasm/build.sh's output, wasm/test/node_modules and /usr/bin/chromium,
// so it runs only with OPA_E2E=1 (scripts/test-browser.sh sets it, and installs all of that); then
// anything missing is a failure.
func TestRevealInChromium(t *testing.T) {
	env := e2eSetup(t)
	f := &fakeServer{}
	srv := httptest.NewServer(f.routes(env.pkgDir))
	defer srv.Close()

	runBrowser(t, env, srv.URL+"/ui/", team, keyID, keySecret, func() string { return password })

	f.mu.Lock()
	defer f.mu.Unlock()
	if fmt.Sprint(f.kids) != "[ECDH-ES RSA-OAEP-256 ECDH-ES]" {
		t.Errorf("reveals with algorithms %v, want [ECDH-ES RSA-OAEP-256 ECDH-ES]", f.kids)
	}
	checkBodies(t, "server", f.bodies)
}

// TestRevealInChromiumRealServer does the same against the real API (package httpapi through
// opatest) loaded with testdata/e2e-fixture.json: one SHARED account discovered by sync from an
// in-memory directory, and a policy letting the service user reveal it. The page must show the
// directory's current password.
func TestRevealInChromiumRealServer(t *testing.T) {
	env := e2eSetup(t)
	doc, err := os.ReadFile("testdata/e2e-fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	ui := http.StripPrefix("/ui", webui.Handler(os.DirFS(env.pkgDir)))
	srv := opatest.NewServer(t, opatest.WithFixtureJSON(doc), opatest.WithHandlerOptions(httpapi.WithMount("/ui/", ui)))
	// The engine rotates the password when it brings the account under management (possibly after
	// NewServer returns), so the expected value is whatever the directory holds after the reveals.
	dir := srv.Directory("corp.example.com")
	if dir == nil {
		t.Fatal("fixture directory corp.example.com not loaded")
	}
	runBrowser(t, env, srv.URL+"/ui/", srv.Team, srv.KeyID, srv.KeySecret, func() string {
		pw, ok := dir.Password("CN=svc-backup,OU=ServiceAccounts,DC=corp,DC=example,DC=com")
		if !ok || pw == "" {
			t.Fatal("no current password for svc-backup in the directory")
		}
		return pw
	})
}

// TestHelperMissingInChromium serves the demo page without the helper's assets (as from a checkout
// where wasm/build.sh never ran): the page must say so in its status line, as an error, and keep
// the Reveal button disabled, rather than do nothing.
func TestHelperMissingInChromium(t *testing.T) {
	env := e2eSetup(t)
	srv := httptest.NewServer(http.StripPrefix("/ui", webui.Handler(os.DirFS(t.TempDir()))))
	defer srv.Close()
	cmd := exec.Command("node", filepath.Join(env.testDir, "e2e.mjs"), srv.URL+"/ui/")
	cmd.Env = append(os.Environ(), "OPA_E2E_LOAD_ERROR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("e2e.mjs: %v\n%s", err, stderr.String())
	}
	var res struct {
		Status         string `json:"status"`
		RevealDisabled bool   `json:"reveal_disabled"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("e2e.mjs output %q: %v", out, err)
	}
	if !strings.Contains(res.Status, "reveal helper could not load") || !res.RevealDisabled {
		t.Errorf("page status %q, reveal disabled %v; want the load error and a disabled button", res.Status, res.RevealDisabled)
	}
}

// TestKeyCannotLeaveInChromium runs testdata/keycheck in headless Chromium against the built
// package: for every key type, the handle's private CryptoKey is non-extractable (exportKey and
// wrapKey reject), exportPrivateJwk refuses, no function the package exports returns private
// material, loading defines no global, and a key kept in IndexedDB is still non-extractable and
// still decrypts after a reload. The server side of the page's encryption requests refuses any
// JWK with a private member (revealjwe.ParsePublicKey), and every body it saw is checked too.
func TestKeyCannotLeaveInChromium(t *testing.T) {
	env := e2eSetup(t)
	page, err := os.ReadFile("testdata/keycheck/index.html")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<script type="importmap">(.*?)</script>`).FindSubmatch(page)
	sum := sha256.Sum256(m[1])
	csp := "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; connect-src 'self'"
	var mu sync.Mutex
	var bodies []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /keycheck.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /keycheck.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, "testdata/keycheck/keycheck.js")
	})
	mux.HandleFunc("POST /encrypt", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		var req struct {
			PublicKey json.RawMessage `json:"public_key"`
			Plaintext string          `json:"plaintext"`
		}
		if json.Unmarshal(b, &req) != nil {
			http.Error(w, "bad body", 400)
			return
		}
		pub, err := revealjwe.ParsePublicKey(req.PublicKey)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		jwe, err := revealjwe.Encrypt(pub, []byte(req.Plaintext))
		if err != nil {
			http.Error(w, "encrypt", 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"password_jwe": jwe})
	})
	// The package files under /pkg/ come from webui.Handler, which serves them at pkg/<file>
	// with their content types.
	mux.Handle("GET /pkg/", webui.Handler(os.DirFS(env.pkgDir)))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cmd := exec.Command("node", filepath.Join(env.testDir, "pages.mjs"), srv.URL+"/keycheck.html?phase=store", srv.URL+"/keycheck.html?phase=reload")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pages.mjs: %v\n%s", err, stderr.String())
	}
	var res []struct {
		Result struct {
			Failures []string `json:"failures"`
			Checks   int      `json:"checks"`
		} `json:"result"`
		PageErrors []string `json:"pageErrors"`
		Bodies     []string `json:"bodies"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 2 {
		t.Fatalf("pages.mjs output %q: %v", out, err)
	}
	for i, r := range res {
		if len(r.Result.Failures) != 0 || len(r.PageErrors) != 0 || r.Result.Checks < 8 {
			t.Errorf("phase %d: %d checks, failures %q, page errors %q", i+1, r.Result.Checks, r.Result.Failures, r.PageErrors)
		}
		for _, b := range r.Bodies {
			var v any
			if json.Unmarshal([]byte(b), &v) == nil && privateMember(v) {
				t.Errorf("phase %d: the page sent a private key: %s", i+1, b)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) < 5 {
		t.Errorf("the server saw %d encryption requests, want at least 5", len(bodies))
	}
	for _, b := range bodies {
		var v any
		if json.Unmarshal([]byte(b), &v) != nil || privateMember(v) {
			t.Errorf("the server received %s", b)
		}
	}
}
