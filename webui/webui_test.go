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
		"wasm_exec.js":    {Data: []byte("//go")},
		"opa-reveal.wasm": {Data: []byte("\x00asm")},
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
		{"script", Handler(assets), "GET", "/demo.js", 200, "text/javascript; charset=utf-8", "opa-reveal.js"},
		{"module", Handler(assets), "GET", "/opa-reveal.js", 200, "text/javascript; charset=utf-8", "export"},
		{"wasm", Handler(assets), "GET", "/opa-reveal.wasm", 200, "application/wasm", "asm"},
		{"head", Handler(assets), "HEAD", "/opa-reveal.wasm", 200, "application/wasm", ""},
		{"missing asset", Handler(assets), "GET", "/opa-reveal.d.ts", 404, "", "wasm/build.sh"},
		{"no assets", Handler(nil), "GET", "/opa-reveal.wasm", 404, "", "wasm/build.sh"},
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
			if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}
