/*
 * test_group.c - group indexes: the saved SFrame fixture (.frame_idx +
 * .sidx), a bare .sidx group, and damaged copies: unsafe or missing
 * segment paths, wrong version, broken JSON, a column count that differs
 * between the index and the segment. Each is -EUCLEAN, never a crash.
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

#include "group.h"
#include "segment.h"
#include "testutil.h"
#include "typed.h"
#include "util.h"

#define PREFIX "m_9688d6320ff94822"

static const char *const names[] = {
	"business_id", "categories", "city", "full_address", "latitude",
	"longitude", "name", "open", "review_count", "stars", "state", "type",
};
static const unsigned types[] = { 2, 3, 2, 2, 1, 1, 2, 0, 0, 1, 2, 2 };

static char *fixture_copy(void)
{
	char src[4096], *dir = tu_tmpdir("group");

	snprintf(src, sizeof(src), "%s/turi/business.sf", tu_fixtures());
	tu_rmrf(dir);
	tu_copydir(src, dir);
	return dir;
}

static void done(char *dir)
{
	tu_rmrf(dir);
	free(dir);
}

/* Replace the first `from` by `to` in dir/file. */
static void edit(const char *dir, const char *file, const char *from,
		 const char *to)
{
	char path[4096], *out, *hit;
	size_t len;
	uint8_t *b;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	b = tu_readfile(path, &len);
	assert_non_null(b);
	b = realloc(b, len + 1);
	b[len] = 0;
	hit = strstr((char *)b, from);
	assert_non_null(hit);
	out = malloc(len + strlen(to) + 1);
	memcpy(out, b, (size_t)(hit - (char *)b));
	strcpy(out + (hit - (char *)b), to);
	strcat(out, hit + strlen(from));
	tu_writefile(path, out, strlen(out));
	free(out);
	free(b);
}

static void test_fixture(void **state)
{
	struct arfs_group *g;
	char path[4096];

	snprintf(path, sizeof(path), "%s/turi/business.sf", tu_fixtures());
	assert_true(arfs_group_is_group(path));
	assert_int_equal(arfs_group_open(path, &g), 0);
	assert_string_equal(g->name, "business.sf");
	assert_string_equal(g->index_file, PREFIX ".frame_idx");
	assert_int_equal(g->ncols, 12);
	assert_int_equal(g->nrows, 11536);
	assert_int_equal(g->nsidx, 1);
	assert_int_equal(g->sidx[0].nsegs, 1);
	assert_string_equal(g->sidx[0].seg_files[0], PREFIX ".0000");
	for (int c = 0; c < 12; c++) {
		assert_string_equal(g->cols[c].name, names[c]);
		assert_int_equal(g->cols[c].type, types[c]);
		assert_int_equal(g->cols[c].index, c);
		assert_int_equal(g->cols[c].rows, 11536);
	}
	assert_ptr_equal(arfs_group_find(g, "stars"), &g->cols[9]);
	assert_null(arfs_group_find(g, "nope"));
	arfs_group_free(g);
	assert_false(arfs_group_is_group(tu_fixtures()));
}

static void test_bare_sidx(void **state)
{
	char *dir = fixture_copy(), path[4096];
	struct arfs_group *g;

	snprintf(path, sizeof(path), "%s/%s.frame_idx", dir, PREFIX);
	unlink(path);
	assert_int_equal(arfs_group_open(dir, &g), 0);
	assert_int_equal(g->ncols, 12);
	assert_string_equal(g->cols[0].name, "0");
	assert_string_equal(g->cols[11].name, "11");
	assert_int_equal(g->cols[4].type, ARFS_FT_FLOAT);
	arfs_group_free(g);
	/* the .sidx file itself */
	snprintf(path, sizeof(path), "%s/%s.sidx", dir, PREFIX);
	assert_true(arfs_group_is_group(path));
	assert_int_equal(arfs_group_open(path, &g), 0);
	assert_string_equal(g->name, PREFIX);
	assert_int_equal(g->ncols, 12);
	arfs_group_free(g);
	done(dir);
}

static void expect_bad_sidx(const char *from, const char *to)
{
	char *dir = fixture_copy();
	struct arfs_group *g = NULL;

	edit(dir, PREFIX ".sidx", from, to);
	assert_int_equal(arfs_group_open(dir, &g), -EUCLEAN);
	assert_null(g);
	done(dir);
}

