#!/usr/bin/env bash
# lint.sh runs golangci-lint with the repository's .golangci.yml over the module, twice: for the
# host (everything) and for GOOS=js GOARCH=wasm (the browser-side packages' js files). Any finding
# fails it.
#
# The linter is built from source with `go install` at the pinned version below, once per machine,
# into OPA_TOOLS_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/opa-tools); later runs reuse that
# binary and golangci-lint's own analysis cache. The first build takes several minutes.
# --allow-serial-runners: a second lint on the same machine (another checkout, another engineer) waits
# for golangci-lint's lock instead of failing the run with "parallel golangci-lint is running".
#
#   scripts/lint.sh                        both passes over the module
#   scripts/lint.sh [run arguments...]     one host pass with these arguments (e.g. ./storage/...)
set -euo pipefail
cd "$(dirname "$0")/.."

version=v2.15.0
tools=${OPA_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/opa-tools}
bin="$tools/golangci-lint-$version/golangci-lint"
if [ ! -x "$bin" ]; then
	echo "lint.sh: building golangci-lint $version into $(dirname "$bin") (once per machine)" >&2
	mkdir -p "$tools"
	tmp=$(mktemp -d "$tools/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	GOBIN="$tmp" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
	mkdir -p "$(dirname "$bin")"
	mv -f "$tmp/golangci-lint" "$bin" # a rename: a concurrent run sees the old file or the new one
	rm -rf "$tmp"
	trap - EXIT
fi

if [ $# -gt 0 ]; then
	"$bin" run --allow-serial-runners "$@"
	exit
fi
echo "== golangci-lint $version"
"$bin" run --allow-serial-runners ./...
echo "== golangci-lint $version (GOOS=js GOARCH=wasm)"
GOOS=js GOARCH=wasm "$bin" run --allow-serial-runners ./wasm/... ./revealjwe/... ./internal/jwelite/...
echo "== golangci-lint $version (GOOS=js GOARCH=wasm, -tags gokeys)"
GOOS=js GOARCH=wasm "$bin" run --allow-serial-runners --build-tags gokeys ./wasm/... ./internal/jwelite/...
