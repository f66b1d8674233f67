/*
 * textval.c - values to text lines. See textval.h for the rules; they are
 * also in docs/FORMAT.md, which is the contract the mount serves.
 *
 * Design: scalars in a column line are escaped COPY-style (so a line never
 * contains a raw newline or tab and \N is unambiguous); composite values
 * (list, dict) use a JSON-like form whose strings are JSON-escaped, which
 * likewise never contains a raw newline or tab, so no second escaping
 * layer is applied on top of it.
 */
#include "textval.h"

#include "numfmt.h"
#include "textparse.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void arfs_textbuf_release(struct arfs_textbuf *tb)
{
	free(tb->p);
	memset(tb, 0, sizeof(*tb));
}

int arfs_textbuf_grow(struct arfs_textbuf *tb, size_t n)
{
	size_t cap = tb->cap ? tb->cap : 256;
	char *p;

	while (cap - tb->len < n) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	p = realloc(tb->p, cap);
	if (!p)
		return -ENOMEM;
	tb->p = p;
	tb->cap = cap;
	return 0;
}

static int tb_str(struct arfs_textbuf *tb, const char *s)
{
	return arfs_textbuf_add(tb, s, strlen(s));
}

int arfs_textval_put_double(struct arfs_textbuf *tb, double d, bool keep_dot)
{
	char *p;
	size_t n;

	if (arfs_textbuf_reserve(tb, ARFS_NUMFMT_MAX + 2))
		return -ENOMEM;
	p = tb->p + tb->len;
	n = arfs_numfmt_double(p, d);
	if (keep_dot && arfs_numfmt_is_integral(p, n)) {
		memcpy(p + n, ".0", 2);
		n += 2;
	}
	tb->len += n;
	return 0;
}

static int put_int(struct arfs_textbuf *tb, int64_t i)
{
	if (arfs_textbuf_reserve(tb, ARFS_NUMFMT_MAX))
		return -ENOMEM;
	tb->len += arfs_numfmt_i64(tb->p + tb->len, i);
	return 0;
}

/* COPY text escaping of a scalar string. */
static int put_copy_string(struct arfs_textbuf *tb, const char *s,
			   uint64_t n)
{
	uint64_t i, start = 0;
	const char *esc;

	if (arfs_textbuf_reserve(tb, n))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\t': esc = "\\t"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		if (arfs_textbuf_add(tb, s + start, i - start) ||
		    arfs_textbuf_add(tb, esc, 2))
			return -ENOMEM;
		start = i + 1;
	}
	return arfs_textbuf_add(tb, s + start, n - start);
}

/* JSON string escaping, inside composite values: runs of bytes that need
 * no escape are copied whole. */
static int put_json_string(struct arfs_textbuf *tb, const char *s,
			   uint64_t n)
{
	uint64_t i, start = 0;
	unsigned char c;
	char esc[8];

	if (arfs_textbuf_reserve(tb, n + 2) || arfs_textbuf_add(tb, "\"", 1))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (c == '"' || c == '\\')
			sprintf(esc, "\\%c", c);
		else if (c == '\n')
			strcpy(esc, "\\n");
		else if (c == '\t')
			strcpy(esc, "\\t");
		else if (c == '\r')
			strcpy(esc, "\\r");
		else
			sprintf(esc, "\\u%04x", c);
		if (arfs_textbuf_add(tb, s + start, i - start) || tb_str(tb, esc))
			return -ENOMEM;
		start = i + 1;
	}
	if (arfs_textbuf_add(tb, s + start, n - start))
		return -ENOMEM;
	return arfs_textbuf_add(tb, "\"", 1);
}

static int put_vector(struct arfs_textbuf *tb, const double *v, uint64_t n)
{
	if (arfs_textbuf_add(tb, "[", 1))
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		if (arfs_textbuf_reserve(tb, ARFS_NUMFMT_MAX + 1))
			return -ENOMEM;
		if (i)
			tb->p[tb->len++] = ' ';
		tb->len += arfs_numfmt_double(tb->p + tb->len, v[i]);
	}
	return arfs_textbuf_add(tb, "]", 1);
}

