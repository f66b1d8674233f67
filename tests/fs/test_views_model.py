#!/usr/bin/env python3
"""Views of a model folder's SFrames (a folder FOLDER of several
<prefix>.frame_idx, shown as read-only groups LEAF): .views/FOLDER is a
read-only folder holding LEAF.csv, LEAF.jsonl and LEAF/ for each; the CSV
is `arrayctl export FOLDER/LEAF.frame_idx`'s bytes, every line of the
JSONL parses, numpy.load reads the .npy files, the image folder holds
whole image files, and each file equals the same view of a mount of the
model folder as the store (where the SFrames are top-level groups).
Writes give EROFS; a set folder named like a group's CSV view hides it.

Needs Debian's python3-numpy: re-executes itself under /usr/bin/python3
when the first python3 on PATH lacks it.
"""
import csv
import errno
import io
import json
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIPPED: numpy missing", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

MODEL = "model_two_sframes"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def refused(fn):
    try:
        fn()
    except OSError as e:
        return e.errno == errno.EROFS, e
    return False, "succeeded"


def tree(d):
    """{relative path: bytes} of every file under d."""
    out = {}
    for root, dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, d)] = read(p)
    return out


def main():
    ml.skip_without_fuse()
    src = os.path.join(ml.FIXTURES, "turi", MODEL)
    frames = sorted(f[:-len(".frame_idx")] for f in os.listdir(src)
                    if f.endswith(".frame_idx"))
    tmp = ml.scratch("vmodel")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    shutil.copytree(src, os.path.join(store, "model"))
    shutil.copytree(os.path.join(ml.FIXTURES, "turi", "business.sf"),
                    os.path.join(store, "business"))
    # a model folder named as the CSV view of group "business"
    shutil.copytree(src, os.path.join(store, "business.csv"))

    m = ml.Mount(store, mnt, opts=("auto_unmount",))
    views = os.path.join(mnt, ".views")
    lv = sorted(os.listdir(views))
    ml.check("ls .views: the groups' views and a folder per model folder",
             lv == ["business", "business.csv", "business.jsonl", "model"],
             lv)
    ml.check("a model folder named business.csv hides that CSV view",
             os.path.isdir(os.path.join(views, "business.csv")) and
             sorted(os.listdir(os.path.join(views, "business.csv"))) ==
             sorted(os.listdir(os.path.join(views, "model"))))
    vm = os.path.join(views, "model")
    st = os.stat(vm)
    ml.check(".views/model: a read-only folder (0555)",
             st.st_mode & 0o7777 == 0o555 and os.path.isdir(vm),
             oct(st.st_mode))
    inos = [os.stat(p).st_ino for p in
            (views, vm, os.path.join(views, "business.csv"))]
    ml.check("st_ino differs for .views and each model folder",
             len(set(inos)) == 3, inos)
    lm = sorted(os.listdir(vm))
    want = sorted(p + s for p in frames for s in ("", ".csv", ".jsonl"))
    ml.check("ls .views/model: LEAF, LEAF.csv, LEAF.jsonl per SFrame",
             lm == want, lm)

    nimg = 0
    for p in frames:
        fi = os.path.join(src, p + ".frame_idx")
        exp = subprocess.run([os.path.join(ml.BIN, "arrayctl"), "export",
                              fi], stdout=subprocess.PIPE, check=True).stdout
        data = read(os.path.join(vm, p + ".csv"))
        ml.check("%s.csv is `arrayctl export %s.frame_idx`" % (p, p),
                 data == exp and len(data) > 0, (len(data), len(exp)))
        ml.check("%s.csv: stat size exact" % p,
                 os.stat(os.path.join(vm, p + ".csv")).st_size == len(data))
        rows = len(list(csv.reader(io.StringIO(data.decode())))) - 1
        lines = read(os.path.join(vm, p + ".jsonl")).decode().splitlines()
        try:
            objs = [json.loads(line) for line in lines]
            err = None
        except ValueError as e:
            objs, err = [], e
        ml.check("%s.jsonl: one JSON object per row" % p,
                 err is None and len(objs) == rows and
                 all(isinstance(o, dict) for o in objs), (err, len(objs),
                                                          rows))
        for f in sorted(os.listdir(os.path.join(vm, p))):
            path = os.path.join(vm, p, f)
            if f.endswith(".npy"):
                a = np.load(path)
                b = np.load(path, mmap_mode="r")
                ml.check("numpy.load %s/%s: one value per row" % (p, f),
                         a.shape[0] == rows and np.array_equal(
                             a, b, equal_nan=a.dtype.kind == "f"),
                         (a.shape, rows))
                del a, b    # unmap: the mount must not stay busy
            elif os.path.isdir(path):
                for img in sorted(os.listdir(path))[:5]:
                    d = read(os.path.join(path, img))
                    ok = (img.endswith(".jpg") and d[:2] == b"\xff\xd8") or \
                        (img.endswith(".png") and d[:4] == b"\x89PNG")
                    ml.check("%s/%s/%s: a whole image file" % (p, f, img),
                             ok, d[:8])
                    nimg += 1
    ml.check("the fixture's image column shows image files", nimg > 0)
    npys = [f for p in frames for f in os.listdir(os.path.join(vm, p))
            if f.endswith(".npy")]
    ml.check("the fixture has .npy views", len(npys) > 0, npys)

    leaf = os.path.join(vm, frames[0])
    csvf = os.path.join(vm, frames[0] + ".csv")
    txt = os.path.join(leaf, sorted(os.listdir(leaf))[0])
    for desc, fn in (
            ("open LEAF.csv for writing", lambda: open(csvf, "r+b")),
            ("open a column view for writing", lambda: open(txt, "wb")),
            ("create a file in .views/model",
             lambda: open(os.path.join(vm, "new"), "wb")),
            ("mkdir in .views/model",
             lambda: os.mkdir(os.path.join(vm, "d"))),
            ("rm LEAF.csv", lambda: os.unlink(csvf)),
            ("rename LEAF/", lambda: os.rename(leaf, leaf + "x")),
            ("rmdir .views/model", lambda: os.rmdir(vm))):
        ok, e = refused(fn)
        ml.check("%s: EROFS" % desc, ok, e)
    nested = {p: tree(os.path.join(vm, p)) for p in frames}
    nested.update({p + s: read(os.path.join(vm, p + s))
                   for p in frames for s in (".csv", ".jsonl")})
    ml.check("unmount", m.umount() == 0)

    # the model folder as the store: its SFrames are top-level groups
    m = ml.Mount(os.path.join(store, "model"), mnt, opts=("auto_unmount",))
    top = {p: tree(os.path.join(views, p)) for p in frames}
    top.update({p + s: read(os.path.join(views, p + s))
                for p in frames for s in (".csv", ".jsonl")})
    ml.check("model folder as the store: .views lists each SFrame's views",
             sorted(os.listdir(views)) == want, os.listdir(views))
    ml.check(".views/FOLDER/LEAF* equal the top-level views of LEAF",
             nested == top, sorted(set(nested) ^ set(top)))
    ml.check("unmount", m.umount() == 0)
    ml.finish()


if __name__ == "__main__":
    main()
