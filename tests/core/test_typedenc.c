/*
 * test_typedenc.c - the typed-block encoder against the decoder: random
 * columns of every supported type with random missing patterns, number
 * streams at every width boundary 0..64 under each technique, varints at
 * every length boundary, and the size choices (dictionary strings,
 * integral floats). Fixed seeds: a failure repeats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "testutil.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

/* Random value of at most `bits` bits (0..64). */
static uint64_t rbits(unsigned bits)
{
	if (bits == 0)
		return 0;
	return bits >= 64 ? rnd() : rnd() & ((1ull << bits) - 1);
}

/* ---- number stream ---------------------------------------------------- */

static void roundtrip_numbers(const uint64_t *v, uint64_t n)
{
	struct arfs_textbuf tb = { 0 };
	uint64_t *got = calloc(n + 1, sizeof(*got));
	size_t pos = 0;

	assert_int_equal(arfs_typedenc_numbers(&tb, v, n), 0);
	assert_int_equal(arfs_typed_decode_numbers((uint8_t *)tb.p, tb.len,
						   &pos, n, got), 0);
	assert_int_equal(pos, tb.len);
	for (uint64_t i = 0; i < n; i++)
		if (got[i] != v[i])
			fail_msg("value %llu of %llu: got %llx want %llx",
				 (unsigned long long)i, (unsigned long long)n,
				 (unsigned long long)got[i],
				 (unsigned long long)v[i]);
	arfs_textbuf_release(&tb);
	free(got);
}

static void test_varint_boundaries(void **state)
{
	(void)state;
	for (unsigned b = 0; b <= 64; b++) {
		uint64_t cases[3] = {
			b ? (b == 64 ? ~0ull : (1ull << b) - 1) : 0,
			b < 64 ? 1ull << b : 0, b ? 1ull << (b - 1) : 1,
		};
		for (int i = 0; i < 3; i++) {
			struct arfs_textbuf tb = { 0 };
			uint64_t got;
			size_t pos = 0;

			assert_int_equal(arfs_typedenc_varint(&tb, cases[i]), 0);
			assert_int_equal(arfs_typed_decode_varint(
				(uint8_t *)tb.p, tb.len, &pos, &got), 0);
			assert_int_equal(pos, tb.len);
			assert_true(got == cases[i]);
			arfs_textbuf_release(&tb);
		}
	}
	/* the format's examples */
	{
		struct arfs_textbuf tb = { 0 };

		arfs_typedenc_varint(&tb, 12);
		arfs_typedenc_varint(&tb, 524);
		assert_int_equal(tb.len, 3);
		assert_memory_equal(tb.p, "\x18\x31\x08", 3);
		arfs_textbuf_release(&tb);
	}
}

/* Every width 0..64, as plain spreads, sorted runs (delta) and zigzag
 * walks, at counts around the frame size and the bit-packing padding. */
static void test_numbers_every_width(void **state)
{
	static const uint64_t counts[] = { 1, 2, 3, 7, 8, 9, 127, 128, 129,
					   255, 256, 300 };
	uint64_t v[300];

	(void)state;
	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned b = 0; b <= 64; b++)
		for (size_t ci = 0; ci < sizeof(counts) / sizeof(*counts); ci++) {
			uint64_t n = counts[ci], base = rnd();

			for (int shape = 0; shape < 4; shape++) {
				for (uint64_t i = 0; i < n; i++) {
					uint64_t r = rbits(b);

					if (shape == 0)
						v[i] = base + r;
					else if (shape == 1)
						v[i] = i ? v[i - 1] + r : base;
					else if (shape == 2)
						v[i] = i ? v[i - 1] + (rnd() & 1 ? r : -r) : base;
					else	/* exact boundary values */
						v[i] = i % 2 ? base + (b == 64 ? ~0ull : b ? (1ull << b) - 1 : 0) : base;
				}
				roundtrip_numbers(v, n);
			}
		}
}

