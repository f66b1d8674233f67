#!/usr/bin/env python3
"""Generate the realistic CSV of scripts/bench-group.sh: columns int64,
small int, full-precision random doubles, unicode strings with quotes and
commas, a 3-colour category, float vectors of 0-5 elements; about 5% of
the fields missing. Usage: gen_group_csv.py ROWS SEED > out.csv"""
import random
import sys

rows, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
words = ["naïve", "café", "straße", "日本", "quote\"d", "a,b", "plain",
         "Ωmega", "x", "long text here"]
colours = ["red", "green", "blue"]
out = sys.stdout
out.write('"id","small","score","label","colour","vec"\n')
buf = []


def maybe(text):
    return "" if rnd.random() < 0.05 else text


def quoted(s):
    return '"' + s.replace('"', '""') + '"'


for i in range(rows):
    big = str(rnd.getrandbits(63) - (1 << 62))
    small = str(rnd.randrange(0, 100))
    score = repr(rnd.uniform(-1e6, 1e6) * rnd.random())
    label = quoted(" ".join(rnd.choice(words)
                            for _ in range(rnd.randrange(1, 5))))
    colour = quoted(rnd.choice(colours))
    vec = "[" + " ".join(repr(rnd.gauss(0, 1))
                         for _ in range(rnd.randrange(0, 6))) + "]"
    buf.append(",".join(maybe(f) for f in (big, small, score, label, colour,
                                           vec)))
    if len(buf) == 10000:
        out.write("\n".join(buf) + "\n")
        buf = []
if buf:
    out.write("\n".join(buf) + "\n")
