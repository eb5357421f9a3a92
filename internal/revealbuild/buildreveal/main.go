// Command buildreveal builds the browser reveal helper's npm package into a directory:
//
//	go run ./internal/revealbuild/buildreveal [-gokeys=false] OUTDIR
//
// (wasm/build.sh runs it). See package revealbuild.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opakit/opa/internal/revealbuild"
)

func main() {
	goKeys := flag.Bool("gokeys", true, "also build opa-reveal-gokeys.wasm (keys held in Go)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: buildreveal [-gokeys=false] OUTDIR")
		os.Exit(2)
	}
	src, err := os.Getwd()
	if err == nil {
		var out string
		out, err = filepath.Abs(flag.Arg(0))
		if err == nil {
			err = revealbuild.Build(context.Background(), src, out, revealbuild.Options{GoKeys: *goKeys})
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
