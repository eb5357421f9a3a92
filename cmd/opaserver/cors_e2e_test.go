package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// corsPage calls the API at ?api= from the browser, as a page of its own origin would: the token
// exchange (a POST with a JSON body, so the browser sends a preflight), a paged list with the
// bearer token (a preflight for Authorization; then the exposed Link and X-RateLimit-Remaining),
// and a route a 429 fault answers (the exposed X-RateLimit-Retry-At). It leaves what it saw in
// window.corsResult.
const corsPage = `<!doctype html>
<meta charset="utf-8">
<title>CORS check</title>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  const api = q.get("api"), team = q.get("team");
  const r = { origin: location.origin };
  try {
    const tok = await fetch(api + "/v1/teams/" + team + "/service_token", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key_id: q.get("key"), key_secret: q.get("secret") }),
    });
    r.tokenStatus = tok.status;
    const bearer = (await tok.json()).bearer_token;
    const list = await fetch(api + "/v1/teams/" + team + "/integrations/ad_connections?count=1", {
      headers: { Authorization: "Bearer " + bearer },
    });
    r.listStatus = list.status;
    r.link = list.headers.get("Link");
    r.remaining = list.headers.get("X-RateLimit-Remaining");
    r.listed = (await list.json()).list.length;
    const limited = await fetch(api + "/v1/teams/" + team + "/current_user", {
      headers: { Authorization: "Bearer " + bearer },
    });
    r.limitedStatus = limited.status;
    r.retryAt = limited.headers.get("X-RateLimit-Retry-At");
  } catch (e) {
    r.error = String(e);
  }
  window.corsResult = r;
})();
</script>`

// corsResult is what corsPage reports.
type corsResult struct {
	Origin        string   `json:"origin"`
	TokenStatus   int      `json:"tokenStatus"`
	ListStatus    int      `json:"listStatus"`
	Link          string   `json:"link"`
	Remaining     string   `json:"remaining"`
	Listed        int      `json:"listed"`
	LimitedStatus int      `json:"limitedStatus"`
	RetryAt       string   `json:"retryAt"`
	Error         string   `json:"error"`
	PageErrors    []string `json:"pageErrors"`
}

// TestCORSFromAnotherOriginInChromium starts opaserver with -cors-origin naming one page server's
// origin and loads the same page from that server and from another one in headless Chromium:
// the allowed page signs in, lists with paging and reads the exposed headers (of a 429 fault too);
// the other page's first call fails as the browser blocks it. It needs /usr/bin/chromium and
// wasm/test's playwright-core, so it runs only with OPA_E2E=1 (scripts/test-browser.sh sets it
// and installs both); then anything missing is a failure.
func TestCORSFromAnotherOriginInChromium(t *testing.T) {
	if os.Getenv("OPA_E2E") == "" {
		t.Skip("browser end-to-end test: run scripts/test-browser.sh (or set OPA_E2E=1)")
	}
	pw, err := filepath.Abs("../../wasm/test/node_modules/playwright-core")
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range []string{pw, "/usr/bin/chromium"} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("missing %s: run scripts/test-browser.sh", need)
		}
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(corsPage))
	})
	allowed := httptest.NewServer(page)
	defer allowed.Close()
	other := httptest.NewServer(page)
	defer other.Close()

	cmd, b, stderr := start(t, buildServer(t), "-cors-origin", allowed.URL)
	tok := exchange(t, b)
	fault, _ := json.Marshal(map[string]any{"method": "GET", "path": "/v1/teams/" + b.team + "/current_user", "status": 429, "retry_after_seconds": 30})
	req, _ := http.NewRequest("POST", b.base+"/_fake/faults", bytes.NewReader(fault))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("adding the 429 fault: %v %v", err, resp)
	}
	resp.Body.Close()
	// A second connection, so that a page of one has a next page.
	conn := `{"name":"second","domain":"second.example.com","gateway_id":"5a3af768-063f-4a12-a056-8ef24e555555"}`
	req, _ = http.NewRequest("POST", b.base+"/v1/teams/"+b.team+"/integrations/ad_connections", strings.NewReader(conn))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating a connection: %v %v", err, resp)
	}
	resp.Body.Close()

	q := url.Values{"api": {b.base}, "team": {b.team}, "key": {b.keyID}, "secret": {b.secret}}.Encode()
	run := exec.Command("node", "testdata/cors-e2e.mjs", allowed.URL+"/?"+q, other.URL+"/?"+q)
	var nodeErr bytes.Buffer
	run.Stderr = &nodeErr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("cors-e2e.mjs: %v\n%s", err, nodeErr.String())
	}
	var res []corsResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 2 {
		t.Fatalf("cors-e2e.mjs output %q: %v", out, err)
	}
	ok, blocked := res[0], res[1]
	if ok.Error != "" || len(ok.PageErrors) != 0 || ok.TokenStatus != 200 || ok.ListStatus != 200 || ok.Listed != 1 ||
		!strings.Contains(ok.Link, `rel="next"`) || ok.Remaining == "" || ok.LimitedStatus != 429 || ok.RetryAt == "" {
		t.Errorf("the allowed origin's page saw %+v", ok)
	}
	if blocked.Error == "" || !strings.Contains(blocked.Error, "TypeError") || blocked.TokenStatus != 0 {
		t.Errorf("the other origin's page was not blocked: %+v", blocked)
	}
	stop(t, cmd, stderr)
}
