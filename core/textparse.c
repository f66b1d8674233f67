/*
 * textparse.c - the text of list, dict, datetime, image and ndarray values
 * back to values. See textparse.h, and docs/FORMAT.md 2.8 for the grammar.
 *
 * Design: one cursor (struct cur) over the line; every reader checks the
 * bytes left before it looks, and the first failure sets a reason and
 * makes every later read fail, so readers are written straight-line. Item
 * lists of unknown length are collected in a malloc'd scratch array per
 * level and copied into the arena when the level closes. Nesting is
 * limited to MAX_DEPTH containers (lists, dicts, and the "$dict" form),
 * the limit the block decoder (typed.c) applies too.
 */
#include "textparse.h"

#include "numfmt.h"
#include "util.h"
#include "typed.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

/* ---- arena ------------------------------------------------------------ */

struct tp_chunk {
	struct tp_chunk *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

static void *tp_alloc(struct arfs_textparse *tp, size_t size)
{
	struct tp_chunk *c = tp->arena;
	size_t cap;

	size = (size + 15) & ~(size_t)15;
	if (!size)
		size = 16;
	if (!c || c->cap - c->used < size) {
		cap = size > 16384 ? size : 16384;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		c->next = tp->arena;
		tp->arena = c;
	}
	c->used += size;
	return c->data + c->used - size;
}

void arfs_textparse_reset(struct arfs_textparse *tp)
{
	struct tp_chunk *c = tp->arena, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	tp->arena = NULL;
}

void arfs_textparse_release(struct arfs_textparse *tp)
{
	arfs_textparse_reset(tp);
	tp->why = NULL;
}

/* ---- cursor ----------------------------------------------------------- */

struct cur {
	const char *s;
	size_t n, pos;
	int err;		/* 0, -EINVAL or -ENOMEM; sticky */
	struct arfs_textparse *tp;
};

static int fail(struct cur *c, const char *why)
{
	if (!c->err) {
		c->err = -EINVAL;
		c->tp->why = why;
	}
	return c->err;
}

static void *c_alloc(struct cur *c, size_t n, size_t size)
{
	void *p;

	if (c->err)
		return NULL;
	if (size && n > SIZE_MAX / 4 / size) {
		fail(c, "too large");
		return NULL;
	}
	p = tp_alloc(c->tp, n * size);
	if (!p) {
		c->err = -ENOMEM;
		c->tp->why = "out of memory";
	}
	return p;
}

static int peek(const struct cur *c)
{
	return !c->err && c->pos < c->n ? (unsigned char)c->s[c->pos] : -1;
}

static bool eat(struct cur *c, char ch)
{
	if (peek(c) != (unsigned char)ch)
		return false;
	c->pos++;
	return true;
}

static void expect(struct cur *c, char ch, const char *why)
{
	if (!eat(c, ch))
		fail(c, why);
}

static bool eat_word(struct cur *c, const char *w)
{
	size_t n = strlen(w);

	if (c->err || c->n - c->pos < n || memcmp(c->s + c->pos, w, n))
		return false;
	c->pos += n;
	return true;
}

static void skip_ws(struct cur *c)
{
	while (peek(c) == ' ' || peek(c) == '\t')
		c->pos++;
}

/* Growable scratch array of values (one per nesting level). */
struct vlist {
	struct arfs_value *v;
	size_t n, cap;
};

static struct arfs_value *vl_push(struct cur *c, struct vlist *l)
{
	struct arfs_value *p;
	size_t cap;

