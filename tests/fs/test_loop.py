#!/usr/bin/env python3
"""The request loop (fs/loop.c): a leader that polls /dev/fuse and answers
quick requests itself, handing the lead on before requests that may block.

For the polling loop (default) and libfuse's (-o poll=0), on a store with
document arrays and a real Turi SFrame:
  - 8 threads at once create, write, fsync (hand-off requests), rename,
    read back and delete documents, while 2 more read every block file of
    the group (hand-off: decoding) and every document: all finish within
    a deadline (a lost lead would hang them) with the right bytes;
  - a request that blocks (a reader of a views file that keeps it open,
    an fsync) does not stop another thread's stat and reads;
  - SIGTERM ends the daemon (exit 0, mount gone) within 5 s while idle,
    the leader sleeping in poll(2);
  - -o poll=-1 is refused with a message naming the option.
"""
import concurrent.futures as cf
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

DEADLINE = 120


def docs_work(mnt, t):
    """One thread's document round trips; returns a list of problems."""
    bad = []
    d = os.path.join(mnt, "docs")
    for i in range(60):
        name = "t%d-%d" % (t, i)
        data = ml.content(name, 1, 100 + 37 * i)
        p = os.path.join(d, name)
        with open(p + ".tmp", "wb") as f:
            f.write(data)
            if i % 10 == 0:
                f.flush()
                os.fsync(f.fileno())
        os.rename(p + ".tmp", p)
        with open(p, "rb") as f:
            if f.read() != data:
                bad.append(name)
        if os.stat(p).st_size != len(data):
            bad.append(name + " size")
        if i % 3 == 0:
            os.unlink(p)
    return bad


def group_work(mnt):
    """Read every block file of the group and every view of it."""
    n = 0
    g = os.path.join(mnt, "business")
    for col in sorted(os.listdir(g)):
        for blk in sorted(os.listdir(os.path.join(g, col))):
            with open(os.path.join(g, col, blk), "rb") as f:
                n += len(f.read())
    with open(os.path.join(mnt, ".views", "business.csv"), "rb") as f:
        n += len(f.read())
    return n


def run_mixed(mnt, label):
    os.mkdir(os.path.join(mnt, "docs"))
    ex = cf.ThreadPoolExecutor(max_workers=10)
    futs = [ex.submit(docs_work, mnt, t) for t in range(8)]
    gfuts = [ex.submit(group_work, mnt) for _ in range(2)]
    done, pending = cf.wait(futs + gfuts, timeout=DEADLINE)
    ml.check("%s: 8 document threads and 2 group readers finish within "
             "%d s" % (label, DEADLINE), not pending,
             "%d still running" % len(pending))
    if pending:
        return
    bad = [b for f in futs for b in f.result()]
    ml.check("%s: every document read back exactly" % label, not bad,
             bad[:5])
    sizes = {f.result() for f in gfuts}
    ml.check("%s: both group readers read the same bytes" % label,
             len(sizes) == 1 and sizes.pop() > 0)
    left = sorted(os.listdir(os.path.join(mnt, "docs")))
    want = sorted("t%d-%d" % (t, i) for t in range(8) for i in range(60)
                  if i % 3)
    ml.check("%s: the listing holds exactly the documents kept" % label,
             left == want, (len(left), len(want)))
    ex.shutdown()


def run_blocked(mnt, label):
    """A thread in an fsync loop and one holding a view open while
    another stats and reads: the other finishes its 2,000 calls."""
    stop = threading.Event()

    def fsyncer():
        p = os.path.join(mnt, "docs", "sync-me")
        while not stop.is_set():
            with open(p, "wb") as f:
                f.write(b"x" * 4096)
                os.fsync(f.fileno())

    def viewer():
        with open(os.path.join(mnt, ".views", "business.jsonl"), "rb") as f:
            while not stop.is_set() and f.read(4096):
                time.sleep(0.001)

    ts = [threading.Thread(target=fsyncer), threading.Thread(target=viewer)]
    for t in ts:
        t.start()
    p = os.path.join(mnt, "docs", "t0-1")
    start = time.monotonic()
    ok = True
    for _ in range(1000):
        os.stat(p)
        with open(p, "rb") as f:
            ok = ok and len(f.read()) > 0
        if time.monotonic() - start > DEADLINE:
            ok = False
            break
    stop.set()
    for t in ts:
        t.join(DEADLINE)
    ml.check("%s: stat and read go on beside fsync and a view reader"
             % label, ok and not any(t.is_alive() for t in ts))


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("loop")
    for opts, label in ((("auto_unmount",), "polling loop"),
                        (("auto_unmount", "poll=0"), "libfuse loop")):
        store = os.path.join(tmp, "store-" + label.split()[0])
        os.makedirs(store)
        shutil.copytree(os.path.join(ml.FIXTURES, "turi", "business.sf"),
                        os.path.join(store, "business"))
        mnt = os.path.join(tmp, "mnt")
        m = ml.Mount(store, mnt, opts=opts)
        try:
            run_mixed(mnt, label)
            run_blocked(mnt, label)
            time.sleep(0.2)  # idle: the leader sleeps in poll(2)
            start = time.monotonic()
            os.kill(m.pid, signal.SIGTERM)
            try:
                rc = m.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                rc = None
            ml.check("%s: SIGTERM ends the daemon within 5 s, exit 0"
                     % label, rc == 0, "rc %s after %.1f s" %
                     (rc, time.monotonic() - start))
            ml.check("%s: the mount is gone" % label,
                     not ml.is_mounted(mnt))
        finally:
            if m.alive():
                m.kill9()
            elif ml.is_mounted(mnt):
                ml.lazy_umount(mnt)
        r = ml.arrayctl("check", os.path.join(store, "docs"))
        ml.check("%s: arrayctl check is clean afterwards" % label,
                 r.returncode == 0, r.stdout.decode()[-300:])

    r = subprocess.run([os.path.join(ml.BIN, "arrayfs"), "-f", "-o",
                        "poll=-1", tmp, os.path.join(tmp, "mnt")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    out = r.stdout.decode()
    ml.check("-o poll=-1 is refused, naming the option",
             r.returncode != 0 and "poll=-1" in out, out[-200:])
    ml.finish()


if __name__ == "__main__":
    main()
