/*
 * view.h - a segment group as whole files for tools that want a table or
 * an array (docs/FORMAT.md, "Views"):
 *
 *   ARFS_VIEW_CSV    the group as CSV, byte for byte `arrayctl export`
 *   ARFS_VIEW_JSONL  one JSON object per row (jsonl.h)
 *   ARFS_VIEW_TXT    one column's text: its block texts concatenated
 *   ARFS_VIEW_NPY    one int, float or fixed-length vector column as a
 *                    NumPy .npy file (version 1.0, '<i8' or '<f8')
 *
 * A view file is a header (the CSV header line, the .npy header; none
 * for the others) followed by pieces: for CSV and JSON Lines, chunks of
 * up to ARFS_VIEW_CHUNK_ROWS rows (fewer for wide rows, so that a chunk
 * is about ARFS_VIEW_CHUNK_BYTES); for TXT and NPY, one piece per block
 * of the column. The layout (each piece's byte offset) is computed once per
 * view, at its first size or read: from the block text sizes for TXT
 * (recorded or rendered, blockmgr.h), from the row counts for NPY (an int
 * column's blocks are read once to find missing values, a vector
 * column's decoded once to find its length), for CSV and JSON Lines from
 * the view size file of the block manager's cache directory when it
 * describes this state of the group (viewsize.h), else by rendering every
 * chunk (each block decoded once, in order; the chunks are left in the
 * pool for the reads that usually follow) and writing that file. After that, a
 * read at any offset renders only the pieces it covers, so it decodes
 * only the blocks under them.
 *
 * Rendered pieces live in the buffer pool (bounded; evicted pieces are
 * rendered again) under space ARFS_VIEW_SPACE | source serial << 24 |
 * view number; a text piece of TXT is the block manager's own buffer.
 *
 * A source (struct arfs_viewsrc) is one version of a group: its index
 * as read at arfs_viewsrc_open() and every column opened on it. Views
 * keep reading that version while they live; arfs_viewsrc_current()
 * tells whether the index files on disk are still the ones it read, so
 * the caller can open a new source for later opens.
 *
 * Ownership: a source is reference-counted (open gives one reference;
 * each view holds one); the last arfs_viewsrc_put() closes its columns
 * and frees it. The manager and pool must outlive every source.
 *
 * Thread safety: every function may be called from any thread. A view's
 * layout is computed under its layout mutex (others wait for it); the
 * CSV/JSON cursors are under a second mutex, taken inside a pool
 * buffer's load (lock order: layout, pool buffer, cursor).
 *
 * Errors: -ENOENT for a view that does not exist (a .npy of a column of
 * another type, or of vectors of different lengths), -EUCLEAN for damaged
 * blocks (blockmgr.h), -EIO if a piece renders to another size than its
 * layout says (logged), -ENOMEM, -errno of I/O.
 */
#ifndef ARFS_VIEW_H
#define ARFS_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct arfs_blockmgr;
struct arfs_buf;
struct arfs_bufpool;
struct arfs_group;

#define ARFS_VIEW_SPACE (UINT64_C(1) << 61)
#define ARFS_VIEW_CHUNK_ROWS 8192		/* at most, per CSV/JSONL piece */
#define ARFS_VIEW_CHUNK_BYTES (1u << 20)	/* about, per piece */

enum arfs_view_kind {
	ARFS_VIEW_CSV = 1,
	ARFS_VIEW_JSONL = 2,
	ARFS_VIEW_TXT = 3,
	ARFS_VIEW_NPY = 4,
};

struct arfs_viewsrc;
struct arfs_view;

/*
 * Open the group in group_dir (group.h) and all its columns. *out has
 * one reference. -ENOENT, -EUCLEAN, -ENOMEM, -errno.
 */
int arfs_viewsrc_open(struct arfs_blockmgr *mgr, struct arfs_bufpool *pool,
		      const char *group_dir, struct arfs_viewsrc **out);
void arfs_viewsrc_get(struct arfs_viewsrc *src);
/* Drop a reference; NULL is accepted. */
void arfs_viewsrc_put(struct arfs_viewsrc *src);
/* The group as the source read it; valid while referenced. */
const struct arfs_group *arfs_viewsrc_group(const struct arfs_viewsrc *src);
/* Process-unique number of the source (for page-cache decisions). */
uint64_t arfs_viewsrc_serial(const struct arfs_viewsrc *src);
/*
 * True while the group's index files (the opened index and every .sidx)
 * are the ones read at open: same inode, size and modification time.
 */
bool arfs_viewsrc_current(const struct arfs_viewsrc *src);

/*
 * Whether the kind of view exists for column col without computing it:
 * CSV and JSON Lines always (col ignored), TXT for every column, NPY for
 * int, float and vector columns (a vector column's still needs equal
 * lengths: arfs_view_size() says -ENOENT otherwise).
 */
bool arfs_view_kind_fits(const struct arfs_group *g, enum arfs_view_kind kind,
			 uint64_t col);

/* A view of src (one reference taken). -ENOENT if the kind does not fit. */
int arfs_view_new(struct arfs_viewsrc *src, enum arfs_view_kind kind,
		  uint64_t col, struct arfs_view **out);
/* Free the view and its pool pieces; no read may be running. NULL ok. */
void arfs_view_free(struct arfs_view *v);

/* Exact size in bytes (computes the layout once), or -errno. */
int64_t arfs_view_size(struct arfs_view *v);
/* Copy up to cap bytes from off into dst: bytes (0 at the end) or -errno. */
ssize_t arfs_view_read(struct arfs_view *v, void *dst, size_t cap,
		       uint64_t off);

/* ---- image files (docs/FORMAT.md 4.4; imgfile.h) ---- */

#define ARFS_VIEW_IMAGE 5	/* pool space kind of image files */

/* The pool the source was opened with. */
struct arfs_bufpool *arfs_viewsrc_pool(const struct arfs_viewsrc *src);
/*
 * Each row of image column col that has an image file: fn(ctx, row, ext)
 * in row order (decodes the column's blocks once per call); fn's non-zero
 * return stops and is returned. -ENOENT if col is not an image column.
 */
int arfs_view_images(struct arfs_viewsrc *src, uint64_t col,
		     int (*fn)(void *ctx, uint64_t row, const char *ext),
		     void *ctx);
/*
 * Row `row`'s image file of image column col, pinned in the pool (release
 * with arfs_bufpool_unpin(arfs_viewsrc_pool(src), *out)); *ext its
 * extension. -ENOENT if the row has no image file.
 */
int arfs_view_image_pin(struct arfs_viewsrc *src, uint64_t col, uint64_t row,
			struct arfs_buf **out, const char **ext);

/* The .npy header for shape (rows[, width]) into out[0..cap): its length
 * (a multiple of 64), or -ENOSPC. width 0: one dimension. */
ssize_t arfs_view_npy_header(char *out, size_t cap, bool is_float,
			     uint64_t rows, uint64_t width);

#endif
