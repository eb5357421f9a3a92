package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/opakit/opa/revealjwe"
)

// TestViteAppInChromium runs a front-end developer's app in headless Chromium against opaserver:
// wasm/test/viteapp, which installs @opakit/opa-reveal from the `npm pack` tarball and is built with
// Vite (scripts/test-browser.sh does both and names the output in OPA_VITE_DIST). The app, served
// from an origin of its own that opaserver allows with -cors-origin, signs in with the end user's
// key and reveals a password with the package's reveal(); the test then reveals the same account
// with Go (revealjwe) and expects the same password. Runs only with OPA_E2E=1.
func TestViteAppInChromium(t *testing.T) {
	if os.Getenv("OPA_E2E") == "" {
		t.Skip("browser end-to-end test: run scripts/test-browser.sh (or set OPA_E2E=1 and OPA_VITE_DIST)")
	}
	dist := os.Getenv("OPA_VITE_DIST")
	pages, err := filepath.Abs("../../wasm/test/pages.mjs")
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range []string{filepath.Join(dist, "index.html"), filepath.Join(filepath.Dir(pages), "node_modules/playwright-core"), "/usr/bin/chromium"} {
		if _, err := os.Stat(need); dist == "" || err != nil {
			t.Fatalf("missing %s (OPA_VITE_DIST=%q): run scripts/test-browser.sh", need, dist)
		}
	}
	app := httptest.NewServer(http.FileServer(http.Dir(dist)))
	defer app.Close()
	cmd, b, stderr := start(t, buildServer(t), "-cors-origin", app.URL)
	m := regexp.MustCompile(`key id (\S+), key secret (\S+)$`).FindStringSubmatch(b.endUser)
	if m == nil {
		t.Fatalf("no end user key in the banner: %q", b.endUser)
	}
	q := url.Values{"api": {b.base}, "team": {b.team}, "key": {m[1]}, "secret": {m[2]}}.Encode()
	run := exec.Command("node", pages, app.URL+"/?"+q)
	var nodeErr bytes.Buffer
	run.Stderr = &nodeErr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("pages.mjs: %v\n%s", err, nodeErr.String())
	}
	var res []struct {
		Result struct {
			Password    string `json:"password"`
			Kid         string `json:"kid"`
			Extractable bool   `json:"extractable"`
			Account     string `json:"account"`
			Error       string `json:"error"`
		} `json:"result"`
		PageErrors []string `json:"pageErrors"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("pages.mjs output %q: %v", out, err)
	}
	r := res[0]
	if r.Result.Error != "" || len(r.PageErrors) != 0 || r.Result.Password == "" || r.Result.Kid == "" || r.Result.Extractable {
		t.Fatalf("the app saw %+v, page errors %q; server: %s", r.Result, r.PageErrors, stderr.String())
	}
	if want := revealWithGo(t, b, m[1], m[2]); r.Result.Password != want {
		t.Errorf("the app revealed %q for %s, Go reveals %q", r.Result.Password, r.Result.Account, want)
	}
	stop(t, cmd, stderr)
}

// revealWithGo reveals the first account of the first AD connection with its first user access
// method, as the Vite app does, with a revealjwe key.
func revealWithGo(t *testing.T, b banner, keyID, secret string) string {
	t.Helper()
	tok := exchange(t, banner{base: b.base, team: b.team, keyID: keyID, secret: secret})
	list := func(path string) []json.RawMessage {
		code, body := get(t, b.base+path, tok)
		var v struct{ List []json.RawMessage }
		if code != 200 || json.Unmarshal(body, &v) != nil || len(v.List) == 0 {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		return v.List
	}
	var ad struct{ ID string }
	_ = json.Unmarshal(list("/v1/teams/" + b.team + "/active_directory")[0], &ad)
	base := fmt.Sprintf("/v1/teams/%s/active_directory/%s/accounts", b.team, ad.ID)
	var acct struct{ Account struct{ ID string } }
	_ = json.Unmarshal(list(base)[0], &acct)
	uam := list(base + "/" + acct.Account.ID + "/user_access_methods")[0]
	key, err := revealjwe.GenerateKey(revealjwe.KindP256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := key.PublicJWK()
	body, _ := json.Marshal(map[string]json.RawMessage{"public_key": pub, "user_access_method": uam})
	req, _ := http.NewRequest("POST", b.base+base+"/"+acct.Account.ID+"/reveal_credentials", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rr struct {
		PasswordJWE string `json:"password_jwe"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rr); err != nil || resp.StatusCode != 200 {
		t.Fatalf("reveal: %d %v", resp.StatusCode, err)
	}
	pw, err := revealjwe.Decrypt(rr.PasswordJWE, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pw)
}
