/*
 * ll_ops.c - the FUSE low-level handlers: each one translates a request
 * into core calls and replies. Errors from core are negative errno values;
 * they reach the kernel in one place, reply_err().
 *
 * Data paths:
 *  - read of a clean document: looked up by name in the array and answered
 *    straight from body.bin (fuse_reply_data with the file descriptor, so
 *    libfuse can splice); no copy in the daemon.
 *  - writes go to the document's buffer in the buffer pool (node->wbuf,
 *    pinned while a writer has it open; spilled to a staging file past a
 *    threshold). flush/fsync/release commit it (arfs_docarray_put through
 *    the buffer's writeback callback), so write errors surface at flush or
 *    fsync, the calls whose errors close() and fsync() return.
 *  - a read of a document that has a write buffer reads the buffer, so a
 *    process sees its own unflushed writes.
 */
#include "fs.h"
#include "blockmgr.h"
#include "util.h"

#include <inttypes.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define ARFS_BLKSIZE (1u << 20)

static void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rc < 0 ? -rc : rc);
}

/* The array a directory node shows, or NULL for the root of a multi store. */
static struct arfs_store_array *dir_array(struct arfs_node *dir)
{
	if (dir->kind == ARFS_NODE_ARRAY)
		return dir->arr;
	if (dir->kind == ARFS_NODE_ROOT && arfs_store_is_single(arfs_fs.store))
		return arfs_store_array_at(arfs_fs.store, 0);
	return NULL;
}

/*
 * Read-only mounts follow a writer's commits: every array is reloaded when
 * a request finds the last reload older than one second (docs/arrayfs.1).
 */
static void maybe_reload(void)
{
	static atomic_llong last;
	struct timespec now;
	long long t, prev;
	struct arfs_store_array *a;
	bool changed;

	if (!arfs_fs.ro)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	t = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	prev = atomic_load(&last);
	if (t - prev < 1000 || !atomic_compare_exchange_strong(&last, &prev, t))
		return;
	for (size_t i = 0; (a = arfs_store_array_at(arfs_fs.store, i)); i++)
		if (arfs_docarray_reload(a->da, &changed))
			arfs_log(ARFS_LOG_WARNING, "%s: reload failed", a->name);
}

static void fill_dir_stat(struct stat *st, struct arfs_node *n)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = arfs_node_st_ino(n);
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = ARFS_BLKSIZE;
	st->st_mtim = arfs_store_dir_mtime(arfs_fs.store,
					   n->kind == ARFS_NODE_ARRAY ? n->arr : NULL);
	st->st_ctim = st->st_atim = st->st_mtim;
}

static void fill_doc_stat(struct stat *st, struct arfs_store_array *arr,
			  const struct arfs_docattr *a, uint64_t docno)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = (uint64_t)arr->number << ARFS_INO_SHIFT |
		     (docno & ((UINT64_C(1) << ARFS_INO_SHIFT) - 1));
	st->st_mode = S_IFREG | (a->mode & 07777);
	st->st_nlink = 1;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_blksize = ARFS_BLKSIZE;
	st->st_mtim.tv_sec = a->mtime_sec;
	st->st_mtim.tv_nsec = a->mtime_nsec;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
}

/* Copy of node->name, or -ENOENT for an unlinked node. */
static int node_name(struct arfs_node *n, char *out, size_t cap)
{
	int rc = 0;

	pthread_mutex_lock(&n->lock);
	if (!n->name || n->unlinked)
		rc = -ENOENT;
	else
		snprintf(out, cap, "%s", n->name);
	pthread_mutex_unlock(&n->lock);
	return rc;
}

/*
 * The committed document a node stands for: the one its name holds while
 * that is still the node's document (same docno); else the bytes it had
 * when it was deleted or replaced through this mount (node->gone, kept
 * before the change is made), which files still open go on reading as on
 * any POSIX file system; else (another process changed the array under a
 * read-only mount) whatever the name holds now. Fills *ref (release it)
 * or returns -ENOENT.
 */
static int node_doc(struct arfs_node *n, struct arfs_docref *ref)
{
	struct arfs_docref gone = { 0 };
	char name[NAME_MAX + 1];
	int rc = node_name(n, name, sizeof(name));

	if (!rc)
		rc = arfs_docarray_lookup(n->arr->da, name, strlen(name), ref);
	if (!rc && ref->attr.docno == n->docno)
		return 0;
	pthread_mutex_lock(&n->lock);
	if (n->gone.body)
		arfs_docref_copy(&gone, &n->gone);
	pthread_mutex_unlock(&n->lock);
	if (!gone.body)
		return rc;
	if (!rc)
		arfs_docref_release(ref);
	*ref = gone;
	return 0;
}

/*
 * An extra pin on the node's write buffer, or NULL. Buffer calls are never
 * made under node->lock (writeback takes node->lock under the buffer's
 * mutex), so callers pin, drop node->lock, use the buffer, then unpin.
 */
static struct arfs_buf *wbuf_pin_extra(struct arfs_node *n)
{
	struct arfs_bufkey key;
	struct arfs_buf *buf = NULL;
	bool has;

	pthread_mutex_lock(&n->lock);
	has = n->wbuf != NULL;
	key = n->wkey;
	pthread_mutex_unlock(&n->lock);
	if (has && arfs_bufpool_lookup(arfs_fs.pool, key, &buf))
		buf = NULL;
	return buf;
}

/* Size from the node's write buffer, if it has one. */
static void wbuf_size(struct arfs_node *n, uint64_t *size)
{
	struct arfs_buf *buf = wbuf_pin_extra(n);

	if (buf) {
		*size = arfs_buf_size(buf);
		arfs_bufpool_unpin(arfs_fs.pool, buf);
	}
}

/*
 * Current attributes of a document node (size from its buffer if any).
 * The buffer is looked at first: a commit lands before the buffer is
 * dropped, so a size read from the array after finding no buffer is never
 * older than the last write. In the other order a commit between the two
 * looks gave the size before it, and the kernel kept that stale size for
 * the attribute timeout, cutting reads of the document short.
 */
static int doc_attr(struct arfs_node *n, struct arfs_docattr *a)
{
	struct arfs_docref ref;
	uint64_t size = UINT64_MAX;
	bool pending;
	int rc;

	wbuf_size(n, &size);
	pthread_mutex_lock(&n->lock);
	pending = n->pending;
	if (pending)
		*a = n->pattr;
	pthread_mutex_unlock(&n->lock);
	if (!pending) {
		rc = node_doc(n, &ref);
		if (rc)
			return rc;
		*a = ref.attr;
		arfs_docref_release(&ref);
	}
	if (size != UINT64_MAX)
		a->size = size;
	return 0;
}

