#!/usr/bin/env python3
"""POSIX behaviour that tools and conformance suites expect of documents
and array folders (docs/RELIABILITY.md, "POSIX behaviour").

The checks make the same system calls and expect the same results as the
pjdfstest cases named in each message (written here, not taken from the
suite), on an array of a store mounted with -o key_length=255, where
names up to NAME_MAX bytes are stored. pjdfstest sleeps a second between
two time readings; file times here have nanoseconds, so a short pause is
enough.

  - atime is stored: utimensat sets it (with UTIME_OMIT, mtime < atime,
    nanoseconds, past 2038) and it survives a remount; reading a
    document leaves it as it is (the mount behaves as noatime).
  - ftruncate and open(O_TRUNC) update mtime and ctime (seen before the
    close, after it, after fsync and after a remount).
  - creating, removing and renaming a document update the folder's
    mtime and ctime; opening an existing one with O_CREAT does not;
    times set on the folder by utimensat are kept.
  - names over 255 bytes give ENAMETOOLONG to lookup, stat, unlink,
    truncate, chmod, open(O_CREAT) and rename (either name); a rename
    that fails leaves the document where it was.
  - an open file keeps working after unlink: fstat gives nlink 0, pread
    and fstat give its bytes, also while they are only in the write
    buffer.
A second mount with the default key length (36) checks documents whose
names do not fit a header row yet (kept by the daemon): after unlink an
open descriptor still reads them, and a rename to a 256-byte name or of
a stored document to a name over the key length fails and changes
nothing.
"""
import ctypes
import ctypes.util
import errno
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

PAUSE = 0.05
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path, atime, mtime):
    """utimensat(AT_FDCWD, path, {atime, mtime}, 0); each a (sec, nsec)
    pair, nsec may be UTIME_OMIT or UTIME_NOW. 0 or the errno name."""
    ts = (Timespec * 2)(Timespec(*atime), Timespec(*mtime))
    if _libc.utimensat(AT_FDCWD, path.encode(), ts, 0) == 0:
        return 0
    return errno.errorcode[ctypes.get_errno()]


def name(tag):
    """A 42-character name, the length of pjdfstest's generated names."""
    return ("posix_%s_" % tag).ljust(42, "x")


def err_of(fn, *args):
    """The errno name fn(*args) fails with, or "OK"."""
    try:
        fn(*args)
        return "OK"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def create(path, data=b"", mode=0o644):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, mode)
    if data:
        os.write(fd, data)
    os.close(fd)


def ns(st):
    return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns


