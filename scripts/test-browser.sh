#!/usr/bin/env bash
# test-browser.sh runs every test of the browser-side reveal (wasm/, internal/jwelite, webui/) on a
# fresh Debian machine:
#   1. installs what is missing: Debian's nodejs, npm and chromium (apt-get, only if absent), and the
#      test's npm packages (jose, playwright-core) into wasm/test/node_modules with `npm ci`;
#   2. builds the helper package @opakit/opa-reveal into a temporary directory (wasm/build.sh OUTDIR:
#      never into the source tree), packs it with `npm pack`, and builds a copy of wasm/test/viteapp
#      (a Vite app) that installs the tarball;
#   3. GOOS=js GOARCH=wasm go test ./revealjwe ./wasm/... ./internal/jwelite under node (Go's
#      go_js_wasm_exec; jwelite with -tags gokeys, so its JSON.parse header decoding is the one tested);
#   4. the node tests of the built package against the `jose` package (wasm/test/interop.test.mjs);
#   5. the end-to-end tests in headless Chromium with OPA_E2E=1: webui's demo page against a fake API
#      and against httpapi (TestRevealInChromium*), its load error (TestHelperMissingInChromium), the
#      key-cannot-leave page (TestKeyCannotLeaveInChromium), opaserver's CORS test, and the demo
#      served by opaserver from a clean copy of the checkout (TestDemoFromCleanCloneInChromium), and
#      the Vite app against opaserver -cors-origin (TestViteAppInChromium).
# A component that cannot be installed is a failure, never a skip (CI=true or not).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

log() { printf '\n== %s\n' "$*" >&2; }

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
	log "apt-get install ${missing[*]}"
	./scripts/apt-install.sh "${missing[@]}" >/dev/null
fi
for c in node npm /usr/bin/chromium; do
	command -v "$c" >/dev/null || { echo "test-browser.sh: $c still missing after install" >&2; exit 1; }
done

log "npm ci (wasm/test)"
(cd wasm/test && npm ci --no-audit --no-fund --loglevel=error)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "build the helper package (wasm/build.sh $work/package)"
wasm/build.sh "$work/package"
export OPA_REVEAL_PKG="$work/package"

log "npm pack the package; build wasm/test/viteapp with it (Vite), in a copy outside the source tree"
tgz="$work/$(cd "$work" && npm pack "$OPA_REVEAL_PKG" --silent)"
mkdir -p "$work/viteapp"
cp wasm/test/viteapp/{package.json,package-lock.json,index.html,main.js,vite.config.js} "$work/viteapp/"
(cd "$work/viteapp" && npm ci --no-audit --no-fund --loglevel=error &&
	npm install --no-save --no-audit --no-fund --loglevel=error "$tgz" &&
	OPA_VITE_OUT="$work/vite-dist" npx --no-install vite build --logLevel warn)
export OPA_VITE_DIST="$work/vite-dist"

export PATH="$(go env GOROOT)/lib/wasm:$PATH"
log "GOOS=js GOARCH=wasm go test ./revealjwe ./wasm/... ./internal/jwelite (node)"
GOOS=js GOARCH=wasm go test -count=1 ./revealjwe ./wasm/...
GOOS=js GOARCH=wasm go test -count=1 -tags gokeys ./internal/jwelite

log "node tests of the package (jose)"
go build -o "$work/encrypt" ./wasm/testdata/encrypt
(cd wasm/test && OPA_ENCRYPT_BIN="$work/encrypt" node --test interop.test.mjs)

log "end-to-end in headless Chromium"
OPA_E2E=1 go test -count=1 -run 'Chromium' -v ./webui
# CORS: a page of another origin calls opaserver -cors-origin; the demo from a clean, read-only copy
# of the checkout, its helper built on demand.
# The Vite app installed from the tarball, against opaserver -cors-origin.
OPA_E2E=1 go test -count=1 -run 'TestCORSFromAnotherOriginInChromium|TestDemoFromCleanCloneInChromium|TestViteAppInChromium' -v ./cmd/opaserver

log "browser tests passed"