/* Narrow values must take narrow frames. */
static void test_numbers_compact(void **state)
{
	uint64_t v[128];
	struct arfs_textbuf tb = { 0 };

	(void)state;
	for (int i = 0; i < 128; i++)
		v[i] = 1000000 + (uint64_t)i;	/* delta 1: width 1 */
	arfs_typedenc_numbers(&tb, v, 128);
	assert_true(tb.len <= 1 + 3 + 16);
	tb.len = 0;
	for (int i = 0; i < 128; i++)
		v[i] = 42;			/* width 0 */
	arfs_typedenc_numbers(&tb, v, 128);
	assert_int_equal(tb.len, 2);
	arfs_textbuf_release(&tb);
}

/* ---- whole blocks ----------------------------------------------------- */

struct gen {
	unsigned type;
	uint64_t n;
	struct arfs_value *want;	/* [n] */
	char *sbuf;
	double *dbuf;
};

static double rdouble(unsigned shape)
{
	uint64_t u;
	double d;

	switch (shape % 5) {
	case 0:		/* integral */
		return (double)(int64_t)(rbits(1 + (unsigned)(rnd() % 53)) -
					 (rnd() & 1 ? 0 : 1ull << 20));
	case 1:		/* short decimals */
		return (double)(int64_t)(rnd() % 200000) / 1000.0 - 100;
	case 2:		/* any bits but NaN */
		do {
			u = rnd();
			memcpy(&d, &u, sizeof(d));
		} while (isnan(d));
		return d;
	case 3:
		return rnd() % 3 == 0 ? -0.0 : (rnd() & 1 ? INFINITY : -INFINITY);
	default:
		return ldexp((double)(rnd() % 1000), (int)(rnd() % 200) - 100);
	}
}

static void gen_block(struct gen *g, unsigned type, uint64_t n,
		      unsigned miss_pct, unsigned shape)
{
	size_t soff = 0, doff = 0;
	unsigned bits = (unsigned)(rnd() % 65);
	uint64_t base = rnd(), prev = base;

	g->type = type;
	g->n = n;
	g->want = calloc(n + 1, sizeof(*g->want));
	g->sbuf = malloc(n * 40 + 1);
	g->dbuf = malloc((n * 9 + 1) * sizeof(double));
	for (uint64_t i = 0; i < n; i++) {
		struct arfs_value *v = &g->want[i];

		if (rnd() % 100 < miss_pct) {
			v->type = ARFS_FT_UNDEFINED;
			continue;
		}
		v->type = (uint8_t)type;
		switch (type) {
		case ARFS_FT_INTEGER:
			prev = shape & 1 ? prev + rbits(bits) : base + rbits(bits);
			v->u.i = (int64_t)prev;
			break;
		case ARFS_FT_FLOAT:
			v->u.f = rdouble(shape);
			break;
		case ARFS_FT_STRING: {
			/* shape 0: few distinct (dictionary), else random */
			size_t len = shape % 2 == 0 ? rnd() % 4 : rnd() % 40;

			for (size_t j = 0; j < len; j++)
				g->sbuf[soff + j] = shape % 2 == 0 ?
					(char)('a' + j) : (char)rnd();
			v->u.str.p = g->sbuf + soff;
			v->u.str.len = len;
			soff += len;
			break;
		}
		case ARFS_FT_VECTOR: {
			size_t len = rnd() % 9;

			for (size_t j = 0; j < len; j++)
				g->dbuf[doff + j] = rdouble(shape);
			v->u.vec.v = g->dbuf + doff;
			v->u.vec.n = len;
			doff += len;
			break;
		}
		}
	}
}

static void gen_free(struct gen *g)
{
	free(g->want);
	free(g->sbuf);
	free(g->dbuf);
}

static bool same_double(double a, double b)
{
	return !memcmp(&a, &b, sizeof(a));
}

