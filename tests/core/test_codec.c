/*
 * test_codec.c - LZ4 blocks decode to exactly the expected size or fail
 * with -EUCLEAN; zstd round trip and size checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static void fill(char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (char)("abcabcabd"[i % 9] + (i % 1000 == 0));
}

static void test_lz4_exact(void **state)
{
	enum { N = 100000 };
	char *src = malloc(N), *dst = malloc(N + 1), *comp;
	int clen;

	fill(src, N);
	comp = malloc((size_t)LZ4_compressBound(N));
	clen = LZ4_compress_default(src, comp, N, LZ4_compressBound(N));
	assert_true(clen > 0);
	assert_int_equal(arfs_codec_lz4_decompress(dst, N, comp, (size_t)clen),
			 0);
	assert_memory_equal(dst, src, N);
	assert_int_equal(arfs_codec_lz4_decompress(dst, N - 1, comp,
						   (size_t)clen), -EUCLEAN);
	assert_int_equal(arfs_codec_lz4_decompress(dst, N + 1, comp,
						   (size_t)clen), -EUCLEAN);
	assert_int_equal(arfs_codec_lz4_decompress(dst, N, comp,
						   (size_t)clen - 3), -EUCLEAN);
	assert_int_equal(arfs_codec_lz4_decompress(dst, N, comp, 0), -EUCLEAN);
	free(src);
	free(dst);
	free(comp);
}

static void test_zstd_roundtrip(void **state)
{
	enum { N = 50000 };
	char *src = malloc(N), *dst = malloc(N + 1);
	size_t cap = arfs_codec_zstd_bound(N);
	char *comp = malloc(cap);
	ssize_t clen;

	fill(src, N);
	clen = arfs_codec_zstd_compress(comp, cap, src, N, 0);
	assert_true(clen > 0);
	assert_int_equal(arfs_codec_zstd_decompress(dst, N, comp,
						    (size_t)clen), 0);
	assert_memory_equal(dst, src, N);
	assert_int_equal(arfs_codec_zstd_decompress(dst, N + 1, comp,
						    (size_t)clen), -EUCLEAN);
	assert_int_equal(arfs_codec_zstd_decompress(dst, N, comp,
						    (size_t)clen - 1), -EUCLEAN);
	assert_int_equal(arfs_codec_zstd_compress(comp, 4, src, N, 1),
			 -ENOSPC);
	free(src);
	free(dst);
	free(comp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lz4_exact),
		cmocka_unit_test(test_zstd_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