static int put_nd(struct arfs_textbuf *tb, const struct arfs_value *v,
		  uint64_t dim, uint64_t base)
{
	char buf[ARFS_NUMFMT_MAX];

	if (v->u.nd.ndim == 0)
		return tb_str(tb, "[]");
	if (arfs_textbuf_add(tb, "[", 1))
		return -ENOMEM;
	for (uint64_t i = 0; i < v->u.nd.shape[dim]; i++) {
		uint64_t at = base + i * v->u.nd.stride[dim];

		if (i && arfs_textbuf_add(tb, " ", 1))
			return -ENOMEM;
		if (dim + 1 < v->u.nd.ndim) {
			if (put_nd(tb, v, dim + 1, at))
				return -ENOMEM;
		} else if (arfs_textbuf_add(tb, buf, arfs_numfmt_double(buf,
					    v->u.nd.v[at]))) {
			return -ENOMEM;
		}
	}
	return arfs_textbuf_add(tb, "]", 1);
}

static int put_datetime(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	int64_t t = v->u.dt.ts;
	int32_t tz = v->u.dt.tz;
	char buf[96];
	struct tm tm;
	time_t tt;
	int n;

	if (tz != ARFS_TZ_NONE)
		t += (int64_t)tz * 15 * 60;
	tt = (time_t)t;
	if (!gmtime_r(&tt, &tm))
		return arfs_textbuf_add(tb, buf, (size_t)sprintf(buf,
					"@%" PRId64, v->u.dt.ts));
	/* the year in at least 4 digits (ISO 8601; strftime's %Y does not
	 * pad years below 1000), a '-' before years before 1 BC's 0 */
	n = sprintf(buf, "%s%04lld-%02d-%02dT%02d:%02d:%02d",
		    tm.tm_year + 1900LL < 0 ? "-" : "",
		    llabs(tm.tm_year + 1900LL), tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (v->u.dt.us)
		n += sprintf(buf + n, ".%06d", (int)v->u.dt.us);
	if (tz != ARFS_TZ_NONE)
		n += sprintf(buf + n, "%c%02d:%02d", tz < 0 ? '-' : '+',
			     abs(tz) / 4, abs(tz) % 4 * 15);
	return arfs_textbuf_add(tb, buf, (size_t)n);
}

/* Standard base64 (RFC 4648, '+' '/', '=' padding). */
static int put_base64(struct arfs_textbuf *tb, const uint8_t *p, uint64_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t w;
	char *d;

	if (n > SIZE_MAX / 2 || arfs_textbuf_reserve(tb, (n + 2) / 3 * 4))
		return -ENOMEM;
	d = tb->p + tb->len;
	for (uint64_t i = 0; i < n; i += 3) {
		w = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			w |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			w |= p[i + 2];
		*d++ = al[w >> 18];
		*d++ = al[w >> 12 & 63];
		*d++ = i + 1 < n ? al[w >> 6 & 63] : '=';
		*d++ = i + 2 < n ? al[w & 63] : '=';
	}
	tb->len = (size_t)(d - tb->p);
	return 0;
}

/* <image [vN ]WIDTHxHEIGHTxCHANNELS FORMAT SIZE bytes[ BASE64]> */
static int put_image(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	static const char *const fmts[] = { "jpeg", "png", "raw", "undefined" };
	char buf[200], f[24];
	int n = 0;

	if (v->u.img.format >= 0 && v->u.img.format < 4)
		snprintf(f, sizeof(f), "%s", fmts[v->u.img.format]);
	else
		snprintf(f, sizeof(f), "format%u", (unsigned)v->u.img.format);
	n += snprintf(buf, sizeof(buf), "<image ");
	if (v->u.img.version)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "v%u ",
			      (unsigned)v->u.img.version);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%" PRIu64 "x%" PRIu64
		      "x%" PRIu64 " %s %" PRIu64 " bytes", v->u.img.width,
		      v->u.img.height, v->u.img.channels, f, v->u.img.size);
	if (arfs_textbuf_add(tb, buf, (size_t)n))
		return -ENOMEM;
	if (v->u.img.size && (arfs_textbuf_add(tb, " ", 1) ||
			      put_base64(tb, v->u.img.data, v->u.img.size)))
		return -ENOMEM;
	return arfs_textbuf_add(tb, ">", 1);
}

static int put_value(struct arfs_textbuf *tb, const struct arfs_value *v);
static int put_json(struct arfs_textbuf *tb, const struct arfs_value *v);

/* A double inside JSON: the float form with ".0", or NaN, [-]Infinity. */
static int put_json_double(struct arfs_textbuf *tb, double d)
{
	if (isnan(d))
		return tb_str(tb, "NaN");
	if (isinf(d))
		return tb_str(tb, d < 0 ? "-Infinity" : "Infinity");
	return arfs_textval_put_double(tb, d, true);
}

