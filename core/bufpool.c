/*
 * bufpool.c - the process-wide buffer cache. The contract is in bufpool.h.
 *
 * Structures
 *   The pool keeps a chained hash table keyed by (space, id) and a doubly
 *   linked LRU list (oldest at lru_old, newest at lru_new). A buffer is in
 *   one of these states, all judged under the pool mutex:
 *
 *     pinned        pins > 0; in the table unless dropped; not on the LRU
 *     cached        pins == 0, in the table, on the LRU
 *     evicting      taken off the LRU by an evictor that is writing it back
 *                   without the pool mutex; still in the table, so a pin of
 *                   its key finds it (and sets `repinned`)
 *     dropped       out of the table (drop/clear/failed load), freed by
 *                   whoever lets go of it last: its last unpin or its
 *                   evictor. A later pin of the key makes a new buffer.
 *
 *   Invariants:
 *    1. on_lru == (in_table && pins == 0 && !evicting).
 *    2. At most one buffer per key is in the table; a buffer that left the
 *       table never returns to it, so stale bytes are never found again.
 *    3. A buffer is freed only with pins == 0 and !evicting, off the table.
 *    4. `entries` counts every live buffer (table or dropped-but-held);
 *       `bytes` counts the capacity of every in-memory content array.
 *
 * Dirty tracking
 *   Every change bumps buf->gen. A writeback records gen before calling
 *   the callback and sets clean_gen to that value only on success, so a
 *   write made during or after the writeback leaves the buffer dirty, and a
 *   clean buffer (gen == clean_gen) is never written back again.
 *
 * Content
 *   Content lives in a growable array until its size would exceed
 *   spill_threshold; then it moves to an unnamed staging file (O_TMPFILE,
 *   or a created-then-unlinked name where O_TMPFILE is not supported) and
 *   stays there for the buffer's life. The staging file's length always
 *   equals the buffer size (failed writes are truncated back), so growing
 *   by ftruncate or by writing past the end reads back zeros.
 *
 * Locks
 *   pool->lock: table, LRU, pin counts, state flags, entries, pinned, hits,
 *   misses, evictions. buf->lock (recursive): content, size, fd, gen; held
 *   during load and writeback callbacks, which run without pool->lock.
 *   Lock order: pool->lock before buf->lock. The counters changed while
 *   only a buffer mutex is held (bytes, writebacks, writeback errors,
 *   spills) are atomics, so no code path takes pool->lock under buf->lock.
 *   A new buffer's mutex is taken by its creator before it is published, so
 *   a concurrent pin of the same key waits on that mutex for the load.
 */
#include "bufpool.h"
#include "bufpool_int.h"
#include "io.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE_MIN_BUCKETS 64

/* ---- key table (pool->lock) ---- */

static size_t key_hash(struct arfs_bufkey key, size_t nbuckets)
{
	uint64_t h = key.space * 0x9E3779B97F4A7C15u ^ key.id;

	h ^= h >> 31;
	h *= 0xBF58476D1CE4E5B9u;
	h ^= h >> 29;
	return (size_t)(h & (nbuckets - 1));
}

static bool key_eq(struct arfs_bufkey a, struct arfs_bufkey b)
{
	return a.space == b.space && a.id == b.id;
}

static struct arfs_buf *table_find(struct arfs_bufpool *pool,
				   struct arfs_bufkey key)
{
	struct arfs_buf *buf = pool->table[key_hash(key, pool->nbuckets)];

	while (buf && !key_eq(buf->key, key))
		buf = buf->hnext;
	return buf;
}

/* Double the bucket array; on allocation failure chains just get longer. */
static void table_grow(struct arfs_bufpool *pool)
{
	size_t n = pool->nbuckets * 2;
	struct arfs_buf **t = calloc(n, sizeof(*t));

	if (!t)
		return;
	for (size_t i = 0; i < pool->nbuckets; i++) {
		struct arfs_buf *buf = pool->table[i], *next;
		for (; buf; buf = next) {
			size_t b = key_hash(buf->key, n);
			next = buf->hnext;
			buf->hnext = t[b];
			t[b] = buf;
		}
	}
	free(pool->table);
	pool->table = t;
	pool->nbuckets = n;
}

