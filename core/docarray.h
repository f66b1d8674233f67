/*
 * docarray.h - a document array: DocArray's memmap layout (header.bin +
 * body.bin) plus our sidecar (arrayfs.meta) of per-document attributes.
 * Byte layouts and crash rules: docs/FORMAT.md.
 *
 * Documents are named by file names (core/idname.h maps stored ids to names
 * and back); every call that takes a name takes (name, name_len).
 *
 * Lifetime and ownership:
 *  - struct arfs_docarray is opaque, from arfs_docarray_open/_create, freed
 *    by arfs_docarray_close().
 *  - A struct arfs_docref (arfs_docarray_lookup) pins the body file the
 *    document was found in: its bytes stay readable through the ref, even
 *    while the document is replaced, deleted or the array compacted, until
 *    arfs_docref_release(). It holds no lock.
 *  - arfs_docarray_get() returns a view into the memory-mapped body.bin. The
 *    view is read-only and lives until arfs_docref_release() of its ref.
 *
 * Thread safety: any number of readers (lookup, read, list, stat) run in
 * parallel with one committer; commits (put, delete, rename, setattr,
 * compact) are serialized per array. The body bytes of a put are written
 * without blocking readers; readers wait at most for one header row write.
 *
 * Errors: negative errno. -ENOENT no such document, -EEXIST (ARFS_PUT_EXCL),
 * -ENAMETOOLONG an id longer than key_length, -EILSEQ a name that is not
 * valid UTF-8, -EUCLEAN corrupt storage (logged with file and offset),
 * -EROFS on a read-only array, or an I/O error from the system.
 */
#ifndef ARFS_DOCARRAY_H
#define ARFS_DOCARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARFS_DEFAULT_KEY_LENGTH 36
#define ARFS_SIDECAR_NAME "arrayfs.meta"

struct arfs_docarray;
struct arfs_body;

#define ARFS_AUTOCOMPACT_RATIO 0.5
#define ARFS_AUTOCOMPACT_MIN (UINT64_C(64) << 20)

struct arfs_docarray_opts {
	unsigned key_length; /* 0: the sidecar's, else 36 */
	bool read_only;
	/*
	 * Automatic compaction: a commit that leaves more dead bytes than
	 * autocompact times the size of the array and more than
	 * autocompact_min compacts the array before it returns.
	 * autocompact 0: ARFS_AUTOCOMPACT_RATIO, < 0: never;
	 * autocompact_min 0: ARFS_AUTOCOMPACT_MIN.
	 */
	double autocompact;
	uint64_t autocompact_min;
};

/* What a filesystem needs to know of one document. */
struct arfs_docattr {
	uint64_t docno;  /* stable per document across reopen, compact, rename */
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode;   /* permission bits only (07777) */
	uint32_t uid, gid;
	uint32_t atime_nsec, ctime_nsec;
	int64_t atime_sec, ctime_sec;
};

/* Which fields arfs_docarray_setattr() changes. */
enum {
	ARFS_ATTR_MTIME = 1,
	ARFS_ATTR_MODE = 2,
	ARFS_ATTR_UID = 4,
	ARFS_ATTR_GID = 8,
	ARFS_ATTR_ATIME = 16,
};

struct arfs_docref {
	struct arfs_body *body; /* pinned body file; NULL for an empty ref */
	uint64_t off, len;      /* the document's bytes in body */
	uint64_t row;           /* header row holding the bytes */
	struct arfs_docattr attr;
};

struct arfs_docarray_info {
	unsigned key_length;
	uint64_t rows, live, tombstones, bad_rows, duplicate_rows;
	uint64_t body_size, live_bytes;
	bool has_sidecar, read_only;
};

/*
 * Open the array in directory dir. Refuses (with a logged message naming
 * the file, its size and the row size) a header.bin whose size is not a
 * multiple of the row size: -EUCLEAN. Rows that are corrupt (extents outside
 * body.bin, inverted, invalid) are logged once and left out; the rest opens.
 */