static bool is_group_kind(enum arfs_node_kind k)
{
	return k == ARFS_NODE_GROUP || k == ARFS_NODE_COLUMN ||
	       k == ARFS_NODE_BLOCK;
}

/* A folder of a segment group, or the root of a single-group store. */
static bool in_group(struct arfs_node *dir)
{
	return is_group_kind(dir->kind) ||
	       (dir->kind == ARFS_NODE_ROOT && arfs_grp_root());
}

/* Writable groups are not cached by the kernel: a commit renumbers. */
static double grp_timeout(const struct arfs_node *n)
{
	return is_group_kind(n->kind) && !arfs_fs.ro ? 0 : arfs_fs.timeout;
}

static int node_stat(struct arfs_node *n, struct stat *st)
{
	struct arfs_docattr a;
	int rc;

	if (is_group_kind(n->kind))
		return arfs_grp_stat_node(n, 0, st);
	if (n->kind != ARFS_NODE_DOC) {
		fill_dir_stat(st, n);
		return 0;
	}
	rc = doc_attr(n, &a);
	if (!rc)
		fill_doc_stat(st, n->arr, &a, n->docno);
	return rc;
}

static void reply_entry(fuse_req_t req, struct arfs_node *n,
			const struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = arfs_inode_id(n);
	e.attr = *st;
	e.attr_timeout = grp_timeout(n);
	e.entry_timeout = grp_timeout(n);
	fuse_reply_entry(req, &e);
}

/* ---- lookup, getattr, forget ---- */

static int lookup_doc(struct arfs_store_array *arr, const char *name,
		      struct arfs_node **out, struct stat *st)
{
	struct arfs_docref ref;
	struct arfs_node *n;
	int rc;

	n = arfs_inode_pending(arr, name);
	if (n) {
		rc = node_stat(n, st);
		if (rc)
			arfs_inode_forget(n, 1);
		*out = n;
		return rc;
	}
	rc = arfs_docarray_lookup(arr->da, name, strlen(name), &ref);
	if (rc)
		return rc;
	fill_doc_stat(st, arr, &ref.attr, ref.attr.docno);
	n = arfs_inode_ref(ARFS_NODE_DOC, arr, ref.attr.docno, name);
	arfs_docref_release(&ref);
	if (!n)
		return -ENOMEM;
	{
		uint64_t size = (uint64_t)st->st_size;
		wbuf_size(n, &size);
		st->st_size = (off_t)size;
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
	}
	*out = n;
	return 0;
}

static void arfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct arfs_node *dir = arfs_inode_get(parent), *n = NULL;
	struct arfs_store_array *arr = dir_array(dir);
	struct arfs_store_group *grp;
	struct stat st;
	int rc;

	maybe_reload();
	if (arr) {
		rc = lookup_doc(arr, name, &n, &st);
	} else if (in_group(dir)) {
		rc = arfs_grp_lookup(dir, name, &n, &st);
	} else if (dir->kind == ARFS_NODE_ROOT &&
		   (grp = arfs_store_find_group(arfs_fs.store, name))) {
		n = arfs_inode_ref_grp(ARFS_NODE_GROUP, grp, 0);
		rc = n ? arfs_grp_stat(ARFS_NODE_GROUP, grp, 0, &st) : -ENOMEM;
	} else if (dir->kind == ARFS_NODE_ROOT &&
		   (arr = arfs_store_find(arfs_fs.store, name))) {
		n = arfs_inode_ref(ARFS_NODE_ARRAY, arr, 0, NULL);
		rc = n ? 0 : -ENOMEM;
		if (n)
			fill_dir_stat(&st, n);
	} else {
		rc = -ENOENT;
	}
	if (rc)
		reply_err(req, rc);
	else
		reply_entry(req, n, &st);
}

static void arfs_ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	arfs_inode_forget(arfs_inode_get(ino), nlookup);
	fuse_reply_none(req);
}

static void arfs_ll_forget_multi(fuse_req_t req, size_t count,
				 struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		arfs_inode_forget(arfs_inode_get(forgets[i].ino),
				  forgets[i].nlookup);
	fuse_reply_none(req);
}

static void arfs_ll_getattr(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);
	struct stat st;
	int rc;

	maybe_reload();
	/*
	 * With a file (the kernel checks the size before a read past it):
	 * the size of the version that file reads, or the read is cut short.
	 */
	if (fi && n->kind == ARFS_NODE_BLOCK)
		rc = arfs_grp_stat_node(n, fi->fh, &st);
	else
		rc = node_stat(n, &st);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, grp_timeout(n));
}

/* ---- write buffers ---- */

