/*
 * test_textparse.c - the text of list, dict, datetime, image and ndarray
 * values read back (core/textparse.c), and the whole write path of every
 * column type: text lines -> encoder -> Turi payload -> decoder -> text.
 *
 * Expected values are written out by hand here from docs/FORMAT.md (the
 * text itself, and the payload bytes of Turi's serialization), never
 * produced by the code under test. Bad text must be -EINVAL, never a
 * crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "textparse.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

/* Parse text as a column of `type`, encode, decode, render: want back. */
static void roundtrip_as(unsigned type, const char *text, const char *want)
{
	struct arfs_typedenc enc;
	struct arfs_textbuf pay = { 0 };
	struct arfs_block_info bi = { 0 };
	struct arfs_values *vals = NULL;
	uint64_t bad = 0, flags;
	char *out;
	size_t out_len;
	int rc;

	assert_int_equal(arfs_typedenc_init(&enc, type), 0);
	rc = arfs_textval_parse(&enc, text, strlen(text), &bad);
	if (rc)
		fail_msg("%s: line %llu of '%s' refused (%d)",
			 arfs_ftype_name(type), (unsigned long long)bad, text,
			 rc);
	assert_int_equal(arfs_typedenc_encode(&enc, &pay, &flags), 0);
	bi.flags = flags;
	bi.num_elem = enc.n;
	bi.block_size = bi.length = pay.len;
	assert_int_equal(arfs_typed_decode(&bi, pay.p, pay.len, "test", &vals),
			 0);
	assert_int_equal(arfs_textval_render(vals, &out, &out_len), 0);
	if (out_len != strlen(want) || memcmp(out, want, out_len))
		fail_msg("%s: got\n%.*s\nwant\n%s", arfs_ftype_name(type),
			 (int)out_len, out, want);
	free(out);
	arfs_values_free(vals);
	arfs_textbuf_release(&pay);
	arfs_typedenc_release(&enc);
}

static void roundtrip(unsigned type, const char *text)
{
	roundtrip_as(type, text, text);
}

static void refused(unsigned type, const char *line)
{
	struct arfs_typedenc enc;
	uint64_t bad = 0;

	assert_int_equal(arfs_typedenc_init(&enc, type), 0);
	if (arfs_textval_parse(&enc, line, strlen(line), &bad) != -EINVAL)
		fail_msg("%s: '%s' was not refused", arfs_ftype_name(type),
			 line);
	arfs_typedenc_release(&enc);
}

static void test_scalars(void **state)
{
	(void)state;
	roundtrip(ARFS_FT_INTEGER, "0\n-9223372036854775808\n\\N\n42\n");
	roundtrip(ARFS_FT_FLOAT, "5.0\n-0.0\n\\N\n1e+300\ninf\nnan\n0.1\n");
	roundtrip(ARFS_FT_STRING, "a\\tb\n\\\\N\n\\N\n\n\xc3\xa9\n");
	roundtrip(ARFS_FT_VECTOR, "[1 2.5]\n[]\n\\N\n");
}

static void test_list(void **state)
{
	(void)state;
	roundtrip(ARFS_FT_LIST,
		  "[1,\"a\",[2.5]]\n"
		  "[]\n"
		  "\\N\n"
		  "[null,-3,0.0,-0.0,1e+300,NaN,Infinity,-Infinity]\n"
		  "[\"q\\\"b\\\\s\\n\\t\\r\\u0001\xc3\xa9\"]\n"
		  "[{\"k\":1},{\"$dict\":[[1,\"x\"]]},[[[]]]]\n"
		  "[{\"$vector\":\"[1 2.5]\"},{\"$vector\":\"[]\"}]\n"
		  "[{\"$datetime\":\"2014-03-01T12:30:00.000250+05:45\"}]\n"
		  "[{\"$ndarray\":\"[[1 2] [3 4]]\"}]\n");
	/* other spellings of the same values come back in the one form */
	roundtrip_as(ARFS_FT_LIST, "[ 1 , \"\\u00e9\\/\" , 2E2 ]\n",
		     "[1,\"\xc3\xa9/\",200.0]\n");
	roundtrip_as(ARFS_FT_LIST, "[\"\\ud83d\\ude00\"]\n",
		     "[\"\xf0\x9f\x98\x80\"]\n");
}

