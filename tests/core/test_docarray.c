/*
 * test_docarray.c - the document-array engine of core/docarray/.
 *
 * Covers:
 *  - every DocArray fixture opens read-only and lists exactly its
 *    expected.json "docs" (ids, order, lengths, sha256 of the bytes);
 *  - writes on copies (put new/replace/EXCL, delete, rename to a free name
 *    and over an existing one in both row orders, setattr, docno stability,
 *    compact), each checked against a content model after a reopen, plus
 *    the header-row rules DocArray needs (p page aligned, p+r = offset,
 *    e-r = length, appends at the old end of body.bin);
 *  - ids longer than key_length (-ENAMETOOLONG, nothing written);
 *  - damaged copies: bad header size, bad extents, invalid code points,
 *    ids with '/', NUL, ".", "..", a corrupt or truncated sidecar;
 *  - interrupted compaction (roll forward with the marker, back without);
 *  - I/O faults (ENOSPC from pwrite, EIO from fsync/rename) at every call
 *    of an operation: after a reopen each document is old or new, never
 *    torn;
 *  - kill -9 of a child process in a commit loop, then reopen and verify;
 *  - four reader threads against one writer.
 * Seeds are fixed; the whole runner stays well under a minute with ASan.
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

#define NAME_CAP 1024
#define PAGE 4096

/* ---- log capture ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_log[1024];
static int log_count;

static void log_sink(enum arfs_log_level level, const char *msg)
{
	pthread_mutex_lock(&log_lock);
	snprintf(last_log, sizeof(last_log), "%s", msg);
	log_count++;
	pthread_mutex_unlock(&log_lock);
	if (getenv("ARFS_TEST_VERBOSE"))
		fprintf(stderr, "log: %s\n", msg);
}

static void log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	last_log[0] = '\0';
	log_count = 0;
	pthread_mutex_unlock(&log_lock);
}

/* ---- scratch directories and files ---- */

static char *scratch_root;

static char *fixture_dir(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/docarray/%s", tu_fixtures(), name) < 0)
		abort();
	return p;
}

static char *path_in(const char *dir, const char *file)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		abort();
	return p;
}

/* A fresh writable copy of fixture `name`; free() the path. */
static char *copy_fixture(const char *name)
{
	static int seq;
	char *src = fixture_dir(name), *dst;

	if (asprintf(&dst, "%s/%s-%d", scratch_root, name, seq++) < 0)
		abort();
	tu_copydir(src, dst);
	free(src);
	return dst;
}

static char *new_dir(const char *tag)
{
	static int seq;
	char *dst;

	if (asprintf(&dst, "%s/%s-n%d", scratch_root, tag, seq++) < 0)
		abort();
	return dst;
}

static off_t fsize(const char *dir, const char *file)
{
	char *p = path_in(dir, file);
	struct stat st;
	off_t n = stat(p, &st) ? -1 : st.st_size;

	free(p);
	return n;
}

static bool exists(const char *dir, const char *file)
{
	return fsize(dir, file) >= 0;
}

static uint8_t *slurp(const char *dir, const char *file, size_t *len)
{
	char *p = path_in(dir, file);
	uint8_t *b = tu_readfile(p, len);

	free(p);
	return b;
}

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

static size_t row_size(unsigned K)
{
	return (size_t)K * 4 + 24;
}

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

static void row_get(const uint8_t *hb, unsigned K, uint64_t row, int64_t ext[3])
{
	const uint8_t *e = hb + row * row_size(K) + (size_t)K * 4;

	ext[0] = (int64_t)get_le64(e);
	ext[1] = (int64_t)get_le64(e + 8);
	ext[2] = (int64_t)get_le64(e + 16);
}

static bool is_tomb(const int64_t ext[3])
{
	return ext[0] == -1 && ext[1] == -1 && ext[2] == -1;
}

/*
 * DocArray's rules for every live row: p a multiple of the page, 0 <= r <
 * page, r <= e, and the bytes inside body.bin.
 */
static void check_rows(const char *dir, unsigned K)
{
	size_t hlen, rows, i;
	uint8_t *hb = slurp(dir, "header.bin", &hlen);
	off_t body = fsize(dir, "body.bin");
	int64_t ext[3];

	assert_non_null(hb);
	assert_int_equal(hlen % row_size(K), 0);
	rows = hlen / row_size(K);
	for (i = 0; i < rows; i++) {
		row_get(hb, K, i, ext);
		if (is_tomb(ext))
			continue;
		if (ext[0] < 0 || ext[0] % PAGE || ext[1] < 0 ||
		    ext[1] >= PAGE || ext[2] < ext[1] || ext[0] + ext[2] > body)
			fail_msg("%s: row %zu: p=%" PRId64 " r=%" PRId64
				 " e=%" PRId64 " body %lld", dir, i, ext[0],
				 ext[1], ext[2], (long long)body);
	}
	free(hb);
}

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

/* ---- content model ---- */

struct mdoc {
	char *name;
	uint8_t *data;
	size_t len;
};

