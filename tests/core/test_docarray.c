/*
 * test_docarray.c - the document-array engine of core/docarray/: opening,
 * reading and the checks on what is read.
 *
 * Covers:
 *  - every DocArray fixture opens read-only and lists exactly its
 *    expected.json "docs" (ids, order, lengths, sha256 of the bytes);
 *  - ids longer than key_length (-ENAMETOOLONG, nothing written);
 *  - damaged copies: bad header size, bad extents, invalid code points,
 *    ids with '/', NUL, ".", "..", a corrupt or truncated sidecar.
 * Writes are in test_docarray_write.c, compaction and recovery in
 * test_docarray_recovery.c; the helpers all three share (scratch copies
 * of fixtures, the content model, verify) in testutil_docarray.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "docarray.h"
#include "io.h"
#include "testutil.h"
#include "util.h"
#include "testutil_docarray.h"

/* ---- log capture ---- */

static void log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	last_log[0] = '\0';
	log_count = 0;
	pthread_mutex_unlock(&log_lock);
}

/* ---- scratch directories and files ---- */

static void truncate_file(const char *dir, const char *file, off_t len)
{
	char *p = path_in(dir, file);

	assert_int_equal(truncate(p, len), 0);
	free(p);
}

static void patch_file(const char *dir, const char *file, off_t off,
		       const void *buf, size_t len)
{
	char *p = path_in(dir, file);
	int fd = open(p, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
	free(p);
}

/* ---- header rows ---- */

/* Overwrite row `row`: the id when cps != NULL, the extents when ext. */
static void row_set(const char *dir, unsigned K, uint64_t row,
		    const uint32_t *cps, size_t n, const int64_t *ext)
{
	uint8_t buf[4 * 64 + 24];
	size_t i;

	assert_true(K <= 64 && n <= K);
	if (cps) {
		memset(buf, 0, (size_t)K * 4);
		for (i = 0; i < n; i++)
			put_le32(buf + 4 * i, cps[i]);
		patch_file(dir, "header.bin", (off_t)(row * row_size(K)), buf,
			   (size_t)K * 4);
	}
	if (ext) {
		for (i = 0; i < 3; i++)
			put_le64(buf + 8 * i, (uint64_t)ext[i]);
		patch_file(dir, "header.bin",
			   (off_t)(row * row_size(K) + (size_t)K * 4), buf, 24);
	}
}

static void row_set_ascii(const char *dir, unsigned K, uint64_t row,
			  const char *id)
{
	uint32_t cps[64];
	size_t n;

	for (n = 0; id[n]; n++)
		cps[n] = (unsigned char)id[n];
	row_set(dir, K, row, cps, n, NULL);
}

/* ---- fixtures ---- */

static void list_fixture(const char *fixture)
{
	json_t *root = load_expected(fixture), *docs, *doc;
	char *dir = fixture_dir(fixture), name[NAME_CAP], hex[65];
	unsigned K = (unsigned)json_integer_value(json_object_get(root, "key_length"));
	struct arfs_docarray *da = open_da(dir, K, true);
	struct arfs_docattr a;
	uint64_t cursor = 0;
	size_t i = 0, len;
	uint8_t *buf;

	docs = json_object_get(root, "docs");
	assert_true(json_array_size(docs) > 0);
	while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
		assert_true(i < json_array_size(docs));
		doc = json_array_get(docs, i);
		assert_string_equal(name,
				    json_string_value(json_object_get(doc, "id")));
		assert_int_equal(a.size, json_integer_value(json_object_get(doc, "length")));
		buf = read_doc(da, name, &len, NULL);
		assert_non_null(buf);
		tu_sha256_hex(buf, len, hex);
		assert_string_equal(hex,
				    json_string_value(json_object_get(doc, "sha256")));
		assert_int_equal(a.mode, 0644);
		free(buf);
		i++;
	}
	assert_int_equal(i, json_array_size(docs));
	assert_int_equal(arfs_docarray_count(da), i);
	arfs_docarray_close(da);
	/* A read-only open writes nothing, not even the sidecar. */
	assert_false(exists(dir, ARFS_SIDECAR_NAME));
	assert_int_equal(run_check(dir, K), 0);
	free(dir);
	json_decref(root);
}

static void test_fixtures_list(void **state)
{
	static const char *const cases[] = { "basic", "uuid", "updated_deleted",
					     "pruned", "keylen8", "large" };
	struct arfs_docarray_opts o = { .read_only = true };
	struct arfs_docarray *da;
	char *dir;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		list_fixture(cases[i]);
	/* keylen8 read with the default key length is refused. */
	dir = fixture_dir("keylen8");
	assert_int_equal(arfs_docarray_open(dir, &o, &da), -EUCLEAN);
	free(dir);
}

/* ---- names too long ---- */

