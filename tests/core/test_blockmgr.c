/*
 * test_blockmgr.c - the block manager: every block of the fixture through
 * the cached text path equals the uncached rendering; 1,008 columns (84
 * hard-linked copies of the fixture, distinct segment paths) open at once
 * with a cap of 16 descriptors read correctly; four threads reading
 * through a small pool get identical bytes; a corrupt block fails the
 * same way every time and leaves the other columns readable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockmgr.h"
#include "bufpool.h"
#include "group.h"
#include "segment.h"
#include "testutil.h"
#include "util.h"

#define PREFIX "m_9688d6320ff94822"
#define NCOPIES 84
#define NCOLS 12

static const char *const files[] = { "dir_archive.ini", PREFIX ".0000",
				      PREFIX ".frame_idx", PREFIX ".sidx" };

/* Reference: each fixture column's whole text (no pool). */
static char *ref_text[NCOLS];
static size_t ref_len[NCOLS];

static void column_text(struct arfs_blockmgr *mgr, struct arfs_column *col,
			char **out, size_t *out_len)
{
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	ssize_t size, n;

	for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
		size = arfs_blockmgr_text_size(mgr, col, i);
		assert_true(size >= 0);
		while (len + (size_t)size > cap)
			buf = realloc(buf, cap *= 2);
		n = arfs_blockmgr_read_text(mgr, col, i, buf + len,
					    (size_t)size + 10, 0);
		assert_int_equal(n, size);
		len += (size_t)n;
	}
	*out = buf;
	*out_len = len;
}

static int setup_ref(void **state)
{
	struct arfs_blockmgr *mgr;
	struct arfs_group *g;
	struct arfs_column *col;
	char path[4096];

	snprintf(path, sizeof(path), "%s/turi/business.sf", tu_fixtures());
	assert_int_equal(arfs_group_open(path, &g), 0);
	assert_int_equal(arfs_blockmgr_new(NULL, &mgr), 0);
	for (int c = 0; c < NCOLS; c++) {
		assert_int_equal(arfs_blockmgr_open_column(mgr, g, c, &col), 0);
		column_text(mgr, col, &ref_text[c], &ref_len[c]);
		arfs_blockmgr_close_column(mgr, col);
	}
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
	return 0;
}

static int teardown_ref(void **state)
{
	for (int c = 0; c < NCOLS; c++)
		free(ref_text[c]);
	return 0;
}

static struct arfs_bufpool *small_pool(size_t bytes)
{
	struct arfs_bufpool_opts o = { .max_bytes = bytes, .max_entries = 64,
				       .spill_threshold = SIZE_MAX,
				       .staging_dir = "/tmp" };
	struct arfs_bufpool *pool;

	assert_int_equal(arfs_bufpool_new(&o, &pool), 0);
	return pool;
}

static void test_cached_equals_uncached(void **state)
{
	struct arfs_blockmgr_opts o = { .pool = small_pool(64 << 20) };
	struct arfs_blockmgr *mgr;
	struct arfs_group *g;
	struct arfs_column *col;
	const struct arfs_colblock *cb;
	char path[4096], *text;
	size_t len;
	uint64_t rows;

	snprintf(path, sizeof(path), "%s/turi/business.sf", tu_fixtures());
	assert_int_equal(arfs_group_open(path, &g), 0);
	assert_int_equal(arfs_blockmgr_new(&o, &mgr), 0);
	for (int c = 0; c < NCOLS; c++) {
		assert_int_equal(arfs_blockmgr_open_column(mgr, g, c, &col), 0);
		rows = 0;
		for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
			cb = arfs_column_block(col, i);
			assert_int_equal(cb->first_row, rows);
			assert_int_equal(cb->seg, 0);
			assert_int_equal(cb->blk, i);
			rows += cb->rows;
		}
		assert_int_equal(rows, 11536);
		assert_null(arfs_column_block(col, arfs_column_nblocks(col)));
		assert_string_equal(arfs_column_segment_name(col, 0),
				    PREFIX ".0000");
		column_text(mgr, col, &text, &len);
		assert_int_equal(len, ref_len[c]);
		assert_memory_equal(text, ref_text[c], len);
		free(text);
		/* a read at an offset */
		{
			char b[8];
			ssize_t n = arfs_blockmgr_read_text(mgr, col, 0, b, 4, 2);

			assert_int_equal(n, 4);
			assert_memory_equal(b, ref_text[c] + 2, 4);
		}
		arfs_blockmgr_close_column(mgr, col);
	}
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
	arfs_bufpool_free(o.pool);
}

/*
 * NCOPIES directories of hard links to the fixture files (copies where
 * links cannot be made). Not symlinks: a group refuses files that are
 * symlinks, which could lead out of the store.
 */