	if (c->err)
		return NULL;
	if (l->n == l->cap) {
		cap = l->cap ? 2 * l->cap : 8;
		p = realloc(l->v, cap * sizeof(*p));
		if (!p) {
			c->err = -ENOMEM;
			c->tp->why = "out of memory";
			return NULL;
		}
		l->v = p;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(*l->v));
	return &l->v[l->n++];
}

/* Move the scratch items into the arena as v's list (or dict pairs). */
static void vl_finish(struct cur *c, struct vlist *l, struct arfs_value *v,
		      unsigned type, size_t per)
{
	struct arfs_value *items = c_alloc(c, l->n, sizeof(*items));

	if (items && l->n)
		memcpy(items, l->v, l->n * sizeof(*items));
	free(l->v);
	l->v = NULL;
	v->type = (uint8_t)type;
	v->u.list.v = items;
	v->u.list.n = items ? l->n / per : 0;
}

/* ---- numbers ---------------------------------------------------------- */

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* JSON number: an int without '.', 'e', 'E'; else a float. NaN and
 * [-]Infinity for the doubles JSON cannot write. */
static void json_number(struct cur *c, struct arfs_value *v)
{
	size_t start = c->pos;
	bool is_float = false;
	char buf[400], *end;

	if (eat_word(c, "NaN")) {
		v->type = ARFS_FT_FLOAT;
		v->u.f = NAN;
		return;
	}
	eat(c, '-');
	if (eat_word(c, "Infinity")) {
		v->type = ARFS_FT_FLOAT;
		v->u.f = c->s[start] == '-' ? -INFINITY : INFINITY;
		return;
	}
	if (eat(c, '0')) {
		if (is_digit(peek(c)))
			fail(c, "number with a leading zero");
	} else if (!is_digit(peek(c))) {
		fail(c, "not a JSON value");
	}
	while (is_digit(peek(c)))
		c->pos++;
	if (eat(c, '.')) {
		is_float = true;
		if (!is_digit(peek(c)))
			fail(c, "no digit after the decimal point");
		while (is_digit(peek(c)))
			c->pos++;
	}
	if (eat(c, 'e') || eat(c, 'E')) {
		is_float = true;
		if (!eat(c, '+'))
			eat(c, '-');
		if (!is_digit(peek(c)))
			fail(c, "no digit in the exponent");
		while (is_digit(peek(c)))
			c->pos++;
	}
	if (c->err)
		return;
	if (c->pos - start >= sizeof(buf)) {
		fail(c, "number too long");
		return;
	}
	memcpy(buf, c->s + start, c->pos - start);
	buf[c->pos - start] = 0;
	errno = 0;
	if (is_float) {
		v->type = ARFS_FT_FLOAT;
		v->u.f = strtod(buf, &end);
	} else {
		v->type = ARFS_FT_INTEGER;
		v->u.i = strtoll(buf, &end, 10);
		if (errno == ERANGE)
			fail(c, "integer out of the 64-bit range");
	}
}

/* ---- strings ---------------------------------------------------------- */

static int hex4(const char *s)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char h = s[i];

		v <<= 4;
		if (h >= '0' && h <= '9')
			v |= h - '0';
		else if (h >= 'a' && h <= 'f')
			v |= h - 'a' + 10;
		else if (h >= 'A' && h <= 'F')
			v |= h - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* One \uXXXX escape (c->pos after the 'u'), pairs of surrogates joined. */
static uint32_t json_u_escape(struct cur *c)
{
	int hi, lo;

	if (c->n - c->pos < 4 || (hi = hex4(c->s + c->pos)) < 0) {
		fail(c, "bad \\u escape");
		return 0;
	}
	c->pos += 4;
	if (hi < 0xd800 || hi > 0xdfff)
		return (uint32_t)hi;
	if (hi > 0xdbff || c->n - c->pos < 6 || c->s[c->pos] != '\\' ||
	    c->s[c->pos + 1] != 'u' || (lo = hex4(c->s + c->pos + 2)) < 0xdc00 ||
	    lo > 0xdfff) {
		fail(c, "unpaired surrogate in a \\u escape");
		return 0;
	}
	c->pos += 6;
	return 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
}

/*
 * A JSON string (c->pos at the opening quote) into the arena. Bytes other
 * than '"', '\' and controls are taken as they are (not checked as UTF-8:
 * a str value may hold any bytes, and they come back unchanged).
 */
static void json_string(struct cur *c, const char **out, uint64_t *len)
{
	size_t start, end, n = 0;
	char *d, e;

	expect(c, '"', "expected a string");
	start = c->pos;
	for (end = start; !c->err && end < c->n && c->s[end] != '"'; end++)
		if (c->s[end] == '\\')
			end++;
	if (!c->err && end >= c->n)
		fail(c, "unterminated string");
	d = c_alloc(c, end - start + 1, 1);
	while (d && !c->err && c->pos < end) {
		e = c->s[c->pos++];
		if ((unsigned char)e < 0x20) {
			fail(c, "control character in a string");
		} else if (e != '\\') {
			d[n++] = e;
		} else {
			switch (c->s[c->pos++]) {
			case '"': d[n++] = '"'; break;
			case '\\': d[n++] = '\\'; break;
			case '/': d[n++] = '/'; break;
			case 'b': d[n++] = '\b'; break;
			case 'f': d[n++] = '\f'; break;
			case 'n': d[n++] = '\n'; break;
			case 'r': d[n++] = '\r'; break;
			case 't': d[n++] = '\t'; break;
			case 'u': n += arfs_utf8_put(d + n, json_u_escape(c)); break;
			default: fail(c, "bad escape in a string");
			}
		}
	}
	if (c->err)
		return;
	d[n] = 0;
	c->pos = end + 1;
	*out = d;
	*len = n;
}

/* ---- scalar forms (also used inside "$type" objects) ------------------ */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Exactly `digits` decimal digits. */
static int64_t fixed_digits(struct cur *c, int digits)
{
	int64_t v = 0;

	for (int i = 0; i < digits; i++) {
		if (!is_digit(peek(c))) {
			fail(c, "bad datetime");
			return 0;
		}
		v = v * 10 + (c->s[c->pos++] - '0');
	}
	return v;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* [-]Y...-MM-DDTHH:MM:SS[.f{1,6}][(+|-)HH:MM] */
static void parse_datetime(struct cur *c, struct arfs_value *v)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
				     30, 31 };
	int64_t y = 0, mo, d, h, mi, s, us = 0, tz = ARFS_TZ_NONE, sec;
	bool neg = eat(c, '-');
	int nd = 0;

