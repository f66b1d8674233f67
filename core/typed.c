/*
 * typed.c - Turi typed-block payload decoder. See typed.h and
 * docs/FORMAT.md ("Typed block payload").
 *
 * Structure of a payload (flags & TYPED, not MULTITYPE):
 *
 *   u8 num_types            0: empty, 1: one type, 2: one type + missing
 *   u8 type                 (num_types >= 1)
 *   u64[ceil(n/64)] bitmap  (num_types == 2) bit i set: row i is missing
 *   type-specific body      for the k = n - missing present values
 *
 * Multi-type payloads are u8 num_types then a serialized vector of tagged
 * values (u64 count, then per value u8 128+type and its body).
 *
 * Every multi-byte value is little-endian. The decoder reads through a
 * cursor (struct rd) whose every access is bounds-checked; the first
 * failure records -EUCLEAN and the payload offset, and later reads fail
 * at once, so decoding functions can be written straight-line and checked
 * once at the end of a section. Memory comes from an arena owned by the
 * result, so a failed decode frees everything in one call.
 */
#include "typed.h"

#include "segment.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX	128
#define MAX_DEPTH	64

/* ---- arena ---------------------------------------------------------- */

struct arfs_arena {
	struct arfs_arena *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

static void *arena_alloc(struct arfs_arena **a, size_t size)
{
	struct arfs_arena *c = *a;
	size_t cap;

	size = (size + 15) & ~(size_t)15;
	if (!c || c->cap - c->used < size) {
		cap = size > (64u << 10) ? size : (64u << 10);
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = *a;
		*a = c;
	}
	c->used += size;
	return c->data + c->used - size;
}

static void arena_free(struct arfs_arena *a)
{
	struct arfs_arena *next;

	for (; a; a = next) {
		next = a->next;
		free(a);
	}
}

/* ---- bounded reader ------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len, pos;
	int err;		/* 0 or -EUCLEAN/-ENOMEM, sticky */
	size_t err_pos;
	const char *what;	/* first failure */
	struct arfs_arena **arena;
};

static int rd_fail(struct rd *r, const char *what)
{
	if (!r->err) {
		r->err = -EUCLEAN;
		r->err_pos = r->pos;
		r->what = what;
	}
	return r->err;
}

static void *rd_alloc(struct rd *r, uint64_t n, size_t size)
{
	void *p;

	if (r->err)
		return NULL;
	if (n > SIZE_MAX / size / 2) {
		rd_fail(r, "count too large");
		return NULL;
	}
	p = arena_alloc(r->arena, n ? n * size : 1);
	if (!p && !r->err) {
		r->err = -ENOMEM;
		r->err_pos = r->pos;
		r->what = "out of memory";
	}
	return p;
}

