#!/usr/bin/env bash
# test-browser.sh runs every test of the browser-side reveal (wasm/, webui/) on a fresh Debian machine:
#   1. installs what is missing: Debian's nodejs, npm and chromium (apt-get, only if absent), and the
#      test's npm packages (jose, playwright-core) into wasm/test/node_modules with `npm ci`;
#   2. builds wasm/opa-reveal.wasm and copies wasm_exec.js (wasm/build.sh);
#   3. GOOS=js GOARCH=wasm go test ./revealjwe ./wasm/... under node (Go's go_js_wasm_exec);
#   4. the node interop tests against the `jose` package (wasm/test/interop.test.mjs);
#   5. the end-to-end tests in headless Chromium (webui TestRevealInChromium against a fake API,
#      TestRevealInChromiumRealServer against httpapi via opatest, TestHelperMissingInChromium for
#      the page's load error; OPA_E2E=1).
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

log "build the WASM helper"
wasm/build.sh

export PATH="$(go env GOROOT)/lib/wasm:$PATH"
log "GOOS=js GOARCH=wasm go test ./revealjwe ./wasm/... (node)"
GOOS=js GOARCH=wasm go test -count=1 ./revealjwe ./wasm/...

log "node interop tests (jose)"
mkdir -p wasm/test/out
go build -o wasm/test/out/encrypt ./wasm/testdata/encrypt
(cd wasm/test && OPA_ENCRYPT_BIN="$PWD/out/encrypt" node --test interop.test.mjs)

log "end-to-end in headless Chromium"
OPA_E2E=1 go test -count=1 -run 'Chromium' -v ./webui
OPA_E2E=1 go test -count=1 -run 'TestCORSFromAnotherOriginInChromium' -v ./cmd/opaserver # CORS: a page of another origin calls opaserver -cors-origin

log "browser tests passed"