	while (is_digit(peek(c)) && nd++ < 12)
		y = y * 10 + (c->s[c->pos++] - '0');
	if (!nd || nd > 11)
		fail(c, "bad datetime year");
	y = neg ? -y : y;
	expect(c, '-', "bad datetime");
	mo = fixed_digits(c, 2);
	expect(c, '-', "bad datetime");
	d = fixed_digits(c, 2);
	expect(c, 'T', "bad datetime");
	h = fixed_digits(c, 2);
	expect(c, ':', "bad datetime");
	mi = fixed_digits(c, 2);
	expect(c, ':', "bad datetime");
	s = fixed_digits(c, 2);
	if (eat(c, '.')) {
		for (nd = 0; is_digit(peek(c)) && nd < 6; nd++)
			us = us * 10 + (c->s[c->pos++] - '0');
		if (!nd || is_digit(peek(c)))
			fail(c, "datetime fraction must have 1 to 6 digits");
		for (; nd < 6; nd++)
			us *= 10;
	}
	if (peek(c) == '+' || peek(c) == '-') {
		bool west = c->s[c->pos++] == '-';
		int64_t th = fixed_digits(c, 2), tm;

		expect(c, ':', "bad datetime zone");
		tm = fixed_digits(c, 2);
		if (tm % 15 || th * 4 + tm / 15 > 48)
			fail(c, "datetime zone must be a multiple of 15 "
				"minutes within 12 hours");
		tz = (west ? -1 : 1) * (th * 4 + tm / 15);
	}
	if (c->err)
		return;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 ||
	    s > 59) {
		fail(c, "datetime field out of range");
		return;
	}
	sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	if (tz != ARFS_TZ_NONE)
		sec -= tz * 900;
	if (sec < -(INT64_C(1) << 55) || sec >= (INT64_C(1) << 55)) {
		fail(c, "datetime out of range");
		return;
	}
	v->type = ARFS_FT_DATETIME;
	v->u.dt.ts = sec;
	v->u.dt.tz = (int32_t)tz;
	v->u.dt.us = (int32_t)us;
}

static uint64_t read_u64(struct cur *c)
{
	uint64_t v = 0;
	int nd = 0;

	while (is_digit(peek(c))) {
		unsigned dig = (unsigned)(c->s[c->pos++] - '0');

		if (v > (UINT64_MAX - dig) / 10) {
			fail(c, "number out of range");
			return 0;
		}
		v = v * 10 + dig;
		nd++;
	}
	if (!nd)
		fail(c, "expected a number");
	return v;
}

