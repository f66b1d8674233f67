/*
 * textparse.h - read the text form (textval.h, docs/FORMAT.md 2.8) of the
 * composite column types back into values: list and dict (compact JSON
 * with "$type" objects for values JSON lacks), datetime (ISO 8601), image
 * (its description line with the bytes in base64) and ndarray (nested
 * brackets). Together with the rendering in textval.c this is exact: a
 * value rendered and parsed is the same value (ndarrays compact, in C
 * order), and the text of a parsed line rendered again is the same text
 * whenever it was written in the one form textval.c writes.
 *
 * Input is untrusted: every byte is checked, nesting is limited to 64
 * levels, and a line that is not the type's text is -EINVAL with a short
 * reason in tp->why (a static string). Never a crash, never a partial
 * value.
 *
 * Ownership: a parsed value and everything it points to live in tp's
 * arena until arfs_textparse_reset() or _release(). Thread safety: one
 * struct per thread.
 */
#ifndef ARFS_TEXTPARSE_H
#define ARFS_TEXTPARSE_H

#include <stddef.h>

struct arfs_value;
struct tp_chunk;

struct arfs_textparse {
	struct tp_chunk *arena;	/* private */
	const char *why;	/* reason of the last -EINVAL */
};

/*
 * Parse the line s[0..n) (no newline) as one value of column type `type`
 * (list, dict, datetime, image, ndarray; \N is the caller's business).
 * 0 with *out filled, -EINVAL (tp->why says why), -ENOMEM, -EOPNOTSUPP for
 * another type.
 */
int arfs_textparse_value(struct arfs_textparse *tp, unsigned type,
			 const char *s, size_t n, struct arfs_value *out);
/* Free the values parsed so far; tp stays usable. */
void arfs_textparse_reset(struct arfs_textparse *tp);
void arfs_textparse_release(struct arfs_textparse *tp);

#endif
