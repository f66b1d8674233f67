/*
 * ll_groupw.c - segment groups in a read-write mount: writing, and the
 * lifetime of the group views that reads and writes share (the reading
 * side is ll_group.c).
 *
 * Block files are written whole: open (the kernel truncates with a
 * setattr), write, close. The text goes to a pinned buffer-pool buffer
 * (node->wbuf); flush or close parses it as the column's type, encodes a
 * new block (core/typedenc.c) that replaces the old one, commits
 * (core/groupw.c) and swaps in a fresh view of the group. A line that does
 * not parse fails the flush/close with EINVAL and the buffer is dropped at
 * release: the block stays as it was.
 *
 * New block files: a name starting with '.' (rsync's ".NAME.XXXXXX") is a
 * temporary file kept in memory until it is renamed onto a block name of
 * the same column (replacing that block, or appending when the name is the
 * next one) or removed; it is lost if the daemon stops first. Any other
 * new name must be the column's next block name, "<last segment>.<next
 * block>": it appends a block at close. rm of a block file removes the
 * block (later blocks of that segment are renumbered). Columns cannot be
 * created or removed (EPERM). Block files are 0644 and folders 0755 in a
 * read-write mount; chmod and chown are accepted and ignored; a time set
 * on any file or folder of a group sets the group's time (all its nodes
 * share it), which is what rsync -a needs to find nothing to do.
 *
 * Locking: w_lock serialises all group changes of the mount: the writers
 * list, every groupw call, and the view swap (which also takes sg->lock).
 * Lock order: a buffer's mutex (writeback) -> view_rw (read, may nest) ->
 * w_lock -> sg->lock; pin_lock is a leaf. view_rw is taken for writing
 * only by reclaim, with trywrlock, and then only w_lock and pin_lock.
 *
 * Views: a commit swaps in a fresh view of the group (its parsed index and
 * columns) and retires the old one, which requests may still be using.
 * Every exported function of this file and ll_group.c runs as a reader
 * of view_rw (arfs_grp_view_enter/leave; the *_v functions are their
 * bodies), so no view it found can be freed under it. An open
 * block file pins the view of its open time (arfs_grp_pin: its fh is the
 * view's column array) and reads that one whole version. A retired view
 * is freed by the first caller leaving with no reader inside and no pin
 * on the view (reclaim): memory does not grow with the number of commits.
 */
#include "ll_group_int.h"
#include "blockmgr.h"
#include "group.h"
#include "groupw.h"
#include "segment.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEMP_TOP	((UINT64_C(1) << ARFS_COL_SHIFT) - 1)
#define TEMP_SPAN	UINT64_C(65536)
#define GRP_WSPACE	(UINT64_C(1) << 62)

struct grp_writer {
	struct grp_writer *next;
	struct arfs_store_group *sg;
	struct arfs_groupw *gw;
};

struct grp_retired {
	struct grp_retired *next;
	struct arfs_group *g;
	struct arfs_column **cols;
	int *col_err;
};

struct grp_temp {
	struct grp_temp *next;
	struct arfs_node *n;		/* held (pending) */
	uint64_t col;
	bool has_mtime;
	struct timespec mtime;
};

struct grp_pin {
	struct grp_pin *next;
	struct arfs_column **cols;	/* the view */
	uint64_t n;			/* open files reading it */
};

static pthread_rwlock_t view_rw = PTHREAD_RWLOCK_INITIALIZER;
static atomic_bool reclaim_due;		/* a view may be freeable */
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct grp_pin *pins;		/* [pin_lock] */
static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static struct grp_writer *writers;	/* [w_lock] */
static struct grp_retired *retired;	/* [w_lock] */
static struct grp_temp *temps;		/* [w_lock] */
static uint64_t temp_seq;		/* [w_lock] */

