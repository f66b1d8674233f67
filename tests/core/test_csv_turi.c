/*
 * test_csv_turi.c - the string rules of Turi's CSV dialect: unescaping of
 * quoted fields (Turi's unescape_string), escaping on export, and that
 * every string survives escape then unescape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "csv_turi.h"
#include "textval.h"

static void expect_unescape(const char *in, const char *want, size_t wlen)
{
	char buf[256];
	size_t n = strlen(in);

	memcpy(buf, in, n);
	n = arfs_csv_turi_unescape(buf, n);
	assert_int_equal(n, wlen);
	assert_memory_equal(buf, want, wlen);
}

static void test_unescape(void **state)
{
	expect_unescape("plain", "plain", 5);
	expect_unescape("a\\\\b", "a\\b", 3);
	expect_unescape("\\\"q\\\" \"\"d\"\"", "\"q\" \"d\"", 7);
	expect_unescape("\\t\\b\\r\\n\\/\\'", "\t\b\r\n/'", 6);
	expect_unescape("\\u00e9", "\xc3\xa9", 2);
	expect_unescape("\\u20ac!", "\xe2\x82\xac!", 4);
	expect_unescape("\\ud83d\\ude00", "\xf0\x9f\x98\x80", 4);
	/* kept as they are: unknown escapes, short \u, a trailing backslash */
	expect_unescape("\\q\\x41", "\\q\\x41", 6);
	expect_unescape("\\u12", "\\u12", 4);
	expect_unescape("\\u12zz", "\\u12zz", 6);
	expect_unescape("end\\", "end\\", 4);
	expect_unescape("\\\\u0041", "\\u0041", 6);
}

static void test_put_string(void **state)
{
	struct arfs_textbuf tb = { 0 };
	static const char in[] = "a\"b\\c\td\ne\rf\bg\0h";
	static const char want[] = "\"a\"\"b\\\\c\\td\\ne\\rf\\bg\\u0000h\"";

	assert_int_equal(arfs_csv_turi_put_string(&tb, in, sizeof(in) - 1), 0);
	assert_int_equal(tb.len, strlen(want));
	assert_memory_equal(tb.p, want, tb.len);
	arfs_textbuf_release(&tb);
	assert_true(arfs_csv_turi_bare_name("business_id", 11));
	assert_false(arfs_csv_turi_bare_name("a,b", 3));
	assert_false(arfs_csv_turi_bare_name("NA", 2));
	assert_false(arfs_csv_turi_bare_name("", 0));
	assert_false(arfs_csv_turi_bare_name(" x", 2));
}

/* Escape then unescape (without the quotes) is the identity. */
static void test_round_trip(void **state)
{
	struct arfs_textbuf tb = { 0 };
	char s[64];
	size_t n;

	srand(7);
	for (int k = 0; k < 20000; k++) {
		static const char pool[] = "ab\"\\\t\n\r\bu0123/'\"\\";

		n = (size_t)(rand() % 24);
		for (size_t i = 0; i < n; i++)
			s[i] = rand() % 16 ? pool[rand() % (sizeof(pool) - 1)]
					   : (char)(rand() % 256);
		tb.len = 0;
		assert_int_equal(arfs_csv_turi_put_string(&tb, s, n), 0);
		assert_int_equal(arfs_csv_turi_unescape(tb.p + 1, tb.len - 2),
				 n);
		assert_memory_equal(tb.p + 1, s, n);
	}
	arfs_textbuf_release(&tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_put_string),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
