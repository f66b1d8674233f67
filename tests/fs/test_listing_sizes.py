#!/usr/bin/env python3
"""A listing never leaves the kernel a stale size.

READDIRPLUS hands the kernel each entry's attributes, which it keeps for
the attribute timeout. A document open for writing has its new size in
its write buffer, not yet in the array: a listing taken then must answer
that size (as lookup does), or after the writer's close the kernel still
believes the old size and every read of the new version stops short.
The same for a document rewritten in place (same row, new size) between
opendir and readdir.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402


def sizes_after(path, want):
    st = os.stat(path).st_size
    with open(path, "rb") as f:
        n = len(f.read())
    return st == want and n == want, "stat %d, read %d, want %d" % (st, n, want)


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("listing")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    m = ml.Mount(store, mnt, opts=("auto_unmount",))
    arr = os.path.join(mnt, "a")
    os.mkdir(arr)
    path = os.path.join(arr, "doc")
    with open(path, "wb") as f:
        f.write(b"x" * 100)
    os.stat(path)

    # listed while open for writing, in place (no O_TRUNC)
    fd = os.open(path, os.O_WRONLY)
    os.write(fd, b"y" * 5000)
    names = [e.name for e in os.scandir(arr)]
    os.close(fd)
    ml.check("listed while written: the entry is there", names == ["doc"],
             names)
    ok, why = sizes_after(path, 5000)
    ml.check("listed while written: stat and read give the new size", ok,
             why)

    # rewritten in place between opendir and readdir
    it = os.scandir(arr)
    fd = os.open(path, os.O_WRONLY)
    os.write(fd, b"z" * 9000)
    os.close(fd)
    names = [e.name for e in it]
    ok, why = sizes_after(path, 9000)
    ml.check("rewritten between opendir and readdir: the new size", ok, why)

    # and shrunk while listed
    fd = os.open(path, os.O_WRONLY)
    os.write(fd, b"w" * 10)
    os.ftruncate(fd, 10)
    names = [e.name for e in os.scandir(arr)]
    os.close(fd)
    ok, why = sizes_after(path, 10)
    ml.check("shrunk while listed: the new size", ok, why)
    ml.check("unmount", m.umount() == 0)
    ml.finish()


if __name__ == "__main__":
    main()