/* Open a fresh view of the group from disk and swap it in. [w_lock] */
static int refresh_view(struct arfs_store_group *sg)
{
	struct grp_retired *r = calloc(1, sizeof(*r));
	struct arfs_group *g = NULL;
	struct arfs_column **cols;
	char path[PATH_MAX];
	struct stat st;
	int *err, rc;

	if (!r)
		return -ENOMEM;
	rc = arfs_group_open(sg->g->dir, &g);
	if (rc) {
		free(r);
		return rc;
	}
	cols = calloc(g->ncols + 1, sizeof(*cols));
	err = calloc(g->ncols + 1, sizeof(*err));
	if (!cols || !err || g->ncols != sg->g->ncols) {
		free(cols);
		free(err);
		free(r);
		arfs_group_free(g);
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/%s", g->dir, g->index_file);
	pthread_mutex_lock(&sg->lock);
	r->g = sg->g;
	r->cols = sg->cols;
	r->col_err = sg->col_err;
	sg->g = g;
	sg->cols = cols;
	sg->col_err = err;
	if (!stat(path, &st))
		sg->mtime = st.st_mtim;
	pthread_mutex_unlock(&sg->lock);
	/* the old view is kept for readers that hold it, but without fds */
	for (uint64_t c = 0; c < r->g->ncols; c++)
		arfs_blockmgr_column_close_fds(arfs_fs.mgr, r->cols[c]);
	r->next = retired;
	retired = r;
	atomic_store(&reclaim_due, true);
	return 0;
}

static void drop_writer(struct arfs_store_group *sg)
{
	struct grp_writer **pp, *w;

	for (pp = &writers; (w = *pp); pp = &w->next)
		if (w->sg == sg) {
			*pp = w->next;
			arfs_groupw_close(w->gw);
			free(w);
			return;
		}
}

/* The group's writer, opened (and the view reloaded) on first use. */
static int writer_get(struct arfs_store_group *sg, struct arfs_groupw **out)
{
	struct arfs_groupw_opts o = {
		.lock_held = arfs_store_is_single(arfs_fs.store),
	};
	struct grp_writer *w;
	int rc;

	for (w = writers; w; w = w->next)
		if (w->sg == sg) {
			*out = w->gw;
			return 0;
		}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	rc = arfs_groupw_open(sg->g->dir, &o, &w->gw);
	if (!rc)
		rc = refresh_view(sg);
	if (rc) {
		arfs_groupw_close(w->gw);
		free(w);
		return rc;
	}
	w->sg = sg;
	w->next = writers;
	writers = w;
	*out = w->gw;
	return 0;
}

/* Set the group's time (its index file's mtime); NULL: now. [w_lock] */
static int set_group_time(struct arfs_store_group *sg,
			  const struct timespec *t)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	char path[PATH_MAX];
	struct stat st;

	if (t)
		ts[1] = *t;
	snprintf(path, sizeof(path), "%s/%s", sg->g->dir, sg->g->index_file);
	if (utimensat(AT_FDCWD, path, ts, 0))
		return -errno;
	if (!stat(path, &st)) {
		pthread_mutex_lock(&sg->lock);
		sg->mtime = st.st_mtim;
		pthread_mutex_unlock(&sg->lock);
	}
	return 0;
}

/* Commit a change made on gw: commit, touch the group, new view. */
static int commit(struct arfs_store_group *sg, struct arfs_groupw *gw,
		  const struct timespec *mtime)
{
	int rc = arfs_groupw_commit(gw);

	if (rc) {
		arfs_log(ARFS_LOG_ERR, "%s: commit failed: %s", sg->g->dir,
			 strerror(-rc));
		drop_writer(sg);	/* reopened (and recovered) next time */
		refresh_view(sg);
		return rc;
	}
	set_group_time(sg, mtime);
	return refresh_view(sg);
}

/*
 * Store text as block i of column c (in row order): replace it, or append
 * to the last segment when i is the column's block count. [w_lock]
 */
static int store_text(struct arfs_store_group *sg, uint64_t c, uint64_t i,
		      const char *text, size_t len,
		      const struct timespec *mtime)
{
	const struct arfs_colblock *b;
	struct arfs_column *col;
	struct arfs_typedenc enc;
	struct arfs_groupw *gw;
	uint64_t line = 0, seg;
	int rc = writer_get(sg, &gw);

	if (rc)
		return rc;
	rc = arfs_typedenc_init(&enc, arfs_groupw_type(gw, c));
	if (rc)
		return rc == -EOPNOTSUPP ? -EINVAL : rc;
	rc = arfs_textval_parse(&enc, text, len, &line);
	if (rc == -EINVAL)
		arfs_log(ARFS_LOG_ERR, "%s column %s: line %" PRIu64 " is not "
			 "a %s value: block left as it was", sg->g->dir,
			 sg->g->cols[c].name, line,
			 arfs_ftype_name(arfs_groupw_type(gw, c)));
	if (!rc)
		rc = arfs_store_column(arfs_fs.store, sg, c, &col);
	if (!rc) {
		b = arfs_column_block(col, i);
		if (b) {
			rc = arfs_groupw_put_enc(gw, b->seg, c, b->blk, &enc);
		} else if (i == arfs_column_nblocks(col)) {
			seg = arfs_groupw_nsegs(gw);
			rc = seg ? 0 : arfs_groupw_add_segment(gw, &seg);
			seg = arfs_groupw_nsegs(gw) - 1;
			if (!rc)
				rc = arfs_groupw_put_enc(gw, seg, c,
					arfs_groupw_nblocks(gw, seg, c), &enc);
		} else {
			rc = -ENOENT;
		}
		if (!rc)
			rc = commit(sg, gw, mtime);
	}
	arfs_typedenc_release(&enc);
	return rc;
}