static void test_name_too_long(void **state)
{
	char *dir = copy_fixture("basic"), name[200], *p;
	struct arfs_docarray *da = open_da(dir, 36, false);
	off_t h = fsize(dir, "header.bin"), b = fsize(dir, "body.bin");
	struct model m;
	int i;

	model_fixture(&m, "basic");
	memset(name, 'x', 37);
	assert_int_equal(arfs_docarray_put_mem(da, name, 37, "x", 1, NULL, 0),
			 -ENAMETOOLONG);
	assert_int_equal(arfs_docarray_rename(da, "a", 1, name, 37, 0),
			 -ENAMETOOLONG);
	assert_int_equal(arfs_docarray_lookup(da, name, 37,
					      &(struct arfs_docref){ 0 }),
			 -ENOENT);
	/* 37 code points of two bytes each. */
	for (i = 0, p = name; i < 37; i++, p += 2)
		memcpy(p, "\xC3\xA9", 2);
	assert_int_equal(arfs_docarray_put_mem(da, name, 74, "x", 1, NULL, 0),
			 -ENAMETOOLONG);
	/* Not UTF-8. */
	assert_int_equal(arfs_docarray_put_mem(da, "\xFF", 1, "x", 1, NULL, 0),
			 -EILSEQ);
	assert_int_equal(fsize(dir, "header.bin"), h);
	assert_int_equal(fsize(dir, "body.bin"), b);
	assert_false(exists(dir, ARFS_SIDECAR_NAME));
	/* Exactly 36 fits. */
	memset(name, 'y', 36);
	name[36] = '\0';
	put_str(da, &m, name, "thirty-six\n");
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);

	dir = copy_fixture("keylen8");
	da = open_da(dir, 8, false);
	h = fsize(dir, "header.bin");
	b = fsize(dir, "body.bin");
	assert_int_equal(arfs_docarray_put_mem(da, "abcdefghi", 9, "x", 1, NULL,
					       0), -ENAMETOOLONG);
	assert_int_equal(fsize(dir, "header.bin"), h);
	assert_int_equal(fsize(dir, "body.bin"), b);
	model_fixture(&m, "keylen8");
	put_str(da, &m, "abcdefgh", "replaced\n");
	arfs_docarray_close(da);
	verify(dir, 8, &m);
	model_free(&m);
	free(dir);
}

/* ---- bad input ---- */

static void test_bad_header_size(void **state)
{
	static const off_t sizes[] = { 839, 841, 1, 167 };
	struct arfs_docarray_opts rw = { .key_length = 36 };
	struct arfs_docarray *da;
	struct model m;
	size_t i, blen, blen2;
	char *dir;
	uint8_t *body, *body2;

	for (i = 0; i < 4; i++) {
		dir = copy_fixture("basic");
		body = slurp(dir, "body.bin", &blen);
		truncate_file(dir, "header.bin", sizes[i]);
		log_reset();
		assert_int_equal(arfs_docarray_open(dir, &rw, &da), -EUCLEAN);
		assert_non_null(strstr(last_log, "header.bin"));
		{
			char want[32];
			snprintf(want, sizeof(want), "%lld", (long long)sizes[i]);
			assert_non_null(strstr(last_log, want));
			assert_non_null(strstr(last_log, "168"));
		}
		rw.read_only = true;
		assert_int_equal(arfs_docarray_open(dir, &rw, &da), -EUCLEAN);
		rw.read_only = false;
		assert_true(run_check(dir, 36) > 0);
		body2 = slurp(dir, "body.bin", &blen2);
		assert_int_equal(blen, blen2);
		assert_memory_equal(body, body2, blen);
		assert_int_equal(fsize(dir, "header.bin"), sizes[i]);
		assert_false(exists(dir, ARFS_SIDECAR_NAME));
		free(body);
		free(body2);
		free(dir);
	}
	/* An empty header is an empty array. */
	dir = copy_fixture("basic");
	truncate_file(dir, "header.bin", 0);
	memset(&m, 0, sizeof(m));
	verify(dir, 36, &m);
	free(dir);
}

