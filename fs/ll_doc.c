/*
 * ll_doc.c - document nodes: their attributes, write buffers, and the
 * document half of open, read, write, create, unlink and rename.
 *
 * Data paths:
 *  - read of a clean document: looked up by name in the array and answered
 *    straight from body.bin (fuse_reply_data with the file descriptor, so
 *    libfuse can splice); no copy in the daemon.
 *  - writes go to the document's buffer in the buffer pool (node->wbuf,
 *    pinned while a writer has it open; spilled to a staging file past a
 *    threshold). The committed document is the buffer's base, read on
 *    demand, so an append costs what it writes; the commit passes the
 *    unchanged prefix as a hint, and the array extends the document in
 *    place when it can. flush/fsync/release commit it (arfs_docarray_put through
 *    the buffer's writeback callback), so write errors surface at flush or
 *    fsync, the calls whose errors close() and fsync() return.
 *  - a read of a document that has a write buffer reads the buffer, so a
 *    process sees its own unflushed writes.
 */
#include "ll.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void arfs_fill_doc_stat(struct stat *st, struct arfs_store_array *arr,
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
	st->st_atim.tv_sec = a->atime_sec;
	st->st_atim.tv_nsec = a->atime_nsec;
	st->st_ctim.tv_sec = a->ctime_sec;
	st->st_ctim.tv_nsec = a->ctime_nsec;
}

/*
 * A document that was never stored (pending, or unlinked while pending):
 * its attributes are n->pattr and its bytes only in n->wbuf. Caller holds
 * n->lock.
 */
