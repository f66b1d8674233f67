/*
 * ll.h - shared by the low-level handler files: the request dispatch
 * (ll_ops.c), document nodes (ll_doc.c), folders and listings (ll_dir.c)
 * and segment groups (ll_group.c and ll_groupw.c, declared in fs.h). Not
 * a library interface. Every function here may be called from any FUSE
 * worker thread; errors are negative errno values.
 */
#ifndef ARFS_LL_H
#define ARFS_LL_H

#include "fs.h"

#include <sys/stat.h>

/* st_blksize of every file: reads and writes go in 1 MiB pieces */
#define ARFS_BLKSIZE (1u << 20)

static inline void reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rc < 0 ? -rc : rc);
}

/* fs/ll_ops.c: what every kind of node needs */

/* The node of a request's inode number (arfs_inode_get), telling the
 * request loop when the request may take long (groups, views). */
struct arfs_node *arfs_req_node(fuse_ino_t ino);

/* The array a folder node shows, or NULL (root of a multi store, group). */
struct arfs_store_array *arfs_dir_array(struct arfs_node *dir);
/* Read-only mounts: reload the arrays if the last reload is over 1 s old. */
void arfs_maybe_reload(void);
bool arfs_is_group_kind(enum arfs_node_kind k);
/* name in dir is the views folder's (MNT/.views, views not off) */
bool arfs_views_name(struct arfs_node *dir, const char *name);
/* A folder of a segment group, or the root of a single-group store. */
bool arfs_in_group(struct arfs_node *dir);
/* A group node, or folder in one, that takes no writes (EROFS). */
bool arfs_node_ro(const struct arfs_node *n);
/* Entry and attribute timeout the kernel gets for the node. */
double arfs_node_timeout(const struct arfs_node *n);
/* Current attributes of any node. */
int arfs_node_stat(struct arfs_node *n, struct stat *st);
void arfs_reply_entry(fuse_req_t req, struct arfs_node *n,
		      const struct stat *st);

/* fs/ll_dir.c: folders */

void arfs_fill_dir_stat(struct stat *st, struct arfs_node *n);
/* setattr of a folder: only the access and modification times are kept. */
int arfs_dir_setattr(struct arfs_node *n, const struct stat *st, int to_set);
void arfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode);
void arfs_ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void arfs_ll_opendir(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi);
void arfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void arfs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi);
void arfs_ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);

/* fs/ll_doc.c: documents (n->kind == ARFS_NODE_DOC, arr an array) */

void arfs_fill_doc_stat(struct stat *st, struct arfs_store_array *arr,
			const struct arfs_docattr *a, uint64_t docno);
/* Fields of a FUSE setattr into *a; returns the ARFS_ATTR_* mask set. */
unsigned arfs_attr_from_fuse(const struct stat *st, int to_set,
			     struct arfs_docattr *a);
/* Live attributes (size from a write buffer if any). */
int arfs_doc_stat(struct arfs_node *n, struct stat *st);
/* Node for arr/name with one lookup added in *out, and its attributes. */
int arfs_doc_lookup(struct arfs_store_array *arr, const char *name,
		    struct arfs_node **out, struct stat *st);
int arfs_doc_setattr(struct arfs_node *n, const struct stat *attr,
		     int to_set);
/* open and read reply themselves */
void arfs_doc_open(fuse_req_t req, struct arfs_node *n,
		   struct fuse_file_info *fi);
void arfs_doc_read(fuse_req_t req, struct arfs_node *n, size_t size,
		   off_t off);
int arfs_doc_write(struct arfs_node *n, const char *data, size_t size,
		   off_t off);
/* flush commits the write buffer; fsync also makes it durable */
int arfs_doc_flush(struct arfs_node *n);
int arfs_doc_fsync(struct arfs_node *n);
/* a writer's close: commit (errors logged), drop the buffer if last */
void arfs_doc_release(struct arfs_node *n);
/* any close of a document, before its hold is dropped: the last close
 * of an unlinked document frees the buffer kept for it */
void arfs_doc_close(struct arfs_node *n);
/* a new document, *out with one lookup added */
int arfs_doc_create(fuse_req_t req, struct arfs_store_array *arr,
		    const char *name, mode_t mode, struct arfs_node **out,
		    struct stat *st);
int arfs_doc_unlink(struct arfs_store_array *arr, const char *name);
/* rename within one array (flags: 0 or RENAME_NOREPLACE) */
int arfs_doc_rename(struct arfs_store_array *arr, const char *name,
		    const char *newname, unsigned flags);

/* fs/ll_views.c: the views folder (kinds VROOT, VSET, VGROUP,
 * VFILE) */

bool arfs_views_kind(enum arfs_node_kind k);
/* Node for (kind, group, key) with one lookup added, or NULL. */
struct arfs_node *arfs_views_ref(enum arfs_node_kind kind,
				 struct arfs_store_group *sg, uint64_t key);
/* MNT/.views: -ENOENT with -o views=off, -EEXIST (logged once) when the
 * store shows an entry of that name itself. */
int arfs_views_root_lookup(bool store_has_it, struct arfs_node **out,
			   struct stat *st);
int arfs_views_lookup(struct arfs_node *dir, const char *name,
		      struct arfs_node **out, struct stat *st);
/* Attributes of a view node; a file's size that of the version open in
 * fh (0: the current one). */
int arfs_views_stat(struct arfs_node *n, uint64_t fh, struct stat *st);
/* Attributes without computing a size, for listings. */
int arfs_views_entry_stat(enum arfs_node_kind kind,
			  struct arfs_store_group *sg, uint64_t key,
			  struct stat *st);
int arfs_views_list(struct arfs_node *dir,
		    int (*add)(void *ctx, const char *name,
			       enum arfs_node_kind kind,
			       struct arfs_store_group *sg, uint64_t key),
		    void *ctx);
/* open: fills fi->fh and fi->keep_cache; -EROFS for writing, -EISDIR */
int arfs_views_open(struct arfs_node *n, struct fuse_file_info *fi);
/* 0 once replied, or -errno for the caller to reply */
int arfs_views_read(fuse_req_t req, uint64_t fh, size_t size, off_t off);
void arfs_views_release(uint64_t fh);
/* free every version (at unmount, before arfs_store_close) */
void arfs_views_shutdown(void);

#endif
