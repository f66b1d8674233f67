#!/usr/bin/env python3
"""Real Turi SFrames read exactly: every value of every column of the Turi
fixtures (image, dict, datetime, 8 segments, and business.sf), as
`arrayctl cat` prints it and as the mount's block files hold it, equals
the value that sframe_ref.py (an independent reader, no code shared with
core/) decodes from the files; `arrayctl check` finds them sound.

The text of each line is parsed back by type (docs/FORMAT.md 2.8) and
compared as a value, so floats must be the same double, strings the same
bytes, images the same width, height, channels, format and stored bytes.
"""
import base64
import json
import os
import re
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402
import sframe_ref  # noqa: E402

GROUPS = ["liang_or_lu_image", "text_classifier_dict", "kc_house_data_gl",
          "books_items_8seg", "business.sf"]
IMG_FORMATS = ["jpeg", "png", "raw", "undefined"]
DT = re.compile(r"^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{6})?"
                r"(?:([+-])(\d\d):(\d\d))?$")
IMG = re.compile(r"^<image (\d+)x(\d+)x(\d+) (\w+) (\d+) bytes"
                 r"(?: ([A-Za-z0-9+/]+=*))?>$")


def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c == 0x5c and i + 1 < len(s):
            out.append({0x5c: 0x5c, 0x6e: 10, 0x74: 9, 0x72: 13}[s[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def same_float(a, b):
    return struct.pack("<d", a) == struct.pack("<d", b) or (a != a and b != b)


def json_value(x):
    """A value decoded by sframe_ref as JSON would read it back."""
    if isinstance(x, bytes):
        return x.decode("utf-8")
    if isinstance(x, list) and x and isinstance(x[0], tuple):
        return [[json_value(k), json_value(v)] for k, v in x]
    if isinstance(x, list):
        return [json_value(v) for v in x]
    return x


def parse(line, t):
    """One text line of a column of type t, as a value like sframe_ref's."""
    if line == b"\\N":
        return None
    if t == 0:
        return int(line)
    if t == 1:
        return float(line)
    if t == 2:
        return unescape(line)
    if t == 3:
        inner = line[1:-1].split()
        return [float(x) for x in inner]
    if t == 5:
        pairs = json.loads(line, object_pairs_hook=lambda p: p)
        return [[k, v] for k, v in pairs]
    if t == 4:
        return json.loads(line)
    if t == 6:
        m = DT.match(line.decode())
        g = m.groups()
        ts = (days_from_civil(int(g[0]), int(g[1]), int(g[2])) * 86400 +
              int(g[3]) * 3600 + int(g[4]) * 60 + int(g[5]))
        us = int(g[6][1:]) if g[6] else 0
        tz = 64
        if g[7]:
            tz = (int(g[8]) * 4 + int(g[9]) // 15) * (1 if g[7] == "+" else -1)
            ts -= tz * 15 * 60
        return ("dt", ts, tz, us)
    if t == 8:
        m = IMG.match(line.decode())
        w, h, c, fmt, size, data = m.groups()
        data = base64.b64decode(data) if data else b""
        assert len(data) == int(size), "image data is not SIZE bytes"
        return ("img", int(w), int(h), int(c), IMG_FORMATS.index(fmt), data)
    raise ValueError("type %d" % t)


def equal(got, want, t):
    if want is None or got is None:
        return got is want
    if t == 1:
        return same_float(got, want)
    if t == 3:
        return len(got) == len(want) and all(map(same_float, got, want))
    if t in (4, 5):
        return got == json_value(want)
    if t == 6:
        # a value without a zone prints without an offset
        return got == want or (want[2] == 64 and got[1:] == want[1:])
    if t == 8:
        return got == want	# the stored bytes too, from the base64
    return got == want


def compare(what, text, t, want):
    lines = text.split(b"\n")
    if lines[-1] != b"":
        return ml.check(what + ": ends in a newline", False)
    lines.pop()
    if len(lines) != len(want):
        return ml.check(what, False, "%d lines, want %d" %
                        (len(lines), len(want)))
    for i, (line, w) in enumerate(zip(lines, want)):
        try:
            got = parse(line, t)
        except (ValueError, AttributeError, KeyError) as e:
            return ml.check(what, False, "row %d: %r: %s" % (i, line[:80], e))
        if not equal(got, w, t):
            return ml.check(what, False, "row %d: %r, want %r" %
                            (i, line[:80], repr(w)[:80]))
    return ml.check("%s: %d values equal" % (what, len(want)), True)


def main():
    ml.skip_without_fuse()
    tmp = ml.scratch("turi")
    store, mnt = os.path.join(tmp, "store"), os.path.join(tmp, "mnt")
    os.makedirs(store)
    ref, texts = {}, {}
    for g in GROUPS:
        src = os.path.join(ml.FIXTURES, "turi", g)
        shutil.copytree(src, os.path.join(store, g))
        ref[g] = sframe_ref.read_group(src)
        r = ml.arrayctl("check", src)
        ml.check("arrayctl check %s: sound" % g, r.returncode == 0,
                 r.stdout.decode(errors="replace")[-300:])
        for name, t, want in ref[g]:
            r = ml.arrayctl("cat", src, name)
            texts[g, name] = r.stdout
            if ml.check("arrayctl cat %s %s: exit 0" % (g, name),
                        r.returncode == 0):
                compare("arrayctl cat %s %s" % (g, name), r.stdout, t, want)
    # the types this test is about must be there
    types = {t for g in GROUPS for _, t, _ in ref[g]}
    ml.check("fixtures hold int, float, str, vector, dict, datetime, image",
             {0, 1, 2, 3, 5, 6, 8} <= types, sorted(types))
    m = ml.Mount(store, mnt, opts=("ro", "auto_unmount"))
    for g in GROUPS:
        for name, t, want in ref[g]:
            d = os.path.join(mnt, g, name)
            text = b""
            for f in sorted(os.listdir(d)):
                with open(os.path.join(d, f), "rb") as fh:
                    text += fh.read()
            if text != texts[g, name]:
                compare("mount %s/%s" % (g, name), text, t, want)
            else:
                ml.check("mount %s/%s: the block files are arrayctl cat's "
                         "bytes" % (g, name), True)
    ml.check("unmount", m.umount() == 0)
    ml.finish()


if __name__ == "__main__":
    main()
