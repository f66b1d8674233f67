/*
 * test_textval.c - the text form of values (docs/FORMAT.md 2.8): shortest
 * round-trip floats, COPY escapes, missing values, vectors, datetimes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numfmt.h"
#include "textval.h"
#include "typed.h"

static void expect(const struct arfs_value *v, const char *want)
{
	struct arfs_textbuf tb = { 0 };

	assert_int_equal(arfs_textval_append(&tb, v), 0);
	if (tb.len != strlen(want) || memcmp(tb.p, want, tb.len))
		fail_msg("got '%.*s', want '%s'", (int)tb.len, tb.p, want);
	arfs_textbuf_release(&tb);
}

static void expect_float(double d, const char *want)
{
	struct arfs_value v = { .type = ARFS_FT_FLOAT, .u.f = d };

	expect(&v, want);
}

static void test_floats(void **state)
{
	expect_float(-112.106, "-112.106");
	expect_float(33.6041, "33.6041");
	expect_float(5.0, "5.0");
	expect_float(-0.0, "-0.0");
	expect_float(0.1, "0.1");
	expect_float(1.0 / 3, "0.3333333333333333");
	expect_float(1e300, "1e+300");
	expect_float(INFINITY, "inf");
	expect_float(-INFINITY, "-inf");
	expect_float(NAN, "nan");
	/* every shortest form reads back exactly */
	srand(7);
	for (int i = 0; i < 10000; i++) {
		uint64_t u = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^
			     (uint64_t)rand();
		double d, back;
		char buf[ARFS_NUMFMT_MAX + 1];

		memcpy(&d, &u, 8);
		if (!isfinite(d))
			continue;
		buf[arfs_numfmt_double(buf, d)] = 0;
		back = strtod(buf, NULL);
		assert_memory_equal(&back, &d, 8);
	}
}

static void test_strings_and_missing(void **state)
{
	struct arfs_value v = { .type = ARFS_FT_STRING };

	v.u.str.p = "a\\b\nc\td\re";
	v.u.str.len = strlen(v.u.str.p);
	expect(&v, "a\\\\b\\nc\\td\\re");
	v.u.str.p = "\\N";
	v.u.str.len = 2;
	expect(&v, "\\\\N");
	v.type = ARFS_FT_UNDEFINED;
	expect(&v, "\\N");
	v.type = ARFS_FT_INTEGER;
	v.u.i = -9223372036854775807LL - 1;
	expect(&v, "-9223372036854775808");
}

static void test_vectors_and_datetime(void **state)
{
	static const double d[] = { 4, 5.5, -6 };
	struct arfs_value v = { .type = ARFS_FT_VECTOR };

	v.u.vec.v = d;
	v.u.vec.n = 3;
	expect(&v, "[4 5.5 -6]");
	v.u.vec.n = 0;
	expect(&v, "[]");
	v.type = ARFS_FT_DATETIME;
	v.u.dt.ts = 1393677000;		/* 2014-03-01T12:30:00Z */
	v.u.dt.tz = ARFS_TZ_NONE;
	v.u.dt.us = 0;
	expect(&v, "2014-03-01T12:30:00");
	v.u.dt.tz = -20;		/* -05:00 */
	v.u.dt.us = 250000;
	expect(&v, "2014-03-01T07:30:00.250000-05:00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_strings_and_missing),
		cmocka_unit_test(test_vectors_and_datetime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
