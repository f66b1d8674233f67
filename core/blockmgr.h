/*
 * blockmgr.h - the one owner of segment files in a process: opens the
 * columns of segment groups, shares each segment's parsed block table
 * between all its columns, keeps at most `max_fds` segment descriptors
 * open (least recently used closed first, reopened on demand), and reads
 * blocks: decompressed payloads, decoded values, or their text rendering
 * (textval.h) cached in the shared buffer pool.
 *
 * This is the API the mount serves a group from:
 *   group     arfs_group_open()            columns: name, type, rows
 *   column    arfs_blockmgr_open_column()  its blocks: arfs_column_block()
 *   block     arfs_blockmgr_text_size()    exact size of the text file
 *             arfs_blockmgr_read_text()    bytes of the text file
 *
 * Cache keys: a block's text lives in the pool under space
 * ARFS_BLOCKMGR_SPACE | segment id << 20 | column-in-segment, id = block
 * number in that segment column. Segment ids are per manager and never
 * reused; a segment's spaces are cleared when its last column closes.
 * Other pool users must not set bit 63 of their spaces.
 *
 * Text sizes: a column starts with the sizes the group's index records
 * ("text_sizes", checked against each segment's committed length and
 * block table), then those of the size cache (textsize.h) when the
 * manager has a cache directory; the rest are rendered on demand. When a
 * column's last unknown size becomes known, and when a column with
 * sizes rendered since is closed, its sizes go to the cache object and
 * the cache is saved (the caller's thread does that small write). A
 * rendered size that contradicts a recorded one wins and is logged.
 *
 * Ownership: a struct arfs_column is owned by the caller between
 * open_column and close_column; it borrows the group (which must outlive
 * it) and the manager. Every column must be closed before
 * arfs_blockmgr_free().
 *
 * Thread safety: every function may be called from any thread. One
 * manager mutex protects the segment list, reference counts and the
 * descriptor LRU; it is never held during a block read or decode (a read
 * marks the descriptor busy so it is not closed under it). Opening a
 * column parses new segments' tables under the mutex.
 *
 * Errors: -EUCLEAN for corrupt files (logged once per bad block or bad
 * segment file, which then fail fast with the same error until the manager
 * is freed: a repaired file is read again after a remount), -ESTALE if a segment file
 * shrank below the length it was parsed at (appends are harmless), -ERANGE for a block number out of
 * range, -ENOMEM, -errno of I/O.
 */
#ifndef ARFS_BLOCKMGR_H
#define ARFS_BLOCKMGR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct arfs_bufpool;
struct arfs_buf;
struct arfs_group;
struct arfs_textsize_segid;
struct arfs_values;

#define ARFS_BLOCKMGR_DEFAULT_FDS 128
#define ARFS_BLOCKMGR_SPACE (1ull << 63)

struct arfs_blockmgr;
struct arfs_column;

struct arfs_blockmgr_opts {
	unsigned max_fds;		/* 0: ARFS_BLOCKMGR_DEFAULT_FDS */
	struct arfs_bufpool *pool;	/* NULL: no caching of text */
	const char *cache_dir;		/* NULL: no size cache files
					 * (textsize.h); copied */
	unsigned workers;		/* decode-ahead threads (with a
					 * pool), started at the first
					 * prefetch; 0: none */
};

struct arfs_blockmgr_stats {
	uint64_t fd_opens, fd_closes;	/* descriptor churn */
	unsigned open_fds, segments;
	uint64_t decodes;		/* blocks read and decoded */
	uint64_t sizes_recorded;	/* sizes taken from index or cache */
};

/* One block of a column, in row order across segments. */
struct arfs_colblock {
	uint64_t seg;		/* segment number in the column's index */
	uint64_t blk;		/* block number in that segment's column */
	uint64_t first_row;	/* row of the column where the block starts */
	uint64_t rows;		/* num_elem */
	uint64_t stored;	/* bytes on disk */
	uint64_t decoded;	/* payload bytes after decompression */
	uint64_t flags;		/* ARFS_BLOCK_* (segment.h) */
	uint16_t content_type;
};

int arfs_blockmgr_new(const struct arfs_blockmgr_opts *opts,
		      struct arfs_blockmgr **out);
