/*
 * bufpool.h - one bounded cache of buffers for the whole process: document
 * contents being written and decoded column blocks.
 *
 * A buffer is named by a key (space, id): `space` says whose it is (a
 * document array, a segment column), `id` which one (a document number, a
 * block number). The pool is bounded in bytes held in memory and in entries.
 *
 * Contract (SQLite pcache, squashfuse cache.h):
 *  - arfs_bufpool_pin() returns a buffer that is never evicted or freed
 *    while pinned. Every successful pin is matched by exactly one
 *    arfs_bufpool_unpin().
 *  - Unpinned buffers are kept in LRU order and evicted, least recently used
 *    first, when the pool is over either bound. A dirty buffer is written
 *    back through its writeback callback before it is evicted; if that
 *    fails the buffer stays (dirty) and the error is counted.
 *  - A buffer becomes dirty through arfs_buf_write()/arfs_buf_truncate()/
 *    arfs_buf_mark_dirty(). A successful writeback makes it clean; a clean
 *    buffer is never written back again (flush twice writes once).
 *  - Bytes: a buffer larger than `spill_threshold` keeps its content in a
 *    staging file (O_TMPFILE in `staging_dir`) instead of memory, so writing
 *    a document larger than the pool needs memory independent of its size.
 *    Spilled bytes do not count toward max_bytes. The staging file's
 *    descriptor is held only while the buffer exists.
 *  - max_bytes == 0 or max_entries == 0 is valid: nothing is kept once
 *    unpinned (dirty buffers are written back at unpin), pins still work.
 *  - arfs_bufpool_drop() and arfs_bufpool_clear() remove entries for good:
 *    a later pin of the same key loads afresh, never returns old bytes.
 *
 * Thread safety: every function may be called from any thread. A pool mutex
 * protects the key table, LRU list and counters; each buffer has its own
 * recursive mutex protecting its content, held during load and writeback
 * callbacks (so a writeback sees a stable content). Lock order: pool mutex
 * before buffer mutex; callbacks run without the pool mutex.
 *
 * Errors are negative errno values.
 */
#ifndef ARFS_BUFPOOL_H
#define ARFS_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct arfs_bufpool;
struct arfs_buf;

struct arfs_bufkey {
	uint64_t space;
	uint64_t id;
};

struct arfs_bufpool_opts {
	size_t max_bytes;       /* in-memory bytes of unpinned + pinned buffers */
	size_t max_entries;     /* number of buffers */
	size_t spill_threshold; /* content larger than this moves to staging */
	const char *staging_dir; /* where staging files go; copied */
};

struct arfs_bufpool_stats {
	uint64_t hits, misses, evictions, writebacks, writeback_errors, spills;
	size_t bytes, entries, pinned;
};

/*
 * Called once when a buffer is created by a pin that missed: fill it with
 * arfs_buf_write() (its dirty flag is cleared after a successful load).
 * Return 0 or -errno; on error the pin fails with that error and the buffer
 * is discarded.
 */
typedef int (*arfs_buf_load_fn)(void *ctx, struct arfs_buf *buf);
/*
 * Persist a dirty buffer (read it with arfs_buf_read()). 0 makes it clean.
 * Runs with the buffer's mutex held: do not pin/unpin/drop from here.
 */
typedef int (*arfs_buf_writeback_fn)(void *ctx, struct arfs_buf *buf);

/* Create a pool. *out owned by the caller, freed with arfs_bufpool_free(). */
int arfs_bufpool_new(const struct arfs_bufpool_opts *opts,
		     struct arfs_bufpool **out);
/*
 * Free the pool and every buffer. Dirty buffers are NOT written back (call
 * arfs_bufpool_flush() first). No buffer may be pinned. NULL is accepted.
 */
void arfs_bufpool_free(struct arfs_bufpool *pool);

/*
 * Find the buffer for key or create it. On a miss, a new buffer is created
 * and `load` (may be NULL: empty buffer) fills it. `writeback` and `ctx` are
 * remembered with the buffer (the first pin's values win).
 * Returns 0 with *out pinned, or -errno (-ENOMEM, or load's error).
 */
