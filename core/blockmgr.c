/*
 * blockmgr.c - segment handles, the descriptor cap, block reads. See
 * blockmgr.h for the contract.
 *
 * Objects and locking (one mutex, mgr->lock, protects everything marked
 * [L]; nothing else is shared and mutable):
 *
 *   struct seg_handle   one per segment path, shared by every column
 *                       that lives in it:
 *     seg               parsed block table, immutable once published
 *     refs [L]          open columns using the handle; 0 frees it
 *     fd [L]            -1 when closed by the cap
 *     busy [L]          reads using fd now: never closed while > 0
 *     lru links [L]     on mgr->lru while fd >= 0, most recent first
 *
 *   struct arfs_column  one open group column: its handles (one per
 *                       segment) and block list, immutable; per block
 *                       an atomic text size (-1 unknown) and an atomic
 *                       sticky error (so a corrupt block logs once).
 *                       Sizes are seeded at open from the index and the
 *                       size cache (textsize.h); `unknown` counts the
 *                       rest down as renders learn them, and the render
 *                       that learns the last one saves them to the
 *                       cache (sizes_to_cache).
 *
 * A read takes the lock only to pin a descriptor (open it if needed,
 * closing the least recently used idle one when at the cap) and to unpin
 * it; the pread, decompression, decode and rendering run unlocked. When
 * every descriptor is busy the cap is exceeded briefly rather than
 * blocking; the excess is closed as reads finish.
 */
#include "blockmgr.h"

#include "bufpool.h"
#include "group.h"
#include "io.h"
#include "segment.h"
#include "textsize.h"
#include "textval.h"
#include "typed.h"
#include "util.h"
#include "workq.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct seg_handle {
	struct seg_handle *next;	/* mgr->segs list [L] */
	struct seg_handle *lru_prev, *lru_next; /* [L] */
	char *path;
	uint64_t committed;		/* parse length; 0 whole file */
	struct arfs_segment *seg;
	uint64_t id;
	struct arfs_textsize_segid sid;	/* size, mtime, table checksum */
	unsigned refs, busy;		/* [L] */
	int fd;				/* [L] */
};

/* A segment file that failed to open or parse: reported once, not retried. */
struct seg_fail {
	struct seg_fail *next;
	char *path;
	uint64_t committed;
	int err;
};

struct arfs_blockmgr {
	pthread_mutex_t lock;
	struct seg_handle *segs;	/* [L] */
	struct seg_fail *fails;		/* [L] */
	struct seg_handle *lru_head, *lru_tail; /* [L] open fds */
	unsigned max_fds, nfds, nsegs;	/* [L] */
	uint64_t next_id;		/* [L] */
	uint64_t fd_opens, fd_closes;	/* [L] */
	struct arfs_bufpool *pool;
	unsigned workers;		/* [L] decode-ahead threads wanted */
	struct arfs_workq *_Atomic workq; /* started by the first prefetch
					 * (after a daemon's fork) */
	struct arfs_textsize_reg *sizes;	/* NULL: no cache files */
	_Atomic uint64_t decodes, recorded;	/* stats */
	atomic_bool index_warned;	/* index sizes that did not fit */
};

struct arfs_column {
	struct arfs_blockmgr *mgr;
	_Atomic uint64_t ahead;		/* first block not queued to decode */
	const struct arfs_group *g;
	const struct arfs_group_column *gc;
	uint64_t nsegs;
	struct seg_handle **segs;	/* [nsegs] */
	uint64_t nblocks;
	struct arfs_colblock *blocks;	/* [nblocks] */
	_Atomic int64_t *text_size;	/* [nblocks], -1 unknown */
	_Atomic int *error;		/* [nblocks], sticky -EUCLEAN */
	struct arfs_textsize_cache *cache;	/* a reference, or NULL */
	_Atomic uint64_t unknown;	/* sizes still -1 */
	atomic_bool dirty;		/* sizes rendered, not yet cached */
	atomic_bool mismatch_warned;
};

int arfs_blockmgr_new(const struct arfs_blockmgr_opts *opts,
		      struct arfs_blockmgr **out)
{
	struct arfs_blockmgr *mgr = calloc(1, sizeof(*mgr));