static int buf_src(void *ctx, void *dst, size_t len, uint64_t off)
{
	ssize_t n = arfs_buf_read(ctx, dst, len, off);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

/* Fill a new buffer with the committed document. */
static int wbuf_load(void *ctx, struct arfs_buf *buf)
{
	struct arfs_node *n = ctx;
	struct arfs_docref ref;
	char *chunk;
	uint64_t off;
	ssize_t got;
	int rc;

	if (n->pending)
		return 0;
	rc = node_doc(n, &ref);
	if (rc)
		return rc;
	chunk = malloc(1u << 20);
	if (!chunk) {
		arfs_docref_release(&ref);
		return -ENOMEM;
	}
	for (off = 0; !rc && off < ref.len; off += (uint64_t)got) {
		got = arfs_docref_pread(&ref, chunk, 1u << 20, off);
		if (got <= 0)
			rc = got < 0 ? (int)got : -EUCLEAN;
		else
			rc = arfs_buf_write(buf, chunk, (size_t)got, off);
	}
	free(chunk);
	arfs_docref_release(&ref);
	return rc;
}

/*
 * Commit a dirty buffer as the document's new content. Runs with the
 * buffer's mutex held; takes node->lock only to read name and flags.
 */
static int wbuf_writeback(void *ctx, struct arfs_buf *buf)
{
	struct arfs_node *n = ctx;
	char name[NAME_MAX + 1];
	unsigned flags = 0;
	bool skip;
	int rc;

	pthread_mutex_lock(&n->lock);
	skip = n->pending || n->unlinked || !n->name;
	if (!skip)
		snprintf(name, sizeof(name), "%s", n->name);
	if (n->fsync_next)
		flags |= ARFS_PUT_FSYNC;
	pthread_mutex_unlock(&n->lock);
	if (skip)
		return 0; /* kept in the pinned buffer, or discarded */
	rc = arfs_docarray_put(n->arr->da, name, strlen(name), buf_src, buf,
			       arfs_buf_size(buf), NULL, flags, NULL);
	if (!rc) {
		pthread_mutex_lock(&n->lock);
		n->version++;
		pthread_mutex_unlock(&n->lock);
	}
	return rc;
}

/* The node's write buffer, pinned once for the node. Caller holds no lock. */
static int wbuf_get(struct arfs_node *n, bool load, struct arfs_buf **out)
{
	struct arfs_bufkey key = { n->arr->number, n->docno };
	struct arfs_buf *buf, *extra = NULL;
	int rc;

	pthread_mutex_lock(&n->lock);
	if (n->wbuf) {
		*out = n->wbuf;
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	pthread_mutex_unlock(&n->lock);
	rc = arfs_bufpool_pin(arfs_fs.pool, key, load ? wbuf_load : NULL,
			      wbuf_writeback, n, &buf);
	if (rc)
		return rc;
	pthread_mutex_lock(&n->lock);
	if (n->wbuf) {
		extra = buf; /* another thread pinned it first */
	} else {
		n->wbuf = buf;
		n->wkey = key;
	}
	*out = n->wbuf;
	pthread_mutex_unlock(&n->lock);
	if (extra)
		arfs_bufpool_unpin(arfs_fs.pool, extra);
	return 0;
}

/* Commit the node's buffer if dirty (fsync: also make it durable). */
static int wbuf_flush(struct arfs_node *n, bool fsync)
{
	struct arfs_buf *buf;
	int rc = 0;

	pthread_mutex_lock(&n->lock);
	buf = n->wbuf;
	n->fsync_next = fsync;
	pthread_mutex_unlock(&n->lock);
	if (buf && arfs_buf_dirty(buf))
		rc = arfs_bufpool_flush_buf(arfs_fs.pool, buf);
	else if (fsync && !n->pending)
		rc = arfs_docarray_sync(n->arr->da);
	pthread_mutex_lock(&n->lock);
	n->fsync_next = false;
	pthread_mutex_unlock(&n->lock);
	return rc;
}

/* Drop the node's buffer when no writer needs it (never while pending). */
static void wbuf_put(struct arfs_node *n)
{
	struct arfs_buf *buf = NULL;

	pthread_mutex_lock(&n->lock);
	if (n->wbuf && !n->writers && !n->pending) {
		buf = n->wbuf;
		n->wbuf = NULL;
	}
	pthread_mutex_unlock(&n->lock);
	if (buf) {
		struct arfs_bufkey key = n->wkey;
		arfs_bufpool_unpin(arfs_fs.pool, buf);
		arfs_bufpool_drop(arfs_fs.pool, key);
	}
}

/* ---- setattr ---- */

static int set_size(struct arfs_node *n, uint64_t size)
{
	struct arfs_buf *buf;
	int rc;

	arfs_inode_hold(n);
	rc = wbuf_get(n, size > 0, &buf);
	if (!rc)
		rc = arfs_buf_truncate(buf, size);
	if (!rc && !n->writers)
		rc = wbuf_flush(n, false);
	wbuf_put(n);
	arfs_inode_unhold(n);
	return rc;
}

static void now_attr(struct arfs_docattr *a)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	a->mtime_sec = ts.tv_sec;
	a->mtime_nsec = (uint32_t)ts.tv_nsec;
}

static unsigned attr_from_fuse(const struct stat *st, int to_set,
			       struct arfs_docattr *a)
{
	unsigned mask = 0;

	if (to_set & FUSE_SET_ATTR_MODE) {
		a->mode = st->st_mode & 07777;
		mask |= ARFS_ATTR_MODE;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		a->uid = st->st_uid;
		mask |= ARFS_ATTR_UID;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		a->gid = st->st_gid;
		mask |= ARFS_ATTR_GID;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		now_attr(a);
		mask |= ARFS_ATTR_MTIME;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		a->mtime_sec = st->st_mtim.tv_sec;
		a->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
		mask |= ARFS_ATTR_MTIME;
	}
	return mask;
}

static int set_attrs(struct arfs_node *n, const struct stat *st, int to_set)
{
	struct arfs_docattr a;
	char name[NAME_MAX + 1];
	unsigned mask;
	int rc;

	memset(&a, 0, sizeof(a));
	pthread_mutex_lock(&n->lock);
	if (n->pending) {
		a = n->pattr;
		attr_from_fuse(st, to_set, &a);
		n->pattr = a;
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	pthread_mutex_unlock(&n->lock);
	mask = attr_from_fuse(st, to_set, &a);
	if (!mask)
		return 0;
	/* A pending write would stamp its own mtime later: commit it first. */
	rc = wbuf_flush(n, false);
	if (!rc)
		rc = node_name(n, name, sizeof(name));
	if (!rc)
		rc = arfs_docarray_setattr(n->arr->da, name, strlen(name), &a, mask);
	return rc;
}

/*
 * Folders keep only a modification time (on the array's directory, so
 * rsync -a can restore it); their mode and owner are the mount's.
 */
static int set_dir_attrs(struct arfs_node *n, const struct stat *st,
			 int to_set)
{
	struct arfs_docattr a;
	struct timespec ts;
	int rc = 0;

	if (to_set & FUSE_SET_ATTR_SIZE)
		return -EISDIR;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		return -EPERM;
	if (attr_from_fuse(st, to_set & (FUSE_SET_ATTR_MTIME |
					 FUSE_SET_ATTR_MTIME_NOW), &a)) {
		ts.tv_sec = a.mtime_sec;
		ts.tv_nsec = a.mtime_nsec;
		rc = arfs_store_set_mtime(arfs_fs.store,
					  n->kind == ARFS_NODE_ARRAY ? n->arr : NULL,
					  ts);
	}
	return rc;
}

static void arfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			    int to_set, struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);
	struct stat st;
	int rc = 0;

	if (is_group_kind(n->kind)) {
		rc = arfs_fs.ro ? -EROFS : arfs_grp_setattr(n, attr, to_set);
	} else if (n->kind != ARFS_NODE_DOC) {
		rc = set_dir_attrs(n, attr, to_set);
	}
	if (!rc && n->kind == ARFS_NODE_DOC && (to_set & FUSE_SET_ATTR_SIZE))
		rc = set_size(n, (uint64_t)attr->st_size);
	if (!rc && n->kind == ARFS_NODE_DOC)
		rc = set_attrs(n, attr, to_set);
	if (!rc)
		rc = node_stat(n, &st);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, grp_timeout(n));
}

