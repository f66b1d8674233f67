/*
 * test_idname.c - the id <-> file name rule of core/idname.c.
 *
 * Covers: plain ids; the escapes for NUL, '/', '%' before hex digits or
 * '{', ".", ".." and the empty id; values that are not Unicode scalars
 * (surrogates, > 0x10FFFF) as %{X}; "100%" and other lone '%' staying
 * literal; names that are not valid UTF-8 or hold a malformed %{...}
 * (-EILSEQ); buffers too small in either direction (-ENAMETOOLONG); the
 * column-name variant arfs_idname_from_utf8(); and random code point
 * sequences (fixed seed) that must survive id -> name -> id exactly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "idname.h"

#define NAME_CAP 4096
#define CPS_CAP 1024

/* id -> name must give `want`, and the name must map back to the id. */
static void check_round(const uint32_t *cps, size_t n, const char *want)
{
	uint32_t back[CPS_CAP];
	char name[NAME_CAP];
	ssize_t len, m;

	len = arfs_idname_from_cps(cps, n, name, sizeof(name));
	assert_true(len >= 0);
	assert_int_equal((size_t)len, strlen(name));
	if (want)
		assert_string_equal(name, want);
	m = arfs_idname_to_cps(name, (size_t)len, back, CPS_CAP);
	assert_int_equal(m, (ssize_t)n);
	assert_memory_equal(back, cps, n * sizeof(*cps));
}

/* A name given as a C string must decode to the n code points in cps. */
static void check_decode(const char *name, const uint32_t *cps, size_t n)
{
	uint32_t back[CPS_CAP];
	ssize_t m = arfs_idname_to_cps(name, strlen(name), back, CPS_CAP);

	assert_int_equal(m, (ssize_t)n);
	assert_memory_equal(back, cps, n * sizeof(*cps));
}

static size_t ascii_cps(const char *s, uint32_t *cps)
{
	size_t n = 0;

	while (s[n]) {
		cps[n] = (unsigned char)s[n];
		n++;
	}
	return n;
}

static void check_ascii(const char *id, const char *want)
{
	uint32_t cps[CPS_CAP];

	check_round(cps, ascii_cps(id, cps), want);
}

static void test_plain(void **state)
{
	static const uint32_t uni[] = { 0xE9, 0x4E2D, 0x1F600, 0x10FFFF };

	check_ascii("a", "a");
	check_ascii("0f8fad5b-d9cb-469f-a165-70867728950e",
		    "0f8fad5b-d9cb-469f-a165-70867728950e");
	check_ascii("with space", "with space");
	check_ascii("...", "...");
	check_ascii(".a", ".a");
	check_ascii("a.", "a.");
	check_round(uni, 4, "\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF");
}

static void test_slash_and_nul(void **state)
{
	static const uint32_t nul[] = { 'a', 0, 'b' };
	static const uint32_t lead0[] = { 0, 'x' };
	static const uint32_t only0[] = { 0 };

	check_ascii("a/b", "a%2Fb");
	check_ascii("/", "%2F");
	check_ascii("//x//", "%2F%2Fx%2F%2F");
	check_round(nul, 3, "a%00b");
	check_round(lead0, 2, "%00x");
	check_round(only0, 1, "%00");
	/* Lower-case hex decodes too. */
	check_decode("a%2fb", (const uint32_t[]){ 'a', '/', 'b' }, 3);
}

static void test_percent(void **state)
{
	check_ascii("100%", "100%");
	check_ascii("%", "%");
	check_ascii("%%", "%%");
	check_ascii("%zz", "%zz");
	check_ascii("%4", "%4");
	check_ascii("%4g", "%4g");
	check_ascii("a%", "a%");
	check_ascii("%41", "%2541");
	check_ascii("%aF", "%25aF");
	check_ascii("%2F", "%252F");
	check_ascii("%00", "%2500");
	check_ascii("%{", "%25{");
	check_ascii("%{41}", "%25{41}");
	check_ascii("%%41", "%%2541");
	/* Literal '%' in a name the user typed decodes as itself. */
	check_decode("100%", (const uint32_t[]){ '1', '0', '0', '%' }, 4);
	check_decode("%25", (const uint32_t[]){ '%' }, 1);
	check_decode("%41", (const uint32_t[]){ 'A' }, 1);
}