static const uint8_t *rd_take(struct rd *r, uint64_t n)
{
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (n > r->len - r->pos) {
		rd_fail(r, "payload ends early");
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

static uint8_t rd_u8(struct rd *r)
{
	const uint8_t *p = rd_take(r, 1);

	return p ? *p : 0;
}

static uint64_t rd_u64(struct rd *r)
{
	const uint8_t *p = rd_take(r, 8);

	return p ? get_le64(p) : 0;
}

/* A count of items each at least `min_size` bytes: bounded by what is left. */
static uint64_t rd_count(struct rd *r, size_t min_size)
{
	uint64_t n = rd_u64(r);

	if (!r->err && min_size && n > (r->len - r->pos) / min_size) {
		rd_fail(r, "count runs past the payload");
		return 0;
	}
	return n;
}

/* ---- variable-length integer and number stream ---------------------- */

int arfs_typed_decode_varint(const uint8_t *buf, size_t len, size_t *pos,
			     uint64_t *out)
{
	size_t p = *pos, nbytes;
	uint64_t v = 0;
	unsigned ones;

	if (p >= len)
		return -EUCLEAN;
	ones = (unsigned)__builtin_ctz(~(unsigned)buf[p] | 0x100u);
	if (ones >= 7) {
		/* marker byte, then the value in 8 bytes */
		if (len - p < 9)
			return -EUCLEAN;
		*out = get_le64(buf + p + 1);
		*pos = p + 9;
		return 0;
	}
	nbytes = ones + 1;
	if (len - p < nbytes)
		return -EUCLEAN;
	for (size_t i = 0; i < nbytes; i++)
		v |= (uint64_t)buf[p + i] << (8 * i);
	*out = v >> nbytes;
	*pos = p + nbytes;
	return 0;
}

/*
 * Unpack `count` values of `w` bits (w in 1,2,4,8,16,32,64). Widths below 8
 * are packed LSB first as if the sequence were preceded by
 * (8 - count % 8) % 8 zero values, with the bytes holding only that padding
 * left out: value i starts at bit i * w + skip of the stream.
 */
static void unpack_bits(const uint8_t *src, uint64_t count, unsigned w,
			uint64_t *out)
{
	unsigned pad = (unsigned)((8 - count % 8) % 8);
	uint64_t bit = (uint64_t)pad * w % 8, mask = (1u << w) - 1;

	for (uint64_t i = 0; i < count; i++, bit += w)
		out[i] = (src[bit / 8] >> (bit % 8)) & mask;
}

static void unpack(const uint8_t *src, uint64_t count, unsigned w,
		   uint64_t *out)
{
	uint64_t i;

	switch (w) {
	case 8:
		for (i = 0; i < count; i++)
			out[i] = src[i];
		break;
	case 16:
		for (i = 0; i < count; i++)
			out[i] = get_le16(src + 2 * i);
		break;
	case 32:
		for (i = 0; i < count; i++)
			out[i] = get_le32(src + 4 * i);
		break;
	case 64:
		for (i = 0; i < count; i++)
			out[i] = get_le64(src + 8 * i);
		break;
	default:
		unpack_bits(src, count, w, out);
	}
}

enum { FOR_PLAIN = 0, FOR_DELTA = 1, FOR_DELTA_ZIGZAG = 2 };

/* One frame of 1..128 values. */
static int decode_frame(const uint8_t *buf, size_t len, size_t *pos,
			uint64_t n, uint64_t *out)
{
	unsigned shift, tech, w;
	uint64_t base = 0, first, count, i, nbytes;
	uint64_t *vals = out;

	if (*pos >= len)
		return -EUCLEAN;
	shift = buf[*pos] >> 2;
	tech = buf[*pos] & 3;
	(*pos)++;
	if (shift > 7 || tech > FOR_DELTA_ZIGZAG)
		return -EUCLEAN;
	w = shift ? 1u << (shift - 1) : 0;
	if (arfs_typed_decode_varint(buf, len, pos, &first))
		return -EUCLEAN;
	if (w == 0) {
		for (i = 0; i < n; i++)
			out[i] = first;
		return 0;
	}
	count = n;
	if (tech == FOR_PLAIN) {
		base = first;
	} else {
		out[0] = first;
		vals = out + 1;
		count = n - 1;
	}
	nbytes = (count * w + 7) / 8;
	if (nbytes > len - *pos)
		return -EUCLEAN;
	unpack(buf + *pos, count, w, vals);
	*pos += nbytes;
	for (i = 0; i < count; i++) {
		if (tech == FOR_PLAIN)
			vals[i] += base;
		else if (tech == FOR_DELTA)
			vals[i] += vals[(int64_t)i - 1];
		else
			vals[i] = vals[(int64_t)i - 1] +
				  ((vals[i] >> 1) ^ (0 - (vals[i] & 1)));
	}
	return 0;
}

int arfs_typed_decode_numbers(const uint8_t *buf, size_t len, size_t *pos,
			      uint64_t n, uint64_t *out)
{
	uint64_t done = 0, chunk;

	while (done < n) {
		chunk = n - done < FRAME_MAX ? n - done : FRAME_MAX;
		if (decode_frame(buf, len, pos, chunk, out + done))
			return -EUCLEAN;
		done += chunk;
	}
	return 0;
}

/* Number stream through the reader: arena array of n values. */
static uint64_t *rd_numbers(struct rd *r, uint64_t n)
{
	uint64_t *v;

	/* a frame of <= 128 values takes at least 2 bytes */
	if (!r->err && n / FRAME_MAX > (r->len - r->pos) / 2) {
		rd_fail(r, "number stream runs past the payload");
		return NULL;
	}
	v = rd_alloc(r, n, sizeof(*v));
	if (!v)
		return NULL;
	if (arfs_typed_decode_numbers(r->p, r->len, &r->pos, n, v)) {
		rd_fail(r, "corrupt number stream");
		return NULL;
	}
	return v;
}

/* ---- typed columns -------------------------------------------------- */

static double rotr_double(uint64_t u)
{
	double d;

	u = (u >> 1) | (u << 63);
	memcpy(&d, &u, sizeof(d));
	return d;
}

/* k doubles: legacy (bit-rotated) or, with `ext`, a reserved byte first. */
static double *rd_doubles(struct rd *r, uint64_t k, bool ext)
{
	uint8_t mode = 0;
	uint64_t *u;
	double *d;

	if (ext) {
		mode = rd_u8(r);
		if (!r->err && mode > 1) {
			rd_fail(r, "unknown float encoding");
			return NULL;
		}
	}
	u = rd_numbers(r, k);
	d = rd_alloc(r, k, sizeof(*d));
	if (!u || !d)
		return NULL;
	for (uint64_t i = 0; i < k; i++)
		d[i] = mode == 1 ? (double)(int64_t)u[i] : rotr_double(u[i]);
	return d;
}

static void fill_int(struct rd *r, struct arfs_value **slots, uint64_t k)
{
	uint64_t *u = rd_numbers(r, k);

	for (uint64_t i = 0; u && i < k; i++)
		slots[i]->u.i = (int64_t)u[i];
}

static void fill_float(struct rd *r, struct arfs_value **slots, uint64_t k,
		       bool ext)
{
	double *d = rd_doubles(r, k, ext);

	for (uint64_t i = 0; d && i < k; i++)
		slots[i]->u.f = d[i];
}

static char *rd_copy(struct rd *r, uint64_t len)
{
	const uint8_t *src = rd_take(r, len);
	char *dst;

	if (!src)
		return NULL;
	dst = rd_alloc(r, len + 1, 1);
	if (!dst)
		return NULL;
	memcpy(dst, src, len);
	dst[len] = 0;
	return dst;
}

static void fill_string_dict(struct rd *r, struct arfs_value **slots,
			     uint64_t k)
{
	uint64_t nd, len, *idx, i;
	struct arfs_value *dict;

	if (arfs_typed_decode_varint(r->p, r->len, &r->pos, &nd) ||
	    nd > r->len - r->pos) {
		rd_fail(r, "bad string dictionary size");
		return;
	}
	dict = rd_alloc(r, nd, sizeof(*dict));
	for (i = 0; dict && i < nd && !r->err; i++) {
		if (arfs_typed_decode_varint(r->p, r->len, &r->pos, &len)) {
			rd_fail(r, "bad string length");
			return;
		}
		dict[i].u.str.p = rd_copy(r, len);
		dict[i].u.str.len = len;
	}
	idx = rd_numbers(r, k);
	for (i = 0; idx && i < k; i++) {
		if (idx[i] >= nd) {
			rd_fail(r, "string dictionary index out of range");
			return;
		}
		slots[i]->u.str = dict[idx[i]].u.str;
	}
}

static void fill_string(struct rd *r, struct arfs_value **slots, uint64_t k)
{
	uint8_t use_dict = rd_u8(r);
	uint64_t *lens;

	if (r->err)
		return;
	if (use_dict > 1) {
		rd_fail(r, "bad string encoding flag");
		return;
	}
	if (use_dict) {
		fill_string_dict(r, slots, k);
		return;
	}
	lens = rd_numbers(r, k);
	for (uint64_t i = 0; lens && i < k && !r->err; i++) {
		slots[i]->u.str.p = rd_copy(r, lens[i]);
		slots[i]->u.str.len = lens[i];
	}
}

/* Sum of n counts, bounded by what the rest of the payload could hold. */
static uint64_t rd_sum(struct rd *r, const uint64_t *v, uint64_t n)
{
	uint64_t s = 0, lim = ((uint64_t)(r->len - r->pos) + 2) * FRAME_MAX;

	for (uint64_t i = 0; v && i < n; i++) {
		if (v[i] > lim || s + v[i] > lim) {
			rd_fail(r, "vector lengths run past the payload");
			return 0;
		}
		s += v[i];
	}
	return s;
}

static void fill_vector(struct rd *r, struct arfs_value **slots, uint64_t k,
			bool ext)
{
	uint64_t *lens, total, at = 0;
	double *vals;

	if (ext && rd_u8(r) != 0 && !r->err) {
		rd_fail(r, "unknown vector encoding");
		return;
	}
	lens = rd_numbers(r, k);
	total = rd_sum(r, lens, k);
	vals = rd_doubles(r, total, ext);
	for (uint64_t i = 0; vals && i < k; i++) {
		slots[i]->u.vec.v = vals + at;
		slots[i]->u.vec.n = lens[i];
		at += lens[i];
	}
}

static bool nd_valid(uint64_t ndim, const uint64_t *shape,
		     const uint64_t *stride, uint64_t n)
{
	uint64_t last = 0, t;

	for (uint64_t d = 0; d < ndim; d++) {
		if (shape[d] == 0)
			return n == 0;
		if (__builtin_mul_overflow(shape[d] - 1, stride[d], &t) ||
		    arfs_add_overflows(last, t, &last))
			return false;
	}
	return ndim == 0 ? n == 0 : last < n;
}

static void fill_ndvector(struct rd *r, struct arfs_value **slots, uint64_t k)
{
	uint64_t *ndim, *numel, *shapes, *strides, sdim, sval, ai = 0, av = 0;
	double *vals;

	if (rd_u8(r) != 0 && !r->err) {
		rd_fail(r, "unknown nd-vector encoding");
		return;
	}
	ndim = rd_numbers(r, k);
	numel = rd_numbers(r, k);
	sdim = rd_sum(r, ndim, k);
	sval = rd_sum(r, numel, k);
	shapes = rd_numbers(r, sdim);
	strides = rd_numbers(r, sdim);
	vals = rd_doubles(r, sval, true);
	for (uint64_t i = 0; vals && i < k && !r->err; i++) {
		struct arfs_value *v = slots[i];

		v->u.nd.ndim = ndim[i];
		v->u.nd.n = numel[i];
		v->u.nd.shape = shapes + ai;
		v->u.nd.stride = strides + ai;
		v->u.nd.v = vals + av;
		if (!nd_valid(ndim[i], shapes + ai, strides + ai, numel[i]))
			rd_fail(r, "nd-vector shape and strides exceed its "
				"elements");
		ai += ndim[i];
		av += numel[i];
	}
}

/* ---- tagged (serialized) flexible values ---------------------------- */

static void rd_value(struct rd *r, struct arfs_value *v, int depth);

static void rd_body(struct rd *r, struct arfs_value *v, int depth);

static void rd_tagged(struct rd *r, struct arfs_value *v, int depth)
{
	uint8_t c = rd_u8(r);

	if (c < 128)
		rd_take(r, 4);	/* old format: a 4-byte tag follows */
	else
		c -= 128;
	if (r->err)
		return;
	if (c >= ARFS_FT_COUNT) {
		rd_fail(r, "unknown value type");
		return;
	}
	v->type = c;
	rd_body(r, v, depth);
}

static void rd_value(struct rd *r, struct arfs_value *v, int depth)
{
	rd_tagged(r, v, depth);
}

static void rd_list(struct rd *r, struct arfs_value *v, int depth, int per)
{
	uint64_t n = rd_count(r, (size_t)per);
	struct arfs_value *items;

	if (depth >= MAX_DEPTH) {
		rd_fail(r, "values nested too deeply");
		return;
	}
	items = rd_alloc(r, n * per, sizeof(*items));
	for (uint64_t i = 0; items && i < n * per && !r->err; i++)
		rd_value(r, &items[i], depth + 1);
	v->u.list.v = items;
	v->u.list.n = n;
}

static void rd_datetime(struct rd *r, struct arfs_value *v)
{
	const uint8_t *p = rd_take(r, 8);
	int8_t tz;
	int32_t us = 0;

	if (!p)
		return;
	v->u.dt.ts = (int64_t)(get_le64(p) << 8) >> 8;
	tz = (int8_t)p[7];
	if (tz > -25 && tz < 25) {
		v->u.dt.tz = tz * 2;	/* old format: half hours */
	} else {
		p = rd_take(r, 4);
		if (!p)
			return;
		us = (int32_t)get_le32(p);
		v->u.dt.tz = tz < 0 ? tz + 25 : tz - 25;
		if (us < 0 || us >= 1000000)
			rd_fail(r, "datetime microseconds out of range");
	}
	v->u.dt.us = us;
}

/*
 * Turi's image_type::save(): char version, size_t height, width, channels,
 * then the Format enum (declared ": size_t", so 8 bytes), size_t data size,
 * the data. Only formats 0..3 exist.
 */
static void rd_image(struct rd *r, struct arfs_value *v)
{
	uint64_t format;

	v->u.img.version = rd_u8(r);
	v->u.img.height = rd_u64(r);
	v->u.img.width = rd_u64(r);
	v->u.img.channels = rd_u64(r);
	format = rd_u64(r);
	if (!r->err && format > ARFS_IMG_UNDEFINED) {
		rd_fail(r, "unknown image format");
		return;
	}
	v->u.img.format = (int32_t)format;
	v->u.img.size = rd_count(r, 1);
	v->u.img.data = rd_take(r, v->u.img.size);
	/* the bytes stay in the payload: keep a copy */
	if (v->u.img.data) {
		uint8_t *c = rd_alloc(r, v->u.img.size, 1);

		if (c)
			memcpy(c, v->u.img.data, v->u.img.size);
		v->u.img.data = c;
	}
}

static uint64_t *rd_u64_vector(struct rd *r, uint64_t *n)
{
	uint64_t *a;

	*n = rd_count(r, 8);
	a = rd_alloc(r, *n, sizeof(*a));
	for (uint64_t i = 0; a && i < *n; i++)
		a[i] = rd_u64(r);
	return a;
}

static void rd_ndvec_body(struct rd *r, struct arfs_value *v)
{
	uint64_t nshape, nstride, *shape, *stride, n;
	double *d;

	if (rd_u8(r) != 0 && !r->err) {
		rd_fail(r, "unknown nd-vector version");
		return;
	}
	shape = rd_u64_vector(r, &nshape);
	stride = rd_u64_vector(r, &nstride);
	n = rd_count(r, 8);
	d = rd_alloc(r, n, sizeof(*d));
	for (uint64_t i = 0; d && i < n; i++) {
		uint64_t u = rd_u64(r);

		memcpy(&d[i], &u, sizeof(u));
	}
	if (r->err)
		return;
	if (nshape != nstride || !nd_valid(nshape, shape, stride, n)) {
		rd_fail(r, "nd-vector shape and strides exceed its elements");
		return;
	}
	v->u.nd.ndim = nshape;
	v->u.nd.shape = shape;
	v->u.nd.stride = stride;
	v->u.nd.n = n;
	v->u.nd.v = d;
}

static void rd_body(struct rd *r, struct arfs_value *v, int depth)
{
	uint64_t n, u;
	double *d;

	switch (v->type) {
	case ARFS_FT_INTEGER:
		v->u.i = (int64_t)rd_u64(r);
		break;
	case ARFS_FT_FLOAT:
		u = rd_u64(r);
		memcpy(&v->u.f, &u, sizeof(u));
		break;
	case ARFS_FT_STRING:
		n = rd_count(r, 1);
		v->u.str.p = rd_copy(r, n);
		v->u.str.len = n;
		break;
	case ARFS_FT_VECTOR:
		n = rd_count(r, 8);
		d = rd_alloc(r, n, sizeof(*d));
		for (uint64_t i = 0; d && i < n; i++) {
			u = rd_u64(r);
			memcpy(&d[i], &u, sizeof(u));
		}
		v->u.vec.v = d;
		v->u.vec.n = n;
		break;
	case ARFS_FT_LIST:
		rd_list(r, v, depth, 1);
		break;
	case ARFS_FT_DICT:
		rd_list(r, v, depth, 2);
		break;
	case ARFS_FT_DATETIME:
		rd_datetime(r, v);
		break;
	case ARFS_FT_IMAGE:
		rd_image(r, v);
		break;
	case ARFS_FT_NDVECTOR:
		rd_ndvec_body(r, v);
		break;
	default:		/* UNDEFINED has no body */
		break;
	}
}

/* ---- block level ---------------------------------------------------- */

static void decode_multitype(struct rd *r, struct arfs_values *vals)
{
	uint64_t n = rd_count(r, 1);

	if (!r->err && n != vals->n) {
		rd_fail(r, "value count differs from the block's element count");
		return;
	}
	for (uint64_t i = 0; i < n && !r->err; i++)
		rd_value(r, &vals->v[i], 0);
}

static void decode_present(struct rd *r, uint8_t type, uint64_t flags,
			   struct arfs_value **slots, uint64_t k)
{
	bool ext = flags & ARFS_BLOCK_EXTENSION;

	switch (type) {
	case ARFS_FT_INTEGER:
		fill_int(r, slots, k);
		break;
	case ARFS_FT_FLOAT:
		fill_float(r, slots, k, ext);
		break;
	case ARFS_FT_STRING:
		fill_string(r, slots, k);
		break;
	case ARFS_FT_VECTOR:
		fill_vector(r, slots, k, ext);
		break;
	case ARFS_FT_NDVECTOR:
		fill_ndvector(r, slots, k);
		break;
	default:
		for (uint64_t i = 0; i < k && !r->err; i++)
			rd_body(r, slots[i], 0);
	}
}

/* Read the missing-value bitmap; marks rows UNDEFINED. Returns count. */
static uint64_t read_bitmap(struct rd *r, struct arfs_values *vals)
{
	uint64_t words = (vals->n + 63) / 64, missing = 0, w, i, bit;
	const uint8_t *p = rd_take(r, words * 8);

	for (i = 0; p && i < words; i++) {
		w = get_le64(p + 8 * i);
		for (; w; w &= w - 1) {
			bit = i * 64 + (uint64_t)__builtin_ctzll(w);
			if (bit >= vals->n) {
				rd_fail(r, "missing-value bitmap marks rows "
					"past the block");
				return 0;
			}
			vals->v[bit].type = ARFS_FT_UNDEFINED;
			missing++;
		}
	}
	return missing;
}

static void decode_single(struct rd *r, uint8_t num_types, uint64_t flags,
			  struct arfs_values *vals)
{
	uint64_t missing = 0, k = 0, i;
	struct arfs_value **slots;
	uint8_t type;

	if (num_types == 0) {
		if (vals->n)
			rd_fail(r, "empty block claims elements");
		return;
	}
	if (num_types > 2) {
		rd_fail(r, "bad type count in typed block");
		return;
	}
	type = rd_u8(r);
	if (r->err)
		return;
	if (type >= ARFS_FT_COUNT ||
	    (num_types == 2 && type == ARFS_FT_UNDEFINED)) {
		rd_fail(r, "bad column type in typed block");
		return;
	}
	for (i = 0; i < vals->n; i++)
		vals->v[i].type = type;
	if (type == ARFS_FT_UNDEFINED)
		return;
	if (num_types == 2)
		missing = read_bitmap(r, vals);
	slots = rd_alloc(r, vals->n - missing, sizeof(*slots));
	for (i = 0; slots && i < vals->n; i++)
		if (vals->v[i].type != ARFS_FT_UNDEFINED)
			slots[k++] = &vals->v[i];
	if (slots)
		decode_present(r, type, flags, slots, k);
}

int arfs_typed_decode(const struct arfs_block_info *bi, const void *payload,
		      size_t len, const char *where, struct arfs_values **out)
{
	struct arfs_values *vals = calloc(1, sizeof(*vals));
	struct rd r = { .p = payload, .len = len };
	uint8_t num_types;

	if (!vals)
		return -ENOMEM;
	r.arena = &vals->arena;
	vals->n = bi->num_elem;
	vals->v = rd_alloc(&r, vals->n, sizeof(*vals->v));
	if (vals->v)
		memset(vals->v, 0, vals->n * sizeof(*vals->v));
	if (!(bi->flags & ARFS_BLOCK_TYPED)) {
		/* untyped block: a serialized vector of tagged values */
		decode_multitype(&r, vals);
	} else {
		num_types = rd_u8(&r);
		if (bi->flags & ARFS_BLOCK_MULTITYPE)
			decode_multitype(&r, vals);
		else if (!r.err)
			decode_single(&r, num_types, bi->flags, vals);
	}
	if (!r.err && r.pos != r.len) {
		r.err = -EUCLEAN;
		r.err_pos = r.pos;
		r.what = "bytes left over after the last value";
	}
	if (r.err) {
		arfs_log(ARFS_LOG_ERR, "%s: payload offset %zu: %s",
			 where ? where : "typed block", r.err_pos, r.what);
		arfs_values_free(vals);
		return r.err;
	}
	*out = vals;
	return 0;
}

void arfs_values_free(struct arfs_values *vals)
{
	if (!vals)
		return;
	arena_free(vals->arena);
	free(vals);
}

const char *arfs_ftype_name(unsigned type)
{
	static const char *const names[ARFS_FT_COUNT] = {
		"int", "float", "str", "vector", "list", "dict", "datetime",
		"undefined", "image", "ndarray",
	};

	return type < ARFS_FT_COUNT ? names[type] : "?";
}