static int b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Standard base64 with '=' padding, exactly `size` bytes. */
static uint8_t *read_base64(struct cur *c, uint64_t size)
{
	size_t start = c->pos, end = start, len, o = 0;
	uint32_t acc = 0;
	uint8_t *d;
	int bits = 0, val;

	while (end < c->n && (b64_val((unsigned char)c->s[end]) >= 0 ||
			      c->s[end] == '='))
		end++;
	len = end - start;
	if (len % 4 || len / 4 * 3 < size || len / 4 * 3 > size + 2) {
		fail(c, "image data is not base64 of its byte size");
		return NULL;
	}
	d = c_alloc(c, size + 1, 1);
	for (size_t i = 0; d && i < len; i++) {
		char ch = c->s[start + i];

		if (ch == '=') {
			if (i < len - 2 || (i == len - 2 && c->s[end - 1] != '='))
				break;
			continue;
		}
		val = b64_val((unsigned char)ch);
		acc = acc << 6 | (uint32_t)val;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < size)
				d[o] = (uint8_t)(acc >> bits);
			o++;
		}
	}
	if (!c->err && (o != size || (acc & ((1u << bits) - 1)))) {
		fail(c, "image data is not base64 of its byte size");
		return NULL;
	}
	c->pos = end;
	return d;
}

/* <image [vN ]WxHxC FORMAT SIZE bytes[ BASE64]> */
static void parse_image(struct cur *c, struct arfs_value *v)
{
	static const char *const fmts[] = { "jpeg", "png", "raw", "undefined" };
	int64_t fmt = -1;

	if (!eat_word(c, "<image "))
		fail(c, "expected <image ...>");
	v->u.img.version = 0;
	if (eat(c, 'v')) {
		uint64_t ver = read_u64(c);

		if (ver < 1 || ver > 255)
			fail(c, "bad image version");
		v->u.img.version = (uint8_t)ver;
		expect(c, ' ', "bad image description");
	}
	v->u.img.width = read_u64(c);
	expect(c, 'x', "bad image size");
	v->u.img.height = read_u64(c);
	expect(c, 'x', "bad image size");
	v->u.img.channels = read_u64(c);
	expect(c, ' ', "bad image description");
	for (int i = 0; i < 4 && fmt < 0; i++)
		if (eat_word(c, fmts[i]))
			fmt = i;
	if (fmt < 0)
		fail(c, "bad image format");
	expect(c, ' ', "bad image description");
	v->u.img.size = read_u64(c);
	if (!eat_word(c, " bytes"))
		fail(c, "bad image description");
	v->u.img.data = (const uint8_t *)"";
	if (v->u.img.size && eat(c, ' '))
		v->u.img.data = read_base64(c, v->u.img.size);
	else if (v->u.img.size)
		fail(c, "image bytes missing");
	expect(c, '>', "bad image description");
	v->type = ARFS_FT_IMAGE;
	v->u.img.format = (int32_t)fmt;
}

/* ---- ndarrays and vectors: nested brackets of space-separated numbers - */

struct ndb {
	uint64_t shape[MAX_DEPTH];
	bool seen[MAX_DEPTH];
	int ndim;		/* 0 until the leaf depth is known */
	double *v;
	size_t n, cap;
};

static void nd_push(struct cur *c, struct ndb *b, double x)
{
	double *p;

	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;

		p = realloc(b->v, cap * sizeof(*p));
		if (!p) {
			c->err = -ENOMEM;
			c->tp->why = "out of memory";
			return;
		}
		b->v = p;
		b->cap = cap;
	}
	b->v[b->n++] = x;
}

/* Length of the number at c->pos (up to ' ' or ']'). */
static size_t num_len(const struct cur *c)
{
	size_t e = c->pos;

	while (e < c->n && c->s[e] != ' ' && c->s[e] != ']' && c->s[e] != '[')
		e++;
	return e - c->pos;
}

static void nd_level(struct cur *c, struct ndb *b, int depth)
{
	uint64_t count = 0;
	bool leaf = false, sub = false;
	double x;
	size_t len;

	if (depth >= MAX_DEPTH) {
		fail(c, "ndarray nested too deeply");
		return;
	}
	expect(c, '[', "expected [");
	while (!c->err) {
		while (eat(c, ' '))
			;
		if (eat(c, ']'))
			break;
		if (peek(c) == '[') {
			sub = true;
			nd_level(c, b, depth + 1);
		} else {
			leaf = true;
			len = num_len(c);
			if (!len || !arfs_numfmt_parse(c->s + c->pos, len, &x)) {
				fail(c, "not a number");
				break;
			}
			c->pos += len;
			nd_push(c, b, x);
		}
		count++;
		if (peek(c) != ' ' && peek(c) != ']')
			fail(c, "numbers must be separated by spaces");
	}
	if (c->err)
		return;
	if (leaf && sub) {
		fail(c, "ndarray shape does not match its data");
		return;
	}
	if (leaf || (!sub && b->ndim == 0)) {
		/* this is the last dimension (an empty level ends here too,
		 * unless a deeper level was seen elsewhere) */
		if (b->ndim && b->ndim != depth + 1) {
			fail(c, "ndarray shape does not match its data");
			return;
		}
		b->ndim = depth + 1;
	}
	if (b->seen[depth] && b->shape[depth] != count) {
		fail(c, "ndarray shape does not match its data");
		return;
	}
	b->seen[depth] = true;
	b->shape[depth] = count;
}

