/*
 * docarray_int.h - private to core/docarray/: the state of an open array,
 * the in-memory index, and the functions the files of the module share
 * (named da_*, never called from outside core/docarray/).
 *
 * Files in the array directory (byte layouts in docs/FORMAT.md):
 *   header.bin    rows of key_length UTF-32LE code units + 3 x int64 (p,r,e)
 *   body.bin      document bytes back to back; append-only for us
 *   arrayfs.meta  our sidecar: one 64-byte record per header row (32 in
 *                 version 1, read as it is by read-only opens, upgraded
 *                 by the first read-write open)
 *
 * Commit rule: body bytes first (appended at the end of body.bin, never at
 * the position DocArray computes from the last row), then the sidecar
 * record, then the header row: the header row write is the commit point.
 * With ARFS_PUT_FSYNC the body is fsync'd before the row is written and the
 * header and sidecar after. A crash leaves unreferenced bytes at the end of
 * body.bin (dead space, reclaimed by compact), never a torn document.
 *
 * Locks: `commit` (mutex) serializes writers and is taken first; `lock`
 * (rwlock) protects the index and maps. Writers copy body bytes holding only
 * `commit`, and take `lock` for writing just around header-row writes and
 * index updates, so readers wait at most for one row write.
 *
 * Bodies are reference counted (struct arfs_body): a docref pins the body
 * file it read from, so compaction can replace body.bin under live readers.
 *
 * Files of the module:
 *   index.c    row encoding, header map, id table, index build
 *   body.c     body files and docref reads
 *   sidecar.c  sidecar records and creation
 *   open.c     open, create, close, reload
 *   read.c     info, lookup, listing
 *   write.c    put, setattr, sync and shared row writes
 *   delete.c   delete, rename
 *   compact.c  compaction and its recovery
 *   check.c    arrayctl check
 *   end.c      the end rule: deleting the last row
 *
 * Layout of the index (all protected by arfs_docarray.lock):
 *  - hmap: header.bin mapped read-only (MAP_SHARED) with room to grow;
 *    rows are written with pwrite and seen through the map at once.
 *  - table: open-addressing hash of live ids. A slot holds two row numbers:
 *    `first` (the id's first live row: its place in document order) and
 *    `data` (its last live row: where the bytes are). Keys are not copied:
 *    a slot's id is read from row `first` in the map.
 *  - rowflags: one byte per row: ROW_FIRST marks the row that lists a
 *    document, ROW_BAD a corrupt row that is left out.
 */
#ifndef ARFS_DOCARRAY_INT_H
#define ARFS_DOCARRAY_INT_H

#include "docarray.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define ARFS_MAX_KEY_LENGTH 1024
#define ARFS_SIDECAR_MAGIC "ARFSMETA"
#define ARFS_SIDECAR_VERSION 2
#define ARFS_SIDECAR_HDR 32
#define ARFS_SIDECAR_REC 64    /* version 2, the one written */
#define ARFS_SIDECAR_REC_V1 32 /* version 1: no atime, no ctime */
/* Documents with no sidecar record get docno DEFAULT_DOCNO_BASE + row. */
#define ARFS_DEFAULT_DOCNO_BASE (UINT64_C(1) << 40)
#define ARFS_PAGE 4096

enum { ROW_FIRST = 1, ROW_BAD = 2 };

#define SLOT_EMPTY UINT32_MAX
#define SLOT_TOMB (UINT32_MAX - 1)
#define ARFS_MAX_ROWS (UINT32_MAX - 2)

struct arfs_slot {
	uint32_t first, data;
};

#define COMPACT_MARK "arrayfs.compact"

static const char *const file_names[3] = { "body.bin", "header.bin",
					   ARFS_SIDECAR_NAME };

struct body_map {
	struct body_map *next;
	void *addr;
	size_t len;
};

struct arfs_body {
	int fd;
	atomic_int refs;
	pthread_mutex_t map_lock; /* protects maps */
	struct body_map *maps;    /* newest first; all unmapped at free */
};

