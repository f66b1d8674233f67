/*
 * ll_ops.c - the FUSE low-level handlers: each request is dispatched by the
 * kind of node it is about, to documents (ll_doc.c), folders (ll_dir.c) or
 * segment groups (ll_group.c, ll_groupw.c), which translate it into core
 * calls. Errors from core are negative errno values; they reach the kernel
 * in one place, reply_err().
 */
#include "ll.h"
#include "blockmgr.h"
#include "util.h"

#include <inttypes.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

/* The array a directory node shows, or NULL for the root of a multi store. */
struct arfs_store_array *arfs_dir_array(struct arfs_node *dir)
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
void arfs_maybe_reload(void)
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

/*
 * The node a request is about. Requests about segment groups and views
 * may decode blocks or render a view: the request loop's lead passes to
 * another thread first (fs/loop.c).
 */
struct arfs_node *arfs_req_node(fuse_ino_t ino)
{
	struct arfs_node *n = arfs_inode_get(ino);

	if (arfs_in_group(n) || arfs_views_kind(n->kind) ||
	    n->kind == ARFS_NODE_SET)
		arfs_loop_blocking();
	return n;
}

/* name in dir is the views folder (not an entry of the store). */
bool arfs_views_name(struct arfs_node *dir, const char *name)
{
	return dir->kind == ARFS_NODE_ROOT && arfs_fs.views != ARFS_VIEWS_OFF &&
	       !strcmp(name, ".views") && !arfs_dir_array(dir);
}

bool arfs_is_group_kind(enum arfs_node_kind k)
{
	return k == ARFS_NODE_GROUP || k == ARFS_NODE_COLUMN ||
	       k == ARFS_NODE_BLOCK;
}

/* A folder of a segment group, or the root of a single-group store. */
bool arfs_in_group(struct arfs_node *dir)
{
	return arfs_is_group_kind(dir->kind) ||
	       (dir->kind == ARFS_NODE_ROOT && arfs_grp_root());
}

/*
 * A group node (or folder in one) that takes no writes: a read-only mount,
 * or one SFrame of a model folder (their groups are read-only).
 */
bool arfs_node_ro(const struct arfs_node *n)
{
	const struct arfs_store_group *g = NULL;

	if (arfs_is_group_kind(n->kind))
		g = n->grp;
	else if (n->kind == ARFS_NODE_ROOT)
		g = arfs_grp_root();
	return arfs_fs.ro || (g && g->ro);
}

/*
 * Writable groups are not cached by the kernel: a commit renumbers. View
 * files follow their group's commits, so their sizes are not cached.
 */
double arfs_node_timeout(const struct arfs_node *n)
{
	if (n->kind == ARFS_NODE_VFILE)
		return 0;
	return arfs_is_group_kind(n->kind) && !arfs_node_ro(n) ? 0 :
	       arfs_fs.timeout;
}

int arfs_node_stat(struct arfs_node *n, struct stat *st)
{
	if (arfs_views_kind(n->kind))
		return arfs_views_stat(n, 0, st);
	if (arfs_is_group_kind(n->kind))
		return arfs_grp_stat_node(n, 0, st);
	if (n->kind != ARFS_NODE_DOC) {
		arfs_fill_dir_stat(st, n);
		return 0;
	}
	return arfs_doc_stat(n, st);
}

void arfs_reply_entry(fuse_req_t req, struct arfs_node *n,
			const struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = arfs_inode_id(n);
	e.attr = *st;
	e.attr_timeout = arfs_node_timeout(n);
	e.entry_timeout = arfs_node_timeout(n);
	fuse_reply_entry(req, &e);
}

/*
 * Names longer than NAME_MAX (the kernel passes up to 1024 bytes) are
 * refused by every call that takes a name, whatever the key length.
 */
static bool too_long(fuse_req_t req, const char *name)
{
	if (strlen(name) <= NAME_MAX)
		return false;
	reply_err(req, -ENAMETOOLONG);
	return true;
}

/* ---- lookup, getattr, forget ---- */