/* ---- open, read, write, flush, fsync, release ---- */

static void arfs_ll_open(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);
	uint64_t now;

	if (n->kind == ARFS_NODE_BLOCK) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			int rc = arfs_fs.ro ? -EROFS : arfs_grp_open(n, fi->flags);

			if (rc) {
				reply_err(req, rc);
				return;
			}
		}
		fi->keep_cache = arfs_fs.ro; /* read-only: blocks never change */
		fi->fh = arfs_grp_pin(n);
		arfs_inode_hold(n);
		if (fuse_reply_open(req, fi) == -ENOENT) {
			arfs_grp_unpin(fi->fh);
			arfs_inode_unhold(n);
		}
		return;
	}
	if (n->kind != ARFS_NODE_DOC) {
		reply_err(req, -EISDIR);
		return;
	}
	arfs_inode_hold(n);
	pthread_mutex_lock(&n->lock);
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		n->writers++;
	now = arfs_fs.ro ? arfs_docarray_generation(n->arr->da) : n->version;
	fi->keep_cache = n->seen == now && n->seen != 0;
	n->seen = now ? now : 1;
	if (!arfs_fs.ro && n->version == 0)
		n->version = n->seen = 1;
	pthread_mutex_unlock(&n->lock);
	if (fuse_reply_open(req, fi) == -ENOENT)
		arfs_inode_unhold(n);
}

int arfs_reply_buf_copy(fuse_req_t req, struct arfs_buf *buf, size_t size,
			off_t off)
{
	char *data = malloc(size ? size : 1);
	ssize_t n;

	if (!data)
		return -ENOMEM;
	n = arfs_buf_read(buf, data, size, (uint64_t)off);
	if (n >= 0)
		fuse_reply_buf(req, data, (size_t)n);
	free(data);
	return n < 0 ? (int)n : 0;
}

static void read_block(fuse_req_t req, struct arfs_node *n, uint64_t pin,
		       size_t size, off_t off)
{
	int rc = arfs_grp_read(req, n, pin, size, off);

	if (rc)
		reply_err(req, rc);
}

static void arfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	struct arfs_docref ref;
	struct arfs_buf *buf;
	int rc;

	if (n->kind == ARFS_NODE_BLOCK) {
		read_block(req, n, fi->fh, size, off);
		return;
	}
	buf = wbuf_pin_extra(n);
	if (buf) {
		rc = arfs_reply_buf_copy(req, buf, size, off);
		if (rc)
			reply_err(req, rc);
		arfs_bufpool_unpin(arfs_fs.pool, buf);
		return;
	}
	rc = node_doc(n, &ref);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	if ((uint64_t)off >= ref.len) {
		fuse_reply_buf(req, NULL, 0);
	} else {
		if (size > ref.len - (uint64_t)off)
			size = (size_t)(ref.len - (uint64_t)off);
		bv.buf[0].size = size;
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = arfs_docref_fd(&ref);
		bv.buf[0].pos = (off_t)ref.off + off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
	}
	arfs_docref_release(&ref);
}

static void arfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *data,
			  size_t size, off_t off, struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);
	struct arfs_buf *buf;
	int rc;

	if (is_group_kind(n->kind))
		rc = arfs_grp_write(n, data, size, off);
	else if (!(rc = wbuf_get(n, true, &buf)))
		rc = arfs_buf_write(buf, data, size, (uint64_t)off);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

static void arfs_ll_flush(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);

	reply_err(req, is_group_kind(n->kind) ? arfs_grp_flush(n) :
		  wbuf_flush(n, false));
}

static void arfs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);
	int rc = 0;

	if (is_group_kind(n->kind))
		rc = arfs_grp_fsync(n);
	else if (n->pending)
		rc = -ENAMETOOLONG; /* cannot be made durable under this name */
	else
		rc = wbuf_flush(n, true);
	reply_err(req, rc);
}

static void arfs_ll_release(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_inode_get(ino);
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY && is_group_kind(n->kind)) {
		rc = arfs_grp_release(n);
		if (rc)
			arfs_log(ARFS_LOG_ERR, "block write failed at close: %s",
				 strerror(-rc));
	} else if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		rc = wbuf_flush(n, false);
		if (rc)
			arfs_log(ARFS_LOG_ERR, "write-back of %s/%s failed at "
				 "close: %s", n->arr->name, n->name ? n->name : "?",
				 strerror(-rc));
		pthread_mutex_lock(&n->lock);
		n->writers--;
		pthread_mutex_unlock(&n->lock);
		wbuf_put(n);
	}
	if (n->kind == ARFS_NODE_BLOCK)
		arfs_grp_unpin(fi->fh);
	arfs_inode_unhold(n);
	reply_err(req, 0);
}

/* ---- create, unlink, rename ---- */

static void ctx_attr(fuse_req_t req, mode_t mode, struct arfs_docattr *a)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	memset(a, 0, sizeof(*a));
	now_attr(a);
	a->mode = mode & 07777 & ~ctx->umask;
	a->uid = ctx->uid;
	a->gid = ctx->gid;
}

/* A document whose name does not fit a header row: kept by the daemon. */
static int create_pending(struct arfs_store_array *arr, const char *name,
			  const struct arfs_docattr *a, struct arfs_node **out)
{
	struct arfs_node *n;
	struct arfs_buf *buf;
	int rc;

	n = arfs_inode_ref(ARFS_NODE_DOC, arr, arfs_inode_next_pending_docno(),
			   name);
	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&n->lock);
	n->pattr = *a;
	n->pattr.docno = n->docno;
	n->pending = true;
	pthread_mutex_unlock(&n->lock);
	rc = arfs_inode_set_pending(n, true);
	if (!rc)
		rc = wbuf_get(n, false, &buf);
	if (rc) {
		arfs_inode_set_pending(n, false);
		arfs_inode_forget(n, 1);
		return rc;
	}
	*out = n;
	return 0;
}

