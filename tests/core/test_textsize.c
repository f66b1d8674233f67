/*
 * test_textsize.c - recorded block text sizes (core/textsize.c, the
 * index key of core/groupw.c and core/group.c, the seeding in
 * core/blockmgr.c). "Decodes" are the block manager's counter: a size
 * taken from a record decodes nothing.
 *
 * Size cache (a copy of the Turi fixture business.sf, which has no index
 * sizes): a first manager renders and saves; a fresh one decodes nothing
 * and gets the same sizes; a segment whose mtime changed makes its record
 * stale; truncations of the file and bit flips (both sampled), a
 * cache of other text rules or of another group, and hand-made files with
 * a valid checksum but hostile counts or impossible sizes are ignored
 * with one log line, and sizes come out right by rendering.
 *
 * Index key: a group written by groupw opens with every size known (no
 * decode); sizes survive a block replace, a remove and a compaction; an
 * entry whose checksum or length no longer fits, a malformed key, and a
 * key for other text rules are ignored (the group still opens).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockmgr.h"
#include "group.h"
#include "groupw.h"
#include "segment.h"
#include "testutil.h"
#include "textsize.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

#define MAXB 4096
#define SEG "m_9688d6320ff94822.0000"

static int cache_lines;	/* log lines about a size cache or text_sizes */

static void counting(enum arfs_log_level level, const char *msg)
{
	if (strstr(msg, "size cache") || strstr(msg, "text_sizes"))
		cache_lines++;
}

struct sizes {
	int64_t v[MAXB];
	size_t n;
	uint64_t decodes;
	uint64_t nblocks0;	/* blocks of column 0 */
};

/* Every block's text size of the group at dir, through a fresh manager. */
static void all_sizes(const char *dir, const char *cache_dir, struct sizes *out)
{
	struct arfs_blockmgr_opts o = { .cache_dir = cache_dir };
	struct arfs_blockmgr_stats st;
	struct arfs_blockmgr *mgr;
	struct arfs_column *col;
	struct arfs_group *g;

	out->n = 0;
	assert_int_equal(arfs_group_open(dir, &g), 0);
	assert_int_equal(arfs_blockmgr_new(&o, &mgr), 0);
	for (uint64_t c = 0; c < g->ncols; c++) {
		assert_int_equal(arfs_blockmgr_open_column(mgr, g, c, &col), 0);
		if (!c)
			out->nblocks0 = arfs_column_nblocks(col);
		for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
			assert_true(out->n < MAXB);
			out->v[out->n] = arfs_blockmgr_text_size(mgr, col, i);
			assert_true(out->v[out->n++] >= 0);
		}
		arfs_blockmgr_close_column(mgr, col);
	}
	arfs_blockmgr_get_stats(mgr, &st);
	out->decodes = st.decodes;
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
}

static void assert_same(const struct sizes *a, const struct sizes *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->v, b->v, a->n * sizeof(a->v[0]));
}

/* Rendered sizes: the bytes each block's text really has. */
static void reference(const char *dir, struct sizes *out)
{
	static char buf[1 << 20];
	struct arfs_blockmgr *mgr;
	struct arfs_column *col;
	struct arfs_group *g;
	ssize_t r;
	int64_t len;

	out->n = 0;
	assert_int_equal(arfs_group_open(dir, &g), 0);
	assert_int_equal(arfs_blockmgr_new(NULL, &mgr), 0);
	for (uint64_t c = 0; c < g->ncols; c++) {
		assert_int_equal(arfs_blockmgr_open_column(mgr, g, c, &col), 0);
		if (!c)
			out->nblocks0 = arfs_column_nblocks(col);
		for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
			for (len = 0; (r = arfs_blockmgr_read_text(mgr, col, i,
					buf, sizeof(buf), (uint64_t)len)) > 0;)
				len += r;
			assert_int_equal(r, 0);
			assert_true(out->n < MAXB);
			out->v[out->n++] = len;
		}
		arfs_blockmgr_close_column(mgr, col);
	}
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
}

