/*
 * test_bufcontent.c - a pool buffer's content (core/bufcontent.c through
 * bufpool.h): spilling to staging files, truncate, I/O fault injection
 * through the arfs_io ops table, and a base read on demand. The pool
 * itself is tested in test_bufpool.c.
 *
 * Each test uses a small in-memory "backing store" (struct store,
 * testutil_bufpool.h) as the place buffers are loaded from and written
 * back to.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "bufpool.h"
#include "io.h"
#include "testutil.h"
#include "testutil_bufpool.h"

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- content: spill and truncate ---- */

static void fill_pattern(uint8_t *p, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = off + i;
		p[i] = (uint8_t)(x ^ (x >> 8) ^ (x >> 17) ^ 0x5a);
	}
}

static void test_spill_big(void **state)
{
	struct fixture *f = fixture_new(4 * MiB, 100, 1 * MiB);
	const size_t total = 64 * MiB;
	uint8_t *chunk = malloc(MiB), *got = malloc(MiB);
	struct arfs_buf *buf = pin(f, 0, 1);

	assert_non_null(chunk);
	assert_non_null(got);
	for (size_t off = 0; off < total; off += MiB) {
		fill_pattern(chunk, MiB, off);
		assert_int_equal(arfs_buf_write(buf, chunk, MiB, off), 0);
		assert_true(stats(f).bytes <= 1 * MiB);
	}
	assert_int_equal(stats(f).spills, 1);
	assert_int_equal(stats(f).bytes, 0);
	assert_null(arfs_buf_data(buf));
	assert_int_equal(arfs_buf_size(buf), total);
	assert_int_equal(dir_entries(f->dir), 0);  /* unnamed file */

	for (size_t off = 0; off < total; off += MiB) {
		fill_pattern(chunk, MiB, off);
		assert_int_equal(arfs_buf_read(buf, got, MiB, off), MiB);
		assert_memory_equal(got, chunk, MiB);
	}
	/* An unaligned read across a chunk boundary. */
	fill_pattern(chunk, 1000, 3 * MiB - 500);
	assert_int_equal(arfs_buf_read(buf, got, 1000, 3 * MiB - 500), 1000);
	assert_memory_equal(got, chunk, 1000);
	assert_int_equal(arfs_buf_read(buf, got, MiB, total - 10), 10);

	arfs_bufpool_unpin(f->pool, buf);
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.len[1], total);
	assert_true(stats(f).bytes <= 1 * MiB);
	free(chunk);
	free(got);
	fixture_free(f);
}

static void check_truncate(size_t threshold)
{
	struct fixture *f = fixture_new(1 * MiB, 100, threshold);
	struct arfs_buf *buf = pin(f, 0, 1);
	uint8_t want[32] = { 0 };

	assert_int_equal(arfs_buf_write(buf, "abc", 3, 0), 0);
	assert_true(arfs_buf_dirty(buf));
	assert_int_equal(arfs_buf_truncate(buf, 10), 0);
	memcpy(want, "abc", 3);
	assert_content(buf, want, 10);
	assert_int_equal(arfs_buf_truncate(buf, 2), 0);
	assert_content(buf, "ab", 2);
	assert_int_equal(arfs_buf_truncate(buf, 5), 0); /* 'c' must not return */
	memset(want, 0, sizeof(want));
	memcpy(want, "ab", 2);
	assert_content(buf, want, 5);
	assert_int_equal(arfs_buf_write(buf, "Z", 1, 20), 0);
	want[20] = 'Z';
	assert_content(buf, want, 21);
	assert_int_equal(arfs_buf_truncate(buf, 0), 0);
	assert_int_equal(arfs_buf_size(buf), 0);
	assert_int_equal(arfs_buf_write(buf, "q", 1, 0), 0);
	assert_content(buf, "q", 1);
	assert_int_equal(arfs_buf_truncate(buf, (uint64_t)INT64_MAX + 1),
			 -EFBIG);
	assert_int_equal(arfs_buf_write(buf, "q", 1, UINT64_MAX), -EFBIG);
	if (threshold < 10) {
		assert_null(arfs_buf_data(buf));
		assert_int_equal(stats(f).spills, 1);
	} else {
		assert_memory_equal(arfs_buf_data(buf), "q", 1);
		assert_int_equal(stats(f).spills, 0);
	}
	arfs_bufpool_unpin(f->pool, buf);
	fixture_free(f);
}

static void test_truncate(void **state)
{
	check_truncate(1 * MiB);  /* in memory */
	check_truncate(4);        /* spilled at the first grow */
}

