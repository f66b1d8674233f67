"""An independent reader of Turi SFrame v2 files, for the tests: written
from Turi's byte layout (docs/FORMAT.md section 2), sharing no code with
core/. It reads the .frame_idx (INI) and .sidx (JSON), each segment's
block table, decompresses LZ4 blocks with its own decoder, and decodes
typed payloads into Python values:

  int -> int, float -> float, str -> bytes, vector -> [float],
  list -> [value], dict -> [(key, value)], datetime -> ("dt", seconds,
  zone in quarter hours or 64, microseconds), image -> ("img", width,
  height, channels, format, data), ndarray -> ("nd", shape, strides,
  elements), missing -> None.

read_group(path) -> [(column name, type, [values])].
"""
import json
import os
import struct

MISSING = None


def lz4_block(src, size):
    """Decode one raw LZ4 block (no frame) of `size` bytes."""
    dst = bytearray()
    i, n = 0, len(src)
    while i < n:
        tok = src[i]
        i += 1
        lit = tok >> 4
        if lit == 15:
            while True:
                b = src[i]
                i += 1
                lit += b
                if b != 255:
                    break
        dst += src[i:i + lit]
        i += lit
        if i >= n:
            break
        off = src[i] | src[i + 1] << 8
        i += 2
        ml = tok & 15
        if ml == 15:
            while True:
                b = src[i]
                i += 1
                ml += b
                if b != 255:
                    break
        ml += 4
        start = len(dst) - off
        if off <= 0 or start < 0:
            raise ValueError("lz4: bad offset")
        if off >= ml:
            dst += dst[start:start + ml]
        else:
            pat = bytes(dst[start:])
            dst += (pat * (ml // off + 1))[:ml]
    if len(dst) != size:
        raise ValueError("lz4: %d bytes, want %d" % (len(dst), size))
    return bytes(dst)


class Cur:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if n < 0 or self.p + n > len(self.b):
            raise ValueError("payload ends early at %d" % self.p)
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def u8(self):
        return self.take(1)[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def i64(self):
        return struct.unpack("<q", self.take(8))[0]

    def f64(self):
        return struct.unpack("<d", self.take(8))[0]

    def varint(self):
        b0 = self.b[self.p]
        ones = 0
        while ones < 8 and (b0 >> ones) & 1:
            ones += 1
        if ones >= 7:
            self.p += 1
            return self.u64()
        nb = ones + 1
        v = int.from_bytes(self.take(nb), "little")
        return v >> nb

    def numbers(self, n):
        out = []
        while len(out) < n:
            c = min(128, n - len(out))
            hdr = self.u8()
            shift, tech = hdr >> 2, hdr & 3
            if shift > 7 or tech == 3:
                raise ValueError("bad frame header")
            w = 0 if shift == 0 else 1 << (shift - 1)
            first = self.varint()
            if w == 0:
                out += [first] * c
                continue
            cnt = c if tech == 0 else c - 1
            raw = self.take((cnt * w + 7) // 8)
            if w >= 8:
                nb = w // 8
                vals = [int.from_bytes(raw[k * nb:(k + 1) * nb], "little")
                        for k in range(cnt)]
            else:
                big = int.from_bytes(raw, "little")
                skip = ((8 - cnt % 8) % 8) * w % 8
                mask = (1 << w) - 1
                vals = [(big >> (k * w + skip)) & mask for k in range(cnt)]
            M = 1 << 64
            if tech == 0:
                out += [(v + first) % M for v in vals]
            else:
                cur = first
                frame = [cur]
                for d in vals:
                    if tech == 2:
                        d = (d >> 1) ^ (-(d & 1) % M)
                    cur = (cur + d) % M
                    frame.append(cur)
                out += frame
        return out


def s64(u):
    return u - (1 << 64) if u >= 1 << 63 else u


def rotr_double(u):
    u = (u >> 1) | ((u & 1) << 63)
    return struct.unpack("<d", struct.pack("<Q", u))[0]


def doubles(c, k, ext):
    mode = c.u8() if ext else 0
    if mode > 1:
        raise ValueError("float mode")
    u = c.numbers(k)
    if mode == 1:
        return [float(s64(x)) for x in u]
    return [rotr_double(x) for x in u]


def datetime_body(c):
    raw = c.take(8)
    u = int.from_bytes(raw[:7], "little")
    ts = u - (1 << 56) if u >= 1 << 55 else u
    z = struct.unpack("b", raw[7:8])[0]
    if -25 < z < 25:
        return ("dt", ts, 2 * z, 0)
    us = struct.unpack("<i", c.take(4))[0]
    return ("dt", ts, z - 25 if z >= 25 else z + 25, us)


def image_body(c):
    c.u8()                                  # version
    h, w, ch, fmt, size = (c.u64() for _ in range(5))
    return ("img", w, h, ch, fmt, c.take(size))


def ndarray_body(c):
    if c.u8() != 0:
        raise ValueError("ndarray version")
    shape = [c.u64() for _ in range(c.u64())]
    stride = [c.u64() for _ in range(c.u64())]
    return ("nd", shape, stride, [c.f64() for _ in range(c.u64())])


def body(c, t):
    if t == 0:
        return c.i64()
    if t == 1:
        return c.f64()
    if t == 2:
        return c.take(c.u64())
    if t == 3:
        return [c.f64() for _ in range(c.u64())]
    if t == 4:
        return [tagged(c) for _ in range(c.u64())]
    if t == 5:
        return [(tagged(c), tagged(c)) for _ in range(c.u64())]
    if t == 6:
        return datetime_body(c)
    if t == 7:
        return MISSING
    if t == 8:
        return image_body(c)
    if t == 9:
        return ndarray_body(c)
    raise ValueError("type %d not handled here" % t)


def tagged(c):
    t = c.u8()
    if t >= 128:
        t -= 128
    else:
        c.take(4)
    return body(c, t)


def present(c, t, k, ext):
    if t == 0:
        return [s64(x) for x in c.numbers(k)]
    if t == 1:
        return doubles(c, k, ext)
    if t == 2:
        if c.u8():
            d = [c.take(c.varint()) for _ in range(c.varint())]
            return [d[x] for x in c.numbers(k)]
        return [c.take(n) for n in c.numbers(k)]
    if t == 3:
        if ext and c.u8() != 0:
            raise ValueError("vector mode")
        lens = c.numbers(k)
        flat = doubles(c, sum(lens), ext)
        out, at = [], 0
        for n in lens:
            out.append(flat[at:at + n])
            at += n
        return out
    if t == 9:
        # u8 0, numbers: dimension counts, element counts, shapes,
        # strides; then the elements as a float body with its mode byte
        if c.u8() != 0:
            raise ValueError("ndarray mode")
        ndim, numel = c.numbers(k), c.numbers(k)
        shapes, strides = c.numbers(sum(ndim)), c.numbers(sum(ndim))
        flat = doubles(c, sum(numel), True)
        out, a, e = [], 0, 0
        for nd, ne in zip(ndim, numel):
            out.append(("nd", shapes[a:a + nd], strides[a:a + nd],
                        flat[e:e + ne]))
            a, e = a + nd, e + ne
        return out
    return [body(c, t) for _ in range(k)]


def decode_block(payload, flags, n):
    c = Cur(payload)
    if not flags & 2 or flags & 4:
        if flags & 2:
            c.u8()
        cnt = c.u64()
        vals = [tagged(c) for _ in range(cnt)]
    else:
        nt = c.u8()
        if nt == 0:
            vals = []
        else:
            t = c.u8()
            miss = set()
            if nt == 2:
                words = struct.unpack("<%dQ" % ((n + 63) // 64),
                                      c.take((n + 63) // 64 * 8))
                miss = {i for i in range(n) if words[i // 64] >> (i % 64) & 1}
            if t == 7:
                vals = [MISSING] * n
            else:
                got = iter(present(c, t, n - len(miss), flags & 8))
                vals = [MISSING if i in miss else next(got) for i in range(n)]
    if c.p != len(payload) or len(vals) != n:
        raise ValueError("block does not decode exactly")
    return vals


def read_segment(path, ncols):
    with open(path, "rb") as f:
        data = f.read()
    tsize = struct.unpack_from("<Q", data, len(data) - 8)[0]
    p = len(data) - 8 - tsize
    if struct.unpack_from("<Q", data, p)[0] != ncols:
        raise ValueError("%s: column count" % path)
    p += 8
    cols = []
    for _ in range(ncols):
        nb = struct.unpack_from("<Q", data, p)[0]
        p += 8
        vals = []
        for _ in range(nb):
            off, ln, bsize, nel, flags = struct.unpack_from("<5Q", data, p)
            p += 48
            raw = data[off:off + ln]
            if flags & 1:
                raw = lz4_block(raw, bsize)
            vals += decode_block(raw, flags, nel)
        cols.append(vals)
    return cols


def read_sidx(path):
    with open(path) as f:
        idx = json.load(f)
    if int(idx["sarray"]["version"]) != 2:
        raise ValueError("version")
    segs = idx["segment_files"]
    if isinstance(segs, dict):
        segs = [segs["%04d" % i] for i in range(len(segs))]
    d = os.path.dirname(path)
    ncols = len(idx["columns"])
    cols = [[] for _ in range(ncols)]
    for s in segs:
        for i, v in enumerate(read_segment(os.path.join(d, s), ncols)):
            cols[i] += v
    types = [int(c["metadata"]["__type__"]) for c in idx["columns"]]
    return types, cols


def read_ini(path):
    sec, out = None, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("["):
                sec = line.strip("[]")
                out[sec] = {}
            elif "=" in line:
                k, v = line.split("=", 1)
                out[sec][k.strip()] = v.strip()
    return out


def read_group(path):
    """path: a .frame_idx file, or a folder holding exactly one."""
    if os.path.isdir(path):
        fi = [f for f in sorted(os.listdir(path)) if f.endswith(".frame_idx")]
        if len(fi) != 1:
            raise ValueError("%s: %d .frame_idx" % (path, len(fi)))
        path = os.path.join(path, fi[0])
    ini = read_ini(path)
    d = os.path.dirname(path)
    n = int(ini["sframe"]["num_columns"])
    cache, out = {}, []
    for i in range(n):
        k = "%04d" % i
        sidx, col = ini["column_files"][k].rsplit(":", 1)
        if sidx not in cache:
            cache[sidx] = read_sidx(os.path.join(d, sidx))
        types, cols = cache[sidx]
        out.append((ini["column_names"][k], types[int(col)], cols[int(col)]))
    return out
