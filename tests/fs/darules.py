#!/usr/bin/env python3
"""An independent reader of DocArray memmap arrays, for the mount tests.

It follows DocArray's own reading rules (docs/FORMAT.md section 1), not
arrayfs code: header.bin rows of K UTF-32LE code units then p, r, e
(int64 LE); bytes = body.bin[p + r : p + e]; p = r = e = -1 is a
tombstone; a duplicate id keeps the position of its first live row and the
bytes of its last. K comes from arrayfs.meta when present, else 36.

    darules.py compare [--any-order] ARRAY DIR
                                   the array equals the files in DIR
                                   (names in order, every byte)
    darules.py list ARRAY          print "name size" per document
    darules.py check ARRAY         DocArray can open the array and its next
                                   append overwrites no live byte
"""
import os
import struct
import sys


def key_length(array):
    try:
        with open(os.path.join(array, "arrayfs.meta"), "rb") as f:
            head = f.read(16)
        if head[:8] == b"ARFSMETA":
            return struct.unpack_from("<I", head, 12)[0]
    except FileNotFoundError:
        pass
    return 36


def id_to_name(i):
    """docs/FORMAT.md 1.4, enough for the ids these tests use."""
    if i in (".", ".."):
        return "%2E" if i == "." else "%2E%2E"
    if i == "":
        return "%00"
    out = []
    for k, ch in enumerate(i):
        c = ord(ch)
        if c == 0:
            out.append("%00")
        elif ch == "/":
            out.append("%2F")
        elif ch == "%" and (i[k + 1:k + 2] == "{" or
                            all(x in "0123456789abcdefABCDEF"
                                for x in i[k + 1:k + 3]) and len(i[k + 1:k + 3]) == 2):
            out.append("%25")
        elif 0xD800 <= c <= 0xDFFF or c > 0x10FFFF:
            out.append("%%{%X}" % c)
        else:
            out.append(ch)
    return "".join(out)


def read_array(array, k=None):
    """[(id, bytes)] in document order, by DocArray's rules."""
    k = k or key_length(array)
    row = 4 * k + 24
    header = open(os.path.join(array, "header.bin"), "rb").read()
    body = open(os.path.join(array, "body.bin"), "rb").read()
    if len(header) % row:
        raise ValueError(f"{array}: header.bin size {len(header)} is not a multiple of {row}")
    order, value = [], {}
    for off in range(0, len(header), row):
        units = struct.unpack_from(f"<{k}I", header, off)
        n = k
        while n and units[n - 1] == 0:
            n -= 1
        ident = "".join(chr(u) if u <= 0x10FFFF and not 0xD800 <= u <= 0xDFFF
                        else "\uFFFD" for u in units[:n])
        p, r, e = struct.unpack_from("<qqq", header, off + 4 * k)
        if p == r == e == -1:
            continue
        if not (p >= 0 and 0 <= r <= e and p + e <= len(body)):
            raise ValueError(f"{array}: bad row at {off}: {p} {r} {e}")
        if ident not in value:
            order.append(ident)
        value[ident] = body[p + r:p + e]
    return [(i, value[i]) for i in order]


def append_problems(array, k=None):
    """What stops DocArray from opening the array or appending to it
    safely ([] when nothing): DocArray appends at p + e of the LAST row
    (docs/FORMAT.md 1.5 rule 8), so that must not be a tombstone (-2) and
    must lie at or after the end of every live document's bytes."""
    k = k or key_length(array)
    row = 4 * k + 24
    header = open(os.path.join(array, "header.bin"), "rb").read()
    body_size = os.path.getsize(os.path.join(array, "body.bin"))
    if len(header) % row:
        return [f"header.bin size {len(header)} is not a multiple of {row}"]
    if not header:
        return []
    live = {}
    for off in range(0, len(header), row):
        ident = header[off:off + 4 * k]
        p, r, e = struct.unpack_from("<qqq", header, off + 4 * k)
        if p == r == e == -1:
            continue
        live[ident] = p + e
    p, r, e = struct.unpack_from("<qqq", header, len(header) - row + 4 * k)
    start = p + e
    out = []
    if p == r == e == -1:
        out.append("the last row is a tombstone: DocArray computes its "
                   "append position as -2 and cannot open the array")
    end = max(live.values(), default=0)
    if start < end:
        out.append(f"DocArray would append at {start}, before live bytes "
                   f"ending at {end}")
    if start > body_size:
        out.append(f"the last row ends at {start}, past body.bin ({body_size})")
    return out


def compare(array, directory, any_order=False):
    docs = [(id_to_name(i), b) for i, b in read_array(array)]
    names = os.listdir(directory)
    want = [n for n, _ in docs]
    if any_order:
        names, want = sorted(names), sorted(want)
    ok = True
    if names != want:
        print(f"{array}: names differ:\n  rules: {[n for n, _ in docs][:20]}\n"
              f"  dir:   {names[:20]}")
        ok = False
    for n, b in docs:
        p = os.path.join(directory, n)
        try:
            data = open(p, "rb").read()
        except OSError as e:
            print(f"{p}: {e}")
            ok = False
            continue
        if data != b:
            print(f"{array}/{n}: bytes differ ({len(b)} by the rules, {len(data)} in {directory})")
            ok = False
    return ok


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(0 if compare(sys.argv[2], sys.argv[3]) else 1)
    if len(sys.argv) == 5 and sys.argv[1] == "compare" and sys.argv[2] == "--any-order":
        sys.exit(0 if compare(sys.argv[3], sys.argv[4], True) else 1)
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        problems = append_problems(sys.argv[2])
        for p in problems:
            print(f"{sys.argv[2]}: {p}")
        sys.exit(1 if problems else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "list":
        for i, b in read_array(sys.argv[2]):
            print(id_to_name(i), len(b))
        return
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