struct model {
	struct mdoc *d;
	size_t n, cap;
};

static void model_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->d[i].name);
		free(m->d[i].data);
	}
	free(m->d);
	memset(m, 0, sizeof(*m));
}

static ssize_t model_find(const struct model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->d[i].name, name))
			return (ssize_t)i;
	return -1;
}

static void model_set(struct mdoc *d, const char *name, const void *data,
		      size_t len)
{
	d->name = strdup(name);
	d->data = malloc(len ? len : 1);
	memcpy(d->data, data, len);
	d->len = len;
}

static void model_put(struct model *m, const char *name, const void *data,
		      size_t len)
{
	ssize_t i = model_find(m, name);
	struct mdoc *d;

	if (i >= 0) {
		/* name may be this entry's own name: replace the data only. */
		d = &m->d[i];
		free(d->data);
		d->data = malloc(len ? len : 1);
		memcpy(d->data, data, len);
		d->len = len;
		return;
	} else {
		if (m->n == m->cap) {
			m->cap = m->cap ? m->cap * 2 : 16;
			m->d = realloc(m->d, m->cap * sizeof(*m->d));
		}
		d = &m->d[m->n++];
	}
	model_set(d, name, data, len);
}

static void model_del_at(struct model *m, size_t i)
{
	free(m->d[i].name);
	free(m->d[i].data);
	memmove(&m->d[i], &m->d[i + 1], (m->n - i - 1) * sizeof(*m->d));
	m->n--;
}

static void model_del(struct model *m, const char *name)
{
	ssize_t i = model_find(m, name);

	assert_true(i >= 0);
	model_del_at(m, (size_t)i);
}

/*
 * Rename: in place to a free name; over an existing document the result
 * takes the later of the two places (the engine rewrites whichever row
 * comes last: docarray/delete.c, rename_over()).
 */
static void model_rename(struct model *m, const char *old, const char *new)
{
	ssize_t o = model_find(m, old), t = model_find(m, new);

	assert_true(o >= 0);
	if (t < 0) {
		free(m->d[o].name);
		m->d[o].name = strdup(new);
		return;
	}
	if (o > t) {
		free(m->d[o].name);
		m->d[o].name = strdup(new);
		model_del_at(m, (size_t)t);
		return;
	}
	free(m->d[t].data);
	m->d[t].data = m->d[o].data;
	m->d[t].len = m->d[o].len;
	m->d[o].data = NULL;
	model_del_at(m, (size_t)o);
}

/* Move document `name` to the place right after document `after`. */
static void model_move_after(struct model *m, const char *name,
			     const char *after)
{
	ssize_t i = model_find(m, name), j;
	struct mdoc t;

	assert_true(i >= 0);
	t = m->d[i];
	memmove(&m->d[i], &m->d[i + 1], (m->n - (size_t)i - 1) * sizeof(t));
	m->n--;
	j = model_find(m, after) + 1;
	assert_true(j > 0);
	memmove(&m->d[j + 1], &m->d[j], (m->n - (size_t)j) * sizeof(t));
	m->d[j] = t;
	m->n++;
}

static void model_copy(struct model *dst, const struct model *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++)
		model_put(dst, src->d[i].name, src->d[i].data, src->d[i].len);
}

static json_t *load_expected(const char *fixture)
{
	char *dir = fixture_dir(fixture), *p = path_in(dir, "expected.json");
	json_error_t err;
	json_t *root = json_load_file(p, 0, &err);

	if (!root)
		fail_msg("%s: %s", p, err.text);
	free(p);
	free(dir);
	return root;
}

/* The model of a fixture: expected.json's docs with bytes from body.bin. */
static void model_fixture(struct model *m, const char *fixture)
{
	json_t *root = load_expected(fixture), *doc;
	char *dir = fixture_dir(fixture);
	size_t blen, i;
	uint8_t *body = slurp(dir, "body.bin", &blen);

	memset(m, 0, sizeof(*m));
	assert_non_null(body);
	json_array_foreach(json_object_get(root, "docs"), i, doc) {
		size_t off = (size_t)json_integer_value(json_object_get(doc, "offset"));
		size_t len = (size_t)json_integer_value(json_object_get(doc, "length"));
		assert_true(off + len <= blen);
		model_put(m, json_string_value(json_object_get(doc, "id")),
			  body + off, len);
	}
	free(body);
	free(dir);
	json_decref(root);
}

/* ---- opening and reading ---- */

static struct arfs_docarray *open_da(const char *dir, unsigned K, bool ro)
{
	struct arfs_docarray_opts o = { .key_length = K, .read_only = ro };
	struct arfs_docarray *da = NULL;
	int rc = arfs_docarray_open(dir, &o, &da);

	if (rc)
		fail_msg("open %s: %s", dir, strerror(-rc));
	return da;
}

