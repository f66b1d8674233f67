/*
 * ll_views.c - the views folder, MNT/.views (core/view.h; docs/FORMAT.md,
 * "Views"): for every segment group G of the store, named as in the
 * mount root (a single-group store: its folder's name),
 *
 *   .views/G.csv            the group as CSV (`arrayctl export G`)
 *   .views/G.jsonl          the group as JSON Lines
 *   .views/G/COLUMN.txt     the column's text (its block files in a row)
 *   .views/G/COLUMN.npy     int, float and fixed-length vector columns
 *   .views/G/COLUMN/ROW.EXT image columns: one image file per row that
 *                           has one (.jpg, .png; raw pixels as PNG)
 *
 * with COLUMN named as the column folders are (the idname rule). A
 * folder of SFrames (a set, FOLDER in the mount root) is a folder
 * .views/FOLDER holding the same for each of its groups LEAF:
 * .views/FOLDER/LEAF.csv, LEAF.jsonl and LEAF/ as above. The
 * folder is read-only (EROFS), not listed in the root unless -o
 * views=visible, and absent with -o views=off. A name the store shows
 * wins over a view name: a root entry ".views" hides the folder, in
 * .views a group folder G or set folder FOLDER (in .views/FOLDER a
 * folder LEAF) hides a file G'.csv or G'.jsonl of the same name, and an
 * image column's folder COLUMN hides a file of that name in .views/G;
 * each is logged once.
 *
 * Nodes are (kind, group, key), the key the st_ino's low 42 bits (fs.h):
 * VROOT .views (no group); VSET .views/FOLDER (no group, key the whole
 * st_ino: the set's number << 42 | VKEY_BASE, so one key per set);
 * VGROUP .views/G (key VKEY_BASE) and image folders (VKEY(col, IMAGE));
 * VFILE the files (VKEY(-1, CSV|JSONL), VKEY(col, TXT|NPY),
 * VKEY_IMGFILE(col, row)). A set's groups have their own numbers, so
 * their nodes are keyed exactly as a top-level group's.
 *
 * Versions. The views of a group are served from a "vgroup": one source
 * (struct arfs_viewsrc, one version of the group read from disk) and the
 * views made of it, created on first use. Every lookup, stat and open
 * checks that the group's index files are still those the source read;
 * when a commit (through the mount or by another writer) replaced them,
 * a new vgroup becomes current, so later opens see the new data, while
 * files already open keep their vgroup (counted in `opens`) until their
 * release. A vgroup neither current nor open is freed. The page cache
 * is kept across opens of a file only while its version is unchanged.
 *
 * Locking: vlock protects the vgroup list, each vgroup's views[] slots
 * and open counts. It is held while a source is opened (index parse,
 * segment tables) but never during a view's layout or a read.
 */
#include "ll.h"
#include "blockmgr.h"
#include "bufpool.h"
#include "group.h"
#include "idname.h"
#include "typed.h"
#include "util.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VKEY_BASE (UINT64_C(1) << 41)
#define VKEY(col, kind) (VKEY_BASE | ((uint64_t)(col) + 1) << 3 | (kind))
/* image file keys: column < 256, row < 2^32 (larger ones are not shown) */
#define VKEY_IMG (UINT64_C(1) << 40)
#define VKEY_IMGFILE(col, row) (VKEY_BASE | VKEY_IMG | (uint64_t)(col) << 32 | \
				(row))
#define IMG_MAX_COL 256
#define IMG_MAX_ROW (UINT64_C(1) << 32)
/* .views/FOLDER of a set: owner NULL (as .views), the key its st_ino */
#define VKEY_SET(set) ((uint64_t)(set)->number << ARFS_INO_SHIFT | VKEY_BASE)

struct vgroup {
	struct vgroup *next;
	struct arfs_store_group *sg;
	struct arfs_viewsrc *src;
	uint64_t nviews;
	struct arfs_view **views;	/* [vlock] CSV, JSONL, TXT/NPY per column */
	unsigned opens;			/* [vlock] open files reading it */
	bool current;			/* [vlock] */
};

struct vhandle {
	struct vgroup *vg;
	struct arfs_view *v;		/* NULL: an image file */
	uint64_t col, row;		/* image file */
};

static pthread_mutex_t vlock = PTHREAD_MUTEX_INITIALIZER;
static struct vgroup *vgroups;		/* [vlock] */
static atomic_bool logged_root, logged_names;

