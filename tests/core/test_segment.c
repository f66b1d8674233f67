/*
 * test_segment.c - the segment file's block table and block reads, on the
 * real fixture and on damaged copies: truncated files, a footer that does
 * not match the table, blocks past the table, LZ4 blocks that do not
 * decode to exactly block_size. Each must be -EUCLEAN, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "segment.h"
#include "testutil.h"
#include "util.h"

#define SEG_NAME "m_9688d6320ff94822.0000"

static uint8_t *load_fixture(size_t *len)
{
	char path[4096];
	uint8_t *b;

	snprintf(path, sizeof(path), "%s/turi/business.sf/%s", tu_fixtures(),
		 SEG_NAME);
	b = tu_readfile(path, len);
	assert_non_null(b);
	return b;
}

/* Offset of the block_info record of (col, blk) in the file image. */
static size_t record_offset(const uint8_t *f, size_t len, uint64_t col,
			    uint64_t blk)
{
	size_t pos = len - 8 - get_le64(f + len - 8) + 8;

	for (uint64_t c = 0; c < col; c++)
		pos += 8 + 48 * get_le64(f + pos);
	return pos + 8 + 48 * blk;
}

/* Write the image to a temp file; returns an fd, *dir to remove. */
static int to_file(const uint8_t *b, size_t len, char **dir)
{
	char path[4096];
	int fd;

	*dir = tu_tmpdir("segment");
	snprintf(path, sizeof(path), "%s/%s", *dir, SEG_NAME);
	tu_writefile(path, b, len);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	return fd;
}

static void test_fixture_table(void **state)
{
	struct arfs_segment *seg;
	size_t len;
	uint8_t *f = load_fixture(&len);
	const struct arfs_block_info *bi;

	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg), 0);
	assert_int_equal(seg->ncols, 12);
	assert_int_equal(seg->nblocks[0], 5);
	assert_int_equal(seg->table_offset, len - 8 - 1736);
	for (uint64_t c = 0; c < 12; c++)
		assert_int_equal(seg->rows[c], 11536);
	bi = arfs_segment_block(seg, 1, 1);
	assert_int_equal(bi->offset, 53248);
	assert_int_equal(bi->length, 55022);
	assert_int_equal(bi->block_size, 67706);
	assert_int_equal(bi->flags, ARFS_BLOCK_LZ4 | ARFS_BLOCK_TYPED |
				    ARFS_BLOCK_EXTENSION);
	assert_null(arfs_segment_block(seg, 12, 0));
	assert_null(arfs_segment_block(seg, 1, 2));
	arfs_segment_free(seg);
	free(f);
}

static void test_read_every_block(void **state)
{
	struct arfs_segment *seg;
	size_t len, n;
	uint8_t *f = load_fixture(&len);
	char *dir;
	int fd = to_file(f, len, &dir);
	void *p;

	assert_int_equal(arfs_segment_parse(fd, SEG_NAME, &seg), 0);
	for (uint64_t c = 0; c < seg->ncols; c++)
		for (uint64_t b = 0; b < seg->nblocks[c]; b++) {
			assert_int_equal(arfs_segment_read_block(seg, fd, c, b,
					 &p, &n), 0);
			assert_int_equal(n, seg->blocks[c][b].block_size);
			free(p);
		}
	assert_int_equal(arfs_segment_read_block(seg, fd, 0, 99, &p, &n),
			 -ERANGE);
	arfs_segment_free(seg);
	close(fd);
	tu_rmrf(dir);
	free(dir);
	free(f);
}

static void test_truncated(void **state)
{
	struct arfs_segment *seg;
	size_t len, cut;
	uint8_t *f = load_fixture(&len);
	char *dir;
	int fd;

	for (cut = 0; cut < len; cut += cut < 64 ? 1 : 4099) {
		assert_int_equal(arfs_segment_parse_mem(f, cut, SEG_NAME, &seg),
				 -EUCLEAN);
	}
	/* through a file too: cut inside the table */
	fd = to_file(f, len - 100, &dir);
	assert_int_equal(arfs_segment_parse(fd, SEG_NAME, &seg), -EUCLEAN);
	close(fd);
	tu_rmrf(dir);
	free(dir);
	free(f);
}