static void arfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct arfs_node *dir = arfs_req_node(parent), *n = NULL;
	struct arfs_store_array *arr = arfs_dir_array(dir);
	struct arfs_store_group *grp;
	struct arfs_store_set *set;
	struct stat st;
	int rc;

	if (too_long(req, name))
		return;
	arfs_maybe_reload();
	if (arfs_views_kind(dir->kind)) {
		rc = arfs_views_lookup(dir, name, &n, &st);
	} else if (arr) {
		rc = arfs_doc_lookup(arr, name, &n, &st);
	} else if (arfs_in_group(dir)) {
		rc = arfs_grp_lookup(dir, name, &n, &st);
	} else if (dir->kind == ARFS_NODE_SET) {
		grp = arfs_store_set_find(dir->set, name);
		n = grp ? arfs_inode_ref_grp(ARFS_NODE_GROUP, grp, 0) : NULL;
		rc = !grp ? -ENOENT : n ? arfs_grp_stat(ARFS_NODE_GROUP, grp, 0,
							&st) : -ENOMEM;
	} else if (dir->kind == ARFS_NODE_ROOT &&
		   (set = arfs_store_find_set(arfs_fs.store, name))) {
		n = arfs_inode_ref_set(set);
		rc = n ? 0 : -ENOMEM;
		if (n)
			arfs_fill_dir_stat(&st, n);
	} else if (dir->kind == ARFS_NODE_ROOT &&
		   (grp = arfs_store_find_group(arfs_fs.store, name))) {
		n = arfs_inode_ref_grp(ARFS_NODE_GROUP, grp, 0);
		rc = n ? arfs_grp_stat(ARFS_NODE_GROUP, grp, 0, &st) : -ENOMEM;
	} else if (dir->kind == ARFS_NODE_ROOT &&
		   (arr = arfs_store_find(arfs_fs.store, name))) {
		n = arfs_inode_ref(ARFS_NODE_ARRAY, arr, 0, NULL);
		rc = n ? 0 : -ENOMEM;
		if (n)
			arfs_fill_dir_stat(&st, n);
	} else {
		rc = -ENOENT;
	}
	/* the views folder, unless the store shows that name itself */
	if (dir->kind == ARFS_NODE_ROOT && !strcmp(name, ".views") &&
	    (rc == 0 || rc == -ENOENT)) {
		if (!rc)
			arfs_views_root_lookup(true, NULL, NULL);
		else
			rc = arfs_views_root_lookup(false, &n, &st);
	}
	if (rc)
		reply_err(req, rc);
	else
		arfs_reply_entry(req, n, &st);
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
	struct arfs_node *n = arfs_req_node(ino);
	struct stat st;
	int rc;

	arfs_maybe_reload();
	/*
	 * With a file (the kernel checks the size before a read past it):
	 * the size of the version that file reads, or the read is cut short.
	 */
	if (fi && n->kind == ARFS_NODE_BLOCK)
		rc = arfs_grp_stat_node(n, fi->fh, &st);
	else if (fi && n->kind == ARFS_NODE_VFILE)
		rc = arfs_views_stat(n, fi->fh, &st);
	else
		rc = arfs_node_stat(n, &st);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, arfs_node_timeout(n));
}

/* ---- setattr ---- */

static void arfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			    int to_set, struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_req_node(ino);
	struct stat st;
	int rc;

	if (arfs_views_kind(n->kind))
		rc = -EROFS;
	else if (arfs_is_group_kind(n->kind))
		rc = arfs_node_ro(n) ? -EROFS : arfs_grp_setattr(n, attr, to_set);
	else if (n->kind == ARFS_NODE_DOC)
		rc = arfs_doc_setattr(n, attr, to_set);
	else
		rc = arfs_dir_setattr(n, attr, to_set);
	if (!rc)
		rc = arfs_node_stat(n, &st);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, arfs_node_timeout(n));
}

/* ---- open, read, write, flush, fsync, release ---- */

static void arfs_ll_open(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_req_node(ino);
	int rc;

	/*
	 * A reader's close has nothing to flush (commits are the writers'):
	 * no FLUSH request for it, a third of what tar or rsync cost per file.
	 */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
	if (arfs_views_kind(n->kind)) {
		rc = arfs_views_open(n, fi);
		if (rc) {
			reply_err(req, rc);
			return;
		}
		arfs_inode_hold(n);
		if (fuse_reply_open(req, fi) == -ENOENT) {
			arfs_views_release(fi->fh);
			arfs_inode_unhold(n);
		}
		return;
	}
	if (n->kind == ARFS_NODE_BLOCK) {
		if ((fi->flags & O_ACCMODE) != O_RDONLY) {
			rc = arfs_node_ro(n) ? -EROFS :
			     arfs_grp_open(n, fi->flags);
			if (rc) {
				reply_err(req, rc);
				return;
			}
		}
		fi->keep_cache = arfs_node_ro(n); /* blocks never change */
		fi->fh = arfs_grp_pin(n);
		arfs_inode_hold(n);
		if (fuse_reply_open(req, fi) == -ENOENT) {
			arfs_grp_unpin(fi->fh);
			arfs_inode_unhold(n);
		}
		return;
	}
	if (n->kind != ARFS_NODE_DOC)
		reply_err(req, -EISDIR);
	else
		arfs_doc_open(req, n, fi);
}

