#!/usr/bin/env bash
# Segment groups in the mount (read-only): a copy of the Turi SFrame fixture
# (business.sf, 12 columns, 11,536 rows) beside a DocArray array, driven
# with real tools: ls -l, stat/wc -c, cat | wc -l, every value against
# business.csv by the text rules of docs/FORMAT.md 2.8, paste, sha256sum
# across reads and a remount, getfattr against the segment's block table,
# rsync -a twice, find, tar. Then: writes into a group of a read-only
# mount fail with EROFS (writes in read-write mounts:
# test_group_write.sh); a
# store that is itself a group shows its columns at the root; damaged copies
# (truncated segment, corrupt LZ4 block, '../' and absolute segment paths,
# missing segment) leave the daemon and the good data alone; arrayctl
# ls/cat/check on the group.
. "$(dirname "$0")/lib.sh"
arfs_setup

ARFS_CTL=${ARFS_CTL:-$ARFS_BIN/arrayctl}
FIX=$ARFS_FIXTURES/turi/business.sf
CSV=$ARFS_FIXTURES/turi/business.csv
SEG=m_9688d6320ff94822.0000
SIDX=m_9688d6320ff94822.sidx
ROWS=11536
COLS=(business_id categories city full_address latitude longitude name open
      review_count stars state type)
TYPES=(str vector str str float float str int int float str str)

store=$ARFS_TMP/store
mnt=$ARFS_TMP/mnt
mkdir -p "$store"
cp -r "$FIX" "$store/business"
cp -r "$ARFS_FIXTURES/docarray/basic" "$store/basic"
rm -f "$store/basic/expected.json"

# ---- python helpers: FORMAT.md 2.8 text rules, the block table ----
PY=$ARFS_TMP/grp.py
cat >"$PY" <<'PY'
import csv, errno, json, math, os, struct, sys