static char *make_copies(struct arfs_group **groups)
{
	char *dir = tu_tmpdir("blockmgr"), sub[4096], src[4096], dst[8400];

	for (int k = 0; k < NCOPIES; k++) {
		snprintf(sub, sizeof(sub), "%s/g%02d", dir, k);
		assert_int_equal(mkdir(sub, 0755), 0);
		for (size_t f = 0; f < 4; f++) {
			snprintf(src, sizeof(src), "%s/turi/business.sf/%s",
				 tu_fixtures(), files[f]);
			snprintf(dst, sizeof(dst), "%s/%s", sub, files[f]);
			if (link(src, dst)) {
				size_t len;
				uint8_t *data = tu_readfile(src, &len);

				assert_non_null(data);
				tu_writefile(dst, data, len);
				free(data);
			}
		}
		assert_int_equal(arfs_group_open(sub, &groups[k]), 0);
	}
	return dir;
}

static void test_thousand_columns_16_fds(void **state)
{
	struct arfs_group *groups[NCOPIES];
	struct arfs_column *cols[NCOPIES * NCOLS];
	struct arfs_blockmgr_opts o = { .max_fds = 16 };
	struct arfs_blockmgr_stats st;
	struct arfs_blockmgr *mgr;
	char *dir = make_copies(groups), *text;
	size_t len;
	int n = NCOPIES * NCOLS;

	assert_int_equal(arfs_blockmgr_new(&o, &mgr), 0);
	for (int k = 0; k < n; k++) {
		assert_int_equal(arfs_blockmgr_open_column(mgr,
				 groups[k / NCOLS], k % NCOLS, &cols[k]), 0);
		arfs_blockmgr_get_stats(mgr, &st);
		assert_true(st.open_fds <= 16);
	}
	arfs_blockmgr_get_stats(mgr, &st);
	assert_int_equal(st.segments, NCOPIES);
	/* read in a scattered order so descriptors are reopened */
	for (int j = 0; j < n; j++) {
		int k = (j * 37) % n;

		column_text(mgr, cols[k], &text, &len);
		assert_int_equal(len, ref_len[k % NCOLS]);
		assert_memory_equal(text, ref_text[k % NCOLS], len);
		free(text);
		arfs_blockmgr_get_stats(mgr, &st);
		assert_true(st.open_fds <= 16);
	}
	assert_true(st.fd_opens > NCOPIES);	/* some were reopened */
	for (int k = 0; k < n; k++)
		arfs_blockmgr_close_column(mgr, cols[k]);
	arfs_blockmgr_get_stats(mgr, &st);
	assert_int_equal(st.open_fds, 0);
	assert_int_equal(st.segments, 0);
	arfs_blockmgr_free(mgr);
	for (int k = 0; k < NCOPIES; k++)
		arfs_group_free(groups[k]);
	tu_rmrf(dir);
	free(dir);
}

struct reader {
	struct arfs_blockmgr *mgr;
	struct arfs_column **cols;
	int ncols, seed, bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char *text;
	size_t len;

	for (int j = 0; j < r->ncols; j++) {
		int k = (j * 7 + r->seed * 5) % r->ncols;

		column_text(r->mgr, r->cols[k], &text, &len);
		if (len != ref_len[k % NCOLS] ||
		    memcmp(text, ref_text[k % NCOLS], len))
			r->bad++;
		free(text);
	}
	return NULL;
}

static void test_four_threads(void **state)
{
	enum { NG = 12 };
	struct arfs_group *groups[NCOPIES];
	struct arfs_column *cols[NG * NCOLS];
	struct arfs_blockmgr_opts o = { .max_fds = 4,
					.pool = small_pool(1 << 20) };
	struct reader r[4];
	pthread_t t[4];
	struct arfs_blockmgr *mgr;
	char *dir = make_copies(groups);

	assert_int_equal(arfs_blockmgr_new(&o, &mgr), 0);
	for (int k = 0; k < NG * NCOLS; k++)
		assert_int_equal(arfs_blockmgr_open_column(mgr,
				 groups[k / NCOLS], k % NCOLS, &cols[k]), 0);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct reader){ mgr, cols, NG * NCOLS, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, reader_main,
						&r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].bad, 0);
	}
	for (int k = 0; k < NG * NCOLS; k++)
		arfs_blockmgr_close_column(mgr, cols[k]);
	arfs_blockmgr_free(mgr);
	arfs_bufpool_free(o.pool);
	for (int k = 0; k < NCOPIES; k++)
		arfs_group_free(groups[k]);
	tu_rmrf(dir);
	free(dir);
}

static int log_count;

static void counting(enum arfs_log_level level, const char *msg)
{
	log_count++;
}

/* Damage one LZ4 block of column 1: that block fails (logged once), the
 * rest of the group still reads. */
