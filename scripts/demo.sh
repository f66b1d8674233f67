#!/usr/bin/env bash
# The main job: install what is missing, build, make a small demo store of
# its own (two document arrays, and a segment group imported from a CSV it
# writes), mount it with arrayfs, show it with ordinary tools, unmount.
# Usage: scripts/demo.sh [DIR]   (default: a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
arfs_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/arrayfs-demo-XXXXXX")}
store=$dir/store
mnt=$dir/mnt
mkdir -p "$store" "$mnt"
ctl=build/arrayctl

# A store with two document arrays, written through arrayctl...
$ctl create "$store/notes"
printf 'Buy milk\n' | $ctl put "$store/notes" shopping
printf 'arrayfs shows each document as a file.\n' | $ctl put "$store/notes" readme
printf 'hello, world\n' | $ctl put "$store/notes" hello
$ctl create "$store/blobs"
head -c 4096 /dev/urandom | $ctl put "$store/blobs" random-4k
printf '%s\n' '{"id": 7, "tags": ["x", "y"]}' | $ctl put "$store/blobs" record.json

# ... and a segment group imported from a CSV of 300 rows: int, str, float,
# int with missing values, vector. Small blocks, so a column has several.
awk 'BEGIN {
	split("Oslo Lima Cairo Quito Perth Osaka", city, " ")
	print "day,city,temp_c,rain_mm,wind"
	for (i = 1; i <= 300; i++)
		printf "%d,%s,%.1f,%s,[%d %d]\n", i, city[i % 6 + 1],
			10 + 8 * sin(i / 20), (i % 7 ? (i * 37) % 13 : ""),
			(i * 7) % 30, (i * 11) % 360
}' >"$dir/weather.csv"
$ctl import --block-size 1024 "$dir/weather.csv" "$store/weather" >/dev/null

build/arrayfs "$store" "$mnt"
trap 'fusermount3 -u "$mnt" 2>/dev/null || true' EXIT
for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.1; done

run() { printf '\n$ %s\n' "$*"; "$@"; }
runctl() { printf '\n$ arrayctl %s\n' "$*"; $ctl "$@"; }
cd "$mnt"
run ls -l
printf '\n== Document arrays: a file per document\n'
run ls -l notes blobs
run cat notes/hello notes/shopping
run sha256sum blobs/random-4k
run file blobs/record.json
cp notes/hello notes/hello-copy && echo "more" >> notes/hello-copy
run cat notes/hello-copy
run du -sh notes blobs
cd - >/dev/null
runctl ls "$store/notes"

printf '\n== A segment group: a folder per column, a text file per block\n'
cd "$mnt"
run head -n 3 "$dir/weather.csv"
run ls weather
run ls -l weather/temp_c
run head -n 3 weather/temp_c/0000.000000 weather/rain_mm/0000.000001
run getfattr -d weather/temp_c weather/temp_c/0000.000001
cd - >/dev/null
runctl info "$store/weather"
echo
echo "The store is in $store; mount it yourself with:"
echo "  build/arrayfs $store $mnt    (unmount: fusermount3 -u $mnt)"
