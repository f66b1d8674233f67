#!/usr/bin/env bash
# bench-docarray.sh - build tests/bench/bench_docarray.c (Release, in
# build-bench/) and run it on generated arrays of 10^4, 10^5 and 10^6
# documents: open time, RSS growth across the open (beyond the mapped
# header.bin), puts/s of 1 KiB documents and lookups+reads/s.
# Not a test. Targets: open of 10^6 < 1 s and < 64 MiB beyond the header.
#
# Usage: scripts/bench-docarray.sh [N...]     (default: 10000 100000 1000000)
# Env:   BUILD_DIR (default build-bench), TMPDIR for the generated arrays
#        (about 220 MB for 10^6).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DARFS_SANITIZE=OFF >/dev/null
cmake --build "$build" --target bench_docarray -j "$(nproc)" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/arfs-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "bench_docarray: warm page cache, ids of 36 characters, 48-byte bodies"
"$build/tests/bench_docarray" "$work" "$@"