def ffloat(x, vec=False):
    """FORMAT.md 2.8: shortest %.{1..17}g that reads back; integral values
    below 1e16 as %.0f (plus .0 outside vectors)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == math.trunc(x) and abs(x) < 1e16:
        return "%.0f" % x + ("" if vec else ".0")
    for p in range(1, 18):
        s = "%.*g" % (p, x)
        if float(s) == x:
            return s
    return "%.17g" % x

def fstr(b):
    return b.replace("\\", "\\\\").replace("\n", "\\n") \
            .replace("\t", "\\t").replace("\r", "\\r")

def unstr(line):
    """Reverse the four escapes (\\N handled by the caller)."""
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            n = line[i + 1]
            out.append({"\\": "\\", "n": "\n", "t": "\t", "r": "\r"}[n])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)

def types(sidx):
    return [int(c["metadata"]["__type__"]) for c in json.load(open(sidx))["columns"]]

def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]

def render(t, v):
    """The expected line of CSV field v for a column of type t."""
    if t == 2:
        return fstr(v.replace("\\\\", "\\"))
    if v == "":
        return "\\N"
    if t == 0:
        return str(int(v))
    if t == 1:
        return ffloat(float(v))
    if t == 3:
        inner = v.strip()[1:-1].split()
        return "[" + " ".join(ffloat(float(e), True) for e in inner) + "]"
    raise SystemExit("unexpected column type %d" % t)

def column_lines(d):
    data = b"".join(open(os.path.join(d, n), "rb").read()
                    for n in sorted(os.listdir(d)))
    assert data.endswith(b"\n") or not data, d
    return data.decode("utf-8").split("\n")[:-1]

def cmd_values(grp, csvp, sidx):
    head, rows = csv_rows(csvp)
    ts = types(sidx)
    bad = 0
    for ci, name in enumerate(head):
        t = ts[ci]
        got = column_lines(os.path.join(grp, name))
        if len(got) != len(rows):
            print(f"{name}: {len(got)} lines, want {len(rows)}"); bad += 1
            continue
        for ri, (line, row) in enumerate(zip(got, rows)):
            v = row[ci]
            want = render(t, v)
            ok = line == want
            # numeric comparison as well (not only the text form)
            if ok and t == 1:
                ok = float(line) == float(v)
            elif ok and t == 3:
                ok = [float(e) for e in line[1:-1].split()] == \
                     [float(e) for e in v.strip()[1:-1].split()]
            elif ok and t == 2:
                ok = line != "\\N" and unstr(line) == v.replace("\\\\", "\\")
            elif ok and t == 0:
                ok = int(line) == int(v)
            if not ok:
                if bad < 10:
                    print(f"{name} row {ri}: got {line!r}, want {want!r} (csv {v!r})")
                bad += 1
    if bad:
        print(f"{bad} values differ")
    return bad == 0

def cmd_expect(csvp, sidx, *names):
    """Expected paste(1) output of the named columns."""
    head, rows = csv_rows(csvp)
    ts = types(sidx)
    idx = [head.index(n) for n in names]
    out = sys.stdout
    for row in rows:
        out.write("\t".join(render(ts[i], row[i]) for i in idx) + "\n")
    return True

def block_table(seg):
    d = open(seg, "rb").read()
    ts = struct.unpack("<Q", d[-8:])[0]
    o = len(d) - 8 - ts
    nc = struct.unpack_from("<Q", d, o)[0]; o += 8
    cols = []
    for _ in range(nc):
        nb = struct.unpack_from("<Q", d, o)[0]; o += 8
        bl = []
        for _ in range(nb):
            off, ln, bs, ne, fl = struct.unpack_from("<QQQQQ", d, o); o += 48
            bl.append(dict(offset=off, length=ln, block_size=bs,
                           num_elem=ne, flags=fl))
        cols.append(bl)
    return cols

def cmd_xattrs(grp, seg, csvp):
    head, rows = csv_rows(csvp)
    table = block_table(seg)
    ok = True
    def x(p, n):
        return os.getxattr(p, "user.arrayfs." + n).decode()
    for ci, name in enumerate(head):
        d = os.path.join(grp, name)
        names = sorted(os.listdir(d))
        blocks = table[ci]
        want_names = ["0000.%06d" % i for i in range(len(blocks))]
        if names != want_names:
            print(f"{name}: blocks {names}, want {want_names}"); ok = False
            continue
        first = 0
        for n, b in zip(names, blocks):
            p = os.path.join(d, n)
            want = {"first_row": str(first), "rows": str(b["num_elem"]),
                    "stored_size": str(b["length"]),
                    "decoded_size": str(b["block_size"]),
                    "compression": "lz4" if b["flags"] & 1 else "none"}
            got = {k: x(p, k) for k in want}
            if got != want:
                print(f"{name}/{n}: {got} want {want}"); ok = False
            listed = sorted(os.listxattr(p))
            if listed != sorted("user.arrayfs." + k for k in want):
                print(f"{name}/{n}: listxattr {listed}"); ok = False
            # the block file holds exactly `rows` lines
            if open(p, "rb").read().count(b"\n") != b["num_elem"]:
                print(f"{name}/{n}: line count differs from rows"); ok = False
            first += b["num_elem"]
        if first != len(rows):
            print(f"{name}: rows of the blocks add up to {first}"); ok = False
    return ok

def read_err(p):
    """None if p reads in full, else the errno."""
    try:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass
        return None
    except OSError as e:
        return e.errno

BAD = (errno.EIO, errno.EUCLEAN)

def cmd_damaged(grp, good, kind):
    """A damaged group that was not skipped: its damage shows as EIO or
    EUCLEAN, never as wrong data; what is sound reads as in the good copy."""
    ok = True
    failed = 0
    for name in sorted(os.listdir(good)):
        d = os.path.join(grp, name)
        try:
            blocks = sorted(os.listdir(d))
        except OSError as e:
            if e.errno not in BAD:
                print(f"{kind}: listing {name}: {os.strerror(e.errno)}"); ok = False
            failed += 1
            continue
        good_blocks = sorted(os.listdir(os.path.join(good, name)))
        if blocks != good_blocks:
            # a damaged block must be listed (and fail when read), not hidden
            print(f"{kind}: {name} lists {blocks}, the good copy {good_blocks}")
            ok = False
        for b in good_blocks:
            p = os.path.join(d, b)
            e = read_err(p)
            if e is None:
                if kind != "lz4":
                    print(f"{kind}: {name}/{b} read without error"); ok = False
                elif open(p, "rb").read() != open(os.path.join(good, name, b), "rb").read():
                    print(f"{kind}: {name}/{b} differs from the good copy"); ok = False
            elif e in BAD:
                failed += 1
                if kind == "lz4" and (name, b) != ("full_address", "0000.000001"):
                    print(f"{kind}: sound block {name}/{b} fails"); ok = False
                # fails again (fast), with the same class of error
                if read_err(p) not in BAD:
                    print(f"{kind}: {name}/{b} second read"); ok = False
            else:
                print(f"{kind}: {name}/{b}: {os.strerror(e)}"); ok = False
    if failed == 0:
        print(f"{kind}: nothing failed"); ok = False
    return ok

if __name__ == "__main__":
    fn = globals()["cmd_" + sys.argv[1]]
    sys.exit(0 if fn(*sys.argv[2:]) else 1)
PY

# fails_erofs CMD...: the command fails and every message it prints is
# EROFS ("Read-only file system"), not ENOSYS/EPERM/EXDEV/...
fails_erofs() {
	local out
	if out=$("$@" 2>&1); then
		echo "  '$*' succeeded" >&2
		return 1
	fi
	if [ -z "$out" ] || grep -qv 'Read-only file system' <<<"$out"; then
		echo "  '$*': $out" >&2
		return 1
	fi
}

# ---- the group through the mount ----
arfs_mount "$store" "$mnt"
grp=$mnt/business

check "the store root lists the array and the group" \
	test "$(ls "$mnt" | tr '\n' ' ')" = "basic business "
check "the array beside the group reads" \
	test "$(cat "$mnt/basic/a" "$mnt/basic/b")" = "$(printf 'alpha\nbravo')"
check "ls -U of the group lists the columns in column order" \
	test "$(ls -U "$grp" | tr '\n' ' ')" = "${COLS[*]} "
check "ls -l of the group: 12 folders (writable: read-write mount)" bash -c "
	ls -l '$grp' | awk 'NR>1{print substr(\$1,1,1), substr(\$1,2,9)}' | sort | uniq -c |
	grep -qx ' *12 d rwxr-xr-x'"

sizes_exact() {
	local c f n=0 s w l
	for c in "${COLS[@]}"; do
		while read -r l; do
			set -- $l
			[ "${1:0:1}" = "-" ] || { echo "  $c/$9: not a regular file" >&2; return 1; }
			f=$grp/$c/$9
			s=$(stat -c %s "$f")
			w=$(wc -c <"$f")
			if [ "$s" != "$w" ] || [ "$5" != "$w" ]; then
				echo "  $c/$9: ls $5 stat $s wc $w" >&2
				return 1
			fi
			n=$((n + 1))
		done < <(ls -l "$grp/$c" | tail -n +2)
	done
	[ "$n" -eq 34 ] || { echo "  $n block files" >&2; return 1; }
}
check "ls -l of each column: regular files, stat size = ls size = wc -c" sizes_exact

rows_per_column() {
	local c n
	for c in "${COLS[@]}"; do
		n=$(cat "$grp/$c"/* | wc -l)
		[ "$n" -eq "$ROWS" ] || { echo "  $c: $n lines" >&2; return 1; }
	done
}
check "cat business/<col>/* | wc -l = $ROWS for every column" rows_per_column
check "every value of every column equals the CSV's" \
	python3 "$PY" values "$grp" "$CSV" "$FIX/$SIDX"
check "paste of two columns lines up row by row with the CSV" bash -c "
	paste <(cat '$grp'/name/*) <(cat '$grp'/stars/*) >'$ARFS_TMP/paste1'
	python3 '$PY' expect '$CSV' '$FIX/$SIDX' name stars >'$ARFS_TMP/paste1.want'
	cmp '$ARFS_TMP/paste1' '$ARFS_TMP/paste1.want'"
check "paste of a vector and a float column" bash -c "
	paste <(cat '$grp'/categories/*) <(cat '$grp'/longitude/*) >'$ARFS_TMP/paste2'
	python3 '$PY' expect '$CSV' '$FIX/$SIDX' categories longitude >'$ARFS_TMP/paste2.want'
	cmp '$ARFS_TMP/paste2' '$ARFS_TMP/paste2.want'"
check "floats print shortest round-trip text" bash -c "
	head -1 '$grp'/longitude/0000.000000 | grep -qx -- -112.106 &&
	head -1 '$grp'/stars/0000.000000 | grep -qx 5.0 &&
	head -1 '$grp'/categories/0000.000000 | grep -qx '\[4 5 6\]'"

sums() { (cd "$grp" && sha256sum */*); }
sum1=$(sums)
sum2=$(sums)
check "sha256sum of the block files is stable across two reads" \
	test -n "$sum1" -a "$sum1" = "$sum2"

xattr_of() { getfattr --only-values -n "user.arrayfs.$2" "$1" 2>/dev/null; }
column_xattrs() {
	local i c
	for i in "${!COLS[@]}"; do
		c=${COLS[$i]}
		[ "$(xattr_of "$grp/$c" type)" = "${TYPES[$i]}" ] &&
			[ "$(xattr_of "$grp/$c" rows)" = "$ROWS" ] ||
			{ echo "  $c: $(getfattr -d "$grp/$c" 2>&1)" >&2; return 1; }
	done
	getfattr -d "$grp/stars" | grep -qx 'user.arrayfs.type="float"'
}
check "getfattr on a column: type and rows" column_xattrs
check "getfattr on blocks: first_row/rows/stored_size/decoded_size/compression match the block table" \
	python3 "$PY" xattrs "$grp" "$FIX/$SEG" "$CSV"
check "no xattrs on the group folder; an unknown name is ENODATA" python3 - "$grp" <<'PY'
import errno, os, sys
g = sys.argv[1]
assert os.listxattr(g) == [], os.listxattr(g)
try:
    os.getxattr(g + "/stars", "user.arrayfs.nope")
    raise SystemExit("unknown xattr read")
except OSError as e:
    assert e.errno == errno.ENODATA, e
PY

check "rsync -a out" bash -c "rsync -a '$grp/' '$ARFS_TMP/backup/' &&
	diff -r '$grp' '$ARFS_TMP/backup'"
check "rsync -a again transfers nothing" bash -c "
	out=\$(rsync -ai '$grp/' '$ARFS_TMP/backup/') && test -z \"\$out\" ||
	{ echo \"  \$out\" | head -5 >&2; false; }"
check "find lists 12 column folders and 34 block files" bash -c "
	test \$(find '$grp' -mindepth 1 -type d | wc -l) -eq 12 &&
	test \$(find '$grp' -type f | wc -l) -eq 34 &&
	test \$(find '$grp' -type f -size +0 | wc -l) -eq 34"
check "tar -c of the group and back" bash -c "
	tar -C '$mnt' -cf '$ARFS_TMP/g.tar' business &&
	test \$(tar -tf '$ARFS_TMP/g.tar' | wc -l) -eq \$((1 + 12 + 34)) &&
	mkdir '$ARFS_TMP/untar' && tar -C '$ARFS_TMP/untar' -xf '$ARFS_TMP/g.tar' &&
	diff -r '$grp' '$ARFS_TMP/untar/business'"

# ---- read-only mount: every write into a group is EROFS ----
arfs_umount "$mnt"
arfs_mount "$store" "$mnt" -o ro
blk=$grp/stars/0000.000000
check "touch a new file in a column: EROFS" fails_erofs touch "$grp/stars/new"
check "touch a new file in the group folder: EROFS" fails_erofs touch "$grp/new"
check "touch an existing block file: EROFS" fails_erofs touch "$blk"
check "cp into a column: EROFS" fails_erofs cp "$mnt/basic/a" "$grp/stars/"
check "cp over a block file: EROFS" fails_erofs cp "$mnt/basic/a" "$blk"
check "shell redirect into a block file: EROFS" fails_erofs bash -c "echo x >'$blk'"
check "truncate a block file: EROFS" fails_erofs truncate -s 0 "$blk"
check "rm a block file: EROFS" fails_erofs rm -f "$blk"
check "rm -r a column: EROFS" fails_erofs rm -rf "$grp/type"
check "mv a block file within its column: EROFS" fails_erofs mv "$blk" "$grp/stars/x"
check "mv a column within the group: EROFS" fails_erofs mv "$grp/stars" "$grp/stars2"
check "mv a document into a column: EROFS" fails_erofs mv "$mnt/basic/a" "$grp/stars/"
check "mv a block file into an array: EROFS" fails_erofs mv "$blk" "$mnt/basic/"
check "chmod a block file: EROFS" fails_erofs chmod 666 "$blk"
check "mkdir in the group folder: EROFS" fails_erofs mkdir "$grp/newcol"
check "mkdir in a column: EROFS" fails_erofs mkdir "$grp/stars/d"
check "rmdir a column: EROFS" fails_erofs rmdir "$grp/state"
check "ln -s in a column: EROFS" fails_erofs ln -s x "$grp/stars/l"
check "mv the group folder: EROFS" fails_erofs mv "$grp" "$mnt/renamed"
check "rmdir the group folder: EROFS" fails_erofs rmdir "$grp"
check "the group is unchanged in the mount after the attempts" \
	test "$(sums)" = "$sum1"
same_store() {
	local l
	l=$(ls -A "$store" | tr '\n' ' ')
	[ "$l" = "basic business " ] || { echo "  the store now holds: $l" >&2; return 1; }
}
check "the store holds the same entries after the attempts" same_store
check "the group's files on disk are untouched" diff -r "$FIX" "$store/business"
check "the document moved into a column is still in its array" \
	test "$(cat "$mnt/basic/a")" = alpha

arfs_umount "$mnt"
arfs_mount "$store" "$mnt"
check "sha256sum of the block files is the same after a remount" \
	test "$(sums)" = "$sum1"

# ---- the arrayctl side ----
ctl_cat_all() {
	local c
	for c in "${COLS[@]}"; do
		cmp <("$ARFS_CTL" cat "$store/business" "$c") <(cat "$grp/$c"/*) ||
			{ echo "  column $c" >&2; return 1; }
	done
}
check "arrayctl ls lists the 12 columns with type and rows" bash -c "
	'$ARFS_CTL' ls '$store/business' >'$ARFS_TMP/ctl-ls' &&
	test \$(awk 'NR>1 && \$3 == $ROWS' '$ARFS_TMP/ctl-ls' | wc -l) -eq 12 &&
	test \"\$(awk 'NR>1{print \$1\":\"\$2}' '$ARFS_TMP/ctl-ls' | tr '\n' ' ')\" = \
	\"$(for i in "${!COLS[@]}"; do printf '%s:%s ' "${COLS[$i]}" "${TYPES[$i]}"; done)\""
check "arrayctl cat of each column equals cat MNT/business/<col>/*" ctl_cat_all
check "arrayctl check: sound, exit 0" "$ARFS_CTL" check "$store/business"
check "arrayctl cat of an unknown column fails" \
	bash -c "! '$ARFS_CTL' cat '$store/business' nosuch >/dev/null 2>&1"
arfs_umount "$mnt"

# ---- a store that is itself a group ----
mnt1=$ARFS_TMP/mnt1
arfs_mount "$store/business" "$mnt1" -o ro
check "a group store shows its columns at the root" \
	test "$(ls -U "$mnt1" | tr '\n' ' ')" = "${COLS[*]} "
check "a group store's blocks read as in the store mount" \
	test "$(cd "$mnt1" && sha256sum */*)" = "$sum1"
check "a group store's column xattrs" \
	test "$(xattr_of "$mnt1/categories" type) $(xattr_of "$mnt1/categories" rows)" = "vector $ROWS"
check "a group store's root is read-only: touch is EROFS" fails_erofs touch "$mnt1/new"
check "a group store's root is read-only: mkdir is EROFS" fails_erofs mkdir "$mnt1/new"
arfs_umount "$mnt1"

# ---- damaged copies beside good data ----
bad=$ARFS_TMP/bad
mnt2=$ARFS_TMP/mnt2
mkdir -p "$bad"
cp -r "$ARFS_FIXTURES/docarray/basic" "$bad/basic"
rm -f "$bad/basic/expected.json"
for g in good bad_trunc bad_lz4 bad_dotdot bad_abs bad_missing; do
	cp -r "$FIX" "$bad/$g"
done
truncate -s 500000 "$bad/bad_trunc/$SEG"
python3 - "$bad" "$SEG" "$SIDX" <<'PY'
import json, os, struct, sys
bad, seg, sidx = sys.argv[1:]
# full_address (column 3), block 1: an LZ4 block; overwrite its bytes
p = os.path.join(bad, "bad_lz4", seg)
d = open(p, "rb").read()
o = len(d) - 8 - struct.unpack("<Q", d[-8:])[0] + 8
for c in range(4):
    nb = struct.unpack_from("<Q", d, o)[0]
    if c == 3:
        off, ln, bs, ne, fl = struct.unpack_from("<QQQQQ", d, o + 8 + 48)
        assert fl & 1, "expected an LZ4 block"
        with open(p, "r+b") as f:
            f.seek(off); f.write(b"\xff" * ln)
    o += 8 + 48 * nb
for g, name in [("bad_dotdot", "../bad_dotdot/" + seg),
                ("bad_abs", os.path.abspath(os.path.join(bad, "good", seg)))]:
    p = os.path.join(bad, g, sidx)
    j = json.load(open(p))
    j["segment_files"]["0000"] = name
    json.dump(j, open(p, "w"))
os.remove(os.path.join(bad, "bad_missing", seg))
PY
log_before=$(wc -l <"$ARFS_TMP/daemon.log")
arfs_mount "$bad" "$mnt2"
bad_pid=$ARFS_PID
check "the daemon mounts a store with damaged groups" mountpoint -q "$mnt2"
check "the good array reads" \
	test "$(cat "$mnt2/basic/a" "$mnt2/basic/b")" = "$(printf 'alpha\nbravo')"
check "the good group reads every value" \
	python3 "$PY" values "$mnt2/good" "$CSV" "$FIX/$SIDX"

damaged() {
	local g=$1 kind=$2
	if [ ! -e "$mnt2/$g" ]; then
		# skipped at mount: it must say so, naming the group
		tail -n +$((log_before + 1)) "$ARFS_TMP/daemon.log" | grep -q "$g" ||
			{ echo "  $g skipped without a log line" >&2; return 1; }
		return 0
	fi
	python3 "$PY" damaged "$mnt2/$g" "$mnt2/good" "$kind"
}
check "cat of the corrupt LZ4 block by name, before any listing, fails with EUCLEAN/EIO" bash -c "
	! test -e '$mnt2/bad_lz4' || { ! out=\$(cat '$mnt2/bad_lz4/full_address/0000.000001' 2>&1 >/dev/null) &&
	grep -Eq 'Structure needs cleaning|Input/output error' <<<\"\$out\"; }"
check "truncated segment: skipped with a log line, or EIO/EUCLEAN on read" damaged bad_trunc trunc
check "corrupt LZ4 block: that block fails with EIO/EUCLEAN, the rest reads" damaged bad_lz4 lz4
check "cat of the corrupt LZ4 block after a listing still exits non-zero" \
	bash -c "! test -e '$mnt2/bad_lz4' || ! cat '$mnt2/bad_lz4/full_address/0000.000001' >/dev/null 2>&1"
check "segment path '../x': skipped with a log line, or EIO/EUCLEAN" damaged bad_dotdot path
check "absolute segment path: skipped with a log line, or EIO/EUCLEAN" damaged bad_abs path
check "missing segment file: skipped with a log line, or EIO/EUCLEAN" damaged bad_missing path
check "the damage is logged with the file and offset" bash -c "
	grep -q 'offset [0-9]' '$ARFS_TMP/daemon.log'"
logged_once() {
	local n
	n=$(tail -n +$((log_before + 1)) "$ARFS_TMP/daemon.log" | grep -c -- "$1" || true)
	[ "$n" -le 1 ] || { echo "  '$1' logged $n times" >&2; return 1; }
}
check "a truncated segment is logged once, not on every access" \
	logged_once 'offset 499992'
check "a corrupt LZ4 block is logged once" logged_once 'offset 262144'
check "the daemon is still alive after the bad reads" kill -0 "$bad_pid"
check "the good group and array still read afterwards" bash -c "
	test \"\$(cd '$mnt2/good' && sha256sum */*)\" = \"$sum1\" &&
	test \"\$(cat '$mnt2/basic/c')\" = charlie"
check "arrayctl check reports the corrupt LZ4 block (exit 1)" bash -c "
	'$ARFS_CTL' check '$bad/bad_lz4' >/dev/null 2>&1; test \$? -eq 1"
check "arrayctl check reports the truncated segment (exit 1)" bash -c "
	'$ARFS_CTL' check '$bad/bad_trunc' >/dev/null 2>&1; test \$? -eq 1"
check "arrayctl check rejects a '../' segment path (exit 1)" bash -c "
	'$ARFS_CTL' check '$bad/bad_dotdot' >/dev/null 2>&1; test \$? -eq 1"
check "arrayctl cat of the corrupt column fails" bash -c "
	! '$ARFS_CTL' cat '$bad/bad_lz4' full_address >/dev/null 2>&1"
arfs_umount "$mnt2"
arfs_finish
