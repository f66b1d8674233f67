/*
 * store.h - a STORE directory: the document arrays it holds and the lock
 * that keeps to one writer per store.
 *
 * A store is one document array (STORE/header.bin + body.bin exist), one
 * segment group (STORE holds a *.sidx or *.frame_idx), or a directory
 * whose sub-directories are arrays, groups and folders of several SFrames
 * (Turi models: "sets"). A STORE that is itself such a folder shows its
 * SFrames as its groups. Other entries are reported
 * at open and skipped; hidden entries (starting with '.') are ignored.
 *
 * Locking: a read-write store holds flock(LOCK_EX) on the STORE directory
 * for its whole life; a second read-write open fails with -EBUSY and a
 * message. Read-only opens take no lock and coexist with one writer.
 *
 * Arrays and groups are numbered for stable inode numbers (docs/FORMAT.md, "Inode
 * numbers"): number = a 22-bit hash of the name, probed upward on collision
 * in name order, never 0.
 *
 * Thread safety: the array list is protected by an internal mutex; the
 * returned struct arfs_store_array pointers live until arfs_store_close()
 * (removed arrays are kept, marked `removed`, until then).
 */
#ifndef ARFS_STORE_H
#define ARFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

struct arfs_docarray;
struct arfs_group;
struct arfs_blockmgr;
struct arfs_column;

struct arfs_store_opts {
	bool read_only;
	unsigned key_length; /* 0: per array default */
	/* Automatic compaction of document arrays: arfs_docarray_opts. */
	double autocompact;
	uint64_t autocompact_min;
	struct arfs_blockmgr *mgr; /* opens group columns; must outlive store */
};

struct arfs_store_array {
	char *name;              /* "" for a single-array store */
	struct arfs_docarray *da;
	uint32_t number;         /* 1..2^22-1 */
	bool removed;
};

/* A segment group. */
struct arfs_store_group {
	char *name;              /* "" for a single-group store */
	struct arfs_group *g;
	bool ro;                 /* one SFrame of a model folder: never written */
	uint32_t number;         /* shares the number space with arrays */
	struct timespec mtime;   /* of the group's index file at open */
	pthread_mutex_t lock;    /* protects cols */
	struct arfs_column **cols; /* [g->ncols], opened on first use */
	int *col_err;            /* [g->ncols], a failed open, remembered */
};

/*
 * A folder of several SFrames, as Turi saves a model (FORMAT.md 2.2.1):
 * shown as a folder of read-only groups, one per <prefix>.frame_idx, named
 * by the prefix. Fixed after open.
 */
struct arfs_store_set {
	char *name;
	uint32_t number;         /* shares the number space with arrays */
	size_t ngroups;
	struct arfs_store_group **groups; /* [ngroups], name order */
};

struct arfs_store;

/* Open STORE; -EBUSY when another writer holds it, -ENOTDIR, ... */
int arfs_store_open(const char *path, const struct arfs_store_opts *opts,
		    struct arfs_store **out);
void arfs_store_close(struct arfs_store *st);

bool arfs_store_is_single(const struct arfs_store *st);
bool arfs_store_read_only(const struct arfs_store *st);
const char *arfs_store_path(const struct arfs_store *st);
/*
 * Current times of an array's directory (a == NULL: of STORE), the times
 * its folder shows: t[0] atime, t[1] mtime, t[2] ctime (all zero if the
 * directory cannot be read).
 */
void arfs_store_dir_times(struct arfs_store *st,
			  const struct arfs_store_array *a,
			  struct timespec t[3]);

/* Arrays in name order; index i < count. NULL past the end. */
struct arfs_store_array *arfs_store_array_at(struct arfs_store *st, size_t i);
/* The array named name, or NULL. */
struct arfs_store_array *arfs_store_find(struct arfs_store *st,
					 const char *name);
/* Create an empty array STORE/name: -EEXIST, -EPERM in a single store. */
int arfs_store_mkarray(struct arfs_store *st, const char *name,
		       struct arfs_store_array **out);
/* Remove an empty array: -ENOTEMPTY when it has documents. */
int arfs_store_rmarray(struct arfs_store *st, const char *name);
/*
 * Set the access and modification times of an array's directory (a ==
 * NULL: the STORE directory), on disk and as reported; tv_nsec UTIME_OMIT
 * leaves one as it is, UTIME_NOW sets the current time. Its ctime becomes
 * now. Groups' times are not settable. -EROFS on a read-only store.
 */
int arfs_store_set_times(struct arfs_store *st, struct arfs_store_array *a,
			 struct timespec atime, struct timespec mtime);
/*
 * A document was created, removed or renamed in array a (NULL: a
 * single-array store): its folder's mtime and ctime become now.
 */
int arfs_store_touch(struct arfs_store *st, struct arfs_store_array *a);

/* Groups in name order; NULL past the end. */
struct arfs_store_group *arfs_store_group_at(struct arfs_store *st, size_t i);
struct arfs_store_group *arfs_store_find_group(struct arfs_store *st,
					       const char *name);
/* Folders of several SFrames in name order; NULL past the end. */
struct arfs_store_set *arfs_store_set_at(struct arfs_store *st, size_t i);
struct arfs_store_set *arfs_store_find_set(struct arfs_store *st,
					   const char *name);
/* The group of a set named name (its .frame_idx prefix), or NULL. */
struct arfs_store_group *arfs_store_set_find(const struct arfs_store_set *set,
					     const char *name);

/*
 * Column c of a group, opened through the block manager on first use and
 * kept until arfs_store_close(). -EUCLEAN for a damaged segment (logged).
 */
int arfs_store_column(struct arfs_store *st, struct arfs_store_group *sg,
		      uint64_t c, struct arfs_column **out);

#endif
