"""Shared by the Python mount tests (test_crash.py, test_fsx.py,
test_load.py, test_perms.py): scratch directories, mounting arrayfs in the
foreground, killing it, /proc readings, TAP-style checks, and
self-verifying document contents.

A daemon started here runs as a direct child (no timeout wrapper), so
Mount.pid is the arrayfs process itself. Everything mounted is unmounted
(fusermount3 -u -z) and every daemon started is killed at exit.
"""
import atexit
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("ARFS_BIN", os.path.join(HERE, "..", "..", "build"))
FIXTURES = os.environ.get("ARFS_FIXTURES",
                          os.path.join(HERE, "..", "fixtures"))
_mounts = []
_fails = 0
_count = 0


def skip_without_fuse():
    if not os.path.exists("/dev/fuse") or not shutil.which("fusermount3"):
        print("SKIPPED: /dev/fuse or fusermount3 is missing on this machine;"
              " the mount tests did NOT run", file=sys.stderr)
        sys.exit(77)


def scratch(tag):
    d = tempfile.mkdtemp(prefix="arfs-%s-" % tag,
                         dir=os.environ.get("TMPDIR", "/tmp"))
    os.chmod(d, 0o755)
    atexit.register(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


class Mount:
    """arrayfs -f STORE MNT, live until umount() or kill9()."""

    def __init__(self, store, mnt, opts=(), log=None):
        self.store, self.mnt = store, mnt
        if is_mounted(mnt):
            raise RuntimeError("mount on %s: a mount is still there" % mnt)
        os.makedirs(mnt, exist_ok=True)
        self.log = open(log or os.path.join(os.path.dirname(mnt), "daemon.log"), "ab")
        args = [os.path.join(BIN, "arrayfs"), "-f"]
        for o in opts:
            args += ["-o", o]
        self.proc = subprocess.Popen(args + [store, mnt], stdout=self.log,
                                     stderr=self.log)
        self.pid = self.proc.pid
        _mounts.append(self)
        for _ in range(400):
            if os.path.ismount(mnt):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.025)
        raise RuntimeError("mount of %s on %s failed (see %s)" %
                           (store, mnt, self.log.name))

    def alive(self):
        return self.proc.poll() is None

    def kill9(self):
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()
        lazy_umount(self.mnt)

    def umount(self):
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill9()
        lazy_umount(self.mnt)
        return self.proc.returncode


def is_mounted(mnt):
    """True while mnt is in /proc/self/mountinfo. os.path.ismount() stats
    mnt, which fails with ENOTCONN once the daemon is dead: to it a dead
    mount looks like no mount, yet mkdir, stat and a new mount on mnt fail
    until it is unmounted."""
    mnt = os.path.normpath(mnt)
    path = os.path.join(os.path.realpath(os.path.dirname(mnt)),
                        os.path.basename(mnt))
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # space, tab, newline and backslash are written as \ooo
            field = re.sub(r"\\([0-7]{3})", lambda o: chr(int(o.group(1), 8)),
                           line.split(" ")[4])
            if field == path:
                return True
    return False


def lazy_umount(mnt):
    """Unmount mnt lazily (a dead mount allows nothing else) and wait until
    it has left /proc/self/mountinfo (10 s at most). The daemons started
    here have no auto_unmount helper that could race this."""
    for _ in range(400):
        if not is_mounted(mnt):
            return True
        subprocess.run(["fusermount3", "-u", "-z", mnt], check=False,
                       stderr=subprocess.DEVNULL)
        time.sleep(0.025)
    return False


@atexit.register
def _cleanup():
    for m in _mounts:
        if m.alive():
            try:
                m.proc.kill()
                m.proc.wait()
            except OSError:
                pass
        lazy_umount(m.mnt)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def arrayctl(*args):
    return subprocess.run([os.path.join(BIN, "arrayctl")] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def check(desc, ok, detail=""):
    global _fails, _count
    _count += 1
    print("%s %d - %s%s" % ("ok" if ok else "not ok", _count, desc,
                            "" if ok or not detail else ": " + str(detail)),
          flush=True)
    if not ok:
        _fails += 1
    return ok


def finish():
    print("%d passed, %d failed" % (_count - _fails, _fails))
    sys.exit(1 if _fails else 0)


# ---- self-verifying contents: (name, version) -> bytes ----

def _key(name):
    return hashlib.sha256(name.encode()).digest()[:8]


def content(name, version, size):
    """Version `version` of document `name`: a 24-byte head (magic, name
    key, version, size) then bytes seeded by all of it."""
    head = b"ARFS" + _key(name) + struct.pack("<QI", version, size)
    seed = hashlib.sha256(head).digest()
    n = max(size - len(head), 0)
    # every 32-byte block differs, so a misplaced or stale page shows
    body = b"".join(hashlib.sha256(seed + struct.pack("<I", k)).digest()
                    for k in range(n // 32 + 1))[:n]
    return head + body


def version_of(name, data):
    """The version `data` is of `name`, or None when it is not exactly one
    (torn, truncated, another document's bytes)."""
    if len(data) < 24 or data[:4] != b"ARFS" or data[4:12] != _key(name):
        return None
    version, size = struct.unpack_from("<QI", data, 12)
    if size != len(data) or content(name, version, size) != data:
        return None
    return version
