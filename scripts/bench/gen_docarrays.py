#!/usr/bin/env python3
"""Benchmark data for scripts/bench-fs.sh (not a test, no product logic).

gen_docarrays.py OUT BIG_BYTES NSMALL NMANY

Writes the same documents twice:
  OUT/native/<array>/<id>             plain files (native, bindfs, squashfs,
                                      passthrough_ll columns)
  OUT/store/<array>/header.bin,body.bin  DocArray memmap arrays (arrayfs)
Arrays: big (one document of BIG_BYTES), small (NSMALL documents of 4 KiB),
many (NMANY documents of 100..1000 bytes). Ids are 32 hex digits (uuid
style), key length 36: a header row is 144 bytes of UTF-32LE id padded
with NUL, then i64 p, r, e (p = start & ~4095, r = start - p, e = r + len).
The big array's body.bin is a hard link to the native file (it holds
exactly that one document), which saves a GiB of disk.
"""
import os
import random
import struct
import sys

KEY = 36


def row(doc_id, start, length):
    raw = doc_id.encode("utf-32-le")
    assert len(raw) <= 4 * KEY
    p = start & ~4095
    r = start - p
    return raw + b"\0" * (4 * KEY - len(raw)) + struct.pack("<qqq", p, r, r + length)


def ids(rng, n):
    seen = set()
    out = []
    while len(out) < n:
        s = "%032x" % rng.getrandbits(128)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def array(out, name, docs):
    """docs: iterable of (id, bytes)."""
    nat = os.path.join(out, "native", name)
    st = os.path.join(out, "store", name)
    os.makedirs(nat, exist_ok=True)
    os.makedirs(st, exist_ok=True)
    start = 0
    with open(os.path.join(st, "header.bin"), "wb") as h, \
            open(os.path.join(st, "body.bin"), "wb") as b:
        for doc_id, data in docs:
            with open(os.path.join(nat, doc_id), "wb") as f:
                f.write(data)
            b.write(data)
            h.write(row(doc_id, start, len(data)))
            start += len(data)


def main():
    out, big, nsmall, nmany = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(20260101)

    # big: one document, written once, linked as body.bin
    big_id = ids(rng, 1)[0]
    nat = os.path.join(out, "native", "big")
    st = os.path.join(out, "store", "big")
    os.makedirs(nat, exist_ok=True)
    os.makedirs(st, exist_ok=True)
    path = os.path.join(nat, big_id)
    chunk = 1 << 24
    with open(path, "wb") as f:
        left = big
        while left:
            n = min(chunk, left)
            f.write(rng.randbytes(n))
            left -= n
    with open(os.path.join(st, "header.bin"), "wb") as h:
        h.write(row(big_id, 0, big))
    body = os.path.join(st, "body.bin")
    if os.path.exists(body):
        os.unlink(body)
    os.link(path, body)

    array(out, "small", ((i, rng.randbytes(4096)) for i in ids(rng, nsmall)))
    array(out, "many", ((i, rng.randbytes(rng.randint(100, 1000))) for i in ids(rng, nmany)))


if __name__ == "__main__":
    main()
