/*
 * fs.h - shared by the arrayfs daemon's files (fs/main.c, fs/inode.c,
 * fs/ll_*.c). Not a library interface.
 *
 * Inode numbers. Two numbers name a file here:
 *  - fuse_ino_t (the kernel's node id) is the address of its struct
 *    arfs_node, except FUSE_ROOT_ID for the root. It lives from the first
 *    lookup until the kernel forgets it (nlookup reaches 0).
 *  - st_ino (what stat shows) is stable across remounts:
 *      root                1
 *      array folder        number << 42          (number: store.h, 22 bits)
 *      document            number << 42 | docno  (docno < 2^42, docarray.h)
 *      group folder        number << 42
 *      column folder       number << 42 | (column + 1) << 20
 *      block file          number << 42 | (column + 1) << 20 | (block + 1)
 *      set folder          number << 42          (a folder of SFrames; its
 *                                                  groups have their own)
 *      views folder        2
 *      a group's views     number << 42 | 2^41 | (column + 1) << 3 | kind
 *                          (kind 0: the folder .views/G, else view.h's;
 *                          a set's groups likewise, by their own numbers)
 *      a set's views       number << 42 | 2^41   (.views/FOLDER, the set's
 *                                                  number)
 *    (arrays, groups and sets share the number space; a group's columns are
 *    < 2^21 and blocks of a column < 2^20 - 1; "block" counts in row order
 *    across segments.)
 *    docno ranges: 1.. allocated and kept in the sidecar; 2^40 + row for
 *    rows without a sidecar record; 2^41 + n for documents whose names do
 *    not fit a header row yet ("pending", see below).
 *
 * Pending documents. rsync and editors write to a temporary name and
 * rename it into place; with key_length 36 and 32-character ids that
 * temporary name does not fit a header row. Such a file is kept by the
 * daemon only (its bytes in a pinned buffer-pool buffer) until it is
 * renamed to a name that fits, which commits it, or unlinked. It is lost if
 * the daemon stops first, as it was never committed to the array.
 */
#ifndef ARFS_FS_H
#define ARFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bufpool.h"
#include "docarray.h"
#include "store.h"

#define ARFS_INO_SHIFT 42
#define ARFS_PENDING_DOCNO_BASE (UINT64_C(1) << 41)

enum arfs_node_kind {
	ARFS_NODE_ROOT,
	ARFS_NODE_ARRAY,
	ARFS_NODE_DOC,
	ARFS_NODE_GROUP,
	ARFS_NODE_COLUMN,
	ARFS_NODE_BLOCK,
	ARFS_NODE_SET,		/* a folder of several SFrames (a model) */
	ARFS_NODE_VROOT,	/* MNT/.views (ll_views.c) */
	ARFS_NODE_VGROUP,	/* MNT/.views/G */
	ARFS_NODE_VSET,		/* MNT/.views/FOLDER (a set) */
	ARFS_NODE_VFILE,	/* G.csv, G.jsonl, G/COLUMN.txt, G/COLUMN.npy,
				 * G/COLUMN/ROW.EXT */
};

/* -o views=: the views folder hidden from the root listing (default),
 * listed, or absent */
enum arfs_views_mode { ARFS_VIEWS_HIDDEN, ARFS_VIEWS_VISIBLE, ARFS_VIEWS_OFF };

#define ARFS_COL_SHIFT 20
#define ARFS_GROUP_KEY(col, blk) \
	(((uint64_t)(col) + 1) << ARFS_COL_SHIFT | (uint64_t)(blk))

struct arfs_node {
	enum arfs_node_kind kind;
	struct arfs_store_array *arr; /* ARRAY, DOC */
	struct arfs_store_group *grp; /* GROUP, COLUMN, BLOCK */
	struct arfs_store_set *set;   /* SET */
	uint64_t docno;               /* DOC: docno; group nodes: key */
	struct arfs_node *hnext;      /* table chain, under table lock */
	uint64_t nlookup;             /* under table lock */

	pthread_mutex_t lock;         /* protects everything below */
	char *name;                   /* DOC: current name */
	unsigned writers;             /* open handles that may write */
	unsigned opens;               /* all open handles */
	struct arfs_buf *wbuf;        /* pinned while writers or pending */
	struct arfs_bufkey wkey;      /* wbuf's key */
	bool pending, unlinked, fsync_next;
	bool orphan;                  /* unlinked, wbuf kept for open files */
	struct arfs_docattr pattr;    /* attributes of a document never
				       * stored (pending, or unlinked while
				       * pending) */
	struct timespec wtime;        /* last change of wbuf not committed
				       * yet (0: none), the mtime it shows */
	uint64_t version, seen;       /* content version; version at last open */
	struct arfs_docref gone;      /* DOC: its bytes when last deleted or
				       * replaced, for files still open */
};

struct arfs_fs {
	struct arfs_store *store;
	struct arfs_blockmgr *mgr;
	struct arfs_bufpool *pool;
	struct fuse_session *se;
	bool ro;
	double timeout;               /* entry and attr cache, seconds */
	enum arfs_views_mode views;
	struct arfs_node root;
};

extern struct arfs_fs arfs_fs;

/*
 * fs/loop.c: serve requests until the session ends. The leader thread
 * polls the device for poll_us after each request before it sleeps;
 * at most max_threads threads. Returns 0 or a negative errno.
 */
int arfs_loop_run(struct fuse_session *se, unsigned poll_us,
		  unsigned max_threads);
/*
 * Called by a handler before work that may block or take long: if this
 * thread leads the loop, another thread takes the lead meanwhile. Any
 * thread, any time; a no-op outside arfs_loop_run().
 */