static int do_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct arfs_node **out, struct stat *st)
{
	struct arfs_store_array *arr = dir_array(arfs_inode_get(parent));
	struct arfs_docattr a;
	int rc;

	if (!arr && in_group(arfs_inode_get(parent)))
		return arfs_fs.ro ? -EROFS : S_ISREG(mode) ?
		       arfs_grp_create(arfs_inode_get(parent), name, out, st) :
		       -EPERM;
	if (!arr)
		return arfs_inode_get(parent)->kind == ARFS_NODE_ROOT ? -EPERM
								     : -ENOTDIR;
	if (!S_ISREG(mode))
		return -EPERM;
	if ((*out = arfs_inode_pending(arr, name))) {
		arfs_inode_forget(*out, 1);
		return -EEXIST;
	}
	ctx_attr(req, mode, &a);
	rc = arfs_docarray_put_mem(arr->da, name, strlen(name), "", 0, &a,
				   ARFS_PUT_EXCL);
	if (rc == -ENAMETOOLONG && strlen(name) <= NAME_MAX)
		rc = create_pending(arr, name, &a, out);
	else if (!rc)
		rc = lookup_doc(arr, name, out, st);
	if (!rc)
		rc = node_stat(*out, st);
	return rc;
}

static void arfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			   mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct arfs_node *n;
	int rc;

	rc = do_create(req, parent, name, mode, &n, &e.attr);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	arfs_inode_hold(n);
	pthread_mutex_lock(&n->lock);
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		n->writers++;
	n->seen = n->version = n->version + 1;
	pthread_mutex_unlock(&n->lock);
	e.ino = arfs_inode_id(n);
	e.generation = 0;
	e.attr_timeout = e.entry_timeout = grp_timeout(n);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		arfs_inode_unhold(n);
		arfs_inode_forget(n, 1);
	}
}

static void arfs_ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, dev_t rdev)
{
	struct stat st;
	struct arfs_node *n;
	int rc = do_create(req, parent, name, mode, &n, &st);

	if (rc)
		reply_err(req, rc);
	else
		reply_entry(req, n, &st);
}

/*
 * The node the daemon knows for arr/name, or NULL, about to lose its
 * document (a delete, or a replace by rename): its current bytes are kept
 * in node->gone first, so that files open on it read on whole (node_doc).
 * Then finish_unlink() once the change is made or failed.
 */
static struct arfs_node *node_to_unlink(struct arfs_store_array *arr,
					const char *name)
{
	struct arfs_docref ref, old = { 0 };
	struct arfs_node *n;

	if (arfs_docarray_lookup(arr->da, name, strlen(name), &ref))
		return NULL;
	n = arfs_inode_find(arr, ref.attr.docno);
	if (!n) {
		arfs_docref_release(&ref);
		return NULL;
	}
	pthread_mutex_lock(&n->lock);
	old = n->gone;
	n->gone = ref;
	pthread_mutex_unlock(&n->lock);
	arfs_docref_release(&old);
	return n;
}

/*
 * After the change: on success mark the node unlinked, so that an open
 * writer's later flush does not bring it back; on failure its document
 * stays where it was, and the kept bytes are dropped.
 */
static void finish_unlink(struct arfs_node *n, int rc)
{
	struct arfs_docref old = { 0 };

	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	if (rc) {
		old = n->gone;
		n->gone.body = NULL;
	} else {
		n->unlinked = true;
	}
	pthread_mutex_unlock(&n->lock);
	arfs_docref_release(&old);
}

static int unlink_pending(struct arfs_node *p)
{
	pthread_mutex_lock(&p->lock);
	p->unlinked = true;
	pthread_mutex_unlock(&p->lock);
	arfs_inode_set_pending(p, false);
	wbuf_put(p);
	arfs_inode_forget(p, 1); /* the lookup arfs_inode_pending() added */
	return 0;
}

static void arfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct arfs_node *dir = arfs_inode_get(parent), *p, *n;
	struct arfs_store_array *arr = dir_array(dir);
	int rc;

	if (!arr && in_group(dir) && !arfs_fs.ro) {
		reply_err(req, arfs_grp_unlink(dir, name));
		return;
	}
	if (!arr) {
		reply_err(req, in_group(dir) ? -EROFS :
			  dir->kind == ARFS_NODE_ROOT ? -EISDIR : -ENOTDIR);
		return;
	}
	p = arfs_inode_pending(arr, name);
	if (p) {
		reply_err(req, unlink_pending(p));
		return;
	}
	n = node_to_unlink(arr, name);
	rc = arfs_docarray_delete(arr->da, name, strlen(name));
	finish_unlink(n, rc);
	reply_err(req, rc);
}

/* Commit a pending document under a name that fits. */
static int commit_pending(struct arfs_node *p, const char *newname)
{
	struct arfs_docattr a, out;
	struct arfs_buf *buf = wbuf_pin_extra(p);
	struct arfs_node *target;
	int rc;

	if (!buf)
		return -EIO;
	pthread_mutex_lock(&p->lock);
	a = p->pattr;
	pthread_mutex_unlock(&p->lock);
	target = node_to_unlink(p->arr, newname);
	rc = arfs_docarray_put(p->arr->da, newname, strlen(newname), buf_src,
			       buf, arfs_buf_size(buf), &a, 0, &out);
	arfs_bufpool_unpin(arfs_fs.pool, buf);
	finish_unlink(target, rc);
	if (rc)
		return rc;
	pthread_mutex_lock(&p->lock);
	free(p->name);
	p->name = strdup(newname);
	p->version++;
	pthread_mutex_unlock(&p->lock);
	/* Clean now; the buffer is dropped with the last writer. */
	arfs_inode_rekey(p, out.docno);
	arfs_inode_set_pending(p, false);
	wbuf_put(p);
	return 0;
}

