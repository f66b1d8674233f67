/*
 * textsize.h - recorded text sizes of blocks, so that stat of a block file
 * (`ls -l` of a fresh mount) needs no decoding ("sizes without
 * rendering"). A block's text size (textval.h) is known from, in order:
 *
 *   1. the group's index: key "text_sizes" (docs/FORMAT.md 2.4), written
 *      by core/groupw.c at each commit, parsed by core/group.c;
 *   2. a size cache file for the group, outside the group's folder, in a
 *      cache directory (docs/FORMAT.md 2.13): for groups written by
 *      others, filled by the block manager as it renders blocks;
 *   3. rendering the block (core/blockmgr.c), which then fills the cache.
 *
 * Every record is tied to the state of the segment file it describes
 * and is used only when that still matches: the index's to the committed
 * length and block-table checksum, the cache's to the file's size, mtime
 * and block-table checksum; both to ARFS_TEXTVAL_VERSION. A cache file
 * that is damaged, truncated, of another version or describes another
 * group is ignored as a whole; a stale segment record alone. Either is
 * logged once per cache object (one line per mount and group), and the
 * sizes are recomputed. Counts read from a cache file are bounded by the
 * bytes that hold them; no size is used that is smaller than its block's
 * row count (every value's line has at least its newline).
 *
 * This header holds: the block-table checksum and a segment file's
 * identity; the cache object (load, get, put, save); the registry of
 * cache objects a block manager shares between columns; the default
 * cache directory.
 *
 * Ownership: a cache object belongs to its registry and lives until
 * arfs_textsize_reg_free() (so a group's file is read, and a problem with
 * it logged, once per registry); arfs_textsize_reg_get() references it.
 * Strings passed in are copied.
 *
 * Thread safety: every function may be called from any thread; a cache
 * object and the registry each have a mutex (registry before cache). A
 * save writes the file under the cache's mutex.
 *
 * Errors: -ENOMEM; the I/O -errno of a save (logged once per cache). A
 * bad cache file is never an error: it is an empty cache.
 */
#ifndef ARFS_TEXTSIZE_H
#define ARFS_TEXTSIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arfs_block_info;
struct arfs_segment;

/* A size not known (in memory; on disk: null in JSON, 2^64-1 in a cache). */
#define ARFS_TEXTSIZE_UNKNOWN (-1)
/* Largest size accepted from disk (above any real block's text). */
#define ARFS_TEXTSIZE_MAX ((int64_t)1 << 56)

#define ARFS_TEXTSIZE_FNV_INIT UINT64_C(0xcbf29ce484222325)
/* FNV-1a 64 of p[0..len) continuing from h (start: ARFS_TEXTSIZE_FNV_INIT). */
uint64_t arfs_textsize_fnv(uint64_t h, const void *p, size_t len);

/*
 * Checksum of a segment's block table: FNV-1a 64 of the table in its
 * canonical bytes (docs/FORMAT.md 2.6: u64 ncols; per column u64 nblocks
 * and the 48-byte records, padding zero) - the bytes arrayfs writes.
 */
uint64_t arfs_textsize_table_sum(const struct arfs_segment *seg);

/* What a cache record is checked against: the segment file as parsed. */
struct arfs_textsize_segid {
	uint64_t file_size;	/* st_size */
	int64_t mtime_ns;	/* st_mtim in nanoseconds */
	uint64_t table_sum;	/* arfs_textsize_table_sum() */
};

/*
 * True if sizes[0..n) may be the text sizes of the blocks bi[0..n):
 * each unknown, or between bi's num_elem and ARFS_TEXTSIZE_MAX.
 */
bool arfs_textsize_plausible(const int64_t *sizes,
			     const struct arfs_block_info *bi, uint64_t n);

/* ---- cache objects -------------------------------------------------- */

struct arfs_textsize_cache;
struct arfs_textsize_reg;

/*
 * A registry of cache objects, one per group, in directory cache_dir
 * (copied; created with mode 0700 at the first save). *out owned by the
 * caller (arfs_textsize_reg_free()).
 */
int arfs_textsize_reg_new(const char *cache_dir,
			  struct arfs_textsize_reg **out);
/* The registry's cache directory (valid until it is freed). */
const char *arfs_textsize_reg_dir(const struct arfs_textsize_reg *reg);
/* Save what changed and free; every reference must have been put. NULL
 * is accepted. */
void arfs_textsize_reg_free(struct arfs_textsize_reg *reg);
/*
 * The cache object of the group in group_dir (loaded from its file on
 * first use): a reference, to be dropped with arfs_textsize_reg_put().
 * -ENOMEM, or the -errno of realpath(group_dir).
 */
int arfs_textsize_reg_get(struct arfs_textsize_reg *reg,
			  const char *group_dir,
			  struct arfs_textsize_cache **out);
/* Drop a reference; the last one saves (if changed). */
void arfs_textsize_reg_put(struct arfs_textsize_reg *reg,
			   struct arfs_textsize_cache *c);

/* Path of the cache file (for messages and tests). */
const char *arfs_textsize_cache_path(const struct arfs_textsize_cache *c);

/*
 * Sizes of the nblocks blocks bi[] of column col in segment file seg_name
 * whose identity is id: true and out[0..nblocks) filled (entries may be
 * ARFS_TEXTSIZE_UNKNOWN) when the cache has a matching, plausible record;
 * false otherwise (a stale or implausible record is logged once).
 */
bool arfs_textsize_cache_get(struct arfs_textsize_cache *c,
			     const char *seg_name,
			     const struct arfs_textsize_segid *id,
			     uint64_t col, const struct arfs_block_info *bi,
			     uint64_t nblocks, int64_t *out);
/*
 * Record sizes[0..nblocks) of column col of seg_name (identity id),
 * replacing that column's record; a record of the segment with another
 * identity is dropped first. Marks the cache changed.
 */
int arfs_textsize_cache_put(struct arfs_textsize_cache *c,
			    const char *seg_name,
			    const struct arfs_textsize_segid *id,
			    uint64_t col, const int64_t *sizes,
			    uint64_t nblocks);
/*
 * Write the cache file if changed since the last load or save: to a
 * temporary file in the cache directory, renamed over the cache file (no
 * fsync: a torn file fails its checksum and is ignored). 0 or -errno.
 */
int arfs_textsize_cache_save(struct arfs_textsize_cache *c);

/*
 * Write p[0..len) as the file path in directory dir (created, mode 0700,
 * with its parents): to a temporary file beside it, renamed over path (no
 * fsync). For every cache file of the directory (textsize.c, viewsize.c).
 * 0 or -errno.
 */
int arfs_textsize_write_file(const char *dir, const char *path,
			     const void *p, size_t len);

/* ---- location ------------------------------------------------------- */

/*
 * The default cache directory into buf: $XDG_CACHE_HOME/arrayfs when
 * XDG_CACHE_HOME is an absolute path, else /var/cache/arrayfs for root
 * (euid 0), else $HOME/.cache/arrayfs. 0, -ENOENT (no HOME) or
 * -ENAMETOOLONG.
 */
int arfs_textsize_default_dir(char *buf, size_t cap);

#endif