static bool never_stored(const struct arfs_node *n)
{
	return n->pending || (n->unlinked && !n->gone.body && n->orphan);
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

/* Size from the node's write buffer, if it has one; *dirty (may be NULL)
 * says whether it holds changes not committed yet. */
static void wbuf_size(struct arfs_node *n, uint64_t *size, bool *dirty)
{
	struct arfs_buf *buf = wbuf_pin_extra(n);

	if (buf) {
		*size = arfs_buf_size(buf);
		if (dirty)
			*dirty = arfs_buf_dirty(buf);
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
static int doc_attr(struct arfs_node *n, struct arfs_docattr *a,
		    bool *unlinked)
{
	struct arfs_docref ref;
	struct timespec wtime;
	uint64_t size = UINT64_MAX;
	bool own, dirty = false;
	int rc;

	wbuf_size(n, &size, &dirty);
	pthread_mutex_lock(&n->lock);
	own = never_stored(n);
	if (own)
		*a = n->pattr;
	wtime = n->wtime;
	*unlinked = n->unlinked;
	pthread_mutex_unlock(&n->lock);
	if (!own) {
		rc = node_doc(n, &ref);
		if (rc)
			return rc;
		*a = ref.attr;
		arfs_docref_release(&ref);
	}
	/* Writes not committed yet: the time of the last one (the commit
	 * records it, ARFS_PUT_MTIME). */
	if (!own && dirty && wtime.tv_sec) {
		a->mtime_sec = a->ctime_sec = wtime.tv_sec;
		a->mtime_nsec = a->ctime_nsec = (uint32_t)wtime.tv_nsec;
	}
	if (size != UINT64_MAX)
		a->size = size;
	return 0;
}

/*
 * The document's bytes changed now (a write, a truncate): its mtime and
 * ctime, shown at once and recorded by the commit.
 */
static void mark_changed(struct arfs_node *n)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&n->lock);
	if (never_stored(n)) {
		n->pattr.mtime_sec = n->pattr.ctime_sec = ts.tv_sec;
		n->pattr.mtime_nsec = n->pattr.ctime_nsec = (uint32_t)ts.tv_nsec;
	} else {
		n->wtime = ts;
	}
	pthread_mutex_unlock(&n->lock);
}

int arfs_doc_lookup(struct arfs_store_array *arr, const char *name,
		      struct arfs_node **out, struct stat *st)
{
	struct arfs_docref ref;
	struct arfs_node *n;
	int rc;

	n = arfs_inode_pending(arr, name);
	if (n) {
		rc = arfs_node_stat(n, st);
		if (rc)
			arfs_inode_forget(n, 1);
		*out = n;
		return rc;
	}
	rc = arfs_docarray_lookup(arr->da, name, strlen(name), &ref);
	if (rc)
		return rc;
	n = arfs_inode_ref(ARFS_NODE_DOC, arr, ref.attr.docno, name);
	arfs_docref_release(&ref);
	if (!n)
		return -ENOMEM;
	/*
	 * The lookup above only finds the node. Its attributes come from
	 * doc_attr (buffer first, then the array): the row read above may
	 * predate a commit that dropped the buffer since, and its size then
	 * stays in the kernel for the attribute timeout and cuts reads short.
	 */
	rc = arfs_doc_stat(n, st);
	if (rc) {
		arfs_inode_forget(n, 1);
		return rc;
	}
	*out = n;
	return 0;
}

/* ---- write buffers ---- */

static int buf_src(void *ctx, void *dst, size_t len, uint64_t off)
{
	ssize_t n = arfs_buf_read(ctx, dst, len, off);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

static int ref_base_read(void *ctx, void *dst, size_t len, uint64_t off)
{
	ssize_t got = arfs_docref_pread(ctx, dst, len, off);

	if (got < 0)
		return (int)got;
	return (size_t)got == len ? 0 : -EUCLEAN;
}

static void ref_base_free(void *ctx)
{
	arfs_docref_release(ctx);
	free(ctx);
}

/*
 * Fill a new buffer with the committed document: as its base, read from
 * the pinned document only where needed, so an append (or a write past
 * the end) costs what it writes, not the size of the document.
 */
static int wbuf_load(void *ctx, struct arfs_buf *buf)
{
	struct arfs_node *n = ctx;
	struct arfs_docref *ref;
	int rc;

	if (n->pending)
		return 0;
	ref = malloc(sizeof(*ref));
	if (!ref)
		return -ENOMEM;
	rc = node_doc(n, ref);
	if (rc) {
		free(ref);
		return rc;
	}
	if (ref->len == 0) {
		ref_base_free(ref);
		return 0;
	}
	rc = arfs_buf_set_base(buf, ref->len, ref_base_read, ref_base_free, ref);
	if (rc)
		ref_base_free(ref);
	return rc;
}

/*
 * Commit a dirty buffer as the document's new content. Runs with the
 * buffer's mutex held; takes node->lock only to read name and flags.
 */
static int wbuf_writeback(void *ctx, struct arfs_buf *buf)
{
	struct arfs_node *n = ctx;
	struct arfs_docattr a = { 0 };
	struct timespec wtime;
	struct arfs_put_keep keep;
	char name[NAME_MAX + 1];
	/* Compacting here would hold the buffer's readers: wbuf_flush does. */
	unsigned flags = ARFS_PUT_NO_AUTOCOMPACT;
	bool skip;
	int rc;

	pthread_mutex_lock(&n->lock);
	skip = n->pending || n->unlinked || !n->name;
	if (!skip)
		snprintf(name, sizeof(name), "%s", n->name);
	if (n->fsync_next)
		flags |= ARFS_PUT_FSYNC;
	wtime = n->wtime;
	pthread_mutex_unlock(&n->lock);
	if (skip)
		return 0; /* kept in the pinned buffer, or discarded */
	if (wtime.tv_sec) {
		a.mtime_sec = wtime.tv_sec;
		a.mtime_nsec = (uint32_t)wtime.tv_nsec;
		flags |= ARFS_PUT_MTIME;
	}
	/* The unchanged prefix lets an append extend the document in place. */
	keep.docno = n->docno;
	keep.keep = arfs_buf_unchanged(buf);
	rc = arfs_docarray_put_keep(n->arr->da, name, strlen(name), buf_src,
				    buf, arfs_buf_size(buf),
				    wtime.tv_sec ? &a : NULL, flags, &keep,
				    NULL);
	if (!rc) {
		pthread_mutex_lock(&n->lock);
		n->version++;
		if (n->wtime.tv_sec == wtime.tv_sec &&
		    n->wtime.tv_nsec == wtime.tv_nsec)
			n->wtime.tv_sec = n->wtime.tv_nsec = 0;
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
	if (buf && arfs_buf_dirty(buf)) {
		rc = arfs_bufpool_flush_buf(arfs_fs.pool, buf);
		/* Outside the buffer's mutex: its readers go on meanwhile. */
		if (!rc && arfs_docarray_compact_due(n->arr->da)) {
			arfs_loop_blocking();
			arfs_docarray_autocompact(n->arr->da);
		}
	} else if (fsync && !n->pending)
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
	if (n->wbuf && !n->writers && !n->pending &&
	    !(n->orphan && n->opens)) {
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
	/* ftruncate and open(O_TRUNC) come without a time: ours to set */
	if (!rc)
		mark_changed(n);
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
	a->mtime_sec = a->atime_sec = a->ctime_sec = ts.tv_sec;
	a->mtime_nsec = a->atime_nsec = a->ctime_nsec = (uint32_t)ts.tv_nsec;
}

unsigned arfs_attr_from_fuse(const struct stat *st, int to_set,
			       struct arfs_docattr *a)
{
	struct arfs_docattr now;
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
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		now_attr(&now);
		a->atime_sec = now.atime_sec;
		a->atime_nsec = now.atime_nsec;
		mask |= ARFS_ATTR_ATIME;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		a->atime_sec = st->st_atim.tv_sec;
		a->atime_nsec = (uint32_t)st->st_atim.tv_nsec;
		mask |= ARFS_ATTR_ATIME;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		now_attr(&now);
		a->mtime_sec = now.mtime_sec;
		a->mtime_nsec = now.mtime_nsec;
		mask |= ARFS_ATTR_MTIME;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		a->mtime_sec = st->st_mtim.tv_sec;
		a->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
		mask |= ARFS_ATTR_MTIME;
	}
	if (mask) {
		/* every change of status; arfs_docarray_setattr() does the
		 * same for stored documents */
		now_attr(&now);
		a->ctime_sec = now.ctime_sec;
		a->ctime_nsec = now.ctime_nsec;
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
	if (never_stored(n)) {
		a = n->pattr;
		arfs_attr_from_fuse(st, to_set, &a);
		n->pattr = a;
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	pthread_mutex_unlock(&n->lock);
	mask = arfs_attr_from_fuse(st, to_set, &a);
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

int arfs_doc_stat(struct arfs_node *n, struct stat *st)
{
	struct arfs_docattr a;
	bool unlinked;
	int rc = doc_attr(n, &a, &unlinked);

	if (!rc)
		arfs_fill_doc_stat(st, n->arr, &a, n->docno);
	if (!rc && unlinked)
		st->st_nlink = 0; /* open, but no longer in any folder */
	return rc;
}

int arfs_doc_setattr(struct arfs_node *n, const struct stat *attr, int to_set)
{
	int rc = 0;

	if (to_set & FUSE_SET_ATTR_SIZE)
		rc = set_size(n, (uint64_t)attr->st_size);
	if (!rc)
		rc = set_attrs(n, attr, to_set);
	return rc;
}

/* ---- open, read, write, flush, fsync, release ---- */

void arfs_doc_open(fuse_req_t req, struct arfs_node *n,
		   struct fuse_file_info *fi)
{
	uint64_t now;

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

void arfs_doc_read(fuse_req_t req, struct arfs_node *n, size_t size,
		   off_t off)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	struct arfs_docref ref;
	struct arfs_buf *buf;
	int rc;

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

int arfs_doc_write(struct arfs_node *n, const char *data, size_t size,
		   off_t off)
{
	struct arfs_buf *buf;
	int rc = wbuf_get(n, true, &buf);

	if (!rc)
		rc = arfs_buf_write(buf, data, size, (uint64_t)off);
	if (!rc)
		mark_changed(n);
	return rc;
}

int arfs_doc_flush(struct arfs_node *n)
{
	return wbuf_flush(n, false);
}

int arfs_doc_fsync(struct arfs_node *n)
{
	if (n->pending)
		return -ENAMETOOLONG; /* cannot be made durable under this name */
	return wbuf_flush(n, true);
}

void arfs_doc_release(struct arfs_node *n)
{
	int rc = wbuf_flush(n, false);

	if (rc)
		arfs_log(ARFS_LOG_ERR, "write-back of %s/%s failed at close: %s",
			 n->arr->name, n->name ? n->name : "?", strerror(-rc));
	pthread_mutex_lock(&n->lock);
	n->writers--;
	pthread_mutex_unlock(&n->lock);
	wbuf_put(n);
}

void arfs_doc_close(struct arfs_node *n)
{
	bool last;

	pthread_mutex_lock(&n->lock);
	last = n->orphan && n->opens <= 1; /* the last open file */
	if (last)
		n->orphan = false;
	pthread_mutex_unlock(&n->lock);
	if (last)
		wbuf_put(n);
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

/*
 * A document was created, removed or renamed in arr: the folder's mtime
 * and ctime move, as a directory's do. A failure (the array directory
 * not ours to touch) changes nothing else and is only logged.
 */
static void folder_changed(struct arfs_store_array *arr)
{
	int rc = arfs_store_touch(arfs_fs.store, arr);

	if (rc)
		arfs_log(ARFS_LOG_DEBUG, "%s: folder times not updated: %s",
			 arr->name, strerror(-rc));
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

int arfs_doc_create(fuse_req_t req, struct arfs_store_array *arr,
		    const char *name, mode_t mode, struct arfs_node **out,
		    struct stat *st)
{
	struct arfs_docattr a;
	int rc;

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
		rc = arfs_doc_lookup(arr, name, out, st);
	if (!rc)
		folder_changed(arr);
	if (!rc)
		rc = arfs_node_stat(*out, st);
	return rc;
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
		/* writes not committed live in the buffer: kept for files
		 * still open */
		n->orphan = n->wbuf && n->opens;
	}
	pthread_mutex_unlock(&n->lock);
	arfs_docref_release(&old);
}

static int unlink_pending(struct arfs_node *p)
{
	pthread_mutex_lock(&p->lock);
	p->unlinked = true;
	/* its bytes are only in the buffer: kept for files still open */
	p->orphan = p->opens > 0;
	pthread_mutex_unlock(&p->lock);
	arfs_inode_set_pending(p, false);
	wbuf_put(p);
	arfs_inode_forget(p, 1); /* the lookup arfs_inode_pending() added */
	return 0;
}

int arfs_doc_unlink(struct arfs_store_array *arr, const char *name)
{
	struct arfs_node *p, *n;
	int rc;

	p = arfs_inode_pending(arr, name);
	if (p) {
		rc = unlink_pending(p);
	} else {
		n = node_to_unlink(arr, name);
		rc = arfs_docarray_delete(arr->da, name, strlen(name));
		finish_unlink(n, rc);
	}
	if (!rc)
		folder_changed(arr);
	return rc;
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

int arfs_doc_rename(struct arfs_store_array *arr, const char *name,
		    const char *newname, unsigned flags)
{
	struct arfs_docref ref;
	struct arfs_node *p, *n, *target;
	int rc;

	if (!strcmp(name, newname))
		return 0;
	p = arfs_inode_pending(arr, name);
	if (p) {
		rc = rename_pending(p, newname, flags);
		arfs_inode_forget(p, 1);
		if (!rc)
			folder_changed(arr);
		return rc;
	}
	rc = arfs_docarray_lookup(arr->da, name, strlen(name), &ref);
	if (rc)
		return rc;
	n = arfs_inode_find(arr, ref.attr.docno);
	arfs_docref_release(&ref);
	if (n && (rc = wbuf_flush(n, false)))
		return rc;
	p = arfs_inode_pending(arr, newname);
	if (p && (flags & RENAME_NOREPLACE)) {
		arfs_inode_forget(p, 1);
		return -EEXIST;
	}
	if (p)
		unlink_pending(p);
	target = node_to_unlink(arr, newname);
	rc = arfs_docarray_rename(arr->da, name, strlen(name), newname,
				  strlen(newname),
				  flags & RENAME_NOREPLACE ? ARFS_PUT_EXCL : 0);
	finish_unlink(target, rc);
	if (!rc) {
		struct arfs_docattr none = { 0 };

		folder_changed(arr);
		/* a rename is a change of status: ctime now (nothing else) */
		arfs_docarray_setattr(arr->da, newname, strlen(newname), &none, 0);
	}
	if (!rc && n) {
		char *copy = strdup(newname);
		pthread_mutex_lock(&n->lock);
		if (copy) {
			free(n->name);
			n->name = copy;
		}
		pthread_mutex_unlock(&n->lock);
	}
	return rc;
}
