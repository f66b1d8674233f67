#!/usr/bin/env python3
"""A folder of several SFrames, as Turi saves a model (dir_archive.ini,
objects.bin, one <prefix>.frame_idx set per SFrame), is a folder of
read-only groups named by the prefixes, in a store and as the store
itself; arrayctl takes a path to one .frame_idx, and check/info go
through every SFrame of the folder. Values are compared with the
independent reader (sframe_ref.py).
"""
import errno
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402
import sframe_ref  # noqa: E402
from test_turi_fixtures import compare  # noqa: E402

MODEL = "model_two_sframes"


def column_text(d):
    text = b""
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            text += fh.read()
    return text


def refused(fn, want=errno.EROFS):
    try:
        fn()
    except OSError as e:
        return e.errno == want, e
    return False, "succeeded"


def check_groups(where, root, frames, ref):
    names = sorted(os.listdir(root))
    ml.check("%s: one folder per SFrame, named by its prefix" % where,
             names == frames, names)
    for p in frames:
        for name, t, want in ref[p]:
            compare("%s %s/%s" % (where, p, name),
                    column_text(os.path.join(root, p, name)), t, want)
    p = frames[0]
    col = os.path.join(root, p, ref[p][0][0])
    blk = os.path.join(col, sorted(os.listdir(col))[0])
    ml.check("%s: a block file is read-only (0444)" % where,
             os.stat(blk).st_mode & 0o777 == 0o444, oct(os.stat(blk).st_mode))
    ok, e = refused(lambda: open(blk, "w"))
    ml.check("%s: writing a block: EROFS" % where, ok, e)
    ok, e = refused(lambda: open(os.path.join(col, "new"), "w"))
    ml.check("%s: a new block file: EROFS" % where, ok, e)
    ok, e = refused(lambda: os.unlink(blk))
    ml.check("%s: rm of a block: EROFS" % where, ok, e)
    ok, e = refused(lambda: os.rename(os.path.join(root, p),
                                      os.path.join(root, p + "x")))
    ml.check("%s: renaming an SFrame: refused" % where,
             ok or "Errno" in str(e), e)


def main():
    ml.skip_without_fuse()
    src = os.path.join(ml.FIXTURES, "turi", MODEL)
    frames = sorted(f[:-len(".frame_idx")] for f in os.listdir(src)
                    if f.endswith(".frame_idx"))
    ml.check("the fixture holds two SFrames", len(frames) == 2, frames)
    ref = {p: sframe_ref.read_group(os.path.join(src, p + ".frame_idx"))
           for p in frames}

    # arrayctl
    r = ml.arrayctl("check", src)
    out = r.stdout.decode(errors="replace")
    ml.check("arrayctl check FOLDER: every SFrame sound, exit 0",
             r.returncode == 0 and out.count("sound") == 2, out)
    r = ml.arrayctl("info", src)
    out = r.stdout.decode(errors="replace")
    ml.check("arrayctl info FOLDER: each SFrame",
             r.returncode == 0 and all(p in out for p in frames), out)
    r = ml.arrayctl("cat", src, "image")
    out = r.stdout.decode(errors="replace")
    ml.check("arrayctl cat FOLDER COLUMN: refused, naming the .frame_idx "
             "files", r.returncode != 0 and all(
                 p + ".frame_idx" in out for p in frames), out)
    for p in frames:
        fi = os.path.join(src, p + ".frame_idx")
        r = ml.arrayctl("check", fi)
        ml.check("arrayctl check %s.frame_idx: sound" % p,
                 r.returncode == 0, r.stdout[-300:])
        for name, t, want in ref[p]:
            r = ml.arrayctl("cat", fi, name)
            compare("arrayctl cat %s.frame_idx %s" % (p, name), r.stdout, t,
                    want)

    # in a store, beside another group
    tmp = ml.scratch("model")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    shutil.copytree(src, os.path.join(store, "model"))
    shutil.copytree(os.path.join(ml.FIXTURES, "turi", "business.sf"),
                    os.path.join(store, "business"))
    m = ml.Mount(store, mnt, opts=("auto_unmount",))
    ml.check("store: the model folder and the group are listed",
             sorted(os.listdir(mnt)) == ["business", "model"],
             os.listdir(mnt))
    check_groups("store", os.path.join(mnt, "model"), frames, ref)
    ok, e = refused(lambda: os.mkdir(os.path.join(mnt, "model", "x")))
    ml.check("store: mkdir in the model folder: EROFS", ok, e)
    ok, e = refused(lambda: os.rmdir(os.path.join(mnt, "model")))
    ml.check("store: rmdir of the model folder: EROFS", ok, e)
    names = ["int", "float", "str", "vector", "list", "dict", "datetime",
             "undefined", "image", "ndarray"]
    p = frames[0]
    col = os.path.join(mnt, "model", p, ref[p][0][0])
    want = names[ref[p][0][1]].encode()
    got = os.getxattr(col, "user.arrayfs.type")
    ml.check("store: a column of a model's SFrame has its xattrs",
             got == want, (got, want))
    ml.check("store: the other group stays writable",
             os.stat(os.path.join(mnt, "business")).st_mode & 0o200 != 0)

    # a store holding only the model folder: xattrs still there
    ml.check("unmount before the model-only store", m.umount() == 0)
    only = os.path.join(tmp, "only")
    os.makedirs(only)
    os.rename(os.path.join(store, "model"), os.path.join(only, "model"))
    m = ml.Mount(only, mnt, opts=("auto_unmount",))
    got = os.getxattr(os.path.join(mnt, "model", p, ref[p][0][0]),
                      "user.arrayfs.type")
    ml.check("store of a model folder only: xattrs", got == want, got)
    ml.check("unmount", m.umount() == 0)
    os.rename(os.path.join(only, "model"), os.path.join(store, "model"))

    # the model folder as the store
    m = ml.Mount(os.path.join(store, "model"), mnt, opts=("auto_unmount",))
    check_groups("model as store", mnt, frames, ref)
    ok, e = refused(lambda: os.mkdir(os.path.join(mnt, "x")), errno.EPERM)
    ml.check("model as store: no new arrays in it", ok, e)
    ml.check("unmount", m.umount() == 0)
    before = sorted(os.listdir(src))
    ml.check("the model folder is unchanged",
             sorted(os.listdir(os.path.join(store, "model"))) == before)
    ml.finish()


if __name__ == "__main__":
    main()