static void test_bad_extents(void **state)
{
	static const int64_t bad[][3] = {
		{ 0, 269554, 269555 },        /* one past body.bin */
		{ 1 << 20, 0, 8 },           /* start past the end */
		{ -4096, 0, 8 },             /* negative p */
		{ 0, -1, 8 },                /* negative r */
		{ 0, 10, 5 },                /* inverted */
		{ -1, -1, 0 },               /* almost a tombstone */
		{ INT64_MAX, INT64_MAX, INT64_MAX }, /* p + e overflows */
		{ 0, 0, INT64_MAX },
	};
	size_t nbad = sizeof(bad) / sizeof(bad[0]), i;
	char *dir = copy_fixture("uuid");
	struct arfs_docarray *da;
	struct arfs_docarray_info info;
	struct model m;
	off_t h0, b0;

	model_fixture(&m, "uuid");
	for (i = 0; i < nbad; i++)
		row_set(dir, 36, 10 * i, NULL, 0, bad[i]);
	for (i = nbad; i-- > 0;)
		model_del_at(&m, 10 * i);
	da = open_da(dir, 36, false);
	arfs_docarray_get_info(da, &info);
	assert_int_equal(info.bad_rows, nbad);
	assert_int_equal(arfs_docarray_count(da), m.n);
	/*
	 * Row 0 ends one byte past body.bin: an append would bring it back
	 * with the new document's bytes, so puts are refused until compact.
	 * Writes that append nothing go on.
	 */
	h0 = fsize(dir, "header.bin");
	b0 = fsize(dir, "body.bin");
	assert_int_equal(arfs_docarray_put_mem(da, "new-after-damage", 16,
					       "new\n", 4, NULL, 0), -EUCLEAN);
	assert_int_equal(fsize(dir, "header.bin"), h0);
	assert_int_equal(fsize(dir, "body.bin"), b0);
	assert_int_equal(arfs_docarray_rename(da, m.d[0].name,
					      strlen(m.d[0].name), "renamed", 7,
					      0), 0);
	model_rename(&m, m.d[0].name, "renamed");
	assert_int_equal(arfs_docarray_delete(da, m.d[1].name,
					      strlen(m.d[1].name)), 0);
	model_del_at(&m, 1);
	arfs_docarray_close(da);
	assert_int_equal(run_check(dir, 36), (int)nbad);
	/* verify() wants a clean check: compare listing by hand instead. */
	da = open_da(dir, 36, true);
	{
		char name[NAME_CAP];
		struct arfs_docattr a;
		uint64_t cursor = 0;
		size_t k = 0, len;
		uint8_t *buf;
		while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
			assert_true(k < m.n);
			assert_string_equal(name, m.d[k].name);
			buf = read_doc(da, name, &len, NULL);
			assert_int_equal(len, m.d[k].len);
			assert_memory_equal(buf, m.d[k].data, len);
			free(buf);
			k++;
		}
		assert_int_equal(k, m.n);
	}
	arfs_docarray_close(da);
	/* Compaction drops the bad rows; then the array is sound. */
	da = open_da(dir, 36, false);
	assert_int_equal(arfs_docarray_compact(da), 0);
	put_str(da, &m, "new-after-compact", "new\n");
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

