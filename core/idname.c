/*
 * idname.c - ids <-> file names. See idname.h for the rule.
 */
#include "idname.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

static bool is_hex(uint32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_scalar(uint32_t c)
{
	return c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF);
}

/* Append UTF-8 of scalar c at out[*len]; false when it does not fit. */
static bool put_utf8(char *out, size_t cap, size_t *len, uint32_t c)
{
	unsigned char b[4];
	size_t n, i;

	if (c < 0x80) {
		b[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (unsigned char)(0xC0 | (c >> 6));
		b[1] = (unsigned char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (c >> 12));
		b[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (c >> 18));
		b[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (c & 0x3F));
		n = 4;
	}
	if (*len + n >= cap)
		return false;
	for (i = 0; i < n; i++)
		out[(*len)++] = (char)b[i];
	return true;
}

static bool put_str(char *out, size_t cap, size_t *len, const char *s)
{
	while (*s) {
		if (*len + 1 >= cap)
			return false;
		out[(*len)++] = *s++;
	}
	return true;
}

static bool put_cp(const uint32_t *cps, size_t n, size_t i, char *out,
		   size_t cap, size_t *len)
{
	uint32_t c = cps[i];
	char esc[16];

	if (c == 0)
		return put_str(out, cap, len, "%00");
	if (c == '/')
		return put_str(out, cap, len, "%2F");
	if (c == '%' && ((i + 2 < n && is_hex(cps[i + 1]) && is_hex(cps[i + 2])) ||
			 (i + 1 < n && cps[i + 1] == '{')))
		return put_str(out, cap, len, "%25");
	if (!is_scalar(c)) {
		snprintf(esc, sizeof(esc), "%%{%X}", (unsigned)c);
		return put_str(out, cap, len, esc);
	}
	return put_utf8(out, cap, len, c);
}

ssize_t arfs_idname_from_cps(const uint32_t *cps, size_t n, char *out,
			     size_t cap)
{
	size_t len = 0, i;
	const char *special = NULL;

	if (n == 0)
		special = "%00";
	else if (n == 1 && cps[0] == '.')
		special = "%2E";
	else if (n == 2 && cps[0] == '.' && cps[1] == '.')
		special = "%2E%2E";
	if (special) {
		if (!put_str(out, cap, &len, special))
			return -ENAMETOOLONG;
		out[len] = '\0';
		return (ssize_t)len;
	}
	for (i = 0; i < n; i++)
		if (!put_cp(cps, n, i, out, cap, &len))
			return -ENAMETOOLONG;
	if (len >= cap)
		return -ENAMETOOLONG;
	out[len] = '\0';
	return (ssize_t)len;
}

/* Decode one UTF-8 sequence at s[*i]; -EILSEQ when malformed. */
static int get_utf8(const unsigned char *s, size_t len, size_t *i, uint32_t *c)
{
	unsigned char b = s[*i];
	size_t n, k;
	uint32_t v, min;

	if (b < 0x80) {
		*c = b;
		(*i)++;
		return 0;
	}
	if ((b & 0xE0) == 0xC0) {
		n = 2; v = b & 0x1F; min = 0x80;
	} else if ((b & 0xF0) == 0xE0) {
		n = 3; v = b & 0x0F; min = 0x800;
	} else if ((b & 0xF8) == 0xF0) {
		n = 4; v = b & 0x07; min = 0x10000;
	} else {
		return -EILSEQ;
	}
	if (*i + n > len)
		return -EILSEQ;
	for (k = 1; k < n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80)
			return -EILSEQ;
		v = (v << 6) | (s[*i + k] & 0x3F);
	}
	if (v < min || !is_scalar(v))
		return -EILSEQ;
	*c = v;
	*i += n;
	return 0;
}

/* "%XX" or "%{X}" at name[*i] (name[*i] == '%'): 1 decoded, 0 literal '%'. */
static int get_escape(const char *name, size_t len, size_t *i, uint32_t *c)
{
	size_t j;
	uint64_t v = 0;

	if (*i + 2 < len && hexval(name[*i + 1]) >= 0 &&
	    hexval(name[*i + 2]) >= 0) {
		*c = (uint32_t)(hexval(name[*i + 1]) * 16 + hexval(name[*i + 2]));
		*i += 3;
		return 1;
	}
	if (*i + 1 < len && name[*i + 1] == '{') {
		for (j = *i + 2; j < len && name[j] != '}'; j++) {
			if (hexval(name[j]) < 0 || j - (*i + 2) >= 8)
				return -EILSEQ;
			v = v * 16 + (uint64_t)hexval(name[j]);
		}
		if (j >= len || j == *i + 2)
			return -EILSEQ;
		*c = (uint32_t)v;
		*i = j + 1;
		return 1;
	}
	return 0;
}

ssize_t arfs_idname_to_cps(const char *name, size_t len, uint32_t *cps,
			   size_t cap)
{
	size_t i = 0, n = 0;
	uint32_t c;
	int rc;

	if (len == 0)
		return -EINVAL;
	while (i < len) {
		rc = 0;
		if (name[i] == '%' && (rc = get_escape(name, len, &i, &c)) < 0)
			return rc;
		if (rc == 0 && get_utf8((const unsigned char *)name, len, &i, &c) < 0)
			return -EILSEQ;
		if (n == cap)
			return -ENAMETOOLONG;
		cps[n++] = c;
	}
	return (ssize_t)n;
}

ssize_t arfs_idname_from_utf8(const char *s, size_t len, char *out, size_t cap)
{
	uint32_t stackbuf[256], *cps = stackbuf;
	size_t i = 0, n = 0;
	ssize_t rc;

	if (len > 256)
		return -ENAMETOOLONG;
	while (i < len) {
		if (get_utf8((const unsigned char *)s, len, &i, &cps[n]) < 0)
			cps[n] = 0xDC00 + (unsigned char)s[i++];
		n++;
	}
	rc = arfs_idname_from_cps(cps, n, out, cap);
	return rc;
}
