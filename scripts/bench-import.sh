#!/usr/bin/env bash
# Benchmark: arrayctl import throughput (rows/s, MB/s of CSV) and the size
# of the group against `zstd -3` of the same CSV.
#   scripts/bench-import.sh [ROWS]     (default 1000000)
# Builds an optimised arrayctl in build-bench/ unless ARFS_BIN is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-1000000}
if [ -z "${ARFS_BIN:-}" ]; then
	cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release \
		-DARFS_BUILD_FS=OFF >/dev/null
	make -C "$root/build-bench" -j"$(nproc)" arrayctl >/dev/null
	ARFS_BIN=$root/build-bench
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/arfs-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
python3 "$root/tests/fs/gen_csv.py" "$rows" 1 > "$tmp/in.csv"
csv_bytes=$(stat -c %s "$tmp/in.csv")
t0=$(date +%s.%N)
"$ARFS_BIN/arrayctl" import --no-fsync "$tmp/in.csv" "$tmp/g" > "$tmp/summary"
t1=$(date +%s.%N)
disk=$(sed -n 's/^on disk: *\([0-9]*\).*/\1/p' "$tmp/summary")
t2=$(date +%s.%N)
"$ARFS_BIN/arrayctl" export "$tmp/g" > "$tmp/out.csv"
t3=$(date +%s.%N)
cmp -s "$tmp/out.csv" "$tmp/in.csv" || { echo "export differs from the input" >&2; exit 1; }
zst=$(zstd -3 -q -c "$tmp/in.csv" | wc -c)
tz0=$(date +%s.%N); zstd -3 -q -c "$tmp/in.csv" >/dev/null; tz1=$(date +%s.%N)
"$ARFS_BIN/arrayctl" convert --lz4 "$tmp/g" > /dev/null
lz4disk=$(du -cb "$tmp/g"/*.sidx "$tmp/g"/*.[0-9][0-9][0-9][0-9] | tail -1 | cut -f1)
awk -v r="$rows" -v b="$csv_bytes" -v t="$(echo "$t1 - $t0" | bc)" \
    -v te="$(echo "$t3 - $t2" | bc)" -v tz="$(echo "$tz1 - $tz0" | bc)" \
    -v d="$disk" -v z="$zst" -v l="$lz4disk" 'BEGIN {
	printf "bench-import: %d rows, %.1f MB of CSV\n", r, b / 1e6
	printf "import:  %.2f s  %.0f rows/s  %.1f MB/s\n", t, r / t, b / 1e6 / t
	printf "export:  %.2f s  %.0f rows/s  %.1f MB/s\n", te, r / te, b / 1e6 / te
	printf "group (zstd blocks): %d bytes, ratio %.2f (csv/group)\n", d, b / d
	printf "group (lz4 blocks):  %d bytes, ratio %.2f\n", l, b / l
	printf "zstd -3 of the CSV:  %d bytes, ratio %.2f; %.2f s\n", z, b / z, tz
	printf "group / zstd -3: %.3f (below 1: the group is smaller)\n", d / z
}'
