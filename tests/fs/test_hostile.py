#!/usr/bin/env python3
"""Hostile names and paths on the mount (docs/RELIABILITY.md, promise 3;
promise 2 for the damaged groups).

The store holds:
  h/    an array (key length 80, from its sidecar) whose ids hold '/',
        "../", NUL, newline, tab, ".", "..", "%2F", surrogates, values past
        U+10FFFF, and one id whose name is 320 bytes (> NAME_MAX);
  ok/   a copy of the basic fixture;
  g1/   a copy of the Turi group whose segment file is a symlink to a
        file outside the store;
  g2/   a copy whose index names "../../etc/passwd" as its segment;
  g3/   a copy whose index names "/etc/passwd";
  g4/   a copy whose segment file is a symlink to a valid segment file
        outside the store (readable if followed).

Checks: every name in h/ is one safe path component that resolves inside
h/ and reads its own document's bytes; the long id is not listed and the
daemon logs it; no byte of the file outside the store (nor /etc/passwd)
is readable anywhere in the mount; the damaged groups are refused (absent
or failing with an error), while ok/ and the rest stay usable; names made
through the mount with '%2F', '%2E', invalid UTF-8 are handled by the
escaping rule or refused.
"""
import errno
import glob
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

K = 80
IDS = [
    [ord(c) for c in "../etc"], [ord(c) for c in "/etc/passwd"],
    [ord("a"), 0, ord("b")], [ord(c) for c in "a\nb\tc"], [ord(".")],
    [ord("."), ord(".")], [ord(c) for c in "..."], [ord(c) for c in "%2F"],
    [0xD800, ord("x")], [0x110000, 0xFFFFFFFF], [ord("/")],
    [0x1F600] * K,  # 320 bytes of UTF-8: not listed
]
SECRET = b"OUTSIDE-THE-STORE-SECRET"


def write_hostile_array(d):
    os.makedirs(d)
    rows, body = b"", b""
    for i, cps in enumerate(IDS):
        doc = b"doc %02d\n" % i
        idf = b"".join(struct.pack("<I", c) for c in cps).ljust(4 * K, b"\0")
        rows += idf + struct.pack("<qqq", 0, len(body), len(body) + len(doc))
        body += doc
    open(os.path.join(d, "header.bin"), "wb").write(rows)
    open(os.path.join(d, "body.bin"), "wb").write(body)
    meta = b"ARFSMETA" + struct.pack("<II", 1, K) + b"\0" * 16
    open(os.path.join(d, "arrayfs.meta"), "wb").write(meta)


def copy_group(src, dst):
    shutil.copytree(src, dst)
    for f in glob.glob(os.path.join(dst, "*")):
        os.chmod(f, 0o644)
    return glob.glob(os.path.join(dst, "*.0000"))[0]


