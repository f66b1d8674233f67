/*
 * test_view.c - core/view.c and core/jsonl.c: the CSV view equals the
 * export byte for byte, at every size and from random offsets; the JSON
 * Lines view parses (jansson) to the stored values; the .npy header and
 * values (an int column with missing values as <f8 with NaN, vectors as
 * 2-D); TXT is the block texts in a row; reads after the layout decode
 * only the blocks under them (the block manager's decode counter); a
 * source sees a replaced index; a damaged block fails the views that
 * need it with -EUCLEAN and no others; JSON strings escape control bytes and
 * replace bytes that are not UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blockmgr.h"
#include "bufpool.h"
#include "csv.h"
#include "group.h"
#include "jsonl.h"
#include "testutil.h"
#include "textval.h"
#include "typed.h"
#include "util.h"
#include "view.h"

#define ROWS 30000

struct fix {
	char *dir, *group;
	struct arfs_bufpool *pool;
	struct arfs_blockmgr *mgr;
	struct arfs_viewsrc *src;
};

/* A group of ROWS rows in small blocks: int, float, str, vector, an int
 * column with missing values. */
static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct arfs_csv_import_opts o = { .gw = { .block_target = 4096,
						  .no_fsync = true } };
	struct arfs_bufpool_opts po = { .max_bytes = 64u << 20,
					.max_entries = 4096,
					.spill_threshold = 64u << 20 };
	struct arfs_blockmgr_opts bo = { 0 };
	char *csv, err[256];
	FILE *out;

	f->dir = tu_tmpdir("view");
	if (asprintf(&csv, "%s/in.csv", f->dir) < 0 ||
	    asprintf(&f->group, "%s/g", f->dir) < 0)
		abort();
	out = fopen(csv, "w");
	fprintf(out, "id,x,name,vec,\"odd \"\"name\"\"\"\n");
	for (int i = 0; i < ROWS; i++)
		fprintf(out, "%d,%.17g,\"n%d,\"\"q\"\"\ttab\",[%d %d.5],%s\n", i,
			i * 0.37 - 5, i, i, -i, i % 5 ? "" : "7");
	fclose(out);
	assert_int_equal(arfs_csv_import(csv, f->group, &o, NULL, err,
					 sizeof(err)), 0);
	free(csv);
	assert_int_equal(arfs_bufpool_new(&po, &f->pool), 0);
	bo.pool = f->pool;
	assert_int_equal(arfs_blockmgr_new(&bo, &f->mgr), 0);
	assert_int_equal(arfs_viewsrc_open(f->mgr, f->pool, f->group, &f->src),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	arfs_viewsrc_put(f->src);
	arfs_blockmgr_free(f->mgr);
	arfs_bufpool_free(f->pool);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f->group);
	free(f);
	return 0;
}

static uint64_t decodes(struct fix *f)
{
	struct arfs_blockmgr_stats s;

	arfs_blockmgr_get_stats(f->mgr, &s);
	return s.decodes;
}

/* The whole view, read in odd-sized pieces. */
static char *read_all(struct arfs_view *v, size_t *len)
{
	int64_t size = arfs_view_size(v);
	char *buf;
	size_t done = 0;
	ssize_t n;

	assert_true(size >= 0);
	buf = malloc((size_t)size + 1);
	while ((n = arfs_view_read(v, buf + done, 7777, done)) > 0)
		done += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(done, (size_t)size);
	buf[done] = 0;
	*len = done;
	return buf;
}

static void check_random_reads(struct arfs_view *v, const char *all,
			       size_t len)
{
	char buf[70000];

	srand(7);
	for (int i = 0; i < 300; i++) {
		uint64_t off = (uint64_t)rand() % (len + 10);
		size_t cap = (size_t)rand() % sizeof(buf);
		ssize_t n = arfs_view_read(v, buf, cap, off);
		size_t want = off >= len ? 0 : len - off < cap ? len - off : cap;

		assert_int_equal(n, (ssize_t)want);
		if (want)
			assert_memory_equal(buf, all + off, want);
	}
}

static void test_csv_is_export(void **state)
{
	struct fix *f = *state;
	struct arfs_view *v;
	char *exp = NULL, *got;
	size_t exp_len = 0, len;
	FILE *m = open_memstream(&exp, &exp_len);

	assert_int_equal(arfs_csv_export(f->group, m, NULL), 0);
	fclose(m);
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_CSV, 0, &v), 0);
	got = read_all(v, &len);
	assert_int_equal(len, exp_len);
	assert_memory_equal(got, exp, len);
	check_random_reads(v, got, len);
	free(got);
	free(exp);
	arfs_view_free(v);
}

