/*
 * ll_group.c - segment groups in the mount (read-only): a group folder
 * holds one folder per column (named by the idname rule, so '/' and the
 * like are escaped), each holding its blocks as text files named
 * "<segment>.<block>" (4 and 6 digits, zero-padded: names sort in row
 * order). A block file's bytes are the block's values, one per line, in
 * the text form of docs/FORMAT.md; sizes are exact (rendered once per
 * block, remembered by the block manager).
 *
 * Extended attributes (user.arrayfs.*): a column folder has type and rows;
 * a block file has first_row, rows, stored_size, decoded_size, compression.
 */
#include "fs.h"
#include "blockmgr.h"
#include "group.h"
#include "idname.h"
#include "segment.h"
#include "typed.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct arfs_store_group *arfs_grp_root(void)
{
	if (!arfs_store_is_single(arfs_fs.store) ||
	    arfs_store_array_at(arfs_fs.store, 0))
		return NULL;
	return arfs_store_group_at(arfs_fs.store, 0);
}

static uint64_t key_col(uint64_t key)
{
	return (key >> ARFS_COL_SHIFT) - 1;
}

static uint64_t key_blk(uint64_t key)
{
	return (key & ((UINT64_C(1) << ARFS_COL_SHIFT) - 1)) - 1;
}

static int column_name(struct arfs_store_group *sg, uint64_t c, char *out,
		       size_t cap)
{
	const char *name = sg->g->cols[c].name;
	ssize_t n = arfs_idname_from_utf8(name, strlen(name), out, cap);

	return n < 0 ? (int)n : 0;
}

static void block_name(const struct arfs_colblock *b, char *out, size_t cap)
{
	snprintf(out, cap, "%04" PRIu64 ".%06" PRIu64, b->seg, b->blk);
}

int arfs_grp_stat(enum arfs_node_kind kind, struct arfs_store_group *sg,
		  uint64_t key, struct stat *st)
{
	struct arfs_column *col;
	ssize_t size;
	int rc;

	memset(st, 0, sizeof(*st));
	st->st_ino = (uint64_t)sg->number << ARFS_INO_SHIFT | key;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 1u << 20;
	st->st_mtim = st->st_ctim = st->st_atim = sg->mtime;
	if (kind != ARFS_NODE_BLOCK) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return 0;
	}
	rc = arfs_store_column(arfs_fs.store, sg, key_col(key), &col);
	if (rc)
		return rc;
	size = arfs_blockmgr_text_size(arfs_fs.mgr, col, key_blk(key));
	if (size < 0)
		return (int)size;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	return 0;
}

/* The group a folder node shows (group folder or the root of one). */
static struct arfs_store_group *dir_group(struct arfs_node *dir)
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

static int lookup_block(struct arfs_store_group *sg, uint64_t c,
			const char *name, uint64_t *key)
{
	const struct arfs_colblock *b;
	struct arfs_column *col;
	char buf[64];
	int rc = arfs_store_column(arfs_fs.store, sg, c, &col);

	if (rc)
		return rc;
	for (uint64_t i = 0; (b = arfs_column_block(col, i)); i++) {
		block_name(b, buf, sizeof(buf));
		if (!strcmp(buf, name)) {
			*key = ARFS_GROUP_KEY(c, i + 1);
			return 0;
		}
	}
	return -ENOENT;
}

int arfs_grp_lookup(struct arfs_node *dir, const char *name,
		    struct arfs_node **out, struct stat *st)
{
	struct arfs_store_group *sg = dir_group(dir);
	enum arfs_node_kind kind;
	uint64_t key;
	int rc;

	if (!sg)
		return -ENOENT;
	if (dir->kind == ARFS_NODE_COLUMN) {
		kind = ARFS_NODE_BLOCK;
		rc = lookup_block(sg, key_col(dir->docno), name, &key);
	} else {
		kind = ARFS_NODE_COLUMN;
		rc = lookup_column(sg, name, &key);
	}
	if (!rc)
		rc = arfs_grp_stat(kind, sg, key, st);
	if (rc)
		return rc;
	*out = arfs_inode_ref_grp(kind, sg, key);
	return *out ? 0 : -ENOMEM;
}

int arfs_grp_list(struct arfs_node *dir,
		  int (*add)(void *ctx, const char *name,
			     enum arfs_node_kind kind, uint64_t key),
		  void *ctx)
{
	struct arfs_store_group *sg = dir_group(dir);
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
	c = key_col(dir->docno);
	rc = arfs_store_column(arfs_fs.store, sg, c, &col);
	for (uint64_t i = 0; !rc && (b = arfs_column_block(col, i)); i++) {
		block_name(b, buf, sizeof(buf));
		rc = add(ctx, buf, ARFS_NODE_BLOCK, ARFS_GROUP_KEY(c, i + 1));
	}
	return rc;
}

int arfs_grp_read(struct arfs_node *n, size_t size, off_t off, char *dst,
		  size_t *got)
{
	struct arfs_column *col;
	ssize_t r;
	int rc;

	rc = arfs_store_column(arfs_fs.store, n->grp, key_col(n->docno), &col);
	if (rc)
		return rc;
	r = arfs_blockmgr_read_text(arfs_fs.mgr, col, key_blk(n->docno), dst,
				    size, (uint64_t)off);
	if (r < 0)
		return (int)r;
	*got = (size_t)r;
	return 0;
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

	rc = arfs_store_column(arfs_fs.store, n->grp, key_col(n->docno), &col);
	if (rc)
		return rc;
	b = arfs_column_block(col, key_blk(n->docno));
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

int arfs_grp_getxattr(struct arfs_node *n, const char *name, char *buf,
		      size_t cap, size_t *len)
{
	const struct arfs_group_column *gc;
	char val[64];
	int rc = 0;

	if (n->kind == ARFS_NODE_COLUMN) {
		gc = &n->grp->g->cols[key_col(n->docno)];
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

int arfs_grp_listxattr(struct arfs_node *n, char *buf, size_t cap, size_t *len)
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
