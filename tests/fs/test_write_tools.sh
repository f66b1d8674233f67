#!/usr/bin/env bash
# The write side with real tools: cp in and over, echo >>, dd at an offset,
# truncate, O_EXCL, mv within and between arrays, rm, touch, chmod, chown,
# reads of an open file across mv over it and rm, mkdir/rmdir of arrays,
# the errnos of unsupported calls (never ENOSYS), a read-only mount
# (EROFS), write errors at close/fsync on a full store, fsync surviving
# kill -9. Every operation is also applied to a plain copy
# (the mirror); at the end the arrays are checked with arrayctl and with an
# independent reader of DocArray's layout (darules.py).
. "$(dirname "$0")/lib.sh"
arfs_setup

here=$(cd "$(dirname "$0")" && pwd)
store=$ARFS_TMP/store
mnt=$ARFS_TMP/mnt
mirror=$ARFS_TMP/mirror
src=$ARFS_TMP/src
small=$ARFS_TMP/small

# Also unmount the tmpfs of the full-store check (after the daemons).
cleanup() {
	local m p
	for m in "${arfs_mounts[@]}"; do
		fusermount3 -u -z "$m" 2>/dev/null || true
	done
	for p in "${arfs_pids[@]}"; do
		kill -9 "$p" $(pgrep -P "$p") 2>/dev/null || true
	done
	mountpoint -q "$small" 2>/dev/null && umount -l "$small"
	arfs_cleanup
}
trap cleanup EXIT

# The arrayfs process itself (arfs_mount's ARFS_PID is its timeout).
daemon_pid() { pgrep -P "$ARFS_PID" -x arrayfs; }

mkdir -p "$store" "$src"
for c in basic uuid updated_deleted; do
	cp -r "$ARFS_FIXTURES/docarray/$c" "$store/$c"
	rm -f "$store/$c/expected.json"
	chmod -R u+w "$store/$c"
done
head -c 300000 /dev/urandom >"$src/big1"
head -c 3000000 /dev/urandom >"$src/big3"
printf 'a new document\n' >"$src/new1"

arfs_mount "$store" "$mnt"
cp -r "$mnt/." "$mirror"

# on CMD: run the shell command CMD in the mount and in the mirror.
on() {
	(cd "$mnt" && eval "$1") && (cd "$mirror" && eval "$1")
}
same() { cmp "$mnt/$1" "$mirror/$1"; }
errno_is() { # errno_is ERRNO PYTHON-STATEMENT (using path variables m, s)
	python3 - "$mnt" "$store" "$1" "$2" <<'PY'
import errno, os, sys
m, s, want, stmt = sys.argv[1:]
try:
    exec(stmt)
except OSError as e:
    if e.errno == getattr(errno, want):
        sys.exit(0)
    print(f"{stmt}: {errno.errorcode.get(e.errno, e.errno)}, want {want}")
    sys.exit(1)
print(f"{stmt}: succeeded, want {want}")
sys.exit(1)
PY
}

# ---- cp in, cp over, append, offsets, truncate ----
check "cp in: new documents" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'cp $src/new1 basic/new1 && cp $src/big1 basic/big1' && same basic/new1 && same basic/big1"
check "cp over an existing document" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'cp $src/big3 basic/a' && same basic/a && test \$(stat -c %s '$mnt/basic/a') -eq 3000000"
check "echo >> appends (O_APPEND)" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'echo appended >>basic/b' && same basic/b && test \"\$(cat '$mnt/basic/b')\" = \"\$(printf 'bravo\nappended')\""
check "dd conv=notrunc seek writes in the middle" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'printf XYZ | dd of=basic/big1 bs=1 seek=1000 conv=notrunc status=none' && same basic/big1 &&
	test \$(stat -c %s '$mnt/basic/big1') -eq 300000"
check "dd seek past the end leaves a zero-filled gap" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'printf END | dd of=basic/c bs=1 seek=50000 conv=notrunc status=none' && same basic/c &&
	test \$(stat -c %s '$mnt/basic/c') -eq 50003"