static void test_truncate_gives_memory_back(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *buf = pin(f, 0, 1);

	assert_int_equal(arfs_buf_truncate(buf, 100000), 0);
	assert_int_equal(stats(f).bytes, 100000);
	assert_int_equal(arfs_buf_truncate(buf, 10), 0);
	assert_true(stats(f).bytes < 1000);
	assert_int_equal(arfs_buf_truncate(buf, 0), 0);
	assert_int_equal(stats(f).bytes, 0);
	arfs_bufpool_unpin(f->pool, buf);
	fixture_free(f);
}

/* ---- fault injection ---- */

static atomic_int fault_pwrite_errno;  /* fail pwrite with this ... */

static atomic_long fault_pwrite_budget; /* ... after this many bytes */

static atomic_bool fault_no_tmpfile;   /* O_TMPFILE -> EOPNOTSUPP */

static atomic_int fault_opens, fault_closes;

static int fault_open(const char *path, int flags, mode_t mode)
{
	int fd;

	if (atomic_load(&fault_no_tmpfile) &&
	    (flags & O_TMPFILE) == O_TMPFILE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	fd = arfs_io_default.open(path, flags, mode);
	if (fd >= 0)
		atomic_fetch_add(&fault_opens, 1);
	return fd;
}

static int fault_close(int fd)
{
	atomic_fetch_add(&fault_closes, 1);
	return arfs_io_default.close(fd);
}

static ssize_t fault_pwrite(int fd, const void *p, size_t len, off_t off)
{
	int e = atomic_load(&fault_pwrite_errno);
	long budget = atomic_load(&fault_pwrite_budget);

	if (e && budget <= 0) {
		errno = e;
		return -1;
	}
	if (e && len > (size_t)budget)
		len = (size_t)budget; /* a short write, then the error */
	if (e)
		atomic_fetch_sub(&fault_pwrite_budget, (long)len);
	return arfs_io_default.pwrite(fd, p, len, off);
}

static struct arfs_io_ops fault_ops;

static void fault_install(void)
{
	fault_ops = arfs_io_default;
	fault_ops.open = fault_open;
	fault_ops.close = fault_close;
	fault_ops.pwrite = fault_pwrite;
	atomic_store(&fault_pwrite_errno, 0);
	atomic_store(&fault_pwrite_budget, 0);
	atomic_store(&fault_no_tmpfile, false);
	atomic_store(&fault_opens, 0);
	atomic_store(&fault_closes, 0);
	arfs_io_set(&fault_ops);
}

static void test_spill_enospc(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 4096);
	uint8_t a[4096], b[8192];
	struct arfs_buf *buf = pin(f, 0, 1);

	fault_install();
	memset(a, 'a', sizeof(a));
	assert_int_equal(arfs_buf_write(buf, a, sizeof(a), 0), 0);

	/* Spilling fails: the content stays in memory, untouched. */
	atomic_store(&fault_pwrite_errno, ENOSPC);
	assert_int_equal(arfs_buf_write(buf, "bb", 2, 4096), -ENOSPC);
	assert_int_equal(arfs_buf_truncate(buf, 5000), -ENOSPC);
	assert_int_equal(stats(f).spills, 0);
	assert_non_null(arfs_buf_data(buf));
	assert_content(buf, a, sizeof(a));
	assert_int_equal(atomic_load(&fault_opens),
			 atomic_load(&fault_closes));

	/* Spilled, then a write past the end fails: size unchanged. */
	atomic_store(&fault_pwrite_errno, 0);
	assert_int_equal(arfs_buf_write(buf, "bb", 2, 4096), 0);
	assert_int_equal(stats(f).spills, 1);
	assert_null(arfs_buf_data(buf));
	atomic_store(&fault_pwrite_errno, ENOSPC);
	atomic_store(&fault_pwrite_budget, 1); /* the file grows, then fails */
	assert_int_equal(arfs_buf_write(buf, "cc", 2, 6000), -ENOSPC);
	assert_int_equal(arfs_buf_write(buf, "dd", 2, 0), -ENOSPC);
	assert_int_equal(arfs_buf_size(buf), 4098);
	memcpy(b, a, 4096);
	memcpy(b + 4096, "bb", 2);
	assert_content(buf, b, 4098);
	assert_int_equal(arfs_buf_truncate(buf, 8192), 0); /* no pwrite */
	memset(b + 4098, 0, sizeof(b) - 4098);
	assert_content(buf, b, sizeof(b));

	/* The writeback still reads the whole spilled content. */
	arfs_bufpool_unpin(f->pool, buf);
	atomic_store(&fault_pwrite_errno, 0);
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.len[1], sizeof(b));
	assert_memory_equal(f->st.data[1], b, sizeof(b));
	fixture_free(f);
	/* Every staging file opened, including failed spills, was closed. */
	assert_int_equal(atomic_load(&fault_opens), 3);
	assert_int_equal(atomic_load(&fault_closes), 3);
}