bool arfs_views_kind(enum arfs_node_kind k)
{
	return k == ARFS_NODE_VROOT || k == ARFS_NODE_VGROUP ||
	       k == ARFS_NODE_VSET || k == ARFS_NODE_VFILE;
}

static bool key_img(uint64_t key)
{
	return key & VKEY_IMG;
}

static unsigned key_kind(uint64_t key)
{
	return key_img(key) ? ARFS_VIEW_IMAGE : key & 7;
}

static uint64_t key_col(uint64_t key)
{
	if (key_img(key))
		return (key >> 32) & (IMG_MAX_COL - 1);
	return ((key & ~VKEY_BASE) >> 3) - 1;
}

static uint64_t key_row(uint64_t key)
{
	return key & (IMG_MAX_ROW - 1);
}

/* ---- versions ---------------------------------------------------------- */

static void vgroup_free(struct vgroup *vg)
{
	for (uint64_t i = 0; i < vg->nviews; i++)
		arfs_view_free(vg->views[i]);
	free(vg->views);
	arfs_viewsrc_put(vg->src);
	free(vg);
}

/* Unlink and free vg if nothing uses it. [vlock] */
static void vgroup_reap(struct vgroup *vg)
{
	struct vgroup **pp;

	if (vg->current || vg->opens)
		return;
	for (pp = &vgroups; *pp && *pp != vg; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = vg->next;
	vgroup_free(vg);
}

/* The current vgroup of sg, a new one if the group changed. [vlock] */
static int vgroup_current(struct arfs_store_group *sg, struct vgroup **out)
{
	struct vgroup *vg, *old = NULL;
	char *dir = NULL;
	int rc;

	for (vg = vgroups; vg; vg = vg->next)
		if (vg->sg == sg && vg->current)
			break;
	if (vg && arfs_viewsrc_current(vg->src)) {
		*out = vg;
		return 0;
	}
	old = vg;
	/* an SFrame of a model folder by its .frame_idx: the folder holds
	 * several, which arfs_group_open() refuses for the directory */
	pthread_mutex_lock(&sg->lock);
	if (sg->ro) {
		if (asprintf(&dir, "%s/%s", sg->g->dir, sg->g->index_file) < 0)
			dir = NULL;
	} else {
		dir = strdup(sg->g->dir);
	}
	pthread_mutex_unlock(&sg->lock);
	vg = calloc(1, sizeof(*vg));
	rc = dir && vg ? 0 : -ENOMEM;
	if (!rc)
		rc = arfs_viewsrc_open(arfs_fs.mgr, arfs_fs.pool, dir, &vg->src);
	free(dir);
	if (!rc) {
		vg->nviews = 2 + 2 * arfs_viewsrc_group(vg->src)->ncols;
		vg->views = calloc(vg->nviews, sizeof(*vg->views));
		rc = vg->views ? 0 : -ENOMEM;
	}
	if (rc) {
		if (vg && vg->src)
			vgroup_free(vg);
		else
			free(vg);
		return rc;
	}
	vg->sg = sg;
	vg->current = true;
	vg->next = vgroups;
	vgroups = vg;
	if (old) {
		old->current = false;
		vgroup_reap(old);
	}
	*out = vg;
	return 0;
}

/* The view (kind, col) of vg, made on first use. [vlock] */
static int vgroup_view(struct vgroup *vg, unsigned kind, uint64_t col,
		       struct arfs_view **out)
{
	uint64_t i = kind <= ARFS_VIEW_JSONL ? kind - 1 :
		     2 + 2 * col + (kind == ARFS_VIEW_NPY);
	int rc = 0;

	if (i >= vg->nviews)
		return -ENOENT;
	if (!vg->views[i])
		rc = arfs_view_new(vg->src, kind, col, &vg->views[i]);
	*out = vg->views[i];
	return rc;
}

/*
 * Current view for a file node's key: *out, and *vgo with one use counted
 * in its opens (so it stays while used), to drop with vgroup_unuse().
 */
static int view_get(struct arfs_store_group *sg, uint64_t key,
		    struct vgroup **vgo, struct arfs_view **out)
{
	struct vgroup *vg;
	int rc;

	*vgo = NULL;
	*out = NULL;
	pthread_mutex_lock(&vlock);
	rc = vgroup_current(sg, &vg);
	if (!rc && !key_img(key))
		rc = vgroup_view(vg, key_kind(key), key_col(key), out);
	if (!rc) {
		vg->opens++;
		*vgo = vg;
	}
	pthread_mutex_unlock(&vlock);
	return rc;
}

static void vgroup_unuse(struct vgroup *vg)
{
	pthread_mutex_lock(&vlock);
	vg->opens--;
	vgroup_reap(vg);
	pthread_mutex_unlock(&vlock);
}

/* ---- names ------------------------------------------------------------- */

/* G: the group's name in the mount root, or its folder's name. */
static void group_vname(struct arfs_store_group *sg, char *out, size_t cap)
{
	if (sg->name[0]) {
		snprintf(out, cap, "%s", sg->name);
		return;
	}
	pthread_mutex_lock(&sg->lock);
	snprintf(out, cap, "%s", sg->g->name);
	pthread_mutex_unlock(&sg->lock);
}

static int column_vname(const struct arfs_group *g, uint64_t c,
			const char *suffix, char *out, size_t cap)
{
	ssize_t n = arfs_idname_from_utf8(g->cols[c].name,
					  strlen(g->cols[c].name), out, cap);

	if (n < 0 || (size_t)n + strlen(suffix) + 1 > cap ||
	    (size_t)n + strlen(suffix) > NAME_MAX)
		return -ENAMETOOLONG;
	strcpy(out + n, suffix);
	return 0;
}

/* The set of a VSET node's key, or NULL. */
static struct arfs_store_set *key_set(uint64_t key)
{
	struct arfs_store_set *set;

	for (size_t i = 0; (set = arfs_store_set_at(arfs_fs.store, i)); i++)
		if (VKEY_SET(set) == key)
			return set;
	return NULL;
}

/* Group i of .views (set NULL) or of .views/FOLDER; NULL past the end. */
static struct arfs_store_group *dir_group_at(const struct arfs_store_set *set,
					     size_t i)
{
	if (!set)
		return arfs_store_group_at(arfs_fs.store, i);
	return i < set->ngroups ? set->groups[i] : NULL;
}

/* True if a group (or in .views a set) shows as folder `name` there. */
static bool is_group_folder(const struct arfs_store_set *set,
			    const char *name)
{
	struct arfs_store_group *sg;
	char buf[NAME_MAX + 1];

	for (size_t i = 0; (sg = dir_group_at(set, i)); i++) {
		group_vname(sg, buf, sizeof(buf));
		if (!strcmp(buf, name))
			return true;
	}
	return !set && arfs_store_find_set(arfs_fs.store, name);
}

static const char *const group_files[] = { NULL, ".csv", ".jsonl" };

/* G.csv or G.jsonl of some group of the folder: its kind (1, 2), or 0. */
static unsigned group_file(const struct arfs_store_set *set, const char *name,
			   struct arfs_store_group **out)
{
	struct arfs_store_group *sg;
	char buf[NAME_MAX + 8];
	size_t l;

	for (size_t i = 0; (sg = dir_group_at(set, i)); i++) {
		group_vname(sg, buf, NAME_MAX + 1);
		l = strlen(buf);
		for (unsigned k = ARFS_VIEW_CSV; k <= ARFS_VIEW_JSONL; k++) {
			strcpy(buf + l, group_files[k]);
			if (!strcmp(buf, name)) {
				*out = sg;
				return k;
			}
		}
	}
	return 0;
}

/* ---- attributes -------------------------------------------------------- */

static void fill_stat(struct stat *st, mode_t mode, uint64_t ino,
		      struct timespec mtime)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = ARFS_BLKSIZE;
	st->st_mtim = st->st_ctim = st->st_atim = mtime;
}

