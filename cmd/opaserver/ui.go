package main

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/opakit/opa/httpapi"
	"github.com/opakit/opa/internal/revealbuild"
	"github.com/opakit/opa/webui"
)

// uiMount serves the browser reveal demo (package webui) under /ui/ and returns a note for the
// banner. The page needs the helper package @opakit/opa-reveal:
//
//   - with -reveal-package DIR it is read from DIR (wasm/build.sh DIR);
//   - otherwise, when the working directory is a checkout of this module and the go tool is on
//     PATH (as with `go run ./cmd/opaserver`), it is built on demand into the user cache directory
//     (revealbuild.Cached: opa/reveal-package/<hash of the sources> under os.UserCacheDir), starting
//     at once in the background: about a minute the first time, nothing once cached. Requests for
//     its files wait for the build;
//   - otherwise the page shows that the helper could not load, with the reason.
func uiMount(ctx context.Context, pkgDir string, log *slog.Logger) ([]httpapi.Option, string) {
	var pkg fs.FS
	note := ""
	switch {
	case pkgDir != "":
		pkg, note = os.DirFS(pkgDir), "helper package from "+pkgDir
	default:
		src, cacheRoot, why := onDemandSource()
		if why != "" {
			note = "no helper package: " + why + "; pass -reveal-package DIR after wasm/build.sh DIR"
			break
		}
		l := &lazyPackage{done: make(chan struct{})}
		go l.build(ctx, src, cacheRoot, log)
		pkg, note = l, "helper package built on demand into "+cacheRoot
	}
	return []httpapi.Option{httpapi.WithMount("/ui/", http.StripPrefix("/ui", webui.Handler(pkg)))}, note
}

// onDemandSource returns the checkout to build the helper from and the cache directory, or why
// there is none.
func onDemandSource() (src, cacheRoot, why string) {
	wd, err := os.Getwd()
	if err != nil {
		return "", "", "no working directory"
	}
	if _, err := os.Stat(filepath.Join(wd, "wasm", "package", "package.json")); err != nil {
		return "", "", "the working directory is not a checkout of github.com/opakit/opa"
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", "", "no go tool on PATH to build it"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", "no user cache directory"
	}
	return wd, filepath.Join(cache, "opa", "reveal-package"), ""
}

// lazyPackage is an fs.FS whose files exist once the on-demand build is done; Open waits for it.
// It is safe for concurrent use.
type lazyPackage struct {
	done chan struct{}
	fsys fs.FS
	err  error
}

func (l *lazyPackage) build(ctx context.Context, src, cacheRoot string, log *slog.Logger) {
	defer close(l.done)
	dir, err := revealbuild.Cached(ctx, src, cacheRoot)
	if err != nil {
		l.err = err
		log.Error("building the browser reveal helper package failed; the demo page at /ui/ cannot reveal", "error", err)
		return
	}
	l.fsys = os.DirFS(dir)
}

// Open waits for the build and opens name in its output; after a failed build every name is
// fs.ErrNotExist (the build's error is in the log).
func (l *lazyPackage) Open(name string) (fs.File, error) {
	<-l.done
	if l.err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return l.fsys.Open(name)
}
