/*
 * test_bufpool.c - the buffer pool contract (core/bufpool.h): pins, LRU
 * eviction by bytes and by entries, writeback and its failures, flush,
 * zero-sized pools, drop/clear, spilling to staging files, truncate,
 * concurrent use, and I/O fault injection through the arfs_io ops table.
 *
 * Each test uses a small in-memory "backing store" (struct store) as the
 * place buffers are loaded from and written back to.
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

#define NKEYS 64
#define MiB ((size_t)1 << 20)

/* The backing store: one byte string per key id. */
struct store {
	pthread_mutex_t lock;
	uint8_t *data[NKEYS];
	size_t len[NKEYS];
	int loads, wb_calls;     /* callback calls, under lock */
	int load_fail, wb_fail;  /* -errno the callbacks return, or 0 */
	int write_in_wb;         /* writeback writes this many times */
};

struct fixture {
	struct store st;
	struct arfs_bufpool *pool;
	char *dir;
};

static void store_set(struct store *st, uint64_t id, const void *p, size_t len)
{
	pthread_mutex_lock(&st->lock);
	free(st->data[id]);
	st->data[id] = malloc(len ? len : 1);
	assert_non_null(st->data[id]);
	memcpy(st->data[id], p, len);
	st->len[id] = len;
	pthread_mutex_unlock(&st->lock);
}

