#!/usr/bin/env python3
"""Every column type written and read back (docs/FORMAT.md 2.8, 2.10, 2.12).

1. `arrayctl import --type` of a hand-written CSV holding every type (int,
   float, str, vector, list, dict, datetime, image, ndarray) in its text
   form: `arrayctl export` gives the CSV's fields back exactly, and the
   stored values, read by sframe_ref.py (an independent reader that shares
   no code with core/), are the values written out by hand below.
2. Through the mount: a block file of each type written whole reads back
   as the same text; bad text (malformed JSON, a ragged ndarray, a bad
   datetime) is EINVAL at close with a log line naming the reason, and
   leaves the block as it was.
3. Real Turi data: the dict column of text_classifier_dict reads as the
   compact JSON that an independent decode of the files gives, and jq -c
   writes each line back byte for byte; the dict,
   datetime and image columns of the Turi fixtures, each block written
   back through the mount as the text it reads, are then (after
   `arrayctl convert --lz4`, so the reader needs no zstd) the same values
   for sframe_ref.py as the original files.
"""
import csv
import errno
import io
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402
import sframe_ref  # noqa: E402

TYPES = ["i=int", "f=float", "s=str", "v=vector", "l=list", "d=dict",
         "t=datetime", "img=image", "nd=ndarray"]