static void test_staging_without_tmpfile(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 16);
	struct arfs_buf *buf = pin(f, 0, 1);
	uint8_t p[100];

	fault_install();
	atomic_store(&fault_no_tmpfile, true);
	fill_pattern(p, sizeof(p), 0);
	assert_int_equal(arfs_buf_write(buf, p, sizeof(p), 0), 0);
	assert_int_equal(stats(f).spills, 1);
	assert_null(arfs_buf_data(buf));
	assert_content(buf, p, sizeof(p));
	assert_int_equal(dir_entries(f->dir), 0);  /* created and unlinked */
	assert_int_equal(atomic_load(&fault_opens), 1);
	arfs_bufpool_unpin(f->pool, buf);
	fixture_free(f);
	assert_int_equal(atomic_load(&fault_closes), 1);
}

/* Teardown for the fault tests: a failed assertion must not leave the
 * fault table installed for later tests. */
static int fault_remove(void **state)
{
	arfs_io_set(NULL);
	return 0;
}

/* ---- a base read on demand (arfs_buf_set_base) ---- */

static uint8_t base_src[3 * 4096];

static int base_reads, base_frees;

static int base_read(void *ctx, void *dst, size_t len, uint64_t off)
{
	(void)ctx;
	base_reads++;
	assert_true(off + len <= sizeof(base_src));
	memcpy(dst, base_src + off, len);
	return 0;
}

static void base_free(void *ctx)
{
	(void)ctx;
	base_frees++;
}

static int base_load(void *ctx, struct arfs_buf *buf)
{
	return arfs_buf_set_base(buf, sizeof(base_src), base_read, base_free,
				 ctx);
}

/* The model of the buffer is `want`; compare all of it. */
static void base_check(struct arfs_buf *buf, const uint8_t *want, size_t n)
{
	uint8_t *got = malloc(n + 1);

	assert_int_equal(arfs_buf_size(buf), n);
	assert_int_equal(arfs_buf_read(buf, got, n + 1, 0), (ssize_t)n);
	assert_memory_equal(got, want, n);
	free(got);
}

static void base_run(size_t spill)
{
	struct fixture *f = fixture_new(4 * MiB, 100, spill);
	struct arfs_bufkey key = { 9, 9 };
	static uint8_t want[64 * 1024];
	size_t n = sizeof(base_src);
	struct arfs_buf *buf;

	for (size_t i = 0; i < n; i++)
		base_src[i] = (uint8_t)(i * 13 + 1);
	base_reads = base_frees = 0;
	assert_int_equal(arfs_bufpool_pin(f->pool, key, base_load, NULL, NULL,
					  &buf), 0);
	assert_int_equal(base_reads, 0);
	memcpy(want, base_src, n);
	assert_false(arfs_buf_dirty(buf));
	assert_int_equal(arfs_buf_unchanged(buf), n);
	/* An append reads nothing of the base. */
	memset(want + n, 'A', 5000);
	assert_int_equal(arfs_buf_write(buf, want + n, 5000, n), 0);
	n += 5000;
	assert_int_equal(base_reads, 0);
	assert_int_equal(arfs_buf_unchanged(buf), sizeof(base_src));
	base_check(buf, want, n);
	/* Past the end: zeros between. */
	memset(want + n, 0, 3000);
	memset(want + n + 3000, 'B', 10);
	assert_int_equal(arfs_buf_write(buf, want + n + 3000, 10, n + 3000), 0);
	n += 3010;
	base_check(buf, want, n);
	/* A truncate below the base keeps its head. */
	assert_int_equal(arfs_buf_truncate(buf, 5000), 0);
	n = 5000;
	base_check(buf, want, n);
	assert_int_equal(arfs_buf_truncate(buf, 9000), 0);
	memset(want + 5000, 0, 4000);
	n = 9000;
	base_check(buf, want, n);
	assert_int_equal(arfs_buf_unchanged(buf), 5000);
	/* A write inside the base fetches it. */
	assert_int_equal(base_frees, 0);
	memset(want + 100, 'C', 7);
	assert_int_equal(arfs_buf_write(buf, want + 100, 7, 100), 0);
	assert_int_equal(base_frees, 1);
	assert_int_equal(arfs_buf_unchanged(buf), 100);
	base_check(buf, want, n);
	arfs_bufpool_unpin(f->pool, buf);
	arfs_bufpool_drop(f->pool, key);
	fixture_free(f);
}

static void test_base(void **state)
{
	(void)state;
	base_run(1 * MiB);
	/* Spilled: the base is a hole of the staging file. */
	base_run(4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spill_big),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_truncate_gives_memory_back),
		cmocka_unit_test(test_base),
		cmocka_unit_test_teardown(test_spill_enospc, fault_remove),
		cmocka_unit_test_teardown(test_staging_without_tmpfile,
					  fault_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
