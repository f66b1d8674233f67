/*
 * typedser.c - Turi's serialized flexible values. See typedser.h; the
 * reader is typed.c (rd_tagged, rd_body). Each field is written with the
 * byte helpers of util.h, never by copying a struct.
 */
#include "typedser.h"

#include "textval.h"
#include "typed.h"
#include "util.h"

#include <errno.h>
#include <string.h>

#define MAX_DEPTH 64

static int put_u8(struct arfs_textbuf *out, uint8_t b)
{
	return arfs_textbuf_add(out, &b, 1);
}

static int put_u64(struct arfs_textbuf *out, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	return arfs_textbuf_add(out, b, 8);
}

static int put_f64(struct arfs_textbuf *out, double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return put_u64(out, u);
}

/*
 * Datetime: bits 0..55 the seconds, byte 7 the zone code (zone + 25 when
 * >= 0, zone - 25 when < 0; 64 "no zone" is 89), then i32 microseconds.
 */
static int put_datetime(struct arfs_textbuf *out, const struct arfs_value *v)
{
	int32_t tz = v->u.dt.tz;
	uint8_t b[12];

	if (tz != ARFS_TZ_NONE && (tz < -48 || tz > 48))
		return -EINVAL;
	if (v->u.dt.us < 0 || v->u.dt.us > 999999)
		return -EINVAL;
	put_le64(b, (uint64_t)v->u.dt.ts & 0x00ffffffffffffffull);
	b[7] = (uint8_t)(int8_t)(tz < 0 ? tz - 25 : tz + 25);
	put_le32(b + 8, (uint32_t)v->u.dt.us);
	return arfs_textbuf_add(out, b, sizeof(b));
}

static int put_image(struct arfs_textbuf *out, const struct arfs_value *v)
{
	return put_u8(out, v->u.img.version) ?:
	       put_u64(out, v->u.img.height) ?:
	       put_u64(out, v->u.img.width) ?:
	       put_u64(out, v->u.img.channels) ?:
	       put_u64(out, (uint64_t)(int64_t)v->u.img.format) ?:
	       put_u64(out, v->u.img.size) ?:
	       arfs_textbuf_add(out, v->u.img.data, v->u.img.size);
}

int arfs_typedser_nd_walk(const struct arfs_value *v,
			  int (*fn)(void *ctx, double x), void *ctx)
{
	uint64_t nd = v->u.nd.ndim, idx[64] = { 0 }, at, d;
	int rc;

	if (nd == 0 || nd > 64)
		return nd == 0 && v->u.nd.n == 0 ? 0 : -EINVAL;
	for (d = 0; d < nd; d++)
		if (v->u.nd.shape[d] == 0)
			return 0;
	for (;;) {
		at = 0;
		for (d = 0; d < nd; d++)
			at += idx[d] * v->u.nd.stride[d];
		if (at >= v->u.nd.n)
			return -EINVAL;
		rc = fn(ctx, v->u.nd.v[at]);
		if (rc)
			return rc;
		for (d = nd; d-- > 0;) {
			if (++idx[d] < v->u.nd.shape[d])
				break;
			idx[d] = 0;
		}
		if (d == (uint64_t)-1)
			return 0;
	}
}

static int count_elem(void *ctx, double x)
{
	(void)x;
	++*(uint64_t *)ctx;
	return 0;
}

static int put_elem(void *ctx, double x)
{
	return put_f64(ctx, x);
}

/* Compact form: C-order elements, strides of a full array. */
static int put_ndarray(struct arfs_textbuf *out, const struct arfs_value *v)
{
	uint64_t nd = v->u.nd.ndim, count = 0, stride = 1;
	int rc;

	rc = arfs_typedser_nd_walk(v, count_elem, &count);
	if (rc)
		return rc;
	rc = put_u8(out, 0) ?: put_u64(out, nd);
	for (uint64_t d = 0; !rc && d < nd; d++)
		rc = put_u64(out, v->u.nd.shape[d]);
	rc = rc ?: put_u64(out, nd);
	if (!rc && arfs_textbuf_reserve(out, nd * 8))
		rc = -ENOMEM;
	for (uint64_t d = nd; !rc && d-- > 0;) {
		/* strides are written first to last: fill from the end */
		put_le64(out->p + out->len + d * 8, stride);
		stride *= v->u.nd.shape[d];
	}
	if (!rc)
		out->len += nd * 8;
	return rc ?: put_u64(out, count) ?:
	       arfs_typedser_nd_walk(v, put_elem, out);
}

static int put_body(struct arfs_textbuf *out, const struct arfs_value *v,
		    int depth);

static int put_tagged(struct arfs_textbuf *out, const struct arfs_value *v,
		      int depth)
{
	if (v->type >= ARFS_FT_COUNT)
		return -EINVAL;
	return put_u8(out, (uint8_t)(128 + v->type)) ?: put_body(out, v, depth);
}

static int put_items(struct arfs_textbuf *out, const struct arfs_value *v,
		     uint64_t per, int depth)
{
	int rc;

	if (depth >= MAX_DEPTH)
		return -EINVAL;
	rc = put_u64(out, v->u.list.n);
	for (uint64_t i = 0; !rc && i < v->u.list.n * per; i++)
		rc = put_tagged(out, &v->u.list.v[i], depth + 1);
	return rc;
}

static int put_body(struct arfs_textbuf *out, const struct arfs_value *v,
		    int depth)
{
	int rc;

	switch (v->type) {
	case ARFS_FT_INTEGER:
		return put_u64(out, (uint64_t)v->u.i);
	case ARFS_FT_FLOAT:
		return put_f64(out, v->u.f);
	case ARFS_FT_STRING:
		return put_u64(out, v->u.str.len) ?:
		       arfs_textbuf_add(out, v->u.str.p, v->u.str.len);
	case ARFS_FT_VECTOR:
		rc = put_u64(out, v->u.vec.n);
		for (uint64_t i = 0; !rc && i < v->u.vec.n; i++)
			rc = put_f64(out, v->u.vec.v[i]);
		return rc;
	case ARFS_FT_LIST:
		return put_items(out, v, 1, depth);
	case ARFS_FT_DICT:
		return put_items(out, v, 2, depth);
	case ARFS_FT_DATETIME:
		return put_datetime(out, v);
	case ARFS_FT_IMAGE:
		return put_image(out, v);
	case ARFS_FT_NDVECTOR:
		return put_ndarray(out, v);
	case ARFS_FT_UNDEFINED:
		return 0;
	default:
		return -EINVAL;
	}
}

int arfs_typedser_body(struct arfs_textbuf *out, const struct arfs_value *v)
{
	return put_body(out, v, 0);
}

int arfs_typedser_tagged(struct arfs_textbuf *out, const struct arfs_value *v)
{
	return put_tagged(out, v, 0);
}