static void arfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_req_node(ino);
	int rc;

	if (n->kind == ARFS_NODE_VFILE) {
		rc = arfs_views_read(req, fi->fh, size, off);
		if (rc)
			reply_err(req, rc);
		return;
	}
	if (n->kind != ARFS_NODE_BLOCK) {
		arfs_doc_read(req, n, size, off);
		return;
	}
	rc = arfs_grp_read(req, n, fi->fh, size, off);
	if (rc)
		reply_err(req, rc);
}

static void arfs_ll_write(fuse_req_t req, fuse_ino_t ino, const char *data,
			  size_t size, off_t off, struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_req_node(ino);
	int rc;

	if (arfs_views_kind(n->kind))
		rc = -EROFS;
	else if (arfs_is_group_kind(n->kind))
		rc = arfs_grp_write(n, data, size, off);
	else
		rc = arfs_doc_write(n, data, size, off);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_write(req, size);
}

static void arfs_ll_flush(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_req_node(ino);

	reply_err(req, arfs_views_kind(n->kind) ? 0 :
		  arfs_is_group_kind(n->kind) ? arfs_grp_flush(n) :
		  arfs_doc_flush(n));
}

static void arfs_ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_req_node(ino);

	reply_err(req, arfs_views_kind(n->kind) ? 0 :
		  arfs_is_group_kind(n->kind) ? arfs_grp_fsync(n) :
		  arfs_doc_fsync(n));
}

static void arfs_ll_release(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct arfs_node *n = arfs_req_node(ino);
	int rc;

	if (arfs_views_kind(n->kind)) {
		arfs_views_release(fi->fh);
		arfs_inode_unhold(n);
		reply_err(req, 0);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY && arfs_is_group_kind(n->kind)) {
		rc = arfs_grp_release(n);
		if (rc)
			arfs_log(ARFS_LOG_ERR, "block write failed at close: %s",
				 strerror(-rc));
	} else if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		arfs_doc_release(n);
	}
	if (n->kind == ARFS_NODE_DOC)
		arfs_doc_close(n);
	if (n->kind == ARFS_NODE_BLOCK)
		arfs_grp_unpin(fi->fh);
	arfs_inode_unhold(n);
	reply_err(req, 0);
}

/* ---- create, unlink, rename ---- */

static int do_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct arfs_node **out, struct stat *st)
{
	struct arfs_node *dir = arfs_req_node(parent);
	struct arfs_store_array *arr = arfs_dir_array(dir);

	if (arfs_views_kind(dir->kind) || arfs_views_name(dir, name))
		return -EROFS;
	if (arr)
		return arfs_doc_create(req, arr, name, mode, out, st);
	if (arfs_in_group(dir))
		return arfs_node_ro(dir) ? -EROFS : S_ISREG(mode) ?
		       arfs_grp_create(dir, name, out, st) : -EPERM;
	if (dir->kind == ARFS_NODE_SET)
		return -EROFS;
	return dir->kind == ARFS_NODE_ROOT ? -EPERM : -ENOTDIR;
}

static void arfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			   mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct arfs_node *n;
	int rc;

	if (too_long(req, name))
		return;
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
	e.attr_timeout = e.entry_timeout = arfs_node_timeout(n);
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
	int rc;

	if (too_long(req, name))
		return;
	rc = do_create(req, parent, name, mode, &n, &st);
	if (rc)
		reply_err(req, rc);
	else
		arfs_reply_entry(req, n, &st);
}

static void arfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct arfs_node *dir = arfs_req_node(parent);
	struct arfs_store_array *arr = arfs_dir_array(dir);

	if (too_long(req, name))
		return;
	if (arfs_views_kind(dir->kind) || arfs_views_name(dir, name))
		reply_err(req, -EROFS);
	else if (arr)
		reply_err(req, arfs_doc_unlink(arr, name));
	else if (arfs_in_group(dir) && !arfs_node_ro(dir))
		reply_err(req, arfs_grp_unlink(dir, name));
	else
		reply_err(req, arfs_in_group(dir) ||
			  dir->kind == ARFS_NODE_SET ? -EROFS :
			  dir->kind == ARFS_NODE_ROOT ? -EISDIR : -ENOTDIR);
}

