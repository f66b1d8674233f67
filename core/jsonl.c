/*
 * jsonl.c - values as JSON (jsonl.h).
 */
#include "jsonl.h"

#include "numfmt.h"
#include "textval.h"
#include "typed.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if not valid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

int arfs_jsonl_put_string(struct arfs_textbuf *tb, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, l;
	char esc[6];
	int rc = arfs_textbuf_add(tb, "\"", 1);

	while (!rc && i + run < n) {
		unsigned char c = s[i + run];

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			continue;
		}
		l = c >= 0x80 ? utf8_len(s + i + run, n - i - run) : 0;
		if (l) {
			run += l;
			continue;
		}
		rc = arfs_textbuf_add(tb, s + i, run);
		i += run + 1;
		run = 0;
		if (rc)
			break;
		if (c >= 0x80) {
			rc = arfs_textbuf_add(tb, "\xef\xbf\xbd", 3);
			continue;
		}
		esc[0] = '\\';
		switch (c) {
		case '"': case '\\': esc[1] = (char)c; l = 2; break;
		case '\n': esc[1] = 'n'; l = 2; break;
		case '\t': esc[1] = 't'; l = 2; break;
		case '\r': esc[1] = 'r'; l = 2; break;
		case '\b': esc[1] = 'b'; l = 2; break;
		case '\f': esc[1] = 'f'; l = 2; break;
		default:
			esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
			esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
			l = 6;
		}
		rc = arfs_textbuf_add(tb, esc, l);
	}
	return rc ?: arfs_textbuf_add(tb, s + i, run) ?:
	       arfs_textbuf_add(tb, "\"", 1);
}

static int put_number(struct arfs_textbuf *tb, double d, bool keep_dot)
{
	if (!isfinite(d))
		return arfs_textbuf_add(tb, "null", 4);
	return arfs_textval_put_double(tb, d, keep_dot);
}

static int put_value(struct arfs_textbuf *tb, const struct arfs_value *v,
		     unsigned depth);

/* A dict key: a string as is, anything else as a string of its JSON. */
static int put_key(struct arfs_textbuf *tb, const struct arfs_value *k,
		   unsigned depth)
{
	struct arfs_textbuf t = { 0 };
	int rc;

	if (k->type == ARFS_FT_STRING)
		return arfs_jsonl_put_string(tb, k->u.str.p, k->u.str.len);
	rc = put_value(&t, k, depth + 1) ?:
	     arfs_jsonl_put_string(tb, t.p ? t.p : "", t.len);
	arfs_textbuf_release(&t);
	return rc;
}

static int put_value(struct arfs_textbuf *tb, const struct arfs_value *v,
		     unsigned depth)
{
	struct arfs_textbuf t = { 0 };
	int rc = 0;

	switch (v->type) {
	case ARFS_FT_UNDEFINED:
		return arfs_textbuf_add(tb, "null", 4);
	case ARFS_FT_INTEGER:
		if (arfs_textbuf_reserve(tb, ARFS_NUMFMT_MAX))
			return -ENOMEM;
		tb->len += arfs_numfmt_i64(tb->p + tb->len, v->u.i);
		return 0;
	case ARFS_FT_FLOAT:
		return put_number(tb, v->u.f, true);
	case ARFS_FT_STRING:
		return arfs_jsonl_put_string(tb, v->u.str.p, v->u.str.len);
	case ARFS_FT_VECTOR:
		rc = arfs_textbuf_add(tb, "[", 1);
		for (uint64_t i = 0; !rc && i < v->u.vec.n; i++)
			rc = (i ? arfs_textbuf_add(tb, ",", 1) : 0) ?:
			     put_number(tb, v->u.vec.v[i], false);
		return rc ?: arfs_textbuf_add(tb, "]", 1);
	case ARFS_FT_LIST:
		if (depth > 64)	/* the decoder bounds nesting too */
			break;
		rc = arfs_textbuf_add(tb, "[", 1);
		for (uint64_t i = 0; !rc && i < v->u.list.n; i++)
			rc = (i ? arfs_textbuf_add(tb, ",", 1) : 0) ?:
			     put_value(tb, &v->u.list.v[i], depth + 1);
		return rc ?: arfs_textbuf_add(tb, "]", 1);
	case ARFS_FT_DICT:
		if (depth > 64)
			break;
		rc = arfs_textbuf_add(tb, "{", 1);
		for (uint64_t i = 0; !rc && i < v->u.list.n; i++)
			rc = (i ? arfs_textbuf_add(tb, ",", 1) : 0) ?:
			     put_key(tb, &v->u.list.v[2 * i], depth) ?:
			     arfs_textbuf_add(tb, ":", 1) ?:
			     put_value(tb, &v->u.list.v[2 * i + 1], depth + 1);
		return rc ?: arfs_textbuf_add(tb, "}", 1);
	default:
		break;
	}
	rc = arfs_textval_append(&t, v) ?:
	     arfs_jsonl_put_string(tb, t.p ? t.p : "", t.len);
	arfs_textbuf_release(&t);
	return rc;
}

int arfs_jsonl_put_value(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	return put_value(tb, v, 0);
}