static void test_dict(void **state)
{
	(void)state;
	roundtrip(ARFS_FT_DICT,
		  "{\"the\":3,\"a\":1}\n"
		  "{}\n"
		  "\\N\n"
		  "{\"k\":[1,{\"j\":null}],\"\":\"\"}\n"
		  "{\"$dict\":[[1,\"one\"],[2.5,\"x\"]]}\n"
		  "{\"$dict\":[[\"$k\",1]]}\n"
		  "{\"$dict\":[[null,1],[[1],2]]}\n"
		  "{\"d\":{\"$datetime\":\"1970-01-01T00:00:00\"}}\n");
	/* keys keep their order and repeats (Turi's dict is a pair list) */
	roundtrip(ARFS_FT_DICT, "{\"b\":1,\"a\":2,\"b\":3}\n");
}

static void test_datetime(void **state)
{
	(void)state;
	roundtrip(ARFS_FT_DATETIME,
		  "2014-03-01T12:30:00\n"
		  "1970-01-01T00:00:00+00:00\n"
		  "\\N\n"
		  "2014-05-02T00:00:00.000001-11:45\n"
		  "1900-02-28T23:59:59+12:00\n"
		  "2000-02-29T00:00:00.500000\n"
		  "9999-12-31T23:59:59-12:00\n"
		  "0099-01-01T00:00:00\n"
		  "-0100-03-01T00:00:00\n"
		  "12345-06-07T08:09:10\n");
	roundtrip_as(ARFS_FT_DATETIME, "99-01-01T00:00:00\n",
		     "0099-01-01T00:00:00\n");
	roundtrip_as(ARFS_FT_DATETIME, "2000-02-29T00:00:00.5\n",
		     "2000-02-29T00:00:00.500000\n");
}

static void test_ndarray(void **state)
{
	(void)state;
	roundtrip(ARFS_FT_NDVECTOR,
		  "[[1 2] [3 4]]\n"
		  "[1 2.5 -3]\n"
		  "\\N\n"
		  "[]\n"
		  "[[] []]\n"
		  "[[[1] [2]] [[3] [4]] [[5] [6]]]\n"
		  "[nan inf -0]\n");
}

/*
 * Image: the text and the payload Turi writes (FORMAT.md 2.7.5), built
 * here byte by byte.
 */
static void test_image_bytes(void **state)
{
	static const char text[] = "<image 2x1x1 png 3 bytes AQID>\n\\N\n"
				   "<image v1 0x0x0 undefined 0 bytes>\n";
	struct arfs_typedenc enc;
	struct arfs_textbuf pay = { 0 };
	uint8_t want[128], *q = want;
	uint64_t bad, flags;

	(void)state;
	refused(ARFS_FT_IMAGE, "<image 2x1x1 png 3 AQID>");
	assert_int_equal(arfs_typedenc_init(&enc, ARFS_FT_IMAGE), 0);
	assert_int_equal(arfs_textval_parse(&enc, text, strlen(text), &bad),
			 0);
	assert_int_equal(enc.n, 3);
	assert_int_equal(arfs_typedenc_encode(&enc, &pay, &flags), 0);
	*q++ = 2;		/* num_types: image + missing */
	*q++ = ARFS_FT_IMAGE;
	put_le64(q, 2), q += 8;	/* bitmap: row 1 missing */
	*q++ = 0;		/* version */
	put_le64(q, 1), q += 8;	/* height */
	put_le64(q, 2), q += 8;	/* width */
	put_le64(q, 1), q += 8;	/* channels */
	put_le64(q, 1), q += 8;	/* format: png, 8 bytes */
	put_le64(q, 3), q += 8;	/* size */
	*q++ = 1, *q++ = 2, *q++ = 3;
	*q++ = 1;		/* version 1, empty undefined image */
	for (int i = 0; i < 3; i++)
		put_le64(q, 0), q += 8;
	put_le64(q, 3), q += 8;
	put_le64(q, 0), q += 8;
	assert_int_equal(flags, ARFS_BLOCK_TYPED);
	assert_int_equal(pay.len, (size_t)(q - want));
	assert_memory_equal(pay.p, want, pay.len);
	arfs_textbuf_release(&pay);
	arfs_typedenc_release(&enc);
}

