#!/usr/bin/env bash
# build.sh builds the browser reveal helper's npm package (@opakit/opa-reveal) into OUTDIR, never
# into the source tree (a read-only checkout builds):
#   opa-reveal.wasm         GOOS=js GOARCH=wasm ./wasm, -trimpath -ldflags="-s -w" (WebCrypto keys)
#   opa-reveal-gokeys.wasm  the same with -tags gokeys (EC keys held in Go, for pages without WebCrypto)
#   go-runtime.js           Go's lib/wasm/wasm_exec.js wrapped into an ES module (no global)
#   package.json, README.md, opa-reveal.js, opa-reveal.d.ts   from wasm/package
# Then `npm pack OUTDIR` makes the tarball. Usage: wasm/build.sh OUTDIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
cd "$here/.."
go run ./internal/revealbuild/buildreveal "$out"
echo "built $out: opa-reveal.wasm $(stat -c %s "$out/opa-reveal.wasm") bytes ($(gzip -9 -c "$out/opa-reveal.wasm" | wc -c) gzipped), opa-reveal-gokeys.wasm $(stat -c %s "$out/opa-reveal-gokeys.wasm") bytes ($(gzip -9 -c "$out/opa-reveal-gokeys.wasm" | wc -c) gzipped)"