HEADER = "i,f,s,v,l,d,t,img,nd"
# each row's fields in their text form, CSV-quoted where they hold , or "
ROWS = [
    ['1', '2.5', 'a,b', '[1 2]', '[1,"a",[2.5],{"$vector":"[1 2]"}]',
     '{"the":3,"a":1}', '2014-03-01T12:30:00+01:00',
     '<image 2x1x1 png 3 bytes AQID>', '[[1 2] [3 4]]'],
    ['', '', '', '', '', '', '', '', ''],
    ['-3', '-0.0', 'x', '[]', '[]', '{}', '1969-12-31T23:59:59.000001',
     '<image 0x0x0 undefined 0 bytes>', '[]'],
    ['9', '1e+300', 'y', '[0.5]', '[null,NaN,{"$dict":[[1,"one"]]}]',
     '{"$dict":[[2.5,[1]],["$k",null]]}', '2000-02-29T23:45:00-11:45',
     '<image 1x1x3 raw 3 bytes /wAA>', '[[] []]'],
]
# the same values as sframe_ref.py returns them
WANT = {
    "nd": [("nd", [2, 2], [2, 1], [1.0, 2.0, 3.0, 4.0]), None,
           ("nd", [0], [1], []), ("nd", [2, 0], [0, 1], [])],
    "i": [1, None, -3, 9],
    "f": [2.5, None, -0.0, 1e300],
    "s": [b"a,b", None, b"x", b"y"],
    "v": [[1.0, 2.0], None, [], [0.5]],
    "l": [[1, b"a", [2.5], [1.0, 2.0]], None, [], [None, "nan", [(1, b"one")]]],
    "d": [[(b"the", 3), (b"a", 1)], None, [], [(2.5, [1]), (b"$k", None)]],
    "t": [("dt", 1393673400, 4, 0), None, ("dt", -1, 64, 1),
          ("dt", 951910200, -47, 0)],
    "img": [("img", 2, 1, 1, 1, b"\x01\x02\x03"), None,
            ("img", 0, 0, 0, 3, b""), ("img", 1, 1, 3, 2, b"\xff\x00\x00")],
}
# hand-written block text per type, written through the mount
BLOCKS = {
    "i": "7\n\\N\n-9223372036854775808\n",
    "f": "0.1\n\\N\n-inf\n",
    "s": "tab\\there\n\\N\n\n",
    "v": "[1 -2.5]\n\\N\n[]\n",
    "l": '[["x",{"k":[1,2.0]}],{"$datetime":"1970-01-01T00:00:00"}]\n\\N\n[]\n',
    "d": '{"word":10,"other":{"$ndarray":"[[1] [2]]"}}\n\\N\n{"$dict":[[1,2]]}\n',
    "t": "2014-05-02T00:00:00.000250+05:45\n\\N\n1900-01-01T00:00:00\n",
    "img": "<image 1x2x1 raw 2 bytes AAE=>\n\\N\n",
    "nd": "[[[1] [2]] [[3] [4]]]\n\\N\n[nan 0 -0]\n",
}
BAD = [
    ("l", '[1,"a\n', "unterminated string"),
    ("l", '[1,"a"\n', "expected , or ]"),
    ("l", "[1 2]\n", None),
    ("d", '{"k":}\n', None),
    ("d", "[1]\n", "not a JSON object"),
    ("nd", "[[1 2] [3]]\n", "shape does not match"),
    ("t", "2014-02-30T00:00:00\n", "out of range"),
    ("img", "<image 1x1x1 png 2 bytes AQID>\n", "base64"),
]


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return repr(a) == repr(b) or (a != a and b != b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    if a == "nan":           # a NaN inside the hand-written values
        return isinstance(b, float) and b != b
    return a == b


def csv_text():
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    out.write(HEADER + "\n")
    for r in ROWS:
        w.writerow(r)
    return out.getvalue()


def sframe_values(group):
    return {name: vals for name, t, vals in sframe_ref.read_group(group)}


def import_export(tmp):
    src = os.path.join(tmp, "all.csv")
    with open(src, "w") as f:
        f.write(csv_text())
    targs = [x for t in TYPES for x in ("--type", t)]
    group = os.path.join(tmp, "store", "all")
    r = ml.arrayctl("import", "--lz4", *targs, src, group)
    ml.check("import --type of every type", r.returncode == 0, r.stdout[-300:])
    r = ml.arrayctl("check", group)
    ml.check("arrayctl check: sound", r.returncode == 0, r.stdout[-300:])
    r = subprocess.run([os.path.join(ml.BIN, "arrayctl"), "export", group],
                       stdout=subprocess.PIPE)
    rows = list(csv.reader(io.StringIO(r.stdout.decode())))
    ml.check("export: the header", rows[:1] == [HEADER.split(",")], rows[:1])
    for i, (got, want) in enumerate(zip(rows[1:], ROWS)):
        ml.check("export row %d: the imported fields" % i, got == want,
                 "%r != %r" % (got, want))
    ml.check("export: every row", len(rows) == len(ROWS) + 1)
    again = os.path.join(tmp, "again.csv")
    with open(again, "wb") as f:
        f.write(r.stdout)
    g2 = os.path.join(tmp, "all2")
    ml.arrayctl("import", *targs, again, g2)
    r2 = subprocess.run([os.path.join(ml.BIN, "arrayctl"), "export", g2],
                        stdout=subprocess.PIPE)
    ml.check("export, import, export: the same bytes", r2.stdout == r.stdout)
    try:
        got = sframe_values(group)
    except (ValueError, KeyError) as e:
        ml.check("sframe_ref reads the imported group", False, e)
        return group
    for name, want in WANT.items():
        ml.check("stored %s values, as an independent reader sees them" %
                 name, same(want, got[name]), "%r != %r" % (got[name], want))
    return group


def write_block(path, text):
    """Write a block file whole; the errno of close, or 0."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        try:
            os.close(fd)
        except OSError as e:
            return e.errno
    return 0


def read_col(d):
    return b"".join(open(os.path.join(d, f), "rb").read()
                    for f in sorted(os.listdir(d)))


def mount_writes(mnt, log):
    for col, text in BLOCKS.items():
        p = os.path.join(mnt, "all", col, "0000.000000")
        rc = write_block(p, text)
        ml.check("mount: a %s block written whole" % col, rc == 0,
                 os.strerror(rc) if rc else "")
        got = open(p, "rb").read().decode()
        ml.check("mount: the %s block reads back as written" % col,
                 got == text, "%r != %r" % (got, text))
    for col, text, why in BAD:
        p = os.path.join(mnt, "all", col, "0000.000000")
        before = open(p, "rb").read()
        rc = write_block(p, text)
        ml.check("mount: bad %s text %r: EINVAL" % (col, text.strip()),
                 rc == errno.EINVAL, os.strerror(rc) if rc else "accepted")
        ml.check("mount: the block is unchanged",
                 open(p, "rb").read() == before)
        if why:
            with open(log, "rb") as f:
                logged = f.read().decode(errors="replace")
            ml.check("mount: the log says why (%s)" % why, why in logged)


def json_text(v):
    """The compact JSON of FORMAT.md 2.8.1 for the reader's str/int dicts."""
    if isinstance(v, bytes):
        return json.dumps(v.decode("utf-8"), ensure_ascii=False)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list) and all(isinstance(k, bytes) and
                                   not k.startswith(b"$") for k, _ in v):
        return "{" + ",".join(json_text(k) + ":" + json_text(x)
                              for k, x in v) + "}"
    raise ValueError("not a value this check knows: %r" % (v,))