static void test_dots_and_empty(void **state)
{
	uint32_t back[4];
	char name[16];

	check_ascii(".", "%2E");
	check_ascii("..", "%2E%2E");
	/* The empty id is shown as %00, which names the id U+0000: the same
	 * stored id, since trailing U+0000 is padding. */
	assert_int_equal(arfs_idname_from_cps(back, 0, name, sizeof(name)), 3);
	assert_string_equal(name, "%00");
	assert_int_equal(arfs_idname_to_cps(name, 3, back, 4), 1);
	assert_int_equal(back[0], 0);
	/* A name typed as "." or ".." still means that id. */
	check_decode(".", (const uint32_t[]){ '.' }, 1);
	check_decode("..", (const uint32_t[]){ '.', '.' }, 2);
	check_decode("%2e", (const uint32_t[]){ '.' }, 1);
	assert_int_equal(arfs_idname_to_cps("", 0, back, 4), -EINVAL);
}

static void test_not_scalar(void **state)
{
	static const uint32_t sur[] = { 'a', 0xD800, 'b' };
	static const uint32_t low[] = { 0xDFFF };
	static const uint32_t big[] = { 0x110000 };
	static const uint32_t max[] = { 0xFFFFFFFF, 0x7B };
	static const uint32_t pct[] = { '%', 0xDC80 };

	check_round(sur, 3, "a%{D800}b");
	check_round(low, 1, "%{DFFF}");
	check_round(big, 1, "%{110000}");
	check_round(max, 2, "%{FFFFFFFF}{");
	check_round(pct, 2, "%%{DC80}");
	check_decode("%{0}", (const uint32_t[]){ 0 }, 1);
	check_decode("%{1f600}", (const uint32_t[]){ 0x1F600 }, 1);
}

static void check_bad(const char *name, size_t len, ssize_t want)
{
	uint32_t cps[CPS_CAP];

	assert_int_equal(arfs_idname_to_cps(name, len, cps, CPS_CAP), want);
}

static void test_bad_names(void **state)
{
	check_bad("\xFF", 1, -EILSEQ);
	check_bad("a\x80", 2, -EILSEQ);
	check_bad("\xC3", 1, -EILSEQ);            /* cut sequence */
	check_bad("\xE4\xB8", 2, -EILSEQ);
	check_bad("\xC0\xAF", 2, -EILSEQ);        /* over-long '/' */
	check_bad("\xE0\x80\xAF", 3, -EILSEQ);
	check_bad("\xED\xA0\x80", 3, -EILSEQ);    /* UTF-8 of a surrogate */
	check_bad("\xF4\x90\x80\x80", 4, -EILSEQ); /* above 10FFFF */
	check_bad("\xF8\x88\x80\x80\x80", 5, -EILSEQ);
	check_bad("%{", 2, -EILSEQ);
	check_bad("%{}", 3, -EILSEQ);
	check_bad("%{12", 4, -EILSEQ);
	check_bad("%{1g}", 5, -EILSEQ);
	check_bad("%{123456789}", 12, -EILSEQ);
	/* The length given wins over the NUL. */
	check_bad("ab\xFF", 2, 2);
}

static void test_too_long(void **state)
{
	static const uint32_t sur[] = { 0xD800 };
	uint32_t cps[8];
	char name[8];

	assert_int_equal(arfs_idname_to_cps("abcd", 4, cps, 4), 4);
	assert_int_equal(arfs_idname_to_cps("abcde", 5, cps, 4), -ENAMETOOLONG);
	assert_int_equal(arfs_idname_to_cps("%00%00%00%00%00", 15, cps, 4),
			 -ENAMETOOLONG);
	/* The name needs len + 1 bytes (NUL). */
	cps[0] = 'a';
	cps[1] = 'b';
	cps[2] = 'c';
	assert_int_equal(arfs_idname_from_cps(cps, 3, name, 4), 3);
	assert_int_equal(arfs_idname_from_cps(cps, 3, name, 3), -ENAMETOOLONG);
	cps[0] = '/';
	assert_int_equal(arfs_idname_from_cps(cps, 1, name, 4), 3);
	assert_int_equal(arfs_idname_from_cps(cps, 1, name, 3), -ENAMETOOLONG);
	cps[0] = '.';
	assert_int_equal(arfs_idname_from_cps(cps, 1, name, 3), -ENAMETOOLONG);
	assert_int_equal(arfs_idname_from_cps(sur, 1, name, 8), 7);
	assert_int_equal(arfs_idname_from_cps(sur, 1, name, 7), -ENAMETOOLONG);
	cps[0] = 0x1F600;
	assert_int_equal(arfs_idname_from_cps(cps, 1, name, 5), 4);
	assert_int_equal(arfs_idname_from_cps(cps, 1, name, 4), -ENAMETOOLONG);
}

