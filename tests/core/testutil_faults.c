/*
 * testutil_faults.c - helpers shared by the fault runners (test_faults.c,
 * test_faults_group.c): the io table that fails or dies at the Nth call
 * of one kind, the document model and reading an array back into it,
 * the scratch copies and the runner setup. Declared in testutil_faults.h.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "blockmgr.h"
#include "docarray.h"
#include "group.h"
#include "groupw.h"
#include "io.h"
#include "testutil.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"
#include "testutil_faults.h"

/* ---- the model: names and bytes ---- */

ssize_t model_find(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->d[i].name, name))
			return (ssize_t)i;
	return -1;
}

void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->d[i].data);
	m->n = 0;
}

void model_put(struct model *m, const char *name, const void *data,
		      size_t len)
{
	ssize_t i = model_find(m, name);
	struct mdoc *d;

	if (i < 0) {
		assert_true(m->n < 64);
		i = (ssize_t)m->n++;
		snprintf(m->d[i].name, sizeof(m->d[i].name), "%s", name);
		m->d[i].data = NULL;
	}
	d = &m->d[i];
	free(d->data);
	d->data = malloc(len ? len : 1);
	memcpy(d->data, data, len);
	d->len = len;
}

/* ---- reading an array back ---- */

int open_da(const char *dir, bool ro, struct arfs_docarray **out)
{
	struct arfs_docarray_opts o = { .key_length = 36, .read_only = ro };

	return arfs_docarray_open(dir, &o, out);
}

/* The array's documents as a model (names in listing order). */
void model_load(const char *dir, bool ro, struct model *m)
{
	struct arfs_docarray *da;
	struct arfs_docattr a;
	struct arfs_docref ref;
	char name[NAME_CAP];
	uint64_t cursor = 0;
	uint8_t *buf;

	m->n = 0;
	if (open_da(dir, ro, &da))
		fail_msg("%s: cannot reopen (%s)", dir, ro ? "ro" : "rw");
	while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
		assert_int_equal(arfs_docarray_lookup(da, name, strlen(name),
						      &ref), 0);
		buf = malloc(ref.len ? ref.len : 1);
		assert_int_equal(arfs_docref_pread(&ref, buf, ref.len, 0),
				 (ssize_t)ref.len);
		model_put(m, name, buf, ref.len);
		free(buf);
		arfs_docref_release(&ref);
	}
	arfs_docarray_close(da);
}

/* ---- the io table: fail or die at the Nth call of one kind ---- */

const char *const kind_names[FK_COUNT] = {
	"pwrite", "fsync", "renameat", "mmap", "openat", "ftruncate",
	"unlinkat" };

atomic_int f_kind = -1;
atomic_long f_at, f_calls;
atomic_bool f_hit, f_crash;

bool fault_now(int kind)
{
	if (atomic_load(&f_kind) != kind)
		return false;
	if (atomic_fetch_add(&f_calls, 1) + 1 != atomic_load(&f_at))
		return false;
	atomic_store(&f_hit, true);
	if (getenv("ARFS_FAULT_BT")) { /* debugging: where did it hit? */
		void *bt[16];
		backtrace_symbols_fd(bt, backtrace(bt, 16), 2);
	}
	return true;
}

ssize_t f_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (fault_now(FK_PWRITE)) {
		if (atomic_load(&f_crash)) {
			/* Die between two pages of this write, if it has two. */
			off_t edge = (off / 4096 + 1) * 4096;
			if ((off_t)(off + (off_t)len) > edge)
				(void)pwrite(fd, buf, (size_t)(edge - off), off);
			_exit(CRASH_EXIT);
		}
		errno = ENOSPC;
		return -1;
	}
	return pwrite(fd, buf, len, off);
}