/* A copy of a buffer's bytes (malloc'd). */
static int buf_copy(struct arfs_buf *buf, char **out, size_t *len)
{
	uint64_t size = arfs_buf_size(buf);
	char *p = malloc(size ? size : 1);
	ssize_t n;

	if (!p)
		return -ENOMEM;
	n = arfs_buf_read(buf, p, size, 0);
	if (n < 0) {
		free(p);
		return (int)n;
	}
	*out = p;
	*len = (size_t)n;
	return 0;
}

static int grp_writeback(void *ctx, struct arfs_buf *buf)
{
	struct arfs_node *n = ctx;
	size_t len = 0;
	char *text = NULL;
	int rc;

	if (n->pending)
		return 0;	/* a temporary file: kept until renamed */
	rc = buf_copy(buf, &text, &len);
	if (rc)
		return rc;
	/* also called by the pool's eviction, from any request */
	pthread_rwlock_rdlock(&view_rw);
	pthread_mutex_lock(&w_lock);
	rc = store_text(n->grp, arfs_grp_key_col(n->docno),
			arfs_grp_key_blk(n->docno), text, len, NULL);
	pthread_mutex_unlock(&w_lock);
	pthread_rwlock_unlock(&view_rw);
	free(text);
	return rc;
}

static int grp_load(void *ctx, struct arfs_buf *buf)
{
	struct arfs_node *n = ctx;
	struct arfs_column *col;
	char tmp[1 << 16];
	uint64_t off = 0;
	ssize_t r;
	int rc = arfs_store_column(arfs_fs.store, n->grp,
				   arfs_grp_key_col(n->docno), &col);

	if (rc)
		return rc;
	if (arfs_grp_key_blk(n->docno) >= arfs_column_nblocks(col))
		return 0;	/* a new block */
	for (;; off += (uint64_t)r) {
		r = arfs_blockmgr_read_text(arfs_fs.mgr, col,
					    arfs_grp_key_blk(n->docno),
					    tmp, sizeof(tmp), off);
		if (r <= 0)
			return (int)r;
		rc = arfs_buf_write(buf, tmp, (size_t)r, off);
		if (rc)
			return rc;
	}
}

