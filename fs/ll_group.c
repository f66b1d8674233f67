/*
 * ll_group.c - segment groups in the mount: a group folder
 * holds one folder per column (named by the idname rule, so '/' and the
 * like are escaped), each holding its blocks as text files named
 * "<segment>.<block>" (4 and 6 digits, zero-padded: names sort in row
 * order). A block file's bytes are the block's values, one per line, in
 * the text form of docs/FORMAT.md; sizes are exact (recorded in the
 * group's index or size cache, else rendered once per block; kept by the
 * block manager).
 *
 * Extended attributes (user.arrayfs.*): a column folder has type and rows;
 * a block file has first_row, rows, stored_size, decoded_size, compression.
 *
 * This file is the reading side. In a read-write mount block files can be
 * written, created and removed: see ll_groupw.c, which also owns the
 * group views' lifetime ("Views" there); every exported call here runs
 * inside arfs_grp_view_enter()/arfs_grp_view_leave().
 */
#include "ll_group_int.h"
#include "blockmgr.h"
#include "group.h"
#include "idname.h"
#include "segment.h"
#include "typed.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct arfs_store_group *arfs_grp_root(void)
{
	if (!arfs_store_is_single(arfs_fs.store) ||
	    arfs_store_array_at(arfs_fs.store, 0))
		return NULL;
	return arfs_store_group_at(arfs_fs.store, 0);
}

static int column_name(struct arfs_store_group *sg, uint64_t c, char *out,
		       size_t cap)
{
	const char *name = sg->g->cols[c].name;
	ssize_t n = arfs_idname_from_utf8(name, strlen(name), out, cap);

	return n < 0 ? (int)n : 0;
}

void arfs_grp_block_name(const struct arfs_colblock *b, char *out,
			 size_t cap)
{
	snprintf(out, cap, "%04" PRIu64 ".%06" PRIu64, b->seg, b->blk);
}

/* stat of a group node; a block's size from col if given (a pinned view) */
static int grp_stat(enum arfs_node_kind kind, struct arfs_store_group *sg,
		    uint64_t key, struct arfs_column *col, struct stat *st)
{
	ssize_t size;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = (uint64_t)sg->number << ARFS_INO_SHIFT | key;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 1u << 20;
	st->st_mtim = st->st_ctim = st->st_atim = sg->mtime;
	if (kind != ARFS_NODE_BLOCK) {
		st->st_mode = S_IFDIR | (arfs_fs.ro || sg->ro ? 0555 : 0755);
		st->st_nlink = 2;
		return 0;
	}
	if (!col)
		rc = arfs_store_column(arfs_fs.store, sg, arfs_grp_key_col(key),
				       &col);
	if (rc)
		return rc;
	size = arfs_blockmgr_text_size(arfs_fs.mgr, col, arfs_grp_key_blk(key));
	if (size < 0)
		return size == -ERANGE ? -ENOENT : (int)size; /* removed */
	st->st_mode = S_IFREG | (arfs_fs.ro || sg->ro ? 0444 : 0644);
	st->st_nlink = 1;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	return 0;
}

/* The group a folder node shows (group folder or the root of one). */
struct arfs_store_group *arfs_grp_dir_group(struct arfs_node *dir)
{
	if (dir->kind == ARFS_NODE_GROUP || dir->kind == ARFS_NODE_COLUMN)
		return dir->grp;
	return dir->kind == ARFS_NODE_ROOT ? arfs_grp_root() : NULL;
}

static int lookup_column(struct arfs_store_group *sg, const char *name,
			 uint64_t *key)
{
	char buf[NAME_MAX + 1];

	for (uint64_t c = 0; c < sg->g->ncols; c++)
		if (!column_name(sg, c, buf, sizeof(buf)) && !strcmp(buf, name)) {
			*key = ARFS_GROUP_KEY(c, 0);
			return 0;
		}
	return -ENOENT;
}

int arfs_grp_lookup_block(struct arfs_store_group *sg, uint64_t c,
			  const char *name, uint64_t *key)
{
	const struct arfs_colblock *b;
	struct arfs_column *col;
	char buf[64];
	int rc = arfs_store_column(arfs_fs.store, sg, c, &col);

	if (rc)
		return rc;
	for (uint64_t i = 0; (b = arfs_column_block(col, i)); i++) {
		arfs_grp_block_name(b, buf, sizeof(buf));
		if (!strcmp(buf, name)) {
			*key = ARFS_GROUP_KEY(c, i + 1);
			return 0;
		}
	}
	return -ENOENT;
}

static int grp_lookup_v(struct arfs_node *dir, const char *name,
			struct arfs_node **out, struct stat *st)
{
	struct arfs_store_group *sg = arfs_grp_dir_group(dir);
	enum arfs_node_kind kind;
	uint64_t key;
	int rc;

