#!/usr/bin/env python3
"""Turi's CSV dialect (`arrayctl import/export --dialect turi`).

- Turi's own CSV export of business.sf, imported with --dialect turi,
  gives exactly the SFrame's columns, types and values (both sides read
  by sframe_ref.py, the independent reader: the import is written with
  LZ4 blocks, as Turi writes them), where the default RFC 4180 dialect
  keeps Turi's escapes (`\\\\n` stays two backslashes).
- Exporting with --dialect turi and importing that again gives the same
  values, and the export follows Turi's rules (strings quoted with \\\\ and
  "" escapes, numbers bare, missing values empty, an unquoted NA missing).
- A hand-made file exercises the reading rules one by one.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mountlib as ml  # noqa: E402
import sframe_ref  # noqa: E402


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def compare_groups(what, got, want):
    if [(n, t) for n, t, _ in got] != [(n, t) for n, t, _ in want]:
        return ml.check(what + ": column names and types", False,
                        "%s != %s" % ([(n, t) for n, t, _ in got],
                                      [(n, t) for n, t, _ in want]))
    for (name, t, g), (_, _, w) in zip(got, want):
        if len(g) != len(w):
            return ml.check(what, False, "%s: %d rows, want %d" %
                            (name, len(g), len(w)))
        for i, (x, y) in enumerate(zip(g, w)):
            if not same(x, y):
                return ml.check(what, False, "%s row %d: %r, want %r" %
                                (name, i, x, y))
    n = sum(len(v) for _, _, v in want)
    return ml.check("%s: %d values equal" % (what, n), True)


def imp(csv, group, *opts):
    r = ml.arrayctl("import", "--lz4", *opts, csv, group)
    ok = ml.check("import %s %s: exit 0" % (" ".join(opts),
                                            os.path.basename(csv)),
                  r.returncode == 0, r.stdout.decode(errors="replace"))
    return sframe_ref.read_group(group) if ok else None


def main():
    tmp = ml.scratch("csvturi")
    csv = os.path.join(ml.FIXTURES, "turi", "business.csv")
    want = sframe_ref.read_group(os.path.join(ml.FIXTURES, "turi",
                                              "business.sf"))

    got = imp(csv, os.path.join(tmp, "turi"), "--dialect", "turi")
    if got:
        compare_groups("import --dialect turi business.csv == business.sf",
                       got, want)
    rfc = imp(csv, os.path.join(tmp, "rfc"))
    if rfc:
        addr = dict((n, v) for n, _, v in rfc)["full_address"][0]
        ml.check("the default dialect keeps Turi's escapes (RFC 4180 has "
                 "none)", b"\\\\n" in addr, addr)

    # export --dialect turi, then import again
    out = os.path.join(tmp, "export.csv")
    r = ml.arrayctl("export", "--dialect", "turi",
                    os.path.join(ml.FIXTURES, "turi", "business.sf"), out)
    ml.check("export --dialect turi business.sf: exit 0", r.returncode == 0,
             r.stdout)
    with open(out, "rb") as f:
        lines = f.read().split(b"\n")
    ml.check("export: a bare header, strings quoted, backslashes doubled, "
             "numbers bare",
             lines[0].startswith(b"business_id,categories,city,") and
             lines[1].startswith(b'"0FNFSzCFP_rGUoJx8W7tJg",[4 5 6],'
                                 b'"Phoenix","2149 W Wood Dr\\\\nPhoenix, '
                                 b'AZ 85029",33.6041,-112.106,'
                                 b'"Bike Doctor",1,5,5.0,'), lines[:2])
    back = imp(out, os.path.join(tmp, "back"), "--dialect", "turi")
    if back:
        compare_groups("export --dialect turi, import --dialect turi: "
                       "round trip", back, want)

    # the rules one by one
    rules = os.path.join(tmp, "rules.csv")
    with open(rules, "wb") as f:
        f.write(b'name,n,x,v,d\r\n'
                b'"a\\\\b\\"c""d\\te\\u00e9\\ud83d\\ude00\\q",1,1.5,[1 2],{"k":1}\r\n'
                b'  "spaced"  , 2 ,NA,[],"x"\n'
                b'NA,NA,,[3,4],"{""k"":2}"\r'
                b'"NA",3,2.5,,\n'
                b'"",4,3,[5],\n')
    g = imp(rules, os.path.join(tmp, "rules"), "--dialect", "turi")
    if g:
        cols = dict((n, (t, v)) for n, t, v in g)
        ml.check("rules: types str, int, float, vector, str (quoted or "
                 "braced)", [t for _, t, _ in g] == [2, 0, 1, 3, 2],
                 [t for _, t, _ in g])
        ml.check("rules: escapes in a quoted field (\\\\ \\\" \"\" \\t "
                 "\\uHHHH, a surrogate pair; \\q kept)",
                 cols["name"][1][0] == 'a\\b"c"d\te\u00e9\U0001F600\\q'.encode(),
                 cols["name"][1][0])
        ml.check("rules: spaces around a field dropped",
                 cols["name"][1][1] == b"spaced" and cols["n"][1][1] == 2,
                 (cols["name"][1][1], cols["n"][1][1]))
        ml.check("rules: unquoted NA and an empty field are missing, "
                 "\"NA\" and \"\" are strings",
                 cols["name"][1][2:] == [None, b"NA", b""] and
                 cols["n"][1][2] is None and cols["x"][1][1:3] ==
                 [None, None] and cols["v"][1][3] is None,
                 (cols["name"][1], cols["n"][1], cols["x"][1]))
        ml.check("rules: commas inside brackets do not split",
                 cols["v"][1][2] == [3.0, 4.0] and
                 cols["d"][1][0] == b'{"k":1}', (cols["v"][1], cols["d"][1]))
        ml.check("rules: CRLF, LF and CR all end a record",
                 len(cols["n"][1]) == 5, len(cols["n"][1]))
    for bad, why in ((b'a,b\n"x"y,1\n', "text after a closing quote"),
                     (b'a,b\n"x,1\n', "unterminated quote"),
                     (b'a,b\n1,2,3\n', "too many fields")):
        p = os.path.join(tmp, "bad.csv")
        with open(p, "wb") as f:
            f.write(bad)
        dst = os.path.join(tmp, "bad")
        r = ml.arrayctl("import", "--dialect", "turi", p, dst)
        msg = r.stdout.decode(errors="replace")
        ml.check("refused, naming the line: " + why,
                 r.returncode != 0 and "line 2" in msg and
                 not os.path.exists(dst), msg)
    ml.finish()


if __name__ == "__main__":
    main()
