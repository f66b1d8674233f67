/*
 * bufpool_int.h - private to core/bufpool.c and core/bufcontent.c: the
 * pool and buffer structures. Design, invariants and locks: bufpool.c.
 */
#ifndef ARFS_BUFPOOL_INT_H
#define ARFS_BUFPOOL_INT_H

#include "bufpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

static inline bool dirty_locked(const struct arfs_buf *buf)
{
	return buf->gen != buf->clean_gen;
}

#endif
