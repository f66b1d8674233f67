#!/usr/bin/env bash
# bench-diskuse.sh [SCRATCH_DIR] - a benchmark, not a test: disk use and
# append cost of document arrays written through the mount.
#
#  1. appends: N appends of 1 KiB to one document (open O_APPEND, write,
#     close: each close commits), after a first document so that the log is
#     not alone. Prints the time per append over the run (per tenth) and
#     body.bin's size against the document's at the end.
#  2. fsx-like: OPS random operations on one document of at most 256 KiB
#     (write of 1 B..64 KiB at a random offset, past the end too; truncate
#     down or up; each one open, change, close). Prints the largest
#     body.bin seen against 4 x the largest live size plus the automatic
#     compaction threshold, and body.bin's blocks on disk at the end.
#
# Environment: ARFS_BIN (build dir with arrayfs, arrayctl; default build/),
# ARFS_DISKUSE_APPENDS (default 10000), ARFS_DISKUSE_OPS (default 20000),
# ARFS_DISKUSE_SEED (default 1), ARFS_DISKUSE_OPTS (extra -o options, e.g.
# autocompact_min=8M). Needs /dev/fuse. Prints lines for docs/BENCHMARKS.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
BIN=${ARFS_BIN:-$REPO/build}
# A fresh directory under SCRATCH_DIR (default /tmp), removed at the end.
mkdir -p "${1:-/tmp}"
ROOT=$(mktemp -d "${1:-/tmp}/arfs-diskuse-XXXXXX")
APPENDS=${ARFS_DISKUSE_APPENDS:-10000}
OPS=${ARFS_DISKUSE_OPS:-20000}
SEED=${ARFS_DISKUSE_SEED:-1}
OPTS=${ARFS_DISKUSE_OPTS:-}

[ -c /dev/fuse ] || { echo "bench-diskuse: /dev/fuse is missing" >&2; exit 1; }
[ -x "$BIN/arrayfs" ] || { echo "bench-diskuse: no $BIN/arrayfs (build first)" >&2; exit 1; }
STORE=$ROOT/store MNT=$ROOT/mnt
mkdir -p "$STORE" "$MNT"
PID=
cleanup() {
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null || true
	[ -n "$PID" ] && kill "$PID" 2>/dev/null || true
	[ -n "$PID" ] && wait "$PID" 2>/dev/null || true
	rm -rf "$ROOT"
}
trap cleanup EXIT

args=(-f)
[ -n "$OPTS" ] && args+=(-o "$OPTS")
timeout 3600 "$BIN/arrayfs" "${args[@]}" "$STORE" "$MNT" 2>"$ROOT/daemon.log" &
PID=$!
for _ in $(seq 200); do mountpoint -q "$MNT" && break; sleep 0.05; done
mountpoint -q "$MNT" || { echo "bench-diskuse: mount failed" >&2; cat "$ROOT/daemon.log" >&2; exit 1; }
mkdir "$MNT/appends" "$MNT/fsx"

python3 - "$MNT" "$STORE" "$APPENDS" "$OPS" "$SEED" <<'EOF'
import os, random, sys, time

mnt, store, appends, ops, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
MAXLEN = 256 * 1024
THRESHOLD = 64 << 20

# 1. appends of 1 KiB, a close after each
d = os.path.join(mnt, "appends")
with open(os.path.join(d, "first"), "wb") as f:
    f.write(b"x" * 100)
log = os.path.join(d, "log")
chunk = b"0123456789abcdef" * 64
tenth = max(appends // 10, 1)
times, t0 = [], time.monotonic()
start = t0
for i in range(appends):
    with open(log, "ab") as f:
        f.write(chunk)
    if (i + 1) % tenth == 0:
        t = time.monotonic()
        times.append((t - t0) / tenth * 1000)
        t0 = t
total = time.monotonic() - start
body = os.stat(os.path.join(store, "appends", "body.bin"))
size = os.stat(log).st_size
print("appends: %d x 1 KiB, close after each: %.1f s, %.3f ms per append" %
      (appends, total, total / appends * 1000))
print("appends: ms per append by tenth of the run: " +
      " ".join("%.3f" % t for t in times))
print("appends: document %d bytes, body.bin %d bytes (%.2fx)" %
      (size, body.st_size, body.st_size / size))

# 2. fsx-like workload on one document of at most 256 KiB
rng = random.Random(seed)
p = os.path.join(mnt, "fsx", "doc")
bodyp = os.path.join(store, "fsx", "body.bin")
open(p, "wb").close()
cur, largest, maxbody, t0 = 0, 0, 0, time.monotonic()
counts = {"write": 0, "truncate": 0}
for i in range(ops):
    fd = os.open(p, os.O_RDWR)
    if rng.random() < 0.75:
        off = rng.randrange(MAXLEN)
        n = min(rng.randrange(1, 65536), MAXLEN - off)
        os.pwrite(fd, bytes([rng.randrange(1, 256)]) * n, off)
        cur = max(cur, off + n)
        counts["write"] += 1
    else:
        cur = rng.randrange(MAXLEN + 1)
        os.ftruncate(fd, cur)
        counts["truncate"] += 1
    os.close(fd)
    largest = max(largest, cur)
    maxbody = max(maxbody, os.stat(bodyp).st_size)
el = time.monotonic() - t0
st = os.stat(bodyp)
bound = 4 * largest + THRESHOLD
print("fsx: %d operations (%d writes, %d truncates; open, change, close each) "
      "in %.1f s" % (ops, counts["write"], counts["truncate"], el))
print("fsx: largest live size %d; largest body.bin seen %d bytes; bound "
      "4 x largest + 64 MiB = %d: %s" % (largest, maxbody, bound,
                                          "within" if maxbody <= bound else "OVER"))
print("fsx: at the end body.bin %d bytes, %d on disk, document %d bytes" %
      (st.st_size, st.st_blocks * 512, os.stat(p).st_size))
EOF
grep -c "compacting" "$ROOT/daemon.log" | sed 's/^/automatic compactions: /' || true
