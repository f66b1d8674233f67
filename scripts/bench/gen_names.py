#!/usr/bin/env python3
"""Benchmark data for scripts/bench-fs.sh (not a test, no product logic).

gen_names.py OUT N

The listing rows: N documents with the same names twice,
  OUT/native/names/<id>               N empty plain files
  OUT/store/names/header.bin,body.bin  one DocArray memmap array of N empty
                                       documents (the layout of
                                       gen_docarrays.py: key length 36,
                                       ids of 32 hex digits)
"""
import os
import random
import struct
import sys

KEY = 36


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(20261206)
    nat = os.path.join(out, "native", "names")
    st = os.path.join(out, "store", "names")
    os.makedirs(nat, exist_ok=True)
    os.makedirs(st, exist_ok=True)
    seen = set()
    tail = struct.pack("<qqq", 0, 0, 0)  # p = r = e = 0: empty
    with open(os.path.join(st, "header.bin"), "wb") as h:
        while len(seen) < n:
            doc_id = "%032x" % rng.getrandbits(128)
            if doc_id in seen:
                continue
            seen.add(doc_id)
            raw = doc_id.encode("utf-32-le")
            h.write(raw + b"\0" * (4 * KEY - len(raw)) + tail)
            os.close(os.open(os.path.join(nat, doc_id),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    open(os.path.join(st, "body.bin"), "wb").close()


if __name__ == "__main__":
    main()
