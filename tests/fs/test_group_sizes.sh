#!/usr/bin/env bash
# Sizes without rendering (core/textsize.h): block file sizes of a fresh
# mount come from records, and `ls -l` decodes no block (the mount root's
# user.arrayfs.stats counts decodes).
#  - a group made by `arrayctl import` records its sizes in its index: a
#    fresh mount's ls -lR decodes nothing, every size equals `cat | wc -c`,
#    no cache file is written, and export still gives the CSV back;
#  - copies of Turi-written groups (no index sizes): the first mount
#    renders and saves a size cache in -o cache_dir, the second decodes
#    nothing; a corrupted cache is ignored with one log line and sizes stay
#    right; a segment whose mtime changed makes its record stale (one log
#    line), the next mount is quiet again; without -o cache_dir the cache
#    goes to $XDG_CACHE_HOME/arrayfs;
#  - a block rewritten through a read-write mount: the next mount's sizes
#    are right;
#  - arrayctl check renders every block even when sizes are recorded, and
#    reports a recorded size that the block contradicts.
. "$(dirname "$0")/lib.sh"
arfs_setup

A=${ARFS_CTL:-$ARFS_BIN/arrayctl}
here=$(dirname "$0")
cache=$ARFS_TMP/cache
log=$ARFS_TMP/daemon.log
mnt=$ARFS_TMP/mnt

decodes() {
	getfattr --absolute-names --only-values -n user.arrayfs.stats "$1" |
		sed -n 's/.*decodes=\([0-9]*\).*/\1/p'
}

# every block file's stat size equals its bytes
sizes_ok() {
	python3 - "$1" <<'PY'
import os, sys
bad = 0
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(d, f)
        with open(p, "rb") as fh:
            n = len(fh.read())
        if os.stat(p).st_size != n:
            print(f"{p}: stat {os.stat(p).st_size}, bytes {n}", file=sys.stderr)
            bad += 1
sys.exit(1 if bad else 0)
PY
}

listing() { (cd "$1" && ls -lR --time-style=+ | sed 's/^[^ ]* *[0-9]* [^ ]* [^ ]* //'); }

# ---- a group this project wrote: sizes in the index ----
imp=$ARFS_TMP/imp
mkdir -p "$imp"
python3 "$here/gen_csv.py" 30000 11 > "$ARFS_TMP/g.csv"
"$A" import --block-size 8192 --segment-rows 10000 "$ARFS_TMP/g.csv" \
	"$imp/g" > /dev/null
check "the index records text_sizes" grep -q '"text_sizes"' "$imp"/g/*.sidx

arfs_mount "$imp" "$mnt" -o ro,cache_dir="$cache"
listing "$mnt" > "$ARFS_TMP/ls_imp"
check "imported group: a fresh mount's ls -lR decodes no block" \
	test "$(decodes "$mnt")" = 0
check "imported group: many blocks listed" \
	test "$(find "$mnt" -type f | wc -l)" -gt 40
check "imported group: every size equals cat | wc -c" sizes_ok "$mnt"
check "imported group: the same bytes as arrayctl cat" \
	bash -c "cat '$mnt'/g/note/* | cmp - <('$A' cat '$imp/g' note)"
arfs_umount "$mnt"
check "imported group: no size cache written" \
	test -z "$(ls -A "$cache" 2>/dev/null)"
check "export gives the CSV back" \
	bash -c "'$A' export '$imp/g' | cmp - '$ARFS_TMP/g.csv'"

# arrayctl check renders every block and compares the recorded sizes
check "arrayctl check passes on the imported group" \
	bash -c "'$A' check '$imp/g' >/dev/null"
cp -r "$imp/g" "$ARFS_TMP/liar"
python3 - "$ARFS_TMP"/liar/*.sidx <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["text_sizes"]["segments"]["0001"]["columns"][2][0] += 1
json.dump(j, open(sys.argv[1], "w"))
PY
check "arrayctl check reports a recorded size the block contradicts" \
	bash -c "! '$A' check '$ARFS_TMP/liar' >/dev/null 2>'$ARFS_TMP/liar.err' &&
		grep -q 'records a text size of' '$ARFS_TMP/liar.err'"

# ---- groups written by others: the size cache ----
turi=$ARFS_TMP/turi
mkdir -p "$turi"
cp -r "$ARFS_FIXTURES/turi/business.sf" "$turi/business"
cp -r "$ARFS_FIXTURES/turi/books_items_8seg" "$turi/books"
check "Turi groups carry no index sizes" \
	bash -c "! grep -q text_sizes '$turi'/*/*.sidx"