static void finish_nd(struct cur *c, struct ndb *b, struct arfs_value *v)
{
	uint64_t *shape, *stride, s = 1, total = 1;
	double *el;

	for (int d = 0; d < b->ndim; d++) {
		if (!b->seen[d]) {
			fail(c, "ndarray shape does not match its data");
			return;
		}
		total *= b->shape[d];
	}
	if (b->ndim == 0 || total != b->n) {
		fail(c, "ndarray shape does not match its data");
		return;
	}
	shape = c_alloc(c, (size_t)b->ndim, sizeof(*shape));
	stride = c_alloc(c, (size_t)b->ndim, sizeof(*stride));
	el = c_alloc(c, b->n, sizeof(*el));
	if (!shape || !stride || !el)
		return;
	for (int d = b->ndim; d-- > 0;) {
		shape[d] = b->shape[d];
		stride[d] = s;
		s *= b->shape[d];
	}
	if (b->n)
		memcpy(el, b->v, b->n * sizeof(*el));
	v->type = ARFS_FT_NDVECTOR;
	v->u.nd.ndim = (uint64_t)b->ndim;
	v->u.nd.n = b->n;
	v->u.nd.shape = shape;
	v->u.nd.stride = stride;
	v->u.nd.v = el;
}

static void parse_nd(struct cur *c, struct arfs_value *v, bool vector)
{
	struct ndb *b = calloc(1, sizeof(*b));

	if (!b) {
		c->err = -ENOMEM;
		c->tp->why = "out of memory";
		return;
	}
	nd_level(c, b, 0);
	if (!c->err && vector && b->ndim != 1)
		fail(c, "a vector has one level of brackets");
	if (!c->err)
		finish_nd(c, b, v);
	if (!c->err && vector) {
		v->type = ARFS_FT_VECTOR;
		v->u.vec.v = v->u.nd.v;
		v->u.vec.n = v->u.nd.n;
	}
	free(b->v);
	free(b);
}

/* ---- JSON ------------------------------------------------------------- */

static void json_value(struct cur *c, struct arfs_value *v, int depth);

static void json_array(struct cur *c, struct arfs_value *v, int depth,
		       unsigned type, size_t per)
{
	struct vlist l = { 0 };
	struct arfs_value *item;

	if (depth >= MAX_DEPTH)
		fail(c, "values nested too deeply");
	expect(c, '[', "expected [");
	skip_ws(c);
	if (!eat(c, ']')) {
		do {
			skip_ws(c);
			if (per == 1) {
				item = vl_push(c, &l);
				if (item)
					json_value(c, item, depth + 1);
			} else {
				/* "$dict": [key, value] */
				expect(c, '[', "$dict wants [key,value] pairs");
				item = vl_push(c, &l);
				skip_ws(c);
				if (item)
					json_value(c, item, depth + 1);
				skip_ws(c);
				expect(c, ',', "$dict wants [key,value] pairs");
				skip_ws(c);
				item = vl_push(c, &l);
				if (item)
					json_value(c, item, depth + 1);
				skip_ws(c);
				expect(c, ']', "$dict wants [key,value] pairs");
			}
			skip_ws(c);
		} while (eat(c, ','));
		expect(c, ']', "expected , or ]");
	}
	if (c->err) {
		free(l.v);
		return;
	}
	vl_finish(c, &l, v, type, per);
}