static struct timespec group_mtime(struct arfs_store_group *sg)
{
	struct timespec t;

	pthread_mutex_lock(&sg->lock);
	t = sg->mtime;
	pthread_mutex_unlock(&sg->lock);
	return t;
}

/* Attributes without the size (listings): type, inode number, times. */
int arfs_views_entry_stat(enum arfs_node_kind kind,
			  struct arfs_store_group *sg, uint64_t key,
			  struct stat *st)
{
	if (kind == ARFS_NODE_VROOT) {
		struct timespec t[3];

		arfs_store_dir_times(arfs_fs.store, NULL, t);
		fill_stat(st, S_IFDIR | 0555, 2, t[1]);
		return 0;
	}
	if (kind == ARFS_NODE_VSET) {
		struct arfs_store_set *set = key_set(key);
		struct timespec t = { 0 }, gt;

		if (!set)
			return -ENOENT;
		for (size_t i = 0; i < set->ngroups; i++) {
			gt = group_mtime(set->groups[i]);
			if (gt.tv_sec > t.tv_sec ||
			    (gt.tv_sec == t.tv_sec && gt.tv_nsec > t.tv_nsec))
				t = gt;
		}
		fill_stat(st, S_IFDIR | 0555, key, t); /* newest group's */
		return 0;
	}
	fill_stat(st, kind == ARFS_NODE_VGROUP ? S_IFDIR | 0555 : S_IFREG | 0444,
		  (uint64_t)sg->number << ARFS_INO_SHIFT | key,
		  group_mtime(sg));
	return 0;
}

