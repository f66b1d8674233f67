#!/usr/bin/env bash
# Benchmark: the views folder (MNT/.views) against the same files on the
# native file system, on scripts/bench/gen_group_csv.py's data (int64,
# small int, full-precision doubles with 5% missing, unicode strings, a
# category, vectors).
#
#   scripts/bench-views.sh [--rows N] [--no-docs]     (default 10^6 rows)
#
# For a read-write and a read-only mount, each fresh (with its own empty
# cache directory):
#   - time to the first byte of `tail -c 100 .views/g.csv` (its stat lays
#     the CSV out: every chunk rendered once, the chunk sizes then kept in
#     a view size file of the cache directory);
#   - pandas.read_csv of .views/g.csv, the first time (right after that
#     tail) and warm, against the same CSV on the native file system warm;
#   - numpy.load of .views/g/score.npy (a float column), first and warm,
#     against numpy.load of a copy on the native file system, warm.
# Then a second fresh read-only mount over the same cache directory: the
# first byte of that tail again (sizes from the view size file: only the
# last chunk is rendered), and the decode count of its stat and tail.
# Times are the best of 3 for warm runs. Unless --no-docs, the table goes
# to docs/BENCHMARKS.md. Builds a Release arrayfs/arrayctl in build-bench/
# unless ARFS_BIN is set. Needs /dev/fuse, Debian's python3-numpy and
# python3-pandas (run with /usr/bin/python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=1000000
docs=1
while [ $# -gt 0 ]; do
	case $1 in
	--rows) rows=$2; shift 2 ;;
	--no-docs) docs=0; shift ;;
	*) echo "usage: $0 [--rows N] [--no-docs]" >&2; exit 2 ;;
	esac
