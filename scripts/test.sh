#!/usr/bin/env bash
# The project's test command (README's second set-up command; .ci/run calls it).
# It runs everything: formatting, vet and lint, the Go tests with -race (including the LDAP tests
# against a real Samba AD DC and the storage/pgstore tests against a real PostgreSQL, both
# installed if missing), the bounded fuzz runs, and the browser-side reveal tests (WASM under
# node, jose interop, headless Chromium; scripts/test-browser.sh installs what they need). A
# component that cannot be installed fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './wasm/test/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

# golangci-lint (.golangci.yml); built once per machine into a cache directory.
./scripts/lint.sh

echo "== Samba AD DC (for directory/ldapdir)"
if ! command -v samba >/dev/null || ! command -v samba-tool >/dev/null || ! command -v ldbadd >/dev/null; then
	./scripts/samba-dc.sh install >/dev/null
fi
export OPA_SAMBA=1 # directory/ldapdir's TestMain starts (and stops) a DC with scripts/samba-dc.sh

echo "== PostgreSQL (for storage/pgstore)"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	./scripts/pg-cluster.sh install >/dev/null
fi
export OPA_POSTGRES=1 # TestMains of the PostgreSQL tests start (and remove) a cluster with scripts/pg-cluster.sh

echo "== go test -race"
go test -race -count=1 ./...
# opatest's examples and parallel tests, three times over: fakes in one binary stay isolated
go test -race -count=3 -run 'Example|TestParallel' ./opatest
./scripts/fuzz.sh # every fuzz target for a bounded number of runs, then 200 file store kills (2-3 minutes)

echo "== browser-side reveal"
./scripts/test-browser.sh
