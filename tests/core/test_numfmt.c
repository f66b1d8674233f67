/*
 * test_numfmt.c - numbers to text (core/numfmt.c) against the printf form
 * it replaced, which is kept here as the reference: the same bytes for
 * every double tried; the fast parser against strtod. ARFS_NUMFMT_COUNT sets how many random doubles of
 * each kind (default 10^7 in all; fewer under valgrind, ARFS_TEST_SLOW).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"

/* The block text's float rule as it was first written, with printf. */
static size_t reference_double(char *buf, double d)
{
	int prec;

	if (isnan(d))
		return (size_t)sprintf(buf, "nan");
	if (isinf(d))
		return (size_t)sprintf(buf, d < 0 ? "-inf" : "inf");
	if (d == trunc(d) && fabs(d) < 1e16)
		return (size_t)sprintf(buf, "%.0f", d);
	for (prec = 1; prec < 17; prec++) {
		sprintf(buf, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	return (size_t)sprintf(buf, "%.*g", prec, d);
}

static uint64_t mismatches;

static void check(double d)
{
	char want[64], got[ARFS_NUMFMT_MAX + 1];
	size_t nw = reference_double(want, d);
	size_t ng = arfs_numfmt_double(got, d);

	assert_true(ng <= ARFS_NUMFMT_MAX);
	got[ng] = 0;
	if (ng != nw || memcmp(got, want, nw)) {
		if (mismatches++ < 10)
			print_error("%a: printf form '%s', numfmt '%s'\n", d,
				    want, got);
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t count(void)
{
	const char *n = getenv("ARFS_NUMFMT_COUNT");

	if (n)
		return strtoull(n, NULL, 10);
	return getenv("ARFS_TEST_SLOW") ? 30000 : 10000000;
}

static void test_edges(void **state)
{
	static const double fixed[] = {
		0.0, -0.0, 5e-324, -5e-324, 1e-323, DBL_MIN, -DBL_MIN,
		2.2250738585072009e-308, DBL_MAX, -DBL_MAX, DBL_EPSILON,
		9007199254740992.0, 9007199254740994.0, 1e16, 1e16 + 2,
		-1e16, 1e15 + 0.5, 1e17, 1e22, 1e23, 0.1, 0.2, 0.3,
		1.0 / 3, 2.0 / 3, 1e-5, 1e-4, 1e-3, 0.5, 0.25, 1.5,
		123456789012345680.0, 5e-310, 0.30000000000000004,
		2.2250738585072014e-308, 4.940656458412465e-324,
		9.007199254740993e15, 1.7976931348623157e308,
		NAN, -NAN, INFINITY, -INFINITY,
	};

	mismatches = 0;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		check(fixed[i]);
	for (int p = -325; p <= 309; p++) {
		double t = pow(10, p);

		check(t);
		check(-t);
		check(nextafter(t, 0));
		check(nextafter(t, INFINITY));
	}
	for (int e = -1074; e <= 1023; e++) {
		double t = ldexp(1, e);

		check(t);
		check(nextafter(t, 0));
		check(nextafter(t, INFINITY));
		check(3 * t);
	}
	for (int k = -1000; k <= 1000; k++) {
		check(9007199254740992.0 + 2.0 * k);	/* 2^53 */
		check(1e16 + 2.0 * k);
		check(-1e16 - 4.0 * k);
		check(k / 8.0);
		check(k / 10.0);
	}
	assert_int_equal(mismatches, 0);
}

/* Doubles whose shortest form has 17 digits: neighbours of 17-digit
 * decimals that 16 digits do not separate. */
static void test_seventeen_digits(void **state)
{
	char buf[ARFS_NUMFMT_MAX + 1];
	uint64_t found = 0;

	mismatches = 0;
	for (uint64_t i = 0; i < count() / 100 || found < 100; i++) {
		double d = (double)(next() >> 11) / 9007199254740992.0;
		size_t n;

		check(d);
		n = arfs_numfmt_double(buf, d);
		buf[n] = 0;
		found += strlen(buf) >= 19;	/* "0." + 17 digits */
		if (i > 10 * count())
			break;
	}
	assert_true(found >= 100);
	assert_int_equal(mismatches, 0);
}

/* count() random doubles: bit patterns (every exponent, subnormals,
 * NaNs), uniform [0, 1) scaled, and short decimals. */
static void test_random(void **state)
{
	uint64_t n = count();

	mismatches = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t u = next();
		double d;

		switch (i % 4) {
		case 0:
			memcpy(&d, &u, sizeof(d));
			break;
		case 1:
			d = (double)(u >> 11) / 9007199254740992.0;
			break;
		case 2:
			d = ldexp((double)(u >> 11), (int)(u % 200) - 150);
			break;
		default:
			d = (double)(int64_t)(u % 20000001 - 10000000) / 1000;
		}
		check(d);
	}
	assert_int_equal(mismatches, 0);
}

static void test_integers(void **state)
{
	static const int64_t v[] = { 0, 1, -1, 9, 10, 99, 100, -100,
				     INT64_MAX, INT64_MIN, 1000000007 };
	char want[32], got[ARFS_NUMFMT_MAX];

	for (size_t i = 0; i < sizeof(v) / sizeof(*v) + 100000; i++) {
		int64_t x = i < sizeof(v) / sizeof(*v) ? v[i] :
			    (int64_t)next() >> (next() % 64);
		size_t n = arfs_numfmt_i64(got, x);

		snprintf(want, sizeof(want), "%" PRId64, x);
		assert_int_equal(n, strlen(want));
		assert_memory_equal(got, want, n);
	}
}

/* The fast parser either declines or gives strtod's exact double for
 * the same whole string. */
static void expect_parse(const char *t)
{
	double fast, slow;
	char *end;

	if (!arfs_numfmt_parse_fast(t, strlen(t), &fast))
		return;
	slow = strtod(t, &end);
	if (*end || memcmp(&fast, &slow, sizeof(fast)))
		fail_msg("'%s': fast %a, strtod %a (rest '%s')", t, fast, slow,
			 end);
}

static void test_parse(void **state)
{
	static const char *const taken[] = {
		"0", "-0", "+0", "1", "-12", "33.6041", ".5", "5.", "1e3",
		"1.5E-3", "-0.0", "123456789012345", "0.000000000000000000001",
		"900719925474099e-5", "1e22", "1e-22", "999999999999999e22",
	};
	static const char *const declined[] = {
		"", "-", ".", "e5", "1e", "1e+", "nan", "inf", "-inf", "0x10",
		" 1", "1 ", "1..2", "1e23", "1e-23", "1234567890123456",
		"1,5", "--1", "1e5e5", "9007199254740993e-5",
	};
	char t[64];
	double d;
	int64_t v;

	for (size_t i = 0; i < sizeof(taken) / sizeof(*taken); i++) {
		assert_true(arfs_numfmt_parse_fast(taken[i], strlen(taken[i]),
						   &d));
		expect_parse(taken[i]);
	}
	for (size_t i = 0; i < sizeof(declined) / sizeof(*declined); i++)
		assert_false(arfs_numfmt_parse_fast(declined[i],
						    strlen(declined[i]), &d));
	for (uint64_t i = 0; i < count() / 10; i++) {
		uint64_t u = next();
		int e = (int)(u % 60) - 30;

		switch (i % 3) {
		case 0:
			snprintf(t, sizeof(t), "%.*f", (int)(u >> 8) % 12,
				 (double)(int64_t)(u >> 20) / 1e6);
			break;
		case 1:
			snprintf(t, sizeof(t), "%" PRIu64 "e%d",
				 (uint64_t)((u >> 14) % 1000000000000000ull), e);
			break;
		default:
			snprintf(t, sizeof(t), "-%" PRIu64 ".%03ue%d",
				 (uint64_t)((u >> 30) % 100000), (unsigned)(u % 1000), e / 2);
		}
		expect_parse(t);
	}
	assert_true(arfs_numfmt_parse_i64("-9223372036854775808", 20, &v));
	assert_true(v == INT64_MIN);
	assert_true(arfs_numfmt_parse_i64("+9223372036854775807", 20, &v));
	assert_true(v == INT64_MAX);
	assert_false(arfs_numfmt_parse_i64("9223372036854775808", 19, &v));
	assert_false(arfs_numfmt_parse_i64("-9223372036854775809", 20, &v));
	assert_false(arfs_numfmt_parse_i64("12a", 3, &v));
	assert_false(arfs_numfmt_parse_i64("-", 1, &v));
	assert_false(arfs_numfmt_parse_i64("", 0, &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_seventeen_digits),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