def dict_fixture(mnt):
    ref = sframe_values(os.path.join(ml.FIXTURES, "turi",
                                     "text_classifier_dict"))["text"]
    want = "".join("\\N\n" if v is None else json_text(v) + "\n"
                   for v in ref).encode()
    got = read_col(os.path.join(mnt, "dict", "text"))
    ml.check("text_classifier_dict: the dict column is the compact JSON of "
             "an independent decode (%d rows)" % len(ref), got == want,
             "first difference at byte %d" %
             next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                  min(len(got), len(want))))
    lines = b"".join(x + b"\n" for x in got.split(b"\n")[:-1]
                     if x != b"\\N")
    for line in lines.split(b"\n")[:-1]:
        json.loads(line)
    ml.check("text_classifier_dict: every line is JSON", True)
    if shutil.which("jq"):
        r = subprocess.run(["jq", "-c", "."], input=lines,
                           stdout=subprocess.PIPE)
        ml.check("text_classifier_dict: jq -c reads every line and writes "
                 "it back byte for byte (the same compact form)",
                 r.returncode == 0 and r.stdout == lines)


REWRITE = [("dict", "text_classifier_dict", "text"),
           ("house", "kc_house_data_gl", "date"),
           ("img", "liang_or_lu_image", "image")]


def rewrite_blocks(mnt):
    for g, _, col in REWRITE:
        d = os.path.join(mnt, g, col)
        for f in sorted(os.listdir(d)):
            p = os.path.join(d, f)
            text = open(p, "rb").read().decode("utf-8", "surrogateescape")
            rc = write_block(p, text)
            if rc:
                ml.check("rewrite %s/%s/%s" % (g, col, f), False,
                         os.strerror(rc))
        ml.check("rewrite %s/%s: every block written back" % (g, col), True)


def after_rewrite(store):
    for g, fix, col in REWRITE:
        path = os.path.join(store, g)
        r = ml.arrayctl("check", path)
        ml.check("%s: sound after the writes" % g, r.returncode == 0,
                 r.stdout[-300:])
        r = ml.arrayctl("convert", "--lz4", path)
        ml.check("%s: convert --lz4" % g, r.returncode == 0, r.stdout[-300:])
        want = sframe_values(os.path.join(ml.FIXTURES, "turi", fix))[col]
        got = sframe_values(path)[col]
        ml.check("%s/%s: written back, the same %d values for an "
                 "independent reader" % (g, col, len(want)),
                 same(want, got) and len(want) == len(got))


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("types")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    import_export(tmp)
    for g, fix, _ in REWRITE:
        shutil.copytree(os.path.join(ml.FIXTURES, "turi", fix),
                        os.path.join(store, g))
        for f in os.listdir(os.path.join(store, g)):
            os.chmod(os.path.join(store, g, f), 0o644)
    log = os.path.join(tmp, "daemon.log")
    m = ml.Mount(store, mnt, opts=("auto_unmount",), log=log)
    mount_writes(mnt, log)
    dict_fixture(mnt)
    rewrite_blocks(mnt)
    ml.check("unmount", m.umount() == 0)
    after_rewrite(store)
    ml.finish()


if __name__ == "__main__":
    main()