static void table_insert(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	size_t b;

	if (pool->table_count >= pool->nbuckets)
		table_grow(pool);
	b = key_hash(buf->key, pool->nbuckets);
	buf->hnext = pool->table[b];
	pool->table[b] = buf;
	buf->in_table = true;
	pool->table_count++;
}

static void table_remove(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	struct arfs_buf **pp = &pool->table[key_hash(buf->key, pool->nbuckets)];

	while (*pp != buf)
		pp = &(*pp)->hnext;
	*pp = buf->hnext;
	buf->hnext = NULL;
	buf->in_table = false;
	pool->table_count--;
}

/* ---- LRU list (pool->lock) ---- */

static void lru_add(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	buf->lru_next = NULL;
	buf->lru_prev = pool->lru_new;
	if (pool->lru_new)
		pool->lru_new->lru_next = buf;
	else
		pool->lru_old = buf;
	pool->lru_new = buf;
	buf->on_lru = true;
}

static void lru_del(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	if (buf->lru_prev)
		buf->lru_prev->lru_next = buf->lru_next;
	else
		pool->lru_old = buf->lru_next;
	if (buf->lru_next)
		buf->lru_next->lru_prev = buf->lru_prev;
	else
		pool->lru_new = buf->lru_prev;
	buf->lru_prev = buf->lru_next = NULL;
	buf->on_lru = false;
}

/* ---- buffer life ---- */

static struct arfs_buf *buf_new(struct arfs_bufpool *pool,
				struct arfs_bufkey key,
				arfs_buf_writeback_fn writeback, void *ctx)
{
	struct arfs_buf *buf = calloc(1, sizeof(*buf));
	pthread_mutexattr_t attr;

	if (!buf)
		return NULL;
	buf->pool = pool;
	buf->key = key;
	buf->writeback = writeback;
	buf->ctx = ctx;
	buf->fd = -1;
	atomic_init(&buf->state, BUF_LOADING);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	if (pthread_mutex_init(&buf->lock, &attr)) {
		free(buf);
		buf = NULL;
	}
	pthread_mutexattr_destroy(&attr);
	return buf;
}

/* Free content and struct. The buffer is unreachable (invariant 3). */
static void buf_free(struct arfs_buf *buf)
{
	if (!buf)
		return;
	arfs_io_close(buf->fd);
	atomic_fetch_sub(&buf->pool->bytes, buf->cap);
	free(buf->data);
	if (buf->base_free)
		buf->base_free(buf->base_ctx);
	pthread_mutex_destroy(&buf->lock);
	free(buf);
}

/* Take a pin under pool->lock (no hit counted). */
static void hold_locked(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	if (buf->on_lru)
		lru_del(pool, buf);
	if (buf->evicting)
		buf->repinned = true;
	if (buf->pins++ == 0)
		pool->pinned++;
}

/*
 * Drop a pin under pool->lock. Returns true if the caller must free the
 * buffer (after releasing pool->lock): it was the last hold on a buffer
 * that has left the table.
 */
static bool release_locked(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	assert(buf->pins > 0);
	if (--buf->pins > 0)
		return false;
	pool->pinned--;
	if (buf->evicting)
		return false; /* the evictor decides */
	if (buf->in_table) {
		lru_add(pool, buf);
		return false;
	}
	pool->entries--;
	return true;
}

/* ---- writeback (buffer mutex) ---- */

/* Write back if dirty. Caller holds buf->lock. 0 or the callback's error. */
static int writeback_locked(struct arfs_buf *buf)
{
	uint64_t gen = buf->gen;
	int rc;

	if (!dirty_locked(buf) || atomic_load(&buf->state) != BUF_READY)
		return 0;
	if (!buf->writeback) {
		/* Nothing to persist to: the content is discardable. */
		buf->clean_gen = gen;
		return 0;
	}
	rc = buf->writeback(buf->ctx, buf);
	if (rc) {
		atomic_fetch_add(&buf->pool->writeback_errors, 1);
		return rc;
	}
	buf->clean_gen = gen;
	buf->changed_from = UINT64_MAX;
	atomic_fetch_add(&buf->pool->writebacks, 1);
	return 0;
}