	if (!mgr)
		return -ENOMEM;
	pthread_mutex_init(&mgr->lock, NULL);
	mgr->max_fds = opts && opts->max_fds ? opts->max_fds :
		       ARFS_BLOCKMGR_DEFAULT_FDS;
	mgr->pool = opts ? opts->pool : NULL;
	mgr->next_id = 1;
	mgr->workers = mgr->pool ? opts->workers : 0;
	if (opts && opts->cache_dir &&
	    arfs_textsize_reg_new(opts->cache_dir, &mgr->sizes)) {
		pthread_mutex_destroy(&mgr->lock);
		free(mgr);
		return -ENOMEM;
	}
	*out = mgr;
	return 0;
}

void arfs_blockmgr_free(struct arfs_blockmgr *mgr)
{
	if (!mgr)
		return;
	arfs_workq_free(mgr->workq);
	if (mgr->segs)
		arfs_log(ARFS_LOG_ERR, "blockmgr freed with columns open");
	while (mgr->fails) {
		struct seg_fail *f = mgr->fails;
		mgr->fails = f->next;
		free(f->path);
		free(f);
	}
	arfs_textsize_reg_free(mgr->sizes);
	pthread_mutex_destroy(&mgr->lock);
	free(mgr);
}

void arfs_blockmgr_get_stats(struct arfs_blockmgr *mgr,
			     struct arfs_blockmgr_stats *out)
{
	pthread_mutex_lock(&mgr->lock);
	out->fd_opens = mgr->fd_opens;
	out->fd_closes = mgr->fd_closes;
	out->open_fds = mgr->nfds;
	out->segments = mgr->nsegs;
	pthread_mutex_unlock(&mgr->lock);
	out->decodes = atomic_load(&mgr->decodes);
	out->sizes_recorded = atomic_load(&mgr->recorded);
}

/* ---- descriptor LRU [L] --------------------------------------------- */

static void lru_unlink(struct arfs_blockmgr *mgr, struct seg_handle *h)
{
	if (h->lru_prev)
		h->lru_prev->lru_next = h->lru_next;
	else
		mgr->lru_head = h->lru_next;
	if (h->lru_next)
		h->lru_next->lru_prev = h->lru_prev;
	else
		mgr->lru_tail = h->lru_prev;
	h->lru_prev = h->lru_next = NULL;
}

static void lru_push(struct arfs_blockmgr *mgr, struct seg_handle *h)
{
	h->lru_prev = NULL;
	h->lru_next = mgr->lru_head;
	if (mgr->lru_head)
		mgr->lru_head->lru_prev = h;
	mgr->lru_head = h;
	if (!mgr->lru_tail)
		mgr->lru_tail = h;
}

static void fd_close(struct arfs_blockmgr *mgr, struct seg_handle *h)
{
	lru_unlink(mgr, h);
	arfs_io_close(h->fd);
	h->fd = -1;
	mgr->nfds--;
	mgr->fd_closes++;
}

/* Close idle descriptors, oldest first, until below the cap (or none). */
static void fd_trim(struct arfs_blockmgr *mgr, unsigned room)
{
	struct seg_handle *h = mgr->lru_tail, *prev;

	while (h && mgr->nfds + room > mgr->max_fds) {
		prev = h->lru_prev;
		if (!h->busy)
			fd_close(mgr, h);
		h = prev;
	}
}