static void test_from_utf8(void **state)
{
	char name[64], big[300];

	assert_int_equal(arfs_idname_from_utf8("col", 3, name, sizeof(name)), 3);
	assert_string_equal(name, "col");
	arfs_idname_from_utf8("100%", 4, name, sizeof(name));
	assert_string_equal(name, "100%");
	arfs_idname_from_utf8("a/b", 3, name, sizeof(name));
	assert_string_equal(name, "a%2Fb");
	arfs_idname_from_utf8("a\xFF" "b", 3, name, sizeof(name));
	assert_string_equal(name, "a%{DCFF}b");
	arfs_idname_from_utf8("..", 2, name, sizeof(name));
	assert_string_equal(name, "%2E%2E");
	memset(big, 'x', sizeof(big));
	assert_int_equal(arfs_idname_from_utf8(big, sizeof(big), name,
					       sizeof(name)), -ENAMETOOLONG);
}

static uint64_t rnd_state = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A code point biased towards the characters the rule treats specially. */
static uint32_t rnd_cp(void)
{
	static const char special[] = "%/{}.0123456789abcdefABCDEFxyz";

	switch (rnd() % 8) {
	case 0:
	case 1:
	case 2:
		return (unsigned char)special[rnd() % (sizeof(special) - 1)];
	case 3:
		return (uint32_t)(rnd() % 0x80);
	case 4:
		return (uint32_t)(rnd() % 0x10000);
	case 5:
		return (uint32_t)(rnd() % 0x110000);
	case 6:
		return 0xD800 + (uint32_t)(rnd() % 0x800);
	default:
		return (uint32_t)rnd();
	}
}

static void test_random_round_trip(void **state)
{
	uint32_t cps[64];
	int i;
	size_t n, k;

	for (i = 0; i < 200000; i++) {
		n = 1 + rnd() % 12;
		for (k = 0; k < n; k++)
			cps[k] = rnd_cp();
		check_round(cps, n, NULL);
	}
}

/* Every name that decodes must re-encode to a name decoding the same. */
static void test_random_names(void **state)
{
	static const char alphabet[] = "%%%{}/.0129aAfFgG\xC3\xA9\xFF";
	uint32_t cps[64], again[64];
	char name[32], back[NAME_CAP];
	ssize_t n, m, len;
	int i, k, l;

	for (i = 0; i < 200000; i++) {
		l = 1 + (int)(rnd() % 10);
		for (k = 0; k < l; k++)
			name[k] = alphabet[rnd() % (sizeof(alphabet) - 1)];
		n = arfs_idname_to_cps(name, (size_t)l, cps, 64);
		if (n < 0) {
			assert_true(n == -EILSEQ);
			continue;
		}
		len = arfs_idname_from_cps(cps, (size_t)n, back, sizeof(back));
		assert_true(len > 0);
		m = arfs_idname_to_cps(back, (size_t)len, again, 64);
		if (n == 0 || (n == 1 && cps[0] == 0)) {
			assert_int_equal(m, 1);
			continue;
		}
		assert_int_equal(m, n);
		assert_memory_equal(again, cps, (size_t)n * sizeof(*cps));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_slash_and_nul),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_dots_and_empty),
		cmocka_unit_test(test_not_scalar),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_from_utf8),
		cmocka_unit_test(test_random_round_trip),
		cmocka_unit_test(test_random_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
