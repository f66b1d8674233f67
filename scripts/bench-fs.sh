#!/usr/bin/env bash
# bench-fs.sh [SCRATCH_DIR] - a benchmark, not a test (issues 3 and 4).
#
# In one run, on the same data, times arrayfs against the same files on the
# native filesystem, through bindfs, through squashfuse_ll over a squashfs
# image (zstd) and through libfuse's passthrough_ll example:
#   sequential read of a 1 GiB document (cold and warm), tar of 20,000
#   documents of 4 KiB, ls -l of 100,000 documents (first and second run),
#   cp of 20,000 files of 4 KiB into the mount, rsync -a out (first and a
#   no-change re-run), and plain ls and ls -l of 10^6 documents (first on a
#   fresh mount, then again) against a native folder of as many empty files
#   with the same names (arrayfs and native only);
# and the segment-group decode line: cat GROUP/*/* through arrayfs against
# raw LZ4 decoding of the same blocks (scripts/bench/lz4_blocks.c).
# Prints a table of seconds and ratios to native, writes it as a data file,
# plots the ratios (gnuplot, PNG) and updates docs/BENCHMARKS.md between
# its generated-section markers (the notes around them are kept).
#
# Needs root (apt-get, /proc/sys/vm/drop_caches, FUSE). Environment:
#   ARFS_BENCH_SMALL=1   quick run on smaller data (64 MiB, 2,000 / 10,000
#                        documents, one repetition); results go to the
#                        scratch dir, docs/ is left alone
#   ARFS_BENCH_REPS=N    repetitions of the warm rows (median; default 3)
#   ARFS_BENCH_DOCS=DIR  where the .md/.png go (default: docs/ for a full
#                        run, the scratch dir for a small one)
#   ARFS_BENCH_NAMES=N   documents of the listing rows (default 10^6; 20,000
#                        for a small run); generated once per N
#   ARFS_BENCH_BASE=REV  also time arrayfs built from git revision REV (a
#                        column "arrayfs_base", on its own copy of the store):
#                        before/after ratios from one run
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
SMALL=${ARFS_BENCH_SMALL:-0}
ROOT=${1:-/tmp/arfs-bench}
BUILD=${ARFS_BENCH_BUILD:-$REPO/build-bench}
TURI_FIXTURE=${ARFS_BENCH_TURI:-$REPO/tests/fixtures/turi/business.sf}
DAEMON_TIMEOUT=${ARFS_BENCH_DAEMON_TIMEOUT:-3600}

if [ "$SMALL" = 1 ]; then
	BIG=$((64 << 20)) NSMALL=2000 NMANY=10000 TURI_COPIES=4 REPS=${ARFS_BENCH_REPS:-1}
	NNAMES=${ARFS_BENCH_NAMES:-20000}
	DATA=$ROOT/small OUTDIR=${ARFS_BENCH_DOCS:-$ROOT/small}
else
	BIG=$((1 << 30)) NSMALL=20000 NMANY=100000 TURI_COPIES=20 REPS=${ARFS_BENCH_REPS:-3}
	NNAMES=${ARFS_BENCH_NAMES:-1000000}
	DATA=$ROOT/full OUTDIR=${ARFS_BENCH_DOCS:-$REPO/docs}
fi
MNT=$DATA/mnt
LOG=$DATA/log
TOOLS=$DATA/tools
BASE=${ARFS_BENCH_BASE:-}
NAMES=$ROOT/names-$NNAMES
PEERS=(native arrayfs bindfs squashfuse_ll passthrough_ll)
FUSE_PEERS=(arrayfs bindfs squashfuse_ll passthrough_ll)
if [ -n "$BASE" ]; then
	PEERS+=(arrayfs_base)
	FUSE_PEERS+=(arrayfs_base)
fi