/* The string of a "$type" object, parsed as the type's block text. */
static void tagged_text(struct cur *c, struct arfs_value *v, unsigned type)
{
	struct cur in = { .tp = c->tp };
	const char *s;
	uint64_t n;

	json_string(c, &s, &n);
	if (c->err)
		return;
	in.s = s;
	in.n = n;
	if (type == ARFS_FT_DATETIME)
		parse_datetime(&in, v);
	else if (type == ARFS_FT_IMAGE)
		parse_image(&in, v);
	else
		parse_nd(&in, v, type == ARFS_FT_VECTOR);
	if (!in.err && in.pos != in.n)
		fail(&in, "bytes after the value");
	if (in.err)
		c->err = in.err;
}

/* {"$type": ...}: one member; c->pos after the key's closing quote. */
static void json_tagged(struct cur *c, struct arfs_value *v, const char *key,
			int depth)
{
	static const unsigned tags[] = { ARFS_FT_VECTOR, ARFS_FT_DATETIME,
					 ARFS_FT_IMAGE, ARFS_FT_NDVECTOR };
	bool done = false;

	skip_ws(c);
	expect(c, ':', "expected :");
	skip_ws(c);
	if (!strcmp(key, "$dict")) {
		json_array(c, v, depth, ARFS_FT_DICT, 2);
		done = true;
	}
	for (unsigned i = 0; !done && i < 4; i++)
		if (!strcmp(key + 1, arfs_ftype_name(tags[i]))) {
			tagged_text(c, v, tags[i]);
			done = true;
		}
	if (!done)
		fail(c, "unknown \"$type\" object");
	skip_ws(c);
	expect(c, '}', "a \"$type\" object has one member");
}

static void json_object(struct cur *c, struct arfs_value *v, int depth)
{
	struct vlist l = { 0 };
	struct arfs_value *key, *val;
	bool first = true;

	if (depth >= MAX_DEPTH)
		fail(c, "values nested too deeply");
	expect(c, '{', "expected {");
	skip_ws(c);
	if (!eat(c, '}')) {
		do {
			skip_ws(c);
			key = vl_push(c, &l);
			if (!key)
				break;
			key->type = ARFS_FT_STRING;
			json_string(c, &key->u.str.p, &key->u.str.len);
			if (first && !c->err && key->u.str.len &&
			    key->u.str.p[0] == '$') {
				const char *k = key->u.str.p;

				free(l.v);
				json_tagged(c, v, k, depth);
				return;
			}
			first = false;
			skip_ws(c);
			expect(c, ':', "expected :");
			skip_ws(c);
			val = vl_push(c, &l);
			if (val)
				json_value(c, val, depth + 1);
			skip_ws(c);
		} while (eat(c, ','));
		expect(c, '}', "expected , or }");
	}
	if (c->err) {
		free(l.v);
		return;
	}
	vl_finish(c, &l, v, ARFS_FT_DICT, 2);
}

static void json_value(struct cur *c, struct arfs_value *v, int depth)
{
	switch (peek(c)) {
	case '[':
		json_array(c, v, depth, ARFS_FT_LIST, 1);
		break;
	case '{':
		json_object(c, v, depth);
		break;
	case '"':
		v->type = ARFS_FT_STRING;
		json_string(c, &v->u.str.p, &v->u.str.len);
		break;
	case 'n':
		if (eat_word(c, "null"))
			v->type = ARFS_FT_UNDEFINED;
		else
			fail(c, "not a JSON value");
		break;
	default:
		json_number(c, v);
	}
}

/* ---- entry ------------------------------------------------------------ */

int arfs_textparse_value(struct arfs_textparse *tp, unsigned type,
			 const char *s, size_t n, struct arfs_value *out)
{
	struct cur c = { .s = s, .n = n, .tp = tp };

	memset(out, 0, sizeof(*out));
	switch (type) {
	case ARFS_FT_LIST:
	case ARFS_FT_DICT:
		skip_ws(&c);
		json_value(&c, out, 0);
		skip_ws(&c);
		if (!c.err && out->type != type)
			fail(&c, type == ARFS_FT_LIST ? "not a JSON array" :
			     "not a JSON object");
		break;
	case ARFS_FT_DATETIME:
		parse_datetime(&c, out);
		break;
	case ARFS_FT_IMAGE:
		parse_image(&c, out);
		break;
	case ARFS_FT_NDVECTOR:
		parse_nd(&c, out, false);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (!c.err && c.pos != c.n)
		fail(&c, "bytes after the value");
	if (c.err)
		memset(out, 0, sizeof(*out));
	return c.err;
}
