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
#define MEM_MIN_CAP 64
#define STAGING_NAME_TRIES 100

enum buf_state { BUF_LOADING, BUF_READY, BUF_FAILED };

struct arfs_buf {
	/* Set at creation, read-only afterwards. */
	struct arfs_bufpool *pool;
	struct arfs_bufkey key;
	arfs_buf_writeback_fn writeback;
	void *ctx;
	atomic_int state;         /* enum buf_state; written under lock */

	/* Under pool->lock. */
	struct arfs_buf *hnext;   /* hash chain; free-list link once dropped */
	struct arfs_buf *lru_prev, *lru_next;
	unsigned pins;
	bool in_table, on_lru, evicting, repinned;
	uint64_t skip_pass;       /* writeback failed in this eviction pass */

	/* Under lock. */
	pthread_mutex_t lock;
	uint8_t *data;            /* in-memory content, cap bytes; fd < 0 */
	size_t cap;
	uint64_t size;
	int fd;                   /* staging file, or -1 */
	uint64_t gen, clean_gen;  /* dirty iff gen != clean_gen */
	uint64_t changed_from;    /* lowest offset changed since clean */
	/*
	 * Bytes [0, base) are not held: base_read supplies them (the owner's
	 * committed copy). In memory, data[i] is byte base + i; a staging
	 * file holds bytes at their own offsets (a hole below base).
	 */
	uint64_t base;
	arfs_buf_base_fn base_read;
	void (*base_free)(void *ctx);
	void *base_ctx;
	uint64_t tag;             /* the owner's word */
};

struct arfs_bufpool {
	size_t max_bytes, max_entries, spill_threshold;
	char *staging_dir;

	/* Under lock. */
	pthread_mutex_t lock;
	struct arfs_buf **table;
	size_t nbuckets, table_count;
	struct arfs_buf *lru_old, *lru_new;
	size_t entries, pinned;
	uint64_t hits, misses, evictions, pass;

	/* Changed under a buffer mutex only, hence atomic. */
	atomic_size_t bytes;
	atomic_uint_least64_t writebacks, writeback_errors, spills;
};

static const uint8_t empty_content[1];
static atomic_uint_least64_t staging_seq;

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

static bool dirty_locked(const struct arfs_buf *buf)
{
	return buf->gen != buf->clean_gen;
}

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

/* ---- staging files ---- */

/* Fallback for file systems without O_TMPFILE: create a name, unlink it. */
static int staging_open_named(const char *dir)
{
	char path[PATH_MAX];
	int fd = -EEXIST, rc;

	for (int i = 0; i < STAGING_NAME_TRIES && fd == -EEXIST; i++) {
		uint64_t seq = atomic_fetch_add(&staging_seq, 1);
		int len = snprintf(path, sizeof(path),
				   "%s/.arfs-staging-%ld-%llu", dir,
				   (long)getpid(), (unsigned long long)seq);
		if (len < 0 || (size_t)len >= sizeof(path))
			return -ENAMETOOLONG;
		fd = arfs_io_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0)
		return fd;
	rc = arfs_io_unlinkat(AT_FDCWD, path, 0);
	if (rc) {
		arfs_io_close(fd);
		return rc;
	}
	return fd;
}

/* An empty unnamed file in the staging directory: fd or -errno. */
static int staging_open(const struct arfs_bufpool *pool)
{
	int fd = arfs_io_open(pool->staging_dir, O_RDWR | O_TMPFILE, 0600);

	/* Kernels and file systems without O_TMPFILE say one of these. */
	if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL)
		fd = staging_open_named(pool->staging_dir);
	return fd;
}

/* Move in-memory content to a staging file. Caller holds buf->lock. */
static int spill_locked(struct arfs_buf *buf)
{
	int fd = staging_open(buf->pool);
	int rc = 0;

	if (fd < 0)
		return fd;
	if (buf->size > buf->base)
		rc = arfs_io_pwrite_all(fd, buf->data,
					(size_t)(buf->size - buf->base),
					(off_t)buf->base);
	else if (buf->size)
		rc = arfs_io_ftruncate(fd, (off_t)buf->size);
	if (rc) {
		arfs_io_close(fd);
		return rc;
	}
	atomic_fetch_sub(&buf->pool->bytes, buf->cap);
	free(buf->data);
	buf->data = NULL;
	buf->cap = 0;
	buf->fd = fd;
	atomic_fetch_add(&buf->pool->spills, 1);
	return 0;
}

/* Spill first if the content is about to outgrow memory. */
static int make_room_locked(struct arfs_buf *buf, uint64_t end)
{
	if (buf->fd >= 0 || end - buf->base <= buf->pool->spill_threshold)
		return 0;
	return spill_locked(buf);
}

/* ---- in-memory content (buffer mutex) ---- */