/* Read a whole document through pread and view (must agree): malloc'd. */
static uint8_t *read_doc(struct arfs_docarray *da, const char *name,
			 size_t *len, struct arfs_docref *keep)
{
	struct arfs_docref ref;
	const void *view;
	uint8_t *buf;
	int err;

	if (arfs_docarray_lookup(da, name, strlen(name), &ref))
		return NULL;
	buf = malloc(ref.len + 1);
	assert_int_equal(arfs_docref_pread(&ref, buf, ref.len, 0), ref.len);
	view = arfs_docref_view(&ref, &err);
	assert_non_null(view);
	assert_memory_equal(view, buf, ref.len);
	*len = ref.len;
	if (keep)
		*keep = ref;
	else
		arfs_docref_release(&ref);
	return buf;
}

static void get_attr(struct arfs_docarray *da, const char *name,
		     struct arfs_docattr *a)
{
	struct arfs_docref ref;

	assert_int_equal(arfs_docarray_lookup(da, name, strlen(name), &ref), 0);
	*a = ref.attr;
	arfs_docref_release(&ref);
}

static void count_report(void *ctx, const char *msg)
{
	if (strncmp(msg, "warning: ", 9))
		(*(int *)ctx)++;
	if (getenv("ARFS_TEST_VERBOSE"))
		fprintf(stderr, "check: %s\n", msg);
}

static int run_check(const char *dir, unsigned K)
{
	int n = 0, rc = arfs_docarray_check(dir, K, count_report, &n);

	assert_true(rc >= 0);
	assert_int_equal(rc, n);
	return rc;
}

/*
 * Reopen read-only and compare the engine's view with the model (the
 * files on disk may be mid-compaction: the view is what counts).
 */
static void verify_open(struct arfs_docarray *da, const struct model *m)
{
	const char *dir = "(open handle)";
	struct arfs_docattr a;
	char name[NAME_CAP];
	uint64_t cursor = 0;
	size_t i = 0, len;
	uint8_t *buf;

	while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
		if (i >= m->n)
			fail_msg("%s: extra document %s", dir, name);
		if (strcmp(name, m->d[i].name))
			fail_msg("%s: document %zu is %s, want %s", dir, i, name,
				 m->d[i].name);
		assert_int_equal(a.size, m->d[i].len);
		buf = read_doc(da, name, &len, NULL);
		assert_non_null(buf);
		assert_int_equal(len, m->d[i].len);
		assert_memory_equal(buf, m->d[i].data, len);
		free(buf);
		i++;
	}
	if (i != m->n)
		fail_msg("%s: %zu documents listed, want %zu", dir, i, m->n);
	assert_int_equal(arfs_docarray_count(da), m->n);
}

static void verify_view(const char *dir, unsigned K, const struct model *m)
{
	struct arfs_docarray *da = open_da(dir, K, true);

	verify_open(da, m);
	arfs_docarray_close(da);
	assert_int_equal(run_check(dir, K), 0);
}

/* verify_view(), and header.bin itself follows DocArray's row rules. */
static void verify(const char *dir, unsigned K, const struct model *m)
{
	verify_view(dir, K, m);
	check_rows(dir, K);
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

/* ---- writes ---- */

static void put_str(struct arfs_docarray *da, struct model *m,
		    const char *name, const char *data)
{
	assert_int_equal(arfs_docarray_put_mem(da, name, strlen(name), data,
					       strlen(data), NULL, 0), 0);
	model_put(m, name, data, strlen(data));
}

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

/* ---- compaction ---- */

static void attrs_snapshot(const char *dir, unsigned K,
			   struct arfs_docattr *out, size_t cap, size_t *n)
{
	struct arfs_docarray *da = open_da(dir, K, true);
	char name[NAME_CAP];
	uint64_t cursor = 0;

	*n = 0;
	while (*n < cap && arfs_docarray_next(da, &cursor, name, sizeof(name),
					      &out[*n]) == 0)
		(*n)++;
	arfs_docarray_close(da);
}

static void attrs_equal(const struct arfs_docattr *a,
			const struct arfs_docattr *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(a[i].docno, b[i].docno);
		assert_int_equal(a[i].size, b[i].size);
		assert_int_equal(a[i].mtime_sec, b[i].mtime_sec);
		assert_int_equal(a[i].mtime_nsec, b[i].mtime_nsec);
		assert_int_equal(a[i].mode, b[i].mode);
		assert_int_equal(a[i].uid, b[i].uid);
		assert_int_equal(a[i].gid, b[i].gid);
	}
}

static size_t live_bytes(const struct model *m)
{
	size_t i, s = 0;

	for (i = 0; i < m->n; i++)
		s += m->d[i].len;
	return s;
}

static void no_leftovers(const char *dir)
{
	assert_false(exists(dir, "arrayfs.compact"));
	assert_false(exists(dir, "body.bin.compact"));
	assert_false(exists(dir, "header.bin.compact"));
	assert_false(exists(dir, ARFS_SIDECAR_NAME ".compact"));
}