static int buf_writeback(struct arfs_buf *buf)
{
	int rc;

	pthread_mutex_lock(&buf->lock);
	rc = writeback_locked(buf);
	pthread_mutex_unlock(&buf->lock);
	return rc;
}

/* ---- eviction (pool->lock) ---- */

static bool over_budget(const struct arfs_bufpool *pool)
{
	if (!pool->max_bytes || !pool->max_entries)
		return true; /* keep nothing unpinned */
	return pool->entries > pool->max_entries ||
	       atomic_load(&pool->bytes) > pool->max_bytes;
}

/* Oldest cached buffer whose writeback has not failed in this pass. */
static struct arfs_buf *pick_victim(struct arfs_bufpool *pool, uint64_t pass)
{
	struct arfs_buf *buf = pool->lru_old;

	while (buf && buf->skip_pass == pass)
		buf = buf->lru_next;
	return buf;
}

/*
 * After the victim's writeback (rc), with pool->lock held again: decide its
 * fate. Returns true if the caller must free it.
 */
static bool finish_evict_locked(struct arfs_bufpool *pool,
				struct arfs_buf *victim, int rc, uint64_t pass)
{
	bool used = victim->repinned;

	victim->evicting = false;
	victim->repinned = false;
	if (victim->pins)
		return false; /* its last unpin puts it on the LRU */
	if (!victim->in_table) {
		pool->entries--; /* dropped or cleared meanwhile */
		return true;
	}
	if (rc || used) {
		/* Failed: stays dirty, skipped. Used: most recent again. */
		if (rc)
			victim->skip_pass = pass;
		lru_add(pool, victim);
		return false;
	}
	table_remove(pool, victim);
	pool->entries--;
	pool->evictions++;
	return true;
}

/*
 * Evict least recently used cached buffers while over either bound.
 * Called and returns with pool->lock held; drops it around each writeback
 * and free.
 */
static void evict_locked(struct arfs_bufpool *pool)
{
	uint64_t pass = ++pool->pass;
	struct arfs_buf *victim;
	int rc;

	while (over_budget(pool) && (victim = pick_victim(pool, pass))) {
		lru_del(pool, victim);
		victim->evicting = true;
		pthread_mutex_unlock(&pool->lock);
		rc = buf_writeback(victim);
		pthread_mutex_lock(&pool->lock);
		if (finish_evict_locked(pool, victim, rc, pass)) {
			pthread_mutex_unlock(&pool->lock);
			buf_free(victim);
			pthread_mutex_lock(&pool->lock);
		}
	}
}

/* ---- pool ---- */

int arfs_bufpool_new(const struct arfs_bufpool_opts *opts,
		     struct arfs_bufpool **out)
{
	const char *dir = opts ? opts->staging_dir : NULL;
	struct arfs_bufpool *pool;

	if (!opts || !out)
		return -EINVAL;
	if (!dir)
		dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		goto out_nomem;
	pool->staging_dir = strdup(dir);
	if (!pool->staging_dir)
		goto out_free_pool;
	pool->nbuckets = TABLE_MIN_BUCKETS;
	pool->table = calloc(pool->nbuckets, sizeof(*pool->table));
	if (!pool->table)
		goto out_free_dir;
	if (pthread_mutex_init(&pool->lock, NULL))
		goto out_free_table;
	pool->max_bytes = opts->max_bytes;
	pool->max_entries = opts->max_entries;
	pool->spill_threshold = opts->spill_threshold;
	*out = pool;
	return 0;

out_free_table:
	free(pool->table);
out_free_dir:
	free(pool->staging_dir);
out_free_pool:
	free(pool);
out_nomem:
	return -ENOMEM;
}

void arfs_bufpool_free(struct arfs_bufpool *pool)
{
	if (!pool)
		return;
	assert(pool->pinned == 0);
	for (size_t i = 0; i < pool->nbuckets; i++) {
		struct arfs_buf *buf = pool->table[i], *next;
		for (; buf; buf = next) {
			next = buf->hnext;
			buf_free(buf);
		}
	}
	pthread_mutex_destroy(&pool->lock);
	free(pool->table);
	free(pool->staging_dir);
	free(pool);
}

