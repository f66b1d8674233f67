/*
 * test_docarray_write.c - the document-array engine of core/docarray/:
 * commits.
 *
 * Covers writes on copies (put new/replace/EXCL, delete, rename to a free
 * name and over an existing one in both row orders, setattr, atime/ctime,
 * docno stability, a version 1 sidecar), each checked against a content
 * model after a reopen, plus the header-row rules DocArray needs (p page
 * aligned, p+r = offset, e-r = length, appends at the old end of
 * body.bin). Shared helpers: testutil_docarray.c.
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

/* ---- header rows ---- */

/* The row holding name's bytes matches (off, len). */
static void check_data_row(const char *dir, unsigned K, uint64_t row,
			   uint64_t off, uint64_t len)
{
	size_t hlen;
	uint8_t *hb = slurp(dir, "header.bin", &hlen);
	int64_t ext[3];

	assert_true((row + 1) * row_size(K) <= hlen);
	row_get(hb, K, row, ext);
	assert_int_equal(ext[0] % PAGE, 0);
	assert_int_equal(ext[0] + ext[1], off);
	assert_int_equal(ext[2] - ext[1], len);
	free(hb);
}

/* ---- writes ---- */

/* Put and check that the bytes went to the old end of body.bin. */
static void put_at_end(struct arfs_docarray *da, const char *dir, unsigned K,
		       struct model *m, const char *name, const void *data,
		       size_t len)
{
	off_t before = fsize(dir, "body.bin");
	struct arfs_docref ref;

	assert_int_equal(arfs_docarray_put_mem(da, name, strlen(name), data,
					       len, NULL, 0), 0);
	model_put(m, name, data, len);
	assert_int_equal(fsize(dir, "body.bin"), before + (off_t)len);
	assert_int_equal(arfs_docarray_lookup(da, name, strlen(name), &ref), 0);
	assert_int_equal(ref.off, before);
	assert_int_equal(ref.len, len);
	check_data_row(dir, K, ref.row, (uint64_t)before, len);
	arfs_docref_release(&ref);
}