/* Image text: rendered from a value and read back to the same value. */
static void test_image_text(void **state)
{
	static const uint8_t px[] = { 0xff, 0xd8, 0xff, 0x00, 0x10 };
	struct arfs_value v = { .type = ARFS_FT_IMAGE }, back;
	struct arfs_textparse tp = { 0 };
	struct arfs_textbuf tb = { 0 };
	const char *want = "<image 640x480x3 jpeg 5 bytes /9j/ABA=>";

	(void)state;
	v.u.img.width = 640;
	v.u.img.height = 480;
	v.u.img.channels = 3;
	v.u.img.size = sizeof(px);
	v.u.img.data = px;
	v.u.img.format = 0;
	assert_int_equal(arfs_textval_append(&tb, &v), 0);
	assert_int_equal(tb.len, strlen(want));
	assert_memory_equal(tb.p, want, tb.len);
	assert_int_equal(arfs_textparse_value(&tp, ARFS_FT_IMAGE, tb.p, tb.len,
					      &back), 0);
	assert_int_equal(back.u.img.width, 640);
	assert_int_equal(back.u.img.height, 480);
	assert_int_equal(back.u.img.channels, 3);
	assert_int_equal(back.u.img.format, 0);
	assert_int_equal(back.u.img.size, sizeof(px));
	assert_memory_equal(back.u.img.data, px, sizeof(px));
	arfs_textparse_release(&tp);
	arfs_textbuf_release(&tb);
}

/* Datetime payload: 56-bit seconds, zone code, microseconds (2.7.4). */
static void test_datetime_bytes(void **state)
{
	struct arfs_typedenc enc;
	struct arfs_textbuf pay = { 0 };
	uint8_t want[64], *q = want;
	uint64_t bad, flags;
	const char *text = "1970-01-01T01:00:01.000002+01:00\n"
			   "1969-12-31T23:59:59\n";

	(void)state;
	assert_int_equal(arfs_typedenc_init(&enc, ARFS_FT_DATETIME), 0);
	assert_int_equal(arfs_textval_parse(&enc, text, strlen(text), &bad),
			 0);
	assert_int_equal(arfs_typedenc_encode(&enc, &pay, &flags), 0);
	*q++ = 1;
	*q++ = ARFS_FT_DATETIME;
	put_le64(q, 1), q += 8;		/* 1 s after the epoch (UTC) */
	q[-1] = 4 + 25;			/* +01:00 = 4 quarters, + 25 */
	put_le32(q, 2), q += 4;
	put_le64(q, 0x00ffffffffffffffull), q += 8;	/* -1, 56 bits */
	q[-1] = 64 + 25;		/* no zone */
	put_le32(q, 0), q += 4;
	assert_int_equal(pay.len, (size_t)(q - want));
	assert_memory_equal(pay.p, want, pay.len);
	arfs_textbuf_release(&pay);
	arfs_typedenc_release(&enc);
}

/* Dict payload: u64 count, tagged key and value per pair (2.7.5). */
static void test_dict_bytes(void **state)
{
	struct arfs_typedenc enc;
	struct arfs_textbuf pay = { 0 };
	uint8_t want[64], *q = want;
	uint64_t bad, flags;
	const char *text = "{\"ab\":3}\n";

	(void)state;
	assert_int_equal(arfs_typedenc_init(&enc, ARFS_FT_DICT), 0);
	assert_int_equal(arfs_textval_parse(&enc, text, strlen(text), &bad),
			 0);
	assert_int_equal(arfs_typedenc_encode(&enc, &pay, &flags), 0);
	*q++ = 1;
	*q++ = ARFS_FT_DICT;
	put_le64(q, 1), q += 8;
	*q++ = 128 + ARFS_FT_STRING;
	put_le64(q, 2), q += 8;
	*q++ = 'a', *q++ = 'b';
	*q++ = 128 + ARFS_FT_INTEGER;
	put_le64(q, 3), q += 8;
	assert_int_equal(flags, ARFS_BLOCK_TYPED);
	assert_int_equal(pay.len, (size_t)(q - want));
	assert_memory_equal(pay.p, want, pay.len);
	arfs_textbuf_release(&pay);
	arfs_typedenc_release(&enc);
}