int arfs_docarray_open(const char *dir, const struct arfs_docarray_opts *opts,
		       struct arfs_docarray **out);
/* Create an empty array in dir (created if missing), then open it. */
int arfs_docarray_create(const char *dir, const struct arfs_docarray_opts *opts,
			 struct arfs_docarray **out);
/* Close; NULL accepted. Outstanding docrefs stay valid until released. */
void arfs_docarray_close(struct arfs_docarray *da);
/*
 * Pick up changes made by another process (a writer on another mount or
 * DocArray itself). Cheap when nothing changed. *changed says whether the
 * documents may differ now. A writable handle holds the array's lock, so
 * for it this does nothing.
 */
int arfs_docarray_reload(struct arfs_docarray *da, bool *changed);

void arfs_docarray_get_info(struct arfs_docarray *da,
			    struct arfs_docarray_info *out);
unsigned arfs_docarray_key_length(const struct arfs_docarray *da);
/* Number of live documents. */
uint64_t arfs_docarray_count(struct arfs_docarray *da);
/* Bumped by every change to the array (commits and reloads that changed). */
uint64_t arfs_docarray_generation(struct arfs_docarray *da);

/* Find a document: fills *ref (release it) or returns -ENOENT. */
int arfs_docarray_lookup(struct arfs_docarray *da, const char *name,
			 size_t name_len, struct arfs_docref *ref);
/* *dst = *src with its own pin on the body file (release both). */
void arfs_docref_copy(struct arfs_docref *dst, const struct arfs_docref *src);
/* Copy document bytes [off, off+cap) from a ref: bytes copied or -errno. */
ssize_t arfs_docref_pread(const struct arfs_docref *ref, void *dst,
			  size_t cap, uint64_t off);
/* The body file's descriptor, for splicing: valid until release. */
int arfs_docref_fd(const struct arfs_docref *ref);
/*
 * A read-only pointer to the document's bytes in the mapped body.bin, valid
 * until arfs_docref_release(ref). NULL with *err set on failure (a zero
 * length document gives a non-NULL pointer to nothing).
 */
const void *arfs_docref_view(struct arfs_docref *ref, int *err);
/* Drop the ref's pin; the ref becomes empty. Safe on an empty ref. */
void arfs_docref_release(struct arfs_docref *ref);

/*
 * List in document order. *cursor starts at 0 and is advanced; it stays
 * valid across commits (it is a header row number). Returns 0 with the next
 * document's name (NUL-terminated in name[cap]) and attributes, or -ENOENT
 * at the end. A name longer than cap is skipped with a logged warning.
 */
int arfs_docarray_next(struct arfs_docarray *da, uint64_t *cursor, char *name,
		       size_t cap, struct arfs_docattr *attr);

/* Reads `len` bytes at source offset `off` into dst: 0 or -errno. */
typedef int (*arfs_src_fn)(void *ctx, void *dst, size_t len, uint64_t off);

enum {
	ARFS_PUT_FSYNC = 1, /* durable before return */
	ARFS_PUT_EXCL = 2,  /* fail with -EEXIST if the document exists */
	ARFS_PUT_MTIME = 4, /* attr gives only the time of the change */
	/*
	 * Do not compact automatically in this call (the caller holds a lock
	 * readers need and calls arfs_docarray_autocompact() after).
	 */
	ARFS_PUT_NO_AUTOCOMPACT = 8,
};

/*
 * Create or replace document `name` with `size` bytes read from src. The
 * bytes are appended to body.bin (whole zero blocks past its end are left
 * as holes), then the header row is written (the commit point): a new row
 * at the end, or the document's row rewritten when it is the last row
 * (docs/FORMAT.md 1.5). attr: mtime/atime/mode/uid/gid to record (docno,
 * size and ctime are ignored; ctime becomes now); NULL keeps the existing
 * ones (or defaults for a new document) and sets mtime and ctime to now.
 * With ARFS_PUT_MTIME only attr's mtime is used, for mtime and ctime (a
 * commit of writes made at that time); the rest is kept.
 * On return *out_attr (may be NULL) holds the committed attributes.
 */
