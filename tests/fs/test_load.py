#!/usr/bin/env python3
"""Load on the mount (docs/RELIABILITY.md, promise 5).

For ARFS_LOAD_SECONDS (default 45) these processes run at once:
  - 4 document writers, each owning 16 names: whole versions written
    (open, write, ftruncate, close; one in four fsync'd), half the names
    always through NAME.tmp renamed over NAME, half rewritten in place,
    some deleted and written again;
  - 3 document readers: list the folder, read random documents replaced
    by rename and check that each is exactly one version of its own name
    (a document rewritten in place may show a write in progress, as on
    any POSIX file system: those are checked at the end);
  - 1 group block writer replacing a block file of a segment group
    column (all lines one value per version; a temporary renamed onto the
    block, as rsync does) and 1 group reader checking that every read of
    that block shows a single whole version.
At the end every writer's last closed version must be what the mount
shows (nothing lost), arrayctl check passes on the array and the group,
and the daemon's RSS and open descriptors, sampled at a third of the run
and at the end, stay within budget: no growth with the number of
operations (documents: end <= third * 1.25 + 16 MiB), descriptors within
the block manager's cap of 128 segment descriptors plus 32, RSS below the
pool size (-o pool=64M) plus 96 MiB. (Each group commit retires a view
of the group, freed once no call and no open file uses it;
test_group_write.sh checks that memory does not grow with commits.)
"""
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

WRITERS, READERS, NAMES = 4, 3, 8  # NAMES atomic + NAMES in place each
POOL_MB = 64


def doc_writer(arr, wid, deadline, out):
    rnd = random.Random(wid)
    last, ops, version = {}, 0, wid * 10**7
    while time.time() < deadline:
        atomic = rnd.randrange(2) == 0
        name = "w%d_%s%02d" % (wid, "a" if atomic else "i", rnd.randrange(NAMES))
        path = os.path.join(arr, name)
        version += 1
        ops += 1
        if rnd.randrange(12) == 0:
            try:
                os.unlink(path)
                last[name] = None
            except FileNotFoundError:
                pass
            continue
        data = ml.content(name, version, rnd.choice((24, 500, 6000, 70000, 400000)))
        target = path + ".tmp" if atomic else path
        fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, data)
        os.ftruncate(fd, len(data))
        if rnd.randrange(4) == 0:
            os.fsync(fd)
        os.close(fd)
        if target != path:
            os.rename(target, path)
        last[name] = version
    with open(out, "w") as f:
        f.write("ops %d\n" % ops)
        for name, v in sorted(last.items()):
            f.write("%s %s\n" % (name, v))