static void test_jsonl_values(void **state)
{
	struct fix *f = *state;
	struct arfs_view *v;
	char *all, *line, *save = NULL;
	size_t len;
	int row = 0;

	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_JSONL, 0, &v), 0);
	all = read_all(v, &len);
	for (line = strtok_r(all, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), row++) {
		json_error_t e;
		json_t *o = json_loads(line, 0, &e);
		char name[64];

		assert_non_null(o);
		assert_int_equal(json_object_size(o), 5);
		assert_int_equal(json_integer_value(json_object_get(o, "id")), row);
		assert_true(fabs(json_real_value(json_object_get(o, "x")) -
				 (row * 0.37 - 5)) < 1e-9);
		snprintf(name, sizeof(name), "n%d,\"q\"\ttab", row);
		assert_string_equal(json_string_value(json_object_get(o, "name")),
				    name);
		assert_int_equal(json_array_size(json_object_get(o, "vec")), 2);
		if (row % 5)
			assert_true(json_is_null(json_object_get(o, "odd \"name\"")));
		else
			assert_int_equal(json_integer_value(
				json_object_get(o, "odd \"name\"")), 7);
		json_decref(o);
	}
	assert_int_equal(row, ROWS);
	free(all);
	arfs_view_free(v);
}

/* s (a .npy file) holds text t in its header */
static bool has(const char *s, const char *t)
{
	return memmem(s, 128, t, strlen(t)) != NULL;
}

static void test_npy(void **state)
{
	struct fix *f = *state;
	struct arfs_view *v;
	size_t len;
	char *all;
	double d;
	int64_t i;

	/* int without missing values: <i8 */
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_NPY, 0, &v), 0);
	all = read_all(v, &len);
	assert_memory_equal(all, "\x93NUMPY\x01\x00", 8);
	assert_int_equal((10 + (unsigned char)all[8]) % 64, 0);
	assert_non_null(has(all, "'descr': '<i8'"));
	assert_non_null(has(all, "'shape': (30000,)"));
	assert_int_equal(len, 128 + ROWS * 8);
	memcpy(&i, all + 128 + 8 * 12345, 8);
	assert_int_equal(i, 12345);
	free(all);
	arfs_view_free(v);

	/* int with missing values: <f8 and NaN */
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_NPY, 4, &v), 0);
	all = read_all(v, &len);
	assert_non_null(has(all, "'descr': '<f8'"));
	memcpy(&d, all + 128 + 8 * 10, 8);
	assert_true(d == 7);
	memcpy(&d, all + 128 + 8 * 11, 8);
	assert_true(isnan(d));
	free(all);
	arfs_view_free(v);

	/* vectors of length 2: shape (rows, 2) */
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_NPY, 3, &v), 0);
	all = read_all(v, &len);
	assert_non_null(has(all, "'shape': (30000, 2)"));
	memcpy(&d, all + 128 + 16 * 99 + 8, 8);
	assert_true(d == -99.5);
	check_random_reads(v, all, len);
	free(all);
	arfs_view_free(v);

	/* no .npy of a str column */
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_NPY, 2, &v), -ENOENT);
}

static void test_txt_is_blocks(void **state)
{
	struct fix *f = *state;
	const struct arfs_group *g = arfs_viewsrc_group(f->src);
	struct arfs_column *col;
	struct arfs_view *v;
	char *all, buf[1 << 16];
	size_t len, pos = 0;
	ssize_t n;

	assert_int_equal(arfs_blockmgr_open_column(f->mgr, g, 2, &col), 0);
	assert_true(arfs_column_nblocks(col) > 10);
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_TXT, 2, &v), 0);
	all = read_all(v, &len);
	for (uint64_t k = 0; k < arfs_column_nblocks(col); k++) {
		uint64_t off = 0;

		while ((n = arfs_blockmgr_read_text(f->mgr, col, k, buf,
						    sizeof(buf), off)) > 0) {
			assert_true(pos + (size_t)n <= len);
			assert_memory_equal(all + pos, buf, (size_t)n);
			pos += (size_t)n;
			off += (uint64_t)n;
		}
	}
	assert_int_equal(pos, len);
	free(all);
	arfs_view_free(v);
	arfs_blockmgr_close_column(f->mgr, col);
}

/* Blocks of all columns holding a row at or after r. */
static uint64_t chunk_blocks(struct fix *f, uint64_t r)
{
	const struct arfs_group *g = arfs_viewsrc_group(f->src);
	const struct arfs_colblock *b;
	struct arfs_column *col;
	uint64_t n = 0;

	for (uint64_t c = 0; c < g->ncols; c++) {
		assert_int_equal(arfs_blockmgr_open_column(f->mgr, g, c, &col),
				 0);
		for (uint64_t k = 0; (b = arfs_column_block(col, k)); k++)
			n += b->first_row + b->rows > r;
		arfs_blockmgr_close_column(f->mgr, col);
	}
	return n;
}

