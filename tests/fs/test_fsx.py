#!/usr/bin/env python3
"""A random-operation model test of document files on the mount, in the
spirit of fsx (docs/RELIABILITY.md, promise 1).

For each fixed seed, one document in the mount and one plain file on the
native file system (the model) receive the same random operations:
writes of random size at random offsets (past the end too, leaving a
zero-filled gap), truncates (shrinking and growing), reads, mmap reads,
fsync, and close + reopen (which commits the document). After every
operation the whole document is compared with the model: its size by
fstat and stat, its bytes by pread; after a reopen through a new handle.
At the end the file is unmounted, remounted and compared once more.

ARFS_FSX_OPS operations per seed (default 3000), ARFS_FSX_SEEDS seeds
(default 3), within ARFS_FSX_SECONDS (default 60: each seed stops at its
share, so a sanitized build on a loaded machine stays bounded; at least
300 operations per seed are required). The first difference stops the
run with the operation log.
"""
import mmap
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

MAXLEN = 256 * 1024


class Pair:
    """The same file on the mount (m) and on the native fs (n)."""

    def __init__(self, mpath, npath):
        self.mpath, self.npath = mpath, npath
        self.m = self.n = None
        self.open()

    def open(self):
        self.m = os.open(self.mpath, os.O_RDWR | os.O_CREAT, 0o644)
        self.n = os.open(self.npath, os.O_RDWR | os.O_CREAT, 0o644)

    def close(self):
        os.close(self.m)
        os.close(self.n)

    def size(self):
        return os.fstat(self.n).st_size

    def compare(self, fresh=False):
        """None when equal, else a description of the first difference."""
        want_size = os.fstat(self.n).st_size
        for how, got in (("fstat", os.fstat(self.m).st_size),
                         ("stat", os.stat(self.mpath).st_size)):
            if got != want_size:
                return "%s size %d, model %d" % (how, got, want_size)
        if fresh:
            with open(self.mpath, "rb") as f:
                got = f.read()
        else:
            got = os.pread(self.m, want_size + 1, 0)
        want = os.pread(self.n, want_size + 1, 0)
        if got != want:
            i = next((k for k in range(min(len(got), len(want)))
                      if got[k] != want[k]), min(len(got), len(want)))
            return "bytes differ from offset %d (len %d, model %d)" % (
                i, len(got), len(want))
        return None


def run(seed, mnt_arr, native, nops, deadline):
    rnd = random.Random(seed)
    name = "fsx%d" % seed
    p = Pair(os.path.join(mnt_arr, name), os.path.join(native, name))
    log, counts = [], {}
    for i in range(nops):
        if time.time() > deadline:
            break  # bounded time on a slow (sanitized, loaded) machine
        size = p.size()
        r = rnd.random()
        if r < 0.40:
            off = rnd.randrange(0, min(size + 8192, MAXLEN))
            n = rnd.choice((1, 7, 100, 4096, rnd.randrange(1, 70000)))
            n = min(n, MAXLEN - off)
            data = rnd.randbytes(n) if hasattr(rnd, "randbytes") else \
                bytes(rnd.getrandbits(8) for _ in range(n))
            op = "write %d@%d" % (n, off)
            for fd in (p.m, p.n):
                os.pwrite(fd, data, off)
        elif r < 0.50:
            n = rnd.choice((0, rnd.randrange(0, size + 1),
                            rnd.randrange(0, MAXLEN)))
            op = "truncate %d" % n
            for fd in (p.m, p.n):
                os.ftruncate(fd, n)
        elif r < 0.70:
            off = rnd.randrange(0, size + 100)
            n = rnd.randrange(1, 70000)
            op = "read %d@%d" % (n, off)
            if os.pread(p.m, n, off) != os.pread(p.n, n, off):
                return fail(name, i, op, "read differs", log)
        elif r < 0.80:
            op = "mmap read"
            if size:
                off = rnd.randrange(0, size)
                n = rnd.randrange(1, size - off + 1)
                with mmap.mmap(p.m, size, mmap.MAP_SHARED, mmap.PROT_READ) as mm:
                    got = mm[off:off + n]
                op = "mmap read %d@%d" % (n, off)
                if got != os.pread(p.n, n, off):
                    return fail(name, i, op, "mmap read differs", log)
        elif r < 0.85:
            op = "fsync"
            os.fsync(p.m)
        else:
            op = "close+reopen"
            p.close()
            p.open()
        counts[op.split()[0]] = counts.get(op.split()[0], 0) + 1
        log.append(op)
        diff = p.compare(fresh=op == "close+reopen")
        if diff:
            return fail(name, i, op, diff, log)
    p.close()
    return counts, i + 1 if nops else 0


def fail(name, i, op, what, log):
    ml.check("%s: operation %d (%s)" % (name, i, op), False, what)
    print("# last operations: " + "; ".join(log[-12:]))
    return None


def main():
    ml.skip_without_fuse()
    nops = int(os.environ.get("ARFS_FSX_OPS", "3000"))
    seeds = int(os.environ.get("ARFS_FSX_SEEDS", "3"))
    tmp = ml.scratch("fsx")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    native = os.path.join(tmp, "native")
    os.makedirs(store)
    os.makedirs(native)
    m = ml.Mount(store, mnt)
    arr = os.path.join(mnt, "a")
    os.mkdir(arr)
    total, t0 = 0, time.time()
    limit = float(os.environ.get("ARFS_FSX_SECONDS", "60"))
    for seed in range(1, seeds + 1):
        res = run(seed, arr, native, nops, t0 + limit * seed / seeds)
        if res is None:
            break
        counts, done = res
        total += done
        ml.check("seed %d: %d operations equal to the model (%s)" % (
            seed, done, ", ".join("%s %d" % kv for kv in sorted(counts.items()))),
            done >= min(nops, 300))
    m.umount()
    m = ml.Mount(store, mnt)
    for seed in range(1, seeds + 1):
        name = "fsx%d" % seed
        with open(os.path.join(arr, name), "rb") as f, \
                open(os.path.join(native, name), "rb") as g:
            ml.check("%s equal to the model after a remount" % name,
                     f.read() == g.read())
    m.umount()
    res = ml.arrayctl("check", os.path.join(store, "a"))
    ml.check("arrayctl check", res.returncode == 0, res.stdout[-300:])
    print("# %d operations in %.0f s" % (total, time.time() - t0))
    ml.finish()


if __name__ == "__main__":
    main()