check "truncate shrinks" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'truncate -s 7 basic/a' && same basic/a && test \$(stat -c %s '$mnt/basic/a') -eq 7"
check "truncate grows with zeros" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'truncate -s 70000 basic/a' && same basic/a && test \$(stat -c %s '$mnt/basic/a') -eq 70000"
check "truncate to 0 then write" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'truncate -s 0 basic/new1 && printf again >>basic/new1' && same basic/new1"
check "O_CREAT|O_EXCL on an existing document: EEXIST" \
	errno_is EEXIST 'os.open(m + "/basic/b", os.O_CREAT | os.O_EXCL | os.O_WRONLY)'
check "O_CREAT|O_EXCL on a new name in an array creates it" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'python3 -c \"import os; fd = os.open(\\\"basic/excl\\\", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644); os.write(fd, b\\\"x\\\"); os.close(fd)\"' &&
	same basic/excl"

# ---- mv, rm ----
check "mv within an array to a new name" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'mv basic/new1 basic/renamed' && same basic/renamed && test ! -e '$mnt/basic/new1'"
check "mv within an array replaces an existing target" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'mv basic/big1 basic/d' && same basic/d && test ! -e '$mnt/basic/big1' &&
	test \$(ls '$mnt/basic' | grep -cx d) -eq 1"
check "rename(2) between arrays: EXDEV" \
	errno_is EXDEV 'os.rename(m + "/basic/e", m + "/updated_deleted/e")'
e_mtime=$(stat -c %Y "$mnt/basic/e")
check "mv between arrays copies (content, mtime) and removes" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'mv basic/e updated_deleted/e_moved' && same updated_deleted/e_moved &&
	test ! -e '$mnt/basic/e' && test \$(stat -c %Y '$mnt/updated_deleted/e_moved') = $e_mtime"
first_uuid=$(ls -U "$mnt/uuid" | head -1)
check "rm" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'rm uuid/$first_uuid' && test ! -e '$mnt/uuid/$first_uuid' &&
	test \$(ls '$mnt/uuid' | wc -l) -eq 99"

check "a file open for reading reads its own bytes after mv over it and after rm" python3 - "$mnt" <<'PY'
import os, sys
d = os.path.join(sys.argv[1], "openread")
os.mkdir(d)
x, y = os.path.join(d, "x"), os.path.join(d, "y")
def rest(fd):
    out = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return out
        out += chunk
for name, byte in ((x, b"A"), (y, b"B")):
    with open(name, "wb") as f:
        f.write(byte * 300000)
fd = os.open(x, os.O_RDONLY)
head = os.read(fd, 1000)
os.rename(y, x)  # x's document is replaced
assert os.fstat(fd).st_size == 300000
assert head + rest(fd) == b"A" * 300000, "replaced file read other bytes"
os.close(fd)
fd = os.open(x, os.O_RDONLY)
head = os.read(fd, 1000)
os.unlink(x)
assert head + rest(fd) == b"B" * 300000, "removed file read other bytes"
os.close(fd)
assert os.listdir(d) == []
os.rmdir(d)
PY