static int load_cb(void *ctx, struct arfs_buf *buf)
{
	struct store *st = ctx;
	uint64_t id = arfs_buf_key(buf).id;
	int rc;

	pthread_mutex_lock(&st->lock);
	st->loads++;
	rc = st->load_fail;
	if (!rc && st->len[id])
		rc = arfs_buf_write(buf, st->data[id], st->len[id], 0);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int writeback_cb(void *ctx, struct arfs_buf *buf)
{
	struct store *st = ctx;
	uint64_t id = arfs_buf_key(buf).id;
	size_t len = (size_t)arfs_buf_size(buf);
	uint8_t *p = malloc(len ? len : 1);
	ssize_t n;
	int rc;

	if (!p)
		return -ENOMEM;
	n = arfs_buf_read(buf, p, len, 0);
	pthread_mutex_lock(&st->lock);
	st->wb_calls++;
	rc = st->wb_fail;
	if (!rc && n != (ssize_t)len)
		rc = n < 0 ? (int)n : -EIO;
	if (!rc && st->write_in_wb > 0) {
		st->write_in_wb--;
		rc = arfs_buf_write(buf, "w", 1, len); /* a write "during" wb */
	}
	if (!rc) {
		free(st->data[id]);
		st->data[id] = p;
		st->len[id] = len;
		p = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	free(p);
	return rc;
}

static struct fixture *fixture_new(size_t max_bytes, size_t max_entries,
				   size_t spill_threshold)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct arfs_bufpool_opts opts = {
		.max_bytes = max_bytes,
		.max_entries = max_entries,
		.spill_threshold = spill_threshold,
	};

	assert_non_null(f);
	pthread_mutex_init(&f->st.lock, NULL);
	f->dir = tu_tmpdir("bufpool");
	opts.staging_dir = f->dir;
	assert_int_equal(arfs_bufpool_new(&opts, &f->pool), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	struct arfs_bufpool_stats s;

	arfs_bufpool_get_stats(f->pool, &s);
	assert_int_equal(s.pinned, 0);
	arfs_bufpool_free(f->pool);
	for (int i = 0; i < NKEYS; i++)
		free(f->st.data[i]);
	pthread_mutex_destroy(&f->st.lock);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
}

static struct arfs_bufkey key(uint64_t space, uint64_t id)
{
	return (struct arfs_bufkey){ .space = space, .id = id };
}

static struct arfs_buf *pin(struct fixture *f, uint64_t space, uint64_t id)
{
	struct arfs_buf *buf = NULL;

	assert_int_equal(arfs_bufpool_pin(f->pool, key(space, id), load_cb,
					  writeback_cb, &f->st, &buf), 0);
	assert_non_null(buf);
	return buf;
}

static bool cached(struct fixture *f, uint64_t space, uint64_t id)
{
	struct arfs_buf *buf;

	if (arfs_bufpool_lookup(f->pool, key(space, id), &buf))
		return false;
	arfs_bufpool_unpin(f->pool, buf);
	return true;
}

static struct arfs_bufpool_stats stats(struct fixture *f)
{
	struct arfs_bufpool_stats s;

	arfs_bufpool_get_stats(f->pool, &s);
	return s;
}

/* Pin key id, write len bytes of byte c at 0, unpin. */
static void put(struct fixture *f, uint64_t id, int c, size_t len)
{
	struct arfs_buf *buf = pin(f, 0, id);
	uint8_t *p = malloc(len);

	assert_non_null(p);
	memset(p, c, len);
	assert_int_equal(arfs_buf_write(buf, p, len, 0), 0);
	free(p);
	arfs_bufpool_unpin(f->pool, buf);
}

static void assert_content(struct arfs_buf *buf, const void *want, size_t len)
{
	uint8_t *got = malloc(len + 16);

	assert_non_null(got);
	assert_int_equal(arfs_buf_size(buf), len);
	assert_int_equal(arfs_buf_read(buf, got, len + 16, 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
}

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

/* ---- basics ---- */

static void test_pin_unpin_basic(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *buf = pin(f, 1, 2), *again;
	char tmp[16];

	assert_int_equal(arfs_buf_key(buf).space, 1);
	assert_int_equal(arfs_buf_key(buf).id, 2);
	assert_int_equal(arfs_buf_size(buf), 0);
	assert_false(arfs_buf_dirty(buf));
	assert_non_null(arfs_buf_data(buf));
	assert_int_equal(arfs_buf_read(buf, tmp, sizeof(tmp), 0), 0);
	assert_int_equal(*arfs_buf_tag(buf), 0);
	*arfs_buf_tag(buf) = 7;

	assert_int_equal(arfs_buf_write(buf, "hello", 5, 0), 0);
	assert_true(arfs_buf_dirty(buf));
	assert_memory_equal(arfs_buf_data(buf), "hello", 5);
	assert_int_equal(arfs_buf_read(buf, tmp, 3, 2), 3);
	assert_memory_equal(tmp, "llo", 3);
	assert_int_equal(arfs_buf_read(buf, tmp, sizeof(tmp), 5), 0);
	assert_int_equal(arfs_buf_read(buf, tmp, sizeof(tmp), 99), 0);
	assert_int_equal(stats(f).pinned, 1);
	arfs_bufpool_unpin(f->pool, buf);
	assert_int_equal(stats(f).pinned, 0);
	assert_int_equal(stats(f).entries, 1);

	assert_int_equal(arfs_bufpool_lookup(f->pool, key(1, 2), &again), 0);
	assert_ptr_equal(again, buf);
	assert_int_equal(*arfs_buf_tag(again), 7);
	assert_content(again, "hello", 5);
	assert_true(arfs_buf_dirty(again));
	arfs_buf_mark_dirty(again);
	arfs_bufpool_unpin(f->pool, again);
	assert_int_equal(f->st.wb_calls, 0);
	fixture_free(f);
}

static void test_hit_miss_counters(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *a1 = pin(f, 0, 1);
	struct arfs_buf *a2 = pin(f, 0, 1), *b;

	assert_ptr_equal(a1, a2);
	arfs_bufpool_unpin(f->pool, a1);
	arfs_bufpool_unpin(f->pool, a2);
	arfs_bufpool_unpin(f->pool, pin(f, 0, 1));
	assert_int_equal(arfs_bufpool_lookup(f->pool, key(0, 2), &b), -ENOENT);
	arfs_bufpool_unpin(f->pool, pin(f, 0, 2));
	arfs_bufpool_unpin(f->pool, pin(f, 1, 1)); /* other space, other key */

	assert_int_equal(stats(f).hits, 2);
	assert_int_equal(stats(f).misses, 4);
	assert_int_equal(stats(f).entries, 3);
	assert_int_equal(f->st.loads, 3);
	fixture_free(f);
}

static void test_load_error(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *buf = NULL;

	store_set(&f->st, 1, "disk", 4);
	f->st.load_fail = -EIO;
	assert_int_equal(arfs_bufpool_pin(f->pool, key(0, 1), load_cb,
					  writeback_cb, &f->st, &buf), -EIO);
	assert_int_equal(stats(f).entries, 0);
	assert_int_equal(stats(f).pinned, 0);
	assert_false(cached(f, 0, 1));

	f->st.load_fail = 0;
	buf = pin(f, 0, 1);
	assert_content(buf, "disk", 4);
	assert_false(arfs_buf_dirty(buf)); /* loading does not dirty */
	arfs_bufpool_unpin(f->pool, buf);
	assert_int_equal(f->st.loads, 2);
	fixture_free(f);
}

/* ---- eviction ---- */

static void test_lru_by_entries(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 3, 1 * MiB);

	put(f, 1, 'a', 10);
	put(f, 2, 'b', 10);
	put(f, 3, 'c', 10);
	arfs_bufpool_unpin(f->pool, pin(f, 0, 1)); /* 1 is now newest */
	put(f, 4, 'd', 10);                         /* evicts 2 */
	assert_int_equal(stats(f).evictions, 1);
	assert_int_equal(stats(f).entries, 3);
	assert_false(cached(f, 0, 2));
	put(f, 5, 'e', 10);                         /* evicts 3 */
	assert_false(cached(f, 0, 3));
	assert_true(cached(f, 0, 1));
	assert_true(cached(f, 0, 4));
	assert_true(cached(f, 0, 5));
	assert_int_equal(stats(f).evictions, 2);
	/* Dirty victims were written back first. */
	assert_int_equal(f->st.wb_calls, 2);
	assert_int_equal(f->st.len[2], 10);
	assert_int_equal(f->st.data[3][0], 'c');
	fixture_free(f);
}

static void test_lru_by_bytes(void **state)
{
	struct fixture *f = fixture_new(3000, 100, 1 * MiB);

	put(f, 1, 'a', 1000);
	put(f, 2, 'b', 1000);
	put(f, 3, 'c', 1000);
	assert_int_equal(stats(f).bytes, 3000);
	assert_int_equal(stats(f).evictions, 0);
	put(f, 4, 'd', 1000);                       /* evicts 1 */
	assert_int_equal(stats(f).bytes, 3000);
	assert_false(cached(f, 0, 1));
	arfs_bufpool_unpin(f->pool, pin(f, 0, 2)); /* order: 3 4 2 */
	put(f, 5, 'e', 1000);                       /* evicts 3 */
	assert_false(cached(f, 0, 3));
	assert_true(cached(f, 0, 2));
	assert_true(cached(f, 0, 4));
	assert_true(cached(f, 0, 5));
	assert_int_equal(stats(f).evictions, 2);
	assert_int_equal(stats(f).bytes, 3000);
	put(f, 6, 'f', 2500);                       /* evicts 2, 4, 5 */
	assert_int_equal(stats(f).entries, 1);
	assert_int_equal(stats(f).bytes, 2500);
	fixture_free(f);
}

static void test_pinned_never_evicted(void **state)
{
	struct fixture *f = fixture_new(100, 1, 1 * MiB);
	struct arfs_buf *b[4];

	for (int i = 0; i < 4; i++) {
		b[i] = pin(f, 0, (uint64_t)i);
		assert_int_equal(arfs_buf_write(b[i], "0123456789", 10,
						(uint64_t)i * 100), 0);
	}
	/* Over both bounds, nothing unpinned: everything stays. */
	assert_int_equal(stats(f).entries, 4);
	assert_int_equal(stats(f).pinned, 4);
	assert_true(stats(f).bytes > 100);
	arfs_bufpool_unpin(f->pool, b[0]);         /* b0 evicted at once */
	assert_int_equal(stats(f).entries, 3);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(arfs_buf_size(b[i]), (uint64_t)i * 100 + 10);
		assert_memory_equal((const char *)arfs_buf_data(b[i]) + i * 100,
				    "0123456789", 10);
	}
	assert_int_equal(stats(f).evictions, 1);
	for (int i = 1; i < 4; i++)
		arfs_bufpool_unpin(f->pool, b[i]);
	assert_int_equal(stats(f).pinned, 0);
	assert_int_equal(stats(f).entries, 0); /* 310 bytes > 100: none fit */
	assert_int_equal(f->st.wb_calls, 4);
	fixture_free(f);
}

static void test_dirty_written_back_before_eviction(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 1, 1 * MiB);
	struct arfs_buf *buf = pin(f, 0, 1);

	assert_int_equal(arfs_buf_write(buf, "hello", 5, 0), 0);
	arfs_bufpool_unpin(f->pool, buf);
	assert_int_equal(f->st.wb_calls, 0);
	arfs_bufpool_unpin(f->pool, pin(f, 0, 2)); /* evicts 1 */
	assert_int_equal(f->st.wb_calls, 1);
	assert_int_equal(stats(f).writebacks, 1);
	assert_int_equal(stats(f).evictions, 1);
	assert_int_equal(f->st.len[1], 5);
	assert_memory_equal(f->st.data[1], "hello", 5);

	buf = pin(f, 0, 1);                         /* loads what was saved */
	assert_content(buf, "hello", 5);
	assert_false(arfs_buf_dirty(buf));
	arfs_bufpool_unpin(f->pool, buf);           /* evicts clean 2 */
	arfs_bufpool_unpin(f->pool, pin(f, 0, 3));  /* evicts clean 1 */
	assert_int_equal(f->st.wb_calls, 1);        /* clean: no writeback */
	assert_int_equal(stats(f).evictions, 3);
	fixture_free(f);
}

static void test_writeback_failure_keeps_data(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 1, 1 * MiB);
	struct arfs_buf *buf = pin(f, 0, 1);

	assert_int_equal(arfs_buf_write(buf, "precious", 8, 0), 0);
	arfs_bufpool_unpin(f->pool, buf);
	f->st.wb_fail = -EIO;
	arfs_bufpool_unpin(f->pool, pin(f, 0, 2)); /* 1 fails, 2 goes */
	assert_int_equal(stats(f).writeback_errors, 1);
	assert_int_equal(stats(f).writebacks, 0);
	assert_int_equal(stats(f).evictions, 1);
	assert_int_equal(stats(f).entries, 1);
	assert_null(f->st.data[1]);

	assert_int_equal(arfs_bufpool_lookup(f->pool, key(0, 1), &buf), 0);
	assert_true(arfs_buf_dirty(buf));
	assert_content(buf, "precious", 8);
	assert_int_equal(arfs_bufpool_flush(f->pool), -EIO);
	assert_int_equal(arfs_bufpool_flush_buf(f->pool, buf), -EIO);
	assert_true(arfs_buf_dirty(buf));
	f->st.wb_fail = 0;
	assert_int_equal(arfs_bufpool_flush_buf(f->pool, buf), 0);
	assert_false(arfs_buf_dirty(buf));
	assert_memory_equal(f->st.data[1], "precious", 8);
	arfs_bufpool_unpin(f->pool, buf);
	assert_int_equal(stats(f).writeback_errors, 3);
	assert_int_equal(stats(f).writebacks, 1);
	fixture_free(f);
}

