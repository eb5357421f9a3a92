#!/usr/bin/env bash
# bench.sh measures the reveal crypto natively and as WASM under node in one run, for BENCHMARKS.md
# ("Reveal crypto and WASM"). Needs wasm/test/node_modules (scripts/test-browser.sh installs it) and
# benchstat (go install golang.org/x/perf/cmd/benchstat@latest). Run nothing else meanwhile.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
out="${BENCH_OUT:-$(mktemp -d)}"
mkdir -p "$out"
export PATH="$(go env GOROOT)/lib/wasm:$PATH:$(go env GOPATH)/bin"
count="${BENCH_COUNT:-5}"

wasm/build.sh
echo "== .wasm size"
echo "raw $(stat -c %s wasm/opa-reveal.wasm) bytes, gzip -9 $(gzip -9 -c wasm/opa-reveal.wasm | wc -c) bytes"

echo "== native"
go test -run '^$' -bench 'Encrypt|ParsePublicKey|Decrypt' -count "$count" ./revealjwe | tee "$out/native.txt"
go test -run '^$' -bench 'GenerateKey/P-' -count "$count" ./revealjwe | tee -a "$out/native.txt"
go test -run '^$' -bench 'GenerateKey/RSA' -benchtime 5x -count "$count" ./revealjwe | tee -a "$out/native.txt"
echo "== wasm (GOOS=js GOARCH=wasm, node)"
GOOS=js GOARCH=wasm go test -run '^$' -bench 'Decrypt' -count "$count" ./revealjwe | tee "$out/wasm.txt"
GOOS=js GOARCH=wasm go test -run '^$' -bench 'GenerateKey/P-' -count "$count" ./revealjwe | tee -a "$out/wasm.txt"
GOOS=js GOARCH=wasm go test -run '^$' -bench 'GenerateKey/RSA' -benchtime 5x -count "$count" ./revealjwe | tee -a "$out/wasm.txt"
echo "== JS API under node"
(cd wasm/test && node bench.mjs) | tee "$out/jsapi.txt"

echo "== Encrypt: revealjwe (parse JWK + encrypt) vs bare go-jose; ParsePublicKey alone"
benchstat -filter '.name:/(Encrypt|ParsePublicKey)/' "$out/native.txt"
echo "== Decrypt / GenerateKey: native vs wasm"
# Same benchmark names and no goos/goarch/cpu lines, so benchstat puts the two side by side.
# Native names end in -GOMAXPROCS (the number of CPUs); wasm names have no suffix.
procs="$(nproc)"
sed -E -e "s/^(Benchmark[^ \t]*)-${procs}([ \t])/\1\2/" -e '/^(goos|goarch|cpu|pkg):/d' "$out/native.txt" > "$out/native.norm.txt"
sed -E -e '/^(goos|goarch|cpu|pkg):/d' "$out/wasm.txt" > "$out/wasm.norm.txt"
benchstat -filter '.name:/(Decrypt|GenerateKey)/' native="$out/native.norm.txt" wasm="$out/wasm.norm.txt"
echo "raw results in $out"
