#!/usr/bin/env python3
"""Make the seed corpus of tests/fuzz/ from the fixtures in
tests/fixtures (run from anywhere; writes tests/fuzz/corpus/). Small
files only: a few KB per target. The inputs' layouts are described at the
top of each fuzz_<parser>.c."""
import glob, os, struct, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
fix = os.environ.get("ARFS_FIXTURES",
                     os.path.join(here, "..", "fixtures"))
out = os.path.join(here, "corpus")


def put(parser, name, data):
    d = os.path.join(out, parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def lz4_block_decode(src, size):
    """Decode one raw LZ4 block (to make typed seeds from LZ4 blocks)."""
    out, i = bytearray(), 0
    while i < len(src):
        tok = src[i]; i += 1
        lit = tok >> 4
        if lit == 15:
            while True:
                b = src[i]; i += 1; lit += b
                if b != 255:
                    break
        out += src[i:i + lit]; i += lit
        if i >= len(src):
            break
        off = src[i] | src[i + 1] << 8; i += 2
        ml = tok & 15
        if ml == 15:
            while True:
                b = src[i]; i += 1; ml += b
                if b != 255:
                    break
        ml += 4
        for _ in range(ml):
            out.append(out[-off])
    assert len(out) == size
    return bytes(out)


# ---- document arrays ----
for case in ("basic", "updated_deleted", "keylen8", "pruned"):
    h = open(os.path.join(fix, "docarray", case, "header.bin"), "rb").read()
    if len(h) <= 4096:
        put("header", case, h)
put("header", "empty", b"")
put("header", "tomb", b"a\0\0\0" + b"\0" * 140 + b"\xff" * 24)

rec = lambda docno, mode: struct.pack("<QqIIII", docno, 1700000000, 5, mode, 0, 0)
hdr = lambda k: b"ARFSMETA" + struct.pack("<II", 1, k) + b"\0" * 16
put("sidecar", "six", hdr(36) + b"".join(rec(i + 1, 0o644) for i in range(6)))
put("sidecar", "cut", hdr(36) + rec(1, 0o600) + rec(2, 0o755)[:20])
put("sidecar", "k8", hdr(8) + rec(3, 0o644))
put("sidecar", "header-only", hdr(36))

# ---- segment groups ----
sf = os.path.join(fix, "turi", "business.sf")
sidx = open(glob.glob(os.path.join(sf, "*.sidx"))[0], "rb").read()
put("sidx", "business", sidx)
put("sidx", "two-seg-array",
    b'{"sarray":{"version":2,"num_segments":2},"segment_files":["m.0000","m.0001"],'
    b'"columns":[{"metadata":{"__type__":"0"},"segment_sizes":["3",4]}]}')
put("sidx", "escape", b'{"sarray":{"version":2,"num_segments":1},'
    b'"segment_files":{"0000":"../m.0000"},"columns":[]}')
put("frame_idx", "two",
    b"[sframe]\nversion=0\nnum_columns=2\nnrows=3\n[column_names]\n0000=a\n0001=b c\n"
    b"[column_files]\n0000=m.sidx:0\n0001=m.sidx:1\n")
put("frame_idx", "business",
    open(glob.glob(os.path.join(sf, "*.frame_idx"))[0], "rb").read()
    .replace(b"m_9688d6320ff94822.sidx", b"m.sidx")
    .replace(b"num_columns=12", b"num_columns=2").replace(b"nrows=11536", b"nrows=3"))

seg = open(glob.glob(os.path.join(sf, "*.0000"))[0], "rb").read()
ts = struct.unpack("<Q", seg[-8:])[0]
p = len(seg) - 8 - ts
ncols = struct.unpack("<Q", seg[p:p + 8])[0]; p += 8
blocks = []
for c in range(ncols):
    nb = struct.unpack("<Q", seg[p:p + 8])[0]; p += 8
    for b in range(nb):
        off, ln, bs, ne, fl = struct.unpack("<5Q", seg[p:p + 40])
        ct = struct.unpack("<H", seg[p + 40:p + 42])[0]
        p += 48
        if b == 0:
            blocks.append((c, seg[off:off + ln], bs, ne, fl, ct))

def segment(blks):
    """A segment file: blocks back to back, one column per block."""
    body, infos = b"", []
    for (_, raw, bs, ne, fl, ct) in blks:
        infos.append(struct.pack("<5QH6x", len(body), len(raw), bs, ne, fl, ct))
        body += raw
    table = struct.pack("<Q", len(blks)) + b"".join(
        struct.pack("<Q", 1) + i for i in infos)
    return body + table + struct.pack("<Q", len(table))

put("segment", "three-cols", segment(blocks[:3]))
put("segment", "lz4-cols", segment([b for b in blocks if b[4] & 1][:2]))
put("segment", "empty", struct.pack("<Q", 0) + struct.pack("<Q", 8))
for (c, raw, bs, ne, fl, ct) in blocks:
    payload = lz4_block_decode(raw, bs) if fl & 1 else raw
    if len(payload) <= 800:
        put("typed", "col%02d" % c, bytes([fl & 14]) + struct.pack("<I", ne) + payload)
    if fl & 1 and len(raw) <= 800:
        put("lz4", "col%02d" % c, struct.pack("<I", bs) + raw)

for name, text in (("text", b"lorem ipsum dolor sit amet " * 8),
                   ("zeros", b"\0" * 500), ("empty", b"")):
    z = subprocess.run(["zstd", "-q", "-c", "-19"], input=text,
                       stdout=subprocess.PIPE, check=True).stdout
    put("zstd", name, struct.pack("<I", len(text)) + z)

for name, data in (("ascii", b"d00"), ("slash", b"a%2Fb"), ("dot", b"%2E"),
                   ("dotdot", b"%2E%2E"), ("nul", b"%00x"), ("surrogate", b"%{D800}"),
                   ("pct", b"100%"), ("utf8", "caf\u00e9 \u4e2d".encode()),
                   ("cps", struct.pack("<4I", 0x2F, 0, 0xD800, 0x110000))):
    put("idname", name, data)

# textparse: u8 column type, then block text lines (FORMAT.md 2.8)
for name, t, text in (
        ("list", 4, '[1,"a",[2.5],{"$vector":"[1 2]"},null,NaN]\n\\N\n[]\n'),
        ("dict", 5, '{"the":3,"a":1}\n{"$dict":[[1,"x"],[2.5,{}]]}\n{}\n'),
        ("datetime", 6, "2014-03-01T12:30:00.000250+05:45\n\\N\n1900-01-01T00:00:00\n"),
        ("image", 8, "<image 2x1x1 png 3 bytes AQID>\n<image v1 0x0x0 undefined 0 bytes>\n"),
        ("ndarray", 9, "[[1 2] [3 4]]\n[[] []]\n[]\n\\N\n"),
        ("nested", 4, '[{"$datetime":"1970-01-01T00:00:00"},{"$ndarray":"[[1] [2]]"},'
                      '{"$image":"<image 1x1x1 raw 1 bytes AA==>"},[[["\\u00e9\\n"]]]]\n'),
        ("str", 2, "a\\tb\n\\\\N\n\\N\n"),
        ("vector", 3, "[1 -2.5]\n[]\n")):
    put("textparse", name, bytes([t]) + text.encode())