def edit(path, old, new):
    s = open(path, "rb").read()
    assert old in s
    open(path, "wb").write(s.replace(old, new))


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("hostile")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    outside = os.path.join(tmp, "outside.txt")
    open(outside, "wb").write(SECRET + b"\n")
    os.makedirs(store)
    write_hostile_array(os.path.join(store, "h"))
    shutil.copytree(os.path.join(ml.FIXTURES, "docarray", "basic"),
                    os.path.join(store, "ok"))
    os.unlink(os.path.join(store, "ok", "expected.json"))
    os.chmod(os.path.join(store, "ok"), 0o755)
    for f in glob.glob(os.path.join(store, "ok", "*")):
        os.chmod(f, 0o644)
    sf = os.path.join(ml.FIXTURES, "turi", "business.sf")
    seg = copy_group(sf, os.path.join(store, "g1"))
    os.unlink(seg)
    os.symlink(outside, seg)
    seg = copy_group(sf, os.path.join(store, "g4"))
    shutil.move(seg, os.path.join(tmp, "outside.0000"))
    os.symlink(os.path.join(tmp, "outside.0000"), seg)
    for g, target in (("g2", b"../../etc/passwd"), ("g3", b"/etc/passwd")):
        seg = copy_group(sf, os.path.join(store, g))
        sidx = glob.glob(os.path.join(store, g, "*.sidx"))[0]
        edit(sidx, os.path.basename(seg).encode(), target)

    log = os.path.join(tmp, "daemon.log")
    m = ml.Mount(store, mnt, log=log)
    h = os.path.join(mnt, "h")
    names = os.listdir(h)
    ml.check("h/: every id but the long one listed (%d names)" % len(names),
             len(names) == len(IDS) - 1, names)
    unsafe = [n for n in names if "/" in n or "\0" in n or n in (".", "..")]
    ml.check("h/: every name is one safe path component", not unsafe, unsafe)
    outside_h = [n for n in names if os.path.dirname(
        os.path.realpath(os.path.join(h, n))) != os.path.realpath(h)]
    ml.check("h/: every name resolves inside h/", not outside_h, outside_h)
    wrong = []
    contents = set()
    for n in names:
        data = open(os.path.join(h, n), "rb").read()
        contents.add(data)
        if not (data.startswith(b"doc ") and len(data) == 7):
            wrong.append(n)
    ml.check("h/: each name reads its own document, all distinct",
             not wrong and len(contents) == len(names), wrong)
    shown = sorted(names)
    ml.check("h/: escaped forms shown", all(x in names for x in (
        "..%2Fetc", "%2Fetc%2Fpasswd", "a%00b", "a\nb\tc", "%2E", "%2E%2E",
        "...", "%252F", "%{D800}x", "%{110000}%{FFFFFFFF}", "%2F")), shown)
    logtext = open(log, errors="replace").read()
    ml.check("the long id is logged as not listed",
             "not listed" in logtext or "too long" in logtext, logtext[-300:])

    leaked, readable_groups = [], []
    for dirpath, dirs, files in os.walk(mnt):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                data = open(p, "rb").read()
            except OSError:
                continue
            if SECRET in data or b"root:x:0:0" in data:
                leaked.append(p)
    ml.check("no byte from outside the store is readable in the mount",
             not leaked, leaked)
    for g in ("g1", "g2", "g3", "g4"):
        p = os.path.join(mnt, g)
        ok = True
        if os.path.exists(p):
            try:
                for dirpath, dirs, files in os.walk(p):
                    for f in files:
                        open(os.path.join(dirpath, f), "rb").read()
                ok = False  # everything read: the damage went unnoticed
            except OSError:
                ok = True
        ml.check("%s: refused (absent or failing with an error)" % g, ok)
    ok = os.path.join(mnt, "ok")
    ml.check("ok/: the rest of the store stays usable",
             len(os.listdir(ok)) > 0 and all(
                 open(os.path.join(ok, n), "rb").read() is not None
                 for n in os.listdir(ok)))

    # Names made through the mount.
    open(os.path.join(ok, "a%2Fb"), "wb").write(b"slash\n")
    open(os.path.join(ok, "%2E%2E"), "wb").write(b"dotdot\n")
    res = ml.arrayctl("cat", os.path.join(store, "ok"), "a/b")
    ml.check("a%2Fb made in the mount stores the id a/b",
             res.stdout == b"slash\n", res.stdout[-200:])
    res = ml.arrayctl("cat", os.path.join(store, "ok"), "..")
    ml.check("%2E%2E made in the mount stores the id ..",
             res.stdout == b"dotdot\n", res.stdout[-200:])
    try:
        fd = os.open(os.path.join(ok, "bad\udcff").encode("utf-8", "surrogateescape"),
                     os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
        got = "created"
    except OSError as e:
        got = errno.errorcode.get(e.errno, e.errno)
    ml.check("a name that is not UTF-8 is refused (EILSEQ)", got == "EILSEQ", got)
    for n in os.listdir(ok):
        ml.check("ok/%s is a safe name" % n, "/" not in n and n not in (".", ".."))
    m.umount()
    res = ml.arrayctl("check", os.path.join(store, "ok"))
    ml.check("arrayctl check ok/", res.returncode == 0, res.stdout[-300:])
    ml.finish()


if __name__ == "__main__":
    main()