: > "$log"
arfs_mount "$turi" "$mnt" -o ro,cache_dir="$cache"
listing "$mnt" > "$ARFS_TMP/ls1"
first=$(decodes "$mnt")
check "first mount renders to learn sizes ($first decodes)" test "$first" -gt 0
check "first mount: sizes right" sizes_ok "$mnt"
find "$mnt" -type f -exec cat {} + | sha256sum > "$ARFS_TMP/sum1"
arfs_umount "$mnt"
check "a size cache per group in cache_dir, private" \
	bash -c "test \$(ls '$cache'/*.sizes | wc -l) = 2 &&
		 test \$(stat -c %a '$cache') = 700"
check "the first mount logged nothing about sizes" \
	bash -c "! grep -qi 'size' '$log'"

arfs_mount "$turi" "$mnt" -o ro,cache_dir="$cache"
listing "$mnt" > "$ARFS_TMP/ls2"
check "second mount: ls -lR decodes no block" test "$(decodes "$mnt")" = 0
check "second mount: the same listing" cmp "$ARFS_TMP/ls1" "$ARFS_TMP/ls2"
check "second mount: sizes right" sizes_ok "$mnt"
check "second mount: the same bytes" bash -c \
	"find '$mnt' -type f -exec cat {} + | sha256sum | cmp - '$ARFS_TMP/sum1'"
arfs_umount "$mnt"

# damage the books cache: flip a byte in its body
books_cache=$(grep -l "$turi/books" "$cache"/*.sizes)
python3 - "$books_cache" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x40
open(p, "wb").write(b)
PY
: > "$log"
arfs_mount "$turi" "$mnt" -o ro,cache_dir="$cache"
listing "$mnt" > "$ARFS_TMP/ls3"
check "corrupt cache: ignored, books rendered again" \
	test "$(decodes "$mnt")" -gt 0
check "corrupt cache: the same listing" cmp "$ARFS_TMP/ls1" "$ARFS_TMP/ls3"
check "corrupt cache: sizes right" sizes_ok "$mnt"
arfs_umount "$mnt"
check "corrupt cache: one log line" \
	test "$(grep -c 'size cache .*books.*ignored' "$log")" = 1

# a changed segment: its record is stale
touch -d '2001-02-03 04:05:06' "$turi"/business/m_9688d6320ff94822.0000
: > "$log"
arfs_mount "$turi" "$mnt" -o ro,cache_dir="$cache"
listing "$mnt" > "$ARFS_TMP/ls4"
check "changed segment: its blocks rendered again" \
	test "$(decodes "$mnt")" -gt 0
check "changed segment: the same listing" cmp "$ARFS_TMP/ls1" "$ARFS_TMP/ls4"
arfs_umount "$mnt"
check "changed segment: one log line" \
	test "$(grep -c 'size cache .*business.*stale' "$log")" = 1
: > "$log"
arfs_mount "$turi" "$mnt" -o ro,cache_dir="$cache"
listing "$mnt" > /dev/null
check "after recomputing: quiet and no decode" \
	bash -c "test \"\$(getfattr --absolute-names --only-values -n user.arrayfs.stats '$mnt' |
		sed -n 's/.*decodes=\([0-9]*\).*/\1/p')\" = 0 && ! grep -qi size '$log'"
arfs_umount "$mnt"

# the default cache directory
XDG_CACHE_HOME=$ARFS_TMP/xdg arfs_mount "$turi" "$mnt" -o ro
listing "$mnt" > /dev/null
arfs_umount "$mnt"
check "without cache_dir: \$XDG_CACHE_HOME/arrayfs" \
	test "$(ls "$ARFS_TMP"/xdg/arrayfs/*.sizes | wc -l)" = 2

# ---- a block rewritten through a read-write mount ----
arfs_mount "$turi" "$mnt" -o cache_dir="$cache"
cat "$mnt"/business/stars/0000.000000 > "$ARFS_TMP/stars"
printf '1.5\n2.25\n\\N\n' >> "$ARFS_TMP/stars"
cp "$ARFS_TMP/stars" "$mnt"/business/stars/0000.000000
arfs_umount "$mnt"
check "the written group's index records sizes" \
	grep -q '"text_sizes"' "$turi"/business/*.sidx
arfs_mount "$turi" "$mnt" -o ro,cache_dir="$cache"
check "after a write: sizes right" sizes_ok "$mnt"
check "after a write: the block reads back" \
	cmp "$mnt"/business/stars/0000.000000 "$ARFS_TMP/stars"
arfs_umount "$mnt"

arfs_finish
