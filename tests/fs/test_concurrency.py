#!/usr/bin/env python3
"""Stress the multithreaded daemon with several processes for a bounded
time (ARFS_STRESS_SECONDS, default 20): writers rewrite their own documents
and two shared ones with whole versions (open, write in 64 KiB pieces,
close); readers read any document. Version v of document n has content
derived from (n, v) with a header naming the version, so every read must
be exactly one whole version, and a reader never sees a document go back
to an older version. Writers and readers of one document coordinate with
flock(2) (what any POSIX file system needs for whole-version reads: without
it a reader may see a writer half-way through on a local disk too), so the
daemon serves them concurrently on its worker threads. At the end every
document must hold its last version, byte for byte, through the mount, with
arrayctl and by DocArray's reading rules (darules.py)."""
import errno
import fcntl
import hashlib
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import darules  # noqa: E402

BIN = os.environ.get("ARFS_BIN", os.path.join(HERE, "..", "..", "build"))
SECONDS = float(os.environ.get("ARFS_STRESS_SECONDS", "20"))
WRITERS, READERS, OWN = 3, 3, 4
SHARED = ["shared-0", "shared-1"]


def content(name, v):
    h = hashlib.sha256(f"{name}:{v}".encode()).digest()
    length = 64 + int.from_bytes(h[:4], "little") % 300000
    head = f"{name} v{v:08d} n{length:07d}\n".encode()
    body = (h * (length // len(h) + 1))[:length - len(head)]
    return head + body


def version_of(name, data):
    """The version data is exactly, or raise ValueError."""
    try:
        head = data[:data.index(b"\n") + 1].decode()
        n, v, _ = head.split(" ")
        v = int(v[1:])
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{name}: no version header in {data[:40]!r} ({len(data)} bytes)")
    if n != name:
        raise ValueError(f"{name}: header names {n}")
    if data != content(name, v):
        raise ValueError(f"{name}: {len(data)} bytes are not exactly version {v} "
                         f"({len(content(name, v))} bytes)")
    return v


def own_docs(w):
    return [f"w{w}-{k}" for k in range(OWN)]


def write_version(path, name, pick_version):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        v = pick_version()
        data = content(name, v)
        os.ftruncate(fd, 0)
        for off in range(0, len(data), 65536):
            os.pwrite(fd, data[off:off + 65536], off)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)  # commits (flush) before the lock goes
    return v


def writer(w, arr, counters, last, deadline, out):
    rnd = random.Random(w)
    mine = {n: 0 for n in own_docs(w)}
    writes = errs = 0
    msgs = []
    while time.monotonic() < deadline and len(msgs) < 5:
        try:
            if rnd.random() < 0.4:
                i = rnd.randrange(len(SHARED))
                name = SHARED[i]

                def pick():
                    with counters.get_lock():
                        counters[i] += 1
                        v = counters[i]
                    last[i] = v  # under the document's flock
                    return v
                write_version(os.path.join(arr, name), name, pick)
            else:
                name = rnd.choice(list(mine))

                def pick():
                    mine[name] += 1
                    return mine[name]
                v = write_version(os.path.join(arr, name), name, pick)
                # read your own write, after close, without a lock
                with open(os.path.join(arr, name), "rb") as f:
                    got = version_of(name, f.read())
                if got != v:
                    raise ValueError(f"{name}: read back v{got} after writing v{v}")
            writes += 1
        except (OSError, ValueError) as e:
            errs += 1
            msgs.append(f"writer {w}: {e}")
    out.put(("writer", w, writes, errs, msgs, mine))


def reader(r, arr, deadline, out):
    rnd = random.Random(100 + r)
    names = SHARED + [n for w in range(WRITERS) for n in own_docs(w)]
    seen = {}
    reads = errs = 0
    msgs = []
    while time.monotonic() < deadline and len(msgs) < 5:
        name = rnd.choice(names)
        try:
            fd = os.open(os.path.join(arr, name), os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH)
                chunks = []
                while True:
                    b = os.read(fd, rnd.choice([4096, 65536, 1 << 20]))
                    if not b:
                        break
                    chunks.append(b)
            finally:
                os.close(fd)
            v = version_of(name, b"".join(chunks))
            if v < seen.get(name, 0):
                raise ValueError(f"{name}: went back from v{seen[name]} to v{v}")
            seen[name] = v
            reads += 1
        except (OSError, ValueError) as e:
            errs += 1
            msgs.append(f"reader {r}: {e}")
    out.put(("reader", r, reads, errs, msgs, None))


class Mount:
    def __init__(self, tmp, store, mnt):
        self.tmp, self.store, self.mnt = tmp, store, mnt
        os.makedirs(mnt, exist_ok=True)
        self.log = open(os.path.join(tmp, "daemon.log"), "ab")
        self.proc = subprocess.Popen(
            ["timeout", "-s", "KILL", "600", os.path.join(BIN, "arrayfs"), "-f",
             "-o", "auto_unmount", store, mnt], stderr=self.log)
        for _ in range(200):
            if os.path.ismount(mnt):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.log.flush()
        raise RuntimeError("mount failed: " + open(os.path.join(tmp, "daemon.log")).read())

    def umount(self):
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        for _ in range(100):
            if not os.path.ismount(self.mnt):
                break
            time.sleep(0.05)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def kill(self):
        subprocess.run(["fusermount3", "-u", "-z", self.mnt], check=False,
                       stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)


def main():
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        print("SKIPPED: /dev/fuse or fusermount3 is missing on this machine; "
              "the concurrency test did NOT run", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="arfs-stress-")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    subprocess.run([os.path.join(BIN, "arrayctl"), "create", os.path.join(store, "arr")],
                   check=True)
    m = Mount(tmp, store, mnt)
    failed = []
    count = 0

    def check(desc, ok, detail=""):
        nonlocal count
        count += 1
        print(f"{'ok' if ok else 'not ok'} {count} - {desc}")
        if not ok:
            failed.append(desc)
            for line in str(detail).splitlines()[:20]:
                print("# " + line)

    try:
        arr = os.path.join(mnt, "arr")
        # version 0 of everything, so readers always find a document
        for name in SHARED + [n for w in range(WRITERS) for n in own_docs(w)]:
            with open(os.path.join(arr, name), "wb") as f:
                f.write(content(name, 0))
        counters = mp.Array("q", len(SHARED))
        last = mp.Array("q", len(SHARED), lock=False)
        out = mp.Queue()
        deadline = time.monotonic() + SECONDS
        procs = [mp.Process(target=writer, args=(w, arr, counters, last, deadline, out))
                 for w in range(WRITERS)]
        procs += [mp.Process(target=reader, args=(r, arr, deadline, out))
                  for r in range(READERS)]
        for p in procs:
            p.start()
        results = [out.get(timeout=SECONDS + 120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        writes = sum(x[2] for x in results if x[0] == "writer")
        reads = sum(x[2] for x in results if x[0] == "reader")
        msgs = [msg for x in results for msg in x[4]]
        print(f"# {writes} whole-version writes, {reads} reads in {SECONDS:.0f} s")
        check("every writer and reader ran", all(x[2] > 0 for x in results),
              [(x[0], x[1], x[2]) for x in results])
        check("every write succeeded and read back as written",
              sum(x[3] for x in results if x[0] == "writer") == 0, "\n".join(msgs))
        check("every read was exactly one whole version, never older than one seen before",
              sum(x[3] for x in results if x[0] == "reader") == 0, "\n".join(msgs))

        want = {}
        for x in results:
            if x[0] == "writer":
                want.update(x[5])
        for i, name in enumerate(SHARED):
            want[name] = last[i]
        for name, v in want.items():
            if v == 0:
                want[name] = 0
        bad = []
        for name, v in sorted(want.items()):
            data = open(os.path.join(arr, name), "rb").read()
            if data != content(name, v):
                bad.append(f"{name}: want v{v}, have {data[:30]!r}")
        check("at the end every document holds its last version, byte for byte", not bad,
              "\n".join(bad))
        check("the listing holds exactly the documents", sorted(os.listdir(arr)) == sorted(want),
              sorted(os.listdir(arr)))
        m.umount()
        r = subprocess.run([os.path.join(BIN, "arrayctl"), "check", os.path.join(store, "arr")],
                           capture_output=True, text=True)
        check("arrayctl check passes", r.returncode == 0, r.stdout + r.stderr)
        docs = dict(darules.read_array(os.path.join(store, "arr")))
        bad = [n for n, v in want.items() if docs.get(n) != content(n, v)]
        check("DocArray's reading rules see every last version",
              not bad and sorted(docs) == sorted(want), bad)
        bad = []
        for name, v in want.items():
            r = subprocess.run([os.path.join(BIN, "arrayctl"), "cat",
                                os.path.join(store, "arr"), name], capture_output=True)
            if r.stdout != content(name, v):
                bad.append(name)
        check("arrayctl cat gives every last version", not bad, bad)
    finally:
        m.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{count - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
