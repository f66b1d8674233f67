/*
 * ll_dir.c - folders: the root and array folders' attributes, mkdir and
 * rmdir of arrays, and listings (opendir, readdir, readdirplus) of every
 * kind of folder.
 */
#include "ll.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void arfs_fill_dir_stat(struct stat *st, struct arfs_node *n)
{
	struct timespec t[3];

	memset(st, 0, sizeof(*st));
	st->st_ino = arfs_node_st_ino(n);
	st->st_mode = S_IFDIR | (n->kind == ARFS_NODE_SET ? 0555 : 0755);
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = ARFS_BLKSIZE;
	arfs_store_dir_times(arfs_fs.store,
			     n->kind == ARFS_NODE_ARRAY ? n->arr : NULL, t);
	st->st_atim = t[0];
	st->st_mtim = t[1];
	st->st_ctim = t[2];
}

/*
 * Folders keep their access and modification times on the array's
 * directory (so rsync -a can restore them; its ctime is the folder's);
 * their mode and owner are the mount's. Creating, removing and renaming
 * documents moves mtime and ctime (arfs_store_touch()).
 */
int arfs_dir_setattr(struct arfs_node *n, const struct stat *st,
			 int to_set)
{
	struct timespec at = { 0, UTIME_OMIT }, mt = { 0, UTIME_OMIT };

	if (to_set & FUSE_SET_ATTR_SIZE)
		return -EISDIR;
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		return -EPERM;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		at.tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		at = st->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		mt.tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		mt = st->st_mtim;
	if (at.tv_nsec == UTIME_OMIT && mt.tv_nsec == UTIME_OMIT)
		return 0;
	return arfs_store_set_times(arfs_fs.store,
				    n->kind == ARFS_NODE_ARRAY ? n->arr : NULL,
				    at, mt);
}

/* ---- mkdir, rmdir ---- */

void arfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode)
{
	struct arfs_node *dir = arfs_req_node(parent), *n;
	struct arfs_store_array *arr;
	struct stat st;
	int rc;

	if (strlen(name) > NAME_MAX) {
		reply_err(req, -ENAMETOOLONG);
		return;
	}
	if (arfs_views_kind(dir->kind) || arfs_views_name(dir, name)) {
		reply_err(req, -EROFS);
		return;
	}
	if (arfs_in_group(dir) || dir->kind == ARFS_NODE_SET) {
		/* no new columns, no new SFrames in a model */
		reply_err(req, arfs_node_ro(dir) || dir->kind == ARFS_NODE_SET ?
			  -EROFS : -EPERM);
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
	arfs_fill_dir_stat(&st, n);
	arfs_reply_entry(req, n, &st);
}

void arfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct arfs_node *dir = arfs_req_node(parent);

	if (strlen(name) > NAME_MAX) {
		reply_err(req, -ENAMETOOLONG);
		return;
	}
	if (arfs_views_kind(dir->kind) || arfs_views_name(dir, name) ||
	    arfs_in_group(dir) || dir->kind == ARFS_NODE_SET ||
	    (dir->kind == ARFS_NODE_ROOT &&
	     (arfs_store_find_group(arfs_fs.store, name) ||
	      arfs_store_find_set(arfs_fs.store, name)))) {
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
 * Directory listings are snapshots taken at the first readdir of an open
 * folder: readdir offsets are indexes into the snapshot, so a listing
 * resumes exactly where it stopped whatever commits happen meanwhile.
 */
struct dirent_snap {
	size_t name_off;
	enum arfs_node_kind kind;
	struct arfs_store_array *arr;
	struct arfs_store_group *grp;
	struct arfs_store_set *set;
	struct arfs_docattr attr; /* DOC; attr.docno holds the key of others */
};

struct dir_snap {
	struct dirent_snap *v;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	bool built;   /* filled at the first readdir */
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
	d->v[d->n].grp = NULL;
	d->v[d->n].set = NULL;
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

/* Documents in a folder whose listing is taken off the request loop's lead. */
#define ARFS_LONG_LISTING 10000

static int snap_array(struct dir_snap *d, struct arfs_store_array *arr)
{
	struct pending_ctx pc = { d, 0 };
	struct arfs_docattr a;
	char name[NAME_MAX + 1];
	uint64_t cursor = 0;
	int rc = 0;

	/* A listing of many names takes a while: others go on meanwhile. */
	if (arfs_docarray_count(arr->da) > ARFS_LONG_LISTING)
		arfs_loop_blocking();
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

static int snap_view(void *ctx, const char *name, enum arfs_node_kind kind,
		     struct arfs_store_group *grp, uint64_t key)
{
	struct grp_ctx gc = { ctx, grp };

	return snap_grp(&gc, name, kind, key);
}

/* With -o views=visible the root lists .views, unless the store has it. */
static int snap_views_root(struct dir_snap *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->names + d->v[i].name_off, ".views"))
			return 0;
	return snap_view(d, ".views", ARFS_NODE_VROOT, NULL, 0);
}

static int snap_set(struct dir_snap *d, struct arfs_store_set *set)
{
	int rc = snap_add(d, set->name, ARFS_NODE_SET, NULL, NULL);

	if (!rc)
		d->v[d->n - 1].set = set;
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

/* Fill the snapshot of folder dir (empty d). */
static int snap_build(struct dir_snap *d, struct arfs_node *dir)
{
	struct arfs_store_array *arr = arfs_dir_array(dir), *a;
	struct arfs_store_group *g;
	struct arfs_store_set *s;
	struct grp_ctx gc = { d, NULL };
	int rc;

	rc = snap_add(d, ".", ARFS_NODE_ROOT, NULL, NULL);
	if (!rc)
		rc = snap_add(d, "..", ARFS_NODE_ROOT, NULL, NULL);
	if (!rc && arfs_views_kind(dir->kind)) {
		rc = arfs_views_list(dir, snap_view, d);
	} else if (!rc && arr) {
		rc = snap_array(d, arr);
	} else if (!rc && arfs_in_group(dir)) {
		gc.grp = dir->kind == ARFS_NODE_ROOT ? arfs_grp_root() : dir->grp;
		rc = arfs_grp_list(dir, snap_grp, &gc);
	} else if (!rc && dir->kind == ARFS_NODE_SET) {
		for (size_t i = 0; !rc && i < dir->set->ngroups; i++) {
			gc.grp = dir->set->groups[i];
			rc = snap_grp(&gc, gc.grp->name, ARFS_NODE_GROUP, 0);
		}
	} else if (!rc && !arr) {
		for (size_t i = 0; !rc && (a = arfs_store_array_at(arfs_fs.store, i)); i++)
			rc = snap_add(d, a->name, ARFS_NODE_ARRAY, a, NULL);
		gc.grp = NULL;
		for (size_t i = 0; !rc && (g = arfs_store_group_at(arfs_fs.store, i)); i++) {
			gc.grp = g;
			rc = snap_grp(&gc, g->name, ARFS_NODE_GROUP, 0);
		}
		for (size_t i = 0; !rc && (s = arfs_store_set_at(arfs_fs.store, i)); i++)
			rc = snap_set(d, s);
	}
	if (!rc && dir->kind == ARFS_NODE_ROOT &&
	    arfs_fs.views == ARFS_VIEWS_VISIBLE)
		rc = snap_views_root(d);
	if (!rc)
		d->built = true;
	return rc;
}

/*
 * May the kernel keep the listing it cached for this folder (cache_readdir
 * with keep_cache)? On a read-write mount every change of a name in a
 * document folder or the root comes through the kernel (create, unlink,
 * rename, mkdir, rmdir), which drops the cached listing itself; a group
 * commit renumbers block files behind the kernel's back, so group folders
 * are listed afresh. On a read-only mount another process writes: an
 * array folder's listing is kept while the array's generation is the one
 * of the last opendir (reloads happen at most a second apart, the mount's
 * documented delay); groups and the root do not change under it. The
 * views folders follow the groups on disk: never kept.
 */
static bool listing_kept(struct arfs_node *dir)
{
	uint64_t gen;
	bool keep;

	if (arfs_views_kind(dir->kind))
		return false;
	if (!arfs_fs.ro)
		return !arfs_in_group(dir);
	if (dir->kind != ARFS_NODE_ARRAY)
		return true;
	gen = arfs_docarray_generation(dir->arr->da) + 1;
	pthread_mutex_lock(&dir->lock);
	keep = dir->seen == gen;
	dir->seen = gen;
	pthread_mutex_unlock(&dir->lock);
	return keep;
}

/*
 * The snapshot is taken at the first readdir, not at opendir: when the
 * kernel serves the listing from its cache, an opendir costs nothing.
 */
void arfs_ll_opendir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct arfs_node *dir = arfs_req_node(ino);
	struct dir_snap *d = calloc(1, sizeof(*d));

	if (!d) {
		reply_err(req, -ENOMEM);
		return;
	}
	arfs_maybe_reload();
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->cache_readdir = 1;
	fi->keep_cache = listing_kept(dir);
	if (fuse_reply_open(req, fi) == -ENOENT)
		snap_free(d);
}

/* 0, or -errno for an entry that cannot be stat'ed (a damaged block). */
static int entry_stat(struct dirent_snap *e, struct stat *st,
		      struct arfs_node *dir)
{
	struct arfs_node tmp;
	int rc;

	if (arfs_views_kind(e->kind))
		return arfs_views_entry_stat(e->kind, e->grp, e->attr.docno, st);
	if (arfs_is_group_kind(e->kind)) {
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
		arfs_fill_doc_stat(st, e->arr, &e->attr, e->attr.docno);
		return 0;
	}
	memset(&tmp, 0, sizeof(tmp));
	tmp.kind = e->kind;
	tmp.arr = e->arr;
	tmp.set = e->set;
	arfs_fill_dir_stat(st, e->kind == ARFS_NODE_ROOT ? dir : &tmp);
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
	struct arfs_node *dir = arfs_req_node(ino), *n;
	char *buf = malloc(size), *name;
	size_t used = 0, ent;
	struct fuse_entry_param e;
	bool bad;
	int rc;

	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	if (!d->built && (rc = snap_build(d, dir))) {
		free(d->v);
		free(d->names);
		memset(d, 0, sizeof(*d));
		free(buf);
		reply_err(req, rc);
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
		if (bad || d->v[i].kind == ARFS_NODE_VFILE) {
			/*
			 * No entry for the kernel to cache: a lookup reports.
			 * (A view file's size may cost a full rendering: not
			 * for a listing.)
			 */
		} else if (arfs_views_kind(d->v[i].kind)) {
			n = arfs_views_ref(d->v[i].kind, d->v[i].grp,
					   d->v[i].attr.docno);
			if (!n)
				break;
			e.ino = arfs_inode_id(n);
			e.attr_timeout = e.entry_timeout = arfs_node_timeout(n);
		} else if (arfs_is_group_kind(d->v[i].kind)) {
			n = arfs_inode_ref_grp(d->v[i].kind, d->v[i].grp,
					       d->v[i].attr.docno);
			if (!n)
				break;
			e.ino = arfs_inode_id(n);
			e.attr_timeout = e.entry_timeout = arfs_node_timeout(n);
		} else if (d->v[i].kind == ARFS_NODE_SET) {
			n = arfs_inode_ref_set(d->v[i].set);
			if (!n)
				break;
			e.ino = arfs_inode_id(n);
			e.attr_timeout = e.entry_timeout = arfs_fs.timeout;
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
			if (d->v[i].kind == ARFS_NODE_DOC && arfs_node_stat(n, &e.attr)) {
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

void arfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void arfs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
				off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void arfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_file_info *fi)
{
	snap_free((struct dir_snap *)(uintptr_t)fi->fh);
	reply_err(req, 0);
}