static void compare(const struct gen *g, const struct arfs_values *got)
{
	assert_int_equal(got->n, g->n);
	for (uint64_t i = 0; i < g->n; i++) {
		const struct arfs_value *w = &g->want[i], *v = &got->v[i];

		assert_int_equal(v->type, w->type);
		switch (w->type) {
		case ARFS_FT_INTEGER:
			assert_true(v->u.i == w->u.i);
			break;
		case ARFS_FT_FLOAT:
			assert_true(same_double(v->u.f, w->u.f));
			break;
		case ARFS_FT_STRING:
			assert_int_equal(v->u.str.len, w->u.str.len);
			if (w->u.str.len)
				assert_memory_equal(v->u.str.p, w->u.str.p,
						    w->u.str.len);
			break;
		case ARFS_FT_VECTOR:
			assert_int_equal(v->u.vec.n, w->u.vec.n);
			for (uint64_t j = 0; j < w->u.vec.n; j++)
				assert_true(same_double(v->u.vec.v[j],
							w->u.vec.v[j]));
			break;
		}
	}
}

static size_t roundtrip_block(const struct gen *g)
{
	struct arfs_typedenc enc;
	struct arfs_textbuf tb = { 0 };
	struct arfs_block_info bi = { 0 };
	struct arfs_values *got;
	size_t len;

	assert_int_equal(arfs_typedenc_init(&enc, g->type), 0);
	for (uint64_t i = 0; i < g->n; i++)
		assert_int_equal(arfs_typedenc_add_value(&enc, &g->want[i]), 0);
	assert_int_equal(arfs_typedenc_encode(&enc, &tb, &bi.flags), 0);
	bi.num_elem = g->n;
	bi.block_size = tb.len;
	assert_int_equal(arfs_typed_decode(&bi, tb.p, tb.len, "test", &got), 0);
	compare(g, got);
	arfs_values_free(got);
	len = tb.len;
	arfs_textbuf_release(&tb);
	arfs_typedenc_release(&enc);
	return len;
}

static void test_random_blocks(void **state)
{
	static const unsigned types[] = { ARFS_FT_INTEGER, ARFS_FT_FLOAT,
					  ARFS_FT_STRING, ARFS_FT_VECTOR };
	static const unsigned miss[] = { 0, 0, 1, 10, 50, 90, 100 };

	(void)state;
	rng_state = 0x2545f4914f6cdd1dull;
	for (int round = 0; round < 400; round++) {
		struct gen g;
		unsigned t = types[rnd() % 4];
		uint64_t n = round % 10 == 0 ? rnd() % 3 : rnd() % 3000;

		gen_block(&g, t, n, miss[rnd() % 7], (unsigned)(rnd() % 10));
		roundtrip_block(&g);
		gen_free(&g);
	}
}

/* Text lines (the mount's block files) parse back to the same values. */
static void test_text_roundtrip(void **state)
{
	static const unsigned types[] = { ARFS_FT_INTEGER, ARFS_FT_FLOAT,
					  ARFS_FT_STRING, ARFS_FT_VECTOR };

	(void)state;
	rng_state = 0x1234567887654321ull;
	for (int round = 0; round < 200; round++) {
		struct arfs_values vals;
		struct arfs_typedenc enc;
		struct gen g;
		uint64_t bad = 0;
		size_t len;
		char *text;
		unsigned t = types[rnd() % 4];

		gen_block(&g, t, rnd() % 500, (unsigned)(rnd() % 40),
			  (unsigned)(rnd() % 10));
		vals.n = g.n;
		vals.v = g.want;
		vals.arena = NULL;
		assert_int_equal(arfs_textval_render(&vals, &text, &len), 0);
		assert_int_equal(arfs_typedenc_init(&enc, t), 0);
		if (arfs_textval_parse(&enc, text, len, &bad))
			fail_msg("round %d: line %llu does not parse", round,
				 (unsigned long long)bad);
		assert_int_equal(enc.n, g.n);
		/* the parsed values, through a block, are the originals */
		{
			struct arfs_textbuf tb = { 0 };
			struct arfs_block_info bi = { .num_elem = g.n };
			struct arfs_values *got;

			assert_int_equal(arfs_typedenc_encode(&enc, &tb,
							      &bi.flags), 0);
			bi.block_size = tb.len;
			assert_int_equal(arfs_typed_decode(&bi, tb.p, tb.len,
							   "text", &got), 0);
			compare(&g, got);
			arfs_values_free(got);
			arfs_textbuf_release(&tb);
		}
		arfs_typedenc_release(&enc);
		free(text);
		gen_free(&g);
	}
	/* refusals, with the line */
	{
		struct arfs_typedenc enc;
		uint64_t bad = 0;

		arfs_typedenc_init(&enc, ARFS_FT_INTEGER);
		assert_int_equal(arfs_textval_parse(&enc, "1\n2\nx\n", 6,
						    &bad), -EINVAL);
		assert_int_equal(bad, 3);
		arfs_typedenc_release(&enc);
		arfs_typedenc_init(&enc, ARFS_FT_STRING);
		assert_int_equal(arfs_textval_parse(&enc, "a\\qb\n", 5,
						    &bad), -EINVAL);
		assert_int_equal(arfs_textval_parse(&enc, "a\\tb\n\\N\n",
						    8, &bad), 0);
		assert_int_equal(enc.n, 2);
		assert_int_equal(enc.k, 1);
		assert_memory_equal(enc.bytes, "a\tb", 3);
		arfs_typedenc_release(&enc);
	}
}