def doc_reader(arr, rid, deadline, out):
    rnd = random.Random(100 + rid)
    reads = bad = 0
    while time.time() < deadline:
        # Documents replaced by rename must read whole; ones rewritten in
        # place may show a write in progress (as on any POSIX file system)
        names = [n for n in os.listdir(arr) if "_a" in n and not n.endswith(".tmp")]
        for n in rnd.sample(names, min(len(names), 6)):
            try:
                with open(os.path.join(arr, n), "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue  # deleted or renamed over since the listing
            reads += 1
            if data and ml.version_of(n, data) is None:
                bad += 1
                print("# bad read of %s: %d bytes" % (n, len(data)), flush=True)
    with open(out, "w") as f:
        f.write("reads %d bad %d\n" % (reads, bad))


def block_writer(block, deadline, out):
    k = 0
    while time.time() < deadline:
        k += 1
        # rsync's way: a ".NAME.XXXXXX" temporary renamed onto the block,
        # so readers see the old block or the new one, never a rewrite
        tmp = os.path.join(os.path.dirname(block),
                           ".%s.%06d" % (os.path.basename(block), k))
        with open(tmp, "w") as f:
            f.write(("%d\n" % k) * 200)
        os.rename(tmp, block)
        time.sleep(0.05)
    with open(out, "w") as f:
        f.write("ops %d last %d\n" % (k, k))


def block_reader(block, deadline, out):
    reads = bad = 0
    while time.time() < deadline:
        with open(block) as f:
            lines = f.read().split("\n")[:-1]
        reads += 1
        if lines != ["1", "2", "3"] and (len(set(lines)) != 1 or
                                          len(lines) != 200):
            bad += 1
            print("# bad block read: %d lines, values %s" % (
                len(lines), sorted(set(lines))[:4]), flush=True)
    with open(out, "w") as f:
        f.write("reads %d bad %d\n" % (reads, bad))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--role":
        role, target, n, deadline, out = sys.argv[2:7]
        fn = {"w": doc_writer, "r": doc_reader}.get(role)
        if fn:
            fn(target, int(n), float(deadline), out)
        elif role == "bw":
            block_writer(target, float(deadline), out)
        else:
            block_reader(target, float(deadline), out)
        return
    ml.skip_without_fuse()
    secs = float(os.environ.get("ARFS_LOAD_SECONDS", "45"))
    tmp = ml.scratch("load")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    csv = os.path.join(tmp, "g.csv")
    with open(csv, "w") as f:
        f.write("n,s\n1,a\n2,b\n3,c\n")
    r = ml.arrayctl("import", csv, os.path.join(store, "g"))
    if not ml.check("arrayctl import of a small group", r.returncode == 0,
                    r.stdout[-300:]):
        ml.finish()
    m = ml.Mount(store, mnt, opts=("pool=%dM" % POOL_MB,))
    arr = os.path.join(mnt, "a")
    os.mkdir(arr)
    col = os.path.join(mnt, "g", "n")
    block = os.path.join(col, sorted(os.listdir(col))[0])
    t0 = time.time()
    deadline = t0 + secs
    procs, outs = [], []

    def start(role, target, n):
        out = os.path.join(tmp, "%s%d.out" % (role, n))
        outs.append((role, out))
        procs.append(subprocess.Popen([sys.executable, __file__, "--role", role,
                                       target, str(n), str(deadline), out]))

    for w in range(WRITERS):
        start("w", arr, w)
    for r in range(READERS):
        start("r", arr, r)
    start("bw", block, 0)
    start("br", block, 0)
    time.sleep(secs / 3)
    rss1, fds1 = ml.rss_kb(m.pid), ml.nfds(m.pid)
    for p in procs:
        p.wait(timeout=secs + 120)
    took = time.time() - t0
    rss2, fds2 = ml.rss_kb(m.pid), ml.nfds(m.pid)

    stats = {"w": 0, "r": 0, "bad": 0, "bw": 0, "br": 0}
    lost = []
    for role, out in outs:
        lines = open(out).read().split("\n")
        head = lines[0].split()
        if role in ("r", "br"):
            stats[role] += int(head[1])
            stats["bad"] += int(head[3])
            continue
        stats[role] += int(head[1])
        if role == "bw":
            last_k = int(head[3])
            with open(block) as f:
                got = set(f.read().split("\n")[:-1])
            if got != {str(last_k)}:
                lost.append("block: %s, want %d" % (sorted(got)[:3], last_k))
            continue
        for line in lines[1:]:
            if not line:
                continue
            name, v = line.split()
            path = os.path.join(arr, name)
            if v == "None":
                if os.path.exists(path):
                    lost.append("%s: deleted, still there" % name)
                continue
            try:
                got = ml.version_of(name, open(path, "rb").read())
            except FileNotFoundError:
                got = "missing"
            if got != int(v):
                lost.append("%s: version %s, want %s" % (name, got, v))
    ml.check("%.0f s: %d document writes, %d document reads, %d block "
             "writes, %d block reads; every read whole" % (
                 took, stats["w"], stats["r"], stats["bw"], stats["br"]),
             stats["bad"] == 0 and stats["w"] > 0 and stats["r"] > 0,
             "%d bad reads" % stats["bad"])
    ml.check("nothing lost: every last version is there", not lost, lost[:5])
    ml.check("daemon RSS %d KiB at 1/3, %d KiB at the end: no growth" % (
        rss1, rss2), rss2 <= rss1 * 1.25 + 16 * 1024)
    ml.check("daemon RSS within the pool (%d MiB) + 96 MiB" % POOL_MB,
             rss2 <= (POOL_MB + 96) * 1024, rss2)
    ml.check("daemon descriptors %d at 1/3, %d at the end: within the "
             "segment descriptor cap (128) + 32" % (fds1, fds2), fds2 <= 160)
    if os.environ.get("ARFS_TEST_VERBOSE"):
        fd_dir = "/proc/%d/fd" % m.pid
        for fd in sorted(os.listdir(fd_dir), key=int):
            try:
                print("# fd %s -> %s" % (fd, os.readlink(os.path.join(fd_dir, fd))))
            except OSError:
                pass
    print("# load: %.0f s, %d operations, RSS %d -> %d KiB, fds %d -> %d" % (
        took, stats["w"] + stats["r"] + stats["bw"] + stats["br"],
        rss1, rss2, fds1, fds2))
    m.umount()
    for what in ("a", "g"):
        r = ml.arrayctl("check", os.path.join(store, what))
        ml.check("arrayctl check %s" % what, r.returncode == 0, r.stdout[-300:])
    ml.finish()


if __name__ == "__main__":
    main()
