// Package revealbuild builds the browser reveal helper's npm package (@opakit/opa-reveal): the
// WebAssembly module compiled from github.com/opakit/opa/wasm, go-runtime.js (Go's wasm_exec.js
// wrapped into an ES module so that it defines no global), and the package files of wasm/package
// (package.json, opa-reveal.js, opa-reveal.d.ts, README.md). wasm/build.sh calls it through
// internal/revealbuild/buildreveal, and opaserver calls Cached to build the demo page's copy on
// demand. It only ever writes into the output directory, never into the source tree, so a
// read-only checkout builds.
//
// Both functions need the Go toolchain ("go" on PATH) and are safe for concurrent use (Cached
// serializes builds of one cache directory).
package revealbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/cockroachdb/errors"
)

// Files are the package's files, as package.json's "files" lists them.
var Files = []string{"package.json", "README.md", "opa-reveal.js", "opa-reveal.d.ts", "go-runtime.js", "opa-reveal.wasm", "opa-reveal-gokeys.wasm"}

// packageSources are the files copied unchanged from wasm/package.
var packageSources = []string{"package.json", "README.md", "opa-reveal.js", "opa-reveal.d.ts"}

// Options select what Build makes.
type Options struct {
	// GoKeys also builds opa-reveal-gokeys.wasm (-tags gokeys: EC keys held in Go, for pages
	// without WebCrypto). Without it, that file is absent.
	GoKeys bool
}

// Build builds the package from the module checkout src into out (created if missing; existing
// package files are replaced). Errors: the go tool's output when a build fails, or a file error.
func Build(ctx context.Context, src, out string, opts Options) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return errors.Wrap(err, "revealbuild: output directory")
	}
	type target struct{ file, tags string }
	targets := []target{{"opa-reveal.wasm", ""}}
	if opts.GoKeys {
		targets = append(targets, target{"opa-reveal-gokeys.wasm", "gokeys"})
	}
	for _, t := range targets {
		args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(out, t.file)}
		if t.tags != "" {
			args = append(args, "-tags", t.tags)
		}
		if err := goCmd(ctx, src, nil, append(args, "./wasm")...); err != nil {
			return err
		}
	}
	root, err := goEnv(ctx, src, "GOROOT")
	if err != nil {
		return err
	}
	glue, err := os.ReadFile(filepath.Join(root, "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return errors.Wrap(err, "revealbuild: Go's wasm_exec.js")
	}
	if err := writeFile(filepath.Join(out, "go-runtime.js"), wrapGlue(glue)); err != nil {
		return err
	}
	for _, name := range packageSources {
		b, err := os.ReadFile(filepath.Join(src, "wasm", "package", name))
		if err != nil {
			return errors.Wrap(err, "revealbuild: package source")
		}
		if err := writeFile(filepath.Join(out, name), b); err != nil {
			return err
		}
	}
	return nil
}

// wrapGlue puts Go's wasm_exec.js, unchanged, inside an exported function whose parameter named
// globalThis shadows the real one: the glue's `globalThis.Go = class …` (and its fs, process and
// path stand-ins) land on the scope object opa-reveal.js passes, and the Go runtime's js.Global()
// is that scope, so loading the helper defines nothing on the page's global object. The glue's
// functions also name fs, process and path bare (fs.writeSync for the program's output); local
// bindings set from the scope once the glue has run make those resolve to its stand-ins too.
func wrapGlue(glue []byte) []byte {
	var b bytes.Buffer
	b.WriteString("// go-runtime.js: Go's lib/wasm/wasm_exec.js (unchanged between the markers), wrapped by\n")
	b.WriteString("// internal/revealbuild so that it runs against a scope object instead of the global object.\n")
	b.WriteString("export function goClass(globalThis) {\nlet fs, process, path;\n// --- wasm_exec.js ---\n")
	b.Write(glue)
	b.WriteString("\n// --- end of wasm_exec.js ---\n({ fs, process, path } = globalThis);\nreturn globalThis.Go;\n}\n")
	return b.Bytes()
}

func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return errors.Wrap(err, "revealbuild: write")
	}
	return errors.Wrap(os.Rename(tmp, path), "revealbuild: write")
}

func goCmd(ctx context.Context, dir string, stdout *bytes.Buffer, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		return errors.Newf("revealbuild: go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

func goEnv(ctx context.Context, dir, name string) (string, error) {
	var out bytes.Buffer
	if err := goCmd(ctx, dir, &out, "env", name); err != nil {
		return "", err
	}
	return strings.TrimSpace(out.String()), nil
}

var cacheMu sync.Mutex

// Cached returns a directory under cacheRoot holding the package built from src (without
// opa-reveal-gokeys.wasm), building it first unless a build of the same sources with the same Go
// version is already there. The directory's name is a SHA-256 of the Go version and of every file
// the build reads (go.mod, go.sum, wasm/, wasm/package/, internal/jwelite/), so an edit makes a new
// build. A failed build leaves nothing behind. Errors: those of Build, or src not being a checkout
// of github.com/opakit/opa.
func Cached(ctx context.Context, src, cacheRoot string) (string, error) {
	key, err := sourceKey(ctx, src)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheRoot, key)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(cacheRoot, 0o755); err != nil {
		return "", errors.Wrap(err, "revealbuild: cache directory")
	}
	tmp, err := os.MkdirTemp(cacheRoot, "build-")
	if err != nil {
		return "", errors.Wrap(err, "revealbuild: cache directory")
	}
	defer func() { _ = os.RemoveAll(tmp) }() // gone after the rename; else a failed build
	if err := Build(ctx, src, tmp, Options{}); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", errors.Wrap(err, "revealbuild: cache directory")
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", errors.Wrap(err, "revealbuild: cache directory")
	}
	return dir, nil
}

// sourceKey hashes the Go version and the files a build reads.
func sourceKey(ctx context.Context, src string) (string, error) {
	mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(mod), []byte("module github.com/opakit/opa\n")) {
		return "", errors.Newf("revealbuild: %s is not a checkout of github.com/opakit/opa", src)
	}
	ver, err := goEnv(ctx, src, "GOVERSION")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(ver + "\x00"))
	var files []string
	for _, dir := range []string{"wasm", "wasm/package", "internal/jwelite"} {
		entries, err := os.ReadDir(filepath.Join(src, dir))
		if err != nil {
			return "", errors.Wrap(err, "revealbuild: sources")
		}
		for _, e := range entries {
			if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".go") || dir == "wasm/package") {
				files = append(files, dir+"/"+e.Name())
			}
		}
	}
	files = append(files, "go.mod", "go.sum")
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(f)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", errors.Wrap(err, "revealbuild: sources")
		}
		h.Write([]byte(f + "\x00"))
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}