static void test_bad_codepoints(void **state)
{
	static const uint32_t sur[] = { 0xD800, 'b' };
	static const uint32_t big[] = { 0x110000 };
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da;
	struct model m;

	model_fixture(&m, "basic");
	row_set(dir, 36, 1, sur, 2, NULL);
	row_set(dir, 36, 2, big, 1, NULL);
	free(m.d[1].name);
	m.d[1].name = strdup("%{D800}b");
	free(m.d[2].name);
	m.d[2].name = strdup("%{110000}");
	assert_int_equal(run_check(dir, 36), 2);
	da = open_da(dir, 36, false);
	{
		size_t len, k;
		for (k = 0; k < m.n; k++) {
			uint8_t *buf = read_doc(da, m.d[k].name, &len, NULL);
			assert_non_null(buf);
			assert_int_equal(len, m.d[k].len);
			assert_memory_equal(buf, m.d[k].data, len);
			free(buf);
		}
	}
	/* Writable through the escaped name; rename makes it sound. */
	put_str(da, &m, "%{110000}", "replaced through the escape\n");
	assert_int_equal(arfs_docarray_rename(da, "%{D800}b", 8, "b", 1, 0), 0);
	model_rename(&m, "%{D800}b", "b");
	assert_int_equal(arfs_docarray_rename(da, "%{110000}", 9, "c", 1, 0), 0);
	model_rename(&m, "%{110000}", "c");
	/* Replaced, it had a second row at the end: the rename keeps that one. */
	model_move_after(&m, "c", m.d[m.n - 1].name);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

static void test_special_ids(void **state)
{
	static const uint32_t nul[] = { 'x', 0, 'y' };
	static const char *const names[] = { "a%2Fb", "x%00y", "%2E", "%2E%2E",
					      "%00" };
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da;
	struct model m;
	size_t i, len;

	model_fixture(&m, "basic");
	row_set_ascii(dir, 36, 0, "a/b");
	row_set(dir, 36, 1, nul, 3, NULL);
	row_set_ascii(dir, 36, 2, ".");
	row_set_ascii(dir, 36, 3, "..");
	row_set(dir, 36, 4, nul, 0, NULL);
	for (i = 0; i < 5; i++) {
		free(m.d[i].name);
		m.d[i].name = strdup(names[i]);
	}
	verify(dir, 36, &m);
	da = open_da(dir, 36, false);
	for (i = 0; i < 5; i++) {
		uint8_t *buf = read_doc(da, names[i], &len, NULL);
		assert_non_null(buf);
		free(buf);
	}
	/* "." and ".." typed plainly name the same ids. */
	free(read_doc(da, ".", &len, NULL));
	free(read_doc(da, "..", &len, NULL));
	put_str(da, &m, "%2E", "dot replaced\n");
	put_str(da, &m, "a%2Fb", "slash replaced\n");
	assert_int_equal(arfs_docarray_rename(da, "x%00y", 5, "plain", 5, 0), 0);
	model_rename(&m, "x%00y", "plain");
	put_str(da, &m, "100%", "percent\n");
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

static void test_bad_sidecar(void **state)
{
	struct arfs_docarray_opts o = { .key_length = 0 };
	struct arfs_docarray *da;
	struct arfs_docattr a = { .mode = 0600 }, got, a0;
	struct model m;
	char *dir;
	off_t len;

	/* Corrupt magic, version and key length: a clean -EUCLEAN. */
	static const struct {
		off_t off;
		const char *bytes;
		size_t n;
	} bad[] = {
		{ 0, "XRFS", 4 },
		{ 8, "\x09", 1 },
		{ 12, "\0\0\0\0", 4 },
		{ 12, "\xFF\xFF\0\0", 4 },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dir = copy_fixture("basic");
		da = open_da(dir, 36, false);
		assert_int_equal(arfs_docarray_setattr(da, "a", 1, &a,
						       ARFS_ATTR_MODE), 0);
		arfs_docarray_close(da);
		patch_file(dir, ARFS_SIDECAR_NAME, bad[i].off, bad[i].bytes,
			   bad[i].n);
		log_reset();
		o.read_only = false;
		assert_int_equal(arfs_docarray_open(dir, &o, &da), -EUCLEAN);
		assert_non_null(strstr(last_log, ARFS_SIDECAR_NAME));
		o.read_only = true;
		assert_int_equal(arfs_docarray_open(dir, &o, &da), -EUCLEAN);
		assert_true(run_check(dir, 36) > 0);
		free(dir);
	}
	/* Shorter than its own header. */
	dir = copy_fixture("basic");
	da = open_da(dir, 36, false);
	assert_int_equal(arfs_docarray_setattr(da, "a", 1, &a, ARFS_ATTR_MODE), 0);
	arfs_docarray_close(da);
	truncate_file(dir, ARFS_SIDECAR_NAME, 10);
	o.read_only = true;
	assert_int_equal(arfs_docarray_open(dir, &o, &da), -EUCLEAN);
	free(dir);

	/* A partial last record: opens, and writes still work. */
	dir = copy_fixture("basic");
	model_fixture(&m, "basic");
	da = open_da(dir, 36, false);
	assert_int_equal(arfs_docarray_setattr(da, "a", 1, &a, ARFS_ATTR_MODE), 0);
	assert_int_equal(arfs_docarray_setattr(da, "e", 1, &a, ARFS_ATTR_MODE), 0);
	get_attr(da, "b", &a0);
	arfs_docarray_close(da);
	len = fsize(dir, ARFS_SIDECAR_NAME);
	assert_int_equal(len, 32 + 5 * 64);
	truncate_file(dir, ARFS_SIDECAR_NAME, len - 12);
	/* the trace of an interrupted append: a warning, not a problem */
	assert_int_equal(run_check(dir, 36), 0);
	da = open_da(dir, 36, false);
	/* a read-write open cuts it off */
	assert_int_equal(fsize(dir, ARFS_SIDECAR_NAME), 32 + 4 * 64);
	assert_int_equal(arfs_docarray_count(da), 5);
	get_attr(da, "a", &got);
	assert_int_equal(got.mode, 0600);
	get_attr(da, "e", &got); /* its record is cut: defaults */
	assert_int_equal(got.mode, 0644);
	put_str(da, &m, "f", "foxtrot\n");
	/* Extending the sidecar must not revive the cut record half-zeroed. */
	get_attr(da, "e", &got);
	assert_int_equal(got.mode, 0644);
	assert_int_equal(got.uid, a0.uid);
	put_str(da, &m, "e", "echo 2\n");
	arfs_docarray_close(da);
	da = open_da(dir, 36, true);
	get_attr(da, "a", &got);
	assert_int_equal(got.mode, 0600);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

/* ---- runner ---- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_list),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_bad_header_size),
		cmocka_unit_test(test_bad_extents),
		cmocka_unit_test(test_bad_codepoints),
		cmocka_unit_test(test_special_ids),
		cmocka_unit_test(test_bad_sidecar),
	};

	/* ARFS_TEST_FILTER=test_threads runs only the tests matching it. */
	if (getenv("ARFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ARFS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