def fstat_of(fd):
    """(size, nlink) of fd, or the errno name fstat fails with."""
    try:
        st = os.fstat(fd)
        return st.st_size, st.st_nlink
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def read_of(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def pread_of(fd):
    try:
        return os.pread(fd, 100, 0)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


# ---- atime ----

def check_utimensat(arr):
    p = os.path.join(arr, name("utimes"))
    create(p, b"x")
    date1, date2 = 1900000000, 1950000000
    mtime0 = os.lstat(p).st_mtime_ns
    rc = utimensat(p, (date1, 0), (0, UTIME_OMIT))
    st = os.lstat(p)
    ml.check("utimensat/02: utimensat(atime=DATE1, mtime=UTIME_OMIT) works",
             rc == 0, rc)
    ml.check("utimensat/02: atime reads back DATE1", st.st_atime == date1,
             st.st_atime)
    ml.check("utimensat/02: UTIME_OMIT leaves mtime as it was",
             st.st_mtime_ns == mtime0, (st.st_mtime_ns, mtime0))
    utimensat(p, (0, UTIME_OMIT), (date2, 0))
    st = os.lstat(p)
    ml.check("utimensat/02: UTIME_OMIT for atime keeps DATE1, mtime DATE2",
             (st.st_atime, st.st_mtime) == (date1, date2),
             (st.st_atime, st.st_mtime))

    for a, m in ((100000000, 200000000), (200000000, 100000000)):
        utimensat(p, (a, 0), (m, 0))
        st = os.lstat(p)
        ml.check("utimensat/04: atime %d and mtime %d both read back" % (a, m),
                 (st.st_atime, st.st_mtime) == (a, m),
                 (st.st_atime, st.st_mtime))

    utimensat(p, (100000000, 100000000), (200000000, 200000000))
    st = os.lstat(p)
    ml.check("utimensat/08: sub-second atime and mtime (0.1 s, 0.2 s) kept",
             st.st_atime_ns % 10**9 == 100000000 and
             st.st_mtime_ns % 10**9 == 200000000,
             (st.st_atime_ns, st.st_mtime_ns))

    utimensat(p, (2**31, 0), (2**32, 0))
    st = os.lstat(p)
    ml.check("utimensat/09: atime 2^31 and mtime 2^32 (past 2038) kept",
             (st.st_atime, st.st_mtime) == (2**31, 2**32),
             (st.st_atime, st.st_mtime))

    before = ns(os.lstat(p))
    with open(p, "rb") as f:
        f.read()
    after = ns(os.lstat(p))
    ml.check("a read leaves atime as it is (noatime; docs/RELIABILITY.md)",
             after[0] == before[0], (before[0], after[0]))
    return p


# ---- truncation ----

def check_truncate_times(arr):
    p = os.path.join(arr, name("ftrunc"))
    create(p)
    st1 = os.stat(p)
    time.sleep(PAUSE)
    fd = os.open(p, os.O_RDWR)
    os.ftruncate(fd, 123)
    st_open = os.fstat(fd)
    os.close(fd)
    st2 = os.stat(p)
    ml.check("ftruncate/00: fstat before close shows a newer mtime and ctime",
             st_open.st_mtime_ns > st1.st_mtime_ns and
             st_open.st_ctime_ns > st1.st_ctime_ns, (ns(st1), ns(st_open)))
    ml.check("ftruncate/00: after close ctime is newer",
             st2.st_ctime_ns > st1.st_ctime_ns, (st1.st_ctime_ns,
                                                  st2.st_ctime_ns))
    ml.check("ftruncate/00: after close mtime is newer, size 123",
             st2.st_mtime_ns > st1.st_mtime_ns and st2.st_size == 123,
             (st1.st_mtime_ns, st2.st_mtime_ns, st2.st_size))
    ml.check("ftruncate/00: the times fstat showed are the ones kept",
             st2.st_mtime_ns == st_open.st_mtime_ns,
             (st_open.st_mtime_ns, st2.st_mtime_ns))

    time.sleep(PAUSE)
    fd = os.open(p, os.O_WRONLY)
    os.ftruncate(fd, 7)
    os.fsync(fd)
    st3 = os.stat(p)
    os.close(fd)
    ml.check("ftruncate then fsync: mtime and ctime newer, size 7",
             st3.st_mtime_ns > st2.st_mtime_ns and
             st3.st_ctime_ns > st2.st_ctime_ns and st3.st_size == 7,
             (ns(st2), ns(st3), st3.st_size))

    q = os.path.join(arr, name("otrunc"))
    with open(q, "wb") as f:
        f.write(b"test\n")
    st1 = os.stat(q)
    time.sleep(PAUSE)
    os.close(os.open(q, os.O_WRONLY | os.O_TRUNC))
    st2 = os.stat(q)
    ml.check("open/00: open(O_WRONLY|O_TRUNC) makes mtime newer",
             st2.st_mtime_ns > st1.st_mtime_ns, (st1.st_mtime_ns,
                                                  st2.st_mtime_ns))
    ml.check("open/00: open(O_WRONLY|O_TRUNC) makes ctime newer",
             st2.st_ctime_ns > st1.st_ctime_ns, (st1.st_ctime_ns,
                                                  st2.st_ctime_ns))
    ml.check("open/00: size 0 after O_TRUNC", st2.st_size == 0, st2.st_size)

    # an empty file truncated again still gets new times (POSIX: O_TRUNC
    # marks them whenever the file existed)
    time.sleep(PAUSE)
    os.close(os.open(q, os.O_WRONLY | os.O_TRUNC))
    st3 = os.stat(q)
    ml.check("open(O_TRUNC) of an empty file makes mtime and ctime newer",
             st3.st_mtime_ns > st2.st_mtime_ns and
             st3.st_ctime_ns > st2.st_ctime_ns, (ns(st2), ns(st3)))
    return p, st3.st_mtime_ns


# ---- folder times ----

def check_folder_times(arr):
    n0, n1 = os.path.join(arr, name("dir0")), os.path.join(arr, name("dir1"))
    t0 = os.stat(arr).st_ctime_ns
    time.sleep(PAUSE)
    fd = os.open(n0, os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    st, d = os.stat(n0), os.stat(arr)
    ml.check("open/00: a new file's atime, mtime, ctime are after the "
             "folder's earlier ctime", min(ns(st)) > t0, (t0, ns(st)))
    ml.check("open/00: creating a file makes the folder's mtime newer",
             d.st_mtime_ns > t0, (t0, d.st_mtime_ns))
    ml.check("open/00: creating a file makes the folder's ctime newer",
             d.st_ctime_ns > t0, (t0, d.st_ctime_ns))

    time.sleep(PAUSE)
    os.close(os.open(n0, os.O_CREAT | os.O_RDONLY, 0o644))
    d2 = os.stat(arr)
    ml.check("open/00: open(O_CREAT) of an existing file leaves the "
             "folder's mtime and ctime", (d2.st_mtime_ns, d2.st_ctime_ns) ==
             (d.st_mtime_ns, d.st_ctime_ns), (ns(d), ns(d2)))

    f0 = os.stat(n0)
    time.sleep(PAUSE)
    os.rename(n0, n1)
    d3 = os.stat(arr)
    f1 = os.stat(n1)
    ml.check("rename/00: a renamed file's ctime is newer, its mtime kept",
             f1.st_ctime_ns > f0.st_ctime_ns and
             f1.st_mtime_ns == f0.st_mtime_ns, (ns(f0), ns(f1)))
    ml.check("rename/23: renaming a file makes the folder's mtime and ctime "
             "newer", d3.st_mtime_ns > d2.st_mtime_ns and
             d3.st_ctime_ns > d2.st_ctime_ns, (ns(d2), ns(d3)))

    create(n0, b"other")
    d4 = os.stat(arr)
    time.sleep(PAUSE)
    os.rename(n0, n1)  # over an existing file
    d5 = os.stat(arr)
    ml.check("rename over an existing file makes the folder's mtime and "
             "ctime newer", d5.st_mtime_ns > d4.st_mtime_ns and
             d5.st_ctime_ns > d4.st_ctime_ns, (ns(d4), ns(d5)))

    time.sleep(PAUSE)
    os.unlink(n1)
    d6 = os.stat(arr)
    ml.check("unlink/00: removing a file makes the folder's mtime newer",
             d6.st_mtime_ns > d5.st_mtime_ns, (d5.st_mtime_ns,
                                               d6.st_mtime_ns))
    ml.check("unlink/00: removing a file makes the folder's ctime newer",
             d6.st_ctime_ns > d5.st_ctime_ns, (d5.st_ctime_ns,
                                               d6.st_ctime_ns))

    before = time.time_ns()
    rc = utimensat(arr, (300000000, 5), (400000000, 6))
    d7 = os.stat(arr)
    ml.check("utimensat on the folder works", rc == 0, rc)
    ml.check("the folder keeps the atime and mtime utimensat set",
             (d7.st_atime_ns, d7.st_mtime_ns) ==
             (300000000 * 10**9 + 5, 400000000 * 10**9 + 6),
             (d7.st_atime_ns, d7.st_mtime_ns))
    ml.check("utimensat makes the folder's ctime now",
             d7.st_ctime_ns >= before - 20 * 10**6,
             (before, d7.st_ctime_ns))
    rc = utimensat(arr, (0, UTIME_OMIT), (0, UTIME_NOW))
    d8 = os.stat(arr)
    ml.check("utimensat(UTIME_OMIT, UTIME_NOW) on the folder keeps its atime",
             rc == 0 and d8.st_atime_ns == d7.st_atime_ns and
             d8.st_mtime_ns >= before - 20 * 10**6, (rc, ns(d7), ns(d8)))
    return d7.st_atime_ns


# ---- names over NAME_MAX ----

def check_long_names(arr):
    nx = os.path.join(arr, "n" * 255)
    nxx = nx + "x"
    n0 = os.path.join(arr, name("long"))
    ml.check("unlink/02: create of a 255-byte name works",
             err_of(create, nx) == "OK")
    ml.check("truncate/02: truncate of a 255-byte name to 123",
             err_of(os.truncate, nx, 123) == "OK" and
             os.stat(nx).st_size == 123)
    ml.check("chmod/02: chmod of a 255-byte name to 0620",
             err_of(os.chmod, nx, 0o620) == "OK" and
             os.stat(nx).st_mode & 0o7777 == 0o620)
    ml.check("unlink/02: unlink of a 255-byte name works",
             err_of(os.unlink, nx) == "OK")
    ml.check("unlink/02: unlink again gives ENOENT",
             err_of(os.unlink, nx) == "ENOENT", err_of(os.unlink, nx))
    for desc, fn, args in (
            ("unlink/02: unlink", os.unlink, (nxx,)),
            ("truncate/02: truncate", os.truncate, (nxx, 123)),
            ("chmod/02: chmod", os.chmod, (nxx, 0o620)),
            ("lookup (stat)", os.stat, (nxx,)),
            ("open(O_CREAT)", create, (nxx,)),
            ("utimensat", os.utime, (nxx, (1, 1)))):
        got = err_of(fn, *args)
        ml.check("%s of a 256-byte name gives ENAMETOOLONG" % desc,
                 got == "ENAMETOOLONG", got)
    fd = os.open(n0, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b"data")
    ml.check("ftruncate/02: ftruncate of an open file works",
             err_of(os.ftruncate, fd, 2) == "OK")
    os.close(fd)
    got = err_of(os.rename, n0, nxx)
    ml.check("rename/01: rename to a 256-byte name gives ENAMETOOLONG",
             got == "ENAMETOOLONG", got)
    ml.check("rename/01: after it the file is still there, unchanged",
             read_of(n0) == b"da" and not os.path.exists(nx), read_of(n0))
    if os.path.exists(n0):
        os.unlink(n0)
    got = err_of(os.rename, nxx, n0)
    ml.check("rename/01: rename from a 256-byte name gives ENAMETOOLONG",
             got == "ENAMETOOLONG", got)
    ml.check("no file was left behind by the long names",
             sorted(os.listdir(arr)) == sorted(
                 x for x in os.listdir(arr) if len(x) <= 255))


# ---- open files after unlink ----

def check_unlinked_open(arr, label):
    n0 = os.path.join(arr, name("unl14"))
    create(n0)
    fd = os.open(n0, os.O_WRONLY)
    os.write(fd, b"Hello, World!")
    os.close(fd)
    fd = os.open(n0, os.O_RDONLY)
    os.unlink(n0)
    got = fstat_of(fd)
    ml.check("unlink/14%s: fstat of an open file after unlink: size 13, "
             "nlink 0" % label, got == (13, 0), got)
    got = pread_of(fd)
    ml.check("unlink/14%s: it still reads its bytes" % label,
             got == b"Hello, World!", got)
    os.close(fd)

    create(n0)
    fd = os.open(n0, os.O_RDWR)
    os.write(fd, b"Hello,_World!")  # only in the write buffer so far
    os.unlink(n0)
    got = pread_of(fd)
    ml.check("unlink/14%s: pread after unlink of a file being written" %
             label, got == b"Hello,_World!", got)
    got = fstat_of(fd)
    ml.check("unlink/14%s: fstat after unlink of a file being written: "
             "size 13, nlink 0" % label, got == (13, 0), got)
    os.write(fd, b"+more")
    got = pread_of(fd)
    ml.check("writes after unlink are read back by the same descriptor%s" %
             label, got == b"Hello,_World!+more", got)
    os.close(fd)
    ml.check("the unlinked file is gone after close%s" % label,
             err_of(os.stat, n0) == "ENOENT")

    # a reader that outlives the writer
    create(n0)
    w = os.open(n0, os.O_RDWR)
    os.write(w, b"written, never stored")
    r = os.open(n0, os.O_RDONLY)
    os.unlink(n0)
    os.close(w)
    got = pread_of(r)
    ml.check("after unlink, a reader still reads what a writer wrote before "
             "closing%s" % label, got == b"written, never stored", got)
    got = fstat_of(r)
    ml.check("and its fstat shows size 21, nlink 0%s" % label,
             got == (21, 0), got)
    os.close(r)


def check_pending(arr):
    """Key length 36: 42-character names are kept by the daemon until
    renamed to a name that fits."""
    p = os.path.join(arr, name("pend"))
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b"not stored yet")
    r = os.open(p, os.O_RDONLY)
    os.unlink(p)
    got = fstat_of(fd)
    ml.check("K=36: fstat of an unstored document after unlink works, "
             "size 14, nlink 0", got == (14, 0), got)
    got = pread_of(fd)
    ml.check("K=36: pread of an unstored document after unlink",
             got == b"not stored yet", got)
    os.close(fd)
    got = pread_of(r)
    ml.check("K=36: a read-only descriptor still reads it after the "
             "writer's close", got == b"not stored yet", got)
    got = fstat_of(r)
    ml.check("K=36: and fstat works on it (size 14, nlink 0)",
             got == (14, 0), got)
    os.close(r)
    ml.check("K=36: gone after the last close",
             err_of(os.stat, p) == "ENOENT" and name("pend") not in
             os.listdir(arr))

    check_unlinked_open(arr, " (K=36, name too long for a row)")

    n0 = os.path.join(arr, name("r01"))
    nxx = os.path.join(arr, "n" * 256)
    create(n0, b"pending")
    got = err_of(os.rename, n0, nxx)
    ml.check("K=36 rename/01: rename of an unstored document to a 256-byte "
             "name gives ENAMETOOLONG", got == "ENAMETOOLONG", got)
    ml.check("K=36 rename/01: it keeps its name and bytes",
             read_of(n0) == b"pending", read_of(n0))
    for x in (n0, nxx[:-1]):
        if os.path.exists(x):
            os.unlink(x)

    short = os.path.join(arr, "short")
    with open(short, "wb") as f:
        f.write(b"stored")
    got = err_of(os.rename, short, os.path.join(arr, name("toolong")))
    ml.check("K=36: rename of a stored document to a name over the key "
             "length fails with ENAMETOOLONG", got == "ENAMETOOLONG", got)
    ml.check("K=36: after it the document is still there, unchanged, and "
             "no long name appeared", read_of(short) == b"stored"
             and sorted(os.listdir(arr)) == ["short"], os.listdir(arr))


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("posix")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    m = ml.Mount(store, mnt, opts=("key_length=255",))
    arr = os.path.join(mnt, "a")
    os.mkdir(arr)
    ut = check_utimensat(arr)
    trunc, trunc_mtime = check_truncate_times(arr)
    folder_atime = check_folder_times(arr)
    check_long_names(arr)
    check_unlinked_open(arr, "")
    m.umount()

    m = ml.Mount(store, mnt, opts=("key_length=255",))
    st = os.lstat(ut)
    ml.check("after a remount atime and mtime set by utimensat are kept",
             (st.st_atime, st.st_mtime) == (2**31, 2**32),
             (st.st_atime, st.st_mtime))
    ml.check("after a remount the O_TRUNC mtime is kept",
             os.stat(os.path.join(arr, name("otrunc"))).st_mtime_ns ==
             trunc_mtime)
    ml.check("after a remount the folder keeps its atime",
             os.stat(arr).st_atime_ns == folder_atime,
             (os.stat(arr).st_atime_ns, folder_atime))
    r = ml.arrayctl("check", os.path.join(store, "a"))
    ml.check("arrayctl check is clean", r.returncode == 0, r.stdout)
    m.umount()

    store36 = os.path.join(tmp, "store36")
    os.makedirs(store36)
    m = ml.Mount(store36, mnt)
    arr = os.path.join(mnt, "b")
    os.mkdir(arr)
    check_pending(arr)
    m.umount()
    ml.finish()


if __name__ == "__main__":
    main()
