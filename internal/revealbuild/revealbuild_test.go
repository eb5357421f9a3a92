package revealbuild

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCached builds the package from this checkout into a fresh cache, checks its files (the
// module, the wrapped glue, the package files unchanged) and that a second call reuses the build.
func TestCached(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly module")
	}
	ctx := context.Background()
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	dir, err := Cached(ctx, src, cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Files {
		if f == "opa-reveal-gokeys.wasm" {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				t.Errorf("Cached built %s", f)
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch f {
		case "opa-reveal.wasm":
			if !bytes.HasPrefix(b, []byte("\x00asm")) {
				t.Errorf("%s is not WebAssembly", f)
			}
		case "go-runtime.js":
			if !bytes.HasPrefix(b, []byte("// go-runtime.js")) || !bytes.Contains(b, []byte("export function goClass(globalThis) {")) || !bytes.Contains(b, []byte("globalThis.Go = class")) {
				t.Errorf("go-runtime.js is not the wrapped wasm_exec.js")
			}
		default:
			want, _ := os.ReadFile(filepath.Join(src, "wasm", "package", f))
			if !bytes.Equal(b, want) {
				t.Errorf("%s differs from wasm/package/%s", f, f)
			}
		}
	}
	again, err := Cached(ctx, src, cache)
	if err != nil || again != dir {
		t.Errorf("second Cached = %q, %v; want %q", again, err, dir)
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Errorf("cache holds %d entries, want the one build", len(entries))
	}
}

// TestSourceKey: an edit to a package file changes the key; a directory that is not a checkout is
// an error.
func TestSourceKey(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", "wasm/main_js.go", "wasm/package/package.json", "internal/jwelite/jwelite.go"} {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, f)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k1, err := sourceKey(ctx, tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "wasm/package/package.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k2, err := sourceKey(ctx, tmp); err != nil || k2 == k1 {
		t.Errorf("key after an edit %q (%v), before %q", k2, err, k1)
	}
	if _, err := sourceKey(ctx, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a checkout") {
		t.Errorf("an empty directory: %v", err)
	}
}
