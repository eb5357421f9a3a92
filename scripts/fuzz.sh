#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded number of executions each (FUZZTIME, default
# 3000x; FuzzAllBodies FUZZTIME_LONG, default 10000x; a Go duration such as 10s also works) with one
# worker (minimizing new inputs for at most 50 runs, which otherwise eats the budget), so that it
# fits a shared 2-core machine: each package's instrumented test binary is built
# once, then run per target. A failing input is written under the package's
# testdata/fuzz/<Target>/ (commit it as a regression); interesting inputs go to the go cache.
# Usage: scripts/fuzz.sh [package dir...]   (default: every package with a Fuzz target)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# Bounds are execution counts, not times: with a time bound Go's fuzzer can end a run that is
# still working on a slow input with "context deadline exceeded", a failure that finds nothing.
fuzztime=${FUZZTIME:-3000x}
# Targets that get longer: the combined HTTP body target, where per-target start-up dominates.
long="FuzzAllBodies"
longtime=${FUZZTIME_LONG:-10000x}
# httpapi's per-route body targets are covered by FuzzAllBodies here (their seeds run in every
# go test); FUZZ_ALL=1 fuzzes each of them too.
skip_pkg=httpapi
skip_re='^Fuzz(ServiceToken|Connection[A-Za-z]*|ServerSync[A-Za-z]*|UserSync[A-Za-z]*|Rule[A-Za-z]*|Reorder|Match|Reveal|Rotate[A-Za-z]*|Checkin[A-Za-z]*|GroupModify)$'
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cache=$(go env GOCACHE)/fuzz
n=0
for pkg in "${pkgs[@]}"; do
	targets=$(cd "$pkg" && grep -ho '^func Fuzz[A-Za-z0-9_]*' *_test.go | sed 's/^func //' | sort -u)
	[ -n "$targets" ] || continue
	importpath=$(go list "$pkg")
	bin="$tmp/$(echo "$importpath" | tr / _).test"
	go test -c -fuzz=. -o "$bin" "$pkg"
	for target in $targets; do
		if [ "${FUZZ_ALL:-}" != 1 ] && [ "$(basename "$pkg")" = "$skip_pkg" ] && [[ $target =~ $skip_re ]]; then
			continue
		fi
		t=$fuzztime
		case " $long " in *" $target "*) t=$longtime ;; esac
		echo "== fuzz $importpath $target ($t)"
		if ! (cd "$root/$pkg" && "$bin" -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$t" -test.fuzzminimizetime=50x \
			-test.parallel=1 -test.fuzzcachedir="$cache/$importpath") >"$tmp/log" 2>&1; then
			cat "$tmp/log" >&2
			exit 1
		fi
		grep -h 'execs:' "$tmp/log" | tail -1 || true
		n=$((n + 1))
	done
done
# Not fuzzing, but the other long, bounded reliability step (RELIABILITY.md): 200 SIGKILLs of the file
# store at random points (commits, snapshots, segment removal), without -race (about 40 s).
if [ $# -eq 0 ]; then
	echo "== filestore: 200 kills"
	OPA_KILL_RUNS=200 go test -count=1 -run '^TestKillDuringCompaction$' ./storage/filestore/
fi
echo "== fuzz: $n targets passed, $fuzztime each ($long: $longtime)"