/*
 * Wait until a found buffer's load is over. Returns 0 with it kept pinned,
 * or 1 if the load failed (the pin is given back; look the key up again).
 */
static int wait_loaded(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	bool free_it;

	if (atomic_load(&buf->state) == BUF_LOADING) {
		pthread_mutex_lock(&buf->lock); /* the loader holds it */
		pthread_mutex_unlock(&buf->lock);
	}
	if (atomic_load(&buf->state) == BUF_READY)
		return 0;
	pthread_mutex_lock(&pool->lock);
	free_it = release_locked(pool, buf);
	pthread_mutex_unlock(&pool->lock);
	if (free_it)
		buf_free(buf);
	sched_yield(); /* let the loader take the buffer out of the table */
	return 1;
}

/* Run the load callback. Caller holds buf->lock. */
static int buf_load(struct arfs_buf *buf, arfs_buf_load_fn load)
{
	int rc = load ? load(buf->ctx, buf) : 0;

	if (rc) {
		atomic_store(&buf->state, BUF_FAILED);
		return rc;
	}
	buf->clean_gen = buf->gen;
	buf->changed_from = UINT64_MAX;
	atomic_store(&buf->state, BUF_READY);
	return 0;
}

/* A load failed: take the buffer out of the table and let go of it. */
static void discard_failed(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	bool free_it;

	pthread_mutex_lock(&pool->lock);
	if (buf->in_table)
		table_remove(pool, buf);
	free_it = release_locked(pool, buf);
	pthread_mutex_unlock(&pool->lock);
	if (free_it)
		buf_free(buf);
}

/*
 * Create, publish and load a buffer for key. Called with pool->lock held;
 * returns with it released (the load runs without it).
 */
static int create_locked(struct arfs_bufpool *pool, struct arfs_bufkey key,
			 arfs_buf_load_fn load,
			 arfs_buf_writeback_fn writeback, void *ctx,
			 struct arfs_buf **out)
{
	struct arfs_buf *buf = buf_new(pool, key, writeback, ctx);
	int rc;

	pool->misses++;
	if (!buf) {
		pthread_mutex_unlock(&pool->lock);
		return -ENOMEM;
	}
	pthread_mutex_lock(&buf->lock); /* unpublished: cannot block */
	table_insert(pool, buf);
	pool->entries++;
	hold_locked(pool, buf);
	pthread_mutex_unlock(&pool->lock);

	rc = buf_load(buf, load);
	pthread_mutex_unlock(&buf->lock);
	if (rc) {
		discard_failed(pool, buf);
		return rc;
	}
	*out = buf;
	return 0;
}

int arfs_bufpool_pin(struct arfs_bufpool *pool, struct arfs_bufkey key,
		     arfs_buf_load_fn load, arfs_buf_writeback_fn writeback,
		     void *ctx, struct arfs_buf **out)
{
	struct arfs_buf *buf;

	for (;;) {
		pthread_mutex_lock(&pool->lock);
		buf = table_find(pool, key);
		if (!buf)
			return create_locked(pool, key, load, writeback, ctx,
					     out);
		hold_locked(pool, buf);
		pool->hits++;
		pthread_mutex_unlock(&pool->lock);
		if (!wait_loaded(pool, buf))
			break;
	}
	*out = buf;
	return 0;
}

int arfs_bufpool_lookup(struct arfs_bufpool *pool, struct arfs_bufkey key,
			struct arfs_buf **out)
{
	struct arfs_buf *buf;

	pthread_mutex_lock(&pool->lock);
	buf = table_find(pool, key);
	if (!buf) {
		pool->misses++;
		pthread_mutex_unlock(&pool->lock);
		return -ENOENT;
	}
	hold_locked(pool, buf);
	pool->hits++;
	pthread_mutex_unlock(&pool->lock);
	if (wait_loaded(pool, buf))
		return -ENOENT;
	*out = buf;
	return 0;
}

void arfs_bufpool_unpin(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	bool free_it;

	pthread_mutex_lock(&pool->lock);
	free_it = release_locked(pool, buf);
	evict_locked(pool);
	pthread_mutex_unlock(&pool->lock);
	if (free_it)
		buf_free(buf);
}

