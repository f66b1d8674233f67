/*
 * csv_turi.c - escaping and unescaping of strings in Turi's CSV dialect.
 * See csv_turi.h; the dialect's rules, each with its source, are in
 * docs/FORMAT.md 3.2. The tokenizing half of the reader (quotes that an
 * escaped quote does not close, brackets, spaces) is in core/csv.c.
 */
#include "csv_turi.h"
#include "util.h"

#include "textval.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * \uHHHH at s[0..n) (s[0] is the backslash): the code point's UTF-8 into
 * d, *used the bytes read. 0 bytes written when it is not one; a high
 * surrogate takes a following \uHHHH low surrogate with it. An unpaired
 * surrogate is written as its 3 bytes, which the UTF-8 check then refuses.
 */
static size_t unicode(const char *s, size_t n, char *d, size_t *used)
{
	unsigned hi, lo;

	if (n < 6 || hex4(s + 2, &hi))
		return 0;
	*used = 6;
	if (hi >= 0xd800 && hi <= 0xdbff && n >= 12 && s[6] == '\\' &&
	    s[7] == 'u' && !hex4(s + 8, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
		*used = 12;
		return arfs_utf8_put(d, 0x10000 + ((hi - 0xd800) << 10) +
				(lo - 0xdc00));
	}
	return arfs_utf8_put(d, hi);
}

size_t arfs_csv_turi_unescape(char *s, size_t n)
{
	size_t in = 0, out = 0, used, k;
	char c;

	while (in < n) {
		c = s[in];
		if (c == '"' && in + 1 < n && s[in + 1] == '"') {
			s[out++] = '"';
			in += 2;
			continue;
		}
		if (c != '\\' || in + 1 == n) {
			s[out++] = c;
			in++;
			continue;
		}
		switch (s[in + 1]) {
		case '\\': case '"': case '\'': case '/':
			c = s[in + 1];
			break;
		case 't':
			c = '\t';
			break;
		case 'b':
			c = '\b';
			break;
		case 'r':
			c = '\r';
			break;
		case 'n':
			c = '\n';
			break;
		case 'u':
			/* at most 6 bytes read, at most 4 written: in place */
			k = unicode(s + in, n - in, s + out, &used);
			if (k) {
				out += k;
				in += used;
				continue;
			}
			/* not one: kept as it is */
			__attribute__((fallthrough));
		default:
			s[out++] = '\\';
			in++;
			continue;
		}
		s[out++] = c;
		in += 2;
	}
	return out;
}

int arfs_csv_turi_put_string(struct arfs_textbuf *tb, const char *s,
			     size_t n)
{
	size_t start = 0;
	const char *esc;

	if (arfs_textbuf_add(tb, "\"", 1))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '"':	esc = "\"\""; break;
		case '\\':	esc = "\\\\"; break;
		case '\t':	esc = "\\t"; break;
		case '\b':	esc = "\\b"; break;
		case '\r':	esc = "\\r"; break;
		case '\n':	esc = "\\n"; break;
		case 0:		esc = "\\u0000"; break;
		default:	continue;
		}
		if (arfs_textbuf_add(tb, s + start, i - start) ||
		    arfs_textbuf_add(tb, esc, strlen(esc)))
			return -ENOMEM;
		start = i + 1;
	}
	if (arfs_textbuf_add(tb, s + start, n - start) ||
	    arfs_textbuf_add(tb, "\"", 1))
		return -ENOMEM;
	return 0;
}

bool arfs_csv_turi_bare_name(const char *s, size_t n)
{
	if (!n || s[0] == ' ' || s[n - 1] == ' ' || s[0] == '[' ||
	    s[0] == '{' || (n == 2 && !memcmp(s, "NA", 2)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strchr(",\"\\\t\b\r\n", s[i]) || !s[i])
			return false;
	return true;
}
