#!/usr/bin/env python3
"""Generate a CSV in arrayctl export's canonical form (csv.h): quoted header
and strings, ints, shortest-repr floats (integral ones keep ".0"), vectors
[a b], empty field = missing. Usage: gen_csv.py ROWS SEED > out.csv"""
import random, sys

rows, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
cities = ["Phoenix", "Tempe", "Mesa", "Scottsdale", "Chandler", "Glendale"]
out = sys.stdout
out.write('"id","city","note","price","qty","tags","flag"\n')
buf = []
for i in range(rows):
    r = rnd.random()
    city = '"%s"' % cities[i % 6] if r > 0.02 else ""
    if r < 0.01:
        note = '"say ""hi"", then\nleave é"'
    elif r < 0.05:
        note = '""'
    else:
        note = '"n%x"' % rnd.getrandbits(40)
    price = repr(round(rnd.uniform(-1000, 1000), 3)) if r > 0.1 else (
        "%d.0" % (i % 50) if r > 0.05 else "")
    qty = str(rnd.randrange(-5, 200)) if r < 0.97 else ""
    n = rnd.randrange(0, 4)
    tags = "[" + " ".join(str(rnd.randrange(0, 9)) if rnd.random() < 0.8
                          else "%d.5" % rnd.randrange(0, 9) for _ in range(n)) + "]"
    flag = str(i * 3 - 7)
    buf.append(",".join((str(i), city, note, price, qty, tags, flag)))
    if len(buf) == 10000:
        out.write("\n".join(buf) + "\n")
        buf = []
if buf:
    out.write("\n".join(buf) + "\n")
