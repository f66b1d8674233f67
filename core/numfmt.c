/*
 * numfmt.c - integers and doubles to text (numfmt.h has the rules).
 *
 * Shortest digits (Ryu): a finite double v = m2 * 2^e2 has a rounding
 * interval (the reals strtod() rounds to v), bounded by the midpoints to
 * its neighbours: (4*m2 - 1 - mm_shift) and (4*m2 + 2) in units of
 * 2^(e2-2), with the bounds themselves included when m2 is even (strtod
 * rounds a tie to the even neighbour). Scaling the interval and v by a
 * power of ten chosen so that the results fit in 64 bits (one 64x128-bit
 * multiply by a table entry) gives vm < vr < vp; dropping decimal digits
 * from all three while vm and vp still differ finds the shortest digit
 * string in the interval, and the dropped digits of vr round it. The
 * exactness flags track whether the dropped digits were all zero, which
 * only matters for small exponents and decides ties (round half to even,
 * as printf rounds).
 */
#include "numfmt.h"

#include "pow5_table.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233"
	"34353637383940414243444546474849505152535455565758596061626364656667"
	"6869707172737475767778798081828384858687888990919293949596979899";

static unsigned decimal_len(uint64_t v)
{
	static const uint64_t pow10[20] = {
		1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
		10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
		100000000000ull, 1000000000000ull, 10000000000000ull,
		100000000000000ull, 1000000000000000ull, 10000000000000000ull,
		100000000000000000ull, 1000000000000000000ull,
		10000000000000000000ull,
	};
	/* bit length * 1233 / 4096 is floor(log10(v)) or one more */
	uint64_t u = v | 1;
	unsigned t = ((64 - (unsigned)__builtin_clzll(u)) * 1233) >> 12;

	return t + 1 - (u < pow10[t]);
}