/* Dirty an array a little: replaced bytes, a rename, an attribute. */
static void dirty(const char *dir, unsigned K, struct model *m)
{
	struct arfs_docarray *da = open_da(dir, K, false);
	struct arfs_docattr a = { .mode = 0400, .uid = 7, .gid = 8 };
	const char *first = m->d[0].name;

	assert_int_equal(arfs_docarray_setattr(da, first, strlen(first), &a,
					       ARFS_ATTR_MODE | ARFS_ATTR_UID |
					       ARFS_ATTR_GID), 0);
	put_str(da, m, first, "first document, replaced\n");
	put_str(da, m, "added", "an added document\n");
	arfs_docarray_close(da);
}

static void test_compact(void **state)
{
	static const char *const cases[] = { "updated_deleted", "keylen8",
					     "uuid" };
	struct arfs_docattr before[128], after[128];
	size_t i, nb, na, hlen, r;
	struct arfs_docarray *da;
	struct arfs_docref ref, copy;
	struct model m;
	uint8_t *old, *hb;
	size_t oldlen;
	int64_t ext[3];

	for (i = 0; i < 3; i++) {
		char *dir = copy_fixture(cases[i]);
		unsigned K = i == 1 ? 8 : 36;
		model_fixture(&m, cases[i]);
		dirty(dir, K, &m);
		attrs_snapshot(dir, K, before, 128, &nb);
		da = open_da(dir, K, false);
		/*
		 * A ref taken before compaction still reads the old bytes,
		 * and so does a copy of it once the original is released.
		 */
		old = read_doc(da, m.d[1].name, &oldlen, &ref);
		arfs_docref_copy(&copy, &ref);
		assert_int_equal(arfs_docarray_compact(da), 0);
		free(read_doc(da, m.d[1].name, &oldlen, NULL));
		for (int k = 0; k < 2; k++) {
			uint8_t *again = malloc(ref.len + 1);
			assert_int_equal(arfs_docref_pread(&ref, again, ref.len, 0),
					 ref.len);
			assert_memory_equal(again, old, ref.len);
			free(again);
			arfs_docref_release(&ref);
			ref = copy;
		}
		free(old);
		/* Still usable after compaction. */
		put_str(da, &m, "after", "after compaction\n");
		arfs_docarray_close(da);
		verify(dir, K, &m);
		no_leftovers(dir);
		attrs_snapshot(dir, K, after, 128, &na);
		assert_int_equal(na, nb + 1);
		attrs_equal(before, after, nb);
		/* Dense: one row per document, body = live bytes. */
		assert_int_equal(fsize(dir, "body.bin"), live_bytes(&m));
		hb = slurp(dir, "header.bin", &hlen);
		assert_int_equal(hlen, m.n * row_size(K));
		for (r = 0; r < m.n; r++) {
			row_get(hb, K, r, ext);
			assert_false(is_tomb(ext));
		}
		free(hb);
		/* The sidecar remembers K = 8 for keylen8. */
		da = open_da(dir, 0, true);
		assert_int_equal(arfs_docarray_key_length(da), K);
		arfs_docarray_close(da);
		model_free(&m);
		free(dir);
	}
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
	assert_int_equal(run_check(dir, 36), 1);
	da = open_da(dir, 36, false);
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

/* ---- fault injection ---- */

enum { FK_PWRITE, FK_FSYNC, FK_RENAME, FK_UNLINK };

static atomic_int fault_kind;
static atomic_long fault_at, fault_calls;
static atomic_bool fault_hit;

static bool fault_now(int kind)
{
	if (atomic_load(&fault_kind) != kind)
		return false;
	if (atomic_fetch_add(&fault_calls, 1) + 1 != atomic_load(&fault_at))
		return false;
	atomic_store(&fault_hit, true);
	return true;
}

static ssize_t f_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (fault_now(FK_PWRITE)) {
		errno = ENOSPC;
		return -1;
	}
	return pwrite(fd, buf, len, off);
}