/* Pin the node's write buffer (loading the block's text if `load`). */
static int wbuf_get(struct arfs_node *n, bool load)
{
	struct arfs_bufkey key = { GRP_WSPACE | n->grp->number, n->docno };
	struct arfs_buf *buf;
	int rc;

	pthread_mutex_lock(&n->lock);
	if (n->wbuf) {
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	pthread_mutex_unlock(&n->lock);
	arfs_bufpool_drop(arfs_fs.pool, key);	/* never old bytes */
	rc = arfs_bufpool_pin(arfs_fs.pool, key, load ? grp_load : NULL,
			      grp_writeback, n, &buf);
	if (rc)
		return rc;
	pthread_mutex_lock(&n->lock);
	if (n->wbuf) {
		pthread_mutex_unlock(&n->lock);
		arfs_bufpool_unpin(arfs_fs.pool, buf);
		return 0;
	}
	n->wbuf = buf;
	n->wkey = key;
	pthread_mutex_unlock(&n->lock);
	return 0;
}

static void wbuf_put(struct arfs_node *n, bool force)
{
	struct arfs_buf *buf = NULL;

	pthread_mutex_lock(&n->lock);
	if (n->wbuf && (force || (!n->writers && !n->pending))) {
		buf = n->wbuf;
		n->wbuf = NULL;
	}
	pthread_mutex_unlock(&n->lock);
	if (buf) {
		/* drop first: a dropped buffer is never written back */
		arfs_bufpool_drop(arfs_fs.pool, n->wkey);
		arfs_bufpool_unpin(arfs_fs.pool, buf);
	}
}

static int wbuf_flush(struct arfs_node *n)
{
	struct arfs_buf *buf;

	pthread_mutex_lock(&n->lock);
	buf = n->wbuf;
	pthread_mutex_unlock(&n->lock);
	if (buf && arfs_buf_dirty(buf))
		return arfs_bufpool_flush_buf(arfs_fs.pool, buf);
	return 0;
}

static int grp_open_v(struct arfs_node *n, int flags)
{
	int rc;

	if (n->kind != ARFS_NODE_BLOCK)
		return -EISDIR;
	pthread_mutex_lock(&n->lock);
	n->writers++;
	pthread_mutex_unlock(&n->lock);
	rc = wbuf_get(n, !(flags & O_TRUNC));
	if (!rc && (flags & O_TRUNC))
		rc = arfs_buf_truncate(n->wbuf, 0);
	if (rc) {
		pthread_mutex_lock(&n->lock);
		n->writers--;
		pthread_mutex_unlock(&n->lock);
		wbuf_put(n, false);
	}
	return rc;
}

static int grp_write_v(struct arfs_node *n, const char *data, size_t size,
		       off_t off)
{
	int rc = wbuf_get(n, true);

	if (!rc)
		rc = arfs_buf_write(n->wbuf, data, size, (uint64_t)off);
	if (!rc) {
		pthread_mutex_lock(&n->lock);
		n->version++;	/* commit at the next flush */
		pthread_mutex_unlock(&n->lock);
	}
	return rc;
}

/*
 * flush runs at every close(), dups included. It commits when data was
 * written since the last commit, so the block is in place when close()
 * returns; otherwise (a shell's "> file" closes a dup before writing) it
 * only checks that the text parses, and release commits. node->version
 * counts writes since the last commit.
 */
static int grp_flush_v(struct arfs_node *n)
{
	struct arfs_typedenc enc;
	struct arfs_buf *buf;
	uint64_t line, writes;
	size_t len;
	char *text = NULL;
	int rc = 0;

	if (n->kind != ARFS_NODE_BLOCK)
		return 0;
	pthread_mutex_lock(&n->lock);
	writes = n->version;
	pthread_mutex_unlock(&n->lock);
	if (writes && !n->pending) {
		rc = wbuf_flush(n);
		if (!rc) {
			pthread_mutex_lock(&n->lock);
			n->version = 0;
			pthread_mutex_unlock(&n->lock);
		}
		return rc;
	}
	pthread_mutex_lock(&n->lock);
	buf = n->wbuf;
	if (buf && arfs_buf_dirty(buf))
		rc = buf_copy(buf, &text, &len);
	pthread_mutex_unlock(&n->lock);
	if (rc || !text)
		return rc;
	rc = arfs_typedenc_init(&enc,
			n->grp->g->cols[arfs_grp_key_col(n->docno)].type);
	if (!rc)
		rc = arfs_textval_parse(&enc, text, len, &line);
	if (rc == -EOPNOTSUPP)
		rc = -EINVAL;
	arfs_typedenc_release(&enc);
	free(text);
	return rc;
}

static int grp_fsync_v(struct arfs_node *n)
{
	return n->kind == ARFS_NODE_BLOCK && !n->pending ? wbuf_flush(n) : 0;
}

static int grp_release_v(struct arfs_node *n)
{
	int rc = wbuf_flush(n);

	pthread_mutex_lock(&n->lock);
	n->version = 0;
	n->writers--;
	pthread_mutex_unlock(&n->lock);
	wbuf_put(n, false);	/* a failed write is dropped: block unchanged */
	return rc;
}

static struct grp_temp *find_temp(struct arfs_store_group *sg, uint64_t c,
				  const char *name)
{
	for (struct grp_temp *t = temps; t; t = t->next)
		if (t->n->grp == sg && t->col == c && t->n->name &&
		    !strcmp(t->n->name, name))
			return t;
	return NULL;
}

static struct grp_temp *temp_of(struct arfs_node *n)
{
	for (struct grp_temp *t = temps; t; t = t->next)
		if (t->n == n)
			return t;
	return NULL;
}

static int grp_setattr_v(struct arfs_node *n, const struct stat *attr,
			 int to_set)
{
	struct timespec t;
	struct grp_temp *tmp;
	bool had;
	int rc = 0;

	if ((to_set & FUSE_SET_ATTR_SIZE) && n->kind == ARFS_NODE_BLOCK) {
		pthread_mutex_lock(&n->lock);
		had = n->wbuf != NULL;
		n->writers++;
		pthread_mutex_unlock(&n->lock);
		rc = wbuf_get(n, true);
		if (!rc)
			rc = arfs_buf_truncate(n->wbuf, (uint64_t)attr->st_size);
		if (!rc && !had)
			rc = wbuf_flush(n);
		pthread_mutex_lock(&n->lock);
		n->writers--;
		pthread_mutex_unlock(&n->lock);
		wbuf_put(n, false);
	}
	if (rc || !(to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)))
		return rc;	/* mode, owner, atime: fixed, ignored */
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		clock_gettime(CLOCK_REALTIME, &t);
	else
		t = attr->st_mtim;
	pthread_mutex_lock(&w_lock);
	tmp = temp_of(n);
	if (tmp) {
		tmp->has_mtime = true;	/* applied when renamed into place */
		tmp->mtime = t;
	} else {
		rc = set_group_time(n->grp, &t);
	}
	pthread_mutex_unlock(&w_lock);
	return rc;
}