/* ---- flush and dirty generations ---- */

static void test_flush_writes_once(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *buf;

	put(f, 1, 'a', 10);
	put(f, 2, 'b', 10);
	arfs_bufpool_unpin(f->pool, pin(f, 0, 3)); /* clean */
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.wb_calls, 2);
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.wb_calls, 2);
	assert_int_equal(stats(f).writebacks, 2);

	buf = pin(f, 0, 1);
	assert_false(arfs_buf_dirty(buf));
	assert_int_equal(arfs_bufpool_flush_buf(f->pool, buf), 0);
	assert_int_equal(f->st.wb_calls, 2);
	assert_int_equal(arfs_buf_truncate(buf, 4), 0);
	assert_true(arfs_buf_dirty(buf));
	assert_int_equal(arfs_bufpool_flush(f->pool), 0); /* pinned: flushed */
	assert_int_equal(f->st.wb_calls, 3);
	assert_int_equal(f->st.len[1], 4);

	/* A write made during the writeback leaves the buffer dirty. */
	f->st.write_in_wb = 1;
	arfs_buf_mark_dirty(buf);
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.wb_calls, 4);
	assert_true(arfs_buf_dirty(buf));
	assert_int_equal(f->st.len[1], 4);
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.wb_calls, 5);
	assert_false(arfs_buf_dirty(buf));
	assert_int_equal(f->st.len[1], 5);
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.wb_calls, 5);
	arfs_bufpool_unpin(f->pool, buf);
	fixture_free(f);
}