static int f_fsync(int fd)
{
	if (fault_now(FK_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

static int f_renameat(int a, const char *b, int c, const char *d)
{
	if (fault_now(FK_RENAME)) {
		errno = EIO;
		return -1;
	}
	return renameat(a, b, c, d);
}

static int f_unlinkat(int a, const char *b, int c)
{
	if (fault_now(FK_UNLINK)) {
		errno = EIO;
		return -1;
	}
	return unlinkat(a, b, c);
}

static struct arfs_io_ops fault_ops;

static void fault_arm(int kind, long at)
{
	fault_ops = arfs_io_default;
	fault_ops.pwrite = f_pwrite;
	fault_ops.fsync = f_fsync;
	fault_ops.renameat = f_renameat;
	fault_ops.unlinkat = f_unlinkat;
	atomic_store(&fault_kind, kind);
	atomic_store(&fault_at, at);
	atomic_store(&fault_calls, 0);
	atomic_store(&fault_hit, false);
	arfs_io_set(&fault_ops);
}

static bool fault_disarm(void)
{
	arfs_io_set(NULL);
	return atomic_load(&fault_hit);
}

static const struct mdoc *mfind(const struct model *m, const char *name)
{
	ssize_t i = model_find(m, name);

	return i < 0 ? NULL : &m->d[i];
}

/*
 * After a failed operation: every listed document holds its old or its new
 * bytes; a document present before and after is never missing.
 */
static void verify_either(const char *dir, unsigned K,
			  const struct model *old, const struct model *new)
{
	struct arfs_docarray *da = open_da(dir, K, false);
	char name[NAME_CAP];
	struct arfs_docattr a;
	uint64_t cursor = 0;
	size_t i, len;
	uint8_t *buf;

	while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
		const struct mdoc *o = mfind(old, name), *n = mfind(new, name);
		bool ok = false;
		buf = read_doc(da, name, &len, NULL);
		assert_non_null(buf);
		if (o && o->len == len && !memcmp(o->data, buf, len))
			ok = true;
		if (n && n->len == len && !memcmp(n->data, buf, len))
			ok = true;
		if (!ok)
			fail_msg("%s: %s holds bytes of neither version", dir, name);
		free(buf);
	}
	for (i = 0; i < old->n; i++) {
		struct arfs_docref ref;
		if (!mfind(new, old->d[i].name))
			continue;
		if (arfs_docarray_lookup(da, old->d[i].name,
					 strlen(old->d[i].name), &ref))
			fail_msg("%s: %s lost", dir, old->d[i].name);
		arfs_docref_release(&ref);
	}
	arfs_docarray_close(da);
	no_leftovers(dir);
	check_rows(dir, K);
	assert_int_equal(run_check(dir, K), 0);
}

enum {
	OP_PUT_NEW, OP_PUT_REPLACE, OP_PUT_DUP, OP_DELETE, OP_DELETE_DUP,
	OP_RENAME_FREE, OP_RENAME_OVER_AFTER, OP_RENAME_OVER_BEFORE,
	OP_RENAME_DUP, OP_SETATTR, OP_COMPACT, OP_COUNT
};

static const char big_text[] = "a somewhat longer replacement document "
			       "that spans more than one small write\n";

/* Run operation `op` on da and apply it to model m. */
static int run_op(struct arfs_docarray *da, int op, struct model *m)
{
	struct arfs_docattr a = { .mode = 0600, .mtime_sec = 5 };
	int rc = 0;

	switch (op) {
	case OP_PUT_NEW:
		rc = arfs_docarray_put_mem(da, "fresh", 5, big_text,
					   sizeof(big_text) - 1, NULL,
					   ARFS_PUT_FSYNC);
		model_put(m, "fresh", big_text, sizeof(big_text) - 1);
		break;
	case OP_PUT_REPLACE:
		rc = arfs_docarray_put_mem(da, "d05x", 4, big_text,
					   sizeof(big_text) - 1, NULL,
					   ARFS_PUT_FSYNC);
		rc = rc ? rc : arfs_docarray_put_mem(da, "d00", 3, "zero\n", 5,
						     NULL, ARFS_PUT_FSYNC);
		model_put(m, "d05x", big_text, sizeof(big_text) - 1);
		model_put(m, "d00", "zero\n", 5);
		break;
	case OP_PUT_DUP:
		rc = arfs_docarray_put_mem(da, "d18", 3, big_text,
					   sizeof(big_text) - 1, NULL,
					   ARFS_PUT_FSYNC);
		model_put(m, "d18", big_text, sizeof(big_text) - 1);
		break;
	case OP_DELETE:
		rc = arfs_docarray_delete(da, "d17", 3);
		model_del(m, "d17");
		break;
	case OP_DELETE_DUP:
		rc = arfs_docarray_delete(da, "d18", 3);
		model_del(m, "d18");
		break;
	case OP_RENAME_FREE:
		rc = arfs_docarray_rename(da, "d09", 3, "n09", 3, 0);
		model_rename(m, "d09", "n09");
		break;
	case OP_RENAME_OVER_AFTER:
		rc = arfs_docarray_rename(da, "d16", 3, "d04", 3, 0);
		model_rename(m, "d16", "d04");
		break;
	case OP_RENAME_OVER_BEFORE:
		rc = arfs_docarray_rename(da, "d04", 3, "d16", 3, 0);
		model_rename(m, "d04", "d16");
		break;
	case OP_RENAME_DUP:
		/* d18 (rows 14, 18) over d15 (row 15). */
		rc = arfs_docarray_rename(da, "d18", 3, "d15", 3, 0);
		model_move_after(m, "d18", "d17");
		model_del(m, "d15");
		model_rename(m, "d18", "d15");
		break;
	case OP_SETATTR:
		rc = arfs_docarray_setattr(da, "d06", 3, &a,
					   ARFS_ATTR_MODE | ARFS_ATTR_MTIME);
		break;
	case OP_COMPACT:
		rc = arfs_docarray_compact(da);
		break;
	}
	return rc;
}

/* One operation with a fault at every call in turn, on fresh copies. */
static void fault_loop(int op, int kind, bool with_sidecar)
{
	struct model old, new;
	long at;
	int rc;

	model_fixture(&old, "updated_deleted");
	for (at = 1; at < 200; at++) {
		char *dir = copy_fixture("updated_deleted");
		struct arfs_docarray *da = open_da(dir, 36, false);
		bool hit;
		if (with_sidecar)
			put_str(da, &old, "d05x", "x\n");
		model_copy(&new, &old);
		fault_arm(kind, at);
		rc = run_op(da, op, &new);
		hit = fault_disarm();
		if (getenv("ARFS_TEST_VERBOSE"))
			fprintf(stderr, "fault op %d kind %d sc %d at %ld: hit %d rc %d\n",
				op, kind, with_sidecar, at, hit, rc);
		if (hit && rc == 0)
			fail_msg("op %d: fault %d at call %ld not reported", op,
				 kind, at);
		if (!hit)
			assert_int_equal(rc, 0);
		arfs_docarray_close(da);
		if (hit)
			verify_either(dir, 36, &old, &new);
		else
			verify(dir, 36, &new);
		model_free(&new);
		tu_rmrf(dir);
		free(dir);
		if (!hit)
			break;
	}
	if (with_sidecar)
		model_del(&old, "d05x");
	model_free(&old);
	assert_true(at < 200);
}

static void test_faults(void **state)
{
	int op, k, sc;

	for (op = 0; op < OP_COUNT; op++)
		for (k = FK_PWRITE; k <= FK_RENAME; k++)
			for (sc = 0; sc < 2; sc++)
				fault_loop(op, k, sc);
}

/*
 * Compaction stopped after its marker: the rename of the new files (or
 * the unlink of the marker) fails. A read-only open shows the new array
 * without changing anything; a read-write open finishes the job.
 */
static void test_compact_roll_forward(void **state)
{
	struct arfs_docattr before[64], after[64];
	size_t nb, na;
	int kind, at;

	for (kind = FK_RENAME; kind <= FK_UNLINK; kind++) {
		for (at = 1; at <= (kind == FK_RENAME ? 3 : 1); at++) {
			char *dir = copy_fixture("updated_deleted");
			struct arfs_docarray *da;
			struct model m;
			model_fixture(&m, "updated_deleted");
			dirty(dir, 36, &m);
			attrs_snapshot(dir, 36, before, 64, &nb);
			da = open_da(dir, 36, false);
			fault_arm(kind, at);
			assert_true(arfs_docarray_compact(da) < 0);
			assert_true(fault_disarm());
			/* Past the marker the handle reloads the new array. */
			verify_open(da, &m);
			arfs_docarray_close(da);
			if (exists(dir, "arrayfs.compact")) {
				/* A read-only open leaves the marker. */
				verify_view(dir, 36, &m);
				assert_true(exists(dir, "arrayfs.compact"));
			}
			da = open_da(dir, 36, false);
			arfs_docarray_close(da);
			no_leftovers(dir);
			verify(dir, 36, &m);
			assert_int_equal(fsize(dir, "body.bin"), live_bytes(&m));
			attrs_snapshot(dir, 36, after, 64, &na);
			assert_int_equal(na, nb);
			attrs_equal(before, after, nb);
			model_free(&m);
			free(dir);
		}
	}
}

/* The .compact files and marker made by hand, as compaction leaves them. */
static void test_compact_marker_by_hand(void **state)
{
	static const char *const files[] = { "body.bin", "header.bin",
					     ARFS_SIDECAR_NAME };
	char *a = copy_fixture("updated_deleted"), *b = copy_fixture("updated_deleted");
	struct arfs_docarray *da;
	struct model m;
	size_t i, len;

	model_fixture(&m, "updated_deleted");
	da = open_da(b, 36, false);
	assert_int_equal(arfs_docarray_compact(da), 0);
	arfs_docarray_close(da);
	for (i = 0; i < 3; i++) {
		char tmp[64];
		uint8_t *buf = slurp(b, files[i], &len);
		char *p;
		snprintf(tmp, sizeof(tmp), "%s.compact", files[i]);
		p = path_in(a, tmp);
		tu_writefile(p, buf, len);
		free(p);
		free(buf);
	}
	/* Without the marker: rolled back, leftovers removed. */
	verify(a, 36, &m);
	assert_true(exists(a, "body.bin.compact"));
	da = open_da(a, 36, false);
	arfs_docarray_close(da);
	no_leftovers(a);
	assert_int_equal(fsize(a, "body.bin"), 1035);
	verify(a, 36, &m);
	/* Now again with the marker: rolled forward. */
	for (i = 0; i < 3; i++) {
		char tmp[64];
		uint8_t *buf = slurp(b, files[i], &len);
		char *p;
		snprintf(tmp, sizeof(tmp), "%s.compact", files[i]);
		p = path_in(a, tmp);
		tu_writefile(p, buf, len);
		free(p);
		free(buf);
	}
	{
		char *p = path_in(a, "arrayfs.compact");
		tu_writefile(p, "", 0);
		free(p);
	}
	da = open_da(a, 36, false);
	arfs_docarray_close(da);
	no_leftovers(a);
	assert_int_equal(fsize(a, "body.bin"), live_bytes(&m));
	verify(a, 36, &m);
	/* Half-written leftovers and no marker: removed, old content. */
	{
		char *p = path_in(b, "header.bin.compact");
		tu_writefile(p, "garbage", 7);
		free(p);
		p = path_in(b, "body.bin.compact");
		tu_writefile(p, "", 0);
		free(p);
	}
	verify(b, 36, &m);
	da = open_da(b, 36, false);
	arfs_docarray_close(da);
	no_leftovers(b);
	verify(b, 36, &m);
	model_free(&m);
	free(a);
	free(b);
}

/* ---- self-checking contents (crash loop and threads) ---- */

#define NBASE 12
#define MAXDOC 65536

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Hash of a name without its ".tmp" suffix: ties contents to an id. */
static uint64_t base_hash(const char *name)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *name && *name != '.'; name++)
		h = (h ^ (unsigned char)*name) * UINT64_C(0x100000001b3);
	return h;
}

