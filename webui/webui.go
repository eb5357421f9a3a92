// Package webui serves the browser demo of a password reveal: a plain HTML and JS page that signs in
// with a service key, lists the user's AD domains, accounts and user access methods, and reveals a
// password with the browser helper package @opakit/opa-reveal (github.com/opakit/opa/wasm), so the
// private key is a non-extractable WebCrypto key and the server only ever sees the public JWK.
//
// The page (static/index.html, static/demo.js) is embedded. It imports the helper as a user's page
// would, by its package name: an import map (allowed by its hash in the Content-Security-Policy)
// maps "@opakit/opa-reveal" to pkg/opa-reveal.js, and pkg/ serves the built package's files (see
// internal/revealbuild.Files) from an fs.FS given at run time — the output of wasm/build.sh, or
// the copy opaserver builds on demand. go:embed cannot embed build outputs.
//
// The server mounts the handler under /ui/ with the API on the same origin:
//
//	mux.Handle("/ui/", http.StripPrefix("/ui", webui.Handler(os.DirFS(packageDir))))
package webui

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
)

//go:embed static
var static embed.FS

// packageTypes are the content types of the package files served under pkg/.
var packageTypes = map[string]string{
	"opa-reveal.js":          "text/javascript; charset=utf-8",
	"go-runtime.js":          "text/javascript; charset=utf-8",
	"opa-reveal.d.ts":        "text/plain; charset=utf-8",
	"opa-reveal.wasm":        "application/wasm",
	"opa-reveal-gokeys.wasm": "application/wasm",
	"package.json":           "application/json",
	"README.md":              "text/markdown; charset=utf-8",
}

// csp is the page's Content-Security-Policy: same-origin scripts, the inline import map by its
// hash, WebAssembly compilation, same-origin connections.
var csp = func() string {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		panic("webui: embedded page missing: " + err.Error())
	}
	m := regexp.MustCompile(`(?s)<script type="importmap">(.*?)</script>`).FindSubmatch(page)
	if m == nil {
		panic("webui: index.html has no import map")
	}
	sum := sha256.Sum256(m[1])
	return "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

// Handler returns an http.Handler for the demo, expecting paths with the mount prefix stripped:
// "/" (and "/reveal", "/index.html") is the page, "/demo.js" and "/demo.css" its script and style,
// and "/pkg/<file>" the helper package's files, read from pkg. A nil pkg, or a missing file, gives
// 404 with a hint to build the package; the page then shows that the helper could not load. Every
// response carries the Content-Security-Policy above (with form-action 'none', so not even a
// stray form could submit). The handler is safe for concurrent use.
func Handler(pkg fs.FS) http.Handler {
	page, err := fs.Sub(static, "static")
	if err != nil {
		panic("webui: embedded static files missing: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
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
			file, ok := strings.CutPrefix(name, "pkg/")
			ctype := packageTypes[file]
			if !ok || ctype == "" {
				http.NotFound(w, r)
				return
			}
			if pkg == nil {
				http.Error(w, "the reveal helper package is not configured (build it with wasm/build.sh OUTDIR)", http.StatusNotFound)
				return
			}
			serve(w, r, pkg, file, ctype)
		}
	})
}

func serve(w http.ResponseWriter, r *http.Request, fsys fs.FS, name, ctype string) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		http.Error(w, name+" not found (build the reveal helper package with wasm/build.sh OUTDIR)", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ctype)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}