/* ---- zero-sized pools ---- */

static void check_pool_zero(size_t max_bytes, size_t max_entries)
{
	struct fixture *f = fixture_new(max_bytes, max_entries, 1 * MiB);
	struct arfs_buf *buf = pin(f, 0, 1), *b2;

	assert_int_equal(arfs_buf_write(buf, "x", 1, 0), 0);
	b2 = pin(f, 0, 1);                          /* pins still work */
	assert_ptr_equal(b2, buf);
	arfs_bufpool_unpin(f->pool, b2);
	assert_int_equal(f->st.wb_calls, 0);        /* still pinned */
	arfs_bufpool_unpin(f->pool, buf);
	assert_int_equal(f->st.wb_calls, 1);
	assert_int_equal(stats(f).entries, 0);
	assert_int_equal(stats(f).bytes, 0);
	assert_false(cached(f, 0, 1));

	buf = pin(f, 0, 1);                         /* loads afresh */
	assert_content(buf, "x", 1);
	arfs_bufpool_unpin(f->pool, buf);
	assert_int_equal(f->st.wb_calls, 1);        /* clean: not again */
	assert_int_equal(f->st.loads, 2);

	f->st.wb_fail = -ENOSPC;                    /* failure: kept dirty */
	put(f, 2, 'y', 3);
	assert_int_equal(stats(f).entries, 1);
	assert_int_equal(stats(f).writeback_errors, 1);
	f->st.wb_fail = 0;
	arfs_bufpool_unpin(f->pool, pin(f, 0, 2));
	assert_int_equal(stats(f).entries, 0);
	assert_memory_equal(f->st.data[2], "yyy", 3);
	assert_int_equal(stats(f).evictions, 3);
	fixture_free(f);
}

