/*
 * viewsize.h - the piece sizes of CSV and JSON Lines views kept across
 * mounts (docs/FORMAT.md 2.14), so that the first stat of .views/G.csv
 * after a mount, or a tail of it, renders no chunk it does not read.
 *
 * A view size file holds, for one view kind of one group: a key (the
 * view kind, the rules version ARFS_VIEWSIZE_RULES, the group's real
 * path, row count and columns - name, type, rows and, per segment file,
 * its name, size, mtime and block-table checksum as in textsize.h), then
 * the rows per chunk and every chunk's byte size. It lives in the size
 * cache directory beside the block size caches (-o cache_dir). The key is
 * built from the group as opened now and must match the file's key byte
 * for byte: any commit, a rewritten index, other text rules
 * (ARFS_TEXTVAL_VERSION, in the header) or other chunking rules make it
 * stale. A stale, damaged or truncated file is ignored (the caller logs
 * it once and renders); sizes that cannot be right are refused by
 * arfs_viewsize_check(). A consistent but wrong size still cannot return
 * wrong bytes: a rendered chunk is checked against its size (view.c, EIO).
 *
 * Ownership: strings and arrays returned are malloc'd, the caller frees.
 * Thread safety: no shared state; files are written to a temporary name
 * and renamed, so readers see a whole file or none.
 * Errors: negative errno as each function says.
 */
#ifndef ARFS_VIEWSIZE_H
#define ARFS_VIEWSIZE_H

#include <stddef.h>
#include <stdint.h>

struct arfs_column;
struct arfs_group;

/* Bump when the chunking rule (view.c chunk_rows) or the CSV / JSON
 * Lines rendering changes without a change of ARFS_TEXTVAL_VERSION. */
#define ARFS_VIEWSIZE_RULES 1u

struct arfs_viewsize {
	uint64_t chunk_rows;	/* rows per chunk (the last may have fewer) */
	uint64_t npieces;
	uint64_t *sizes;	/* [npieces] bytes of each chunk */
};

/*
 * The key of view kind `kind` of group g (real path group_real) whose
 * columns are opened as cols[g->ncols]: *out malloc'd, *len its bytes.
 * 0 or -ENOMEM.
 */
int arfs_viewsize_key(const struct arfs_group *g, const char *group_real,
		      struct arfs_column *const *cols, unsigned kind,
		      uint8_t **out, size_t *len);

/* The file's path: cache_dir/<FNV-1a 64 of group_real, 16 hex>.<ext>.view,
 * malloc'd, or NULL (no memory). */
char *arfs_viewsize_path(const char *cache_dir, const char *group_real,
			 const char *ext);

/*
 * Read the file at path if its key is key[0..klen): 0 and *out filled
 * (free out->sizes). -ENOENT: no file (not a problem). -ESTALE: a whole
 * file of another key or version; -EBADMSG: damaged, truncated or not a
 * view size file; -errno of I/O; -ENOMEM. *why says what, for the log.
 */
int arfs_viewsize_load(const char *path, const uint8_t *key, size_t klen,
		       struct arfs_viewsize *out, const char **why);

/*
 * NULL if vs can describe nrows rows in chunks of at most max_chunk_rows
 * rows, each row at least min_row_bytes bytes: chunk count, each size
 * between its rows' minimum and 2^56, a total below 2^62. Else why not.
 */
const char *arfs_viewsize_check(const struct arfs_viewsize *vs,
				uint64_t nrows, uint64_t max_chunk_rows,
				uint64_t min_row_bytes);

/* Write vs under key to path, in directory dir (textsize.h's
 * arfs_textsize_write_file()). 0 or -errno. */
int arfs_viewsize_save(const char *dir, const char *path, const uint8_t *key,
		       size_t klen, const struct arfs_viewsize *vs);

#endif