/* The column's next block name: "<last segment>.<its block count>". */
static int next_name(struct arfs_store_group *sg, uint64_t c, char *out,
		     size_t cap, uint64_t *index)
{
	struct arfs_column *col;
	const struct arfs_colblock *b;
	struct arfs_colblock nb = { 0 };
	int rc = arfs_store_column(arfs_fs.store, sg, c, &col);
	uint64_t nblk = 0;

	if (rc)
		return rc;
	nblk = arfs_column_nblocks(col);
	b = nblk ? arfs_column_block(col, nblk - 1) : NULL;
	if (b) {
		nb.seg = b->seg;
		nb.blk = b->blk + 1;
	} else if (sg->g->nsidx && sg->g->sidx[0].nsegs) {
		nb.seg = sg->g->sidx[0].nsegs - 1;
	}
	arfs_grp_block_name(&nb, out, cap);
	*index = nblk;
	return 0;
}

static int grp_create_v(struct arfs_node *dir, const char *name,
			struct arfs_node **out, struct stat *st)
{
	struct arfs_store_group *sg = arfs_grp_dir_group(dir);
	struct grp_temp *t = NULL;
	struct arfs_node *n;
	char want[64];
	uint64_t c, key, idx;
	int rc;

	if (!sg || dir->kind != ARFS_NODE_COLUMN)
		return -EPERM;	/* columns are not created here */
	c = arfs_grp_key_col(dir->docno);
	pthread_mutex_lock(&w_lock);
	if (name[0] == '.') {
		t = calloc(1, sizeof(*t));
		rc = t ? 0 : -ENOMEM;
		key = ARFS_GROUP_KEY(c, TEMP_TOP - (temp_seq++ % TEMP_SPAN));
	} else {
		rc = next_name(sg, c, want, sizeof(want), &idx);
		if (!rc && strcmp(name, want)) {
			arfs_log(ARFS_LOG_ERR, "%s: a new block file of this "
				 "column must be named %s", name, want);
			rc = -EINVAL;
		}
		key = ARFS_GROUP_KEY(c, idx + 1);
	}
	n = rc ? NULL : arfs_inode_ref_grp(ARFS_NODE_BLOCK, sg, key);
	if (!rc && !n)
		rc = -ENOMEM;
	if (!rc && t) {
		pthread_mutex_lock(&n->lock);
		n->name = strdup(name);
		n->pending = true;
		pthread_mutex_unlock(&n->lock);
		t->n = n;
		t->col = c;
		t->next = temps;
		temps = t;
		t = NULL;
	}
	pthread_mutex_unlock(&w_lock);
	free(t);
	if (!rc)
		rc = wbuf_get(n, false);	/* the caller counts the writer */
	if (!rc)
		rc = arfs_grp_stat_node_v(n, 0, st);
	if (rc && n)
		arfs_inode_forget(n, 1);
	if (!rc)
		*out = n;
	return rc;
}

