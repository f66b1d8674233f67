/*
 * test_hostile.c - promise 3 of docs/RELIABILITY.md in core: nothing
 * escapes the store.
 *
 *  - Document ids holding '/', NUL, newline, tab, ".", "..", "%",
 *    surrogates and values past U+10FFFF (invalid UTF-32), written
 *    straight into header.bin: every listed name is a single safe path
 *    component (no '/', no NUL, not "." or ".."), names are distinct, and
 *    each name looks up its own document's bytes. Ids whose names exceed
 *    NAME_MAX are skipped (logged) by a 256-byte listing buffer, listed by
 *    a larger one.
 *  - Segment groups whose index names a file outside the group directory:
 *    "../../etc/passwd", "/etc/passwd", "a/../b", "..", "": refused
 *    (-EUCLEAN) by the reader and by the writer; a segment file, or a
 *    .sidx named by the .frame_idx, that is a symlink (to a file outside,
 *    or to a valid segment outside): refused, and the file it points at
 *    is left untouched by a writer's recovery.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "docarray.h"
#include "group.h"
#include "groupw.h"
#include "testutil.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

static char *root;
static int logs;

static void count_log(enum arfs_log_level level, const char *msg)
{
	logs++;
	if (getenv("ARFS_TEST_VERBOSE"))
		fprintf(stderr, "log: %s\n", msg);
}

static char *sub(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", root, name) < 0)
		abort();
	return p;
}

static char *join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

/* ---- document ids ---- */

#define K 80
#define ROW (4 * K + 24)

struct hid {
	uint32_t cps[K];
	size_t n;
};

static void add_cps(struct hid *h, const uint32_t *cps, size_t n)
{
	memcpy(h->cps, cps, n * 4);
	h->n = n;
}

/* Write an array whose row i holds ids[i] and body bytes "doc <i>\n". */
static void write_array(const char *dir, const struct hid *ids, size_t n)
{
	uint8_t row[ROW];
	char body[64 * 16];
	size_t blen = 0;
	FILE *h;
	char *p;

	mkdir(dir, 0755);
	p = join(dir, "header.bin");
	h = fopen(p, "wb");
	assert_non_null(h);
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(body + blen, 16, "doc %02zu\n", i);
		memset(row, 0, sizeof(row));
		for (size_t c = 0; c < ids[i].n; c++)
			put_le32(row + 4 * c, ids[i].cps[c]);
		put_le64(row + 4 * K, 0);
		put_le64(row + 4 * K + 8, blen);
		put_le64(row + 4 * K + 16, blen + (size_t)len);
		blen += (size_t)len;
		assert_int_equal(fwrite(row, 1, ROW, h), ROW);
	}
	fclose(h);
	free(p);
	p = join(dir, "body.bin");
	tu_writefile(p, body, blen);
	free(p);
}

static bool safe_component(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..") && strlen(name) < 4096;
}

static void test_hostile_ids(void **state)
{
	static const uint32_t slash[] = { '.', '.', '/', 'e', 't', 'c' };
	static const uint32_t abs_[] = { '/', 'e', 't', 'c', '/', 'p' };
	static const uint32_t nul[] = { 'a', 0, 'b' };
	static const uint32_t nl[] = { 'a', '\n', 'b', '\t', 0x7F };
	static const uint32_t dot[] = { '.' }, dotdot[] = { '.', '.' };
	static const uint32_t dots3[] = { '.', '.', '.' };
	static const uint32_t pct[] = { '%', '2', 'F' };
	static const uint32_t sur[] = { 0xD800, 'x', 0xDFFF };
	static const uint32_t big[] = { 0x110000, 0xFFFFFFFF };
	static const uint32_t slash_only[] = { '/' };
	struct hid ids[12];
	char *dir = sub("ids"), name[1024], small[256], *seen[12];
	struct arfs_docarray_opts o = { .key_length = K, .read_only = true };
	struct arfs_docarray *da;
	struct arfs_docattr a;
	struct arfs_docref ref;
	uint64_t cursor = 0;
	size_t n = 0, listed = 0, i;
	char buf[32];

	add_cps(&ids[n++], slash, 6);
	add_cps(&ids[n++], abs_, 6);
	add_cps(&ids[n++], nul, 3);
	add_cps(&ids[n++], nl, 5);
	add_cps(&ids[n++], dot, 1);
	add_cps(&ids[n++], dotdot, 2);
	add_cps(&ids[n++], dots3, 3);
	add_cps(&ids[n++], pct, 3);
	add_cps(&ids[n++], sur, 3);
	add_cps(&ids[n++], big, 2);
	add_cps(&ids[n++], slash_only, 1);
	/* 80 x U+1F600: 320 bytes of UTF-8, past NAME_MAX */
	for (i = 0; i < K; i++)
		ids[n].cps[i] = 0x1F600;
	ids[n++].n = K;
	write_array(dir, ids, n);

	assert_int_equal(arfs_docarray_open(dir, &o, &da), 0);
	while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
		if (!safe_component(name))
			fail_msg("unsafe name '%s'", name);
		for (i = 0; i < listed; i++)
			if (!strcmp(seen[i], name))
				fail_msg("two ids named '%s'", name);
		seen[listed] = strdup(name);
		if (arfs_docarray_lookup(da, name, strlen(name), &ref))
			fail_msg("listed name '%s' does not look up", name);
		assert_int_equal(arfs_docref_pread(&ref, buf, sizeof(buf), 0), 7);
		snprintf(small, sizeof(small), "doc %02zu\n", listed);
		if (memcmp(buf, small, 7))
			fail_msg("'%s' reads another document's bytes", name);
		arfs_docref_release(&ref);
		listed++;
	}
	assert_int_equal(listed, n);
	assert_true(strlen(seen[n - 1]) > NAME_MAX);
	/* a name is an id, never a path: no resolution of ".." */
	assert_int_equal(arfs_docarray_lookup(da, "../../etc", 9, &ref), -ENOENT);
	/* A NAME_MAX-sized buffer skips the long id, with a message. */
	cursor = 0;
	listed = 0;
	logs = 0;
	while (arfs_docarray_next(da, &cursor, small, sizeof(small), &a) == 0)
		listed++;
	assert_int_equal(listed, n - 1);
	assert_true(logs >= 1);
	arfs_docarray_close(da);
	for (i = 0; i < n; i++)
		free(seen[i]);
	free(dir);
}