static int rename_pending(struct arfs_node *p, const char *newname,
			  unsigned flags)
{
	struct arfs_store_array *arr = p->arr;
	struct arfs_docref ref;
	struct arfs_node *q;
	char *copy;
	int rc;

	if (flags & RENAME_NOREPLACE) {
		q = arfs_inode_pending(arr, newname);
		if (q)
			arfs_inode_forget(q, 1);
		if (q || !arfs_docarray_lookup(arr->da, newname,
					       strlen(newname), &ref)) {
			if (!q)
				arfs_docref_release(&ref);
			return -EEXIST;
		}
	}
	q = arfs_inode_pending(arr, newname);
	if (q && q != p)
		unlink_pending(q);
	else if (q)
		arfs_inode_forget(q, 1);
	rc = commit_pending(p, newname);
	if (rc != -ENAMETOOLONG)
		return rc;
	/* Still too long: only the daemon's name changes. */
	copy = strdup(newname);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	free(p->name);
	p->name = copy;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void arfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			   fuse_ino_t newparent, const char *newname,
			   unsigned int flags)
{
	struct arfs_store_array *arr = dir_array(arfs_inode_get(parent));
	struct arfs_store_array *to = dir_array(arfs_inode_get(newparent));
	struct arfs_docref ref;
	struct arfs_node *p, *n, *target;
	int rc;

	if (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) {
		reply_err(req, -EINVAL); /* no exchange, no whiteouts */
		return;
	}
	if (!arfs_fs.ro && !flags && in_group(arfs_inode_get(parent)) &&
	    in_group(arfs_inode_get(newparent))) {
		reply_err(req, arfs_grp_rename(arfs_inode_get(parent), name,
					       arfs_inode_get(newparent),
					       newname));
		return;
	}
	if (in_group(arfs_inode_get(parent)) || in_group(arfs_inode_get(newparent)) ||
	    (arfs_inode_get(parent)->kind == ARFS_NODE_ROOT &&
	     arfs_store_find_group(arfs_fs.store, name)) ||
	    (arfs_inode_get(newparent)->kind == ARFS_NODE_ROOT &&
	     arfs_store_find_group(arfs_fs.store, newname))) {
		reply_err(req, -EROFS);
		return;
	}
	if (!arr || !to || arr != to) {
		reply_err(req, -EXDEV); /* mv falls back to copy and remove */
		return;
	}
	if (!strcmp(name, newname)) {
		reply_err(req, 0);
		return;
	}
	p = arfs_inode_pending(arr, name);
	if (p) {
		rc = rename_pending(p, newname, flags);
		arfs_inode_forget(p, 1);
		reply_err(req, rc);
		return;
	}
	rc = arfs_docarray_lookup(arr->da, name, strlen(name), &ref);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	n = arfs_inode_find(arr, ref.attr.docno);
	arfs_docref_release(&ref);
	if (n && (rc = wbuf_flush(n, false))) {
		reply_err(req, rc);
		return;
	}
	p = arfs_inode_pending(arr, newname);
	if (p && (flags & RENAME_NOREPLACE)) {
		arfs_inode_forget(p, 1);
		reply_err(req, -EEXIST);
		return;
	}
	if (p)
		unlink_pending(p);
	target = node_to_unlink(arr, newname);
	rc = arfs_docarray_rename(arr->da, name, strlen(name), newname,
				  strlen(newname),
				  flags & RENAME_NOREPLACE ? ARFS_PUT_EXCL : 0);
	finish_unlink(target, rc);
	if (!rc && n) {
		char *copy = strdup(newname);
		pthread_mutex_lock(&n->lock);
		if (copy) {
			free(n->name);
			n->name = copy;
		}
		pthread_mutex_unlock(&n->lock);
	}
	reply_err(req, rc);
}

static void arfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			 const char *newname)
{
	/* A document has exactly one name; groups are read-only. */
	reply_err(req, in_group(arfs_inode_get(newparent)) ? -EROFS : -EPERM);
}

static void arfs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			    const char *name)
{
	reply_err(req, in_group(arfs_inode_get(parent)) ? -EROFS : -EPERM);
}

/* ---- folders ---- */

static void arfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode)
{
	struct arfs_node *dir = arfs_inode_get(parent), *n;
	struct arfs_store_array *arr;
	struct stat st;
	int rc;

	if (in_group(dir)) {
		reply_err(req, arfs_fs.ro ? -EROFS : -EPERM); /* no new columns */
		return;
	}
	if (dir->kind != ARFS_NODE_ROOT || arfs_store_is_single(arfs_fs.store)) {
		reply_err(req, -EPERM); /* arrays hold documents only */
		return;
	}
	rc = arfs_store_mkarray(arfs_fs.store, name, &arr);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	n = arfs_inode_ref(ARFS_NODE_ARRAY, arr, 0, NULL);
	if (!n) {
		reply_err(req, -ENOMEM);
		return;
	}
	fill_dir_stat(&st, n);
	reply_entry(req, n, &st);
}

static void arfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct arfs_node *dir = arfs_inode_get(parent);

	if (in_group(dir) || (dir->kind == ARFS_NODE_ROOT &&
			      arfs_store_find_group(arfs_fs.store, name))) {
		reply_err(req, -EROFS);
		return;
	}
	if (dir->kind != ARFS_NODE_ROOT || arfs_store_is_single(arfs_fs.store)) {
		reply_err(req, -ENOTDIR);
		return;
	}
	reply_err(req, arfs_store_rmarray(arfs_fs.store, name));
}

/*
 * Directory listings are snapshots taken at opendir: readdir offsets are
 * indexes into the snapshot, so a listing resumes exactly where it stopped
 * whatever commits happen meanwhile.
 */
struct dirent_snap {
	size_t name_off;
	enum arfs_node_kind kind;
	struct arfs_store_array *arr;
	struct arfs_store_group *grp;
	struct arfs_docattr attr; /* DOC; attr.docno holds the key of others */
};

struct dir_snap {
	struct dirent_snap *v;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
};

static int snap_add(struct dir_snap *d, const char *name,
		    enum arfs_node_kind kind, struct arfs_store_array *arr,
		    const struct arfs_docattr *a)
{
	size_t len = strlen(name) + 1;
	void *p;

	if (d->n == d->cap) {
		p = realloc(d->v, (d->cap * 2 + 64) * sizeof(*d->v));
		if (!p)
			return -ENOMEM;
		d->v = p;
		d->cap = d->cap * 2 + 64;
	}
	if (d->names_len + len > d->names_cap) {
		size_t cap = (d->names_cap + len) * 2;
		p = realloc(d->names, cap);
		if (!p)
			return -ENOMEM;
		d->names = p;
		d->names_cap = cap;
	}
	memcpy(d->names + d->names_len, name, len);
	d->v[d->n].name_off = d->names_len;
	d->v[d->n].kind = kind;
	d->v[d->n].arr = arr;
	if (a)
		d->v[d->n].attr = *a;
	d->names_len += len;
	d->n++;
	return 0;
}

struct pending_ctx {
	struct dir_snap *d;
	int rc;
};