static void test_pool_size_zero(void **state)
{
	check_pool_zero(0, 100);
	check_pool_zero(1 * MiB, 0);
	check_pool_zero(0, 0);
}

/* ---- drop and clear ---- */

static void test_drop_while_pinned(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *old, *fresh;

	store_set(&f->st, 1, "old", 3);
	old = pin(f, 0, 1);
	assert_int_equal(arfs_buf_write(old, "NEW", 3, 0), 0);
	arfs_bufpool_drop(f->pool, key(0, 1));
	assert_false(cached(f, 0, 1));
	assert_content(old, "NEW", 3);              /* holder keeps it */
	assert_int_equal(arfs_buf_write(old, "!", 1, 3), 0);

	fresh = pin(f, 0, 1);
	assert_ptr_not_equal(fresh, old);
	assert_content(fresh, "old", 3);
	assert_int_equal(stats(f).entries, 2);
	arfs_bufpool_unpin(f->pool, old);           /* freed, no writeback */
	assert_int_equal(stats(f).entries, 1);
	arfs_bufpool_unpin(f->pool, fresh);
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	assert_int_equal(f->st.wb_calls, 0);
	assert_memory_equal(f->st.data[1], "old", 3);

	put(f, 2, 'z', 100);                        /* drop unpinned */
	arfs_bufpool_drop(f->pool, key(0, 2));
	arfs_bufpool_drop(f->pool, key(0, 3));      /* absent: no-op */
	assert_int_equal(stats(f).entries, 1);
	assert_true(stats(f).bytes < 100);
	assert_int_equal(f->st.wb_calls, 0);
	fixture_free(f);
}