/* Forget a temporary file. [w_lock] */
static void temp_drop(struct grp_temp *t)
{
	struct grp_temp **pp;
	struct arfs_node *n = t->n;

	for (pp = &temps; *pp != t; pp = &(*pp)->next)
		;
	*pp = t->next;
	free(t);
	pthread_mutex_lock(&n->lock);
	n->pending = false;
	pthread_mutex_unlock(&n->lock);
	wbuf_put(n, true);
	arfs_inode_hold(n);	/* and unhold: frees it if unreferenced */
	arfs_inode_unhold(n);
}

static int grp_unlink_v(struct arfs_node *dir, const char *name)
{
	struct arfs_store_group *sg = arfs_grp_dir_group(dir);
	const struct arfs_colblock *b;
	struct arfs_column *col;
	struct arfs_groupw *gw;
	struct grp_temp *t;
	uint64_t c, key;
	int rc;

	if (!sg || dir->kind != ARFS_NODE_COLUMN)
		return -EPERM;
	c = arfs_grp_key_col(dir->docno);
	pthread_mutex_lock(&w_lock);
	t = find_temp(sg, c, name);
	if (t) {
		temp_drop(t);
		pthread_mutex_unlock(&w_lock);
		return 0;
	}
	rc = arfs_grp_lookup_block(sg, c, name, &key);
	if (!rc)
		rc = writer_get(sg, &gw);
	if (!rc)
		rc = arfs_store_column(arfs_fs.store, sg, c, &col);
	if (!rc) {
		b = arfs_column_block(col, arfs_grp_key_blk(key));
		rc = b ? arfs_groupw_remove(gw, b->seg, c, b->blk) : -ENOENT;
	}
	if (!rc)
		rc = commit(sg, gw, NULL);
	pthread_mutex_unlock(&w_lock);
	return rc;
}

static int grp_rename_v(struct arfs_node *dir, const char *name,
			struct arfs_node *newdir, const char *newname)
{
	struct arfs_store_group *sg = arfs_grp_dir_group(dir);
	struct grp_temp *t;
	struct arfs_node *n;
	uint64_t c, key, idx;
	char want[64], *text = NULL;
	size_t len = 0;
	int rc;

	if (!sg || dir != newdir || dir->kind != ARFS_NODE_COLUMN)
		return -EPERM;
	c = arfs_grp_key_col(dir->docno);
	pthread_mutex_lock(&w_lock);
	t = find_temp(sg, c, name);
	if (!t) {	/* committed blocks keep their names */
		pthread_mutex_unlock(&w_lock);
		return -EPERM;
	}
	n = t->n;
	rc = arfs_grp_lookup_block(sg, c, newname, &key);
	if (rc == -ENOENT) {
		rc = next_name(sg, c, want, sizeof(want), &idx);
		if (!rc && strcmp(newname, want))
			rc = -EINVAL;
		key = ARFS_GROUP_KEY(c, idx + 1);
	}
	if (!rc && n->wbuf)
		rc = buf_copy(n->wbuf, &text, &len);
	if (!rc)
		rc = store_text(sg, c, arfs_grp_key_blk(key), text ? text : "",
				len, t->has_mtime ? &t->mtime : NULL);
	free(text);
	if (!rc) {
		arfs_inode_rekey(n, key);	/* the file now is that block */
		temp_drop(t);
	}
	pthread_mutex_unlock(&w_lock);
	return rc;
}

/* Lookup of a temporary file's name in a column (NULL if none). */
struct arfs_node *arfs_grp_lookup_temp(struct arfs_store_group *sg,
				       uint64_t c, const char *name)
{
	struct grp_temp *t;
	struct arfs_node *n = NULL;

	pthread_mutex_lock(&w_lock);
	t = find_temp(sg, c, name);
	if (t)
		n = arfs_inode_ref_grp(ARFS_NODE_BLOCK, sg, t->n->docno);
	pthread_mutex_unlock(&w_lock);
	return n;
}

/* ---- view lifetime and the exported calls (see "Views" above) ---- */

static void view_free(struct grp_retired *r)
{
	for (uint64_t c = 0; c < r->g->ncols; c++)
		arfs_blockmgr_close_column(arfs_fs.mgr, r->cols[c]);
	arfs_group_free(r->g);
	free(r->cols);
	free(r->col_err);
	free(r);
}

static bool pinned(struct arfs_column **cols)
{
	struct grp_pin *p;

	pthread_mutex_lock(&pin_lock);
	for (p = pins; p && p->cols != cols; p = p->next)
		;
	pthread_mutex_unlock(&pin_lock);
	return p != NULL;
}