static void test_undefined_column(void **state)
{
	struct gen g = { .type = ARFS_FT_UNDEFINED, .n = 70 };

	(void)state;
	g.want = calloc(70, sizeof(*g.want));
	for (int i = 0; i < 70; i++)
		g.want[i].type = ARFS_FT_UNDEFINED;
	assert_int_equal(roundtrip_block(&g), 2);
	free(g.want);
}

static void test_choices(void **state)
{
	struct arfs_typedenc enc;
	struct arfs_textbuf tb = { 0 };
	uint64_t flags;
	static const char *names[] = { "Phoenix", "Tempe", "Mesa" };

	(void)state;
	/* 3000 strings of 3 distinct values: dictionary, about 2 bits each */
	arfs_typedenc_init(&enc, ARFS_FT_STRING);
	for (int i = 0; i < 3000; i++)
		arfs_typedenc_add_str(&enc, names[i % 3], strlen(names[i % 3]));
	arfs_typedenc_encode(&enc, &tb, &flags);
	assert_true(tb.len < 1200);
	assert_int_equal((uint8_t)tb.p[2], 1);	/* dictionary flag */
	arfs_typedenc_release(&enc);
	/* integral floats take the extension's integer form */
	tb.len = 0;
	arfs_typedenc_init(&enc, ARFS_FT_FLOAT);
	for (int i = 0; i < 1000; i++)
		arfs_typedenc_add_float(&enc, (double)(i % 5));
	arfs_typedenc_encode(&enc, &tb, &flags);
	assert_true(flags & ARFS_BLOCK_EXTENSION);
	assert_true(tb.len < 600);	/* legacy: ~8 bytes each */
	/* a block holding -0.0 stays legacy */
	arfs_typedenc_reset(&enc);
	tb.len = 0;
	arfs_typedenc_add_float(&enc, -0.0);
	arfs_typedenc_encode(&enc, &tb, &flags);
	assert_false(flags & ARFS_BLOCK_EXTENSION);
	arfs_typedenc_release(&enc);
	/* type mismatch */
	arfs_typedenc_init(&enc, ARFS_FT_INTEGER);
	assert_int_equal(arfs_typedenc_add_str(&enc, "x", 1), -EINVAL);
	arfs_typedenc_release(&enc);
	assert_int_equal(arfs_typedenc_init(&enc, ARFS_FT_COUNT), -EOPNOTSUPP);
	arfs_textbuf_release(&tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_boundaries),
		cmocka_unit_test(test_numbers_every_width),
		cmocka_unit_test(test_numbers_compact),
		cmocka_unit_test(test_random_blocks),
		cmocka_unit_test(test_text_roundtrip),
		cmocka_unit_test(test_undefined_column),
		cmocka_unit_test(test_choices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
