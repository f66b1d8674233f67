/*
 * test_bufpool.c - the buffer pool contract (core/bufpool.h): pins, LRU
 * eviction by bytes and by entries, writeback and its failures, flush,
 * zero-sized pools, drop/clear and concurrent use. A buffer's content
 * (spilling to staging files, truncate, I/O faults, the base read) is
 * tested in test_bufcontent.c.
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

static bool cached(struct fixture *f, uint64_t space, uint64_t id)
{
	struct arfs_buf *buf;

	if (arfs_bufpool_lookup(f->pool, key(space, id), &buf))
		return false;
	arfs_bufpool_unpin(f->pool, buf);
	return true;
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
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