static void arfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			   fuse_ino_t newparent, const char *newname,
			   unsigned int flags)
{
	struct arfs_store_array *arr = arfs_dir_array(arfs_req_node(parent));
	struct arfs_store_array *to = arfs_dir_array(arfs_req_node(newparent));

	if (too_long(req, name) || too_long(req, newname))
		return;
	if (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) {
		reply_err(req, -EINVAL); /* no exchange, no whiteouts */
		return;
	}
	if (arfs_views_kind(arfs_req_node(parent)->kind) ||
	    arfs_views_kind(arfs_req_node(newparent)->kind) ||
	    arfs_views_name(arfs_req_node(parent), name) ||
	    arfs_views_name(arfs_req_node(newparent), newname)) {
		reply_err(req, -EROFS);
		return;
	}
	if (!flags && arfs_in_group(arfs_req_node(parent)) &&
	    !arfs_node_ro(arfs_req_node(parent)) &&
	    arfs_in_group(arfs_req_node(newparent)) &&
	    !arfs_node_ro(arfs_req_node(newparent))) {
		reply_err(req, arfs_grp_rename(arfs_req_node(parent), name,
					       arfs_req_node(newparent),
					       newname));
		return;
	}
	if (arfs_in_group(arfs_req_node(parent)) || arfs_in_group(arfs_req_node(newparent)) ||
	    arfs_req_node(parent)->kind == ARFS_NODE_SET ||
	    arfs_req_node(newparent)->kind == ARFS_NODE_SET ||
	    (arfs_req_node(parent)->kind == ARFS_NODE_ROOT &&
	     (arfs_store_find_group(arfs_fs.store, name) ||
	      arfs_store_find_set(arfs_fs.store, name))) ||
	    (arfs_req_node(newparent)->kind == ARFS_NODE_ROOT &&
	     arfs_store_find_group(arfs_fs.store, newname))) {
		reply_err(req, -EROFS);
		return;
	}
	if (!arr || !to || arr != to) {
		reply_err(req, -EXDEV); /* mv falls back to copy and remove */
		return;
	}
	reply_err(req, arfs_doc_rename(arr, name, newname, flags));
}

static void arfs_ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			 const char *newname)
{
	/* A document has exactly one name; groups are read-only. */
	struct arfs_node *dir = arfs_req_node(newparent);

	if (too_long(req, newname))
		return;
	reply_err(req, arfs_in_group(dir) || arfs_views_kind(dir->kind) ?
		  -EROFS : -EPERM);
}

static void arfs_ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			    const char *name)
{
	struct arfs_node *dir = arfs_req_node(parent);

	if (too_long(req, name))
		return;
	reply_err(req, arfs_in_group(dir) || arfs_views_kind(dir->kind) ?
		  -EROFS : -EPERM);
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
	enum arfs_node_kind k = arfs_req_node(ino)->kind;

	reply_err(req, arfs_is_group_kind(k) || arfs_views_kind(k) ? -EROFS
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
	return arfs_store_group_at(arfs_fs.store, 0) ||
	       arfs_store_set_at(arfs_fs.store, 0);
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
	n = arfs_req_node(ino);
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
	if (arfs_req_node(ino)->kind == ARFS_NODE_ROOT) {
		len = sizeof(STATS_XATTR);
		rc = size && size < len ? -ERANGE : 0;
		if (!rc && size)
			memcpy(buf, STATS_XATTR, len);
	} else {
		rc = arfs_grp_listxattr(arfs_req_node(ino), buf,
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
	enum arfs_node_kind k = arfs_req_node(ino)->kind;

	reply_err(req, arfs_is_group_kind(k) || arfs_views_kind(k) ? -EROFS
								   : -EOPNOTSUPP);
}

static void arfs_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->max_write = 1u << 20;
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	/*
	 * READDIRPLUS_AUTO: the kernel asks for attributes with the first
	 * batch of a listing and then only while the caller stats what it
	 * lists (ls -l); a plain ls of 10^6 documents gets names only, and the
	 * kernel builds no inode for each of them.
	 */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
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

