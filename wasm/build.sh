#!/usr/bin/env bash
# build.sh builds the browser reveal helper next to this script:
#   opa-reveal.wasm  GOOS=js GOARCH=wasm, -trimpath -ldflags="-s -w"
#   wasm_exec.js     Go's JS glue, copied unmodified from $(go env GOROOT)/lib/wasm
# Serve both with opa-reveal.js (and, for TypeScript users, opa-reveal.d.ts).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
goroot="$(go env GOROOT)"
GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o "$here/opa-reveal.wasm" ./wasm
cp "$goroot/lib/wasm/wasm_exec.js" "$here/wasm_exec.js"
echo "built $here/opa-reveal.wasm ($(stat -c %s "$here/opa-reveal.wasm") bytes, $(gzip -9 -c "$here/opa-reveal.wasm" | wc -c) gzipped)"
