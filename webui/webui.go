// Package webui serves the browser demo of a password reveal: a plain HTML and JS page that signs in
// with a service key, lists the user's AD domains, accounts and user access methods, and reveals a
// password with the WASM helper (github.com/opakit/opa/wasm), so the private key never leaves the
// browser and the server only ever sees the public JWK.
//
// The page (static/index.html, static/demo.js) is embedded. The reveal assets — opa-reveal.js,
// opa-reveal.d.ts, wasm_exec.js and opa-reveal.wasm — are read at run time from an fs.FS, normally
// os.DirFS of the wasm/ directory after wasm/build.sh: opa-reveal.wasm and wasm_exec.js are build
// outputs (gitignored), and go:embed cannot embed a file that may not exist at build time.
//
// The server mounts the handler under /ui/ with the API on the same origin:
//
//	mux.Handle("/ui/", http.StripPrefix("/ui", webui.Handler(os.DirFS("wasm"))))
package webui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

//go:embed static
var static embed.FS

// assetNames are the files served from the run-time assets FS, with their content types.
var assetNames = map[string]string{
	"opa-reveal.js":   "text/javascript; charset=utf-8",
	"opa-reveal.d.ts": "text/plain; charset=utf-8",
	"wasm_exec.js":    "text/javascript; charset=utf-8",
	"opa-reveal.wasm": "application/wasm",
}

// Handler returns an http.Handler for the demo, expecting paths with the mount prefix stripped:
// "/" (and "/reveal", "/index.html") is the page, "/demo.js" and "/demo.css" its script and style, and the names in the
// package doc come from assets. A nil assets, or a missing file, gives 404 with a hint to run
// wasm/build.sh. Every response carries a Content-Security-Policy that allows only same-origin
// scripts and connections plus WebAssembly compilation. The handler is safe for concurrent use.
func Handler(assets fs.FS) http.Handler {
	page, err := fs.Sub(static, "static")
	if err != nil {
		panic("webui: embedded static files missing: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := path.Clean("/" + r.URL.Path)[1:]
		switch name {
		case "", "reveal", "index.html":
			serve(w, r, page, "index.html", "text/html; charset=utf-8")
		case "demo.js":
			serve(w, r, page, "demo.js", "text/javascript; charset=utf-8")
		case "demo.css":
			serve(w, r, page, "demo.css", "text/css; charset=utf-8")
		case "favicon.ico":
			w.WriteHeader(http.StatusNoContent)
		default:
			ctype, ok := assetNames[name]
			if !ok {
				http.NotFound(w, r)
				return
			}
			if assets == nil {
				http.Error(w, "reveal assets not configured (run wasm/build.sh and pass the wasm directory)", http.StatusNotFound)
				return
			}
			serve(w, r, assets, name, ctype)
		}
	})
}

func serve(w http.ResponseWriter, r *http.Request, fsys fs.FS, name, ctype string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		http.Error(w, name+" not found (run wasm/build.sh)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ctype)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}
