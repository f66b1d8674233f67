#!/usr/bin/env python3
"""Crash tests of the mounted daemon (docs/RELIABILITY.md, promise 1).

Each round mounts the store, starts two writer processes (documents
written whole: create/truncate, write, close; every third one fsync'd
before close; some written to NAME.tmp and renamed over NAME, some
deleted), kills the arrayfs process with SIGKILL at a random moment
(fixed seed), cleans the dead mount with fusermount3 -u -z, remounts and
checks every document against the writers' journals:

  - every listed document is exactly one version of its own name: never
    torn, truncated or another document's bytes (or empty: created, the
    daemon killed before its first version was committed);
  - a version whose fsync returned 0 is there, or a later version (a
    delete after it lifts the promise);
  - arrayctl check finds nothing wrong.

Fixed seed, ARFS_CRASH_ROUNDS rounds (default 15), each under ~3 s.
"""
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

NAMES = 10


def writer(mnt, wid, start_version, journal, seed):
    """Write documents until the mount dies; journal what is promised."""
    rnd = random.Random(seed)
    version = start_version
    jf = open(journal, "a", buffering=1)

    def note(line):
        jf.write(line + "\n")
        jf.flush()
        os.fsync(jf.fileno())

    try:
        while True:
            name = "w%d_k%02d" % (wid, rnd.randrange(NAMES))
            path = os.path.join(mnt, name)
            op = rnd.randrange(10)
            version += 1
            size = rnd.choice((24, 100, 4000, 5000, 70000, 300000))
            data = ml.content(name, version, size)
            if op == 0:
                note("D %s" % name)  # before: the unlink may commit and fail
                os.unlink(path)
                continue
            target = path + ".tmp" if op <= 2 else path
            # No O_TRUNC: a truncate with no writer open commits at once;
            # with the handle open the whole version commits at close.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, data)
            os.ftruncate(fd, len(data))
            sync = rnd.randrange(3) == 0
            if sync:
                os.fsync(fd)
                if target == path:
                    note("F %s %d" % (name, version))
            os.close(fd)
            if target != path:
                os.rename(target, path)
            note("C %s %d" % (name, version))
    except OSError:
        pass  # the daemon is gone: ENOTCONN and friends


def read_journal(path, promised):
    """Apply a writer's journal; returns the number of closed writes."""
    closed = 0
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) < 2 or (w[0] != "D" and len(w) < 3):
                continue  # a line cut by the end of the round
            if w[0] == "C":
                closed += 1
            if w[0] == "D":
                promised.pop(w[1], None)
            elif w[0] == "F":
                promised[w[1]] = max(promised.get(w[1], 0), int(w[2]))
    return closed


def verify(arr, promised, round_no):
    """Check every document; returns (documents, promised ones checked)."""
    bad, docs, kept = [], 0, 0
    names = set(os.listdir(arr))
    for name in sorted(names):
        with open(os.path.join(arr, name), "rb") as f:
            data = f.read()
        base = name[:-4] if name.endswith(".tmp") else name
        v = ml.version_of(base, data)
        docs += 1
        if v is None and not (data == b"" and name not in promised):
            # (an empty file is a create whose first write never came)
            bad.append("%s: %d bytes, not a whole version" % (name, len(data)))
    for name, v in promised.items():
        if name not in names:
            bad.append("%s: fsync'd version %d lost (missing)" % (name, v))
            continue
        with open(os.path.join(arr, name), "rb") as f:
            got = ml.version_of(name, f.read())
        if got is None or got < v:
            bad.append("%s: fsync'd version %d, found %s" % (name, v, got))
        else:
            kept += 1
    ml.check("round %d: %d documents whole, %d fsync'd versions kept"
             % (round_no, docs, kept), not bad, "; ".join(bad[:5]))
    return docs, kept


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        mnt, wid, start, journal, seed = sys.argv[2:7]
        writer(mnt, int(wid), int(start), journal, int(seed))
        return
    ml.skip_without_fuse()
    rounds = int(os.environ.get("ARFS_CRASH_ROUNDS", "15"))
    tmp = ml.scratch("crash")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    arr = os.path.join(mnt, "a")
    m = ml.Mount(store, mnt)
    os.mkdir(arr)
    m.umount()
    rnd = random.Random(0xC0FFEE)
    promised = {}
    total_docs = total_kept = kills = writes = 0
    t0 = time.time()
    for r in range(1, rounds + 1):
        m = ml.Mount(store, mnt)
        journals = [os.path.join(tmp, "journal%d" % w) for w in range(2)]
        writers = [subprocess.Popen([sys.executable, __file__, "--writer", arr,
                                     str(w), str(r * 10**6 + w * 10**5),
                                     journals[w], str(rnd.randrange(1 << 30))])
                   for w in range(2)]
        time.sleep(rnd.uniform(0.2, 1.5))
        alive = m.alive()
        m.kill9()
        kills += alive
        for w in writers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
                ml.check("round %d: writer ends after the daemon dies" % r, False)
        for j in journals:
            writes += read_journal(j, promised)
            os.unlink(j)
        if not ml.check("round %d: the daemon was alive until killed" % r, alive):
            break
        m = ml.Mount(store, mnt)
        docs, kept = verify(arr, promised, r)
        total_docs += docs
        total_kept += kept
        res = ml.arrayctl("check", os.path.join(store, "a"))
        ml.check("round %d: arrayctl check" % r, res.returncode == 0,
                 res.stdout.decode(errors="replace")[-500:])
        m.umount()
    res = ml.arrayctl("check", os.path.join(store, "a"))
    ml.check("arrayctl check after a clean unmount", res.returncode == 0,
             res.stdout.decode(errors="replace")[-500:])
    print("# %d kill -9 rounds in %.0f s: %d documents written, %d checked "
          "after remounts, %d fsync'd versions kept" %
          (kills, time.time() - t0, writes, total_docs, total_kept))
    ml.finish()


if __name__ == "__main__":
    main()
