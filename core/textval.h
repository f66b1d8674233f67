/*
 * textval.h - the text form of decoded values: one value per line, as in
 * PostgreSQL's COPY text format (docs/FORMAT.md, "Text rendering").
 *
 *   int       decimal                          -12
 *   float     shortest text that reads back to the same double
 *             (numfmt.h); integral values keep a ".0" so they stay
 *             floats: 5.0, 33.6041, 1e+300, inf, -inf, nan
 *   str       bytes as stored, with \ -> \\, newline -> \n, tab -> \t,
 *             carriage return -> \r
 *   missing   \N
 *   vector    [1 2 3.5] (elements shortest, no ".0": they are all floats)
 *   list      compact JSON: ["a",1,2.5,null,[1.0,{"k":2}]]
 *   dict      compact JSON: {"k":1,"j":{"$vector":"[1 2]"}}; a dict with a
 *             key that is not a string or starts with '$' is
 *             {"$dict":[[1,"a"],[2.5,"b"]]}. Inside JSON, vector,
 *             datetime, image and ndarray values are {"$TYPE":"TEXT"}
 *             with TEXT their column text below; floats keep ".0", NaN
 *             and [-]Infinity as Python's json writes them.
 *   datetime  ISO 8601: 2014-03-01T12:30:00[.ffffff][+HH:MM]
 *   image     <image 640x480x3 jpeg 12345 bytes BASE64-OF-THE-BYTES>
 *   ndarray   nested vectors by shape: [[1 2] [3 4]]
 *
 * A struct arfs_textbuf is a growable byte buffer; it owns p. Functions
 * return 0 or -ENOMEM. Thread safety: none needed, all state is in the
 * arguments.
 */
#ifndef ARFS_TEXTVAL_H
#define ARFS_TEXTVAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Version of the text rules above. Bump it whenever the text of any value
 * changes (a byte, not just speed): block text sizes recorded in group
 * indexes and size caches (textsize.h) carry it and are ignored when it
 * differs, so they are recomputed instead of being trusted.
 * 1: first rules. 2: list and dict as compact JSON with "$TYPE" objects,
 * images with their bytes in base64, empty ndarrays keep their shape.
 */
#define ARFS_TEXTVAL_VERSION 2

struct arfs_typedenc;
struct arfs_value;
struct arfs_values;

struct arfs_textbuf {
	char *p;
	size_t len, cap;
};

/* Free the contents; the struct may be reused (zeroed). */
void arfs_textbuf_release(struct arfs_textbuf *tb);
/* Make room for n more bytes (capacity doubles): 0 or -ENOMEM. */
int arfs_textbuf_grow(struct arfs_textbuf *tb, size_t n);

static inline int arfs_textbuf_reserve(struct arfs_textbuf *tb, size_t n)
{
	return n <= tb->cap - tb->len ? 0 : arfs_textbuf_grow(tb, n);
}

/* Append n bytes of s (inline: the renderers add a few bytes at a time). */
static inline int arfs_textbuf_add(struct arfs_textbuf *tb, const void *s,
				   size_t n)
{
	if (n == 0) /* tb->p may still be NULL */
		return 0;
	if (arfs_textbuf_reserve(tb, n))
		return -ENOMEM;
	memcpy(tb->p + tb->len, s, n);
	tb->len += n;
	return 0;
}

/* Append d's number text (numfmt.h), and ".0" after an integral value
 * if keep_dot (a float scalar, so that it reads back as a float). */
int arfs_textval_put_double(struct arfs_textbuf *tb, double d, bool keep_dot);

/* Append one value's text (no newline). */
int arfs_textval_append(struct arfs_textbuf *tb, const struct arfs_value *v);
/*
 * Render every value of a block, each followed by '\n'. On success
 * *out is malloc'd (caller frees; non-NULL even when empty) and *out_len
 * is its size.
 */
int arfs_textval_render(const struct arfs_values *vals, char **out,
			size_t *out_len);
/*
 * The reverse: parse text lines (each ended by '\n'; a last line without
 * one counts too) into enc, whose type says how to read them: int
 * (decimal), float (strtod, inf, nan), str (the four escapes undone; any
 * other backslash sequence is refused), vector ([1 2 3]), list, dict,
 * datetime, image and ndarray (textparse.h), and \N alone as a missing
 * value in every type. 0, or -EINVAL with *bad_line set to the 1-based
 * line that does not parse (the reason is logged), -EOVERFLOW past 2^24
 * lines, -ENOMEM.
 */
int arfs_textval_parse(struct arfs_typedenc *enc, const char *text,
		       size_t len, uint64_t *bad_line);

#endif
