#!/usr/bin/env python3
"""Permissions on the mount (docs/RELIABILITY.md, promise 4).

Run as root (skipped otherwise). A second user, arfsuser, is created if
missing (useradd); its commands run through setpriv --reuid/--regid with
no supplementary groups. Documents: secret (0600 root), public (0644
root), theirs (0600 arfsuser).

  - Without allow_other the mount is private to its owner: arfsuser
    cannot even list it (EACCES), root can.
  - With allow_other the kernel applies default_permissions against the
    stored mode/uid/gid: arfsuser reads public and theirs, not secret;
    cannot write public, can write theirs; cannot chmod or chown root's
    documents; cannot create documents (array folders are 0755, owned by
    the daemon's user).
  - Modes and owners set through the mount survive a remount.
"""
import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

USER = "arfsuser"


def as_user(code, *args):
    """Run python code as USER; returns (exit status, output)."""
    r = subprocess.run(["setpriv", "--reuid", USER, "--regid", USER,
                        "--clear-groups", sys.executable, "-c", code] +
                       list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode(errors="replace").strip()


TRY = r"""
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "read":
        open(path, "rb").read()
    elif op == "write":
        with open(path, "r+b") as f:
            f.write(b"x")
    elif op == "list":
        os.listdir(path)
    elif op == "stat":
        os.stat(path)
    elif op == "chmod":
        os.chmod(path, 0o666)
    elif op == "chown":
        os.chown(path, os.getuid(), -1)
    elif op == "create":
        open(path, "wb").close()
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
"""


def attempt(op, path):
    rc, out = as_user(TRY, op, path)
    return out.splitlines()[-1] if out else "rc %d" % rc


def add_user():
    """USER's uid, adding the user on the first run on a machine. Two test
    runs at once may both find it missing: the second useradd then fails
    (the user exists, or /etc/passwd is locked) and the user is looked up
    again instead of failing the test."""
    for _ in range(20):
        try:
            return pwd.getpwnam(USER).pw_uid
        except KeyError:
            subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", USER],
                           check=False)
        time.sleep(0.5)
    raise RuntimeError("useradd %s failed" % USER)


def main():
    ml.skip_without_fuse()
    if os.getuid() != 0:
        print("SKIPPED: the permission tests need root (to add a user and "
              "mount for others)", file=sys.stderr)
        sys.exit(77)
    uid = add_user()
    tmp = ml.scratch("perms")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    m = ml.Mount(store, mnt)
    arr = os.path.join(mnt, "a")
    os.mkdir(arr)  # array folders are 0755, owned by the daemon's user
    for name, mode, owner in (("secret", 0o600, 0), ("public", 0o644, 0),
                              ("theirs", 0o600, uid)):
        p = os.path.join(arr, name)
        with open(p, "wb") as f:
            f.write(name.encode() + b"\n")
        os.chmod(p, mode)
        os.chown(p, owner, owner and uid)
    m.umount()

    m = ml.Mount(store, mnt)
    ml.check("without allow_other: root lists the mount",
             sorted(os.listdir(arr)) == ["public", "secret", "theirs"])
    for op, name in (("list", ""), ("read", "public"), ("stat", "theirs")):
        got = attempt(op, os.path.join(arr, name))
        ml.check("without allow_other: %s %s by %s is EACCES" % (
            op, name or "a/", USER), got == "EACCES", got)
    m.umount()

    m = ml.Mount(store, mnt, opts=("allow_other",))
    st = os.stat(os.path.join(arr, "theirs"))
    ml.check("stored owner and mode survive a remount",
             st.st_uid == uid and st.st_mode & 0o7777 == 0o600,
             (st.st_uid, oct(st.st_mode)))
    st = os.stat(os.path.join(arr, "secret"))
    ml.check("root's 0600 document shows uid 0, mode 0600",
             st.st_uid == 0 and st.st_mode & 0o7777 == 0o600,
             (st.st_uid, oct(st.st_mode)))
    expect = (("list", "", "OK"), ("read", "public", "OK"),
              ("read", "secret", "EACCES"), ("read", "theirs", "OK"),
              ("write", "public", "EACCES"), ("write", "secret", "EACCES"),
              ("write", "theirs", "OK"), ("chmod", "secret", "EPERM"),
              ("chown", "public", "EPERM"), ("chmod", "theirs", "OK"),
              ("create", "new", "EACCES"))
    for op, name, want in expect:
        got = attempt(op, os.path.join(arr, name))
        ml.check("allow_other: %s %s by %s: %s" % (op, name or "a/", USER,
                                                   want), got == want, got)
    ml.check("root still reads the 0600 document",
             open(os.path.join(arr, "secret"), "rb").read() == b"secret\n")
    m.umount()
    m = ml.Mount(store, mnt)
    st = os.stat(os.path.join(arr, "theirs"))
    ml.check("its chmod survived the remount", st.st_mode & 0o7777 == 0o666,
             oct(st.st_mode))
    m.umount()
    ml.finish()


if __name__ == "__main__":
    main()