# ---- attributes ----
touch_ns=1614834367123456789
check "touch -d with nanoseconds" bash -c "touch -d '2021-03-04 05:06:07.123456789 UTC' '$mnt/basic/c' &&
	test \$(python3 -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' '$mnt/basic/c') = $touch_ns"
check "touch of a new name creates an empty document" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'touch basic/empty' && same basic/empty && test \$(stat -c %s '$mnt/basic/empty') -eq 0"
check "chmod" bash -c "chmod 0640 '$mnt/basic/b' && test \$(stat -c %a '$mnt/basic/b') = 640"
root=false
[ "$(id -u)" -eq 0 ] && root=true
$root || echo "SKIPPED: not root: chown and the full-store (tmpfs) checks do NOT run" >&2
$root && check "chown (as root)" bash -c "chown 1234:5678 '$mnt/basic/b' && test \"\$(stat -c '%u %g' '$mnt/basic/b')\" = '1234 5678'"

# ---- arrays ----
check "mkdir at the top makes a new empty array" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'mkdir newarr' && test -z \"\$(ls -A '$mnt/newarr')\" && test -f '$store/newarr/header.bin'"
check "the new array takes documents" bash -c "$(declare -f on same); mnt='$mnt' mirror='$mirror';
	on 'cp $src/big1 newarr/one && echo two >newarr/two' && same newarr/one && same newarr/two &&
	test \"\$(ls -U '$mnt/newarr' | tr '\n' ' ')\" = 'one two '"
check "rmdir of an empty array" bash -c "mkdir '$mnt/gone' && rmdir '$mnt/gone' &&
	test ! -e '$mnt/gone' && test ! -e '$store/gone' && ! ls '$mnt' | grep -qx gone"
check "rmdir of a non-empty array: ENOTEMPTY" errno_is ENOTEMPTY 'os.rmdir(m + "/basic")'
check "mkdir inside an array: EPERM" errno_is EPERM 'os.mkdir(m + "/basic/sub")'

# ---- unsupported operations ----
check "ln: EPERM" errno_is EPERM 'os.link(m + "/basic/b", m + "/basic/hard")'
check "ln (the tool) fails" bash -c "! ln '$mnt/basic/b' '$mnt/basic/hard' 2>/dev/null && test ! -e '$mnt/basic/hard'"
check "ln -s: EPERM" errno_is EPERM 'os.symlink("b", m + "/basic/soft")'
check "ln -s (the tool) fails" bash -c "! ln -s b '$mnt/basic/soft' 2>/dev/null && test ! -e '$mnt/basic/soft'"
check "setxattr: EOPNOTSUPP" errno_is EOPNOTSUPP 'os.setxattr(m + "/basic/b", "user.x", b"1")'
check "setfattr (the tool) fails with 'Operation not supported'" bash -c "
	! setfattr -n user.x -v 1 '$mnt/basic/b' 2>'$ARFS_TMP/setfattr.err' &&
	grep -q 'Operation not supported' '$ARFS_TMP/setfattr.err'"
check "no call answers ENOSYS" python3 - "$mnt" <<'PY'
import ctypes, errno, fcntl, os, sys
m = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
def renameat2(a, b, flags):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags):
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
def ioctl_getflags(p):
    fd = os.open(p, os.O_RDONLY)
    try: fcntl.ioctl(fd, 0x80086601, bytearray(8))
    finally: os.close(fd)
def fallocate(p):
    fd = os.open(p, os.O_RDWR)
    try: os.posix_fallocate(fd, 0, 10)
    finally: os.close(fd)
def seek_data(p):
    fd = os.open(p, os.O_RDONLY)
    try: os.lseek(fd, 0, os.SEEK_DATA)
    finally: os.close(fd)
def copy_range(a, b):
    fa = os.open(a, os.O_RDONLY); fb = os.open(b, os.O_WRONLY)
    try: os.copy_file_range(fa, fb, 3)
    finally: os.close(fa); os.close(fb)
def flock(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX); fcntl.lockf(fd, fcntl.LOCK_SH)
    finally: os.close(fd)
# scratch documents, removed at the end (the mirror does not have them)
b, b2 = m + "/basic/probe", m + "/basic/probe2"
for p in (b, b2):
    with open(p, "wb") as f:
        f.write(b"probe data")
ops = {
    "link": lambda: os.link(b, m + "/basic/h"),
    "symlink": lambda: os.symlink("b", m + "/basic/s"),
    "setxattr": lambda: os.setxattr(b, "user.x", b"1"),
    "removexattr": lambda: os.removexattr(b, "user.x"),
    "getxattr": lambda: os.getxattr(b, "user.x"),
    "listxattr": lambda: os.listxattr(b),
    "mkfifo": lambda: os.mkfifo(m + "/basic/fifo"),
    "mknod chr": lambda: os.mknod(m + "/basic/chr", 0o20644, os.makedev(1, 3)),
    "mkdir in array": lambda: os.mkdir(m + "/basic/sub"),
    "create at root": lambda: open(m + "/rootfile", "w").close(),
    "rename exchange": lambda: renameat2(b, b2, 2),
    "ioctl getflags": lambda: ioctl_getflags(b),
    "fallocate": lambda: fallocate(b2),
    "lseek SEEK_DATA": lambda: seek_data(b),
    "copy_file_range": lambda: copy_range(b, b2),
    "flock/lockf": lambda: flock(b),
    "chmod folder": lambda: os.chmod(m + "/basic", 0o700),
    "utime folder": lambda: os.utime(m + "/basic"),
    "statvfs": lambda: os.statvfs(m + "/basic"),
    "access": lambda: os.access(b, os.W_OK),
    "readlink": lambda: os.readlink(b),
}
bad = []
for name, f in ops.items():
    try:
        f()
        r = "ok"
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
        if e.errno == errno.ENOSYS:
            bad.append(name)
    print(f"# {name}: {r}")
