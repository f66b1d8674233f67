/*
 * typedenc.c - Turi typed-block encoder. See typedenc.h, and
 * docs/FORMAT.md 2.7 for the bytes and 2.10 for the choices made here.
 *
 * Choices, each made to keep the block small:
 *
 *  - number stream: every frame of up to 128 values is costed with the
 *    three techniques (frame of reference, delta, zigzag delta) at the
 *    narrowest width (0,1,2,4,8,16,32,64) that holds it; the cheapest wins
 *    (ties: frame of reference, then delta).
 *  - floats: the legacy bit-rotated form, or - when every value is an
 *    integer that an i64 holds exactly (no -0.0) - the extension's
 *    integral form, if that is smaller. Only the integral form sets
 *    ARFS_BLOCK_EXTENSION, so legacy readers read the rest.
 *  - strings: direct (lengths, then bytes) or a dictionary, whichever is
 *    smaller; the dictionary is not tried once distinct strings pass
 *    3/4 of the values.
 *  - a block whose rows are all missing is num_types 1, type undefined;
 *    a block without missing rows has no bitmap.
 *  - list, dict, datetime and image values: their serialized bodies back
 *    to back (typedser.h), as Turi writes them; ndarrays in Turi's ndarray
 *    code (FORMAT.md 2.7.3) with the extension flag and a float mode byte.
 *
 * The decoder (typed.c) is the reference: tests/core/test_typedenc.c
 * round-trips random columns through both.
 */
#include "typedenc.h"

#include "segment.h"
#include "textval.h"
#include "typed.h"
#include "typedser.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX 128

/* ---- buffers ---------------------------------------------------------- */

static int tb_u8(struct arfs_textbuf *tb, uint8_t b)
{
	if (arfs_textbuf_reserve(tb, 1))
		return -ENOMEM;
	tb->p[tb->len++] = (char)b;
	return 0;
}

/* Grow *p (element size sz, capacity *cap) to hold need elements. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * sz);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* ---- varint and number stream ----------------------------------------- */

static unsigned varint_len(uint64_t v)
{
	for (unsigned n = 1; n <= 7; n++)
		if (v < (1ull << (7 * n)))
			return n;
	return 9;
}

int arfs_typedenc_varint(struct arfs_textbuf *out, uint64_t v)
{
	unsigned n = varint_len(v);
	uint8_t *p;
	uint64_t x;

	if (arfs_textbuf_reserve(out, 9))
		return -ENOMEM;
	p = (uint8_t *)out->p + out->len;
	if (n == 9) {
		p[0] = 0x7f;
		for (unsigned i = 0; i < 8; i++)
			p[1 + i] = (uint8_t)(v >> (8 * i));
	} else {
		/* n - 1 trailing one bits, a zero, then the value */
		x = (v << n) | ((1ull << (n - 1)) - 1);
		for (unsigned i = 0; i < n; i++)
			p[i] = (uint8_t)(x >> (8 * i));
	}
	out->len += n;
	return 0;
}

static unsigned width_of(uint64_t max)
{
	unsigned bits;

	if (!max)
		return 0;
	bits = 64u - (unsigned)__builtin_clzll(max);
	for (unsigned w = 1;; w *= 2)
		if (w >= bits)
			return w;
}

/* header bits 2..7: 0 for width 0, else log2(w) + 1 */
static unsigned width_code(unsigned w)
{
	return w ? (unsigned)__builtin_ctz(w) + 1 : 0;
}

static size_t packed_len(uint64_t count, unsigned w)
{
	return (size_t)((count * w + 7) / 8);
}

static void pack(uint8_t *dst, const uint64_t *v, uint64_t count, unsigned w)
{
	unsigned pad = (unsigned)((8 - count % 8) % 8);
	uint64_t bit = (uint64_t)pad * w % 8;

	if (w >= 8) {
		for (uint64_t i = 0; i < count; i++)
			for (unsigned b = 0; b < w / 8; b++)
				*dst++ = (uint8_t)(v[i] >> (8 * b));
		return;
	}
	memset(dst, 0, packed_len(count, w));
	for (uint64_t i = 0; i < count; i++, bit += w)
		dst[bit / 8] |= (uint8_t)(v[i] << (bit % 8));
}

