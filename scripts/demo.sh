#!/usr/bin/env bash
# The main job: install what is missing, build, make a small demo store of
# its own, mount it with arrayfs, show it with ordinary tools, unmount.
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

# A store with two document arrays, written through arrayctl.
$ctl create "$store/notes"
printf 'Buy milk\n' | $ctl put "$store/notes" shopping
printf 'arrayfs shows each document as a file.\n' | $ctl put "$store/notes" readme
printf 'hello, world\n' | $ctl put "$store/notes" hello
$ctl create "$store/blobs"
head -c 4096 /dev/urandom | $ctl put "$store/blobs" random-4k
printf '%s\n' '{"id": 7, "tags": ["x", "y"]}' | $ctl put "$store/blobs" record.json

build/arrayfs "$store" "$mnt"
trap 'fusermount3 -u "$mnt" 2>/dev/null || true' EXIT
for _ in $(seq 50); do mountpoint -q "$mnt" && break; sleep 0.1; done

run() { printf '\n$ %s\n' "$*"; "$@"; }
cd "$mnt"
run ls -l
run ls -l notes blobs
run cat notes/hello notes/shopping
run sha256sum blobs/random-4k
run file blobs/record.json
cp notes/hello notes/hello-copy && echo "more" >> notes/hello-copy
run cat notes/hello-copy
run du -sh notes blobs
cd - >/dev/null
printf '\n$ arrayctl ls %s\n' "$store/notes"
$ctl ls "$store/notes"
echo
echo "The store is in $store; mount it yourself with:"
echo "  build/arrayfs $store $mnt    (unmount: fusermount3 -u $mnt)"