static void test_put_new(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	uint8_t *big = malloc(10000);
	struct model m;
	size_t i;

	model_fixture(&m, "basic");
	for (i = 0; i < 10000; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	put_at_end(da, dir, 36, &m, "f", "foxtrot\n", 8);
	put_at_end(da, dir, 36, &m, "big", big, 10000);
	/* Starts past the first page: p = 8192, r = 1847. */
	put_at_end(da, dir, 36, &m, "g", "golf\n", 5);
	put_at_end(da, dir, 36, &m, "empty", "", 0);
	assert_true(exists(dir, ARFS_SIDECAR_NAME));
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	/* The sidecar remembers the key length. */
	da = open_da(dir, 0, false);
	assert_int_equal(arfs_docarray_key_length(da), 36);
	arfs_docarray_close(da);
	model_free(&m);
	free(big);
	free(dir);
}

static void test_put_replace(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	struct model m;

	model_fixture(&m, "basic");
	put_at_end(da, dir, 36, &m, "c", "CHARLIE, longer now\n", 20);
	put_at_end(da, dir, 36, &m, "e", "e\n", 2);
	put_at_end(da, dir, 36, &m, "a", "", 0);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);

	/* The last row is a tombstone: appends go to the old body size. */
	dir = copy_fixture("updated_deleted");
	assert_int_equal(fsize(dir, "body.bin"), 1035);
	da = open_da(dir, 36, false);
	model_fixture(&m, "updated_deleted");
	put_at_end(da, dir, 36, &m, "new", "a new document\n", 15);
	/* d18 has two live rows (14 and 18); it keeps its place. */
	put_at_end(da, dir, 36, &m, "d18", "d18 replaced\n", 13);
	put_at_end(da, dir, 36, &m, "d13", "d13 replaced\n", 13);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

static void test_delete(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	off_t body = fsize(dir, "body.bin");
	struct model m;

	model_fixture(&m, "basic");
	assert_int_equal(arfs_docarray_delete(da, "e", 1), 0);
	model_del(&m, "e");
	assert_int_equal(arfs_docarray_delete(da, "a", 1), 0);
	model_del(&m, "a");
	assert_int_equal(arfs_docarray_delete(da, "a", 1), -ENOENT);
	assert_int_equal(arfs_docarray_delete(da, "zz", 2), -ENOENT);
	assert_int_equal(fsize(dir, "body.bin"), body);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	/* Delete all, then put again. */
	da = open_da(dir, 36, false);
	assert_int_equal(arfs_docarray_delete(da, "b", 1), 0);
	assert_int_equal(arfs_docarray_delete(da, "c", 1), 0);
	assert_int_equal(arfs_docarray_delete(da, "d", 1), 0);
	assert_int_equal(arfs_docarray_count(da), 0);
	model_free(&m);
	put_str(da, &m, "d", "delta again\n");
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);

	/* keylen8: "document" has two rows; both must go. */
	dir = copy_fixture("keylen8");
	da = open_da(dir, 8, false);
	model_fixture(&m, "keylen8");
	assert_int_equal(arfs_docarray_delete(da, "document", 8), 0);
	model_del(&m, "document");
	assert_int_equal(arfs_docarray_lookup(da, "document", 8,
					      &(struct arfs_docref){ 0 }),
			 -ENOENT);
	arfs_docarray_close(da);
	verify(dir, 8, &m);
	model_free(&m);
	free(dir);

	/* updated_deleted: d13 has a tombstone row with its id before it. */
	dir = copy_fixture("updated_deleted");
	da = open_da(dir, 36, false);
	model_fixture(&m, "updated_deleted");
	assert_int_equal(arfs_docarray_delete(da, "d13", 3), 0);
	model_del(&m, "d13");
	assert_int_equal(arfs_docarray_delete(da, "d18", 3), 0);
	model_del(&m, "d18");
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

static void test_rename_free(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	off_t body = fsize(dir, "body.bin"), hdr = fsize(dir, "header.bin");
	struct arfs_docattr before, after;
	struct model m;

	model_fixture(&m, "basic");
	get_attr(da, "b", &before);
	assert_int_equal(arfs_docarray_rename(da, "b", 1, "bee", 3, 0), 0);
	model_rename(&m, "b", "bee");
	get_attr(da, "bee", &after);
	assert_int_equal(after.docno, before.docno);
	assert_int_equal(arfs_docarray_rename(da, "b", 1, "x", 1, 0), -ENOENT);
	/* Same name: nothing to do. */
	assert_int_equal(arfs_docarray_rename(da, "a", 1, "a", 1, 0), 0);
	/* A rename writes no body bytes and no new row. */
	assert_int_equal(fsize(dir, "body.bin"), body);
	assert_int_equal(fsize(dir, "header.bin"), hdr);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	da = open_da(dir, 36, true);
	get_attr(da, "bee", &after);
	assert_int_equal(after.docno, before.docno);
	arfs_docarray_close(da);
	model_free(&m);
	free(dir);

	/*
	 * keylen8: renaming "document" (rows 4 and 6) first retires the
	 * shadowed row 4, so the document now sits at row 6, after "zz".
	 */
	dir = copy_fixture("keylen8");
	da = open_da(dir, 8, false);
	model_fixture(&m, "keylen8");
	assert_int_equal(arfs_docarray_rename(da, "document", 8, "doc2", 4, 0), 0);
	model_rename(&m, "document", "doc2");
	assert_string_equal(m.d[4].name, "doc2");
	assert_string_equal(m.d[5].name, "zz");
	{
		struct mdoc t = m.d[4];
		m.d[4] = m.d[5];
		m.d[5] = t;
	}
	arfs_docarray_close(da);
	verify(dir, 8, &m);
	model_free(&m);
	free(dir);
}

static void test_rename_over(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	struct arfs_docattr a, da_d, da_a;
	struct model m;

	model_fixture(&m, "basic");
	a.mode = 0600;
	assert_int_equal(arfs_docarray_setattr(da, "d", 1, &a, ARFS_ATTR_MODE), 0);
	get_attr(da, "d", &da_d);
	get_attr(da, "a", &da_a);
	/* Old row (3) after the target's row (1). */
	assert_int_equal(arfs_docarray_rename(da, "d", 1, "b", 1, 0), 0);
	model_rename(&m, "d", "b");
	get_attr(da, "b", &a);
	assert_int_equal(a.docno, da_d.docno);
	assert_int_equal(a.mode, 0600);
	/* Old row (0) before the target's row (2). */
	assert_int_equal(arfs_docarray_rename(da, "a", 1, "c", 1, 0), 0);
	model_rename(&m, "a", "c");
	get_attr(da, "c", &a);
	assert_int_equal(a.docno, da_a.docno);
	assert_int_equal(arfs_docarray_lookup(da, "a", 1, &(struct arfs_docref){ 0 }),
			 -ENOENT);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	da = open_da(dir, 36, true);
	get_attr(da, "b", &a);
	assert_int_equal(a.docno, da_d.docno);
	assert_int_equal(a.mode, 0600);
	get_attr(da, "c", &a);
	assert_int_equal(a.docno, da_a.docno);
	arfs_docarray_close(da);
	model_free(&m);
	free(dir);

	/* Over a target with duplicate rows (keylen8 "document"). */
	dir = copy_fixture("keylen8");
	da = open_da(dir, 8, false);
	model_fixture(&m, "keylen8");
	assert_int_equal(arfs_docarray_rename(da, "zz", 2, "document", 8, 0), 0);
	model_rename(&m, "zz", "document");
	arfs_docarray_close(da);
	verify(dir, 8, &m);
	model_free(&m);
	free(dir);
}

static void test_excl(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	size_t hl0, bl0, hl1, bl1;
	uint8_t *h0 = slurp(dir, "header.bin", &hl0);
	uint8_t *b0 = slurp(dir, "body.bin", &bl0), *h1, *b1;
	struct model m;

	model_fixture(&m, "basic");
	assert_int_equal(arfs_docarray_rename(da, "a", 1, "b", 1, ARFS_PUT_EXCL),
			 -EEXIST);
	assert_int_equal(arfs_docarray_put_mem(da, "c", 1, "x", 1, NULL,
					       ARFS_PUT_EXCL), -EEXIST);
	h1 = slurp(dir, "header.bin", &hl1);
	b1 = slurp(dir, "body.bin", &bl1);
	assert_int_equal(hl0, hl1);
	assert_int_equal(bl0, bl1);
	assert_memory_equal(h0, h1, hl0);
	assert_memory_equal(b0, b1, bl0);
	assert_int_equal(arfs_docarray_rename(da, "a", 1, "z", 1, ARFS_PUT_EXCL), 0);
	model_rename(&m, "a", "z");
	assert_int_equal(arfs_docarray_put_mem(da, "y", 1, "yankee\n", 7, NULL,
					       ARFS_PUT_EXCL | ARFS_PUT_FSYNC), 0);
	model_put(&m, "y", "yankee\n", 7);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(h0);
	free(b0);
	free(h1);
	free(b1);
	free(dir);
}

static void test_setattr(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	struct arfs_docattr a = { .mtime_sec = 1234567890,
				  .mtime_nsec = 123456789, .mode = 0600,
				  .uid = 1001, .gid = 1002 }, got, a0;
	struct model m;

	model_fixture(&m, "basic");
	get_attr(da, "a", &a0);
	assert_int_equal(a0.mode, 0644);
	assert_int_equal(arfs_docarray_setattr(da, "b", 1, &a,
					       ARFS_ATTR_MTIME | ARFS_ATTR_MODE |
					       ARFS_ATTR_UID | ARFS_ATTR_GID), 0);
	a.mode = 04755;
	assert_int_equal(arfs_docarray_setattr(da, "c", 1, &a, ARFS_ATTR_MODE), 0);
	assert_int_equal(arfs_docarray_setattr(da, "q", 1, &a, ARFS_ATTR_MODE),
			 -ENOENT);
	arfs_docarray_close(da);

	da = open_da(dir, 36, false);
	get_attr(da, "b", &got);
	assert_int_equal(got.mtime_sec, 1234567890);
	assert_int_equal(got.mtime_nsec, 123456789);
	assert_int_equal(got.mode, 0600);
	assert_int_equal(got.uid, 1001);
	assert_int_equal(got.gid, 1002);
	get_attr(da, "c", &got);
	assert_int_equal(got.mode, 04755);
	assert_int_equal(got.uid, a0.uid);
	assert_int_equal(got.mtime_sec, a0.mtime_sec);
	get_attr(da, "a", &got);
	assert_int_equal(got.mode, 0644);
	assert_int_equal(got.mtime_sec, a0.mtime_sec);
	assert_int_equal(got.mtime_nsec, a0.mtime_nsec);
	/* A replace with attr NULL keeps mode and owner, sets mtime now. */
	put_str(da, &m, "b", "bravo 2\n");
	arfs_docarray_close(da);
	da = open_da(dir, 36, true);
	get_attr(da, "b", &got);
	assert_int_equal(got.mode, 0600);
	assert_int_equal(got.uid, 1001);
	assert_int_equal(got.gid, 1002);
	assert_true(got.mtime_sec > 1234567890);
	arfs_docarray_close(da);
	/* A put with attributes records them. */
	da = open_da(dir, 36, false);
	a.mode = 0640;
	a.mtime_sec = 42;
	a.mtime_nsec = 999999999;
	assert_int_equal(arfs_docarray_put_mem(da, "n", 1, "n\n", 2, &a, 0), 0);
	model_put(&m, "n", "n\n", 2);
	arfs_docarray_close(da);
	da = open_da(dir, 36, true);
	get_attr(da, "n", &got);
	assert_int_equal(got.mode, 0640);
	assert_int_equal(got.mtime_sec, 42);
	assert_int_equal(got.mtime_nsec, 999999999);
	arfs_docarray_close(da);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

/* docno per name for every listed document. */
struct docnos {
	char names[64][NAME_CAP];
	uint64_t no[64];
	size_t n;
};

static void collect_docnos(const char *dir, unsigned K, struct docnos *d)
{
	struct arfs_docarray *da = open_da(dir, K, true);
	struct arfs_docattr a;
	uint64_t cursor = 0;
	size_t i;

	d->n = 0;
	while (d->n < 64 && arfs_docarray_next(da, &cursor, d->names[d->n],
					       NAME_CAP, &a) == 0) {
		for (i = 0; i < d->n; i++)
			assert_true(d->no[i] != a.docno);
		d->no[d->n++] = a.docno;
	}
	arfs_docarray_close(da);
}

static uint64_t docno_of(const struct docnos *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (!strcmp(d->names[i], name))
			return d->no[i];
	fail_msg("%s not listed", name);
	return 0;
}

static void test_docno_stable(void **state)
{
	char *dir = copy_fixture("updated_deleted");
	struct docnos *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct arfs_docarray *da;
	size_t i;

	collect_docnos(dir, 36, a);
	collect_docnos(dir, 36, b);
	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_int_equal(a->no[i], b->no[i]);
	da = open_da(dir, 36, false);
	assert_int_equal(arfs_docarray_put_mem(da, "n1", 2, "1", 1, NULL, 0), 0);
	assert_int_equal(arfs_docarray_put_mem(da, "d00", 3, "0", 1, NULL, 0), 0);
	assert_int_equal(arfs_docarray_rename(da, "d03", 3, "r03", 3, 0), 0);
	assert_int_equal(arfs_docarray_rename(da, "d04", 3, "d09", 3, 0), 0);
	assert_int_equal(arfs_docarray_rename(da, "d17", 3, "d15", 3, 0), 0);
	assert_int_equal(arfs_docarray_delete(da, "d11", 3), 0);
	arfs_docarray_close(da);
	collect_docnos(dir, 36, b);
	/* Unchanged documents, replaced ones and rename sources keep theirs. */
	for (i = 0; i < a->n; i++) {
		const char *n = a->names[i];
		if (!strcmp(n, "d03") || !strcmp(n, "d04") || !strcmp(n, "d09") ||
		    !strcmp(n, "d17") || !strcmp(n, "d15") || !strcmp(n, "d11"))
			continue;
		assert_int_equal(docno_of(b, n), a->no[i]);
	}
	assert_int_equal(docno_of(b, "r03"), docno_of(a, "d03"));
	assert_int_equal(docno_of(b, "d09"), docno_of(a, "d04"));
	assert_int_equal(docno_of(b, "d15"), docno_of(a, "d17"));
	/* Across compaction too. */
	collect_docnos(dir, 36, a);
	da = open_da(dir, 36, false);
	assert_int_equal(arfs_docarray_compact(da), 0);
	arfs_docarray_close(da);
	collect_docnos(dir, 36, b);
	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_string_equal(a->names[i], b->names[i]);
		assert_int_equal(a->no[i], b->no[i]);
	}
	free(a);
	free(b);
	free(dir);
}

/*
 * atime is kept and set only when asked; ctime becomes now at every
 * setattr and put, whatever mtime is set to.
 */
static void test_atime_ctime(void **state)
{
	char *dir = copy_fixture("basic");
	struct arfs_docarray *da = open_da(dir, 36, false);
	struct arfs_docattr a = { .atime_sec = 100000000, .atime_nsec = 7,
				  .mtime_sec = 200000000, .mtime_nsec = 9 }, got;
	time_t t0 = time(NULL);

	assert_int_equal(arfs_docarray_setattr(da, "b", 1, &a,
					       ARFS_ATTR_ATIME | ARFS_ATTR_MTIME), 0);
	a.atime_sec = 1;
	assert_int_equal(arfs_docarray_setattr(da, "c", 1, &a, ARFS_ATTR_MODE), 0);
	arfs_docarray_close(da);
	da = open_da(dir, 36, true);
	get_attr(da, "b", &got);
	assert_int_equal(got.atime_sec, 100000000);
	assert_int_equal(got.atime_nsec, 7);
	assert_int_equal(got.mtime_sec, 200000000);
	assert_int_equal(got.mtime_nsec, 9);
	assert_true(got.ctime_sec >= t0);
	get_attr(da, "c", &got);
	assert_true(got.atime_sec != 1);
	assert_true(got.ctime_sec >= t0);
	arfs_docarray_close(da);
	/* A replace keeps atime; ARFS_PUT_MTIME stamps mtime and ctime. */
	da = open_da(dir, 36, false);
	a.mtime_sec = 300000000;
	a.mtime_nsec = 11;
	assert_int_equal(arfs_docarray_put(da, "b", 1, NULL, NULL, 0, &a,
					   ARFS_PUT_MTIME, &got), 0);
	assert_int_equal(got.mtime_sec, 300000000);
	assert_int_equal(got.ctime_sec, 300000000);
	assert_int_equal(got.ctime_nsec, 11);
	assert_int_equal(got.atime_sec, 100000000);
	/* A new document starts with atime = mtime = ctime. */
	assert_int_equal(arfs_docarray_put_mem(da, "new", 3, "n", 1, NULL, 0), 0);
	get_attr(da, "new", &got);
	assert_int_equal(got.atime_sec, got.mtime_sec);
	assert_int_equal(got.atime_nsec, got.mtime_nsec);
	assert_int_equal(got.ctime_sec, got.mtime_sec);
	assert_true(got.mtime_sec >= t0);
	arfs_docarray_close(da);
	assert_int_equal(run_check(dir, 36), 0);
	free(dir);
}

/* A version 1 sidecar: read as it is read-only, upgraded read-write. */
static void test_sidecar_v1(void **state)
{
	char *dir = copy_fixture("basic");
	uint8_t hdr[32] = "ARFSMETA", rec[32], v[4];
	struct arfs_docarray *da;
	struct arfs_docattr got;
	struct model m;
	char *p = path_in(dir, ARFS_SIDECAR_NAME);
	FILE *f = fopen(p, "wb");
	int i;

	assert_non_null(f);
	put_le32(hdr + 8, 1);
	put_le32(hdr + 12, 36);
	assert_int_equal(fwrite(hdr, 1, 32, f), 32);
	for (i = 0; i < 5; i++) {
		put_le64(rec, 100 + (uint64_t)i);
		put_le64(rec + 8, 1000 + (uint64_t)i);
		put_le32(rec + 16, 5);
		put_le32(rec + 20, 0600);
		put_le32(rec + 24, 7);
		put_le32(rec + 28, 8);
		assert_int_equal(fwrite(rec, 1, 32, f), 32);
	}
	assert_int_equal(fwrite(rec, 1, 12, f), 12); /* a partial record */
	fclose(f);
	free(p);
	model_fixture(&m, "basic");

	da = open_da(dir, 36, true);
	get_attr(da, "c", &got);
	assert_int_equal(got.docno, 102);
	assert_int_equal(got.mtime_sec, 1002);
	assert_int_equal(got.atime_sec, 1002);
	assert_int_equal(got.ctime_sec, 1002);
	assert_int_equal(got.mode, 0600);
	arfs_docarray_close(da);
	assert_int_equal(fsize(dir, ARFS_SIDECAR_NAME), 32 + 5 * 32 + 12);

	da = open_da(dir, 36, false);
	assert_int_equal(fsize(dir, ARFS_SIDECAR_NAME), 32 + 5 * 64);
	get_attr(da, "e", &got);
	assert_int_equal(got.docno, 104);
	assert_int_equal(got.mtime_sec, 1004);
	assert_int_equal(got.mtime_nsec, 5);
	assert_int_equal(got.atime_sec, 1004);
	assert_int_equal(got.atime_nsec, 5);
	assert_int_equal(got.uid, 7);
	assert_int_equal(got.gid, 8);
	put_str(da, &m, "f", "foxtrot\n");
	get_attr(da, "f", &got);
	assert_int_equal(got.docno, 105);
	arfs_docarray_close(da);
	p = path_in(dir, ARFS_SIDECAR_NAME);
	f = fopen(p, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 8, SEEK_SET), 0);
	assert_int_equal(fread(v, 1, 4, f), 4);
	assert_int_equal(get_le32(v), 2);
	fclose(f);
	free(p);
	assert_false(exists(dir, ARFS_SIDECAR_NAME ".tmp"));
	assert_int_equal(run_check(dir, 36), 0);
	verify(dir, 36, &m);
	model_free(&m);
	free(dir);
}

/* ---- runner ---- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_new),
		cmocka_unit_test(test_put_replace),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_rename_free),
		cmocka_unit_test(test_rename_over),
		cmocka_unit_test(test_excl),
		cmocka_unit_test(test_setattr),
		cmocka_unit_test(test_atime_ctime),
		cmocka_unit_test(test_sidecar_v1),
		cmocka_unit_test(test_docno_stable),
	};

	/* ARFS_TEST_FILTER=test_threads runs only the tests matching it. */
	if (getenv("ARFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ARFS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