static void snap_pending(void *ctx, struct arfs_node *n)
{
	struct pending_ctx *pc = ctx;

	pthread_mutex_lock(&n->lock);
	if (!pc->rc && n->name)
		pc->rc = snap_add(pc->d, n->name, ARFS_NODE_DOC, n->arr, &n->pattr);
	pthread_mutex_unlock(&n->lock);
}

static int snap_array(struct dir_snap *d, struct arfs_store_array *arr)
{
	struct pending_ctx pc = { d, 0 };
	struct arfs_docattr a;
	char name[NAME_MAX + 1];
	uint64_t cursor = 0;
	int rc = 0;

	while (!rc && !arfs_docarray_next(arr->da, &cursor, name, sizeof(name), &a))
		rc = snap_add(d, name, ARFS_NODE_DOC, arr, &a);
	if (!rc)
		arfs_inode_pending_each(arr, snap_pending, &pc);
	return rc ? rc : pc.rc;
}

struct grp_ctx {
	struct dir_snap *d;
	struct arfs_store_group *grp;
};

static int snap_grp(void *ctx, const char *name, enum arfs_node_kind kind,
		    uint64_t key)
{
	struct grp_ctx *gc = ctx;
	struct arfs_docattr a = { .docno = key };
	int rc = snap_add(gc->d, name, kind, NULL, &a);

	if (!rc)
		gc->d->v[gc->d->n - 1].grp = gc->grp;
	return rc;
}

static void snap_free(struct dir_snap *d)
{
	if (!d)
		return;
	free(d->v);
	free(d->names);
	free(d);
}

static void arfs_ll_opendir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct arfs_node *dir = arfs_inode_get(ino);
	struct arfs_store_array *arr = dir_array(dir), *a;
	struct arfs_store_group *g;
	struct dir_snap *d = calloc(1, sizeof(*d));
	struct grp_ctx gc = { d, NULL };
	int rc = d ? 0 : -ENOMEM;

	maybe_reload();
	if (!rc)
		rc = snap_add(d, ".", ARFS_NODE_ROOT, NULL, NULL);
	if (!rc)
		rc = snap_add(d, "..", ARFS_NODE_ROOT, NULL, NULL);
	if (!rc && arr)
		rc = snap_array(d, arr);
	if (!rc && in_group(dir)) {
		gc.grp = dir->kind == ARFS_NODE_ROOT ? arfs_grp_root() : dir->grp;
		rc = arfs_grp_list(dir, snap_grp, &gc);
	} else if (!rc && !arr) {
		for (size_t i = 0; !rc && (a = arfs_store_array_at(arfs_fs.store, i)); i++)
			rc = snap_add(d, a->name, ARFS_NODE_ARRAY, a, NULL);
		gc.grp = NULL;
		for (size_t i = 0; !rc && (g = arfs_store_group_at(arfs_fs.store, i)); i++) {
			gc.grp = g;
			rc = snap_grp(&gc, g->name, ARFS_NODE_GROUP, 0);
		}
	}
	if (rc) {
		snap_free(d);
		reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		snap_free(d);
}

/* 0, or -errno for an entry that cannot be stat'ed (a damaged block). */
static int entry_stat(struct dirent_snap *e, struct stat *st,
		      struct arfs_node *dir)
{
	struct arfs_node tmp;
	int rc;

