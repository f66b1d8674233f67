/*
 * testutil_docarray.c - helpers shared by the document-array runners
 * (test_docarray.c, test_docarray_write.c, test_docarray_recovery.c):
 * log capture, scratch copies of fixtures, header rows, the content
 * model, opening, reading and verifying an array, and the runner's setup.
 * Declared in testutil_docarray.h.
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

pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

char last_log[1024];

int log_count;

void log_sink(enum arfs_log_level level, const char *msg)
{
	pthread_mutex_lock(&log_lock);
	snprintf(last_log, sizeof(last_log), "%s", msg);
	log_count++;
	pthread_mutex_unlock(&log_lock);
	if (getenv("ARFS_TEST_VERBOSE"))
		fprintf(stderr, "log: %s\n", msg);
}

/* ---- scratch directories and files ---- */

char *scratch_root;

char *fixture_dir(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/docarray/%s", tu_fixtures(), name) < 0)
		abort();
	return p;
}

char *path_in(const char *dir, const char *file)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		abort();
	return p;
}

/* A fresh writable copy of fixture `name`; free() the path. */
char *copy_fixture(const char *name)
{
	static int seq;
	char *src = fixture_dir(name), *dst;

	if (asprintf(&dst, "%s/%s-%d", scratch_root, name, seq++) < 0)
		abort();
	tu_copydir(src, dst);
	free(src);
	return dst;
}

off_t fsize(const char *dir, const char *file)
{
	char *p = path_in(dir, file);
	struct stat st;
	off_t n = stat(p, &st) ? -1 : st.st_size;

	free(p);
	return n;
}

bool exists(const char *dir, const char *file)
{
	return fsize(dir, file) >= 0;
}

uint8_t *slurp(const char *dir, const char *file, size_t *len)
{
	char *p = path_in(dir, file);
	uint8_t *b = tu_readfile(p, len);

	free(p);
	return b;
}

/* ---- header rows ---- */

size_t row_size(unsigned K)
{
	return (size_t)K * 4 + 24;
}

void row_get(const uint8_t *hb, unsigned K, uint64_t row, int64_t ext[3])
{
	const uint8_t *e = hb + row * row_size(K) + (size_t)K * 4;

	ext[0] = (int64_t)get_le64(e);
	ext[1] = (int64_t)get_le64(e + 8);
	ext[2] = (int64_t)get_le64(e + 16);
}

bool is_tomb(const int64_t ext[3])
{
	return ext[0] == -1 && ext[1] == -1 && ext[2] == -1;
}

/*
 * DocArray's rules for every live row: p a multiple of the page, 0 <= r <
 * page, r <= e, and the bytes inside body.bin.
 */
void check_rows(const char *dir, unsigned K)
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

/* ---- content model ---- */

void model_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->d[i].name);
		free(m->d[i].data);
	}
	free(m->d);
	memset(m, 0, sizeof(*m));
}

ssize_t model_find(const struct model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->d[i].name, name))
			return (ssize_t)i;
	return -1;
}

void model_set(struct mdoc *d, const char *name, const void *data,
		      size_t len)
{
	d->name = strdup(name);
	d->data = malloc(len ? len : 1);
	memcpy(d->data, data, len);
	d->len = len;
}

void model_put(struct model *m, const char *name, const void *data,
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

void model_del_at(struct model *m, size_t i)
{
	free(m->d[i].name);
	free(m->d[i].data);
	memmove(&m->d[i], &m->d[i + 1], (m->n - i - 1) * sizeof(*m->d));
	m->n--;
}

void model_del(struct model *m, const char *name)
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
void model_rename(struct model *m, const char *old, const char *new)
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
void model_move_after(struct model *m, const char *name,
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

json_t *load_expected(const char *fixture)
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
void model_fixture(struct model *m, const char *fixture)
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

struct arfs_docarray *open_da(const char *dir, unsigned K, bool ro)
{
	struct arfs_docarray_opts o = { .key_length = K, .read_only = ro };
	struct arfs_docarray *da = NULL;
	int rc = arfs_docarray_open(dir, &o, &da);

	if (rc)
		fail_msg("open %s: %s", dir, strerror(-rc));
	return da;
}

/* Read a whole document through pread and view (must agree): malloc'd. */
uint8_t *read_doc(struct arfs_docarray *da, const char *name,
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

void get_attr(struct arfs_docarray *da, const char *name,
		     struct arfs_docattr *a)
{
	struct arfs_docref ref;

	assert_int_equal(arfs_docarray_lookup(da, name, strlen(name), &ref), 0);
	*a = ref.attr;
	arfs_docref_release(&ref);
}

void count_report(void *ctx, const char *msg)
{
	if (strncmp(msg, "warning: ", 9))
		(*(int *)ctx)++;
	if (getenv("ARFS_TEST_VERBOSE"))
		fprintf(stderr, "check: %s\n", msg);
}

int run_check(const char *dir, unsigned K)
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
void verify_open(struct arfs_docarray *da, const struct model *m)
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

void verify_view(const char *dir, unsigned K, const struct model *m)
{
	struct arfs_docarray *da = open_da(dir, K, true);

	verify_open(da, m);
	arfs_docarray_close(da);
	assert_int_equal(run_check(dir, K), 0);
}

/* verify_view(), and header.bin itself follows DocArray's row rules. */
void verify(const char *dir, unsigned K, const struct model *m)
{
	verify_view(dir, K, m);
	check_rows(dir, K);
}

/* ---- writes ---- */

void put_str(struct arfs_docarray *da, struct model *m,
		    const char *name, const char *data)
{
	assert_int_equal(arfs_docarray_put_mem(da, name, strlen(name), data,
					       strlen(data), NULL, 0), 0);
	model_put(m, name, data, strlen(data));
}

/* ---- runner ---- */

int setup(void **state)
{
	arfs_log_set_sink(log_sink);
	scratch_root = tu_tmpdir("docarray");
	return 0;
}

int teardown(void **state)
{
	if (!getenv("ARFS_TEST_KEEP"))
		tu_rmrf(scratch_root);
	free(scratch_root);
	return 0;
}
