#!/usr/bin/env bash
# bench.sh measures the browser reveal helper for BENCHMARKS.md ("Browser reveal helper"), all in
# one run so that the ratios compare like with like on a shared machine:
#   1. size: the package's .wasm files raw and gzip -9, the JS files gzipped, and a per-package
#      breakdown of the default module (wasm/testdata/sizes on a build with its name section);
#   2. native Go: revealjwe's BenchmarkDecrypt (go-jose; -count BENCH_COUNT, default 5);
#   3. the helper in headless Chromium (wasm/test/bench-browser.mjs): load, generateKey, decrypt, and
#      the same WebCrypto calls made from JS alone (the floor of any WebCrypto-based decryption);
#   4. the ratio helper decrypt / native decrypt per key type (native: the median of the runs).
# Needs wasm/test/node_modules and Chromium (scripts/test-browser.sh installs both). Run nothing
# else meanwhile if you can.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
out="${BENCH_OUT:-$(mktemp -d)}"
count="${BENCH_COUNT:-5}"
mkdir -p "$out"

wasm/build.sh "$out/package" >/dev/null
echo "== size (go $(go env GOVERSION))"
for f in opa-reveal.wasm opa-reveal-gokeys.wasm opa-reveal.js go-runtime.js; do
	printf '%-24s %9d bytes raw %9d gzip -9\n' "$f" "$(stat -c %s "$out/package/$f")" "$(gzip -9 -c "$out/package/$f" | wc -c)"
done
total=$(cat "$out/package/opa-reveal.wasm" | gzip -9 | wc -c)
for f in opa-reveal.js go-runtime.js; do total=$((total + $(gzip -9 -c "$out/package/$f" | wc -c))); done
echo "whole helper (opa-reveal.wasm + opa-reveal.js + go-runtime.js), gzip -9 each: $total bytes"
GOOS=js GOARCH=wasm go build -trimpath -o "$out/named.wasm" ./wasm
echo "== per-package breakdown of opa-reveal.wasm (built without -s; code section by function name)"
go run ./wasm/testdata/sizes -top 20 "$out/named.wasm"

echo "== native Go: revealjwe BenchmarkDecrypt (go-jose), -count $count"
go test -run '^$' -bench 'Decrypt' -count "$count" ./revealjwe | tee "$out/native.txt" | grep '^Benchmark'
echo "== the helper in headless Chromium"
(cd wasm/test && OPA_REVEAL_PKG="$out/package" node bench-browser.mjs "${BENCH_CALLS:-400}") | tee "$out/chromium.json"

echo "== decrypt: helper in Chromium / native Go (native: median of $count runs)"
node - "$out/native.txt" "$out/chromium.json" <<'JS'
const fs = require("fs");
const [nat, chr] = process.argv.slice(2);
const runs = {};
for (const l of fs.readFileSync(nat, "utf8").split("\n")) {
  const m = l.match(/^BenchmarkDecrypt\/(\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns\/op/);
  if (m) (runs[m[1]] ??= []).push(Number(m[3]) / 1e6);
}
const res = JSON.parse(fs.readFileSync(chr, "utf8"));
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log("key       native ms  helper ms  ratio  WebCrypto-from-JS ms  ratio");
for (const [k, v] of Object.entries(res.kinds)) {
  const n = median(runs[k]);
  console.log(`${k.padEnd(9)} ${n.toFixed(3).padStart(9)}  ${v.decryptMs.toFixed(3).padStart(9)}  ${(v.decryptMs / n).toFixed(2).padStart(5)}  ${v.webCryptoFromJsMs.toFixed(3).padStart(20)}  ${(v.webCryptoFromJsMs / n).toFixed(2).padStart(5)}`);
}
JS
echo "raw results in $out"