/* Exactly n = decimal_len(v) digits of v into buf. */
static void put_digits(char *buf, uint64_t v, unsigned n)
{
	char *p = buf + n;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		p -= 2;
		memcpy(p, digit_pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, digit_pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
}

size_t arfs_numfmt_u64(char *buf, uint64_t v)
{
	unsigned n = decimal_len(v);

	put_digits(buf, v, n);
	return n;
}

size_t arfs_numfmt_i64(char *buf, int64_t v)
{
	if (v >= 0)
		return arfs_numfmt_u64(buf, (uint64_t)v);
	buf[0] = '-';
	return 1 + arfs_numfmt_u64(buf + 1, -(uint64_t)v);
}

/* ---- shortest digits ---------------------------------------------------- */

/* floor(log10(2^e)) for 0 <= e <= 1650 */
static uint32_t log10_pow2(int32_t e)
{
	return ((uint32_t)e * 78913) >> 18;
}

/* floor(log10(5^e)) for 0 <= e <= 2620 */
static uint32_t log10_pow5(int32_t e)
{
	return ((uint32_t)e * 732923) >> 20;
}

/* bit length of 5^e (1 for e = 0), for 0 <= e <= 3528 */
static int32_t pow5_bits(int32_t e)
{
	return (int32_t)((((uint32_t)e * 1217359) >> 19) + 1);
}

static bool multiple_of_pow5(uint64_t v, uint32_t p)
{
	uint32_t count = 0;

	while (v && v % 5 == 0) {
		v /= 5;
		count++;
	}
	return count >= p;
}

static bool multiple_of_pow2(uint64_t v, uint32_t p)
{
	return (v & ((1ull << p) - 1)) == 0;
}

/* (m * mul) >> j for a 128-bit mul and 64 <= j; fits in 64 bits here. */
static uint64_t mul_shift(uint64_t m, const uint64_t mul[2], int32_t j)
{
	unsigned __int128 lo = (unsigned __int128)m * mul[0];
	unsigned __int128 hi = (unsigned __int128)m * mul[1];

	return (uint64_t)(((lo >> 64) + hi) >> (j - 64));
}

struct scaled {
	uint64_t vr, vp, vm;
	int32_t e10;
	bool vm_exact, vr_exact;	/* dropped digits so far all zero */
};

/* Step 1-3: v and its interval times a power of ten, with exactness. */
static void scale(uint64_t m2, int32_t e2, bool accept, uint32_t mm_shift,
		  struct scaled *s)
{
	uint64_t mv = 4 * m2;

	s->vm_exact = s->vr_exact = false;
	if (e2 >= 0) {
		uint32_t q = log10_pow2(e2) - (e2 > 3);
		int32_t j = -e2 + (int32_t)q + ARFS_POW5_BITS +
			    pow5_bits((int32_t)q) - 1;

		s->e10 = (int32_t)q;
		s->vr = mul_shift(mv, arfs_pow5_inv[q], j);
		s->vp = mul_shift(mv + 2, arfs_pow5_inv[q], j);
		s->vm = mul_shift(mv - 1 - mm_shift, arfs_pow5_inv[q], j);
		if (q <= 21) {
			if (mv % 5 == 0)
				s->vr_exact = multiple_of_pow5(mv, q);
			else if (accept)
				s->vm_exact = multiple_of_pow5(mv - 1 - mm_shift,
							       q);
			else
				s->vp -= multiple_of_pow5(mv + 2, q);
		}
	} else {
		uint32_t q = log10_pow5(-e2) - (-e2 > 1);
		int32_t i = -e2 - (int32_t)q;
		int32_t j = (int32_t)q - (pow5_bits(i) - ARFS_POW5_BITS);

		s->e10 = (int32_t)q + e2;
		s->vr = mul_shift(mv, arfs_pow5[i], j);
		s->vp = mul_shift(mv + 2, arfs_pow5[i], j);
		s->vm = mul_shift(mv - 1 - mm_shift, arfs_pow5[i], j);
		if (q <= 1) {
			s->vr_exact = true;
			if (accept)
				s->vm_exact = mm_shift == 1;
			else
				s->vp--;
		} else if (q < 63) {
			s->vr_exact = multiple_of_pow2(mv, q);
		}
	}
}

/*
 * Shortest digits of a positive finite double from its IEEE fields:
 * *digits * 10^*e10. False when the digits may differ from "%.Pg"'s
 * correctly rounded ones (see numfmt.h); the caller then asks printf.
 */
static bool shortest(uint64_t mant, uint32_t bexp, uint64_t *digits,
		     int32_t *e10)
{
	uint64_t m2 = bexp ? (1ull << 52) | mant : mant;
	int32_t e2 = (int32_t)(bexp ? bexp : 1) - 1023 - 52 - 2;
	bool accept = (m2 & 1) == 0;
	struct scaled s;
	uint32_t last = 0, removed = 0;
	bool up;

	if (!mant && bexp > 1)
		return false;	/* asymmetric interval */
	scale(m2, e2, accept, 1, &s);
	if (s.vm_exact || s.vr_exact) {
		while (s.vp / 10 > s.vm / 10) {
			s.vm_exact &= s.vm % 10 == 0;
			s.vr_exact &= last == 0;
			last = (uint32_t)(s.vr % 10);
			s.vr /= 10, s.vp /= 10, s.vm /= 10, removed++;
		}
		if (s.vm_exact) {
			while (s.vm % 10 == 0) {
				s.vr_exact &= last == 0;
				last = (uint32_t)(s.vr % 10);
				s.vr /= 10, s.vp /= 10, s.vm /= 10, removed++;
			}
		}
		if (s.vr_exact && last == 5 && s.vr % 2 == 0)
			last = 4;	/* an exact tie: round half to even */
		up = last >= 5;
		if (!up && s.vr == s.vm && (!accept || !s.vm_exact))
			return false;	/* forced up off the lower edge */
	} else {
		if (s.vp / 100 > s.vm / 100) {
			last = (uint32_t)(s.vr % 100) / 10;
			s.vr /= 100, s.vp /= 100, s.vm /= 100, removed += 2;
		}
		while (s.vp / 10 > s.vm / 10) {
			last = (uint32_t)(s.vr % 10);
			s.vr /= 10, s.vp /= 10, s.vm /= 10, removed++;
		}
		up = last >= 5;
		if (!up && s.vr == s.vm)
			return false;
	}
	*digits = s.vr + up;
	*e10 = s.e10 + (int32_t)removed;
	return true;
}

/* The P loop of the printf form, for what shortest() declines. */
static size_t shortest_printf(char *buf, double d)
{
	char tmp[ARFS_NUMFMT_MAX];
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	return (size_t)snprintf(buf, ARFS_NUMFMT_MAX, "%.*g", prec, d);
}

/* "%.Pg" of digits * 10^e10, where digits has no trailing zero and P is
 * its length. */
static size_t put_g(char *buf, uint64_t digits, int32_t e10)
{
	char d[20];
	unsigned n = decimal_len(digits);
	int32_t x = e10 + (int32_t)n - 1;	/* the scientific exponent */
	size_t len = 0;

	put_digits(d, digits, n);
	if (x < -4 || x >= (int32_t)n) {
		buf[len++] = d[0];
		if (n > 1) {
			buf[len++] = '.';
			memcpy(buf + len, d + 1, n - 1);
			len += n - 1;
		}
		buf[len++] = 'e';
		buf[len++] = x < 0 ? '-' : '+';
		if (x < 0)
			x = -x;
		if (x < 10)
			buf[len++] = '0';
		return len + arfs_numfmt_u64(buf + len, (uint64_t)x);
	}
	if (x < 0) {
		buf[len++] = '0';
		buf[len++] = '.';
		memset(buf + len, '0', (size_t)(-x - 1));
		len += (size_t)(-x - 1);
		memcpy(buf + len, d, n);
		return len + n;
	}
	memcpy(buf, d, (size_t)x + 1);
	len = (size_t)x + 1;
	if (n > len) {
		buf[len] = '.';
		memcpy(buf + len + 1, d + x + 1, n - len);
		len = n + 1;
	}
	return len;
}

size_t arfs_numfmt_double(char *buf, double d)
{
	uint64_t bits, digits;
	int32_t e10;
	size_t len = 0;

	if (isnan(d)) {
		memcpy(buf, "nan", 3);
		return 3;
	}
	if (isinf(d)) {
		memcpy(buf, d < 0 ? "-inf" : "inf", 4 - (d > 0));
		return 4 - (d > 0);
	}
	if (d == trunc(d) && fabs(d) < 1e16) {
		if (d == 0 && signbit(d))
			buf[len++] = '-';
		return len + arfs_numfmt_i64(buf + len, (int64_t)d);
	}
	memcpy(&bits, &d, sizeof(bits));
	if (!shortest(bits & ((1ull << 52) - 1), (uint32_t)(bits >> 52) & 0x7ff,
		      &digits, &e10))
		return shortest_printf(buf, d);
	while (digits % 10 == 0) {
		digits /= 10;
		e10++;
	}
	if (bits >> 63)
		buf[len++] = '-';
	return len + put_g(buf + len, digits, e10);
}

/* ---- the common case of parsing ---------------------------------------- */

bool arfs_numfmt_parse_fast(const char *s, size_t n, double *out)
{
	static const double pow10[23] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
		1e22,
	};
	const char *p = s, *end = s + n;
	uint64_t w = 0;
	int digits = 0, e10 = 0, ex = 0, seen = 0;
	bool neg = false, eneg = false;
	double d;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	for (; p < end && *p >= '0' && *p <= '9'; p++, seen++) {
		if (w || *p != '0')	/* leading zeros are not significant */
			digits++;
		w = w * 10 + (uint64_t)(*p - '0');
		if (digits > 15)
			return false;
	}
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++, seen++) {
			if (w || *p != '0')
				digits++;
			w = w * 10 + (uint64_t)(*p - '0');
			e10--;
			if (digits > 15)
				return false;
		}
	}
	if (!seen)
		return false;
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		if (p == end)
			return false;
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if ((ex = ex * 10 + (*p - '0')) > 1000)
				return false;
		e10 += eneg ? -ex : ex;
	}
	if (p != end || e10 < -22 || e10 > 22)
		return false;
	d = (double)w;		/* exact: w < 10^15 < 2^53 */
	d = e10 < 0 ? d / pow10[-e10] : d * pow10[e10];
	*out = neg ? -d : d;
	return true;
}

bool arfs_numfmt_parse_i64(const char *s, size_t n, int64_t *out)
{
	const char *p = s, *end = s + n;
	bool neg = false;
	uint64_t v = 0, limit;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == end || end - p > 19)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (uint64_t)(*p - '0');	/* < 10^19 < 2^64 */
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (v > limit)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

bool arfs_numfmt_parse(const char *s, size_t n, double *out)
{
	char buf[64], *end;

	if (arfs_numfmt_parse_fast(s, n, out))
		return true;
	if (!n || n >= sizeof(buf) || *s == ' ' || memchr(s, 'x', n) ||
	    memchr(s, 'X', n))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	*out = strtod(buf, &end);
	return end == buf + n;
}