done
. "$root/scripts/deps.sh"
arfs_install_deps
py=/usr/bin/python3
if [ -z "${ARFS_BIN:-}" ]; then
	cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$root/build-bench" -j"$(nproc)" --target arrayfs arrayctl >/dev/null
	ARFS_BIN=$root/build-bench
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/arfs-bviews-XXXXXX")
mnt=$tmp/mnt
pid=
cleanup() {
	[ -n "$pid" ] && { fusermount3 -u "$mnt" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$mnt" "$tmp/cache" "$tmp/store"

. "$root/scripts/bench/mount.sh"
# MODE: the cache folder's suffix, and options after a comma ("ro,ro")
mount_store() { bench_mount "$tmp/store" "cache_dir=$tmp/cache-$1"; }
unmount_store() { bench_unmount; }

# "first warm" seconds of a Python statement on path $2 (warm: best of 3)
pytime() {
	$py - "$1" "$2" <<'EOF'
import sys, time
import numpy as np, pandas as pd
what, path = sys.argv[1], sys.argv[2]
def once():
    t = time.perf_counter()
    if what == "csv":
        pd.read_csv(path)
    else:
        np.load(path)
    return time.perf_counter() - t
first = once()
print("%.4f %.4f" % (first, min(once() for _ in range(3))))
EOF
}

echo "bench-views: $rows rows, scratch $tmp"
$py "$root/scripts/bench/gen_group_csv.py" "$rows" 1 >"$tmp/in.csv"
"$ARFS_BIN/arrayctl" import --no-fsync "$tmp/in.csv" "$tmp/store/g" >/dev/null
"$ARFS_BIN/arrayctl" export "$tmp/store/g" "$tmp/native.csv"

declare -A r
for mode in rw ro; do
	opt=rw; [ $mode = ro ] && opt="ro,ro"
	mount_store "$opt"
	t0=$(now)
	tail -c 100 "$mnt/.views/g.csv" | head -c 1 >/dev/null
	r[$mode.tail]=$(secs "$t0" "$(now)")
	cmp -s "$mnt/.views/g.csv" "$tmp/native.csv" ||
		{ echo "the CSV view differs from the export" >&2; exit 1; }
	read -r r[$mode.csv1] r[$mode.csvw] < <(pytime csv "$mnt/.views/g.csv")
	read -r r[$mode.npy1] r[$mode.npyw] < <(pytime npy "$mnt/.views/g/score.npy")
	[ -f "$tmp/native.npy" ] || cp "$mnt/.views/g/score.npy" "$tmp/native.npy"
	unmount_store
	r[$mode.hwm]=$hwm
done
mount_store "ro,ro"
decodes() { getfattr --absolute-names --only-values -n user.arrayfs.stats "$mnt" |
	tr ' ' '\n' | sed -n 's/^decodes=//p'; }
d0=$(decodes)
t0=$(now)
tail -c 100 "$mnt/.views/g.csv" | head -c 1 >/dev/null
r[kept.tail]=$(secs "$t0" "$(now)")
d1=$(decodes)
[ "$(tail -c 100 "$mnt/.views/g.csv")" = "$(tail -c 100 "$tmp/native.csv")" ] ||
	{ echo "the CSV view's tail differs from the export" >&2; exit 1; }
unmount_store
read -r _ r[native.csv] < <(pytime csv "$tmp/native.csv")
read -r _ r[native.npy] < <(pytime npy "$tmp/native.npy")
csv_mb=$(echo "$(stat -c %s "$tmp/native.csv") / 1000000" | bc -l)
npy_mb=$(echo "$(stat -c %s "$tmp/native.npy") / 1000000" | bc -l)

row() { # what seconds native
	awk -v w="$1" -v s="$2" -v n="$3" 'BEGIN {
		if (n > 0) printf "| %s | %.3f | %.2fx |\n", w, s, s / n
		else printf "| %s | %.3f | - |\n", w, s }'
}
table=$(
	echo "| what | seconds | vs native |"
	echo "|---|---:|---:|"
	row "pandas.read_csv, native file system (warm)" "${r[native.csv]}" "${r[native.csv]}"
	row "numpy.load score.npy, native file system (warm)" "${r[native.npy]}" "${r[native.npy]}"
	for mode in rw ro; do
		m=""; [ $mode = ro ] && m="-o ro: "
		row "${m}first byte of tail -c 100 .views/g.csv, fresh mount" "${r[$mode.tail]}" 0
		row "${m}pandas.read_csv .views/g.csv, first" "${r[$mode.csv1]}" "${r[native.csv]}"
		row "${m}pandas.read_csv .views/g.csv, warm" "${r[$mode.csvw]}" "${r[native.csv]}"
		row "${m}numpy.load .views/g/score.npy, first" "${r[$mode.npy1]}" "${r[native.npy]}"
		row "${m}numpy.load .views/g/score.npy, warm" "${r[$mode.npyw]}" "${r[native.npy]}"
	done
	row "-o ro, second fresh mount (chunk sizes kept): first byte of tail -c 100 .views/g.csv" "${r[kept.tail]}" 0
)
machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
report=$(cat <<EOF
Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $rows rows, CSV view $(printf '%.1f' "$csv_mb") MB, score.npy $(printf '%.1f' "$npy_mb") MB ($machine); arrayfs commit $(git -C "$root" rev-parse --short HEAD), Release build, default options (pool 256M). Warm: best of 3 in the same process after the first.

$table

Daemon peak RSS (VmHWM): read-write mount $((${r[rw.hwm]} / 1024)) MiB, read-only $((${r[ro.hwm]} / 1024)) MiB.
The CSV view is byte-identical to \`arrayctl export\`. The second fresh mount's stat and tail of the CSV view decoded $((d1 - d0)) blocks in all (a first mount's layout decodes every block).
EOF
)
echo "$report"
[ "$docs" = 1 ] || exit 0
gen="<!-- bench-views:begin (generated by scripts/bench-views.sh) -->
$report
<!-- bench-views:end -->"
md=$root/docs/BENCHMARKS.md
if grep -q 'bench-views:begin' "$md"; then
	GEN=$gen awk '
		/bench-views:begin/ { print ENVIRON["GEN"]; skip = 1; next }
		/bench-views:end/ { skip = 0; next }
		!skip { print }' "$md" >"$md.tmp" && mv "$md.tmp" "$md"
else
	printf '\n## Views for other tools (`scripts/bench-views.sh`)\n\n%s\n' "$gen" >>"$md"
fi
echo "report: $md"
