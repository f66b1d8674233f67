#!/usr/bin/env bash
# Mount every DocArray fixture (copied, so the originals stay untouched) and
# drive the read side with real tools: ls -l/-U, stat, du, df, cat,
# sha256sum, cp out, tar, grep -r, find, file, python open/mmap; inode
# numbers stay the same across a remount.
. "$(dirname "$0")/lib.sh"
arfs_setup

store=$ARFS_TMP/store
mnt=$ARFS_TMP/mnt
mkdir -p "$store"
for c in basic uuid updated_deleted pruned large; do
	cp -r "$ARFS_FIXTURES/docarray/$c" "$store/$c"
	rm -f "$store/$c/expected.json"
done
arfs_mount "$store" "$mnt"

# Every document byte-identical to expected.json, in order, with sizes.
verify_expected() {
	python3 - "$mnt" "$ARFS_FIXTURES/docarray" <<'PY'
import hashlib, json, os, sys
mnt, fix = sys.argv[1:]
ok = True
for c in ["basic", "uuid", "updated_deleted", "pruned", "large"]:
    exp = json.load(open(os.path.join(fix, c, "expected.json")))
    names = os.listdir(os.path.join(mnt, c))
    want = [d["id"] for d in exp["docs"]]
    if names != want:
        print(f"{c}: listing differs: {names[:5]} vs {want[:5]}"); ok = False
    for d in exp["docs"]:
        p = os.path.join(mnt, c, d["id"])
        st = os.stat(p)
        data = open(p, "rb").read()
        if st.st_size != d["length"] or len(data) != d["length"] or \
           hashlib.sha256(data).hexdigest() != d["sha256"]:
            print(f"{c}/{d['id']}: content differs"); ok = False
sys.exit(0 if ok else 1)
PY
}
check "every fixture document reads back byte-identical, in order" verify_expected

check "ls -U lists in document order" \
	test "$(ls -U "$mnt/basic" | tr '\n' ' ')" = "a b c d e "
check "ls -l shows regular files with exact sizes" \
	bash -c "ls -l '$mnt/basic' | awk 'NR>1{print substr(\$1,1,1), \$5}' | tr '\n' ' ' | grep -qx '\- 6 - 6 - 8 - 6 - 5 '"
check "stat size and blocks" \
	test "$(stat -c '%s %b' "$mnt/basic/c")" = "8 1"
check "du counts the large array" \
	bash -c "test \$(du -sk '$mnt/large' | cut -f1) -ge 10000"
check "df shows the underlying filesystem" \
	bash -c "test \"\$(df --output=size '$mnt' | tail -1)\" = \"\$(df --output=size '$store' | tail -1)\""
check "cat" test "$(cat "$mnt/basic/a" "$mnt/basic/b")" = "$(printf 'alpha\nbravo')"
check "sha256sum matches expected.json" bash -c "
	python3 -c \"
import json; e=json.load(open('$ARFS_FIXTURES/docarray/uuid/expected.json'))
for d in e['docs']: print(d['sha256'] + '  ' + d['id'])\" > '$ARFS_TMP/sums'
	cd '$mnt/uuid' && sha256sum --quiet -c '$ARFS_TMP/sums'"
check "cp -r out" bash -c "cp -r '$mnt/uuid' '$ARFS_TMP/uuid-out' &&
	test \$(ls '$ARFS_TMP/uuid-out' | wc -l) -eq 100 &&
	diff -r '$mnt/uuid' '$ARFS_TMP/uuid-out'"
check "tar -c of an array" bash -c "tar -C '$mnt' -cf '$ARFS_TMP/a.tar' basic &&
	test \$(tar -tf '$ARFS_TMP/a.tar' | wc -l) -eq 6"
check "grep -r finds content" bash -c "grep -rl charlie '$mnt/basic' | grep -qx '$mnt/basic/c'"
check "find lists every file" \
	test "$(find "$mnt" -type f | wc -l)" -eq $((5 + 100 + 14 + 15 + 10000))
check "file identifies text" bash -c "file '$mnt/basic/a' | grep -q text"
check "python open().read() and mmap" python3 - "$mnt/basic/c" <<'PY'
import mmap, sys
with open(sys.argv[1], "rb") as f:
    assert f.read() == b"charlie\n"
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    assert m[:] == b"charlie\n"
PY
check "directory entries carry file types" python3 - "$mnt" <<'PY'
import os, sys
ents = {e.name: e for e in os.scandir(sys.argv[1])}
assert ents["basic"].is_dir()
assert all(e.is_file() for e in os.scandir(sys.argv[1] + "/basic"))
PY
inodes_before=$(ls -i "$mnt/uuid" | sort)
check "inode numbers are unique" \
	test "$( (ls -i "$mnt/uuid"; ls -i "$mnt/large") | awk '{print $1}' | sort | uniq -d | wc -l)" -eq 0
arfs_umount "$mnt"
arfs_mount "$store" "$mnt"
check "inode numbers stay the same across a remount" \
	test "$(ls -i "$mnt/uuid" | sort)" = "$inodes_before"
arfs_finish