/* A dict is a JSON object when every key is a string not starting '$'. */
static bool plain_keys(const struct arfs_value *v)
{
	for (uint64_t i = 0; i < v->u.list.n; i++) {
		const struct arfs_value *k = &v->u.list.v[2 * i];

		if (k->type != ARFS_FT_STRING ||
		    (k->u.str.len && k->u.str.p[0] == '$'))
			return false;
	}
	return true;
}

static int put_json_items(struct arfs_textbuf *tb, const struct arfs_value *v,
			  bool pairs)
{
	bool obj = pairs && plain_keys(v);
	int rc = 0;

	if (pairs && !obj)
		rc = tb_str(tb, "{\"$dict\":");
	rc = rc ?: arfs_textbuf_add(tb, obj ? "{" : "[", 1);
	for (uint64_t i = 0; !rc && i < v->u.list.n; i++) {
		if (i)
			rc = arfs_textbuf_add(tb, ",", 1);
		if (!pairs)
			rc = rc ?: put_json(tb, &v->u.list.v[i]);
		else
			rc = rc ?: (obj ? 0 : arfs_textbuf_add(tb, "[", 1)) ?:
			     put_json(tb, &v->u.list.v[2 * i]) ?:
			     arfs_textbuf_add(tb, obj ? ":" : ",", 1) ?:
			     put_json(tb, &v->u.list.v[2 * i + 1]) ?:
			     (obj ? 0 : arfs_textbuf_add(tb, "]", 1));
	}
	rc = rc ?: arfs_textbuf_add(tb, obj ? "}" : "]", 1);
	if (pairs && !obj)
		rc = rc ?: arfs_textbuf_add(tb, "}", 1);
	return rc;
}

/* {"$TYPE":"its block text"} for the values JSON has no form for. */
static int put_json_tagged(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	struct arfs_textbuf t = { 0 };
	int rc = tb_str(tb, "{\"$") ?: tb_str(tb, arfs_ftype_name(v->type)) ?:
		 tb_str(tb, "\":") ?: put_value(&t, v) ?:
		 put_json_string(tb, t.p ? t.p : "", t.len) ?:
		 arfs_textbuf_add(tb, "}", 1);

	arfs_textbuf_release(&t);
	return rc;
}

/* Compact JSON (FORMAT.md 2.8.1). */
static int put_json(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	switch (v->type) {
	case ARFS_FT_INTEGER:
		return put_int(tb, v->u.i);
	case ARFS_FT_FLOAT:
		return put_json_double(tb, v->u.f);
	case ARFS_FT_STRING:
		return put_json_string(tb, v->u.str.p, v->u.str.len);
	case ARFS_FT_LIST:
		return put_json_items(tb, v, false);
	case ARFS_FT_DICT:
		return put_json_items(tb, v, true);
	case ARFS_FT_VECTOR:
	case ARFS_FT_DATETIME:
	case ARFS_FT_IMAGE:
	case ARFS_FT_NDVECTOR:
		return put_json_tagged(tb, v);
	default:
		return tb_str(tb, "null");
	}
}

static int put_value(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	switch (v->type) {
	case ARFS_FT_INTEGER:
		return put_int(tb, v->u.i);
	case ARFS_FT_FLOAT:
		return arfs_textval_put_double(tb, v->u.f, true);
	case ARFS_FT_STRING:
		return put_copy_string(tb, v->u.str.p, v->u.str.len);
	case ARFS_FT_VECTOR:
		return put_vector(tb, v->u.vec.v, v->u.vec.n);
	case ARFS_FT_LIST:
	case ARFS_FT_DICT:
		return put_json(tb, v);
	case ARFS_FT_DATETIME:
		return put_datetime(tb, v);
	case ARFS_FT_IMAGE:
		return put_image(tb, v);
	case ARFS_FT_NDVECTOR:
		return put_nd(tb, v, 0, 0);
	default:
		return tb_str(tb, "\\N");
	}
}

int arfs_textval_append(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	return put_value(tb, v);
}

int arfs_textval_render(const struct arfs_values *vals, char **out,
			size_t *out_len)
{
	struct arfs_textbuf tb = { 0 };

	if (arfs_textbuf_reserve(&tb, vals->n * 4 + 1))
		return -ENOMEM;
	for (uint64_t i = 0; i < vals->n; i++) {
		if (put_value(&tb, &vals->v[i]) ||
		    arfs_textbuf_add(&tb, "\n", 1)) {
			arfs_textbuf_release(&tb);
			return -ENOMEM;
		}
	}
	*out = tb.p;
	*out_len = tb.len;
	return 0;
}