static void test_clear_no_stale_slot(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *buf;

	for (uint64_t round = 0; round < 20; round++) {
		int loads = f->st.loads;

		buf = pin(f, 0, 1);                 /* key A */
		assert_int_equal(arfs_buf_write(buf, "A", 1, 0), 0);
		arfs_bufpool_unpin(f->pool, buf);
		arfs_bufpool_clear(f->pool, 0, true);
		assert_int_equal(stats(f).entries, 0);
		assert_int_equal(stats(f).bytes, 0);

		store_set(&f->st, 2, "B", 1);       /* key B loads "B" */
		buf = pin(f, 0, 2);
		assert_content(buf, "B", 1);
		arfs_bufpool_unpin(f->pool, buf);

		buf = pin(f, 0, 1);                 /* A again: loads anew */
		assert_int_equal(arfs_buf_size(buf), 0);
		arfs_bufpool_unpin(f->pool, buf);
		assert_int_equal(f->st.loads, loads + 3);
		arfs_bufpool_clear(f->pool, 0, true);
	}
	assert_int_equal(f->st.wb_calls, 0);
	fixture_free(f);
}

static void test_clear_space(void **state)
{
	struct fixture *f = fixture_new(1 * MiB, 100, 1 * MiB);
	struct arfs_buf *held = pin(f, 1, 3);

	arfs_bufpool_unpin(f->pool, pin(f, 1, 1));
	arfs_bufpool_unpin(f->pool, pin(f, 1, 2));
	arfs_bufpool_unpin(f->pool, pin(f, 2, 1));
	arfs_bufpool_clear(f->pool, 1, false);
	assert_false(cached(f, 1, 1));
	assert_false(cached(f, 1, 2));
	assert_true(cached(f, 1, 3));               /* pinned: kept */
	assert_true(cached(f, 2, 1));               /* other space */
	assert_int_equal(stats(f).entries, 2);
	arfs_bufpool_unpin(f->pool, held);
	arfs_bufpool_clear(f->pool, 0, true);
	assert_int_equal(stats(f).entries, 0);
	fixture_free(f);
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

/* ---- concurrency ---- */

#define CC_THREADS 4
#define CC_ITERS 3000
#define CC_KEYS 16
#define CC_HDR 8

struct cc_arg {
	struct fixture *f;
	unsigned seed;
	atomic_int *errors;
};

static size_t cc_len(uint64_t id)
{
	return id % 2 ? 4096 : 1024; /* odd keys are spilled */
}

/* Content is an 8-byte id header then one repeated byte: check both. */
static bool cc_verify(struct arfs_buf *buf, uint64_t id)
{
	uint8_t got[4096 + 1];
	ssize_t n = arfs_buf_read(buf, got, sizeof(got), 0);

	if (n == 0)
		return true; /* never written back yet */
	if (n != (ssize_t)cc_len(id))
		return false;
	if (memcmp(got, &id, CC_HDR))
		return false;
	for (ssize_t i = CC_HDR; i < n; i++)
		if (got[i] != got[CC_HDR])
			return false;
	return true;
}

static bool cc_write(struct arfs_buf *buf, uint64_t id, uint8_t v)
{
	uint8_t p[4096];

	memcpy(p, &id, CC_HDR);
	memset(p + CC_HDR, v, sizeof(p) - CC_HDR);
	return arfs_buf_write(buf, p, cc_len(id), 0) == 0;
}

static bool cc_step(struct fixture *f, unsigned *seed)
{
	unsigned r = (unsigned)rand_r(seed);
	uint64_t id = r % CC_KEYS;
	struct arfs_buf *buf;
	bool ok = true;

	if (r % 97 == 0)
		return arfs_bufpool_flush(f->pool) == 0;
	if (r % 193 == 0) {
		arfs_bufpool_drop(f->pool, key(0, id));
		return true;
	}
	if (arfs_bufpool_pin(f->pool, key(0, id), load_cb, writeback_cb,
			     &f->st, &buf))
		return false;
	ok = cc_verify(buf, id);
	if ((r >> 8) % 3 == 0)
		ok = ok && cc_write(buf, id, (uint8_t)(r >> 16));
	ok = ok && cc_verify(buf, id);
	arfs_bufpool_unpin(f->pool, buf);
	return ok;
}

static void *cc_thread(void *p)
{
	struct cc_arg *a = p;

	for (int i = 0; i < CC_ITERS; i++)
		if (!cc_step(a->f, &a->seed))
			atomic_fetch_add(a->errors, 1);
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fixture *f = fixture_new(12 * 1024, 6, 2048);
	pthread_t th[CC_THREADS];
	struct cc_arg args[CC_THREADS];
	atomic_int errors = 0;
	struct arfs_bufpool_stats s;

	for (int i = 0; i < CC_THREADS; i++) {
		args[i] = (struct cc_arg){ f, (unsigned)i * 7919 + 1, &errors };
		assert_int_equal(pthread_create(&th[i], NULL, cc_thread,
						&args[i]), 0);
	}
	for (int i = 0; i < CC_THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&errors), 0);

	s = stats(f);
	assert_int_equal(s.pinned, 0);
	assert_true(s.entries <= 6);
	assert_true(s.evictions > 0);
	assert_true(s.spills > 0);
	assert_int_equal(s.writeback_errors, 0);

	/* After a flush the store and the cache agree on every key. */
	assert_int_equal(arfs_bufpool_flush(f->pool), 0);
	for (uint64_t id = 0; id < CC_KEYS; id++) {
		struct arfs_buf *buf = pin(f, 0, id);
		assert_true(cc_verify(buf, id));
		assert_content(buf, f->st.data[id] ? f->st.data[id] : (uint8_t *)"",
			       f->st.len[id]);
		arfs_bufpool_unpin(f->pool, buf);
	}
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
		cmocka_unit_test(test_pin_unpin_basic),
		cmocka_unit_test(test_hit_miss_counters),
		cmocka_unit_test(test_load_error),
		cmocka_unit_test(test_lru_by_entries),
		cmocka_unit_test(test_lru_by_bytes),
		cmocka_unit_test(test_pinned_never_evicted),
		cmocka_unit_test(test_dirty_written_back_before_eviction),
		cmocka_unit_test(test_writeback_failure_keeps_data),
		cmocka_unit_test(test_flush_writes_once),
		cmocka_unit_test(test_pool_size_zero),
		cmocka_unit_test(test_drop_while_pinned),
		cmocka_unit_test(test_clear_no_stale_slot),
		cmocka_unit_test(test_clear_space),
		cmocka_unit_test(test_spill_big),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_truncate_gives_memory_back),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_base),
		cmocka_unit_test_teardown(test_spill_enospc, fault_remove),
		cmocka_unit_test_teardown(test_staging_without_tmpfile,
					  fault_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
