/*
 * numfmt.h - numbers to decimal text, without printf: the number forms of
 * the block text (docs/FORMAT.md, "Text rendering").
 *
 *   arfs_numfmt_i64     decimal, '-' for negatives: -12
 *   arfs_numfmt_double  the shortest %g text that strtod() reads back to
 *                       exactly d (see below)
 *
 * The double rule, kept byte for byte from the printf form it replaces:
 * NaN is "nan", infinities "inf" and "-inf"; an integral value below 1e16
 * in magnitude is "%.0f" (so -0.0 is "-0"); any other value is "%.Pg" for
 * the smallest P in 1..17 whose text reads back to d. P is found directly
 * by the shortest-digits search of Ryu (Adams, PLDI 2018) over the
 * multipliers of pow5_table.h: the shortest digit string inside d's
 * rounding interval, which is also "%.Pg"'s correctly rounded digits when
 * the interval is symmetric. For the few doubles where it may not be (an
 * exact power of two, whose lower neighbour is closer than its upper one,
 * or a digit string forced up off the interval's edge) the P loop over
 * snprintf/strtod is run instead.
 *
 * Buffers: ARFS_NUMFMT_MAX bytes are always enough; no NUL is written.
 * Return: the length written. Thread safety: pure functions.
 */
#ifndef ARFS_NUMFMT_H
#define ARFS_NUMFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARFS_NUMFMT_MAX 32

size_t arfs_numfmt_u64(char *buf, uint64_t v);
size_t arfs_numfmt_i64(char *buf, int64_t v);
size_t arfs_numfmt_double(char *buf, double d);

/*
 * The reverse for the common case: parse the n bytes at s as a decimal
 * number of at most 15 significant digits and a power of ten within
 * 10^+-22 ("-12", "33.6041", "1.5e3", ".5"), where one IEEE multiply or
 * divide of two exact doubles gives strtod()'s correctly rounded value
 * (Clinger's fast path). Returns false, with *out unset, for anything
 * else (longer digits, inf/nan, hex, stray bytes): the caller then asks
 * strtod(), so the accepted text and its values are strtod's.
 */
bool arfs_numfmt_parse_fast(const char *s, size_t n, double *out);

/*
 * A double in the block-text form (docs/FORMAT.md 2.8): the fast path
 * above, else strtod() on the whole n bytes (inf, nan, long digits); no
 * leading space, no hex. False if the n bytes are not exactly a number.
 */
bool arfs_numfmt_parse(const char *s, size_t n, double *out);

/*
 * A decimal int64: optional sign, 1-19 digits, nothing else; false on
 * anything else or an overflow (strtoll's ERANGE).
 */
bool arfs_numfmt_parse_i64(const char *s, size_t n, int64_t *out);

/* True if the n bytes of a number's text are only digits and '-' (an
 * integral float, to which the block text adds ".0"). */
static inline bool arfs_numfmt_is_integral(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '-' && (s[i] < '0' || s[i] > '9'))
			return false;
	return true;
}

#endif