	if (!sg)
		return -ENOENT;
	if (dir->kind == ARFS_NODE_COLUMN) {
		kind = ARFS_NODE_BLOCK;
		rc = arfs_grp_lookup_block(sg, arfs_grp_key_col(dir->docno),
					   name, &key);
		if (rc == -ENOENT && name[0] == '.' &&
		    (*out = arfs_grp_lookup_temp(sg,
					arfs_grp_key_col(dir->docno), name))) {
			rc = arfs_grp_stat_node_v(*out, 0, st);
			if (rc)
				arfs_inode_forget(*out, 1);
			return rc;
		}
	} else {
		kind = ARFS_NODE_COLUMN;
		rc = lookup_column(sg, name, &key);
	}
	if (!rc)
		rc = grp_stat(kind, sg, key, NULL, st);
	if (rc)
		return rc;
	*out = arfs_inode_ref_grp(kind, sg, key);
	return *out ? 0 : -ENOMEM;
}

static int grp_list_v(struct arfs_node *dir,
		      int (*add)(void *ctx, const char *name,
				 enum arfs_node_kind kind, uint64_t key),
		      void *ctx)
{
	struct arfs_store_group *sg = arfs_grp_dir_group(dir);
	const struct arfs_colblock *b;
	struct arfs_column *col;
	char buf[NAME_MAX + 1];
	uint64_t c;
	int rc = 0;

	if (!sg)
		return -ENOTDIR;
	if (dir->kind != ARFS_NODE_COLUMN) {
		for (c = 0; !rc && c < sg->g->ncols; c++)
			if (!column_name(sg, c, buf, sizeof(buf)))
				rc = add(ctx, buf, ARFS_NODE_COLUMN,
					 ARFS_GROUP_KEY(c, 0));
		return rc;
	}
	c = arfs_grp_key_col(dir->docno);
	rc = arfs_store_column(arfs_fs.store, sg, c, &col);
	for (uint64_t i = 0; !rc && (b = arfs_column_block(col, i)); i++) {
		arfs_grp_block_name(b, buf, sizeof(buf));
		rc = add(ctx, buf, ARFS_NODE_BLOCK, ARFS_GROUP_KEY(c, i + 1));
	}
	return rc;
}

/* The column a pin (a view's column array, or 0) holds for block n. */
static struct arfs_column *pinned_col(struct arfs_node *n, uint64_t pin)
{
	if (!pin)
		return NULL;
	return ((struct arfs_column **)(uintptr_t)pin)
		[arfs_grp_key_col(n->docno)];
}

int arfs_grp_stat_node_v(struct arfs_node *n, uint64_t pin, struct stat *st)
{
	struct arfs_buf *buf = NULL;
	int rc;

	pthread_mutex_lock(&n->lock);
	if (n->wbuf) {
		buf = n->wbuf;
		st->st_size = (off_t)arfs_buf_size(buf);
	}
	pthread_mutex_unlock(&n->lock);
	if (!buf || n->kind != ARFS_NODE_BLOCK)
		return grp_stat(n->kind, n->grp, n->docno, pinned_col(n, pin),
				st);
	/* being written, or a new/temporary file: the buffer's size */
	rc = grp_stat(ARFS_NODE_GROUP, n->grp, n->docno, NULL, st);
	pthread_mutex_lock(&n->lock);
	st->st_size = n->wbuf ? (off_t)arfs_buf_size(n->wbuf) : 0;
	pthread_mutex_unlock(&n->lock);
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_blocks = (st->st_size + 511) / 512;
	return rc;
}

/*
 * Reply from a block's rendered text, pinned in the pool: a pointer into
 * the buffer, no copy of ours (a text buffer is never written after its
 * load, so it cannot move while pinned).
 */
static int reply_text(fuse_req_t req, struct arfs_buf *buf, size_t size,
		      off_t off)
{
	const char *data = arfs_buf_data(buf);
	uint64_t len = arfs_buf_size(buf);

	if (!data)	/* spilled to a staging file */
		return arfs_reply_buf_copy(req, buf, size, off);
	if ((uint64_t)off >= len)
		size = 0;
	else if (size > len - (uint64_t)off)
		size = (size_t)(len - (uint64_t)off);
	fuse_reply_buf(req, size ? data + off : NULL, size);
	return 0;
}

static int grp_read_v(fuse_req_t req, struct arfs_node *n, uint64_t pin,
		      size_t size, off_t off)
{
	struct arfs_column *col = pinned_col(n, pin);
	uint64_t blk = arfs_grp_key_blk(n->docno);
	struct arfs_buf *buf;
	int rc;

	pthread_mutex_lock(&n->lock);	/* being written: its own bytes */
	buf = n->wbuf;
	rc = buf ? arfs_reply_buf_copy(req, buf, size, off) : 0;
	pthread_mutex_unlock(&n->lock);
	if (buf)
		return rc;

	if (!col) {
		rc = arfs_store_column(arfs_fs.store, n->grp,
				       arfs_grp_key_col(n->docno), &col);
		if (rc)
			return rc;
	}
	if (off == 0)	/* read from its start: decode the next ones ahead */
		arfs_blockmgr_prefetch(arfs_fs.mgr, col, blk + 1);
	rc = arfs_blockmgr_pin_text(arfs_fs.mgr, col, blk, &buf);
	if (rc)
		return rc;
	rc = reply_text(req, buf, size, off);
	arfs_bufpool_unpin(arfs_fs.pool, buf);
	return rc;
}