enum { FOR_PLAIN = 0, FOR_DELTA = 1, FOR_DELTA_ZIGZAG = 2 };

static int encode_frame(struct arfs_textbuf *out, const uint64_t *v,
			uint64_t c)
{
	uint64_t mn = v[0], mx = v[0], dmax = 0, zmax = 0, d, z;
	uint64_t tmp[FRAME_MAX];
	size_t cost[3];
	unsigned w[3], best = FOR_PLAIN;
	uint64_t first;

	for (uint64_t i = 1; i < c; i++) {
		mn = v[i] < mn ? v[i] : mn;
		mx = v[i] > mx ? v[i] : mx;
		d = v[i] - v[i - 1];
		z = (d << 1) ^ (uint64_t)((int64_t)d >> 63);
		dmax = d > dmax ? d : dmax;
		zmax = z > zmax ? z : zmax;
	}
	w[FOR_PLAIN] = width_of(mx - mn);
	w[FOR_DELTA] = width_of(dmax);
	w[FOR_DELTA_ZIGZAG] = width_of(zmax);
	cost[FOR_PLAIN] = varint_len(mn) + packed_len(c, w[0]);
	cost[FOR_DELTA] = varint_len(v[0]) + packed_len(c - 1, w[1]);
	cost[FOR_DELTA_ZIGZAG] = varint_len(v[0]) + packed_len(c - 1, w[2]);
	if (w[FOR_PLAIN] == 0)
		cost[FOR_PLAIN] = varint_len(mn);
	for (unsigned t = 1; t < 3; t++)
		if (cost[t] < cost[best])
			best = t;
	if (tb_u8(out, (uint8_t)(width_code(w[best]) << 2 | best)))
		return -ENOMEM;
	first = best == FOR_PLAIN ? mn : v[0];
	if (arfs_typedenc_varint(out, first))
		return -ENOMEM;
	if (w[best] == 0)
		return 0;
	if (best == FOR_PLAIN) {
		for (uint64_t i = 0; i < c; i++)
			tmp[i] = v[i] - mn;
	} else {
		for (uint64_t i = 1; i < c; i++) {
			d = v[i] - v[i - 1];
			tmp[i - 1] = best == FOR_DELTA ? d :
				(d << 1) ^ (uint64_t)((int64_t)d >> 63);
		}
		c--;
	}
	if (arfs_textbuf_reserve(out, packed_len(c, w[best])))
		return -ENOMEM;
	pack((uint8_t *)out->p + out->len, tmp, c, w[best]);
	out->len += packed_len(c, w[best]);
	return 0;
}

int arfs_typedenc_numbers(struct arfs_textbuf *out, const uint64_t *v,
			  uint64_t n)
{
	uint64_t c;

	for (uint64_t done = 0; done < n; done += c) {
		c = n - done < FRAME_MAX ? n - done : FRAME_MAX;
		if (encode_frame(out, v + done, c))
			return -ENOMEM;
	}
	return 0;
}

/* ---- floats ----------------------------------------------------------- */

static uint64_t rotl1(uint64_t u)
{
	return (u << 1) | (u >> 63);
}

/* d holds an integer that int64 represents exactly (and is not -0.0). */
static bool integral(double d)
{
	return d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
	       d == trunc(d) && !(d == 0 && signbit(d));
}

/*
 * Float body of k values given as their bits: the legacy form (no mode
 * byte, *ext false) unless the integral form is smaller (mode byte 1,
 * *ext true: the block needs ARFS_BLOCK_EXTENSION).
 */