/* Contents of version v of id h: 16 bytes (h, v), then seeded bytes. */
static size_t gen_content(uint64_t h, uint64_t v, uint8_t *buf)
{
	uint64_t s = h ^ (v * UINT64_C(0x9E3779B97F4A7C15)), x = splitmix(&s);
	size_t len = 16 + (x % 8 == 0 ? (size_t)(x >> 8) % (MAXDOC - 16)
				      : (size_t)(x >> 8) % 3000);
	size_t i;

	put_le64(buf, h);
	put_le64(buf + 8, v);
	for (i = 16; i < len; i += 8) {
		uint64_t w = splitmix(&s);
		memcpy(buf + i, &w, len - i < 8 ? len - i : 8);
	}
	return len;
}

/* True when buf is exactly some version of id h. */
static bool content_ok(uint64_t h, const uint8_t *buf, size_t len,
		       uint8_t *scratch)
{
	if (len < 16 || get_le64(buf) != h)
		return false;
	return gen_content(h, get_le64(buf + 8), scratch) == len &&
	       !memcmp(scratch, buf, len);
}

static void base_name(char *out, unsigned i, bool tmp)
{
	sprintf(out, "k%02u%s", i, tmp ? ".tmp" : "");
}

/* One random commit of the loop; false on an unexpected error. */
static bool random_commit(struct arfs_docarray *da, uint64_t *rs,
			  uint64_t *version, uint8_t *buf, bool compact)
{
	char a[16], b[16];
	unsigned i = (unsigned)(splitmix(rs) % NBASE), op;
	size_t len;
	int rc = 0;

	op = (unsigned)(splitmix(rs) % 10);
	base_name(a, i, false);
	base_name(b, i, true);
	switch (op) {
	case 0: case 1: case 2: case 3:
		len = gen_content(base_hash(a), ++*version, buf);
		rc = arfs_docarray_put_mem(da, a, strlen(a), buf, len, NULL, 0);
		break;
	case 4:
		rc = arfs_docarray_delete(da, a, strlen(a));
		break;
	case 5: case 6:
		len = gen_content(base_hash(a), ++*version, buf);
		rc = arfs_docarray_put_mem(da, b, strlen(b), buf, len, NULL, 0);
		if (!rc)
			rc = arfs_docarray_rename(da, b, strlen(b), a, strlen(a), 0);
		break;
	case 7:
		rc = arfs_docarray_rename(da, a, strlen(a), b, strlen(b), 0);
		break;
	case 8:
		rc = arfs_docarray_rename(da, b, strlen(b), a, strlen(a), 0);
		break;
	default:
		rc = compact ? arfs_docarray_compact(da)
			     : arfs_docarray_delete(da, b, strlen(b));
		break;
	}
	return rc == 0 || rc == -ENOENT;
}

