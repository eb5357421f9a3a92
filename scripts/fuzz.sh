#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded time each (FUZZTIME, default 2s), one
# worker at a time so that it fits a shared 2-core machine. New failing inputs are written by the
# go tool under the package's testdata/fuzz/<Target>/; commit them as regressions.
# Usage: scripts/fuzz.sh [package pattern...]   (default: every package with a Fuzz target)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-2s}
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi
n=0
for pkg in "${pkgs[@]}"; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== fuzz $pkg $target ($fuzztime)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" -parallel=1 "$pkg" >/tmp/fuzz.$$.log 2>&1 || {
			cat /tmp/fuzz.$$.log >&2
			rm -f /tmp/fuzz.$$.log
			exit 1
		}
		n=$((n + 1))
	done
done
rm -f /tmp/fuzz.$$.log
echo "== fuzz: $n targets passed, $fuzztime each"