/* Size of an image file of src: bytes or -errno. */
static int64_t image_size(struct arfs_viewsrc *src, uint64_t key)
{
	struct arfs_buf *buf;
	const char *ext;
	int64_t size;
	int rc = arfs_view_image_pin(src, key_col(key), key_row(key), &buf,
				     &ext);

	if (rc)
		return rc;
	size = (int64_t)arfs_buf_size(buf);
	arfs_bufpool_unpin(arfs_viewsrc_pool(src), buf);
	return size;
}

static int file_stat(struct arfs_store_group *sg, uint64_t key,
		     struct vgroup *vg, struct arfs_view *v, struct stat *st)
{
	int64_t size = v ? arfs_view_size(v) : image_size(vg->src, key);

	if (size < 0)
		return (int)size;
	arfs_views_entry_stat(ARFS_NODE_VFILE, sg, key, st);
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	return 0;
}

int arfs_views_stat(struct arfs_node *n, uint64_t fh, struct stat *st)
{
	struct vhandle *h = (struct vhandle *)(uintptr_t)fh;
	struct arfs_view *v;
	struct vgroup *vg;
	int rc;

	if (n->kind != ARFS_NODE_VFILE)
		return arfs_views_entry_stat(n->kind, n->grp, n->docno, st);
	if (h)
		return file_stat(n->grp, n->docno, h->vg, h->v, st);
	rc = view_get(n->grp, n->docno, &vg, &v);
	if (rc)
		return rc;
	rc = file_stat(n->grp, n->docno, vg, v, st);
	vgroup_unuse(vg);
	return rc;
}

/* ---- lookup and listing ------------------------------------------------ */

struct arfs_node *arfs_views_ref(enum arfs_node_kind kind,
				 struct arfs_store_group *sg, uint64_t key)
{
	return arfs_inode_ref_grp(kind, kind == ARFS_NODE_VROOT ? NULL : sg,
				  kind == ARFS_NODE_VROOT ? VKEY_BASE : key);
}

int arfs_views_root_lookup(bool store_has_it, struct arfs_node **out,
			   struct stat *st)
{
	if (arfs_fs.views == ARFS_VIEWS_OFF)
		return -ENOENT;
	if (store_has_it) {
		if (!atomic_exchange(&logged_root, true))
			arfs_log(ARFS_LOG_WARNING, "the store has an entry "
				 "named .views: it hides the views folder");
		return -EEXIST;
	}
	*out = arfs_views_ref(ARFS_NODE_VROOT, NULL, 0);
	if (!*out)
		return -ENOMEM;
	return arfs_views_entry_stat(ARFS_NODE_VROOT, NULL, 0, st);
}

static void arfs_log_once_names(const char *name)
{
	if (!atomic_exchange(&logged_names, true))
		arfs_log(ARFS_LOG_WARNING, ".views: the folder %s hides a "
			 "view of that name", name);
}

static bool is_image_dir(const struct arfs_group *g, uint64_t c)
{
	return g->cols[c].type == ARFS_FT_IMAGE && c < IMG_MAX_COL;
}

/* True if a file of .views/G would be called name. */
static bool image_dir_hides(const struct arfs_group *g, const char *name)
{
	char buf[NAME_MAX + 1];

	for (uint64_t c = 0; c < g->ncols; c++)
		if ((!column_vname(g, c, ".txt", buf, sizeof(buf)) &&
		     !strcmp(buf, name)) ||
		    (arfs_view_kind_fits(g, ARFS_VIEW_NPY, c) &&
		     !column_vname(g, c, ".npy", buf, sizeof(buf)) &&
		     !strcmp(buf, name)))
			return true;
	return false;
}