say() { printf '%s\n' "bench-fs: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- dependencies and build ----

[ "$(id -u)" -eq 0 ] || die "run as root (drop_caches, apt-get, FUSE mounts)"
[ -c /dev/fuse ] || die "/dev/fuse is missing: cannot mount anything"
. "$REPO/scripts/deps.sh"
arfs_packages+=(bindfs squashfuse squashfs-tools gnuplot-nox)
arfs_install_deps
command -v hyperfine >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 || true

mkdir -p "$DATA" "$MNT" "$LOG" "$TOOLS"
cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$LOG/cmake.log"
make -C "$BUILD" -j"$(nproc)" arrayfs arrayctl >"$LOG/make.log" 2>&1 ||
	{ tail -20 "$LOG/make.log"; die "build failed"; }
if [ -n "$BASE" ]; then
	BASE_REV=$(git -C "$REPO" rev-parse --short "$BASE")
	rm -rf "$DATA/base-src"
	mkdir -p "$DATA/base-src"
	git -C "$REPO" archive "$BASE_REV" | tar -x -C "$DATA/base-src"
	cmake -S "$DATA/base-src" -B "$DATA/base-build" -DCMAKE_BUILD_TYPE=Release >>"$LOG/cmake.log"
	make -C "$DATA/base-build" -j"$(nproc)" arrayfs >"$LOG/make-base.log" 2>&1 ||
		{ tail -20 "$LOG/make-base.log"; die "build of $BASE failed"; }
fi
cc -O2 -o "$TOOLS/lz4_blocks" "$HERE/bench/lz4_blocks.c" -llz4
PT_SRC=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
HAVE_PT=0
if [ -f "$PT_SRC" ]; then
	cc -O2 -I"$(dirname "$PT_SRC")" -o "$TOOLS/passthrough_ll" "$PT_SRC" \
		$(pkg-config --cflags --libs fuse3) && HAVE_PT=1
else
	say "$PT_SRC is absent: the passthrough_ll column is skipped"
fi

# ---- mounts (all unmounted on exit) ----

MOUNTS=()
PIDS=()
declare -A AVAIL
cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		fusermount3 -u -z "$m" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT

# mount_fs NAME MOUNTPOINT COMMAND...: daemon in the foreground, in the
# background under a timeout; wait for the mount.
mount_fs() {
	local name=$1 mnt=$2 pid i
	shift 2
	mkdir -p "$mnt"
	timeout -s KILL "$DAEMON_TIMEOUT" "$@" >>"$LOG/$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	MOUNTS+=("$mnt")
	for i in $(seq 1 400); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	say "mounting $name on $mnt failed:"
	cat "$LOG/$name.log" >&2
	return 1
}

for m in "$MNT"/*; do
	[ -d "$m" ] && { fusermount3 -u -z "$m" 2>/dev/null || true; }
done

# ---- data ----

stamp="v1 $BIG $NSMALL $NMANY"
if [ "$(cat "$DATA/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$DATA/native.sqfs" ]; then
	say "generating data in $DATA (once; reused by later runs)"
	rm -rf "$DATA/native" "$DATA/store" "$DATA/native.sqfs" "$DATA/.stamp"
	python3 "$HERE/bench/gen_docarrays.py" "$DATA" "$BIG" "$NSMALL" "$NMANY"
	mksquashfs "$DATA/native" "$DATA/native.sqfs" -comp zstd -noappend \
		-no-progress >"$LOG/mksquashfs.log"
	echo "$stamp" >"$DATA/.stamp"
fi
if [ "$(cat "$NAMES/.stamp" 2>/dev/null)" != "v1 $NNAMES" ]; then
	say "generating $NNAMES names in $NAMES (once; reused by later runs)"
	rm -rf "$NAMES"
	python3 "$HERE/bench/gen_names.py" "$NAMES" "$NNAMES"
	echo "v1 $NNAMES" >"$NAMES/.stamp"
fi
# leftovers of an interrupted run
rm -rf "$DATA"/native/cp-* "$DATA"/store/cp-* "$DATA/rsync-out" "$DATA/turi" \
	"$DATA/store-base"
if [ -n "$BASE" ]; then
	# its own copy (a read-write mount locks its store); the big body is
	# only read, so linked
	mkdir -p "$DATA/store-base"
	for a in "$DATA"/store/*; do
		if [ "$(basename "$a")" = big ]; then
			cp -al "$a" "$DATA/store-base/"
		else
			cp -a "$a" "$DATA/store-base/"
		fi
	done
fi
BIGID=$(ls "$DATA/native/big")

declare -A DIR
DIR[native]=$DATA/native
DIR[arrayfs]=$MNT/arrayfs
DIR[bindfs]=$MNT/bindfs
DIR[squashfuse_ll]=$MNT/squashfuse_ll
DIR[passthrough_ll]=$MNT/passthrough_ll
DIR[arrayfs_base]=$MNT/arrayfs_base

AVAIL[native]=1
AVAIL[arrayfs]=0 AVAIL[bindfs]=0 AVAIL[squashfuse_ll]=0 AVAIL[passthrough_ll]=0
mount_fs arrayfs "${DIR[arrayfs]}" "$BUILD/arrayfs" -f -o auto_unmount \
	"$DATA/store" "${DIR[arrayfs]}" && AVAIL[arrayfs]=1
mount_fs bindfs "${DIR[bindfs]}" bindfs -f "$DATA/native" "${DIR[bindfs]}" &&
	AVAIL[bindfs]=1
mount_fs squashfuse_ll "${DIR[squashfuse_ll]}" squashfuse_ll -f \
	"$DATA/native.sqfs" "${DIR[squashfuse_ll]}" && AVAIL[squashfuse_ll]=1
[ "$HAVE_PT" = 1 ] && mount_fs passthrough_ll "${DIR[passthrough_ll]}" \
	"$TOOLS/passthrough_ll" -f -o source="$DATA/native" \
	"${DIR[passthrough_ll]}" && AVAIL[passthrough_ll]=1
[ -n "$BASE" ] && mount_fs arrayfs_base "${DIR[arrayfs_base]}" \
	"$DATA/base-build/arrayfs" -f -o auto_unmount "$DATA/store-base" \
	"${DIR[arrayfs_base]}" && AVAIL[arrayfs_base]=1
[ "${AVAIL[arrayfs]}" = 1 ] || die "arrayfs did not mount"

# ---- timing ----

declare -A R  # R[row,peer] = seconds, n/a or fail
: >"$LOG/errors.log"
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# timeit COMMAND...: T = wall seconds, or "fail" when the command fails
# (its stderr goes to $LOG/errors.log and the first line into FAILS)
FAILS=""
CUR=""
timeit() {
	local s e rc=0 mark
	mark=$(wc -l <"$LOG/errors.log")
	s=$(date +%s%N)
	"$@" 2>>"$LOG/errors.log" || rc=$?
	e=$(date +%s%N)
	T=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
	if [ "$rc" -ne 0 ]; then
		FAILS+="- $CUR: \`$*\` exited $rc after $T s: $(sed -n "$((mark + 1))p" "$LOG/errors.log" | cut -c1-160)"$'\n'
		T=fail
	fi
}
median() {
	case " $* " in *" fail "*) echo fail; return ;; esac
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
# warm ROW PEER COMMAND...: median of REPS runs into R[ROW,PEER]
warm() {
	local row=$1 peer=$2 k v=()
	shift 2
	for ((k = 0; k < REPS; k++)); do
		CUR="$row, $peer" timeit "$@"
		v+=("$T")
	done
	R[$row,$peer]=$(median "${v[@]}")
}
do_cat() { cat "$1" >/dev/null; }
do_tar() { tar -C "$1" -cf - small | cat >/dev/null; }
do_ls() { ls -l "$1" >/dev/null; }

ROWS=(seq_cold seq_warm tar_cold tar_warm ls_cold ls_warm cp_in rsync_first rsync_rerun
	names_ls_first names_ls_second names_lsl_first names_lsl_second)
declare -A LABEL
gib=$(awk -v b="$BIG" 'BEGIN { if (b >= 2^30) printf "%g GiB", b / 2^30; else printf "%g MiB", b / 2^20 }')
fmt() { printf "%'d" "$1" 2>/dev/null || echo "$1"; }
LABEL[seq_cold]="read one $gib document, cold"
LABEL[seq_warm]="read one $gib document, warm"
LABEL[tar_cold]="tar $(fmt "$NSMALL") x 4 KiB, cold"
LABEL[tar_warm]="tar $(fmt "$NSMALL") x 4 KiB, warm"
LABEL[ls_cold]="ls -l $(fmt "$NMANY"), first (cold)"
LABEL[ls_warm]="ls -l $(fmt "$NMANY"), second"
LABEL[cp_in]="cp $(fmt "$NSMALL") x 4 KiB into the mount"
LABEL[rsync_first]="rsync -a out $(fmt "$NSMALL"), first"
LABEL[rsync_rerun]="rsync -a out, no-change re-run"
LABEL[names_ls_first]="ls $(fmt "$NNAMES") names, fresh mount"
LABEL[names_ls_second]="ls $(fmt "$NNAMES") names, second"
LABEL[names_lsl_first]="ls -l $(fmt "$NNAMES") names, fresh mount"
LABEL[names_lsl_second]="ls -l $(fmt "$NNAMES") names, second"

for p in "${PEERS[@]}"; do
	if [ "${AVAIL[$p]}" != 1 ]; then
		for r in "${ROWS[@]}"; do R[$r,$p]=n/a; done
	fi
done
live() { [ "${AVAIL[$1]}" = 1 ]; }

say "1. sequential read of $gib"
for p in "${PEERS[@]}"; do
	live "$p" || continue
	f=${DIR[$p]}/big/$BIGID
	drop_caches
	CUR="seq_cold, $p" timeit do_cat "$f"
	R[seq_cold,$p]=$T
	warm seq_warm "$p" do_cat "$f"
done

say "2. tar of $NSMALL documents of 4 KiB"
for p in "${PEERS[@]}"; do
	live "$p" || continue
	drop_caches
	CUR="tar_cold, $p" timeit do_tar "${DIR[$p]}"
	R[tar_cold,$p]=$T
	warm tar_warm "$p" do_tar "${DIR[$p]}"
done

say "3. ls -l of $NMANY documents"
for p in "${PEERS[@]}"; do
	live "$p" || continue
	n=$(ls -U "${DIR[$p]}/many" 2>/dev/null | wc -l || true)
	[ "$n" -eq "$NMANY" ] || say "warning: $p lists $n of $NMANY in many/"
	drop_caches
	CUR="ls_cold, $p" timeit do_ls "${DIR[$p]}/many"
	R[ls_cold,$p]=$T
	warm ls_warm "$p" do_ls "${DIR[$p]}/many"
done

say "4. cp of $NSMALL files of 4 KiB into the mount"
SRC=$DATA/native/small
tar -C "$DATA/native" -cf - small | cat >/dev/null # source warm for every column
R[cp_in,squashfuse_ll]=n/a # read-only
for p in native arrayfs bindfs passthrough_ll arrayfs_base; do
	live "$p" || continue
	v=()
	for ((k = 1; k <= REPS; k++)); do
		dst=${DIR[$p]}/cp-$p-$k
		sync
		CUR="cp_in, $p" timeit cp -r "$SRC" "$dst"
		v+=("$T")
		n=$(ls -U "$dst" 2>/dev/null | wc -l || true)
		[ "$n" -eq "$NSMALL" ] || say "warning: $p: cp left $n of $NSMALL files"
	done
	R[cp_in,$p]=$(median "${v[@]}")
done
first=$(ls "$SRC" | sed -n 1p)
cmp -s "$SRC/$first" "${DIR[arrayfs]}/cp-arrayfs-1/$first" ||
	say "warning: a file copied into arrayfs differs from its source"

say "5. rsync -a out of $NSMALL documents"
RSYNC_NOTE=""
for p in "${PEERS[@]}"; do
	live "$p" || continue
	dst=$DATA/rsync-out/$p
	rm -rf "$dst"
	mkdir -p "$dst"
	drop_caches
	CUR="rsync_first, $p" timeit rsync -a "${DIR[$p]}/small/" "$dst/"
	R[rsync_first,$p]=$T
	warm rsync_rerun "$p" rsync -a "${DIR[$p]}/small/" "$dst/"
	rsync -a --stats "${DIR[$p]}/small/" "$dst/" >"$LOG/rsync-stats-$p.txt" 2>&1 || true
	moved=$(awk -F': ' '/Number of regular files transferred/ { print $2 }' \
		"$LOG/rsync-stats-$p.txt")
	[ "${moved:-0}" = 0 ] || RSYNC_NOTE+="$p re-run transferred $moved files. "
done
rm -rf "$DATA/rsync-out"

say "5b. ls and ls -l of $NNAMES names (first on a fresh mount, then again)"
# Only arrayfs (and its base) against native: the peers' columns would take
# longer than the rest of the run.
for p in bindfs squashfuse_ll passthrough_ll; do
	for r in names_ls_first names_ls_second names_lsl_first names_lsl_second; do
		R[$r,$p]=n/a
	done
done
for p in native arrayfs arrayfs_base; do
	live "$p" || continue
	for pair in ls:names_ls ls_l:names_lsl; do
		cmd=${pair%%:*} row=${pair#*:}
		case $cmd in ls) lsargs=() ;; *) lsargs=(-l) ;; esac
		dir=$NAMES/native/names
		if [ "$p" != native ]; then
			bin=$BUILD/arrayfs
			[ "$p" = arrayfs_base ] && bin=$DATA/base-build/arrayfs
			mount_fs "names-$p" "$MNT/names" "$bin" -f -o auto_unmount \
				"$NAMES/store" "$MNT/names" || die "arrayfs did not mount $NAMES/store"
			dir=$MNT/names/names
		fi
		drop_caches
		CUR="${row}_first, $p" timeit ls "${lsargs[@]}" "$dir" >/dev/null
		R[${row}_first,$p]=$T
		CUR="${row}_second, $p" timeit ls "${lsargs[@]}" "$dir" >/dev/null
		R[${row}_second,$p]=$T
		if [ "$p" != native ]; then
			fusermount3 -u "$MNT/names"
			wait "${PIDS[-1]}" 2>/dev/null || true
		fi
	done
done

say "6. segment-group decode: cat GROUP/*/* vs raw LZ4 of the same blocks"
# One group per mount, mounted afresh for every round: the first read after
# a mount decodes every block (nothing in the daemon's pool or the page
# cache). A store of several groups is not used: at this commit arrayfs
# crashes at mount on a store with more than three groups (core/store.c
# add_group() reads st->groups after realloc() may have moved it).
mkdir -p "$DATA/turi"
cp -r "$TURI_FIXTURE" "$DATA/turi/business.sf"
cat "$DATA"/turi/*/* >/dev/null # the segment file warm: time decoding, not disk
seg=$(ls "$TURI_FIXTURE"/*.0000 | sed -n 1p)
do_cat_groups() { cat "$MNT"/turi/*/*/* >/dev/null; }
DEC_FIRST=0 DEC_SECOND=0
for ((k = 1; k <= TURI_COPIES; k++)); do
	mount_fs arrayfs-turi "$MNT/turi" "$BUILD/arrayfs" -f -o auto_unmount \
		"$DATA/turi" "$MNT/turi" || die "arrayfs did not mount the group"
	CUR="decode, arrayfs" timeit do_cat_groups
	DEC_FIRST=$(awk -v a="$DEC_FIRST" -v b="$T" 'BEGIN { printf "%.4f", a + b }')
	CUR="decode, arrayfs" timeit do_cat_groups
	DEC_SECOND=$(awk -v a="$DEC_SECOND" -v b="$T" 'BEGIN { printf "%.4f", a + b }')
	if [ "$k" = 1 ]; then
		TEXT_ONE=$(cat "$MNT"/turi/*/*/* | wc -c)
		NBLOCKFILES=$(ls -d "$MNT"/turi/*/*/* | wc -l)
	fi
	fusermount3 -u "$MNT/turi"
	wait "${PIDS[-1]}" 2>/dev/null || true
done
TEXT_BYTES=$((TEXT_ONE * TURI_COPIES))
LZ4_ROUNDS=$((TURI_COPIES * 20))
lz4line=$("$TOOLS/lz4_blocks" "$seg" "$LZ4_ROUNDS")
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$lz4line"; }
LZ4_MBPS=$(kv MBps)
LZ4_SECS=$(kv seconds)
LZ4_DEC=$(kv decoded_bytes)
LZ4_STORED=$(kv stored_bytes)
LZ4_NB=$(kv lz4_blocks)
RAW_NB=$(kv raw_blocks)
TEXT_MBPS=$(awk -v b="$TEXT_BYTES" -v t="$DEC_FIRST" 'BEGIN { printf "%.1f", b / t / 1e6 }')
LZ4_PER_GROUP=$(awk -v t="$LZ4_SECS" -v r="$LZ4_ROUNDS" 'BEGIN { printf "%.6f", t / r }')
ARFS_PER_GROUP=$(awk -v t="$DEC_FIRST" -v c="$TURI_COPIES" 'BEGIN { printf "%.6f", t / c }')

# ---- table, data file, plot, BENCHMARKS.md ----

ratio() { # ratio PEER_SECONDS NATIVE_SECONDS
	awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
DAT=$DATA/bench-fs.dat
{
	echo "# bench-fs.sh $(date -u +%FT%TZ): seconds per column, then ratio to native"
	echo "# row ${PEERS[*]} $(printf 'r_%s ' "${FUSE_PEERS[@]}")"
	for r in "${ROWS[@]}"; do
		printf '"%s"' "$r"
		for p in "${PEERS[@]}"; do v=${R[$r,$p]:-n/a}; case $v in n/a | fail) v=- ;; esac; printf ' %s' "$v"; done
		for p in "${FUSE_PEERS[@]}"; do v=$(ratio "${R[$r,$p]:-n/a}" "${R[$r,native]}"); printf ' %s' "${v/n\/a/-}"; done
		printf '\n'
	done
} >"$DAT"

verdict() { # the issue's targets, per row
	local r=$1 a=${R[$1,arrayfs]} p best="" out=""
	for p in bindfs squashfuse_ll passthrough_ll; do
		[ "$r" = "${r#names_}" ] || break
		v=${R[$r,$p]:-n/a}
		case $v in n/a) continue ;; fail) out+="$p fails; " ; continue ;; esac
		awk -v a="$a" -v b="$v" 'BEGIN { exit !(a < b) }' || out+="behind $p; "
	done
	[ "$r" = seq_warm ] && ! awk -v x="$(ratio "$a" "${R[$r,native]}")" 'BEGIN { exit !(x <= 1.2) }' &&
		out+="over 1.2x native; "
	case $r in ls_cold | ls_warm | names_*)
		awk -v x="$(ratio "$a" "${R[$r,native]}")" 'BEGIN { exit !(x <= 2) }' || out+="over 2x native; " ;;
	esac
	echo "${out:-met}"
}

print_table() { # markdown (also readable as plain text)
	local r p
	printf '| row |'; for p in "${PEERS[@]}"; do printf ' %s s |' "$p"; done
	for p in "${FUSE_PEERS[@]}"; do printf ' %s/native |' "$p"; done
	printf ' arrayfs targets |\n|---|'
	for p in "${PEERS[@]}" "${FUSE_PEERS[@]}"; do printf -- '---:|'; done
	printf -- '---|\n'
	for r in "${ROWS[@]}"; do
		printf '| %s |' "${LABEL[$r]}"
		for p in "${PEERS[@]}"; do printf ' %s |' "${R[$r,$p]:-n/a}"; done
		for p in "${FUSE_PEERS[@]}"; do printf ' %s |' "$(ratio "${R[$r,$p]:-n/a}" "${R[$r,native]}")"; done
		printf ' %s |\n' "$(verdict "$r")"
	done
}
TABLE_MD=$(print_table)
DECODE_MD=$(cat <<EOF
| segment-group decode (business.sf, $NBLOCKFILES block files; $TURI_COPIES rounds, a fresh mount each) | value |
|---|---:|
| arrayfs: \`cat MNT/*/*/*\` first read after mount, all rounds (s) | $DEC_FIRST |
| arrayfs: second read (page cache), all rounds (s) | $DEC_SECOND |
| arrayfs: text bytes produced, all rounds | $TEXT_BYTES |
| arrayfs: text MB/s (first read) | $TEXT_MBPS |
| raw LZ4 (LZ4_decompress_safe, $LZ4_NB LZ4 blocks per copy; $RAW_NB raw blocks not counted): decoded MB/s | $LZ4_MBPS |
| LZ4 stored -> decoded bytes per copy | $LZ4_STORED -> $LZ4_DEC |
| ratio arrayfs text MB/s / raw LZ4 MB/s | $(awk -v a="$TEXT_MBPS" -v b="$LZ4_MBPS" 'BEGIN { printf "%.3f", a / b }') |
| time per round: arrayfs / LZ4 only (s) | $ARFS_PER_GROUP / $LZ4_PER_GROUP = $(awk -v a="$ARFS_PER_GROUP" -v b="$LZ4_PER_GROUP" 'BEGIN { printf "%.1fx", a / b }') |
EOF
)

echo
echo "$TABLE_MD"
echo
echo "$DECODE_MD"
[ -n "$RSYNC_NOTE" ] && echo && echo "rsync: $RSYNC_NOTE"
[ -n "$FAILS" ] && printf '\nFailed commands (cell "fail"):\n%s' "$FAILS"
echo
say "data file: $DAT"

mkdir -p "$OUTDIR"
PNG=$OUTDIR/bench-fs.png
declare -A COLOR=([arrayfs]="#1b9e77" [bindfs]="#d95f02" [squashfuse_ll]="#7570b3"
	[passthrough_ll]="#e7298a" [arrayfs_base]="#a6cee3")
PLOT="plot"
sep=" \"$DAT\""
col=$((${#PEERS[@]} + 2))
for p in "${FUSE_PEERS[@]}"; do
	using=$col
	[ "$PLOT" = plot ] && using="$col:xtic(1)"
	t=$p
	[ "$p" = arrayfs_base ] && t="arrayfs $BASE_REV"
	PLOT+="$sep using $using title \"$t\" lc rgb \"${COLOR[$p]}\""
	sep=", \"\""
	col=$((col + 1))
done
gnuplot <<EOF
set terminal pngcairo size 1200,620 font "sans,10" noenhanced
set output "$PNG"
set title "arrayfs and FUSE peers: time relative to the native filesystem (lower is better; log scale)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y 2
set yrange [0.25:*]
set ylabel "seconds / native seconds"
set datafile missing "-"
set xtics rotate by -25 scale 0
set key top left
set grid ytics
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "black"
$PLOT
EOF
say "plot: $PNG"

MACHINE=$(cat <<EOF
- CPU: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 2^20 }' /proc/meminfo)
- kernel: $(uname -sr)
- disk: $(df -T "$DATA" | awk 'NR == 2 { print $2 " on " $1 }') (scratch dir $DATA)
- libfuse $(pkg-config --modversion fuse3), $(bindfs --version 2>&1 | head -1), $(squashfuse_ll --version 2>&1 | head -1 | sed 's/ (c).*//'), passthrough_ll from $PT_SRC
$([ -n "$BASE" ] && echo "- arrayfs_base: arrayfs at commit $BASE_REV ($BASE), Release build, same options, its own copy of the store")
- listing rows: $(fmt "$NNAMES") empty documents (scripts/bench/gen_names.py) against as many empty native files of the same names; \`drop_caches\` and a fresh mount before each first run
- arrayfs: commit $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- fs core 2>/dev/null || echo " + uncommitted changes in fs/ or core/"), Release build, default options (read-write, pool 256M)
- warm rows: median of $REPS runs; cold rows: one run after \`sync; echo 3 > /proc/sys/vm/drop_caches\`
EOF
)
GEN=$(cat <<EOF
<!-- bench-fs:begin (generated by scripts/bench-fs.sh; edit outside these markers) -->
Run: $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$SMALL" = 1 ] && echo ", ARFS_BENCH_SMALL=1 (reduced sizes)")

$MACHINE

Seconds (lower is better) and ratios to native:

$TABLE_MD
$([ -n "$RSYNC_NOTE" ] && printf '\nrsync re-run check: %s\n' "$RSYNC_NOTE")
$([ -n "$FAILS" ] && printf '\nFailed commands (cell "fail"; the time is not comparable):\n\n%s' "$FAILS")

![time relative to native](bench-fs.png)

$DECODE_MD
<!-- bench-fs:end -->
EOF
)
MD=$OUTDIR/BENCHMARKS.md
if [ -f "$MD" ] && grep -q 'bench-fs:begin' "$MD"; then
	GEN=$GEN awk '
		/bench-fs:begin/ { print ENVIRON["GEN"]; skip = 1; next }
		/bench-fs:end/ { skip = 0; next }
		!skip { print }' "$MD" >"$MD.tmp" && mv "$MD.tmp" "$MD"
else
	printf '# Benchmarks\n\n## File system (scripts/bench-fs.sh)\n\n%s\n' "$GEN" >"$MD"
fi
say "report: $MD"