/* Free the manager; all columns must be closed. NULL is accepted. */
void arfs_blockmgr_free(struct arfs_blockmgr *mgr);
void arfs_blockmgr_get_stats(struct arfs_blockmgr *mgr,
			     struct arfs_blockmgr_stats *out);

/*
 * Open column `col` of group g: opens (or shares) its segments, checks
 * them against the index (arfs_group_check_segment) and lists its blocks.
 * *out is owned by the caller until arfs_blockmgr_close_column().
 */
int arfs_blockmgr_open_column(struct arfs_blockmgr *mgr,
			      const struct arfs_group *g, uint64_t col,
			      struct arfs_column **out);
/* NULL is accepted. Waits for nothing: no read may still use the column. */
void arfs_blockmgr_close_column(struct arfs_blockmgr *mgr,
				struct arfs_column *col);

/*
 * Close the column's segment descriptors that no read is using now (they
 * reopen on demand). For views replaced by a newer commit, which are kept
 * for readers still holding them but are rarely read again.
 */
void arfs_blockmgr_column_close_fds(struct arfs_blockmgr *mgr,
				    struct arfs_column *col);

uint64_t arfs_column_nblocks(const struct arfs_column *col);
/* Block i (0-based, row order), or NULL past the end. Valid while open. */
const struct arfs_colblock *arfs_column_block(const struct arfs_column *col,
					      uint64_t i);
/* Segment file name of block i, for messages ("m_x.0000"). */
const char *arfs_column_segment_name(const struct arfs_column *col,
				     uint64_t i);

/* The size cache directory (opts.cache_dir), or NULL for none. */
const char *arfs_blockmgr_cache_dir(const struct arfs_blockmgr *mgr);
/* Segment files of the column, in row order: how many; segment s's file
 * name (valid while open) and its identity as parsed (textsize.h). */
uint64_t arfs_column_nsegs(const struct arfs_column *col);
const char *arfs_column_segment(const struct arfs_column *col, uint64_t s,
				struct arfs_textsize_segid *id);

/* Decompressed payload of block i: malloc'd, caller frees. */
int arfs_blockmgr_read_payload(struct arfs_blockmgr *mgr,
			       struct arfs_column *col, uint64_t i,
			       void **out, size_t *out_len);
/* Decoded values of block i: caller frees with arfs_values_free(). */
int arfs_blockmgr_decode(struct arfs_blockmgr *mgr, struct arfs_column *col,
			 uint64_t i, struct arfs_values **out);
/*
 * The text rendering of block i, pinned in the pool (rendered on a miss).
 * Release with arfs_bufpool_unpin(pool, *out). -EOPNOTSUPP without a pool.
 */
int arfs_blockmgr_pin_text(struct arfs_blockmgr *mgr, struct arfs_column *col,
			   uint64_t i, struct arfs_buf **out);
/*
 * Exact byte size of block i's text: recorded (index or size cache, see
 * "Text sizes" above) or rendered once, then remembered for the life of
 * the column (the mount's stat costs at most one read).
 */
ssize_t arfs_blockmgr_text_size(struct arfs_blockmgr *mgr,
				struct arfs_column *col, uint64_t i);
/*
 * Block i's text size if known without rendering (recorded, or rendered
 * before): bytes, or -ENODATA; -ERANGE past the end. For checks that
 * compare records with a fresh rendering (arrayctl check).
 */
ssize_t arfs_blockmgr_known_size(const struct arfs_column *col, uint64_t i);
/*
 * Decode ahead: queue the text of the blocks after `first` (up to twice
 * the workers' count) to be rendered into the pool by the worker
 * threads, for a reader going through the column in order. Never blocks
 * and queues nothing when the bounded queue is full or there are no
 * workers; errors surface when the block is read. The column's jobs are
 * cancelled (and waited for) by arfs_blockmgr_close_column().
 */
void arfs_blockmgr_prefetch(struct arfs_blockmgr *mgr, struct arfs_column *col,
			    uint64_t first);

/* Copy up to cap bytes of block i's text from off: bytes or -errno. */
ssize_t arfs_blockmgr_read_text(struct arfs_blockmgr *mgr,
				struct arfs_column *col, uint64_t i, void *dst,
				size_t cap, uint64_t off);

#endif