struct fx {
	char *tmp, *group, *cache, *file;	/* file: the cache file */
	struct sizes ref;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char src[4096];
	struct arfs_textsize_reg *reg;
	struct arfs_textsize_cache *c;

	f->tmp = tu_tmpdir("tsz");
	assert_true(asprintf(&f->group, "%s/business", f->tmp) > 0);
	assert_true(asprintf(&f->cache, "%s/cache", f->tmp) > 0);
	snprintf(src, sizeof(src), "%s/turi/business.sf", tu_fixtures());
	tu_copydir(src, f->group);
	assert_int_equal(mkdir(f->cache, 0700), 0);
	reference(f->group, &f->ref);
	/* the name the registry gives this group's cache file */
	assert_int_equal(arfs_textsize_reg_new(f->cache, &reg), 0);
	assert_int_equal(arfs_textsize_reg_get(reg, f->group, &c), 0);
	f->file = strdup(arfs_textsize_cache_path(c));
	arfs_textsize_reg_put(reg, c);
	arfs_textsize_reg_free(reg);
	cache_lines = 0;
	arfs_log_set_sink(counting);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	arfs_log_set_sink(NULL);
	tu_rmrf(f->tmp);
	free(f->tmp);
	free(f->group);
	free(f->cache);
	free(f->file);
	free(f);
	return 0;
}

/* Fill the cache with a first mount's renders; its image into *img. */
static uint8_t *fill_cache(struct fx *f, size_t *len)
{
	struct sizes s;
	uint8_t *img;

	all_sizes(f->group, f->cache, &s);
	assert_same(&s, &f->ref);
	assert_int_equal(s.decodes, s.n);
	img = tu_readfile(f->file, len);
	assert_non_null(img);
	return img;
}

/* A fresh manager: right sizes; returns its decodes. */
static uint64_t fresh(struct fx *f)
{
	struct sizes s;

	all_sizes(f->group, f->cache, &s);
	assert_same(&s, &f->ref);
	return s.decodes;
}