/* Make cap >= need (need <= spill_threshold); doubles, capped there. */
static int mem_reserve(struct arfs_buf *buf, size_t need)
{
	size_t threshold = buf->pool->spill_threshold;
	size_t cap = buf->cap;
	uint8_t *data;

	if (need <= cap)
		return 0;
	cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap < MEM_MIN_CAP)
		cap = MEM_MIN_CAP;
	if (cap > threshold)
		cap = threshold;
	if (cap < need)
		cap = need;
	data = realloc(buf->data, cap);
	if (!data)
		return -ENOMEM;
	atomic_fetch_add(&buf->pool->bytes, cap - buf->cap);
	buf->data = data;
	buf->cap = cap;
	return 0;
}

/* Give memory back after shrinking far below the capacity. */
static void mem_shrink(struct arfs_buf *buf, size_t size)
{
	uint8_t *data = NULL;

	if (size >= buf->cap / 4)
		return;
	if (size) {
		data = realloc(buf->data, size);
		if (!data)
			return; /* keep the bigger array */
	} else {
		free(buf->data);
	}
	atomic_fetch_sub(&buf->pool->bytes, buf->cap - size);
	buf->data = data;
	buf->cap = size;
}

/* Set the in-memory size (>= base), zero-filling when it grows. */
static int mem_resize(struct arfs_buf *buf, size_t size)
{
	size_t now = (size_t)(buf->size - buf->base);
	size_t want = size - (size_t)buf->base;
	int rc;

	if (want > now) {
		rc = mem_reserve(buf, want);
		if (rc)
			return rc;
		memset(buf->data + now, 0, want - now);
	} else {
		mem_shrink(buf, want);
	}
	buf->size = size;
	return 0;
}

/* ---- buffer content ---- */

struct arfs_bufkey arfs_buf_key(const struct arfs_buf *buf)
{
	return buf->key;
}

uint64_t arfs_buf_size(struct arfs_buf *buf)
{
	uint64_t size;

	pthread_mutex_lock(&buf->lock);
	size = buf->size;
	pthread_mutex_unlock(&buf->lock);
	return size;
}

bool arfs_buf_dirty(struct arfs_buf *buf)
{
	bool dirty;

	pthread_mutex_lock(&buf->lock);
	dirty = dirty_locked(buf);
	pthread_mutex_unlock(&buf->lock);
	return dirty;
}

/* Bytes [off, off + n) (inside the size). Caller holds lock. */
static ssize_t read_locked(struct arfs_buf *buf, void *dst, size_t n,
			   uint64_t off)
{
	size_t below = 0;
	ssize_t got;
	int rc;

	if (off < buf->base) {
		below = buf->base - off < n ? (size_t)(buf->base - off) : n;
		rc = buf->base_read(buf->base_ctx, dst, below, off);
		if (rc)
			return rc;
		dst = (uint8_t *)dst + below;
		off += below;
		n -= below;
	}
	if (!n)
		return (ssize_t)below;
	if (buf->fd < 0) {
		memcpy(dst, buf->data + (off - buf->base), n);
		return (ssize_t)(below + n);
	}
	got = arfs_io_pread_all(buf->fd, dst, n, (off_t)off);
	if (got >= 0 && (size_t)got != n)
		return -EIO; /* the staging file lost bytes */
	return got < 0 ? got : (ssize_t)(below + n);
}

/*
 * Fetch the base bytes into the content (a write below base). Caller
 * holds lock.
 */
static int materialize_locked(struct arfs_buf *buf)
{
	uint64_t base = buf->base, done;
	uint8_t *chunk;
	int rc = 0;

	if (!base)
		return 0;
	if (buf->fd < 0 && buf->size > buf->pool->spill_threshold) {
		rc = spill_locked(buf);
		if (rc)
			return rc;
	}
	if (buf->fd < 0) {
		size_t clen = (size_t)(buf->size - base);
		rc = mem_reserve(buf, (size_t)buf->size);
		if (rc)
			return rc;
		memmove(buf->data + base, buf->data, clen);
		rc = buf->base_read(buf->base_ctx, buf->data, (size_t)base, 0);
		if (rc) {
			memmove(buf->data, buf->data + base, clen);
			return rc;
		}
	} else {
		chunk = malloc(1u << 20);
		if (!chunk)
			return -ENOMEM;
		for (done = 0; !rc && done < base; done += 1u << 20) {
			size_t n = base - done < (1u << 20) ? (size_t)(base - done)
							    : (1u << 20);
			rc = buf->base_read(buf->base_ctx, chunk, n, done);
			if (!rc)
				rc = arfs_io_pwrite_all(buf->fd, chunk, n,
							(off_t)done);
		}
		free(chunk);
		if (rc)
			return rc;
	}
	buf->base = 0;
	if (buf->base_free)
		buf->base_free(buf->base_ctx);
	buf->base_free = NULL;
	buf->base_ctx = NULL;
	return 0;
}

