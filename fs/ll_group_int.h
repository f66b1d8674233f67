/*
 * ll_group_int.h - internals shared by the two files of the segment-group
 * nodes: the reading side (ll_group.c) and the writing side with the
 * group views' lifetime (ll_groupw.c). Not a library interface: the rest
 * of the daemon calls the arfs_grp_* functions of fs.h. Every function
 * here may be called from any FUSE worker thread; errors are negative
 * errno values.
 */
#ifndef ARFS_LL_GROUP_INT_H
#define ARFS_LL_GROUP_INT_H

#include "fs.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct arfs_colblock;

/* Column and block index of a group node's key (ARFS_GROUP_KEY). */
static inline uint64_t arfs_grp_key_col(uint64_t key)
{
	return (key >> ARFS_COL_SHIFT) - 1;
}

static inline uint64_t arfs_grp_key_blk(uint64_t key)
{
	return (key & ((UINT64_C(1) << ARFS_COL_SHIFT) - 1)) - 1;
}

/*
 * The views. Every exported arfs_grp_* call of both files runs between
 * arfs_grp_view_enter() and arfs_grp_view_leave() (a reader of the views'
 * rwlock), so no view it finds is freed under it; the functions below
 * that touch a group view expect the caller to be inside. Leaving may free
 * retired views nothing uses. (ll_groupw.c, "Views")
 */
void arfs_grp_view_enter(void);
void arfs_grp_view_leave(void);

/* ll_group.c */

/* The group a folder node shows (group folder or the root of one), or
 * NULL. */
struct arfs_store_group *arfs_grp_dir_group(struct arfs_node *dir);
/* A block file's name, "<segment>.<block>", into out (cap bytes). */
void arfs_grp_block_name(const struct arfs_colblock *b, char *out,
			 size_t cap);
/*
 * The key of block file `name` of column c in sg's current view into
 * *key: 0, -ENOENT if no block has that name, or the error opening the
 * column.
 */
int arfs_grp_lookup_block(struct arfs_store_group *sg, uint64_t c,
			  const char *name, uint64_t *key);
/* Body of arfs_grp_stat_node() (fs.h), for a caller inside the views. */
int arfs_grp_stat_node_v(struct arfs_node *n, uint64_t pin, struct stat *st);

/* ll_groupw.c */

/*
 * A temporary file of column c of sg named `name` (read-write mounts):
 * its node with one lookup added (the caller forgets it), or NULL if
 * there is none (or no memory). Takes the mount's group write lock.
 */
struct arfs_node *arfs_grp_lookup_temp(struct arfs_store_group *sg,
				       uint64_t c, const char *name);

#endif