static void test_cache_used(void **state)
{
	struct fx *f = *state;
	size_t len;
	uint8_t *img = fill_cache(f, &len), *again;
	size_t len2;

	assert_int_equal(fresh(f), 0);
	assert_int_equal(cache_lines, 0);
	/* nothing rendered: the file was not rewritten */
	again = tu_readfile(f->file, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(img, again, len);
	free(img);
	free(again);
}

static void test_stale_segment(void **state)
{
	struct fx *f = *state;
	struct timespec t[2] = { { 0, UTIME_OMIT }, { 1000000000, 5 } };
	char seg[4096];
	size_t len;

	free(fill_cache(f, &len));
	snprintf(seg, sizeof(seg), "%s/%s", f->group, SEG);
	assert_int_equal(utimensat(AT_FDCWD, seg, t, 0), 0);
	assert_int_equal(fresh(f), f->ref.n);
	assert_int_equal(cache_lines, 1);
	/* recomputed and saved for the new state */
	cache_lines = 0;
	assert_int_equal(fresh(f), 0);
	assert_int_equal(cache_lines, 0);
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	size_t len;
	uint8_t *img = fill_cache(f, &len);

	for (size_t cut = 0; cut < len; cut += cut < 48 ? 3 : 61) {
		tu_writefile(f->file, img, cut);
		cache_lines = 0;
		assert_int_equal(fresh(f), f->ref.n);
		assert_int_equal(cache_lines, 1);
	}
	free(img);
}

static void test_bit_flips(void **state)
{
	struct fx *f = *state;
	size_t len;
	uint8_t *img = fill_cache(f, &len);

	for (size_t at = 0; at < len; at += at < 48 ? 2 : 41) {
		img[at] ^= 0x10;
		tu_writefile(f->file, img, len);
		img[at] ^= 0x10;
		cache_lines = 0;
		assert_int_equal(fresh(f), f->ref.n);
		assert_int_equal(cache_lines, 1);
	}
	free(img);
}

/* ---- hand-made files with a valid checksum -------------------------- */

struct img {
	uint8_t b[1 << 16];
	size_t len;
};

static void add(struct img *m, const void *p, size_t n)
{
	assert_true(m->len + n <= sizeof(m->b));
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void add64(struct img *m, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	add(m, b, 8);
}

static void add32(struct img *m, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	add(m, b, 4);
}

/* Header for group path, nrec records, render version rv. */
static void begin(struct img *m, const char *group, uint32_t nrec,
		  uint32_t rv)
{
	uint8_t h[40] = "ARFSSIZE";

	m->len = 0;
	put_le32(h + 8, 1);
	put_le32(h + 12, rv);
	put_le32(h + 32, (uint32_t)strlen(group));
	put_le32(h + 36, nrec);
	add(m, h, sizeof(h));
	add(m, group, strlen(group));
}

static void finish(struct img *m)
{
	put_le64(m->b + 16, m->len - 40);
	put_le64(m->b + 24, arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT,
					      m->b + 40, m->len - 40));
}

/* A segment record head for the fixture's segment as it is now. */
static void seg_head(struct img *m, const char *group, uint32_t ncols)
{
	struct arfs_segment *seg;
	struct stat st;
	char p[4096];
	uint8_t l[2];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", group, SEG);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(arfs_segment_parse(fd, SEG, &seg), 0);
	close(fd);
	put_le16(l, (uint16_t)strlen(SEG));
	add(m, l, 2);
	add(m, SEG, strlen(SEG));
	add64(m, (uint64_t)st.st_size);
	add64(m, (uint64_t)(st.st_mtim.tv_sec * 1000000000 +
			    st.st_mtim.tv_nsec));
	add64(m, arfs_textsize_table_sum(seg));
	add32(m, ncols);
	arfs_segment_free(seg);
}

static void use(struct fx *f, struct img *m, uint64_t want_decodes,
		int want_lines)
{
	tu_writefile(f->file, m->b, m->len);
	cache_lines = 0;
	assert_int_equal(fresh(f), want_decodes);
	assert_int_equal(cache_lines, want_lines);
}

static void test_hostile(void **state)
{
	struct fx *f = *state;
	char *real = realpath(f->group, NULL);
	struct img *m = calloc(1, sizeof(*m));
	uint64_t first = f->ref.v[0], nb0 = f->ref.nblocks0;

	/* a well-made file for column 0's blocks is used: control */
	begin(m, real, 1, ARFS_TEXTVAL_VERSION);
	seg_head(m, f->group, 1);
	add32(m, 0);
	add64(m, nb0);
	for (uint64_t i = 0; i < nb0; i++)
		add64(m, (uint64_t)f->ref.v[i]);
	finish(m);
	use(f, m, f->ref.n - nb0, 0);

	/* record count far past the bytes */
	begin(m, real, 1u << 20, ARFS_TEXTVAL_VERSION);
	finish(m);
	use(f, m, f->ref.n, 1);
	/* column count and block count past the end */
	begin(m, real, 1, ARFS_TEXTVAL_VERSION);
	seg_head(m, f->group, 0xffffffffu);
	finish(m);
	use(f, m, f->ref.n, 1);
	begin(m, real, 1, ARFS_TEXTVAL_VERSION);
	seg_head(m, f->group, 1);
	add32(m, 0);
	add64(m, UINT64_MAX / 8);
	finish(m);
	use(f, m, f->ref.n, 1);
	/* a size below the block's row count cannot be right */
	begin(m, real, 1, ARFS_TEXTVAL_VERSION);
	seg_head(m, f->group, 1);
	add32(m, 0);
	add64(m, nb0);
	for (uint64_t i = 0; i < nb0; i++)
		add64(m, 3);
	finish(m);
	use(f, m, f->ref.n, 1);
	/* a block count that is not the segment's */
	begin(m, real, 1, ARFS_TEXTVAL_VERSION);
	seg_head(m, f->group, 1);
	add32(m, 0);
	add64(m, nb0 + 1);
	for (uint64_t i = 0; i <= nb0; i++)
		add64(m, first);
	finish(m);
	use(f, m, f->ref.n, 1);
	/* segment name leaving the directory, duplicate columns */
	begin(m, real, 1, ARFS_TEXTVAL_VERSION);
	add(m, "\x05\x00../x", 7);
	finish(m);
	use(f, m, f->ref.n, 1);
	begin(m, real, 1, ARFS_TEXTVAL_VERSION);
	seg_head(m, f->group, 2);
	add32(m, 0);
	add64(m, 0);
	add32(m, 0);
	add64(m, 0);
	finish(m);
	use(f, m, f->ref.n, 1);
	/* other text rules; another group's file */
	begin(m, real, 0, ARFS_TEXTVAL_VERSION + 1);
	finish(m);
	use(f, m, f->ref.n, 1);
	begin(m, "/elsewhere", 0, ARFS_TEXTVAL_VERSION);
	finish(m);
	use(f, m, f->ref.n, 1);
	/* not a regular file */
	unlink(f->file);
	assert_int_equal(mkdir(f->file, 0700), 0);
	cache_lines = 0;
	assert_int_equal(fresh(f), f->ref.n);
	assert_int_equal(cache_lines, 2);	/* unreadable; cannot save */
	rmdir(f->file);
	free(m);
	free(real);
}

/* ---- the index key ---------------------------------------------------- */

static const char *const names[] = { "n", "s", "x" };
static const unsigned types[] = { ARFS_FT_INTEGER, ARFS_FT_STRING,
				  ARFS_FT_FLOAT };

static void put_block(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
		      uint64_t blk, int seed)
{
	struct arfs_typedenc enc;
	char s[32];

	arfs_typedenc_init(&enc, types[col]);
	for (int i = 0; i < 50 + seed; i++) {
		if (i % 7 == 3) {
			arfs_typedenc_add_missing(&enc);
		} else if (col == 0) {
			arfs_typedenc_add_int(&enc, (int64_t)i * 1000003 - seed);
		} else if (col == 1) {
			snprintf(s, sizeof(s), "v\t%d\\%d", i, seed);
			arfs_typedenc_add_str(&enc, s, strlen(s));
		} else {
			arfs_typedenc_add_float(&enc, i / 3.0 + seed);
		}
	}
	assert_int_equal(arfs_groupw_put_enc(gw, seg, col, blk, &enc), 0);
	arfs_typedenc_release(&enc);
}

static char *make_written(void)
{
	char *dir = tu_tmpdir("tszw");
	struct arfs_groupw *gw;
	uint64_t seg;

	assert_int_equal(arfs_groupw_create(dir, 3, names, types, NULL, &gw),
			 0);
	for (int s = 0; s < 2; s++) {
		assert_int_equal(arfs_groupw_add_segment(gw, &seg), 0);
		for (uint64_t c = 0; c < 3; c++)
			for (uint64_t b = 0; b < 3; b++)
				put_block(gw, seg, c, b, (int)(b + 10 * s));
	}
	assert_int_equal(arfs_groupw_commit(gw), 0);
	arfs_groupw_close(gw);
	return dir;
}

/* Sizes of a group's index are all used: no decode, and right. */
static void assert_indexed(const char *dir)
{
	struct sizes s, ref;

	all_sizes(dir, NULL, &s);
	reference(dir, &ref);
	assert_same(&s, &ref);
	assert_int_equal(s.decodes, 0);
}

static void test_index_written(void **state)
{
	char *dir = make_written();
	struct arfs_groupw *gw;

	assert_indexed(dir);
	/* replace, remove, append, then compact: sizes carried along */
	assert_int_equal(arfs_groupw_open(dir, NULL, &gw), 0);
	put_block(gw, 0, 1, 1, 99);
	assert_int_equal(arfs_groupw_remove(gw, 1, 2, 0), 0);
	put_block(gw, 1, 0, 3, 7);
	assert_int_equal(arfs_groupw_commit(gw), 0);
	arfs_groupw_close(gw);
	assert_indexed(dir);
	assert_int_equal(arfs_groupw_open(dir, NULL, &gw), 0);
	assert_int_equal(arfs_groupw_compact(gw, ARFS_GROUPW_LZ4), 0);
	arfs_groupw_close(gw);
	assert_indexed(dir);
	tu_rmrf(dir);
	free(dir);
}

/* Rewrite the .sidx of dir with edit() applied to its text_sizes. */
static void edit_index(const char *dir, void (*edit)(json_t *ts))
{
	struct arfs_group *g;
	json_error_t err;
	char path[4096];
	json_t *root;

	assert_int_equal(arfs_group_open(dir, &g), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, g->sidx[0].file);
	arfs_group_free(g);
	root = json_load_file(path, 0, &err);
	assert_non_null(root);
	edit(json_object_get(root, "text_sizes"));
	assert_int_equal(json_dump_file(root, path, 0), 0);
	json_decref(root);
}

static void bad_sum(json_t *ts)
{
	json_t *e = json_object_get(json_object_get(ts, "segments"), "0001");

	json_object_set_new(e, "table_sum", json_string("0123456789abcdef"));
}

static void bad_length(json_t *ts)
{
	json_t *e = json_object_get(json_object_get(ts, "segments"), "0000");

	json_object_set_new(e, "length", json_string("12"));
}

static void malformed(json_t *ts)
{
	json_t *e = json_object_get(json_object_get(ts, "segments"), "0000");

	json_array_set_new(json_object_get(e, "columns"), 0,
			   json_string("abc"));
}

static void small_size(json_t *ts)
{
	json_t *e = json_object_get(json_object_get(ts, "segments"), "0000");
	json_t *c0 = json_array_get(json_object_get(e, "columns"), 0);

	json_array_set_new(c0, 0, json_integer(1));
}

static void other_rules(json_t *ts)
{
	json_object_set_new(ts, "version",
			    json_integer(ARFS_TEXTVAL_VERSION + 1));
}

static void test_index_ignored(void **state)
{
	void (*edits[])(json_t *) = { bad_sum, bad_length, malformed,
				      small_size, other_rules };
	struct sizes s, ref;
	char *dir;

	arfs_log_set_sink(counting);
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		dir = make_written();
		edit_index(dir, edits[i]);
		cache_lines = 0;
		all_sizes(dir, NULL, &s);
		assert_int_equal(cache_lines, 1);
		reference(dir, &ref);
		assert_same(&s, &ref);
		assert_true(s.decodes > 0 && s.decodes <= s.n);
		tu_rmrf(dir);
		free(dir);
	}
	arfs_log_set_sink(NULL);
}

/* The checksum is that of the table bytes as groupw writes them. */
static void test_table_sum(void **state)
{
	char *dir = make_written(), path[4096];
	struct arfs_segment *seg;
	struct arfs_group *g;
	uint8_t *file;
	size_t len;
	uint64_t tlen;
	int fd;

	assert_int_equal(arfs_group_open(dir, &g), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, g->sidx[0].seg_files[0]);
	arfs_group_free(g);
	file = tu_readfile(path, &len);
	tlen = get_le64(file + len - 8);
	fd = open(path, O_RDONLY);
	assert_int_equal(arfs_segment_parse(fd, "seg", &seg), 0);
	close(fd);
	assert_int_equal(arfs_textsize_table_sum(seg),
			 arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT,
					   file + len - 8 - tlen, tlen));
	arfs_segment_free(seg);
	free(file);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_used, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_stale_segment, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_truncated, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_bit_flips, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_hostile, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_index_written),
		cmocka_unit_test(test_index_ignored),
		cmocka_unit_test(test_table_sum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