/* True if an image column's folder of g is called name. */
static bool is_image_name(const struct arfs_group *g, const char *name)
{
	char buf[NAME_MAX + 1];

	for (uint64_t c = 0; c < g->ncols; c++)
		if (is_image_dir(g, c) &&
		    !column_vname(g, c, "", buf, sizeof(buf)) &&
		    !strcmp(buf, name))
			return true;
	return false;
}

/* "ROW.EXT" in image column col: the row's file if it has that name. */
static int lookup_image(struct arfs_viewsrc *src, uint64_t col,
			const char *name, uint64_t *key)
{
	struct arfs_buf *buf;
	const char *ext, *dot = strchr(name, '.');
	char *end;
	uint64_t row;
	int rc;

	if (!dot || name[0] < '0' || name[0] > '9' ||
	    (name[0] == '0' && dot != name + 1))
		return -ENOENT;
	errno = 0;
	row = strtoull(name, &end, 10);
	if (end != dot || errno || row >= IMG_MAX_ROW)
		return -ENOENT;
	rc = arfs_view_image_pin(src, col, row, &buf, &ext);
	if (rc)
		return rc;
	arfs_bufpool_unpin(arfs_viewsrc_pool(src), buf);
	if (strcmp(dot + 1, ext))
		return -ENOENT;
	*key = VKEY_IMGFILE(col, row);
	return 0;
}