void arfs_loop_blocking(void);

/* fs/inode.c */
void arfs_inode_init(void);
void arfs_inode_shutdown(void);
struct arfs_node *arfs_inode_get(fuse_ino_t ino);
fuse_ino_t arfs_inode_id(struct arfs_node *n);
/* Find or create the node for (arr, docno, kind); adds one lookup. */
struct arfs_node *arfs_inode_ref(enum arfs_node_kind kind,
				 struct arfs_store_array *arr, uint64_t docno,
				 const char *name);
/* Same for group nodes: key 0 (group), ARFS_GROUP_KEY(col, blk + 1) ... */
struct arfs_node *arfs_inode_ref_grp(enum arfs_node_kind kind,
				     struct arfs_store_group *grp, uint64_t key);
/* Same for the folder of a set of groups (a model). */
struct arfs_node *arfs_inode_ref_set(struct arfs_store_set *set);
/* Find without adding a lookup (NULL if unknown). */
struct arfs_node *arfs_inode_find(struct arfs_store_array *arr,
				  uint64_t docno);
/* Forget n lookups; frees the node when nothing refers to it. */
void arfs_inode_forget(struct arfs_node *node, uint64_t n);
/* Re-key a node whose docno changed (a pending document committed). */
void arfs_inode_rekey(struct arfs_node *node, uint64_t docno);
/* Mark or unmark a pending document (kept alive while pending). */
int arfs_inode_set_pending(struct arfs_node *node, bool pending);
/* The pending document arr/name with one lookup added, or NULL. */
struct arfs_node *arfs_inode_pending(struct arfs_store_array *arr,
				     const char *name);
/* Call fn for each pending document of arr, under the table lock. */
void arfs_inode_pending_each(struct arfs_store_array *arr,
			     void (*fn)(void *ctx, struct arfs_node *n),
			     void *ctx);
uint64_t arfs_inode_next_pending_docno(void);
/* Hold / drop a use of the node beyond the kernel's lookups. */
void arfs_inode_hold(struct arfs_node *node);
void arfs_inode_unhold(struct arfs_node *node);
uint64_t arfs_node_st_ino(const struct arfs_node *n);

/*
 * fs/ll_group.c (reading) and fs/ll_groupw.c (writing, view pins): segment
 * groups (writes only in read-write mounts)
 */
struct arfs_store_group *arfs_grp_root(void);
int arfs_grp_lookup(struct arfs_node *dir, const char *name,
		    struct arfs_node **out, struct stat *st);
int arfs_grp_stat(enum arfs_node_kind kind, struct arfs_store_group *grp,
		  uint64_t key, struct stat *st);
/* Call add(ctx, name, kind, key) for each entry of a group folder. */
int arfs_grp_list(struct arfs_node *dir,
		  int (*add)(void *ctx, const char *name,
			     enum arfs_node_kind kind, uint64_t key),
		  void *ctx);
/*
 * Pin the view of the group an open block file reads: the current one at
 * open time, so a block replaced while the file is open (rsync's rename
 * onto it) keeps reading as the version it opened. Returns the pin for
 * fi->fh (0: none, reads use the current view); arfs_grp_unpin() it at
 * release. Each call is one pin.
 */
uint64_t arfs_grp_pin(struct arfs_node *n);
void arfs_grp_unpin(uint64_t pin);
/*
 * Reply with up to size bytes of a pinned buffer from off, copied under
 * the buffer's lock (a buffer being written may move): 0 once replied,
 * or -errno for the caller to reply.
 */
int arfs_reply_buf_copy(fuse_req_t req, struct arfs_buf *buf, size_t size,
			off_t off);
/*
 * Reply to a read of a block file from the view pinned at open (or the
 * current one if 0), straight from the pool buffer of its text; a read
 * from offset 0 starts decoding the column's next blocks ahead. 0 once
 * replied, or -errno for the caller to reply.
 */
int arfs_grp_read(fuse_req_t req, struct arfs_node *n, uint64_t pin,
		  size_t size, off_t off);
int arfs_grp_getxattr(struct arfs_node *n, const char *name, char *buf,
		      size_t cap, size_t *len);
int arfs_grp_listxattr(struct arfs_node *n, char *buf, size_t cap,
		       size_t *len);
/* stat of a node, a block being written showing its buffer's size, an
 * open block (pin from arfs_grp_pin, or 0) the size of its pinned view */
int arfs_grp_stat_node(struct arfs_node *n, uint64_t pin, struct stat *st);
/* open a block for writing (one writer counted), write, flush, release */
int arfs_grp_open(struct arfs_node *n, int flags);
int arfs_grp_write(struct arfs_node *n, const char *data, size_t size,
		   off_t off);
/* flush checks the text parses (EINVAL); release and fsync commit */
int arfs_grp_flush(struct arfs_node *n);
int arfs_grp_fsync(struct arfs_node *n);
int arfs_grp_release(struct arfs_node *n);
int arfs_grp_setattr(struct arfs_node *n, const struct stat *attr,
		     int to_set);
/* a new block file in a column folder: *out has one lookup, its buffer
 * pinned; the caller counts the writer */
int arfs_grp_create(struct arfs_node *dir, const char *name,
		    struct arfs_node **out, struct stat *st);
int arfs_grp_unlink(struct arfs_node *dir, const char *name);
int arfs_grp_rename(struct arfs_node *dir, const char *name,
		    struct arfs_node *newdir, const char *newname);
/* free the group writers, retired views and pins (before arfs_store_close) */
void arfs_grp_shutdown(void);

/* fs/ll_ops.c */
extern const struct fuse_lowlevel_ops arfs_ll_ops;

#endif
