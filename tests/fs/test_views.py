#!/usr/bin/env python3
"""The views folder MNT/.views with real tools.

pandas reads .views/G.csv as it reads `arrayctl export G`'s file (and the
bytes are the same); numpy.load, plain and with mmap_mode='r', of every
.npy gives the values; `jq -c .` parses every line of .views/G.jsonl and
the values match; .views is absent from `ls -a MNT`, `find MNT` and an
`rsync -a` backup, yet `ls MNT/.views` works; -o views=visible lists it
and views=off removes it; random-offset reads of every view equal the
same bytes of a full copy; writes give EROFS; a block written through the
mount shows in views opened afterwards while a view open before keeps its
version; the block manager's decode counter (root xattr
user.arrayfs.stats) shows `tail -c` reading only the last blocks, and a
second fresh mount taking the CSV / JSON Lines sizes from the view size
files of -o cache_dir (its stat decodes nothing; a damaged file is
ignored); hostile
names follow the collision rule (the store's name wins).

Needs Debian's python3-numpy and python3-pandas: re-executes itself under
/usr/bin/python3 when the first python3 on PATH lacks them.
"""
import os
import random
import subprocess
import sys

try:
    import numpy as np
    import pandas as pd
except ImportError:
    if sys.executable != "/usr/bin/python3" and os.path.exists(
            "/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIPPED: numpy/pandas missing", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402

ROWS = 20000


def write_csv(path, rows=ROWS, seed=1):
    rnd = random.Random(seed)
    with open(path, "w") as f:
        f.write('id,x,name,vec,maybe\n')
        for i in range(rows):
            name = '"n%d, ""q""\tz\u00e9"' % i if i % 3 else "plain%d" % i
            f.write("%d,%r,%s,[%d %d.25],%s\n" % (
                i, rnd.uniform(-1e6, 1e6), name, i, -i,
                "" if i % 7 == 0 else str(i * 3)))


def import_group(csv, group, *extra):
    r = ml.arrayctl("import", *extra, csv, group)
    if r.returncode:
        raise RuntimeError(r.stdout.decode())


def stats(mnt):
    v = os.getxattr(mnt, "user.arrayfs.stats").decode()
    return dict(w.split("=") for w in v.split())


def read(path):
    with open(path, "rb") as f:
        return f.read()


def random_reads(path, whole, n=200):
    rnd = random.Random(5)
    bad = []
    with open(path, "rb", buffering=0) as f:
        for _ in range(n):
            off = rnd.randrange(0, len(whole) + 10)
            size = rnd.choice([1, 7, 100, 4096, 65536, 300000])
            got = os.pread(f.fileno(), size, off)
            if got != whole[off:off + size]:
                bad.append((off, size))
    return bad


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("views")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    csv = os.path.join(tmp, "in.csv")
    write_csv(csv)
    import_group(csv, os.path.join(store, "g"), "--block-size", "8192")
    exp = os.path.join(tmp, "export.csv")
    with open(exp, "wb") as f:
        subprocess.run([os.path.join(ml.BIN, "arrayctl"), "export",
                        os.path.join(store, "g")], stdout=f, check=True)

    m = ml.Mount(store, mnt, opts=("auto_unmount",))
    views = os.path.join(mnt, ".views")

    # ---- hidden but reachable ----
    ls = subprocess.run(["ls", "-a", mnt], stdout=subprocess.PIPE,
                        text=True).stdout.split()
    ml.check("ls -a MNT does not show .views", ".views" not in ls, ls)
    found = subprocess.run(["find", mnt], stdout=subprocess.PIPE,
                           text=True).stdout
    ml.check("find MNT does not show .views", ".views" not in found)
    backup = os.path.join(tmp, "backup")
    subprocess.run(["rsync", "-a", mnt + "/", backup + "/"], check=True)
    ml.check("rsync -a backup has no .views",
             not os.path.exists(os.path.join(backup, ".views")) and
             os.path.isdir(os.path.join(backup, "g")))
    lv = subprocess.run(["ls", views], stdout=subprocess.PIPE,
                        text=True).stdout.split()
    ml.check("ls MNT/.views lists G, G.csv, G.jsonl",
             lv == ["g", "g.csv", "g.jsonl"], lv)
    lg = sorted(os.listdir(os.path.join(views, "g")))
    ml.check("ls MNT/.views/g: .txt of every column, .npy of the numeric",
             lg == ["id.npy", "id.txt", "maybe.npy", "maybe.txt",
                    "name.txt", "vec.npy", "vec.txt", "x.npy", "x.txt"], lg)

    # ---- CSV: the export, byte for byte; pandas reads the same frame ----
    data = read(os.path.join(views, "g.csv"))
    ml.check("g.csv is arrayctl export's bytes", data == read(exp))
    ml.check("stat size of g.csv is exact",
             os.stat(os.path.join(views, "g.csv")).st_size == len(data))
    a = pd.read_csv(os.path.join(views, "g.csv"),
                    float_precision="round_trip")
    b = pd.read_csv(exp, float_precision="round_trip")
    ml.check("pandas: the view's frame equals the export's", a.equals(b))

    # ---- .npy ----
    for col in ("id", "x", "maybe"):
        p = os.path.join(views, "g", col + ".npy")
        arr, mm = np.load(p), np.load(p, mmap_mode="r")
        want = b[col].to_numpy()
        ok = arr.shape == (ROWS,) and np.array_equal(arr, want,
                                                     equal_nan=True)
        ml.check("numpy.load %s.npy equals the values (%s)" % (col, arr.dtype),
                 ok)
        ml.check("numpy.load mmap %s.npy: last and middle values" % col,
                 np.array_equal(mm[-1:], want[-1:], equal_nan=True) and
                 np.array_equal(mm[ROWS // 2], want[ROWS // 2],
                                equal_nan=True))
        del arr, mm     # a mapping keeps the file open
    ml.check("int column with missing values is <f8",
             np.load(os.path.join(views, "g", "maybe.npy")).dtype ==
             np.float64)
    ml.check("int column without is <i8",
             np.load(os.path.join(views, "g", "id.npy")).dtype == np.int64)
    vec = np.load(os.path.join(views, "g", "vec.npy"))
    ml.check("vector column: shape (rows, 2), values",
             vec.shape == (ROWS, 2) and vec[123].tolist() == [123, -123.25])

    # ---- JSON Lines through jq ----
    jq = subprocess.run(["jq", "-c", ".", os.path.join(views, "g.jsonl")],
                        stdout=subprocess.PIPE, text=True)
    import json
    rows = [json.loads(line) for line in jq.stdout.splitlines()]
    ok = jq.returncode == 0 and len(rows) == ROWS
    for i in (0, 1, 2, 7, ROWS - 1):
        r = rows[i] if ok else {}
        ok = ok and list(r) == list(b.columns) and r["id"] == i and \
            r["x"] == b["x"][i] and r["name"] == b["name"][i] and \
            r["vec"] == [i, -i - 0.25 if i else 0.25] and \
            (r["maybe"] is None) == (i % 7 == 0)
    ml.check("jq -c parses every line of g.jsonl; values match", ok)

    # ---- random-offset reads equal a full copy; .txt = cat of blocks ----
    for rel in ("g.csv", "g.jsonl", "g/x.txt", "g/name.txt", "g/x.npy",
                "g/vec.npy", "g/maybe.npy"):
        p = os.path.join(views, rel)
        whole = read(p)
        bad = random_reads(p, whole)
        ml.check("random-offset reads of %s equal the copy" % rel, not bad,
                 bad[:3])
    blocks = sorted(os.listdir(os.path.join(mnt, "g", "name")))
    cat = b"".join(read(os.path.join(mnt, "g", "name", n)) for n in blocks)
    ml.check("name.txt is its block files in a row",
             read(os.path.join(views, "g", "name.txt")) == cat)

    # ---- read-only ----
    for what, fn in (
            ("write", lambda: open(os.path.join(views, "g.csv"), "r+b")),
            ("create", lambda: open(os.path.join(views, "new"), "wb")),
            ("unlink", lambda: os.unlink(os.path.join(views, "g.csv"))),
            ("mkdir", lambda: os.mkdir(os.path.join(views, "g", "d"))),
            ("rmdir", lambda: os.rmdir(views))):
        try:
            fn()
            err = 0
        except OSError as e:
            err = e.errno
        ml.check("%s in .views gives EROFS" % what, err == 30, err)

    # ---- a commit: new opens see it, an open view keeps its version ----
    txt = os.path.join(views, "g", "id.txt")
    old = read(txt)
    held = open(txt, "rb")
    first = sorted(os.listdir(os.path.join(mnt, "g", "id")))[0]
    bpath = os.path.join(mnt, "g", "id", first)
    lines = read(bpath).decode().splitlines()
    with open(bpath, "w") as f:
        f.write("".join("%d\n" % (int(v) + 1000000) for v in lines))
    new = read(txt)
    ml.check("after a block write, a new open of id.txt shows it",
             new.startswith(b"1000000\n") and new != old)
    ml.check("a new open of g.csv shows it",
             read(os.path.join(views, "g.csv")).split(b"\n")[1]
             .startswith(b"1000000,"))
    ml.check("id.npy opened afterwards has the new value",
             np.load(os.path.join(views, "g", "id.npy"))[0] == 1000000)
    ml.check("the file opened before reads its version", held.read() == old)
    held.close()
    m.umount()

    # ---- decode counter: tail -c reads only the last blocks ----
    cache = os.path.join(tmp, "cache")
    fresh = ("auto_unmount", "ro", "pool=0", "decode_threads=0",
             "cache_dir=" + cache)
    m = ml.Mount(store, mnt, opts=fresh)
    xnpy = os.path.join(views, "g", "x.npy")
    d0 = int(stats(mnt)["decodes"])
    size = os.stat(xnpy).st_size
    d1 = int(stats(mnt)["decodes"])
    fd = os.open(xnpy, os.O_RDONLY)
    last = os.pread(fd, 8, size - 8)
    os.close(fd)
    d2 = int(stats(mnt)["decodes"])
    ml.check("stat of a float .npy decodes nothing", d1 == d0, (d0, d1))
    ml.check("pread of x.npy's last value decodes one block", d2 - d1 == 1 and
             np.frombuffer(last, "<f8")[0] == b["x"].iloc[-1], (d1, d2))
    gcsv = os.path.join(views, "g.csv")
    gjsonl = os.path.join(views, "g.jsonl")
    csv_size = os.stat(gcsv).st_size	# the layout: every block once
    d3 = int(stats(mnt)["decodes"])
    tail = subprocess.run(["tail", "-c", "100", gcsv], stdout=subprocess.PIPE)
    d4 = int(stats(mnt)["decodes"])
    # the blocks holding rows of the last chunk of 8192 rows (fewer if
    # the layout left a column at the block the chunk starts in)
    want = 0
    for col in b.columns:
        d = os.path.join(mnt, "g", col)
        for n in os.listdir(d):
            x = lambda a: int(os.getxattr(os.path.join(d, n),
                                          "user.arrayfs." + a))
            want += x("first_row") + x("rows") > (ROWS - 1) // 8192 * 8192
    ml.check("tail -c 100 of g.csv (a fresh pool) decodes the last chunk's "
             "blocks only", 0 < d4 - d3 <= want and want < (d3 - d2) // 2 and
             tail.stdout == read(exp)[-100:], (d2, d3, d4, want))
    jsonl_bytes = read(gjsonl)
    csv_bytes = read(gcsv)
    m.umount()
    vfiles = sorted(n for n in os.listdir(cache) if n.endswith(".view"))
    ml.check("a view size file per view read, private, in cache_dir",
             len(vfiles) == 2 and all(
                 os.stat(os.path.join(cache, n)).st_mode & 0o077 == 0
                 for n in vfiles), vfiles)

    # ---- a second fresh mount: chunk sizes from the view size files ----
    m = ml.Mount(store, mnt, opts=fresh)
    d0 = int(stats(mnt)["decodes"])
    csv_size2 = os.stat(gcsv).st_size
    jsonl_size2 = os.stat(gjsonl).st_size
    d1 = int(stats(mnt)["decodes"])
    tail2 = subprocess.run(["tail", "-c", "100", gcsv],
                           stdout=subprocess.PIPE)
    d2 = int(stats(mnt)["decodes"])
    ml.check("second mount: stat of g.csv and g.jsonl decodes 0 blocks",
             d1 == d0 and csv_size2 == csv_size and
             jsonl_size2 == len(jsonl_bytes), (d0, d1, csv_size2, csv_size))
    ml.check("second mount: tail -c 100 of g.csv decodes the last chunk's "
             "blocks only, same bytes", 0 < d2 - d1 <= want and
             tail2.stdout == tail.stdout, (d1, d2, want))
    ml.check("second mount: g.jsonl reads the same bytes",
             read(gjsonl) == jsonl_bytes)
    m.umount()

    # ---- a damaged view size file is ignored: rendered, same bytes ----
    for n in vfiles:
        with open(os.path.join(cache, n), "r+b") as f:
            f.seek(60)
            c = f.read(1)
            f.seek(60)
            f.write(bytes([c[0] ^ 0x55]))
    m = ml.Mount(store, mnt, opts=fresh)
    d0 = int(stats(mnt)["decodes"])
    csv_size3 = os.stat(gcsv).st_size
    d1 = int(stats(mnt)["decodes"])
    ml.check("damaged view size file: ignored, g.csv rendered, same bytes",
             d1 > d0 and csv_size3 == csv_size and
             read(gcsv) == csv_bytes, (d0, d1))
    m.umount()

    # ---- -o views=visible, -o views=off ----
    m = ml.Mount(store, mnt, opts=("auto_unmount", "views=visible"))
    ml.check("views=visible: ls -a lists .views", ".views" in os.listdir(mnt))
    m.umount()
    m = ml.Mount(store, mnt, opts=("auto_unmount", "views=off"))
    ml.check("views=off: no .views", not os.path.exists(views))
    m.umount()

    # ---- hostile names ----
    hs = os.path.join(tmp, "hostile")
    os.makedirs(hs)
    small = os.path.join(tmp, "small.csv")
    with open(small, "w") as f:
        f.write('x,x.npy,a/b\n1,2.5,3\n4,5.5,6\n')
    import_group(small, os.path.join(hs, "h"))
    import_group(small, os.path.join(hs, "h.csv"))
    import_group(small, os.path.join(hs, ".views"))
    m = ml.Mount(hs, mnt, opts=("auto_unmount",))
    lv = sorted(os.listdir(views))
    ml.check("a group named .views is not shown; .views is the views folder",
             lv == ["h", "h.csv", "h.csv.csv", "h.csv.jsonl", "h.jsonl"], lv)
    ml.check("group folder h.csv wins over the view h.csv",
             os.path.isdir(os.path.join(views, "h.csv")))
    lh = sorted(os.listdir(os.path.join(views, "h")))
    ml.check("columns x, x.npy, a/b: escaped names, no collision",
             lh == ["a%2Fb.npy", "a%2Fb.txt", "x.npy", "x.npy.npy",
                    "x.npy.txt", "x.txt"], lh)
    ml.check("x.npy is column x's", np.load(os.path.join(
        views, "h", "x.npy")).tolist() == [1, 4] and np.load(os.path.join(
            views, "h", "x.npy.npy")).tolist() == [2.5, 5.5])
    m.umount()

    # ---- image files: a real Turi SFrame with 60 JPEGs ----
    import re
    import shutil
    from PIL import Image
    ims = os.path.join(tmp, "images")
    os.makedirs(ims)
    shutil.copytree(os.path.join(ml.FIXTURES, "turi", "liang_or_lu_image"),
                    os.path.join(ims, "faces"))
    m = ml.Mount(ims, mnt, opts=("auto_unmount", "ro"))
    folder = os.path.join(views, "faces", "image")
    names = os.listdir(folder)
    ml.check("image column: a folder of 60 ROW.jpg files",
             sorted(names, key=lambda n: int(n.split(".")[0])) ==
             ["%d.jpg" % i for i in range(60)], names[:5])
    lines = read(os.path.join(views, "faces", "image.txt")).decode() \
        .splitlines()
    bad = []
    for i, line in enumerate(lines):
        w, h, c, size = map(int, re.match(
            r"<image (\d+)x(\d+)x(\d+) jpeg (\d+) bytes", line).groups())
        p = os.path.join(folder, "%d.jpg" % i)
        data = read(p)
        with Image.open(p) as im:
            dims = im.size
        if len(data) != size or os.stat(p).st_size != size or \
                data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9" or \
                dims != (w, h):
            bad.append((i, len(data), size, dims, (w, h)))
    ml.check("each image: stored size, a whole JPEG, PIL's size = stored",
             len(lines) == 60 and not bad, bad[:3])
    ft = subprocess.run(["file", "-b", os.path.join(folder, "7.jpg")],
                        stdout=subprocess.PIPE, text=True).stdout
    ml.check("file(1) says JPEG", ft.startswith("JPEG image data"), ft)
    try:
        read(os.path.join(folder, "60.jpg"))
        err = 0
    except OSError as e:
        err = e.errno
    ml.check("no file past the last row", err == 2, err)
    m.umount()

    # a single-group store with a column named .views: the column wins
    one = os.path.join(tmp, "one")
    with open(small, "w") as f:
        f.write('.views,y\n1,2\n')
    import_group(small, one)
    m = ml.Mount(one, mnt, opts=("auto_unmount",))
    ml.check("a column named .views hides the views folder",
             os.path.isdir(views) and any(n.endswith(".000000") or
                                          n.startswith("0000")
                                          for n in os.listdir(views)),
             os.listdir(views))
    m.umount()
    ml.finish()


if __name__ == "__main__":
    main()