static int lookup_in_group(struct arfs_node *dir, const char *name,
			   uint64_t *key)
{
	const struct arfs_group *g;
	struct arfs_viewsrc *src;
	char buf[NAME_MAX + 1];
	struct vgroup *vg;
	int rc;

	pthread_mutex_lock(&vlock);
	rc = vgroup_current(dir->grp, &vg);
	if (rc) {
		pthread_mutex_unlock(&vlock);
		return rc;
	}
	g = arfs_viewsrc_group(vg->src);
	rc = -ENOENT;
	if (dir->docno != VKEY_BASE) {	/* an image column's folder */
		src = vg->src;		/* decode without vlock */
		arfs_viewsrc_get(src);
		pthread_mutex_unlock(&vlock);
		rc = lookup_image(src, key_col(dir->docno), name, key);
		arfs_viewsrc_put(src);
		return rc;
	}
	for (uint64_t c = 0; rc == -ENOENT && c < g->ncols; c++) {
		if (is_image_dir(g, c) &&
		    !column_vname(g, c, "", buf, sizeof(buf)) &&
		    !strcmp(buf, name)) {
			*key = VKEY(c, ARFS_VIEW_IMAGE);
			rc = 1;		/* a folder */
		}
	}
	if (rc == 1 && image_dir_hides(g, name))
		arfs_log_once_names(name);
	for (uint64_t c = 0; rc == -ENOENT && c < g->ncols; c++) {
		if (!column_vname(g, c, ".txt", buf, sizeof(buf)) &&
		    !strcmp(buf, name)) {
			*key = VKEY(c, ARFS_VIEW_TXT);
			rc = 0;
		} else if (arfs_view_kind_fits(g, ARFS_VIEW_NPY, c) &&
			   !column_vname(g, c, ".npy", buf, sizeof(buf)) &&
			   !strcmp(buf, name)) {
			*key = VKEY(c, ARFS_VIEW_NPY);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&vlock);
	return rc;
}

int arfs_views_lookup(struct arfs_node *dir, const char *name,
		      struct arfs_node **out, struct stat *st)
{
	struct arfs_store_group *sg = NULL;
	enum arfs_node_kind kind = ARFS_NODE_VFILE;
	char buf[NAME_MAX + 1];
	uint64_t key = 0;
	unsigned k;
	int rc = 0;

	if (dir->kind == ARFS_NODE_VROOT || dir->kind == ARFS_NODE_VSET) {
		struct arfs_store_set *in = NULL, *set = NULL;

		if (dir->kind == ARFS_NODE_VSET && !(in = key_set(dir->docno)))
			return -ENOENT;
		for (size_t i = 0; !sg && (sg = dir_group_at(in, i)); i++) {
			group_vname(sg, buf, sizeof(buf));
			if (strcmp(buf, name))
				sg = NULL;
		}
		if (!sg && !in)
			set = arfs_store_find_set(arfs_fs.store, name);
		if (sg || set) {
			kind = sg ? ARFS_NODE_VGROUP : ARFS_NODE_VSET;
			key = sg ? VKEY_BASE : VKEY_SET(set);
			if (group_file(in, name,
				       &(struct arfs_store_group *){ 0 }) &&
			    !atomic_exchange(&logged_names, true))
				arfs_log(ARFS_LOG_WARNING, ".views%s%s/%s: a "
					 "folder hides a view of that name",
					 in ? "/" : "", in ? in->name : "",
					 name);
		} else if ((k = group_file(in, name, &sg))) {
			key = VKEY(-1, k);
		} else {
			return -ENOENT;
		}
	} else if (dir->kind == ARFS_NODE_VGROUP) {
		sg = dir->grp;
		rc = lookup_in_group(dir, name, &key);
		if (rc == 1) {
			kind = ARFS_NODE_VGROUP;	/* an image folder */
			rc = 0;
		}
	} else {
		return -ENOTDIR;
	}
	if (!rc) {
		*out = NULL;
		if (kind == ARFS_NODE_VFILE) {
			struct arfs_node tmp = { .kind = kind, .grp = sg,
						 .docno = key };
			rc = arfs_views_stat(&tmp, 0, st);
		} else {
			rc = arfs_views_entry_stat(kind, sg, key, st);
		}
	}
	if (rc)
		return rc;
	*out = arfs_views_ref(kind, sg, key);
	return *out ? 0 : -ENOMEM;
}

struct img_ctx {
	int (*add)(void *ctx, const char *name, enum arfs_node_kind kind,
		   struct arfs_store_group *sg, uint64_t key);
	void *ctx;
	struct arfs_store_group *sg;
	uint64_t col;
};

static int add_image(void *ctx, uint64_t row, const char *ext)
{
	struct img_ctx *ic = ctx;
	char name[48];

	if (row >= IMG_MAX_ROW)
		return 0;
	snprintf(name, sizeof(name), "%" PRIu64 ".%s", row, ext);
	return ic->add(ic->ctx, name, ARFS_NODE_VFILE, ic->sg,
		       VKEY_IMGFILE(ic->col, row));
}

int arfs_views_list(struct arfs_node *dir,
		    int (*add)(void *ctx, const char *name,
			       enum arfs_node_kind kind,
			       struct arfs_store_group *sg, uint64_t key),
		    void *ctx)
{
	struct arfs_store_group *sg;
	const struct arfs_group *g;
	char buf[NAME_MAX + 8];
	struct vgroup *vg, *vg2;
	struct arfs_view *v;
	bool skip;
	size_t l;
	int rc = 0;

	if (dir->kind == ARFS_NODE_VROOT || dir->kind == ARFS_NODE_VSET) {
		struct arfs_store_set *in = NULL, *set;

		if (dir->kind == ARFS_NODE_VSET && !(in = key_set(dir->docno)))
			return -ENOENT;
		for (size_t i = 0; !rc && (sg = dir_group_at(in, i)); i++) {
			group_vname(sg, buf, NAME_MAX + 1);
			rc = add(ctx, buf, ARFS_NODE_VGROUP, sg, VKEY_BASE);
			l = strlen(buf);
			for (unsigned k = ARFS_VIEW_CSV; !rc &&
			     k <= ARFS_VIEW_JSONL; k++) {
				strcpy(buf + l, group_files[k]);
				if (!is_group_folder(in, buf))
					rc = add(ctx, buf, ARFS_NODE_VFILE, sg,
						 VKEY(-1, k));
			}
		}
		for (size_t i = 0; !rc && !in &&
		     (set = arfs_store_set_at(arfs_fs.store, i)); i++)
			rc = add(ctx, set->name, ARFS_NODE_VSET, NULL,
				 VKEY_SET(set));
		return rc;
	}
	if (dir->kind != ARFS_NODE_VGROUP)
		return -ENOTDIR;
	pthread_mutex_lock(&vlock);
	rc = vgroup_current(dir->grp, &vg);
	if (!rc)
		arfs_viewsrc_get(vg->src);
	pthread_mutex_unlock(&vlock);
	if (rc)
		return rc;
	g = arfs_viewsrc_group(vg->src);
	if (dir->docno != VKEY_BASE) {
		struct img_ctx ic = { add, ctx, dir->grp,
				      key_col(dir->docno) };

		rc = arfs_view_images(vg->src, ic.col, add_image, &ic);
		arfs_viewsrc_put(vg->src);
		return rc;
	}
	for (uint64_t c = 0; !rc && c < g->ncols; c++) {
		if (is_image_dir(g, c) &&
		    !column_vname(g, c, "", buf, sizeof(buf)))
			rc = add(ctx, buf, ARFS_NODE_VGROUP, dir->grp,
				 VKEY(c, ARFS_VIEW_IMAGE));
		if (!rc && !column_vname(g, c, ".txt", buf, sizeof(buf)) &&
		    !is_image_name(g, buf))
			rc = add(ctx, buf, ARFS_NODE_VFILE, dir->grp,
				 VKEY(c, ARFS_VIEW_TXT));
		if (rc || !arfs_view_kind_fits(g, ARFS_VIEW_NPY, c))
			continue;
		/* a vector column has one only if its lengths agree */
		if (g->cols[c].type == ARFS_FT_VECTOR) {
			skip = view_get(dir->grp, VKEY(c, ARFS_VIEW_NPY), &vg2,
					&v) || arfs_view_size(v) < 0;
			if (vg2)
				vgroup_unuse(vg2);
			if (skip)
				continue;
		}
		if (!column_vname(g, c, ".npy", buf, sizeof(buf)) &&
		    !is_image_name(g, buf))
			rc = add(ctx, buf, ARFS_NODE_VFILE, dir->grp,
				 VKEY(c, ARFS_VIEW_NPY));
	}
	arfs_viewsrc_put(vg->src);
	return rc;
}

/* ---- open, read, release ---------------------------------------------- */

int arfs_views_open(struct arfs_node *n, struct fuse_file_info *fi)
{
	struct vhandle *h;
	uint64_t serial;
	int64_t size;
	int rc;

	if (n->kind != ARFS_NODE_VFILE)
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	rc = view_get(n->grp, n->docno, &h->vg, &h->v);
	if (rc) {
		if (h->vg)
			vgroup_unuse(h->vg);
		free(h);
		return rc;
	}
	h->col = key_col(n->docno);
	h->row = key_row(n->docno);
	/* errors now, not at the reads */
	size = h->v ? arfs_view_size(h->v) : image_size(h->vg->src, n->docno);
	if (size < 0) {
		arfs_views_release((uint64_t)(uintptr_t)h);
		return (int)size;
	}
	serial = arfs_viewsrc_serial(h->vg->src);
	pthread_mutex_lock(&n->lock);
	fi->keep_cache = n->seen == serial;	/* same version as before */
	n->seen = serial;
	pthread_mutex_unlock(&n->lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

static ssize_t image_read(struct vhandle *h, char *dst, size_t cap,
			  uint64_t off)
{
	struct arfs_buf *buf;
	const char *ext;
	ssize_t got;
	int rc = arfs_view_image_pin(h->vg->src, h->col, h->row, &buf, &ext);

	if (rc)
		return rc;
	got = arfs_buf_read(buf, dst, cap, off);
	arfs_bufpool_unpin(arfs_viewsrc_pool(h->vg->src), buf);
	return got;
}

int arfs_views_read(fuse_req_t req, uint64_t fh, size_t size, off_t off)
{
	struct vhandle *h = (struct vhandle *)(uintptr_t)fh;
	char *buf = malloc(size ? size : 1);
	ssize_t got;

	if (!buf)
		return -ENOMEM;
	if (h->v)
		got = arfs_view_read(h->v, buf, size, (uint64_t)off);
	else
		got = image_read(h, buf, size, (uint64_t)off);
	if (got >= 0)
		fuse_reply_buf(req, buf, (size_t)got);
	free(buf);
	return got < 0 ? (int)got : 0;
}

void arfs_views_release(uint64_t fh)
{
	struct vhandle *h = (struct vhandle *)(uintptr_t)fh;

	if (!h)
		return;
	vgroup_unuse(h->vg);
	free(h);
}

void arfs_views_shutdown(void)
{
	struct vgroup *vg;

	pthread_mutex_lock(&vlock);
	while ((vg = vgroups)) {
		vgroups = vg->next;
		vgroup_free(vg);
	}
	pthread_mutex_unlock(&vlock);
}
