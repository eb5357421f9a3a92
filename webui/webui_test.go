package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	assets := fstest.MapFS{
		"opa-reveal.js":   {Data: []byte("export {}")},
		"go-runtime.js":   {Data: []byte("export function goClass")},
		"opa-reveal.wasm": {Data: []byte("\x00asm")},
		"package.json":    {Data: []byte(`{"name": "@opakit/opa-reveal"}`)},
		"secret.txt":      {Data: []byte("not a package file")},
	}
	tests := []struct {
		name     string
		h        http.Handler
		method   string
		path     string
		wantCode int
		wantType string
		wantBody string
	}{
		{"page", Handler(assets), "GET", "/", 200, "text/html; charset=utf-8", "<title>opa"},
		{"page alias", Handler(assets), "GET", "/reveal", 200, "text/html; charset=utf-8", "demo.js"},
		{"style", Handler(assets), "GET", "/demo.css", 200, "text/css; charset=utf-8", "#password"},
		{"script", Handler(assets), "GET", "/demo.js", 200, "text/javascript; charset=utf-8", "@opakit/opa-reveal"},
		{"import map", Handler(assets), "GET", "/", 200, "text/html; charset=utf-8", `"@opakit/opa-reveal": "./pkg/opa-reveal.js"`},
		{"module", Handler(assets), "GET", "/pkg/opa-reveal.js", 200, "text/javascript; charset=utf-8", "export"},
		{"glue", Handler(assets), "GET", "/pkg/go-runtime.js", 200, "text/javascript; charset=utf-8", "goClass"},
		{"package.json", Handler(assets), "GET", "/pkg/package.json", 200, "application/json", "@opakit"},
		{"wasm", Handler(assets), "GET", "/pkg/opa-reveal.wasm", 200, "application/wasm", "asm"},
		{"head", Handler(assets), "HEAD", "/pkg/opa-reveal.wasm", 200, "application/wasm", ""},
		{"not at the top", Handler(assets), "GET", "/opa-reveal.wasm", 404, "", ""},
		{"not a package file", Handler(assets), "GET", "/pkg/secret.txt", 404, "", ""},
		{"missing asset", Handler(assets), "GET", "/pkg/opa-reveal.d.ts", 404, "", "wasm/build.sh"},
		{"no assets", Handler(nil), "GET", "/pkg/opa-reveal.wasm", 404, "", "wasm/build.sh"},
		{"unknown", Handler(assets), "GET", "/webui.go", 404, "", ""},
		{"traversal", Handler(assets), "GET", "/../../go.mod", 404, "", ""},
		{"post", Handler(assets), "POST", "/", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantCode)
			}
			if tt.wantType != "" && rec.Header().Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tt.wantType)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %q does not contain %q", rec.Body.String(), tt.wantBody)
			}
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval' 'sha256-") || !strings.Contains(csp, "form-action 'none'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

// TestPageCannotSubmitNatively checks the page has nothing a browser could submit on its own: no
// form element and no named input, so the key secret can never end up in a URL even when the
// page's script did not load.
func TestPageCannotSubmitNatively(t *testing.T) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := strings.ToLower(string(b))
	for _, bad := range []string{"<form", " name=\"team\"", " name=\"key_id\"", " name=\"key_secret\"", "type=\"submit\""} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	for _, id := range []string{"team", "key-id", "key-secret"} {
		i := strings.Index(page, "id=\""+id+"\"")
		if i < 0 {
			t.Fatalf("no #%s", id)
		}
		if tag := page[strings.LastIndex(page[:i], "<") : i+strings.Index(page[i:], ">")]; strings.Contains(tag, "name=") {
			t.Errorf("#%s has a name attribute: %s", id, tag)
		}
	}
}