int arfs_bufpool_pin(struct arfs_bufpool *pool, struct arfs_bufkey key,
		     arfs_buf_load_fn load, arfs_buf_writeback_fn writeback,
		     void *ctx, struct arfs_buf **out);
/* Pin only if cached: 0 with *out pinned, or -ENOENT. */
int arfs_bufpool_lookup(struct arfs_bufpool *pool, struct arfs_bufkey key,
			struct arfs_buf **out);
/* Drop one pin. May evict (and write back) buffers if over the bounds. */
void arfs_bufpool_unpin(struct arfs_bufpool *pool, struct arfs_buf *buf);

/* Write back every dirty buffer. 0, or the first error (others still tried). */
int arfs_bufpool_flush(struct arfs_bufpool *pool);
/* Write back one buffer if dirty. Caller holds a pin. 0 or -errno. */
int arfs_bufpool_flush_buf(struct arfs_bufpool *pool, struct arfs_buf *buf);
/*
 * Forget key: its content is discarded without writeback. If pinned, the
 * buffer leaves the table now (later pins get a new buffer) and is freed at
 * its last unpin.
 */
void arfs_bufpool_drop(struct arfs_bufpool *pool, struct arfs_bufkey key);
/* Forget every unpinned buffer of `space` (all spaces if all_spaces). */
void arfs_bufpool_clear(struct arfs_bufpool *pool, uint64_t space,
			bool all_spaces);
void arfs_bufpool_get_stats(struct arfs_bufpool *pool,
			    struct arfs_bufpool_stats *out);

/* Supplies bytes [off, off + len) of a buffer's base: 0 or -errno. */
typedef int (*arfs_buf_base_fn)(void *ctx, void *dst, size_t len,
				uint64_t off);
/*
 * From a load callback: make the empty buffer `len` bytes long without
 * holding them: reads of [0, len) call read(ctx, ...) (with the buffer's
 * mutex held). Writes at or past len and truncates cost nothing extra; the
 * first write below len fetches the base into the buffer (then
 * free_ctx(ctx), also called when the buffer is freed). -EBUSY when the
 * buffer is not empty.
 */
int arfs_buf_set_base(struct arfs_buf *buf, uint64_t len,
		      arfs_buf_base_fn read, void (*free_ctx)(void *ctx),
		      void *ctx);

/* Buffer content. The caller holds a pin. All are thread-safe. */
struct arfs_bufkey arfs_buf_key(const struct arfs_buf *buf);
uint64_t arfs_buf_size(struct arfs_buf *buf);
bool arfs_buf_dirty(struct arfs_buf *buf);
/* Copy up to cap bytes from off: bytes copied (0 at/after end) or -errno. */
ssize_t arfs_buf_read(struct arfs_buf *buf, void *dst, size_t cap, uint64_t off);
/* Write len bytes at off, growing (zero-filled) as needed. Marks dirty. */
int arfs_buf_write(struct arfs_buf *buf, const void *src, size_t len,
		   uint64_t off);
/* Set the size (zero-fill when growing). Marks dirty. */
int arfs_buf_truncate(struct arfs_buf *buf, uint64_t size);
void arfs_buf_mark_dirty(struct arfs_buf *buf);
/*
 * How many leading bytes are unchanged since the buffer was last clean
 * (loaded or written back): min(lowest offset written, truncated to or
 * marked dirty since, current size).
 */
uint64_t arfs_buf_unchanged(struct arfs_buf *buf);
/*
 * The content as one contiguous read-only array, or NULL when it is
 * spilled to a staging file or has a base (use arfs_buf_read() then). Valid while pinned
 * and until the next write/truncate of this buffer.
 */
const void *arfs_buf_data(struct arfs_buf *buf);
/* A per-buffer word for the owner (e.g. a generation); starts at 0. */
uint64_t *arfs_buf_tag(struct arfs_buf *buf);

#endif