/* Free the retired views nothing uses, if no reader is inside. */
static void reclaim(void)
{
	struct grp_retired *r, **pp, *dead = NULL;

	if (!atomic_load(&reclaim_due) || pthread_rwlock_trywrlock(&view_rw))
		return;
	atomic_store(&reclaim_due, false);	/* an unpin sets it again */
	pthread_mutex_lock(&w_lock);
	for (pp = &retired; (r = *pp);) {
		if (pinned(r->cols)) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		r->next = dead;
		dead = r;
	}
	pthread_mutex_unlock(&w_lock);
	pthread_rwlock_unlock(&view_rw);
	/* unreachable now: neither current nor pinned, no reader inside */
	while ((r = dead)) {
		dead = r->next;
		view_free(r);
	}
}

void arfs_grp_view_enter(void)
{
	pthread_rwlock_rdlock(&view_rw);
}

void arfs_grp_view_leave(void)
{
	pthread_rwlock_unlock(&view_rw);
	reclaim();
}

/* The current view's columns, n's column opened in it; NULL on error. */
static struct arfs_column **grp_pin_v(struct arfs_node *n)
{
	struct arfs_store_group *sg = n->grp;
	uint64_t c = arfs_grp_key_col(n->docno);
	struct arfs_column *col, **cols;

	do {	/* again if a commit swapped the view in between */
		if (arfs_store_column(arfs_fs.store, sg, c, &col))
			return NULL;
		pthread_mutex_lock(&sg->lock);
		cols = sg->cols[c] == col ? sg->cols : NULL;
		pthread_mutex_unlock(&sg->lock);
	} while (!cols);
	return cols;
}

uint64_t arfs_grp_pin(struct arfs_node *n)
{
	struct arfs_column **cols;
	struct grp_pin *p = NULL;

	arfs_grp_view_enter();
	cols = grp_pin_v(n);
	if (cols) {
		pthread_mutex_lock(&pin_lock);
		for (p = pins; p && p->cols != cols; p = p->next)
			;
		if (!p && (p = calloc(1, sizeof(*p)))) {
			p->cols = cols;
			p->next = pins;
			pins = p;
		}
		if (p)
			p->n++;
		pthread_mutex_unlock(&pin_lock);
	}
	arfs_grp_view_leave();
	return p ? (uint64_t)(uintptr_t)cols : 0;
}

void arfs_grp_unpin(uint64_t pin)
{
	struct grp_pin **pp, *p;

	if (!pin)
		return;
	arfs_grp_view_enter();
	pthread_mutex_lock(&pin_lock);
	for (pp = &pins; (p = *pp); pp = &p->next)
		if ((uint64_t)(uintptr_t)p->cols == pin)
			break;
	if (p && !--p->n) {
		*pp = p->next;
		free(p);
		atomic_store(&reclaim_due, true);
	}
	pthread_mutex_unlock(&pin_lock);
	arfs_grp_view_leave();
}

int arfs_grp_open(struct arfs_node *n, int flags)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_open_v(n, flags);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_write(struct arfs_node *n, const char *data, size_t size,
		   off_t off)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_write_v(n, data, size, off);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_flush(struct arfs_node *n)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_flush_v(n);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_fsync(struct arfs_node *n)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_fsync_v(n);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_release(struct arfs_node *n)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_release_v(n);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_setattr(struct arfs_node *n, const struct stat *attr,
		     int to_set)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_setattr_v(n, attr, to_set);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_create(struct arfs_node *dir, const char *name,
		    struct arfs_node **out, struct stat *st)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_create_v(dir, name, out, st);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_unlink(struct arfs_node *dir, const char *name)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_unlink_v(dir, name);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_rename(struct arfs_node *dir, const char *name,
		    struct arfs_node *newdir, const char *newname)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_rename_v(dir, name, newdir, newname);
	arfs_grp_view_leave();
	return rc;
}

void arfs_grp_shutdown(void)
{
	struct grp_retired *r;
	struct grp_pin *p;

	pthread_mutex_lock(&w_lock);
	while (temps)
		temp_drop(temps);
	while (writers)
		drop_writer(writers->sg);
	while ((r = retired)) {
		retired = r->next;
		view_free(r);
	}
	pthread_mutex_unlock(&w_lock);
	while ((p = pins)) {
		pins = p->next;
		free(p);
	}
}