/* ---- extended attributes ---- */

static const char *const column_xattrs[] = { "user.arrayfs.type",
					     "user.arrayfs.rows", NULL };
static const char *const block_xattrs[] = {
	"user.arrayfs.first_row", "user.arrayfs.rows",
	"user.arrayfs.stored_size", "user.arrayfs.decoded_size",
	"user.arrayfs.compression", NULL
};

static const char *const *xattr_names(struct arfs_node *n)
{
	if (n->kind == ARFS_NODE_COLUMN)
		return column_xattrs;
	return n->kind == ARFS_NODE_BLOCK ? block_xattrs : NULL;
}

static const char *compression(uint64_t flags)
{
	if (flags & ARFS_BLOCK_LZ4)
		return "lz4";
	return flags & ARFS_BLOCK_ZSTD ? "zstd" : "none";
}

static int block_xattr(struct arfs_node *n, const char *name, char *val,
		       size_t cap)
{
	const struct arfs_colblock *b;
	struct arfs_column *col;
	int rc;

	rc = arfs_store_column(arfs_fs.store, n->grp,
			       arfs_grp_key_col(n->docno), &col);
	if (rc)
		return rc;
	b = arfs_column_block(col, arfs_grp_key_blk(n->docno));
	if (!b)
		return -ENOENT;
	if (!strcmp(name, "user.arrayfs.first_row"))
		snprintf(val, cap, "%" PRIu64, b->first_row);
	else if (!strcmp(name, "user.arrayfs.rows"))
		snprintf(val, cap, "%" PRIu64, b->rows);
	else if (!strcmp(name, "user.arrayfs.stored_size"))
		snprintf(val, cap, "%" PRIu64, b->stored);
	else if (!strcmp(name, "user.arrayfs.decoded_size"))
		snprintf(val, cap, "%" PRIu64, b->decoded);
	else if (!strcmp(name, "user.arrayfs.compression"))
		snprintf(val, cap, "%s", compression(b->flags));
	else
		return -ENODATA;
	return 0;
}

static int grp_getxattr_v(struct arfs_node *n, const char *name, char *buf,
			  size_t cap, size_t *len)
{
	const struct arfs_group_column *gc;
	char val[64];
	int rc = 0;

	if (n->kind == ARFS_NODE_COLUMN) {
		gc = &n->grp->g->cols[arfs_grp_key_col(n->docno)];
		if (!strcmp(name, "user.arrayfs.type"))
			snprintf(val, sizeof(val), "%s", arfs_ftype_name(gc->type));
		else if (!strcmp(name, "user.arrayfs.rows"))
			snprintf(val, sizeof(val), "%" PRIu64, gc->rows);
		else
			rc = -ENODATA;
	} else if (n->kind == ARFS_NODE_BLOCK) {
		rc = block_xattr(n, name, val, sizeof(val));
	} else {
		rc = -ENODATA;
	}
	if (rc)
		return rc;
	*len = strlen(val);
	if (cap && *len > cap)
		return -ERANGE;
	if (cap)
		memcpy(buf, val, *len);
	return 0;
}

static int grp_listxattr_v(struct arfs_node *n, char *buf, size_t cap,
			   size_t *len)
{
	const char *const *names = xattr_names(n);
	size_t used = 0, l;

	for (; names && *names; names++) {
		l = strlen(*names) + 1;
		if (cap && used + l > cap)
			return -ERANGE;
		if (cap)
			memcpy(buf + used, *names, l);
		used += l;
	}
	*len = used;
	return 0;
}

/* ---- the exported read calls ---- */

int arfs_grp_stat(enum arfs_node_kind kind, struct arfs_store_group *sg,
		  uint64_t key, struct stat *st)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_stat(kind, sg, key, NULL, st);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_lookup(struct arfs_node *dir, const char *name,
		    struct arfs_node **out, struct stat *st)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_lookup_v(dir, name, out, st);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_list(struct arfs_node *dir,
		  int (*add)(void *ctx, const char *name,
			     enum arfs_node_kind kind, uint64_t key),
		  void *ctx)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_list_v(dir, add, ctx);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_read(fuse_req_t req, struct arfs_node *n, uint64_t pin,
		  size_t size, off_t off)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_read_v(req, n, pin, size, off);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_getxattr(struct arfs_node *n, const char *name, char *buf,
		      size_t cap, size_t *len)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_getxattr_v(n, name, buf, cap, len);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_listxattr(struct arfs_node *n, char *buf, size_t cap,
		       size_t *len)
{
	int rc;

	arfs_grp_view_enter();
	rc = grp_listxattr_v(n, buf, cap, len);
	arfs_grp_view_leave();
	return rc;
}

int arfs_grp_stat_node(struct arfs_node *n, uint64_t pin, struct stat *st)
{
	int rc;

	arfs_grp_view_enter();
	rc = arfs_grp_stat_node_v(n, pin, st);
	arfs_grp_view_leave();
	return rc;
}
