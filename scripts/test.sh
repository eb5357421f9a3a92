#!/usr/bin/env bash
# The project's test command (README's second set-up command; .ci/run calls it).
# Other suites (browser, Samba) add their steps below or in scripts they call from here.
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

echo "== go test -race"
go test -race -count=1 ./...
./scripts/fuzz.sh # issue 9: every fuzz target for a bounded time (about 1.5 minutes)
