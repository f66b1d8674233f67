/*
 * groupw.h - writing a segment group (Turi SFrame v2 array group):
 * appending, replacing and removing blocks, crash-safe commits, and
 * compaction. The reader side is group.h + blockmgr.h; the rules on disk
 * are docs/FORMAT.md 2.10 (encoder) and 2.11 (commits).
 *
 * A writer holds the group directory's lock (flock LOCK_EX on the
 * directory) from open to close: a second writer gets -EBUSY. Readers take
 * no lock: they read the index, and each segment only up to the committed
 * length the index records for it, so a commit in progress is invisible to
 * them until the index rename.
 *
 * Changes are staged: each put appends the block's stored bytes at the end
 * of its segment file at once (dead bytes until a commit) and updates the
 * writer's in-memory block table. arfs_groupw_commit() makes them durable
 * and visible:
 *   1. per changed segment: append the new block table and footer, fsync;
 *   2. write the index to a temporary file, fsync, rename it over the
 *      index, fsync the directory (the COMMIT POINT);
 *   3. if the .frame_idx row count changed, replace it the same way.
 * Opening a writer recovers a crash: a segment longer than its committed
 * length is truncated to it, temporary index files and segment files the
 * index does not name (a compaction's leftovers) are removed.
 * arfs_groupw_close() without a commit drops the staged changes.
 *
 * Writers handle groups whose columns all live in one .sidx in order
 * (column c is column c of that index), as Turi and arrayfs write them;
 * others are -EOPNOTSUPP.
 *
 * Ownership: struct arfs_groupw is owned by the caller (open/create ..
 * close). Pointers it returns live until the next call that changes it.
 * Thread safety: none; callers serialise all calls on one writer.
 *
 * Errors: -EBUSY (another writer), -EUCLEAN (damaged group, logged),
 * -EOPNOTSUPP, -ERANGE (segment/column/block out of range), -EOVERFLOW
 * (more than 2^24 rows in a block), -ENOMEM, -errno of I/O (-ENOSPC...).
 * A failed commit leaves the group in its old state on disk, except when
 * only the directory fsync after the index rename failed: the new state
 * is then in place (and kept) but may not be durable yet. The writer
 * should be closed after any failed commit.
 */
#ifndef ARFS_GROUPW_H
#define ARFS_GROUPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arfs_block_info;
struct arfs_typedenc;

enum arfs_groupw_compress {
	ARFS_GROUPW_ZSTD = 0,	/* flag 16; arrayfs' default */
	ARFS_GROUPW_LZ4,	/* flag 1, Turi's own */
	ARFS_GROUPW_NONE,
	ARFS_GROUPW_KEEP,	/* compaction only: copy stored bytes as they are */
};

#define ARFS_GROUPW_BLOCK_TARGET (64u << 10)

struct arfs_groupw_opts {
	size_t block_target;	/* encoded payload bytes per block; 0: 64 KiB */
	int zstd_level;		/* 0: 3 */
	enum arfs_groupw_compress compress;
	bool no_fsync;		/* skip fsync (scratch imports, tests) */
	bool lock_held;		/* the caller holds the directory's lock */
};

struct arfs_groupw;

/*
 * Open the group in directory dir for writing (lock, recover, load the
 * block tables). *out owned by the caller (arfs_groupw_close()).
 */
int arfs_groupw_open(const char *dir, const struct arfs_groupw_opts *opts,
		     struct arfs_groupw **out);
/*
 * Create a new empty group (no segments) in the existing empty directory
 * dir: dir_archive.ini, objects.bin, m_<hex>.frame_idx and m_<hex>.sidx,
 * columns named names[] of types[] (enum arfs_ftype). Returns it open.
 */
int arfs_groupw_create(const char *dir, uint64_t ncols,
		       const char *const *names, const unsigned *types,
		       const struct arfs_groupw_opts *opts,
		       struct arfs_groupw **out);
/* Drop uncommitted changes, unlock, free. NULL is accepted. */
void arfs_groupw_close(struct arfs_groupw *gw);

uint64_t arfs_groupw_ncols(const struct arfs_groupw *gw);
uint64_t arfs_groupw_nsegs(const struct arfs_groupw *gw);
unsigned arfs_groupw_type(const struct arfs_groupw *gw, uint64_t col);
uint64_t arfs_groupw_nblocks(const struct arfs_groupw *gw, uint64_t seg,
			     uint64_t col);
/* Record of a block (in the staged state), or NULL out of range. */
const struct arfs_block_info *arfs_groupw_block(const struct arfs_groupw *gw,
						uint64_t seg, uint64_t col,
						uint64_t blk);
/* The directory and the index file (for messages). */
const char *arfs_groupw_dir(const struct arfs_groupw *gw);

/* Add an empty segment file at the end: its number in *segno. */
int arfs_groupw_add_segment(struct arfs_groupw *gw, uint64_t *segno);

/*
 * Store payload (an uncompressed typed-block payload of num_elem rows,
 * block flags `flags` such as ARFS_BLOCK_TYPED) as block blk of column col
 * in segment seg: blk == nblocks appends, blk < nblocks replaces. The
 * payload is compressed per opts (kept raw unless that saves >= 10%).
 */
int arfs_groupw_put(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
		    uint64_t blk, const void *payload, size_t len,
		    uint64_t num_elem, uint64_t flags);
/* Encode enc (typedenc.h) and put it as above. */
int arfs_groupw_put_enc(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
			uint64_t blk, const struct arfs_typedenc *enc);
/* Insert a block before blk (blk == nblocks appends). */
int arfs_groupw_insert_enc(struct arfs_groupw *gw, uint64_t seg,
			   uint64_t col, uint64_t blk,
			   const struct arfs_typedenc *enc);
/* Remove block blk of col in seg (its bytes become dead space). */
int arfs_groupw_remove(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
		       uint64_t blk);

/* True when there are staged changes. */
bool arfs_groupw_dirty(const struct arfs_groupw *gw);
/* Make the staged changes durable and visible (see above). */
int arfs_groupw_commit(struct arfs_groupw *gw);
/*
 * Rewrite every segment into a new file holding only its live blocks,
 * commit, then remove the old files. Blocks are re-compressed when their
 * compression differs from `compress` (ARFS_GROUPW_LZ4 gives a group
 * that only uses Turi's own flags), else copied; ARFS_GROUPW_KEEP copies
 * every block as it is. Staged changes are
 * committed first.
 */
int arfs_groupw_compact(struct arfs_groupw *gw,
			enum arfs_groupw_compress compress);

/* Bytes on disk of the committed group (index + segments). */
uint64_t arfs_groupw_disk_bytes(const struct arfs_groupw *gw);

#endif