static int fd_open(struct arfs_blockmgr *mgr, struct seg_handle *h)
{
	int fd;

	fd_trim(mgr, 1);
	fd = arfs_io_open(h->path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	h->fd = fd;
	mgr->nfds++;
	mgr->fd_opens++;
	lru_push(mgr, h);
	return 0;
}

/* Pin h's descriptor for a read: fd, or -errno. */
static int fd_get(struct arfs_blockmgr *mgr, struct seg_handle *h)
{
	off_t size;
	int rc = 0;

	pthread_mutex_lock(&mgr->lock);
	if (h->fd < 0) {
		rc = fd_open(mgr, h);
		if (!rc && h->seg) {
			/* appends past the committed length are fine: the
			 * blocks and table read here are never rewritten */
			size = arfs_io_size(h->fd);
			if (size < (off_t)h->seg->file_size) {
				arfs_log(ARFS_LOG_ERR, "%s: file changed size "
					 "since it was opened", h->path);
				fd_close(mgr, h);
				rc = -ESTALE;
			}
		}
	} else {
		lru_unlink(mgr, h);
		lru_push(mgr, h);
	}
	if (!rc) {
		h->busy++;
		rc = h->fd;
	}
	pthread_mutex_unlock(&mgr->lock);
	return rc;
}

static void fd_put(struct arfs_blockmgr *mgr, struct seg_handle *h)
{
	pthread_mutex_lock(&mgr->lock);
	h->busy--;
	fd_trim(mgr, 0);
	pthread_mutex_unlock(&mgr->lock);
}

/* ---- segment handles [L] -------------------------------------------- */

static uint64_t space_of(const struct seg_handle *h, uint64_t col)
{
	return ARFS_BLOCKMGR_SPACE | h->id << 20 | (col & 0xfffff);
}

static void seg_put(struct arfs_blockmgr *mgr, struct seg_handle *h)
{
	struct seg_handle **pp;

	if (--h->refs)
		return;
	for (pp = &mgr->segs; *pp != h; pp = &(*pp)->next)
		;
	*pp = h->next;
	if (h->fd >= 0)
		fd_close(mgr, h);
	for (uint64_t c = 0; mgr->pool && h->seg && c < h->seg->ncols; c++)
		arfs_bufpool_clear(mgr->pool, space_of(h, c), false);
	mgr->nsegs--;
	arfs_segment_free(h->seg);
	free(h->path);
	free(h);
}

static int seg_parse(struct arfs_blockmgr *mgr, struct seg_handle *h,
		     const char *name)
{
	int rc = fd_open(mgr, h);
	struct stat st;

	if (rc) {
		arfs_log(ARFS_LOG_ERR, "%s: cannot open: %s", h->path,
			 strerror(-rc));
		return rc;
	}
	/* identity before the parse: a change after it shows as stale */
	if (fstat(h->fd, &st))
		memset(&st, 0, sizeof(st));
	h->sid.file_size = (uint64_t)st.st_size;
	h->sid.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			  st.st_mtim.tv_nsec;
	h->busy++;
	rc = arfs_segment_parse_len(h->fd, name, h->committed, &h->seg);
	h->busy--;
	if (!rc)
		h->sid.table_sum = arfs_textsize_table_sum(h->seg);
	return rc;
}

/* Caller holds the lock. Out of memory only loses the memo. */
static void remember_fail(struct arfs_blockmgr *mgr, const char *path,
			  uint64_t committed, int err)
{
	struct seg_fail *f = calloc(1, sizeof(*f));

	if (!f || !(f->path = strdup(path))) {
		free(f);
		return;
	}
	f->committed = committed;
	f->err = err;
	f->next = mgr->fails;
	mgr->fails = f;
}

static int seg_get(struct arfs_blockmgr *mgr, const char *dir,
		   const char *name, uint64_t committed,
		   struct seg_handle **out)
{
	struct seg_handle *h;
	char *path;
	int rc;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	for (h = mgr->segs; h; h = h->next)
		if (!strcmp(h->path, path) && h->committed == committed) {
			free(path);
			h->refs++;
			*out = h;
			return 0;
		}
	for (struct seg_fail *f = mgr->fails; f; f = f->next)
		if (!strcmp(f->path, path) && f->committed == committed) {
			free(path);
			return f->err;
		}
	h = calloc(1, sizeof(*h));
	if (!h) {
		free(path);
		return -ENOMEM;
	}
	h->path = path;
	h->committed = committed;
	h->fd = -1;
	h->refs = 1;
	h->id = mgr->next_id++;
	h->next = mgr->segs;
	mgr->segs = h;
	mgr->nsegs++;
	rc = seg_parse(mgr, h, name);
	if (rc) {
		remember_fail(mgr, h->path, committed, rc);
		seg_put(mgr, h);
		return rc;
	}
	*out = h;
	return 0;
}

/* ---- columns -------------------------------------------------------- */

static int list_blocks(struct arfs_column *col)
{
	uint64_t n = 0, k = 0, row = 0, c = col->gc->index;
	const struct arfs_block_info *bi;

	for (uint64_t s = 0; s < col->nsegs; s++)
		n += col->segs[s]->seg->nblocks[c];
	col->nblocks = n;
	col->blocks = calloc(n + 1, sizeof(*col->blocks));
	col->text_size = calloc(n + 1, sizeof(*col->text_size));
	col->error = calloc(n + 1, sizeof(*col->error));
	if (!col->blocks || !col->text_size || !col->error)
		return -ENOMEM;
	for (uint64_t s = 0; s < col->nsegs; s++)
		for (uint64_t b = 0; b < col->segs[s]->seg->nblocks[c]; b++) {
			bi = &col->segs[s]->seg->blocks[c][b];
			col->blocks[k] = (struct arfs_colblock){
				.seg = s, .blk = b, .first_row = row,
				.rows = bi->num_elem, .stored = bi->length,
				.decoded = bi->block_size, .flags = bi->flags,
				.content_type = bi->content_type,
			};
			atomic_init(&col->text_size[k], -1);
			atomic_init(&col->error[k], 0);
			row += bi->num_elem;
			k++;
		}
	return 0;
}

/* ---- recorded text sizes (textsize.h) ------------------------------- */

/* Segment s's sizes for col from the index into tmp, if its entry fits. */
static bool index_sizes(struct arfs_blockmgr *mgr, struct arfs_column *col,
			uint64_t s, int64_t *tmp)
{
	const struct arfs_sidx *sx = col->gc->sidx;
	const struct seg_handle *h = col->segs[s];
	const struct arfs_sidx_sizes *e;
	uint64_t c = col->gc->index, nb = h->seg->nblocks[c];

	if (!sx->text_sizes || !sx->text_sizes[s].present)
		return false;
	e = &sx->text_sizes[s];
	if (e->length != h->seg->file_size ||
	    e->table_sum != h->sid.table_sum || e->nblocks[c] != nb ||
	    !arfs_textsize_plausible(e->sizes[c], h->seg->blocks[c], nb)) {
		if (!atomic_exchange(&mgr->index_warned, true))
			arfs_log(ARFS_LOG_INFO, "%s: its text_sizes do not "
				 "describe segment %s as it is (index rewritten "
				 "by another tool?); ignored, sizes are "
				 "rendered", sx->file, sx->seg_files[s]);
		return false;
	}
	memcpy(tmp, e->sizes[c], nb * sizeof(*tmp));
	return true;
}

/* Fill the sizes the index or the cache records. Before publishing col. */
static void seed_sizes(struct arfs_blockmgr *mgr, struct arfs_column *col)
{
	const struct arfs_sidx *sx = col->gc->sidx;
	uint64_t c = col->gc->index, k = 0, nb, known = 0, max = 0;
	struct seg_handle *h;
	int64_t *tmp;

	for (uint64_t s = 0; s < col->nsegs; s++)
		if (col->segs[s]->seg->nblocks[c] > max)
			max = col->segs[s]->seg->nblocks[c];
	atomic_init(&col->unknown, col->nblocks);
	tmp = malloc((max + 1) * sizeof(*tmp));
	if (!tmp)
		return;		/* sizes are then rendered */
	for (uint64_t s = 0; s < col->nsegs; k += nb, s++) {
		h = col->segs[s];
		nb = h->seg->nblocks[c];
		for (uint64_t j = 0; j < nb; j++)
			tmp[j] = ARFS_TEXTSIZE_UNKNOWN;
		if (nb && !index_sizes(mgr, col, s, tmp) && col->cache)
			arfs_textsize_cache_get(col->cache, sx->seg_files[s],
						&h->sid, c, h->seg->blocks[c],
						nb, tmp);
		for (uint64_t j = 0; j < nb; j++)
			if (tmp[j] >= 0) {
				atomic_store(&col->text_size[k + j], tmp[j]);
				known++;
			}
	}
	free(tmp);
	atomic_store(&col->unknown, col->nblocks - known);
	atomic_fetch_add(&mgr->recorded, known);
}

/* Put the column's sizes into its cache and save, if any were rendered. */
static void sizes_to_cache(struct arfs_column *col)
{
	const struct arfs_sidx *sx = col->gc->sidx;
	uint64_t c = col->gc->index, k = 0, nb, known;
	struct seg_handle *h;
	int64_t *tmp;

	if (!col->cache || !atomic_exchange(&col->dirty, false))
		return;
	tmp = malloc((col->nblocks + 1) * sizeof(*tmp));
	if (!tmp)
		return;
	for (uint64_t s = 0; s < col->nsegs; k += nb, s++) {
		h = col->segs[s];
		nb = h->seg->nblocks[c];
		known = 0;
		for (uint64_t j = 0; j < nb; j++) {
			tmp[j] = atomic_load(&col->text_size[k + j]);
			known += tmp[j] >= 0;
		}
		if (known)
			arfs_textsize_cache_put(col->cache, sx->seg_files[s],
						&h->sid, c, tmp, nb);
	}
	free(tmp);
	arfs_textsize_cache_save(col->cache);
}

/*
 * Remember block i's rendered size. The first time it becomes known it is
 * counted down; the last unknown one sends the column to the cache. A
 * recorded size that the rendering contradicts is replaced (logged once).
 */
static void size_known(struct arfs_column *col, uint64_t i, int64_t size)
{
	int64_t old = ARFS_TEXTSIZE_UNKNOWN;

	if (atomic_compare_exchange_strong(&col->text_size[i], &old, size)) {
		atomic_store(&col->dirty, true);
		if (atomic_fetch_sub(&col->unknown, 1) == 1)
			sizes_to_cache(col);
		return;
	}
	if (old == size)
		return;
	atomic_store(&col->text_size[i], size);
	atomic_store(&col->dirty, true);
	if (!atomic_exchange(&col->mismatch_warned, true))
		arfs_log(ARFS_LOG_WARNING, "%s:%" PRIu64 " block %" PRIu64
			 ": recorded text size %" PRId64 " but the block renders "
			 "to %" PRId64 " bytes; corrected",
			 arfs_column_segment_name(col, i), col->gc->index,
			 col->blocks[i].blk, old, size);
}

static void column_free(struct arfs_blockmgr *mgr, struct arfs_column *col)
{
	for (uint64_t s = 0; s < col->nsegs; s++)
		if (col->segs[s])
			seg_put(mgr, col->segs[s]);
	free(col->segs);
	free(col->blocks);
	free((void *)col->text_size);
	free((void *)col->error);
	free(col);
}

int arfs_blockmgr_open_column(struct arfs_blockmgr *mgr,
			      const struct arfs_group *g, uint64_t c,
			      struct arfs_column **out)
{
	struct arfs_textsize_cache *col_cache;
	struct arfs_column *col;
	const struct arfs_sidx *sx;
	int rc = 0;

	if (c >= g->ncols)
		return -ERANGE;
	col = calloc(1, sizeof(*col));
	if (!col)
		return -ENOMEM;
	col->mgr = mgr;
	col->g = g;
	col->gc = &g->cols[c];
	sx = col->gc->sidx;
	/* no cache is not an error: sizes are then rendered */
	if (mgr->sizes && arfs_textsize_reg_get(mgr->sizes, g->dir,
						&col->cache))
		col->cache = NULL;
	col->nsegs = sx->nsegs;
	col->segs = calloc(sx->nsegs + 1, sizeof(*col->segs));
	if (!col->segs) {
		arfs_textsize_reg_put(mgr->sizes, col->cache);
		free(col);
		return -ENOMEM;
	}
	col_cache = col->cache;	/* column_free() does not release it */
	pthread_mutex_lock(&mgr->lock);
	for (uint64_t s = 0; !rc && s < sx->nsegs; s++) {
		rc = seg_get(mgr, g->dir, sx->seg_files[s], sx->seg_len[s],
			     &col->segs[s]);
		if (!rc)
			rc = arfs_group_check_segment(sx, s, col->segs[s]->seg);
	}
	if (!rc)
		rc = list_blocks(col);
	if (rc)
		column_free(mgr, col);
	fd_trim(mgr, 0);
	pthread_mutex_unlock(&mgr->lock);
	if (rc) {
		arfs_textsize_reg_put(mgr->sizes, col_cache);
		return rc;
	}
	seed_sizes(mgr, col);
	*out = col;
	return 0;
}

void arfs_blockmgr_close_column(struct arfs_blockmgr *mgr,
				struct arfs_column *col)
{
	struct arfs_textsize_cache *cache;

	if (!col)
		return;
	if (atomic_load(&mgr->workq))
		arfs_workq_cancel(mgr->workq, col);
	sizes_to_cache(col);
	cache = col->cache;
	pthread_mutex_lock(&mgr->lock);
	column_free(mgr, col);
	pthread_mutex_unlock(&mgr->lock);
	arfs_textsize_reg_put(mgr->sizes, cache);
}

void arfs_blockmgr_column_close_fds(struct arfs_blockmgr *mgr,
				    struct arfs_column *col)
{
	if (!col)
		return;
	pthread_mutex_lock(&mgr->lock);
	for (uint64_t s = 0; s < col->nsegs; s++)
		if (col->segs[s]->fd >= 0 && !col->segs[s]->busy)
			fd_close(mgr, col->segs[s]);
	pthread_mutex_unlock(&mgr->lock);
}

uint64_t arfs_column_nblocks(const struct arfs_column *col)
{
	return col->nblocks;
}

const struct arfs_colblock *arfs_column_block(const struct arfs_column *col,
					      uint64_t i)
{
	return i < col->nblocks ? &col->blocks[i] : NULL;
}

const char *arfs_column_segment_name(const struct arfs_column *col,
				     uint64_t i)
{
	if (i >= col->nblocks)
		return NULL;
	return col->gc->sidx->seg_files[col->blocks[i].seg];
}

/* ---- reads ---------------------------------------------------------- */

int arfs_blockmgr_read_payload(struct arfs_blockmgr *mgr,
			       struct arfs_column *col, uint64_t i,
			       void **out, size_t *out_len)
{
	struct seg_handle *h;
	int fd, rc;

	if (i >= col->nblocks)
		return -ERANGE;
	rc = atomic_load(&col->error[i]);
	if (rc)
		return rc;
	h = col->segs[col->blocks[i].seg];
	fd = fd_get(mgr, h);
	if (fd < 0)
		return fd;
	rc = arfs_segment_read_block(h->seg, fd, col->gc->index,
				     col->blocks[i].blk, out, out_len);
	fd_put(mgr, h);
	atomic_fetch_add(&mgr->decodes, 1);
	if (rc == -EUCLEAN)
		atomic_store(&col->error[i], rc);
	return rc;
}

int arfs_blockmgr_decode(struct arfs_blockmgr *mgr, struct arfs_column *col,
			 uint64_t i, struct arfs_values **out)
{
	const struct arfs_colblock *cb;
	struct arfs_block_info bi;
	char where[512];
	size_t len;
	void *p;
	int rc = arfs_blockmgr_read_payload(mgr, col, i, &p, &len);

	if (rc)
		return rc;
	cb = &col->blocks[i];
	bi = col->segs[cb->seg]->seg->blocks[col->gc->index][cb->blk];
	snprintf(where, sizeof(where), "%s:%" PRIu64 " block %" PRIu64
		 " (offset %" PRIu64 ")", arfs_column_segment_name(col, i),
		 col->gc->index, cb->blk, bi.offset);
	rc = arfs_typed_decode(&bi, p, len, where, out);
	free(p);
	if (rc == -EUCLEAN)
		atomic_store(&col->error[i], rc);
	return rc;
}

static int render(struct arfs_blockmgr *mgr, struct arfs_column *col,
		  uint64_t i, char **text, size_t *len)
{
	struct arfs_values *vals;
	int rc = arfs_blockmgr_decode(mgr, col, i, &vals);

	if (rc)
		return rc;
	rc = arfs_textval_render(vals, text, len);
	arfs_values_free(vals);
	if (!rc)
		size_known(col, i, (int64_t)*len);
	return rc;
}

struct load_ctx {
	struct arfs_blockmgr *mgr;
	struct arfs_column *col;
	uint64_t i;
};

static int load_text(void *ctx, struct arfs_buf *buf)
{
	struct load_ctx *lc = ctx;
	size_t len;
	char *text;
	int rc = render(lc->mgr, lc->col, lc->i, &text, &len);

	if (rc)
		return rc;
	rc = arfs_buf_write(buf, text, len, 0);
	free(text);
	return rc;
}

int arfs_blockmgr_pin_text(struct arfs_blockmgr *mgr, struct arfs_column *col,
			   uint64_t i, struct arfs_buf **out)
{
	struct load_ctx lc = { mgr, col, i };
	const struct arfs_colblock *cb;
	struct arfs_bufkey key;

	if (!mgr->pool)
		return -EOPNOTSUPP;
	if (i >= col->nblocks)
		return -ERANGE;
	cb = &col->blocks[i];
	key.space = space_of(col->segs[cb->seg], col->gc->index);
	key.id = cb->blk;
	return arfs_bufpool_pin(mgr->pool, key, load_text, NULL, &lc, out);
}

ssize_t arfs_blockmgr_text_size(struct arfs_blockmgr *mgr,
				struct arfs_column *col, uint64_t i)
{
	struct arfs_buf *buf;
	int64_t size;
	size_t len;
	char *text;
	int rc;

	if (i >= col->nblocks)
		return -ERANGE;
	size = atomic_load(&col->text_size[i]);
	if (size >= 0)
		return (ssize_t)size;
	if (mgr->pool) {
		rc = arfs_blockmgr_pin_text(mgr, col, i, &buf);
		if (rc)
			return rc;
		size = (int64_t)arfs_buf_size(buf);
		size_known(col, i, size);
		arfs_bufpool_unpin(mgr->pool, buf);
		return (ssize_t)size;
	}
	rc = render(mgr, col, i, &text, &len);
	if (rc)
		return rc;
	free(text);
	return (ssize_t)len;
}

const char *arfs_blockmgr_cache_dir(const struct arfs_blockmgr *mgr)
{
	return mgr->sizes ? arfs_textsize_reg_dir(mgr->sizes) : NULL;
}

uint64_t arfs_column_nsegs(const struct arfs_column *col)
{
	return col->nsegs;
}

const char *arfs_column_segment(const struct arfs_column *col, uint64_t s,
				struct arfs_textsize_segid *id)
{
	*id = col->segs[s]->sid;
	return col->gc->sidx->seg_files[s];
}

ssize_t arfs_blockmgr_known_size(const struct arfs_column *col, uint64_t i)
{
	int64_t size;

	if (i >= col->nblocks)
		return -ERANGE;
	size = atomic_load(&col->text_size[i]);
	return size >= 0 ? (ssize_t)size : -ENODATA;
}

ssize_t arfs_blockmgr_read_text(struct arfs_blockmgr *mgr,
				struct arfs_column *col, uint64_t i, void *dst,
				size_t cap, uint64_t off)
{
	struct arfs_buf *buf;
	ssize_t n;
	size_t len;
	char *text;
	int rc;

	if (mgr->pool) {
		rc = arfs_blockmgr_pin_text(mgr, col, i, &buf);
		if (rc)
			return rc;
		n = arfs_buf_read(buf, dst, cap, off);
		arfs_bufpool_unpin(mgr->pool, buf);
		return n;
	}
	if (i >= col->nblocks)
		return -ERANGE;
	rc = render(mgr, col, i, &text, &len);
	if (rc)
		return rc;
	n = 0;
	if (off < len) {
		n = (ssize_t)(len - off < cap ? len - off : cap);
		memcpy(dst, text + off, (size_t)n);
	}
	free(text);
	return n;
}

/* ---- decode ahead ------------------------------------------------------ */

static void prefetch_job(void *tag, uint64_t i)
{
	struct arfs_column *col = tag;
	struct arfs_buf *buf;

	if (!arfs_blockmgr_pin_text(col->mgr, col, i, &buf))
		arfs_bufpool_unpin(col->mgr->pool, buf);
}

static struct arfs_workq *workq_get(struct arfs_blockmgr *mgr)
{
	struct arfs_workq *q = atomic_load(&mgr->workq);

	if (q)
		return q;
	pthread_mutex_lock(&mgr->lock);
	if (!mgr->workq && mgr->workers &&
	    arfs_workq_new(mgr->workers, 4 * mgr->workers, &q) == 0)
		atomic_store(&mgr->workq, q);
	mgr->workers = 0;	/* started, or not to be tried again */
	q = atomic_load(&mgr->workq);
	pthread_mutex_unlock(&mgr->lock);
	return q;
}

void arfs_blockmgr_prefetch(struct arfs_blockmgr *mgr, struct arfs_column *col,
			    uint64_t first)
{
	struct arfs_workq *q;
	uint64_t i, end, ahead;

	if (first >= col->nblocks || !(q = workq_get(mgr)))
		return;
	end = first + 2 * arfs_workq_threads(q);
	if (end > col->nblocks)
		end = col->nblocks;
	/* Blocks queued by the last call are not queued again; a reader
	 * that went back (a second cat) starts a new run. */
	ahead = atomic_load(&col->ahead);
	i = ahead > first && ahead <= end ? ahead : first;
	while (i < end && arfs_workq_try_add(q, prefetch_job, col, i))
		i++;
	atomic_store(&col->ahead, i);
}