for p in (b, b2):
    if os.path.exists(p):
        os.unlink(p)
sys.exit(1 if bad else 0)
PY
check "rename with RENAME_WHITEOUT: EINVAL (no whiteouts here), nothing renamed" python3 - "$mnt" <<'PY'
import ctypes, errno, os, sys
m = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
a, b = m + "/basic/wo1", m + "/basic/wo2"
open(a, "w").close()
rc = libc.renameat2(-100, a.encode(), -100, b.encode(), 4)
e = ctypes.get_errno()
ok = rc == -1 and e == errno.EINVAL and os.path.exists(a) and not os.path.exists(b)
print(f"# renameat2(RENAME_WHITEOUT): rc {rc} {errno.errorcode.get(e)}; "
      f"source {'kept' if os.path.exists(a) else 'gone'}, target {'made' if os.path.exists(b) else 'absent'}")
for p in (a, b):
    if os.path.exists(p):
        os.unlink(p)
sys.exit(0 if ok else 1)
PY

mount_view() { # the mount's documents, with content, in order
	local a
	for a in "$mnt"/*/; do
		echo "== $a"
		(cd "$a" && ls -U | while read -r f; do echo "$f $(sha256sum <"$f")"; done)
	done
}
check "the mount equals the mirror" diff -r "$mnt" "$mirror"
check "DocArray's reading rules see what the mount shows (live, in order)" bash -c "
	for a in basic uuid updated_deleted newarr; do python3 '$here/darules.py' compare '$store/'\$a '$mnt/'\$a || exit 1; done"

# ---- remount: attributes persist ----
arfs_umount "$mnt"
arfs_mount "$store" "$mnt"
check "mtime with nanoseconds persists across a remount" \
	test "$(python3 -c 'import os,sys; print(os.stat(sys.argv[1]).st_mtime_ns)' "$mnt/basic/c")" = $touch_ns
$root && check "mode, owner and group persist across a remount" \
	test "$(stat -c '%a %u %g' "$mnt/basic/b")" = "640 1234 5678"
check "moved document keeps its mtime across a remount" \
	test "$(stat -c %Y "$mnt/updated_deleted/e_moved")" = "$e_mtime"
check "content persists across a remount" diff -r "$mnt" "$mirror"

# ---- read-only mount beside the writer: EROFS ----
ro=$ARFS_TMP/ro
rw_pid=$ARFS_PID
arfs_mount "$store" "$ro" -o ro
ro_pid=$ARFS_PID
erofs() { errno_is EROFS "${1//\$R/\"$ro\"}"; }
check "-o ro: reads work" diff -r "$ro" "$mirror"
check "-o ro: open for writing: EROFS" erofs 'os.open($R + "/basic/b", os.O_WRONLY)'
check "-o ro: create: EROFS" erofs 'os.open($R + "/basic/newfile", os.O_CREAT | os.O_WRONLY)'
check "-o ro: unlink: EROFS" erofs 'os.unlink($R + "/basic/b")'
check "-o ro: rename: EROFS" erofs 'os.rename($R + "/basic/b", $R + "/basic/b2")'
check "-o ro: truncate: EROFS" erofs 'os.truncate($R + "/basic/b", 0)'
check "-o ro: chmod: EROFS" erofs 'os.chmod($R + "/basic/b", 0o600)'
check "-o ro: utime: EROFS" erofs 'os.utime($R + "/basic/b")'
check "-o ro: mkdir: EROFS" erofs 'os.mkdir($R + "/another")'
check "-o ro: rmdir: EROFS" erofs 'os.rmdir($R + "/newarr")'
check "-o ro: cp in fails" bash -c "! cp '$src/new1' '$ro/basic/x' 2>/dev/null"
ARFS_PID=$ro_pid arfs_umount "$ro"
ARFS_PID=$rw_pid

# ---- fsync makes a document durable: kill -9 after fsync ----
head -c 200000 /dev/urandom >"$src/durable"
python3 - "$mnt/basic/durable" "$src/durable" >"$ARFS_TMP/fsync.out" 2>&1 <<'PY' &
import os, sys, time
data = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, data)
os.fsync(fd)
print("synced", flush=True)
time.sleep(60)   # killed before it closes: only fsync committed the bytes
PY
writer=$!
for i in $(seq 1 200); do grep -q synced "$ARFS_TMP/fsync.out" && break; sleep 0.05; done
check "fsync returned" grep -q synced "$ARFS_TMP/fsync.out"
dpid=$(daemon_pid)
kill -9 "$dpid"
kill -9 "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
arfs_reap_killed "$mnt"
cp "$src/durable" "$mirror/basic/durable"
check "arrayctl check after kill -9" "$ARFS_BIN/arrayctl" check "$store/basic"
arfs_mount "$store" "$mnt"
check "an fsync'd document survives kill -9 of the daemon" cmp "$mnt/basic/durable" "$src/durable"
check "everything else survives kill -9 too" diff -r "$mnt" "$mirror"

# ---- after unmounting: arrayctl and the DocArray rules agree ----
view=$(mount_view)
arfs_umount "$mnt"
check "arrayctl check passes on every array" bash -c "
	for a in basic uuid updated_deleted newarr; do '$ARFS_BIN/arrayctl' check '$store/'\$a >/dev/null || exit 1; done"
check "arrayctl ls lists the mirror's names" bash -c "
	for a in basic uuid updated_deleted newarr; do
		diff <('$ARFS_BIN/arrayctl' ls '$store/'\$a | awk '{print \$2}' | sort) <(ls '$mirror/'\$a | sort) || exit 1
	done"
check "arrayctl cat gives the mirror's bytes" bash -c "
	for a in basic uuid updated_deleted newarr; do
		for f in \$(ls '$mirror/'\$a); do
			'$ARFS_BIN/arrayctl' cat '$store/'\$a \"\$f\" | cmp -s - '$mirror/'\$a/\"\$f\" || { echo \"\$a/\$f\"; exit 1; }
		done
	done"
check "DocArray's reading rules see the mirror's documents" bash -c "
	for a in basic uuid updated_deleted newarr; do python3 '$here/darules.py' compare --any-order '$store/'\$a '$mirror/'\$a || exit 1; done"

# ---- write errors on a full store surface at close or fsync ----
$root || { arfs_finish; exit; }
mkdir -p "$small"
mount -t tmpfs -o size=4m tmpfs "$small"
"$ARFS_BIN/arrayctl" create "$small/arr"
head -c 1000 /dev/urandom >"$src/doc1"
head -c 1000000 /dev/urandom >"$src/doc2"
head -c 6000000 /dev/urandom >"$src/huge"
"$ARFS_BIN/arrayctl" put "$small/arr" doc1 "$src/doc1"
"$ARFS_BIN/arrayctl" put "$small/arr" doc2 "$src/doc2"
smnt=$ARFS_TMP/smnt
arfs_mount "$small" "$smnt"
check "cp of a new document bigger than the free space fails" \
	bash -c "! cp '$src/huge' '$smnt/arr/huge' 2>'$ARFS_TMP/cp.err' && cat '$ARFS_TMP/cp.err' >&2"
check "cp over an existing document bigger than the free space fails" \
	bash -c "! cp '$src/huge' '$smnt/arr/doc2' 2>'$ARFS_TMP/cp2.err' && cat '$ARFS_TMP/cp2.err' >&2"
check "ENOSPC is returned by write, fsync or close (python, with fsync)" python3 - "$smnt/arr/doc1" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
err = None
try:
    for i in range(6):
        os.write(fd, b"z" * 1000000)
    os.fsync(fd)
except OSError as e:
    err = e
try:
    os.close(fd)
except OSError as e:
    err = err or e
print(f"# error: {err}")
sys.exit(0 if err and err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) else 1)
PY
check "ENOSPC is returned by write or close (python, no fsync)" python3 - "$smnt/arr/doc1" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
err = None
try:
    for i in range(6):
        os.write(fd, b"y" * 1000000)
except OSError as e:
    err = e
try:
    os.close(fd)
except OSError as e:
    err = err or e
print(f"# error: {err}")
sys.exit(0 if err and err.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT) else 1)
PY
arfs_umount "$smnt"
check "arrayctl check of the full store" "$ARFS_BIN/arrayctl" check "$small/arr"
arfs_mount "$small" "$smnt"
check "after failed writes and a remount, doc1 is intact" cmp "$smnt/arr/doc1" "$src/doc1"
check "after failed writes and a remount, doc2 is intact" cmp "$smnt/arr/doc2" "$src/doc2"
arfs_umount "$smnt"
umount "$small"
arfs_finish