static void test_footer_mismatch(void **state)
{
	struct arfs_segment *seg;
	size_t len;
	uint8_t *f = load_fixture(&len);
	uint64_t ts = get_le64(f + len - 8);
	int64_t deltas[] = { -8, -1, 1, 8, 48, (int64_t)len };

	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		put_le64(f + len - 8, ts + (uint64_t)deltas[i]);
		assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
				 -EUCLEAN);
	}
	put_le64(f + len - 8, UINT64_MAX);
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
			 -EUCLEAN);
	/* a huge column count */
	put_le64(f + len - 8, ts);
	put_le64(f + len - 8 - ts, 1ull << 60);
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
			 -EUCLEAN);
	free(f);
}

static void test_block_past_file(void **state)
{
	struct arfs_segment *seg;
	size_t len, rec;
	uint8_t *f = load_fixture(&len);
	uint64_t tab = len - 8 - get_le64(f + len - 8);

	rec = record_offset(f, len, 3, 2);
	put_le64(f + rec, len);			/* offset past the file */
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
			 -EUCLEAN);
	put_le64(f + rec, tab - 10);		/* runs into the table */
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
			 -EUCLEAN);
	put_le64(f + rec, UINT64_MAX - 5);	/* wraps around */
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
			 -EUCLEAN);
	free(f);
	f = load_fixture(&len);
	rec = record_offset(f, len, 0, 1);
	put_le64(f + rec + 8, 1ull << 40);	/* length */
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
			 -EUCLEAN);
	free(f);
	f = load_fixture(&len);
	rec = record_offset(f, len, 0, 1);
	put_le64(f + rec + 32, 1u << 7);	/* unknown flag */
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg),
			 -EUCLEAN);
	free(f);
}

static void test_lz4_size_mismatch(void **state)
{
	struct arfs_segment *seg;
	size_t len, n, rec;
	uint8_t *f = load_fixture(&len);
	uint64_t size;
	char *dir;
	void *p;
	int fd;

	/* column 1 block 1 is LZ4: claim one byte more, then one less */
	rec = record_offset(f, len, 1, 1);
	size = get_le64(f + rec + 16);
	for (int d = -1; d <= 1; d += 2) {
		put_le64(f + rec + 16, size + (uint64_t)d);
		fd = to_file(f, len, &dir);
		assert_int_equal(arfs_segment_parse(fd, SEG_NAME, &seg), 0);
		assert_int_equal(arfs_segment_read_block(seg, fd, 1, 1, &p, &n),
				 -EUCLEAN);
		arfs_segment_free(seg);
		close(fd);
		tu_rmrf(dir);
		free(dir);
	}
	/* corrupt compressed bytes: error or (rarely) success, no crash */
	put_le64(f + rec + 16, size);
	for (int k = 0; k < 50; k++) {
		uint64_t off = get_le64(f + rec) + (uint64_t)(k * 997) % 55022;

		f[off] ^= 0x5a;
	}
	assert_int_equal(arfs_segment_parse_mem(f, len, SEG_NAME, &seg), 0);
	{
		const struct arfs_block_info *bi = arfs_segment_block(seg, 1, 1);
		int rc = arfs_segment_decode(seg, bi, f + bi->offset,
					     bi->length, &p, &n);

		if (rc == 0)
			free(p);
		else
			assert_int_equal(rc, -EUCLEAN);
	}
	arfs_segment_free(seg);
	free(f);
}

static void quiet(enum arfs_log_level level, const char *msg)
{
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_table),
		cmocka_unit_test(test_read_every_block),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_footer_mismatch),
		cmocka_unit_test(test_block_past_file),
		cmocka_unit_test(test_lz4_size_mismatch),
	};

	arfs_log_set_sink(quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