/* ---- parsing text lines back (the mount's block writes) --------------- */

static int parse_int_line(struct arfs_typedenc *enc, const char *s, size_t n)
{
	char buf[32], *end;
	long long v;

	if (!n || n >= sizeof(buf) || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end != buf + n)
		return -EINVAL;
	return arfs_typedenc_add_int(enc, v);
}

static int parse_str_line(struct arfs_typedenc *enc, const char *s, size_t n,
			  struct arfs_textbuf *tmp)
{
	const char *bs = memchr(s, '\\', n);
	char c;

	if (!bs)
		return arfs_typedenc_add_str(enc, s, n);
	tmp->len = 0;
	for (size_t i = 0; i < n; i++) {
		c = s[i];
		if (c == '\\') {
			if (++i == n)
				return -EINVAL;
			c = s[i] == '\\' ? '\\' : s[i] == 'n' ? '\n' :
			    s[i] == 't' ? '\t' : s[i] == 'r' ? '\r' : 0;
			if (!c)
				return -EINVAL;
		} else if (c == '\t' || c == '\r') {
			return -EINVAL;
		}
		if (arfs_textbuf_add(tmp, &c, 1))
			return -ENOMEM;
	}
	return arfs_typedenc_add_str(enc, tmp->p, tmp->len);
}

static int parse_vec_line(struct arfs_typedenc *enc, const char *s, size_t n,
			  struct arfs_textbuf *tmp)
{
	size_t i = 1, j;
	double d;

	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return -EINVAL;
	tmp->len = 0;
	while (i < n - 1) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		for (j = i; j < n - 1 && s[j] != ' '; j++)
			;
		if (!arfs_numfmt_parse(s + i, j - i, &d))
			return -EINVAL;
		if (arfs_textbuf_add(tmp, &d, sizeof(d)))
			return -ENOMEM;
		i = j;
	}
	return arfs_typedenc_add_vec(enc, (const double *)(void *)tmp->p,
				     tmp->len / sizeof(double));
}

static int parse_composite(struct arfs_typedenc *enc, const char *s,
			   size_t n, struct arfs_textparse *tp)
{
	struct arfs_value v;
	int rc = arfs_textparse_value(tp, enc->type, s, n, &v);

	if (!rc)
		rc = arfs_typedenc_add_value(enc, &v);
	arfs_textparse_reset(tp);
	return rc;
}

static int parse_line(struct arfs_typedenc *enc, const char *s, size_t n,
		      struct arfs_textbuf *tmp, struct arfs_textparse *tp)
{
	double d;

	if (n == 2 && s[0] == '\\' && s[1] == 'N')
		return arfs_typedenc_add_missing(enc);
	switch (enc->type) {
	case ARFS_FT_INTEGER:
		return parse_int_line(enc, s, n);
	case ARFS_FT_FLOAT:
		return arfs_numfmt_parse(s, n, &d) ? arfs_typedenc_add_float(enc, d)
					      : -EINVAL;
	case ARFS_FT_STRING:
		return parse_str_line(enc, s, n, tmp);
	case ARFS_FT_VECTOR:
		return parse_vec_line(enc, s, n, tmp);
	case ARFS_FT_UNDEFINED:
		return -EINVAL;	/* only \N */
	default:
		return parse_composite(enc, s, n, tp);
	}
}

int arfs_textval_parse(struct arfs_typedenc *enc, const char *text,
		       size_t len, uint64_t *bad_line)
{
	struct arfs_textbuf tmp = { 0 };
	struct arfs_textparse tp = { 0 };
	const char *p = text, *end = text + len, *nl;
	uint64_t line = 0;
	int rc = 0;

	while (!rc && p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		line++;
		rc = parse_line(enc, p, (size_t)(nl - p), &tmp, &tp);
		p = nl + 1;
	}
	arfs_textbuf_release(&tmp);
	if (rc == -EINVAL && tp.why)
		arfs_log(ARFS_LOG_ERR, "line %" PRIu64 " of %s text: %s", line,
			 arfs_ftype_name(enc->type), tp.why);
	arfs_textparse_release(&tp);
	if (rc && bad_line)
		*bad_line = line;
	return rc;
}