	if (is_group_kind(e->kind)) {
		rc = arfs_grp_stat(e->kind, e->grp, e->attr.docno, st);
		if (rc) {
			/* Listed (d_ino, type); lookup and open report the error. */
			memset(st, 0, sizeof(*st));
			st->st_ino = (uint64_t)e->grp->number << ARFS_INO_SHIFT |
				     e->attr.docno;
			st->st_mode = S_IFREG | 0444;
		}
		return rc;
	}
	if (e->kind == ARFS_NODE_DOC) {
		fill_doc_stat(st, e->arr, &e->attr, e->attr.docno);
		return 0;
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.kind = e->kind;
	tmp.arr = e->arr;
	fill_dir_stat(st, e->kind == ARFS_NODE_ROOT ? dir : &tmp);
	return 0;
}

/*
 * The listing is a snapshot from opendir, but an entry that readdirplus
 * returns becomes a dentry the kernel trusts for entry_timeout: a document
 * renamed away, deleted or replaced since the snapshot would come back as
 * a stale dentry (opens of that name then fail with ENOENT). The kernel
 * holds the directory lock around READDIRPLUS, so a lookup here is
 * current: refresh e from it, or return false for a name no longer there
 * (no entry is cached then; a later lookup decides).
 */
static bool doc_current(struct dirent_snap *e, const char *name)
{
	struct arfs_docref ref;

	if (e->attr.docno >= ARFS_PENDING_DOCNO_BASE)
		return false; /* pending: looked up on use */
	if (arfs_docarray_lookup(e->arr->da, name, strlen(name), &ref))
		return false;
	e->attr = ref.attr;
	arfs_docref_release(&ref);
	return true;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct dir_snap *d = (struct dir_snap *)(uintptr_t)fi->fh;
	struct arfs_node *dir = arfs_inode_get(ino), *n;
	char *buf = malloc(size), *name;
	size_t used = 0, ent;
	struct fuse_entry_param e;
	bool bad;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < d->n; i++) {
		name = d->names + d->v[i].name_off;
		memset(&e, 0, sizeof(e));
		/* gone since opendir: listed, nothing for the kernel to cache */
		bad = plus && d->v[i].kind == ARFS_NODE_DOC &&
		      !doc_current(&d->v[i], name);
		if (entry_stat(&d->v[i], &e.attr, dir))
			bad = true;
		if (!plus) {
			ent = fuse_add_direntry(req, buf + used, size - used, name,
						&e.attr, (off_t)i + 1);
			if (ent > size - used)
				break;
			used += ent;
			continue;
		}
		n = NULL;
		if (bad) {
			/* No entry for the kernel to cache: a lookup reports. */
		} else if (is_group_kind(d->v[i].kind)) {
			n = arfs_inode_ref_grp(d->v[i].kind, d->v[i].grp,
					       d->v[i].attr.docno);
			if (!n)
				break;
			e.ino = arfs_inode_id(n);
			e.attr_timeout = e.entry_timeout = grp_timeout(n);
		} else if (d->v[i].kind != ARFS_NODE_ROOT) {
			n = arfs_inode_ref(d->v[i].kind, d->v[i].arr,
					   d->v[i].kind == ARFS_NODE_DOC ?
					   d->v[i].attr.docno : 0,
					   d->v[i].kind == ARFS_NODE_DOC ? name : NULL);
			if (!n)
				break;
			/*
			 * The listing's attributes are those of opendir time: a
			 * document rewritten in place since (same row, new size)
			 * or being written (its size in its write buffer) must
			 * get what lookup would answer, or the kernel keeps a
			 * stale size for the attribute timeout and reads stop
			 * short. No live attributes: no entry, lookup reports.
			 */
			if (d->v[i].kind == ARFS_NODE_DOC && node_stat(n, &e.attr)) {
				arfs_inode_forget(n, 1);
				n = NULL;
				memset(&e, 0, sizeof(e));
				entry_stat(&d->v[i], &e.attr, dir);
			} else {
				e.ino = arfs_inode_id(n);
				e.attr_timeout = e.entry_timeout =
					arfs_fs.timeout;
			}
		}
		ent = fuse_add_direntry_plus(req, buf + used, size - used, name,
					     &e, (off_t)i + 1);
		if (ent > size - used) {
			if (n)
				arfs_inode_forget(n, 1);
			break;
		}
		used += ent;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void arfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void arfs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
				off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void arfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_file_info *fi)
{
	snap_free((struct dir_snap *)(uintptr_t)fi->fh);
	reply_err(req, 0);
}

/* ---- the rest ---- */

static void arfs_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (statvfs(arfs_store_path(arfs_fs.store), &sv))
		reply_err(req, -errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void arfs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			     const char *value, size_t size, int flags)
{
	reply_err(req, is_group_kind(arfs_inode_get(ino)->kind) ? -EROFS
							       : -EOPNOTSUPP);
}

/*
 * Only segment groups have extended attributes. In a store without groups
 * the answer to every getxattr/listxattr is "not supported": ENOSYS tells
 * the kernel once, and it then answers EOPNOTSUPP to callers itself,
 * sparing ls -l two round trips per file (security.selinux, POSIX ACL).
 * Callers never see ENOSYS.
 */
static bool store_has_xattrs(void)
{
	return arfs_store_group_at(arfs_fs.store, 0) != NULL;
}

#define STATS_XATTR "user.arrayfs.stats"

/*
 * The mount root's user.arrayfs.stats: the block manager's counters as
 * "name=value" words, for tests and curious users (arrayfs(1)).
 */
static int stats_xattr(char *buf, size_t cap, size_t *len)
{
	struct arfs_blockmgr_stats s;
	char val[256];

	arfs_blockmgr_get_stats(arfs_fs.mgr, &s);
	snprintf(val, sizeof(val), "decodes=%" PRIu64 " sizes_recorded=%"
		 PRIu64 " fd_opens=%" PRIu64 " fd_closes=%" PRIu64
		 " open_fds=%u segments=%u", s.decodes, s.sizes_recorded,
		 s.fd_opens, s.fd_closes, s.open_fds, s.segments);
	*len = strlen(val);
	if (cap && *len > cap)
		return -ERANGE;
	if (cap)
		memcpy(buf, val, *len);
	return 0;
}

static void arfs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			     size_t size)
{
	struct arfs_node *n;
	char buf[256];
	size_t len = 0;
	int rc;

	if (!store_has_xattrs()) {
		reply_err(req, -ENOSYS);
		return;
	}
	n = arfs_inode_get(ino);
	if (n->kind == ARFS_NODE_ROOT && !strcmp(name, STATS_XATTR))
		rc = stats_xattr(buf, size < sizeof(buf) ? size : sizeof(buf),
				 &len);
	else
		rc = arfs_grp_getxattr(n, name, buf, size < sizeof(buf) ?
				       size : sizeof(buf), &len);

	if (rc)
		reply_err(req, rc);
	else if (size)
		fuse_reply_buf(req, buf, len);
	else
		fuse_reply_xattr(req, len);
}

static void arfs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char buf[256];
	size_t len = 0;
	int rc;

	if (!store_has_xattrs()) {
		reply_err(req, -ENOSYS);
		return;
	}
	if (arfs_inode_get(ino)->kind == ARFS_NODE_ROOT) {
		len = sizeof(STATS_XATTR);
		rc = size && size < len ? -ERANGE : 0;
		if (!rc && size)
			memcpy(buf, STATS_XATTR, len);
	} else {
		rc = arfs_grp_listxattr(arfs_inode_get(ino), buf,
					size < sizeof(buf) ? size : sizeof(buf),
					&len);
	}

	if (rc)
		reply_err(req, rc);
	else if (size)
		fuse_reply_buf(req, buf, len);
	else
		fuse_reply_xattr(req, len);
}

static void arfs_ll_removexattr(fuse_req_t req, fuse_ino_t ino,
				const char *name)
{
	reply_err(req, is_group_kind(arfs_inode_get(ino)->kind) ? -EROFS
							       : -EOPNOTSUPP);
}

static void arfs_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(unsigned)FUSE_CAP_ATOMIC_O_TRUNC;
	/*
	 * With POSIX ACLs on, the kernel caches "no ACL" per inode instead of
	 * asking for system.posix_acl_access on every ls -l. It then leaves
	 * the umask to us (ctx_attr()).
	 */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
}

const struct fuse_lowlevel_ops arfs_ll_ops = {
	.init = arfs_ll_init,
	.lookup = arfs_ll_lookup,
	.forget = arfs_ll_forget,
	.forget_multi = arfs_ll_forget_multi,
	.getattr = arfs_ll_getattr,
	.setattr = arfs_ll_setattr,
	.mknod = arfs_ll_mknod,
	.mkdir = arfs_ll_mkdir,
	.unlink = arfs_ll_unlink,
	.rmdir = arfs_ll_rmdir,
	.symlink = arfs_ll_symlink,
	.rename = arfs_ll_rename,
	.link = arfs_ll_link,
	.open = arfs_ll_open,
	.read = arfs_ll_read,
	.write = arfs_ll_write,
	.flush = arfs_ll_flush,
	.release = arfs_ll_release,
	.fsync = arfs_ll_fsync,
	.opendir = arfs_ll_opendir,
	.readdir = arfs_ll_readdir,
	.readdirplus = arfs_ll_readdirplus,
	.releasedir = arfs_ll_releasedir,
	.statfs = arfs_ll_statfs,
	.setxattr = arfs_ll_setxattr,
	.getxattr = arfs_ll_getxattr,
	.listxattr = arfs_ll_listxattr,
	.removexattr = arfs_ll_removexattr,
	.create = arfs_ll_create,
};