/* Every listed document is some version of its id; returns the count. */
static size_t verify_versions(const char *dir, bool ro)
{
	struct arfs_docarray *da = open_da(dir, 36, ro);
	uint8_t *scratch = malloc(MAXDOC);
	char name[NAME_CAP];
	struct arfs_docattr a;
	uint64_t cursor = 0;
	size_t n = 0, len;
	uint8_t *buf;

	while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
		buf = read_doc(da, name, &len, NULL);
		assert_non_null(buf);
		if (!content_ok(base_hash(name), buf, len, scratch))
			fail_msg("%s: %s (%zu bytes) is not a version of its id",
				 dir, name, len);
		free(buf);
		n++;
	}
	arfs_docarray_close(da);
	free(scratch);
	return n;
}

static void crash_child(const char *dir, uint64_t seed)
{
	struct arfs_docarray *da;
	uint64_t rs = seed, version = seed << 24;
	uint8_t *buf = malloc(MAXDOC);

	if (arfs_docarray_open(dir, NULL, &da))
		_exit(3);
	for (;;)
		if (!random_commit(da, &rs, &version, buf,
				   splitmix(&rs) % 40 == 0))
			_exit(4);
}

static void test_kill9(void **state)
{
	char *dir = new_dir("kill9");
	struct arfs_docarray *da;
	uint64_t rs = 0x5eed;
	size_t total = 0;
	int round, st;
	pid_t pid;

	assert_int_equal(arfs_docarray_create(dir, NULL, &da), 0);
	arfs_docarray_close(da);
	for (round = 0; round < 30; round++) {
		useconds_t delay = 20000 + (useconds_t)(splitmix(&rs) % 260000);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			crash_child(dir, (uint64_t)round + 1);
		usleep(delay);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail_msg("round %d: child ended by itself (status %d)",
				 round, st);
		verify_versions(dir, true);
		assert_int_equal(run_check(dir, 36), 0);
		total += verify_versions(dir, false);
		assert_int_equal(run_check(dir, 36), 0);
	}
	assert_true(total > 0);
	free(dir);
}