static void test_bad_segment_paths(void **state)
{
	expect_bad_sidx("\"" PREFIX ".0000\"", "\"/etc/passwd\"");
	expect_bad_sidx("\"" PREFIX ".0000\"", "\"../business.sf/" PREFIX
			".0000\"");
	expect_bad_sidx("\"" PREFIX ".0000\"", "\"..\"");
	expect_bad_sidx("\"" PREFIX ".0000\"", "\"sub/" PREFIX ".0000\"");
	expect_bad_sidx("\"" PREFIX ".0000\"", "\"" PREFIX ".0001\"");
	expect_bad_sidx("\"" PREFIX ".0000\"", "\"\"");
}

/* The last error message logged (a sink for arfs_log). */
static char last_msg[1024];

static void keep_msg(enum arfs_log_level level, const char *msg)
{
	(void)level;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

/*
 * GraphLab Create's version 1 (one INI .sidx per column, named by the
 * .frame_idx without ":N"), and a JSON index of version 1: refused with
 * -ENOTSUP and a message naming the file and the version.
 */
static void test_version_1(void **state)
{
	char *dir = fixture_copy(), path[4096];
	struct arfs_group *g = NULL;
	static const char v1[] =
		"[sarray]\nversion=1\nnum_segments=1\ncontent_type=\n"
		"block_size=65536\n[segment_files]\n0000=m_v1.0000\n"
		"[segment_sizes]\n0000=11536\n";

	arfs_log_set_sink(keep_msg);
	snprintf(path, sizeof(path), "%s/m_v1.sidx", dir);
	tu_writefile(path, v1, strlen(v1));
	edit(dir, PREFIX ".frame_idx", PREFIX ".sidx:0", "m_v1.sidx");
	last_msg[0] = 0;
	assert_int_equal(arfs_group_open(dir, &g), -ENOTSUP);
	assert_null(g);
	assert_non_null(strstr(last_msg, "m_v1.sidx: unsupported version 1"));
	/* the INI index opened on its own */
	last_msg[0] = 0;
	assert_int_equal(arfs_group_open(path, &g), -ENOTSUP);
	assert_non_null(strstr(last_msg, "m_v1.sidx: unsupported version 1"));
	done(dir);
	dir = fixture_copy();
	edit(dir, PREFIX ".sidx", "\"version\" : 2", "\"version\" : 1");
	last_msg[0] = 0;
	assert_int_equal(arfs_group_open(dir, &g), -ENOTSUP);
	assert_non_null(strstr(last_msg, PREFIX ".sidx: unsupported version 1"));
	done(dir);
	arfs_log_set_sink(NULL);
}

static void test_bad_index(void **state)
{
	expect_bad_sidx("\"num_segments\" : 1", "\"num_segments\" : 2");
	expect_bad_sidx("\"sarray\" : {", "\"sarray\" : [");
	expect_bad_sidx("\"__type__\" : \"2\"", "\"__type__\" : \"12\"");
	expect_bad_sidx("\"0000\" : \"11536\"", "\"0000\" : \"11x36\"");
	expect_bad_sidx("\"columns\" : [", "\"columns\" : {");
	expect_bad_sidx("{", "");
}

static void test_bad_frame_idx(void **state)
{
	char *dir;
	struct arfs_group *g;

	dir = fixture_copy();
	edit(dir, PREFIX ".frame_idx", ".sidx:11", ".sidx:12");
	assert_int_equal(arfs_group_open(dir, &g), -EUCLEAN);
	done(dir);
	dir = fixture_copy();
	edit(dir, PREFIX ".frame_idx", PREFIX ".sidx:3", "../x.sidx:3");
	assert_int_equal(arfs_group_open(dir, &g), -EUCLEAN);
	done(dir);
	dir = fixture_copy();
	edit(dir, PREFIX ".frame_idx", "nrows=11536", "nrows=11535");
	assert_int_equal(arfs_group_open(dir, &g), -EUCLEAN);
	done(dir);
}

/* The index lists 11 columns, the segment holds 12. */
static void test_column_count_mismatch(void **state)
{
	char *dir = fixture_copy(), path[4096];
	struct arfs_segment *seg;
	struct arfs_group *g;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.frame_idx", dir, PREFIX);
	unlink(path);
	edit(dir, PREFIX ".sidx", "\t\t{\n\t\t\t\"content_type\" : \"\",\n"
	     "\t\t\t\"metadata\" : {\n\t\t\t\t\"__type__\" : \"3\"\n\t\t\t},\n"
	     "\t\t\t\"segment_sizes\" : {\n\t\t\t\t\"0000\" : \"11536\"\n"
	     "\t\t\t}\n\t\t},\n", "");
	assert_int_equal(arfs_group_open(dir, &g), 0);
	assert_int_equal(g->ncols, 11);
	snprintf(path, sizeof(path), "%s/%s", dir, g->sidx[0].seg_files[0]);
	fd = open(path, O_RDONLY);
	assert_int_equal(arfs_segment_parse(fd, "seg", &seg), 0);
	assert_int_equal(arfs_group_check_segment(&g->sidx[0], 0, seg),
			 -EUCLEAN);
	arfs_segment_free(seg);
	close(fd);
	arfs_group_free(g);
	done(dir);
}

static void test_row_count_mismatch(void **state)
{
	char *dir = fixture_copy(), path[4096];
	struct arfs_segment *seg;
	struct arfs_group *g;
	int fd;

	edit(dir, PREFIX ".sidx", "\"0000\" : \"11536\"", "\"0000\" : \"11535\"");
	snprintf(path, sizeof(path), "%s/%s.frame_idx", dir, PREFIX);
	unlink(path);
	assert_int_equal(arfs_group_open(dir, &g), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, g->sidx[0].seg_files[0]);
	fd = open(path, O_RDONLY);
	assert_int_equal(arfs_segment_parse(fd, "seg", &seg), 0);
	assert_int_equal(arfs_group_check_segment(&g->sidx[0], 0, seg),
			 -EUCLEAN);
	arfs_segment_free(seg);
	close(fd);
	arfs_group_free(g);
	done(dir);
}

/*
 * A folder of several SFrames (a Turi model): not one group but a set,
 * listed in name order; each .frame_idx opens as a group named by its
 * prefix; the folder itself is refused with -EISDIR.
 */
static void test_model_folder(void **state)
{
	char dir[2048], path[4096], **frames;
	struct arfs_group *g = NULL;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/turi/model_two_sframes", tu_fixtures());
	assert_true(arfs_group_is_set(dir));
	assert_false(arfs_group_is_group(dir));
	assert_int_equal(arfs_group_open(dir, &g), -EISDIR);
	assert_null(g);
	assert_int_equal(arfs_group_frames(dir, &frames, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(frames[0], PREFIX ".frame_idx");
	assert_string_equal(frames[1], "m_c1dc662e7b0ac347.frame_idx");
	assert_null(frames[2]);
	arfs_group_frames_free(frames);
	snprintf(path, sizeof(path), "%s/" PREFIX ".frame_idx", dir);
	assert_true(arfs_group_is_group(path));
	assert_int_equal(arfs_group_open(path, &g), 0);
	assert_string_equal(g->name, PREFIX);
	assert_string_equal(g->dir, dir);
	assert_int_equal(g->ncols, 12);
	assert_int_equal(g->nrows, 11536);
	arfs_group_free(g);
	snprintf(path, sizeof(path), "%s/m_c1dc662e7b0ac347.frame_idx", dir);
	assert_int_equal(arfs_group_open(path, &g), 0);
	assert_int_equal(g->ncols, 3);
	assert_int_equal(g->cols[1].type, ARFS_FT_IMAGE);
	arfs_group_free(g);
	/* one SFrame is a group, not a set */
	snprintf(dir, sizeof(dir), "%s/turi/business.sf", tu_fixtures());
	assert_false(arfs_group_is_set(dir));
	assert_int_equal(arfs_group_frames(tu_fixtures(), &frames, &n),
			 -ENOENT);
}

static void test_safe_name(void **state)
{
	assert_true(arfs_group_safe_name("m_x.0000"));
	assert_false(arfs_group_safe_name(""));
	assert_false(arfs_group_safe_name("/abs"));
	assert_false(arfs_group_safe_name("a/b"));
	assert_false(arfs_group_safe_name(".."));
	assert_false(arfs_group_safe_name(NULL));
}

static void quiet(enum arfs_log_level level, const char *msg)
{
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_bare_sidx),
		cmocka_unit_test(test_bad_segment_paths),
		cmocka_unit_test(test_bad_index),
		cmocka_unit_test(test_bad_frame_idx),
		cmocka_unit_test(test_column_count_mismatch),
		cmocka_unit_test(test_row_count_mismatch),
		cmocka_unit_test(test_safe_name),
		cmocka_unit_test(test_model_folder),
		cmocka_unit_test(test_version_1),
	};

	arfs_log_set_sink(quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
