/*
 * test_docarray_recovery.c - the document-array engine of core/docarray/:
 * compaction, recovery and concurrency.
 *
 * Covers:
 *  - compact, checked against a content model after a reopen;
 *  - interrupted compaction (roll forward with the marker, back without);
 *  - I/O faults (ENOSPC from pwrite, EIO from fsync/rename) at every call
 *    of an operation: after a reopen each document is old or new, never
 *    torn;
 *  - kill -9 of a child process in a commit loop, then reopen and verify;
 *  - four reader threads against one writer.
 * Seeds are fixed; the whole runner stays well under a minute with ASan.
 * Shared helpers: testutil_docarray.c.
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

/* ---- scratch directories and files ---- */

static char *new_dir(const char *tag)
{
	static int seq;
	char *dst;

	if (asprintf(&dst, "%s/%s-n%d", scratch_root, tag, seq++) < 0)
		abort();
	return dst;
}

/* ---- content model ---- */

static void model_copy(struct model *dst, const struct model *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++)
		model_put(dst, src->d[i].name, src->d[i].data, src->d[i].len);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact),
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