struct arfs_docarray {
	char *dir;
	pthread_mutex_t commit;
	pthread_rwlock_t lock;
	atomic_uint_least64_t gen;
	int lockfd; /* holds flock(LOCK_EX) on the directory while writable */
	/* Automatic compaction thresholds (ratio <= 0: off). */
	double ac_ratio;
	uint64_t ac_min;
	/*
	 * Everything from dirfd on is the state loaded from the files; reload
	 * and compact build a fresh state and swap it in (state_swap()).
	 */
	int dirfd, hfd, sfd;
	bool ro;
	bool in_mem; /* hmap and smap are malloc'd copies (read-only opens) */
	unsigned K;
	size_t rowsize;
	unsigned srec; /* record size of the open sidecar (version 1 only
			* in read-only handles) */
	/* Under lock: */
	struct arfs_body *body;
	const uint8_t *hmap;
	size_t hmap_cap;
	uint64_t nrows;
	const uint8_t *smap;
	size_t smap_cap;
	uint64_t srecs;
	uint8_t *rowflags;
	struct arfs_slot *table;
	size_t tcap, tused; /* tused counts live and tombstone slots */
	uint64_t live, bad_rows, dup_rows;
	uint64_t bad_end_min; /* lowest end of a bad row past body.bin's end */
	/* Row ends (p + e) do not increase with the row number (1.5 rule 8). */
	bool unsorted;
	uint64_t end_seen;
	uint64_t live_bytes; /* bytes of the live documents */
	/* Under commit: */
	uint64_t body_end, next_docno;
	uint64_t copy_from; /* da_copy_body()'s source offset */
	/* Defaults for rows without a sidecar record. */
	struct timespec def_mtime;
	uid_t def_uid;
	gid_t def_gid;
	/* What the files looked like when indexed, for reload. */
	struct stat st_h, st_b, st_s;
};

#define STATE_OFF offsetof(struct arfs_docarray, dirfd)

static inline int64_t get_i64(const uint8_t *p)
{
	return (int64_t)get_le64(p);
}

static inline const uint8_t *row_ptr(const struct arfs_docarray *da,
				      uint64_t row)
{
	return da->hmap + row * da->rowsize;
}

static inline bool row_is_tomb(const uint8_t *ext)
{
	return get_i64(ext) == -1 && get_i64(ext + 8) == -1 &&
	       get_i64(ext + 16) == -1;
}

/* index.c */
size_t da_id_trim(const uint8_t *raw, unsigned K);
uint64_t da_id_hash(const uint8_t *raw, unsigned K);
bool da_row_extent(const uint8_t *ext, uint64_t body_size, uint64_t *off,
		   uint64_t *len);
void da_fill_extent(uint8_t ext[24], uint64_t start, uint64_t len);
void da_fill_tomb(uint8_t ext[24]);
int da_name_to_raw(unsigned K, const char *name, size_t len, uint8_t *raw);
ssize_t da_raw_to_name(unsigned K, const uint8_t *raw, char *out, size_t cap);
int da_remap(int fd, const uint8_t **map, size_t *cap, uint64_t need);
int da_ensure_rows(struct arfs_docarray *da, uint64_t rows);
struct arfs_slot *da_slot_find(struct arfs_docarray *da, const uint8_t *raw,
			       uint64_t h);
int da_slot_insert(struct arfs_docarray *da, uint64_t h, uint32_t row);
void da_slot_remove(struct arfs_docarray *da, struct arfs_slot *s);
int da_index_build(struct arfs_docarray *da, uint64_t body_size);

/* body.c */
struct arfs_body *da_body_new(int fd);
struct arfs_body *da_body_get(struct arfs_body *b);
void da_body_put(struct arfs_body *b);

/* sidecar.c */
void da_default_attr(const struct arfs_docarray *da, uint64_t first,
		     struct arfs_docattr *a);
void da_slot_attr(const struct arfs_docarray *da, const struct arfs_slot *s,
		  struct arfs_docattr *a);
void da_fill_record(uint8_t rec[ARFS_SIDECAR_REC],
		    const struct arfs_docattr *a);
void da_fill_sidecar_header(uint8_t hdr[ARFS_SIDECAR_HDR], unsigned K);
int da_write_record(struct arfs_docarray *da, uint64_t row,
		    const struct arfs_docattr *a);
struct timespec da_dir_time_save(int dirfd);
void da_dir_time_restore(int dirfd, struct timespec mtime);
int da_sidecar_create(struct arfs_docarray *da);
int da_sidecar_key_length(struct arfs_docarray *da);
int da_sidecar_upgrade(struct arfs_docarray *da);

/* compact.c */
int da_compact_recover(struct arfs_docarray *da, bool *use_compact,
		       bool quiet);
int da_compact_locked(struct arfs_docarray *da);

/* end.c */
int da_delete_slot(struct arfs_docarray *da, struct arfs_slot *s);

/* open.c */
int da_state_reload(struct arfs_docarray *da);

/* write.c */
void da_note_own_write(struct arfs_docarray *da);
int da_ensure_sidecar(struct arfs_docarray *da);
int da_tombstone_row_locked(struct arfs_docarray *da, uint64_t row);
int da_undup(struct arfs_docarray *da, struct arfs_slot *s);
int da_commit_version(struct arfs_docarray *da, struct arfs_slot *s,
		      const uint8_t *raw, const uint8_t ext[24],
		      const struct arfs_docattr *a);
int da_copy_body(struct arfs_docarray *da, uint64_t off, uint64_t len,
		 uint64_t *start);
int da_maybe_autocompact(struct arfs_docarray *da);
struct arfs_slot *da_commit_find(struct arfs_docarray *da, const char *name,
				 size_t len, uint8_t *raw, int *rc);

#endif