/* After the layout, a read at the end decodes only the blocks under it. */
static void test_reads_touch_needed_blocks(void **state)
{
	struct fix *f = *state;
	struct arfs_view *v;
	char buf[100];
	uint64_t d0;
	int64_t size;

	/* float column: no scan, the last value decodes its block only */
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_NPY, 1, &v), 0);
	d0 = decodes(f);
	size = arfs_view_size(v);
	assert_int_equal(decodes(f), d0);
	assert_int_equal(arfs_view_read(v, buf, 8, (uint64_t)size - 8), 8);
	assert_int_equal(decodes(f), d0 + 1);
	arfs_view_free(v);

	/* CSV, its pool pieces dropped: the tail decodes its chunk's blocks */
	assert_int_equal(arfs_view_new(f->src, ARFS_VIEW_CSV, 0, &v), 0);
	size = arfs_view_size(v);
	arfs_bufpool_clear(f->pool, 0, true);
	d0 = decodes(f);
	assert_int_equal(arfs_view_read(v, buf, 100, (uint64_t)size - 100),
			 100);
	assert_int_equal(decodes(f) - d0, chunk_blocks(f, (ROWS - 1) /
				ARFS_VIEW_CHUNK_ROWS * ARFS_VIEW_CHUNK_ROWS));
	assert_true(chunk_blocks(f, 0) > 2 * chunk_blocks(f, ROWS - 1));
	arfs_view_free(v);
}

static void test_source_follows_index(void **state)
{
	struct fix *f = *state;
	const struct arfs_group *g = arfs_viewsrc_group(f->src);
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 0 } };
	char path[4096];

	assert_true(arfs_viewsrc_current(f->src));
	snprintf(path, sizeof(path), "%s/%s", g->dir, g->sidx[0].file);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_false(arfs_viewsrc_current(f->src));
}

/* A damaged block: the views that need it fail with -EUCLEAN, cleanly,
 * and keep failing; views that do not need it still work. */
static void test_damaged_block(void **state)
{
	struct fix *f = *state;
	const struct arfs_group *g = arfs_viewsrc_group(f->src);
	struct arfs_viewsrc *src;
	struct arfs_view *v;
	char path[4096], buf[64];
	FILE *seg;

	snprintf(path, sizeof(path), "%s/%s", g->dir, g->sidx[0].seg_files[0]);
	seg = fopen(path, "r+b");
	assert_non_null(seg);
	fseek(seg, 100, SEEK_SET);	/* inside the first block's payload */
	fwrite("\xff\xff\xff\xff\xff\xff\xff\xff", 1, 8, seg);
	fclose(seg);
	assert_int_equal(arfs_viewsrc_open(f->mgr, f->pool, f->group, &src), 0);
	assert_int_equal(arfs_view_new(src, ARFS_VIEW_CSV, 0, &v), 0);
	assert_int_equal(arfs_view_size(v), -EUCLEAN);
	assert_int_equal(arfs_view_read(v, buf, sizeof(buf), 0), -EUCLEAN);
	arfs_view_free(v);
	/* the float column's last value is in another block */
	assert_int_equal(arfs_view_new(src, ARFS_VIEW_NPY, 1, &v), 0);
	assert_int_equal(arfs_view_size(v), 128 + ROWS * 8);
	assert_int_equal(arfs_view_read(v, buf, 8, 128 + (ROWS - 1) * 8), 8);
	arfs_view_free(v);
	arfs_viewsrc_put(src);
}

static void test_json_strings(void **state)
{
	struct arfs_textbuf tb = { 0 };

	(void)state;
	assert_int_equal(arfs_jsonl_put_string(&tb, "a\"\\\n\x01\xff\xc3\xa9z",
					       9), 0);
	assert_int_equal(tb.len, strlen("\"a\\\"\\\\\\n\\u0001\xef\xbf\xbd"
					 "\xc3\xa9z\""));
	assert_memory_equal(tb.p, "\"a\\\"\\\\\\n\\u0001\xef\xbf\xbd\xc3\xa9z\"",
			    tb.len);
	arfs_textbuf_release(&tb);
}

static void test_npy_header(void **state)
{
	char h[256];

	(void)state;
	/* as numpy.save writes it */
	assert_int_equal(arfs_view_npy_header(h, sizeof(h), true, 5, 0), 128);
	assert_memory_equal(h, "\x93NUMPY\x01\x00v\x00{'descr': '<f8', "
			    "'fortran_order': False, 'shape': (5,), }   ", 70);
	assert_int_equal(h[127], '\n');
	assert_int_equal(arfs_view_npy_header(h, 10, true, 5, 0), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_npy_header),
		cmocka_unit_test_setup_teardown(test_csv_is_export, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_values, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_npy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txt_is_blocks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reads_touch_needed_blocks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_source_follows_index,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_block, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