/* ---- groups ---- */

static const char *const gnames[] = { "n" };
static const unsigned gtypes[] = { ARFS_FT_INTEGER };

/* A committed one-column group in dir; returns its segment file name. */
static char *make_group(const char *dir)
{
	struct arfs_groupw *gw;
	struct arfs_typedenc enc;
	uint64_t seg;
	char *name;

	mkdir(dir, 0755);
	assert_int_equal(arfs_groupw_create(dir, 1, gnames, gtypes, NULL, &gw), 0);
	assert_int_equal(arfs_groupw_add_segment(gw, &seg), 0);
	arfs_typedenc_init(&enc, ARFS_FT_INTEGER);
	for (int i = 0; i < 10; i++)
		arfs_typedenc_add_int(&enc, i);
	assert_int_equal(arfs_groupw_put_enc(gw, seg, 0, 0, &enc), 0);
	arfs_typedenc_release(&enc);
	assert_int_equal(arfs_groupw_commit(gw), 0);
	arfs_groupw_close(gw);
	{
		struct arfs_group *g;
		assert_int_equal(arfs_group_open(dir, &g), 0);
		name = strdup(g->sidx[0].seg_files[0]);
		arfs_group_free(g);
	}
	return name;
}

/* Replace the string old by new in file dir/name. */
static void edit(const char *dir, const char *suffix, const char *old,
		 const char *new)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "cd '%s' && f=$(ls *%s) && "
		 "python3 -c 'import sys; p=sys.argv[1]; s=open(p).read(); "
		 "assert sys.argv[2] in s; open(p,\"w\").write(s.replace("
		 "sys.argv[2], sys.argv[3]))' \"$f\" '%s' '%s'", dir, suffix,
		 old, new);
	assert_int_equal(system(cmd), 0);
}

static void expect_refused(const char *dir, const char *what)
{
	struct arfs_group *g = NULL;
	struct arfs_groupw *gw = NULL;
	int rc = arfs_group_open(dir, &g);

	if (rc != -EUCLEAN)
		fail_msg("%s: reader got %d, want -EUCLEAN", what, rc);
	rc = arfs_groupw_open(dir, NULL, &gw);
	if (rc >= 0)
		fail_msg("%s: the writer opened it", what);
	arfs_group_free(g);
}

static void test_index_names(void **state)
{
	static const char *const bad[] = { "../../etc/passwd", "/etc/passwd",
					   "a/../b", "..", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char tag[32], *dir, *seg;
		snprintf(tag, sizeof(tag), "names%zu", i);
		dir = sub(tag);
		seg = make_group(dir);
		edit(dir, ".sidx", seg, bad[i]);
		expect_refused(dir, bad[i]);
		free(seg);
		free(dir);
	}
}

static void test_symlinks(void **state)
{
	char *outside = sub("outside"), *dir = sub("symseg"), *seg, *p, *q;
	struct stat before, after;
	uint8_t *data;
	size_t len;

	/* A segment file that is a symlink to a file outside the group. */
	tu_writefile(outside, "root:x:0:0:secret\n", 18);
	seg = make_group(dir);
	p = join(dir, seg);
	unlink(p);
	assert_int_equal(symlink(outside, p), 0);
	assert_int_equal(stat(outside, &before), 0);
	expect_refused(dir, "segment symlink to a file outside");
	assert_int_equal(stat(outside, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	free(p);
	free(seg);
	free(dir);

	/* ... to a valid segment outside (would read fine if followed). */
	dir = sub("symseg2");
	seg = make_group(dir);
	p = join(dir, seg);
	q = sub("valid-segment");
	data = tu_readfile(p, &len);
	assert_non_null(data);
	tu_writefile(q, data, len);
	free(data);
	unlink(p);
	assert_int_equal(symlink(q, p), 0);
	expect_refused(dir, "segment symlink to a valid segment outside");
	free(p);
	free(q);
	free(seg);
	free(dir);

	/* A .sidx named by the .frame_idx that is a symlink. */
	dir = sub("symsidx");
	seg = make_group(dir);
	{
		struct arfs_group *g;
		char *target = sub("moved.sidx");
		assert_int_equal(arfs_group_open(dir, &g), 0);
		p = join(dir, g->sidx[0].file);
		arfs_group_free(g);
		assert_int_equal(rename(p, target), 0);
		assert_int_equal(symlink(target, p), 0);
		free(target);
	}
	expect_refused(dir, ".sidx symlink named by the .frame_idx");
	free(p);
	free(seg);
	free(dir);
	free(outside);
}

static int setup(void **state)
{
	arfs_log_set_sink(count_log);
	root = tu_tmpdir("hostile");
	return 0;
}

static int teardown(void **state)
{
	if (!getenv("ARFS_TEST_KEEP"))
		tu_rmrf(root);
	free(root);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_ids),
		cmocka_unit_test(test_index_names),
		cmocka_unit_test(test_symlinks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