static void test_bad_text(void **state)
{
	static const struct { unsigned type; const char *line; } bad[] = {
		{ ARFS_FT_LIST, "[1,2" },
		{ ARFS_FT_LIST, "[1,]" },
		{ ARFS_FT_LIST, "[1 2]" },
		{ ARFS_FT_LIST, "{\"k\":1}" },
		{ ARFS_FT_LIST, "[01]" },
		{ ARFS_FT_LIST, "[1.]" },
		{ ARFS_FT_LIST, "[\"a]" },
		{ ARFS_FT_LIST, "[\"\\x\"]" },
		{ ARFS_FT_LIST, "[\"\\ud800\"]" },
		{ ARFS_FT_LIST, "[true]" },
		{ ARFS_FT_LIST, "[99999999999999999999]" },
		{ ARFS_FT_LIST, "[1] x" },
		{ ARFS_FT_LIST, "[{\"$vector\":\"[1,2]\"}]" },
		{ ARFS_FT_LIST, "[{\"$nope\":1}]" },
		{ ARFS_FT_LIST, "[{\"$vector\":\"[1]\",\"k\":1}]" },
		{ ARFS_FT_LIST, "[{\"$ndarray\":\"[[1] [2 3]]\"}]" },
		{ ARFS_FT_DICT, "[1]" },
		{ ARFS_FT_DICT, "{\"k\"}" },
		{ ARFS_FT_DICT, "{1:2}" },
		{ ARFS_FT_DICT, "{\"$dict\":[[1]]}" },
		{ ARFS_FT_DICT, "{\"$dict\":[1,2]}" },
		{ ARFS_FT_DATETIME, "2014-02-30T00:00:00" },
		{ ARFS_FT_DATETIME, "2014-01-01 00:00:00" },
		{ ARFS_FT_DATETIME, "2014-01-01T24:00:00" },
		{ ARFS_FT_DATETIME, "2014-01-01T00:00:00+01:10" },
		{ ARFS_FT_DATETIME, "2014-01-01T00:00:00+13:00" },
		{ ARFS_FT_DATETIME, "2014-01-01T00:00:00.1234567" },
		{ ARFS_FT_DATETIME, "99999999999-01-01T00:00:00" },
		{ ARFS_FT_IMAGE, "<image 1x1x1 png 2 bytes AQID>" },
		{ ARFS_FT_IMAGE, "<image 1x1x1 png 3 bytes AQI>" },
		{ ARFS_FT_IMAGE, "<image 1x1x1 gif 0 bytes>" },
		{ ARFS_FT_IMAGE, "<image 1x1x1 png 3 bytes>" },
		{ ARFS_FT_NDVECTOR, "[[1 2] [3]]" },
		{ ARFS_FT_NDVECTOR, "[[1 2] 3]" },
		{ ARFS_FT_NDVECTOR, "[[1] [[2]]]" },
		{ ARFS_FT_NDVECTOR, "[[] [1]]" },
		{ ARFS_FT_NDVECTOR, "[1,2]" },
		{ ARFS_FT_NDVECTOR, "[1 x]" },
		{ ARFS_FT_NDVECTOR, "[[1 2]" },
		{ ARFS_FT_UNDEFINED, "1" },
	};
	char deep[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i].type, bad[i].line);
	/* nesting past 64 levels: refused, never a stack overflow */
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = 0;
	refused(ARFS_FT_LIST, deep);
	refused(ARFS_FT_NDVECTOR, deep);
	/* every prefix of a good line parses or is refused, never crashes */
	{
		const char *good = "[1,\"a\\u00e9\",{\"$dict\":[[2,{\"$datetime\":"
				   "\"2014-03-01T12:30:00+05:45\"}]]},[2.5e3]]";
		struct arfs_typedenc enc;
		uint64_t b;

		for (size_t n = 0; n < strlen(good); n++) {
			arfs_typedenc_init(&enc, ARFS_FT_LIST);
			assert_int_equal(arfs_textval_parse(&enc, good, n, &b),
					 n ? -EINVAL : 0);
			arfs_typedenc_release(&enc);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_dict),
		cmocka_unit_test(test_datetime),
		cmocka_unit_test(test_ndarray),
		cmocka_unit_test(test_image_bytes),
		cmocka_unit_test(test_image_text),
		cmocka_unit_test(test_datetime_bytes),
		cmocka_unit_test(test_dict_bytes),
		cmocka_unit_test(test_bad_text),
	};

	arfs_log_set_level(ARFS_LOG_ERR - 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