static void test_corrupt_block_isolated(void **state)
{
	char *dir = tu_tmpdir("blockmgr-bad"), src[4096], path[4096], b[64];
	struct arfs_blockmgr *mgr;
	struct arfs_column *col, *other;
	struct arfs_group *g;
	uint8_t *f;
	size_t len;

	snprintf(src, sizeof(src), "%s/turi/business.sf", tu_fixtures());
	tu_rmrf(dir);
	tu_copydir(src, dir);
	snprintf(path, sizeof(path), "%s/%s.0000", dir, PREFIX);
	f = tu_readfile(path, &len);
	memset(f + 53248 + 100, 0xff, 64);	/* column 1, block 1 (LZ4) */
	tu_writefile(path, f, len);
	free(f);
	assert_int_equal(arfs_group_open(dir, &g), 0);
	assert_int_equal(arfs_blockmgr_new(NULL, &mgr), 0);
	assert_int_equal(arfs_blockmgr_open_column(mgr, g, 1, &col), 0);
	assert_int_equal(arfs_blockmgr_open_column(mgr, g, 2, &other), 0);
	log_count = 0;
	assert_int_equal(arfs_blockmgr_text_size(mgr, col, 1), -EUCLEAN);
	assert_int_equal(arfs_blockmgr_read_text(mgr, col, 1, b, 8, 0),
			 -EUCLEAN);
	assert_int_equal(log_count, 1);
	assert_true(arfs_blockmgr_text_size(mgr, col, 0) > 0);
	assert_true(arfs_blockmgr_text_size(mgr, other, 1) > 0);
	assert_int_equal(arfs_blockmgr_text_size(mgr, col, 2), -ERANGE);
	arfs_blockmgr_close_column(mgr, col);
	arfs_blockmgr_close_column(mgr, other);
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
	tu_rmrf(dir);
	free(dir);
}

/*
 * Decode ahead: a prefetch from block 0 renders the next blocks on the
 * workers (decodes counted while nobody reads), later pins of them are
 * pool hits with the same text, and closing the column with jobs still
 * queued cancels them (ASan/valgrind would see a use after free).
 */
static void test_prefetch(void **state)
{
	struct arfs_blockmgr_opts o = { .pool = small_pool(64 << 20),
					.workers = 2 };
	struct arfs_blockmgr_stats st;
	struct arfs_bufpool_stats ps;
	struct arfs_blockmgr *mgr;
	struct arfs_group *g;
	struct arfs_column *col;
	struct arfs_buf *buf;
	char path[4096];
	uint64_t n, want, before;

	snprintf(path, sizeof(path), "%s/turi/business.sf", tu_fixtures());
	assert_int_equal(arfs_group_open(path, &g), 0);
	assert_int_equal(arfs_blockmgr_new(&o, &mgr), 0);
	assert_int_equal(arfs_blockmgr_open_column(mgr, g, 0, &col), 0);
	n = arfs_column_nblocks(col);
	assert_true(n >= 5);	/* business_id: 5 blocks */
	want = n - 1 < 4 ? n - 1 : 4;		/* 2 * workers ahead */
	arfs_blockmgr_prefetch(mgr, col, 1);
	for (int t = 0; t < 5000; t++) {
		arfs_blockmgr_get_stats(mgr, &st);
		if (st.decodes >= want)
			break;
		usleep(1000);
	}
	assert_int_equal(st.decodes, want);
	arfs_bufpool_get_stats(o.pool, &ps);
	before = ps.hits;
	for (uint64_t i = 1; i <= want; i++) {
		assert_int_equal(arfs_blockmgr_pin_text(mgr, col, i, &buf), 0);
		assert_int_equal(arfs_buf_size(buf),
				 arfs_blockmgr_text_size(mgr, col, i));
		arfs_bufpool_unpin(o.pool, buf);
	}
	arfs_bufpool_get_stats(o.pool, &ps);
	assert_int_equal(ps.hits - before, want);
	arfs_blockmgr_get_stats(mgr, &st);
	assert_int_equal(st.decodes, want);	/* nothing decoded twice */
	/* the text equals the reference */
	{
		char *text;
		size_t len;

		column_text(mgr, col, &text, &len);
		assert_int_equal(len, ref_len[0]);
		assert_memory_equal(text, ref_text[0], len);
		free(text);
	}
	arfs_bufpool_clear(o.pool, 0, true);
	arfs_blockmgr_prefetch(mgr, col, 0);
	arfs_blockmgr_close_column(mgr, col);	/* jobs may still be queued */
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
	arfs_bufpool_free(o.pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cached_equals_uncached),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_thousand_columns_16_fds),
		cmocka_unit_test(test_four_threads),
		cmocka_unit_test(test_corrupt_block_isolated),
	};

	arfs_log_set_sink(counting);
	return cmocka_run_group_tests(tests, setup_ref, teardown_ref);
}