int f_fsync(int fd)
{
	if (fault_now(FK_FSYNC)) {
		if (atomic_load(&f_crash))
			_exit(CRASH_EXIT);
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

int f_renameat(int a, const char *b, int c, const char *d)
{
	if (fault_now(FK_RENAME)) {
		if (atomic_load(&f_crash))
			_exit(CRASH_EXIT);
		errno = EIO;
		return -1;
	}
	return renameat(a, b, c, d);
}

void *f_mmap(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off)
{
	if (fault_now(FK_MMAP)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return mmap(addr, len, prot, flags, fd, off);
}

int f_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (fault_now(FK_OPEN)) {
		errno = (flags & O_CREAT) ? ENOSPC : EIO;
		return -1;
	}
	return openat(dirfd, path, flags, mode);
}

int f_open(const char *path, int flags, mode_t mode)
{
	return f_openat(AT_FDCWD, path, flags, mode);
}

int f_ftruncate(int fd, off_t len)
{
	if (fault_now(FK_FTRUNCATE)) {
		if (atomic_load(&f_crash))
			_exit(CRASH_EXIT);
		errno = ENOSPC;
		return -1;
	}
	return ftruncate(fd, len);
}

int f_unlinkat(int a, const char *b, int c)
{
	if (fault_now(FK_UNLINK)) {
		if (atomic_load(&f_crash))
			_exit(CRASH_EXIT);
		errno = EIO;
		return -1;
	}
	return unlinkat(a, b, c);
}

struct arfs_io_ops fault_ops;

void fault_arm(int kind, long at, bool crash)
{
	fault_ops = arfs_io_default;
	fault_ops.pwrite = f_pwrite;
	fault_ops.fsync = f_fsync;
	fault_ops.renameat = f_renameat;
	fault_ops.mmap = f_mmap;
	fault_ops.open = f_open;
	fault_ops.openat = f_openat;
	fault_ops.ftruncate = f_ftruncate;
	fault_ops.unlinkat = f_unlinkat;
	atomic_store(&f_kind, kind);
	atomic_store(&f_at, at);
	atomic_store(&f_calls, 0);
	atomic_store(&f_hit, false);
	atomic_store(&f_crash, crash);
	arfs_io_set(&fault_ops);
}

bool fault_disarm(void)
{
	arfs_io_set(NULL);
	atomic_store(&f_kind, -1);
	return atomic_load(&f_hit);
}

/* ---- scenarios ---- */

char *scratch_root;
/* The directory a forked child works on: reachable, so that valgrind does
 * not count it as lost when the child dies with _exit(). */
char *volatile child_dir;
struct model base_plain, base_sidecar;
long points_fault, points_crash, points_gfault, points_gcrash;

/* A fresh copy of the fixture, with a sidecar if asked (one put). */
char *fresh_copy(bool sidecar)
{
	static int seq;
	char src[4096], *dir;
	struct arfs_docarray *da;

	snprintf(src, sizeof(src), "%s/docarray/updated_deleted", tu_fixtures());
	if (asprintf(&dir, "%s/a%d", scratch_root, seq++) < 0)
		abort();
	tu_copydir(src, dir);
	{
		char *p;
		if (asprintf(&p, "%s/expected.json", dir) < 0)
			abort();
		unlink(p);
		free(p);
	}
	if (sidecar) {
		assert_int_equal(open_da(dir, false, &da), 0);
		assert_int_equal(arfs_docarray_put_mem(da, "x05", 3, "side\n", 5,
						       NULL, ARFS_PUT_FSYNC), 0);
		arfs_docarray_close(da);
	}
	return dir;
}

/* ---- segment groups: commits of the group writer ---- */

void quiet(enum arfs_log_level level, const char *msg)
{
	if (getenv("ARFS_TEST_VERBOSE"))
		fprintf(stderr, "log: %s\n", msg);
}

int setup(void **state)
{
	char *dir;

	arfs_log_set_sink(quiet);
	scratch_root = tu_tmpdir("faults");
	dir = fresh_copy(false);
	model_load(dir, true, &base_plain);
	tu_rmrf(dir);
	free(dir);
	dir = fresh_copy(true);
	model_load(dir, true, &base_sidecar);
	tu_rmrf(dir);
	free(dir);
	assert_int_equal(base_plain.n, 14);
	return 0;
}

int teardown(void **state)
{
	model_free(&base_plain);
	model_free(&base_sidecar);
	if (!getenv("ARFS_TEST_KEEP"))
		tu_rmrf(scratch_root);
	free(scratch_root);
	return 0;
}
