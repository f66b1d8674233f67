#!/usr/bin/env bash
# Benchmark: reading a segment group through the mount and by export, on
# realistic data (scripts/bench/gen_group_csv.py: int64, small int,
# full-precision random doubles, unicode strings with quotes and commas,
# a 3-colour category, float vectors of 0-5 elements, ~5% missing).
#
#   scripts/bench-group.sh [--rows N] [--no-docs]     (default 10^6 rows)
#
# One run reports: import; export; ls -lR on a first and on a second
# fresh mount (the second one after the first has unmounted); cat of every
# block file right after a mount and again; the same on a read-only mount; lz4 -dc and zstd -dc of the
# same text (the concatenated block files) as the yardstick; MB/s of text,
# ratios to lz4 -dc, and the daemon's peak RSS. Unless --no-docs, the
# table and a plot go to docs/BENCHMARKS.md and docs/bench-group.png.
# Builds a Release arrayfs/arrayctl in build-bench/ unless ARFS_BIN is set.
# Needs /dev/fuse, lz4, zstd, gnuplot (scripts/deps.sh installs them).
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
arfs_packages+=(gnuplot-nox)
arfs_install_deps
if [ -z "${ARFS_BIN:-}" ]; then
	cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$root/build-bench" -j"$(nproc)" --target arrayfs arrayctl >/dev/null
	ARFS_BIN=$root/build-bench
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/arfs-bgroup-XXXXXX")
mnt=$tmp/mnt
pid=
cleanup() {
	[ -n "$pid" ] && { fusermount3 -u "$mnt" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$mnt" "$tmp/cache"

. "$root/scripts/bench/mount.sh"
# SUFFIX: ",ro" for a read-only mount
mount_group() { bench_mount "$tmp/g" "cache_dir=$tmp/cache$1"; }
unmount_group() { bench_unmount; }

echo "bench-group: $rows rows, scratch $tmp"
python3 "$root/scripts/bench/gen_group_csv.py" "$rows" 1 >"$tmp/in.csv"
csv_bytes=$(stat -c %s "$tmp/in.csv")

t0=$(now)
"$ARFS_BIN/arrayctl" import --no-fsync "$tmp/in.csv" "$tmp/g" >/dev/null
t_import=$(secs "$t0" "$(now)")
t0=$(now)
"$ARFS_BIN/arrayctl" export "$tmp/g" "$tmp/out.csv"
t_export=$(secs "$t0" "$(now)")
cmp -s "$tmp/out.csv" "$tmp/in.csv" || { echo "export differs from the input" >&2; exit 1; }
rm -f "$tmp/out.csv"

mount_group ""
t0=$(now); ls -lR "$mnt" >/dev/null; t_ls1=$(secs "$t0" "$(now)")
t0=$(now); cat "$mnt"/*/* >"$tmp/text"; t_cat1=$(secs "$t0" "$(now)")
t0=$(now); cat "$mnt"/*/* >/dev/null; t_cat2=$(secs "$t0" "$(now)")
unmount_group
hwm1=$hwm
mount_group ""
t0=$(now); ls -lR "$mnt" >/dev/null; t_ls2=$(secs "$t0" "$(now)")
unmount_group
# The same on a read-only mount, where the kernel keeps block pages
mount_group ",ro"
t0=$(now); ls -lR "$mnt" >/dev/null; t_ls_ro=$(secs "$t0" "$(now)")
t0=$(now); cat "$mnt"/*/* >/dev/null; t_cat1_ro=$(secs "$t0" "$(now)")
t0=$(now); cat "$mnt"/*/* >/dev/null; t_cat2_ro=$(secs "$t0" "$(now)")
unmount_group
text_bytes=$(stat -c %s "$tmp/text")
listed=$(cd "$tmp" && du -b text | cut -f1)

lz4 -q -1 -f "$tmp/text" "$tmp/text.lz4"
zstd -q -3 -f "$tmp/text" -o "$tmp/text.zst"
cat "$tmp/text.lz4" "$tmp/text.zst" >/dev/null	# page cache
t0=$(now); lz4 -dc "$tmp/text.lz4" >/dev/null; t_lz4=$(secs "$t0" "$(now)")
t0=$(now); zstd -dc "$tmp/text.zst" >/dev/null; t_zstd=$(secs "$t0" "$(now)")

table=$(awk -v tb="$text_bytes" -v lz="$t_lz4" \
	-v imp="$t_import" -v ex="$t_export" -v ls1="$t_ls1" -v ls2="$t_ls2" \
	-v c1="$t_cat1" -v c2="$t_cat2" -v zs="$t_zstd" -v csvb="$csv_bytes" \
	-v lsro="$t_ls_ro" -v c1ro="$t_cat1_ro" -v c2ro="$t_cat2_ro" 'BEGIN {
	lzr = tb / 1e6 / lz
	print "| what | seconds | text MB/s | vs lz4 -dc |"
	print "|---|---:|---:|---:|"
	printf "| arrayctl import (%.0f MB of CSV) | %.3f | - | - |\n", csvb / 1e6, imp
	printf "| arrayctl export | %.3f | %.0f | %.2fx |\n", ex, csvb / 1e6 / ex, csvb / 1e6 / ex / lzr
	printf "| ls -lR, first mount | %.3f | - | - |\n", ls1
	printf "| ls -lR, second fresh mount | %.3f | - | - |\n", ls2
	printf "| cat MNT/g/*/* right after mount | %.3f | %.0f | %.2fx |\n", c1, tb / 1e6 / c1, tb / 1e6 / c1 / lzr
	printf "| same, second time | %.3f | %.0f | %.2fx |\n", c2, tb / 1e6 / c2, tb / 1e6 / c2 / lzr
	printf "| -o ro: ls -lR on a fresh mount | %.3f | - | - |\n", lsro
	printf "| -o ro: cat MNT/g/*/* right after mount | %.3f | %.0f | %.2fx |\n", c1ro, tb / 1e6 / c1ro, tb / 1e6 / c1ro / lzr
	printf "| -o ro: same, second time | %.3f | %.0f | %.2fx |\n", c2ro, tb / 1e6 / c2ro, tb / 1e6 / c2ro / lzr
	printf "| lz4 -dc of the same text | %.3f | %.0f | 1.00x |\n", lz, lzr
	printf "| zstd -dc of the same text | %.3f | %.0f | %.2fx |\n", zs, tb / 1e6 / zs, tb / 1e6 / zs / lzr
}')
machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
report=$(cat <<EOF
Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $rows rows, $(printf '%.1f' "$(echo "$text_bytes / 1000000" | bc -l)") MB of block text ($machine); arrayfs commit $(git -C "$root" rev-parse --short HEAD), Release build, default options.

$table

Daemon peak RSS (VmHWM) over the first mount's ls -lR and two cats: $((hwm1 / 1024)) MiB (pool 256M).
The export's CSV is byte-identical to the generated input; du of the cat output: $listed bytes.
EOF
)
echo "$report"
[ "$docs" = 1 ] || exit 0

png=$root/docs/bench-group.png
awk -v tb="$text_bytes" -v ex="$t_export" -v csvb="$csv_bytes" \
	-v c1="$t_cat1" -v c2="$t_cat2" -v lz="$t_lz4" -v zs="$t_zstd" \
	-v c1ro="$t_cat1_ro" -v c2ro="$t_cat2_ro" 'BEGIN {
	printf "\"export\" %f\n", csvb / 1e6 / ex
	printf "\"cat, first\" %f\n", tb / 1e6 / c1
	printf "\"cat, second\" %f\n", tb / 1e6 / c2
	printf "\"ro: cat, first\" %f\n", tb / 1e6 / c1ro
	printf "\"ro: cat, second\" %f\n", tb / 1e6 / c2ro
	printf "\"lz4 -dc\" %f\n", tb / 1e6 / lz
	printf "\"zstd -dc\" %f\n", tb / 1e6 / zs
}' >"$tmp/plot.dat"
gnuplot <<EOF
set terminal pngcairo size 900,480 font "sans,10" noenhanced
set output "$png"
set title "Segment group text throughput, $rows rows (MB/s, higher is better)"
set style data histogram
set style fill solid 0.85 border -1
set boxwidth 0.8
set ylabel "MB/s of text"
set grid ytics
set yrange [0:*]
plot "$tmp/plot.dat" using 2:xtic(1) notitle lc rgb "#1b9e77"
EOF
gen="<!-- bench-group:begin (generated by scripts/bench-group.sh) -->
$report

![segment group throughput](bench-group.png)
<!-- bench-group:end -->"
md=$root/docs/BENCHMARKS.md
if grep -q 'bench-group:begin' "$md"; then
	GEN=$gen awk '
		/bench-group:begin/ { print ENVIRON["GEN"]; skip = 1; next }
		/bench-group:end/ { skip = 0; next }
		!skip { print }' "$md" >"$md.tmp" && mv "$md.tmp" "$md"
else
	printf '\n## Reading a segment group (`scripts/bench-group.sh`)\n\n%s\n' "$gen" >>"$md"
fi
echo "report: $md, plot: $png"