static int float_body(struct arfs_textbuf *out, const uint64_t *bits,
		      uint64_t k, bool *ext)
{
	struct arfs_textbuf a = { 0 }, b = { 0 };
	bool all_int = true;
	uint64_t *t;
	double d;
	int rc = -ENOMEM;

	t = malloc((k ? k : 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (uint64_t i = 0; i < k; i++)
		t[i] = rotl1(bits[i]);
	if (arfs_typedenc_numbers(&a, t, k))
		goto out;
	for (uint64_t i = 0; i < k && all_int; i++) {
		memcpy(&d, &bits[i], sizeof(d));
		all_int = integral(d);
		t[i] = all_int ? (uint64_t)(int64_t)d : 0;
	}
	if (all_int && k && arfs_typedenc_numbers(&b, t, k))
		goto out;
	*ext = all_int && k && b.len < a.len;
	if (*ext)
		rc = tb_u8(out, 1) ?: arfs_textbuf_add(out, b.p, b.len);
	else
		rc = arfs_textbuf_add(out, a.p, a.len);
out:
	free(t);
	arfs_textbuf_release(&a);
	arfs_textbuf_release(&b);
	return rc;
}

/* ---- strings ---------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

/*
 * Try the dictionary form into out; false (out untouched or partial,
 * caller discards) when there are too many distinct strings.
 */
static int string_dict(const struct arfs_typedenc *enc, const uint64_t *off,
		       struct arfs_textbuf *out, bool *used)
{
	uint64_t k = enc->k, nd = 0, limit = k - k / 4, mask, h, j;
	uint64_t *slot, *idx, *first;	/* slot: dict entry + 1 */
	size_t cap = 16;
	int rc = -ENOMEM;

	*used = false;
	while (cap < 2 * k)
		cap *= 2;
	mask = cap - 1;
	slot = calloc(cap, sizeof(*slot));
	idx = malloc((k ? k : 1) * sizeof(*idx));
	first = malloc((k ? k : 1) * sizeof(*first));
	if (!slot || !idx || !first)
		goto out;
	for (uint64_t i = 0; i < k; i++) {
		const char *s = enc->bytes + off[i];

		h = hash_bytes(s, enc->u[i]);
		for (j = h & mask; slot[j]; j = (j + 1) & mask) {
			uint64_t e = first[slot[j] - 1];

			if (enc->u[e] == enc->u[i] &&
			    !memcmp(enc->bytes + off[e], s, enc->u[i]))
				break;
		}
		if (!slot[j]) {
			if (nd >= limit) {
				rc = 0;
				goto out;
			}
			first[nd] = i;
			slot[j] = ++nd;
		}
		idx[i] = slot[j] - 1;
	}
	rc = arfs_typedenc_varint(out, nd);
	for (uint64_t e = 0; !rc && e < nd; e++) {
		uint64_t i = first[e];

		rc = arfs_typedenc_varint(out, enc->u[i]) ?:
		     arfs_textbuf_add(out, enc->bytes + off[i], enc->u[i]);
	}
	if (!rc)
		rc = arfs_typedenc_numbers(out, idx, k);
	*used = !rc;
out:
	free(slot);
	free(idx);
	free(first);
	return rc;
}

static int string_body(const struct arfs_typedenc *enc,
		       struct arfs_textbuf *out)
{
	struct arfs_textbuf dict = { 0 };
	uint64_t *off, at = 0;
	bool used;
	int rc;

	off = malloc((enc->k ? enc->k : 1) * sizeof(*off));
	if (!off)
		return -ENOMEM;
	for (uint64_t i = 0; i < enc->k; i++) {
		off[i] = at;
		at += enc->u[i];
	}
	rc = string_dict(enc, off, &dict, &used);
	free(off);
	if (rc)
		goto out;
	/* direct: 1 + numbers(lengths) + bytes; compare before writing */
	if (used) {
		struct arfs_textbuf direct = { 0 };

		rc = arfs_typedenc_numbers(&direct, enc->u, enc->k);
		if (!rc && dict.len < direct.len + enc->b_len) {
			arfs_textbuf_release(&direct);
			rc = tb_u8(out, 1) ?:
			     arfs_textbuf_add(out, dict.p, dict.len);
			goto out;
		}
		arfs_textbuf_release(&direct);
		if (rc)
			goto out;
	}
	rc = tb_u8(out, 0) ?: arfs_typedenc_numbers(out, enc->u, enc->k) ?:
	     arfs_textbuf_add(out, enc->bytes, enc->b_len);
out:
	arfs_textbuf_release(&dict);
	return rc;
}

/* ---- vectors ---------------------------------------------------------- */

static int vector_body(const struct arfs_typedenc *enc,
		       struct arfs_textbuf *out, bool *ext)
{
	struct arfs_textbuf body = { 0 };
	uint64_t *bits;
	int rc;

	bits = malloc((enc->d_len ? enc->d_len : 1) * sizeof(*bits));
	if (!bits)
		return -ENOMEM;
	if (enc->d_len) /* enc->d is NULL when no value was added */
		memcpy(bits, enc->d, enc->d_len * sizeof(*bits));
	rc = float_body(&body, bits, enc->d_len, ext);
	free(bits);
	/*
	 * With the extension flag a vector body starts with a reserved 0
	 * byte; the float body then carries its own mode byte (float_body
	 * writes it with the integral form, the only one that sets ext).
	 */
	if (!rc && *ext)
		rc = tb_u8(out, 0);
	if (!rc)
		rc = arfs_typedenc_numbers(out, enc->u, enc->k);
	if (!rc)
		rc = arfs_textbuf_add(out, body.p, body.len);
	arfs_textbuf_release(&body);
	return rc;
}

/* ---- ndarrays ---------------------------------------------------------- */

/* A float body that always starts with its mode byte (0 legacy, 1 integral). */
static int float_body_mode(struct arfs_textbuf *out, const uint64_t *bits,
			   uint64_t k)
{
	struct arfs_textbuf body = { 0 };
	bool ext = false;
	int rc = float_body(&body, bits, k, &ext);

	if (!rc && !ext)
		rc = tb_u8(out, 0);
	if (!rc)
		rc = arfs_textbuf_add(out, body.p, body.len);
	arfs_textbuf_release(&body);
	return rc;
}

/*
 * u8 0, numbers(dimension counts), numbers(element counts),
 * numbers(shapes), numbers(strides of full arrays), float body with its
 * mode byte. Always needs ARFS_BLOCK_EXTENSION (Turi sets it too).
 */
static int nd_body(const struct arfs_typedenc *enc, struct arfs_textbuf *out)
{
	uint64_t *strides, *bits, at = 0, s;
	int rc;

	strides = malloc((enc->dims_len ? enc->dims_len : 1) *
			 sizeof(*strides));
	bits = malloc((enc->d_len ? enc->d_len : 1) * sizeof(*bits));
	if (!strides || !bits) {
		free(strides);
		free(bits);
		return -ENOMEM;
	}
	if (enc->d_len) /* enc->d is NULL when every array is empty */
		memcpy(bits, enc->d, enc->d_len * sizeof(*bits));
	for (uint64_t i = 0; i < enc->k; i++) {
		s = 1;
		for (uint64_t d = enc->u[i]; d-- > 0;) {
			strides[at + d] = s;
			s *= enc->dims[at + d];
		}
		at += enc->u[i];
	}
	rc = tb_u8(out, 0) ?: arfs_typedenc_numbers(out, enc->u, enc->k) ?:
	     arfs_typedenc_numbers(out, enc->nel, enc->k) ?:
	     arfs_typedenc_numbers(out, enc->dims, enc->dims_len) ?:
	     arfs_typedenc_numbers(out, strides, enc->dims_len) ?:
	     float_body_mode(out, bits, enc->d_len);
	free(strides);
	free(bits);
	return rc;
}

/* ---- the encoder ------------------------------------------------------ */

int arfs_typedenc_init(struct arfs_typedenc *enc, unsigned type)
{
	memset(enc, 0, sizeof(*enc));
	if (type >= ARFS_FT_COUNT)
		return -EOPNOTSUPP;
	enc->type = type;
	return 0;
}

void arfs_typedenc_release(struct arfs_typedenc *enc)
{
	free(enc->miss);
	free(enc->u);
	free(enc->d);
	free(enc->bytes);
	free(enc->nel);
	free(enc->dims);
	memset(enc, 0, sizeof(*enc));
}

void arfs_typedenc_reset(struct arfs_typedenc *enc)
{
	if (enc->miss)
		memset(enc->miss, 0, enc->miss_cap * sizeof(*enc->miss));
	enc->n = enc->k = 0;
	enc->d_len = enc->b_len = enc->dims_len = 0;
	enc->raw = 0;
}

/* Make room for row n in the bitmap. */
static int add_row(struct arfs_typedenc *enc)
{
	size_t old = enc->miss_cap;

	if (enc->n >= ARFS_TYPEDENC_MAX_ROWS)
		return -EOVERFLOW;
	if (grow((void **)&enc->miss, &enc->miss_cap, enc->n / 64 + 1,
		 sizeof(*enc->miss)))
		return -ENOMEM;
	if (enc->miss_cap > old)
		memset(enc->miss + old, 0,
		       (enc->miss_cap - old) * sizeof(*enc->miss));
	return 0;
}

static int add_u(struct arfs_typedenc *enc, uint64_t u, uint64_t raw)
{
	int rc = add_row(enc);

	if (rc)
		return rc;
	if (grow((void **)&enc->u, &enc->u_cap, enc->k + 1, sizeof(*enc->u)))
		return -ENOMEM;
	enc->u[enc->k++] = u;
	enc->n++;
	enc->raw += raw;
	return 0;
}

int arfs_typedenc_add_missing(struct arfs_typedenc *enc)
{
	int rc = add_row(enc);

	if (rc)
		return rc;
	enc->miss[enc->n / 64] |= 1ull << (enc->n % 64);
	enc->n++;
	enc->raw += 1;
	return 0;
}

int arfs_typedenc_add_int(struct arfs_typedenc *enc, int64_t v)
{
	if (enc->type != ARFS_FT_INTEGER)
		return -EINVAL;
	return add_u(enc, (uint64_t)v, 8);
}

int arfs_typedenc_add_float(struct arfs_typedenc *enc, double v)
{
	uint64_t u;

	if (enc->type != ARFS_FT_FLOAT)
		return -EINVAL;
	memcpy(&u, &v, sizeof(u));
	return add_u(enc, u, 8);
}

int arfs_typedenc_add_str(struct arfs_typedenc *enc, const char *s,
			  size_t len)
{
	if (enc->type != ARFS_FT_STRING)
		return -EINVAL;
	if (grow((void **)&enc->bytes, &enc->b_cap, enc->b_len + len + 1, 1))
		return -ENOMEM;
	if (add_u(enc, len, len + 2))
		return -ENOMEM;
	if (len)
		memcpy(enc->bytes + enc->b_len, s, len);
	enc->b_len += len;
	return 0;
}

int arfs_typedenc_add_vec(struct arfs_typedenc *enc, const double *v,
			  size_t n)
{
	if (enc->type != ARFS_FT_VECTOR)
		return -EINVAL;
	if (grow((void **)&enc->d, &enc->d_cap, enc->d_len + n + 1,
		 sizeof(*enc->d)))
		return -ENOMEM;
	if (add_u(enc, n, 8 * n + 2))
		return -ENOMEM;
	if (n)
		memcpy(enc->d + enc->d_len, v, n * sizeof(*v));
	enc->d_len += n;
	return 0;
}

/* list, dict, datetime, image: the value's serialized body into bytes[]. */
static int add_serialized(struct arfs_typedenc *enc,
			  const struct arfs_value *v)
{
	struct arfs_textbuf tb = { 0 };
	int rc;

	if (v->type != enc->type)
		return -EINVAL;
	rc = arfs_typedser_body(&tb, v);
	if (!rc && grow((void **)&enc->bytes, &enc->b_cap,
			enc->b_len + tb.len + 1, 1))
		rc = -ENOMEM;
	if (!rc)
		rc = add_u(enc, tb.len, tb.len + 2);
	if (!rc && tb.len)
		memcpy(enc->bytes + enc->b_len, tb.p, tb.len);
	if (!rc)
		enc->b_len += tb.len;
	arfs_textbuf_release(&tb);
	return rc;
}

static int add_nd_elem(void *ctx, double x)
{
	struct arfs_typedenc *enc = ctx;

	if (grow((void **)&enc->d, &enc->d_cap, enc->d_len + 1,
		 sizeof(*enc->d)))
		return -ENOMEM;
	enc->d[enc->d_len++] = x;
	return 0;
}

/* ndarray: dimension count in u[], element count in nel[], shape in dims[],
 * elements in C order in d[]. */
static int add_nd(struct arfs_typedenc *enc, const struct arfs_value *v)
{
	uint64_t nd = v->u.nd.ndim, d0 = enc->d_len;
	int rc;

	if (enc->type != ARFS_FT_NDVECTOR || nd > 64)
		return -EINVAL;
	if (grow((void **)&enc->nel, &enc->nel_cap, enc->k + 1,
		 sizeof(*enc->nel)) ||
	    grow((void **)&enc->dims, &enc->dims_cap, enc->dims_len + nd + 1,
		 sizeof(*enc->dims)))
		return -ENOMEM;
	rc = arfs_typedser_nd_walk(v, add_nd_elem, enc);
	if (rc) {
		enc->d_len = d0;
		return rc;
	}
	rc = add_u(enc, nd, 8 * (enc->d_len - d0) + 16 * nd + 4);
	if (rc) {
		enc->d_len = d0;
		return rc;
	}
	enc->nel[enc->k - 1] = enc->d_len - d0;
	if (nd)
		memcpy(enc->dims + enc->dims_len, v->u.nd.shape,
		       nd * sizeof(*enc->dims));
	enc->dims_len += nd;
	return 0;
}

int arfs_typedenc_add_value(struct arfs_typedenc *enc,
			    const struct arfs_value *v)
{
	switch (v->type) {
	case ARFS_FT_UNDEFINED:
		return arfs_typedenc_add_missing(enc);
	case ARFS_FT_INTEGER:
		return arfs_typedenc_add_int(enc, v->u.i);
	case ARFS_FT_FLOAT:
		return arfs_typedenc_add_float(enc, v->u.f);
	case ARFS_FT_STRING:
		return arfs_typedenc_add_str(enc, v->u.str.p, v->u.str.len);
	case ARFS_FT_VECTOR:
		return arfs_typedenc_add_vec(enc, v->u.vec.v, v->u.vec.n);
	case ARFS_FT_NDVECTOR:
		return add_nd(enc, v);
	default:
		return add_serialized(enc, v);
	}
}

static int body(const struct arfs_typedenc *enc, struct arfs_textbuf *out,
		bool *ext)
{
	switch (enc->type) {
	case ARFS_FT_INTEGER:
		return arfs_typedenc_numbers(out, enc->u, enc->k);
	case ARFS_FT_FLOAT:
		return float_body(out, enc->u, enc->k, ext);
	case ARFS_FT_STRING:
		return string_body(enc, out);
	case ARFS_FT_VECTOR:
		return vector_body(enc, out, ext);
	case ARFS_FT_NDVECTOR:
		*ext = true;
		return nd_body(enc, out);
	case ARFS_FT_LIST:
	case ARFS_FT_DICT:
	case ARFS_FT_DATETIME:
	case ARFS_FT_IMAGE:
		return arfs_textbuf_add(out, enc->bytes, enc->b_len);
	default:
		return 0;
	}
}

int arfs_typedenc_encode(const struct arfs_typedenc *enc,
			 struct arfs_textbuf *out, uint64_t *flags)
{
	bool ext = false;
	uint64_t words = (enc->n + 63) / 64;
	int rc;

	*flags = ARFS_BLOCK_TYPED;
	if (enc->n == 0)
		return tb_u8(out, 0);
	if (enc->k == 0)	/* every row missing */
		return tb_u8(out, 1) ?: tb_u8(out, ARFS_FT_UNDEFINED);
	rc = tb_u8(out, enc->k < enc->n ? 2 : 1) ?: tb_u8(out, (uint8_t)enc->type);
	if (!rc && enc->k < enc->n) {
		rc = arfs_textbuf_reserve(out, words * 8);
		for (uint64_t i = 0; !rc && i < words; i++) {
			for (unsigned b = 0; b < 8; b++)
				out->p[out->len + b] =
					(char)(enc->miss[i] >> (8 * b));
			out->len += 8;
		}
	}
	if (!rc)
		rc = body(enc, out, &ext);
	if (!rc && ext)
		*flags |= ARFS_BLOCK_EXTENSION;
	return rc;
}