int arfs_docarray_put(struct arfs_docarray *da, const char *name,
		      size_t name_len, arfs_src_fn src, void *ctx,
		      uint64_t size, const struct arfs_docattr *attr,
		      unsigned flags, struct arfs_docattr *out_attr);
/*
 * What a caller knows of the new content of a put: its bytes [0, keep)
 * equal those of the committed document numbered docno. When that is the
 * whole committed document and its bytes end body.bin and its row is the
 * last row, the put writes only the new bytes after them and the row grows
 * in place (an append costs the appended bytes, not the document).
 */
struct arfs_put_keep {
	uint64_t docno, keep;
};

/* arfs_docarray_put() with a hint (NULL: none). */
int arfs_docarray_put_keep(struct arfs_docarray *da, const char *name,
			   size_t name_len, arfs_src_fn src, void *ctx,
			   uint64_t size, const struct arfs_docattr *attr,
			   unsigned flags, const struct arfs_put_keep *keep,
			   struct arfs_docattr *out_attr);
/* Convenience: put from memory. */
int arfs_docarray_put_mem(struct arfs_docarray *da, const char *name,
			  size_t name_len, const void *data, size_t size,
			  const struct arfs_docattr *attr, unsigned flags);
/* Delete (tombstone every live row of the id). */
int arfs_docarray_delete(struct arfs_docarray *da, const char *name,
			 size_t name_len);
/*
 * Rename old -> new. A document named new is replaced; the reader sees new
 * change content in one header write (docs/FORMAT.md, "Rename").
 * flags: ARFS_PUT_EXCL refuses an existing target (RENAME_NOREPLACE).
 */
int arfs_docarray_rename(struct arfs_docarray *da, const char *old_name,
			 size_t old_len, const char *new_name, size_t new_len,
			 unsigned flags);
/*
 * Change attributes (mask of ARFS_ATTR_*); ctime becomes now. Only the
 * sidecar is written.
 */
int arfs_docarray_setattr(struct arfs_docarray *da, const char *name,
			  size_t name_len, const struct arfs_docattr *attr,
			  unsigned mask);
/* Make every commit so far durable (fsync body, header, sidecar). */
int arfs_docarray_sync(struct arfs_docarray *da);
/*
 * Rebuild the array without dead bytes, tombstones and duplicate rows:
 * new files beside the old ones (*.compact), fsync'd, a marker file as the
 * commit point, then renamed into place (docs/FORMAT.md 1.6). A crash at
 * any point leaves the old or the new array once reopened by this engine.
 */
int arfs_docarray_compact(struct arfs_docarray *da);

/*
 * Compact when the dead bytes pass the thresholds of the open options (as
 * every commit does by itself unless told ARFS_PUT_NO_AUTOCOMPACT).
 * 0, or the error of a compaction that was due (logged).
 */
int arfs_docarray_autocompact(struct arfs_docarray *da);
/* Whether arfs_docarray_autocompact() would compact now. Never fails. */
bool arfs_docarray_compact_due(struct arfs_docarray *da);

/*
 * Verify every row and the sidecar. Calls report(ctx, message) once per
 * problem, and for arrays that break the end rule (DocArray could not open
 * or append safely) once with a message starting "warning: ", which is not
 * a problem. Returns the number of problems (0 when sound) or -errno.
 */
int arfs_docarray_check(const char *dir, unsigned key_length,
			void (*report)(void *ctx, const char *msg), void *ctx);

/* True when dir holds header.bin and body.bin. */
bool arfs_docarray_is_array(const char *dir);

#endif