/* Pin every buffer in the table into a new array; *n set. NULL if no memory. */
static struct arfs_buf **hold_all_locked(struct arfs_bufpool *pool, size_t *n)
{
	struct arfs_buf **all = malloc((pool->table_count + 1) * sizeof(*all));

	*n = 0;
	if (!all)
		return NULL;
	for (size_t i = 0; i < pool->nbuckets; i++) {
		for (struct arfs_buf *buf = pool->table[i]; buf;
		     buf = buf->hnext) {
			hold_locked(pool, buf);
			all[(*n)++] = buf;
		}
	}
	return all;
}

int arfs_bufpool_flush(struct arfs_bufpool *pool)
{
	struct arfs_buf **all;
	size_t n, nfree = 0;
	int rc = 0;

	pthread_mutex_lock(&pool->lock);
	all = hold_all_locked(pool, &n);
	pthread_mutex_unlock(&pool->lock);
	if (!all)
		return -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		int err = buf_writeback(all[i]);
		if (err && !rc)
			rc = err;
	}

	/* Give the pins back; the array is reused for buffers to free. */
	pthread_mutex_lock(&pool->lock);
	for (size_t i = 0; i < n; i++) {
		struct arfs_buf *buf = all[i];
		if (release_locked(pool, buf))
			all[nfree++] = buf;
	}
	evict_locked(pool);
	pthread_mutex_unlock(&pool->lock);
	for (size_t i = 0; i < nfree; i++)
		buf_free(all[i]);
	free(all);
	return rc;
}

int arfs_bufpool_flush_buf(struct arfs_bufpool *pool, struct arfs_buf *buf)
{
	return buf_writeback(buf);
}

void arfs_bufpool_drop(struct arfs_bufpool *pool, struct arfs_bufkey key)
{
	struct arfs_buf *buf;
	bool free_it = false;

	pthread_mutex_lock(&pool->lock);
	buf = table_find(pool, key);
	if (buf) {
		table_remove(pool, buf);
		if (!buf->pins && !buf->evicting) {
			lru_del(pool, buf);
			pool->entries--;
			free_it = true;
		}
	}
	pthread_mutex_unlock(&pool->lock);
	if (free_it)
		buf_free(buf);
}

/*
 * Take the unpinned buffers of one bucket that match out of the table.
 * Those not being evicted are pushed on *dead for the caller to free.
 */
static void clear_bucket_locked(struct arfs_bufpool *pool, size_t b,
				uint64_t space, bool all_spaces,
				struct arfs_buf **dead)
{
	struct arfs_buf **pp = &pool->table[b], *buf;

	while ((buf = *pp)) {
		if (buf->pins || (!all_spaces && buf->key.space != space)) {
			pp = &buf->hnext;
			continue;
		}
		*pp = buf->hnext;
		buf->in_table = false;
		pool->table_count--;
		buf->hnext = NULL;
		if (buf->evicting)
			continue; /* its evictor frees it */
		lru_del(pool, buf);
		pool->entries--;
		buf->hnext = *dead;
		*dead = buf;
	}
}

void arfs_bufpool_clear(struct arfs_bufpool *pool, uint64_t space,
			bool all_spaces)
{
	struct arfs_buf *dead = NULL, *next;

	pthread_mutex_lock(&pool->lock);
	for (size_t b = 0; b < pool->nbuckets; b++)
		clear_bucket_locked(pool, b, space, all_spaces, &dead);
	pthread_mutex_unlock(&pool->lock);
	for (; dead; dead = next) {
		next = dead->hnext;
		buf_free(dead);
	}
}

void arfs_bufpool_get_stats(struct arfs_bufpool *pool,
			    struct arfs_bufpool_stats *out)
{
	pthread_mutex_lock(&pool->lock);
	out->hits = pool->hits;
	out->misses = pool->misses;
	out->evictions = pool->evictions;
	out->entries = pool->entries;
	out->pinned = pool->pinned;
	pthread_mutex_unlock(&pool->lock);
	out->writebacks = atomic_load(&pool->writebacks);
	out->writeback_errors = atomic_load(&pool->writeback_errors);
	out->spills = atomic_load(&pool->spills);
	out->bytes = atomic_load(&pool->bytes);
}
