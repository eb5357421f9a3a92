package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoFromCleanCloneInChromium is the README's first command for a front-end developer: the
// server started from a fresh, read-only copy of the checkout (the files git tracks plus
// untracked, unignored ones: no build output) with an empty cache directory, so the demo page's
// helper package is built on demand, outside the source tree. Headless Chromium then signs in with
// the end user's key and reveals three times (EC P-256, RSA-2048, P-256 again with the key kept
// in IndexedDB) through the page; the key secret
// appears in no URL, and the server's request log (/_fake/requests) holds it nowhere. It needs
// Chromium and wasm/test's playwright-core, so it runs only with OPA_E2E=1
// (scripts/test-browser.sh).
func TestDemoFromCleanCloneInChromium(t *testing.T) {
	if os.Getenv("OPA_E2E") == "" {
		t.Skip("browser end-to-end test: run scripts/test-browser.sh (or set OPA_E2E=1)")
	}
	testDir, err := filepath.Abs("../../wasm/test")
	if err != nil {
		t.Fatal(err)
	}
	for _, need := range []string{filepath.Join(testDir, "node_modules/playwright-core"), "/usr/bin/chromium"} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("missing %s: run scripts/test-browser.sh", need)
		}
	}
	clone, files := cleanCopy(t, "../..")
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	// A fresh cache directory for the helper, but Go's own build cache kept (GOCACHE), or the
	// standard library would be compiled again for js/wasm.
	cmd, b, stderr := startIn(t, clone, []string{"XDG_CACHE_HOME=" + cache, "GOCACHE=" + strings.TrimSpace(string(gocache))}, buildServer(t))
	var demo string
	for _, l := range b.lines {
		if strings.HasPrefix(l, "browser reveal demo:") {
			demo = l
		}
	}
	if !strings.Contains(demo, b.base+"/ui/") || !strings.Contains(demo, "built on demand into "+filepath.Join(cache, "opa", "reveal-package")) {
		t.Fatalf("banner line %q", demo)
	}
	m := regexp.MustCompile(`key id (\S+), key secret (\S+)$`).FindStringSubmatch(b.endUser)
	if m == nil {
		t.Fatalf("no end user key in the banner: %q", b.endUser)
	}
	keyID, secret := m[1], m[2]

	run := exec.Command("node", filepath.Join(testDir, "e2e.mjs"), b.base+"/ui/")
	run.Env = append(os.Environ(), "OPA_TEAM="+b.team, "OPA_KEY_ID="+keyID, "OPA_KEY_SECRET="+secret)
	var nodeErr bytes.Buffer
	run.Stderr = &nodeErr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("e2e.mjs: %v\n%s\nserver: %s", err, nodeErr.String(), stderr.String())
	}
	var res struct {
		Passwords []string `json:"passwords"`
		Errors    []string `json:"errors"`
		URLs      []string `json:"urls"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("e2e.mjs output %q: %v", out, err)
	}
	if len(res.Errors) != 0 || len(res.Passwords) != 3 || res.Passwords[0] == "" || res.Passwords[0] != res.Passwords[1] || res.Passwords[1] != res.Passwords[2] {
		t.Errorf("page errors %q, passwords shown %d (all equal: %v); server: %s", res.Errors, len(res.Passwords),
			len(res.Passwords) == 3 && res.Passwords[0] == res.Passwords[1] && res.Passwords[1] == res.Passwords[2], stderr.String())
	}
	for _, u := range res.URLs {
		if strings.Contains(u, secret) || strings.Contains(u, "key_secret") {
			t.Errorf("the page requested %s", u)
		}
	}
	resp, err := http.Get(b.base + "/_fake/requests?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	log, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(log, []byte("/service_token")) || bytes.Contains(log, []byte(secret)) {
		t.Errorf("request log (has the token exchange: %v) holds the key secret: %v", bytes.Contains(log, []byte("/service_token")), bytes.Contains(log, []byte(secret)))
	}
	if entries, err := os.ReadDir(filepath.Join(cache, "opa", "reveal-package")); err != nil || len(entries) != 1 {
		t.Errorf("cache directory: %v, %v; want one build", entries, err)
	}
	stop(t, cmd, stderr)
	// Nothing was written into the source tree (the tests run as root here, so the read-only
	// modes alone would not show it).
	_ = filepath.WalkDir(clone, func(p string, d fs.DirEntry, err error) error {
		if rel, _ := filepath.Rel(clone, p); err == nil && !d.IsDir() && !files[filepath.ToSlash(rel)] {
			t.Errorf("the server wrote %s into the source tree", rel)
		}
		return nil
	})
}

// cleanCopy copies the checkout at root as a fresh clone would have it — the files git tracks and
// the untracked ones it does not ignore — into a temporary directory, makes it read-only, and
// returns it with the set of files copied (slash-separated, relative).
func cleanCopy(t *testing.T, root string) (string, map[string]bool) {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "opa")
	files := map[string]bool{}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the working tree
			}
			t.Fatal(err)
		}
		p := filepath.Join(dst, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o444); err != nil {
			t.Fatal(err)
		}
		files[name] = true
	}
	setModes := func(mode fs.FileMode) {
		_ = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, mode)
			}
			return nil
		})
	}
	setModes(0o555)
	t.Cleanup(func() { setModes(0o755) }) // so that t.TempDir can remove it
	return dst, files
}
