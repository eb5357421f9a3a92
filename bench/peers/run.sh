#!/bin/sh
# Runs BenchmarkDurableCommit in ROUNDS rounds (every store measured in each round, so drift of
# the shared disk hits all of them alike), then prints each case's median commit rate and the
# ratios the storage targets are stated in. Run it alone on a quiet machine.
#
#   ROUNDS=5 BENCHTIME=2s OUT=/tmp/peers.txt ./run.sh
set -eu
cd "$(dirname "$0")"
rounds=${ROUNDS:-5}
benchtime=${BENCHTIME:-2s}
out=${OUT:-$(mktemp)}
bin=$(mktemp)
go test -c -o "$bin" .
: > "$out"
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	"$bin" -test.run '^$' -test.bench 'DurableCommit' -test.benchtime "$benchtime" | tee -a "$out"
done
rm -f "$bin"

# median ns/op of one case, e.g. "filestore/64"
median() {
	grep "^BenchmarkDurableCommit/$1-" "$out" | awk '{print $3}' | sort -n |
		awk '{v[NR]=$1} END {if (NR == 0) exit 1; print v[int((NR+1)/2)]}'
}
echo
echo "median commits/s over $rounds rounds ($out):"
for c in raw-4KiB/1 raw-overwrite-4KiB/1 filestore/1 pebble/1 bbolt/1 raw-4KiB/64 raw-overwrite-4KiB/64 filestore/64 pebble/64 bbolt/64; do
	awk -v c="$c" -v ns="$(median "$c")" 'BEGIN {printf "  %-22s %10.0f\n", c, 1e9 / ns}'
done
ratio() { # rate(a) / rate(b)
	awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN {print b / a}'
}
echo "targets:"
printf '  filestore/64 / pebble/64     %5.2f  (>= 1)\n' "$(ratio filestore/64 pebble/64)"
printf '  filestore/64 / filestore/1   %5.2f  (>= 8)\n' "$(ratio filestore/64 filestore/1)"
printf '  filestore/1  / raw-4KiB/1    %5.2f  (>= 0.8)\n' "$(ratio filestore/1 raw-4KiB/1)"
printf '  filestore/1  / bbolt/1       %5.2f  (>= 2)\n' "$(ratio filestore/1 bbolt/1)"
echo "bounds (the most a store with one fdatasync per commit could reach here):"
printf '  raw-overwrite/1 / bbolt/1    %5.2f  (filestore/1 / bbolt/1 cannot exceed it)\n' "$(ratio raw-overwrite-4KiB/1 bbolt/1)"
printf '  filestore/1 / raw-overwrite/1 %5.2f\n' "$(ratio filestore/1 raw-overwrite-4KiB/1)"
echo "medians of the other metrics:"
for c in filestore/1 filestore/64 pebble/64; do
	for m in cpu-µs/commit disk-% µs/fsync commits/fsync; do
		v=$(grep "^BenchmarkDurableCommit/$c-" "$out" | awk -v m="$m" '{for (i = 2; i < NF; i++) if ($(i+1) == m) print $i}' | sort -n |
			awk '{v[NR]=$1} END {if (NR > 0) print v[int((NR+1)/2)]}')
		if [ -n "$v" ]; then printf '  %-14s %-14s %s\n' "$c" "$m" "$v"; fi
	done
done
