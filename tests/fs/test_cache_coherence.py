#!/usr/bin/env python3
"""What the kernel caches never hides a change.

The kernel keeps entries, attributes, pages and listings of the mount
(long timeouts on a read-write mount, keep_cache, cache_readdir). Each
check here first makes the kernel cache the old state (ls, stat, a read),
then changes it through the read-write mount, and asks again:
  - through the same mount the change shows at once (stat, read, ls), for
    documents and for the block files of a segment group after a commit
    that renumbers them;
  - through a read-only mount of the same store it shows within the
    read-only mount's documented delay (arrayfs(1): about two seconds;
    checked with a deadline of DELAY seconds).
"""
import errno
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

DELAY = 3.0


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def short(d):
    """A state for a message: sizes and the first bytes."""
    return {k: v and (v[0], v[1][:8]) for k, v in d.items()}


def state(arr):
    """{name: (st_size, bytes)} of a folder, as ls, stat and cat see it."""
    out = {}
    for name in sorted(os.listdir(arr)):
        p = os.path.join(arr, name)
        try:
            out[name] = (os.stat(p).st_size, read(p))
        except FileNotFoundError:
            out[name] = None
    return out


def warm(arr):
    """Make the kernel cache the folder: listing, entries, attrs, pages."""
    state(arr)
    subprocess.run(["ls", "-l", arr], stdout=subprocess.DEVNULL, check=False)
    return state(arr)


def documents(rw, ro):
    arr = os.path.join(rw, "a")
    write(os.path.join(arr, "keep"), b"k" * 100)
    write(os.path.join(arr, "grow"), b"g" * 10)
    write(os.path.join(arr, "gone"), b"x" * 7)
    write(os.path.join(arr, "old"), b"o" * 5)
    write(os.path.join(arr, "swap"), b"1" * 3000)
    model = warm(arr)
    ml.check("documents: the mount shows what was written",
             model == {"keep": (100, b"k" * 100), "grow": (10, b"g" * 10),
                       "gone": (7, b"x" * 7), "old": (5, b"o" * 5),
                       "swap": (3000, b"1" * 3000)}, short(model))
    # the read-only mount caches the same state
    time.sleep(2.2)
    roarr = os.path.join(ro, "a")
    got = warm(roarr)
    ml.check("read-only mount: the same documents", got == model, short(got))

    # changes through the read-write mount, each seen at once there
    write(os.path.join(arr, "grow"), b"G" * 5000)
    model["grow"] = (5000, b"G" * 5000)
    ml.check("rewritten in place: stat gives the new size at once",
             os.stat(os.path.join(arr, "grow")).st_size == 5000)
    ml.check("rewritten in place: a read gives the new bytes at once",
             read(os.path.join(arr, "grow")) == b"G" * 5000)
    write(os.path.join(arr, "new"), b"n" * 42)
    model["new"] = (42, b"n" * 42)
    ml.check("created: ls shows it at once",
             "new" in os.listdir(arr), os.listdir(arr))
    os.unlink(os.path.join(arr, "gone"))
    del model["gone"]
    ml.check("deleted: ls no longer shows it",
             "gone" not in os.listdir(arr), os.listdir(arr))
    ok = False
    try:
        os.stat(os.path.join(arr, "gone"))
    except OSError as e:
        ok = e.errno == errno.ENOENT
    ml.check("deleted: stat fails with ENOENT at once", ok)
    os.rename(os.path.join(arr, "old"), os.path.join(arr, "renamed"))
    model["renamed"] = model.pop("old")
    # replaced the way rsync and editors do: a temporary name renamed over
    tmp = os.path.join(arr, ".swap.tmp-with-a-name-too-long-for-a-header-row")
    write(tmp, b"2" * 20)
    os.rename(tmp, os.path.join(arr, "swap"))
    model["swap"] = (20, b"2" * 20)
    got = state(arr)
    ml.check("read-write mount: ls, stat and read show every change at once",
             got == model, short(got))

    # the read-only mount follows within its delay
    t0 = time.monotonic()
    while True:
        got = state(roarr)
        if got == model or time.monotonic() - t0 > DELAY:
            break
        time.sleep(0.1)
    ml.check("read-only mount: every change shows within %.0f s (%.2f s)"
             % (DELAY, time.monotonic() - t0), got == model, short(got))


def groups(rw, tmp):
    col = os.path.join(rw, "small", "n")
    b0, b1 = os.path.join(col, "0000.000000"), os.path.join(col, "0000.000001")
    write(b0, b"10\n20\n30\n")
    before = warm(col)
    ml.check("group: one block", before == {"0000.000000": (9, b"10\n20\n30\n")},
             before)
    write(b1, b"4\n")
    got = state(col)
    ml.check("group: a new block file shows at once (ls, stat, read)",
             got == {"0000.000000": (9, b"10\n20\n30\n"),
                     "0000.000001": (2, b"4\n")}, short(got))
    warm(col)
    # a commit that renumbers: the second block becomes 0000.000000
    os.unlink(b0)
    got = state(col)
    ml.check("group: after removing the first block, the second is "
             "0000.000000 at once", got == {"0000.000000": (2, b"4\n")},
             short(got))
    ok = False
    try:
        os.stat(b1)
    except OSError as e:
        ok = e.errno == errno.ENOENT
    ml.check("group: the old name of the renumbered block is gone", ok)
    write(b0, b"123456\n")
    ml.check("group: a block rewritten whole: stat at once",
             os.stat(b0).st_size == 7)
    ml.check("group: a block rewritten whole: read at once",
             read(b0) == b"123456\n")


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("coherence")
    store = os.path.join(tmp, "store")
    os.makedirs(store)
    with open(os.path.join(tmp, "small.csv"), "w") as f:
        f.write("n\n1\n2\n3\n")
    subprocess.run([os.path.join(ml.BIN, "arrayctl"), "import",
                    os.path.join(tmp, "small.csv"),
                    os.path.join(store, "small")], check=True,
                   stdout=subprocess.DEVNULL)
    rwm = os.path.join(tmp, "rw")
    rw = ml.Mount(store, rwm, opts=("auto_unmount",))
    os.mkdir(os.path.join(rwm, "a"))
    rom = os.path.join(tmp, "ro")
    ro = ml.Mount(store, rom, opts=("auto_unmount", "ro"))
    documents(rwm, rom)
    groups(rwm, tmp)
    ml.check("unmount read-only", ro.umount() == 0)
    ml.check("unmount read-write", rw.umount() == 0)
    shutil.rmtree(store, ignore_errors=True)
    ml.finish()


if __name__ == "__main__":
    main()