/* ---- threads ---- */

struct conc {
	struct arfs_docarray *da;
	atomic_bool done;
	atomic_long reads, bad, lists;
	uint64_t seed;
};

static void *reader(void *arg)
{
	struct conc *c = arg;
	uint8_t *buf = malloc(MAXDOC), *scratch = malloc(MAXDOC);
	uint64_t rs = c->seed;
	struct arfs_docref ref;
	char name[NAME_CAP];
	const void *view;
	int err;

	while (!atomic_load(&c->done)) {
		unsigned i = (unsigned)(splitmix(&rs) % NBASE);
		base_name(name, i, splitmix(&rs) % 4 == 0);
		if (splitmix(&rs) % 64 == 0) {
			struct arfs_docattr a;
			uint64_t cur = 0;
			while (arfs_docarray_next(c->da, &cur, name, sizeof(name),
						  &a) == 0)
				;
			atomic_fetch_add(&c->lists, 1);
			continue;
		}
		if (arfs_docarray_lookup(c->da, name, strlen(name), &ref))
			continue;
		if (ref.len > MAXDOC ||
		    arfs_docref_pread(&ref, buf, ref.len, 0) != (ssize_t)ref.len ||
		    !content_ok(base_hash(name), buf, ref.len, scratch)) {
			if (getenv("ARFS_TEST_VERBOSE"))
				fprintf(stderr, "bad read %s off %" PRIu64 " len %"
					PRIu64 " row %" PRIu64 " h %" PRIx64
					" want %" PRIx64 " v %" PRIu64 "\n", name,
					ref.off, ref.len, ref.row, get_le64(buf),
					base_hash(name), get_le64(buf + 8));
			atomic_fetch_add(&c->bad, 1);
		}
		view = arfs_docref_view(&ref, &err);
		if (!view || memcmp(view, buf, ref.len))
			atomic_fetch_add(&c->bad, 1);
		arfs_docref_release(&ref);
		atomic_fetch_add(&c->reads, 1);
	}
	free(buf);
	free(scratch);
	return NULL;
}

static void test_threads(void **state)
{
	char *dir = new_dir("threads");
	struct conc c = { .seed = 77 };
	pthread_t th[4];
	uint64_t rs = 99, version = 0;
	uint8_t *buf = malloc(MAXDOC);
	int i, ops;

	assert_int_equal(arfs_docarray_create(dir, NULL, &c.da), 0);
	for (i = 0; i < 4; i++) {
		c.seed = 1000 + (uint64_t)i;
		pthread_create(&th[i], NULL, reader, &c);
		usleep(1000);
	}
	for (ops = 0; ops < 1500; ops++) {
		assert_true(random_commit(c.da, &rs, &version, buf, false));
		if (ops % 300 == 299)
			assert_int_equal(arfs_docarray_compact(c.da), 0);
	}
	atomic_store(&c.done, true);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&c.bad), 0);
	assert_true(atomic_load(&c.reads) > 100);
	arfs_docarray_close(c.da);
	verify_versions(dir, true);
	assert_int_equal(run_check(dir, 36), 0);
	free(buf);
	free(dir);
}

/* ---- runner ---- */

static int setup(void **state)
{
	arfs_log_set_sink(log_sink);
	scratch_root = tu_tmpdir("docarray");
	return 0;
}

static int teardown(void **state)
{
	if (!getenv("ARFS_TEST_KEEP"))
		tu_rmrf(scratch_root);
	free(scratch_root);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_list),
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
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_name_too_long),
		cmocka_unit_test(test_bad_header_size),
		cmocka_unit_test(test_bad_extents),
		cmocka_unit_test(test_bad_codepoints),
		cmocka_unit_test(test_special_ids),
		cmocka_unit_test(test_bad_sidecar),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_compact_roll_forward),
		cmocka_unit_test(test_compact_marker_by_hand),
		cmocka_unit_test(test_kill9),
		cmocka_unit_test(test_threads),
	};

	/* ARFS_TEST_FILTER=test_threads runs only the tests matching it. */
	if (getenv("ARFS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ARFS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