int arfs_buf_set_base(struct arfs_buf *buf, uint64_t len,
		      arfs_buf_base_fn read, void (*free_ctx)(void *ctx),
		      void *ctx)
{
	int rc = 0;

	pthread_mutex_lock(&buf->lock);
	if (buf->size || buf->base_read) {
		rc = -EBUSY;
	} else {
		buf->base = buf->size = len;
		buf->base_read = read;
		buf->base_free = free_ctx;
		buf->base_ctx = ctx;
		if (buf->fd >= 0)
			rc = arfs_io_ftruncate(buf->fd, (off_t)len);
		buf->gen++;
	}
	pthread_mutex_unlock(&buf->lock);
	return rc;
}

ssize_t arfs_buf_read(struct arfs_buf *buf, void *dst, size_t cap,
		      uint64_t off)
{
	uint64_t n = 0;
	ssize_t got;

	pthread_mutex_lock(&buf->lock);
	if (off < buf->size)
		n = buf->size - off;
	if (n > cap)
		n = cap;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	got = read_locked(buf, dst, (size_t)n, off);
	pthread_mutex_unlock(&buf->lock);
	return got;
}

/* Write to the staging file, keeping its length equal to the size. */
static int file_write(struct arfs_buf *buf, const void *src, size_t len,
		      uint64_t off, uint64_t end)
{
	int rc = arfs_io_pwrite_all(buf->fd, src, len, (off_t)off);

	if (rc) {
		if (end > buf->size)
			arfs_io_ftruncate(buf->fd, (off_t)buf->size);
		return rc;
	}
	if (end > buf->size)
		buf->size = end;
	return 0;
}

static int mem_write(struct arfs_buf *buf, const void *src, size_t len,
		     uint64_t off, uint64_t end)
{
	int rc;

	if (end > buf->size) {
		rc = mem_resize(buf, (size_t)end); /* zero-fills any gap */
		if (rc)
			return rc;
	}
	memcpy(buf->data + (off - buf->base), src, len);
	return 0;
}

/* A change at off (or, past the end, at the end). Caller holds lock. */
static void note_change(struct arfs_buf *buf, uint64_t off)
{
	if (off > buf->size)
		off = buf->size;
	if (off < buf->changed_from)
		buf->changed_from = off;
}

int arfs_buf_write(struct arfs_buf *buf, const void *src, size_t len,
		   uint64_t off)
{
	uint64_t end;
	int rc;

	if (!len)
		return 0;
	if (arfs_add_overflows(off, len, &end) || end > INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&buf->lock);
	rc = off < buf->base ? materialize_locked(buf) : 0;
	if (!rc)
		rc = make_room_locked(buf, end);
	if (rc)
		goto out_unlock;
	note_change(buf, off);
	if (buf->fd >= 0)
		rc = file_write(buf, src, len, off, end);
	else
		rc = mem_write(buf, src, len, off, end);
	if (!rc)
		buf->gen++;
out_unlock:
	pthread_mutex_unlock(&buf->lock);
	return rc;
}

int arfs_buf_truncate(struct arfs_buf *buf, uint64_t size)
{
	int rc;

	if (size > INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&buf->lock);
	if (size < buf->base) {
		/* The base shrinks: its first bytes stay the owner's. */
		if (buf->fd < 0)
			mem_resize(buf, (size_t)buf->base);
		buf->base = size;
	}
	rc = make_room_locked(buf, size);
	if (rc)
		goto out_unlock;
	note_change(buf, size);
	if (buf->fd >= 0) {
		rc = arfs_io_ftruncate(buf->fd, (off_t)size);
		if (!rc)
			buf->size = size;
	} else {
		rc = mem_resize(buf, (size_t)size);
	}
	if (!rc)
		buf->gen++;
out_unlock:
	pthread_mutex_unlock(&buf->lock);
	return rc;
}

uint64_t arfs_buf_unchanged(struct arfs_buf *buf)
{
	uint64_t n;

	pthread_mutex_lock(&buf->lock);
	n = buf->changed_from < buf->size ? buf->changed_from : buf->size;
	pthread_mutex_unlock(&buf->lock);
	return n;
}

void arfs_buf_mark_dirty(struct arfs_buf *buf)
{
	pthread_mutex_lock(&buf->lock);
	buf->changed_from = 0;
	buf->gen++;
	pthread_mutex_unlock(&buf->lock);
}

const void *arfs_buf_data(struct arfs_buf *buf)
{
	const void *p;

	pthread_mutex_lock(&buf->lock);
	if (buf->fd >= 0 || buf->base)
		p = NULL;
	else
		p = buf->data ? buf->data : empty_content;
	pthread_mutex_unlock(&buf->lock);
	return p;
}

uint64_t *arfs_buf_tag(struct arfs_buf *buf)
{
	return &buf->tag;
}
