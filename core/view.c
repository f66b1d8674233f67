/*
 * view.c - whole-group and whole-column files (view.h).
 *
 * Layout: off[0] is the header's length, off[k + 1] - off[k] piece k's.
 * A read finds its first piece by binary search over off[], then copies
 * piece after piece: TXT from the block manager's text buffer, the others
 * from a pool buffer rendered by piece_load() on a miss. A piece rendered
 * again (after eviction) must have the size the layout gave it; it is
 * checked, so a reader never gets bytes shifted against the file size.
 */
#include "view.h"

#include "blockmgr.h"
#include "bufpool.h"
#include "csv.h"
#include "group.h"
#include "imgfile.h"
#include "jsonl.h"
#include "segment.h"
#include "textval.h"
#include "typed.h"
#include "util.h"
#include "viewsize.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fileid {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct arfs_viewsrc {
	struct arfs_blockmgr *mgr;
	struct arfs_bufpool *pool;
	struct arfs_group *g;
	struct arfs_column **cols;	/* [g->ncols] */
	uint64_t serial;
	atomic_uint refs;
	uint64_t nids;
	struct fileid *ids;		/* index file, then each .sidx */
	atomic_bool size_warned;	/* a view size file was logged */
};

struct arfs_view {
	struct arfs_viewsrc *src;
	enum arfs_view_kind kind;
	uint64_t col;
	uint64_t space;			/* pool space of its pieces */

	pthread_mutex_t layout_lock;
	bool laid_out;			/* [layout_lock] set once */
	int err;			/* [layout_lock] a failed layout */
	char *hdr;			/* header bytes, off[0] of them */
	uint64_t npieces, *off;		/* [npieces + 1] */
	uint64_t nrows;			/* CSV/JSONL: rows; NPY: column's */
	uint64_t chunk_rows;		/* CSV/JSONL: rows per piece */
	bool npy_float;			/* NPY: '<f8' (else '<i8') */
	uint64_t width;			/* NPY: values per row (1: 1-D) */
	bool npy_2d;
	char **keys;			/* JSONL: [ncols] '{"a":' / ',"b":' */
	char *size_file;		/* CSV/JSONL: the view size file the
					 * offsets came from, or NULL */

	pthread_mutex_t cur_lock;
	struct arfs_csv_cursor *cur;	/* [cur_lock] [ncols] */
};

static atomic_uint_fast64_t next_serial = 1;

/* ---- sources ---------------------------------------------------------- */

static int file_id(const char *dir, const char *name, struct fileid *id)
{
	char path[4096];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st))
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	return 0;
}

static int src_ids(struct arfs_viewsrc *s)
{
	int rc;

	s->nids = s->g->nsidx + 1;
	s->ids = calloc(s->nids, sizeof(*s->ids));
	if (!s->ids)
		return -ENOMEM;
	rc = file_id(s->g->dir, s->g->index_file, &s->ids[0]);
	for (uint64_t i = 0; !rc && i < s->g->nsidx; i++)
		rc = file_id(s->g->dir, s->g->sidx[i].file, &s->ids[i + 1]);
	return rc;
}

static uint64_t image_space(const struct arfs_viewsrc *s, uint64_t col)
{
	return ARFS_VIEW_SPACE | (s->serial & ((UINT64_C(1) << 37) - 1)) << 24 |
	       ((col + 1) << 3 | ARFS_VIEW_IMAGE);
}

static void src_free(struct arfs_viewsrc *s)
{
	for (uint64_t c = 0; s->cols && c < s->g->ncols; c++)
		if (s->g->cols[c].type == ARFS_FT_IMAGE)
			arfs_bufpool_clear(s->pool, image_space(s, c), false);
	for (uint64_t c = 0; s->cols && c < s->g->ncols; c++)
		arfs_blockmgr_close_column(s->mgr, s->cols[c]);
	free(s->cols);
	free(s->ids);
	arfs_group_free(s->g);
	free(s);
}

int arfs_viewsrc_open(struct arfs_blockmgr *mgr, struct arfs_bufpool *pool,
		      const char *group_dir, struct arfs_viewsrc **out)
{
	struct arfs_viewsrc *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->mgr = mgr;
	s->pool = pool;
	atomic_init(&s->refs, 1);
	s->serial = atomic_fetch_add(&next_serial, 1);
	rc = arfs_group_open(group_dir, &s->g);
	if (rc) {
		free(s);
		return rc;
	}
	/* the identity first: a commit in between then reads as a change */
	rc = src_ids(s);
	if (!rc) {
		s->cols = calloc(s->g->ncols + 1, sizeof(*s->cols));
		rc = s->cols ? 0 : -ENOMEM;
	}
	for (uint64_t c = 0; !rc && c < s->g->ncols; c++)
		rc = arfs_blockmgr_open_column(mgr, s->g, c, &s->cols[c]);
	if (rc) {
		src_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void arfs_viewsrc_get(struct arfs_viewsrc *src)
{
	atomic_fetch_add(&src->refs, 1);
}

void arfs_viewsrc_put(struct arfs_viewsrc *src)
{
	if (src && atomic_fetch_sub(&src->refs, 1) == 1)
		src_free(src);
}

const struct arfs_group *arfs_viewsrc_group(const struct arfs_viewsrc *src)
{
	return src->g;
}

uint64_t arfs_viewsrc_serial(const struct arfs_viewsrc *src)
{
	return src->serial;
}

bool arfs_viewsrc_current(const struct arfs_viewsrc *src)
{
	struct fileid id;

	for (uint64_t i = 0; i < src->nids; i++) {
		const char *name = i ? src->g->sidx[i - 1].file :
				   src->g->index_file;

		if (file_id(src->g->dir, name, &id) ||
		    id.dev != src->ids[i].dev || id.ino != src->ids[i].ino ||
		    id.size != src->ids[i].size ||
		    id.mtime.tv_sec != src->ids[i].mtime.tv_sec ||
		    id.mtime.tv_nsec != src->ids[i].mtime.tv_nsec)
			return false;
	}
	return true;
}

/* ---- views ------------------------------------------------------------ */

static bool npy_type(unsigned type)
{
	return type == ARFS_FT_INTEGER || type == ARFS_FT_FLOAT ||
	       type == ARFS_FT_VECTOR;
}

bool arfs_view_kind_fits(const struct arfs_group *g, enum arfs_view_kind kind,
			 uint64_t col)
{
	switch (kind) {
	case ARFS_VIEW_CSV:
	case ARFS_VIEW_JSONL:
		return true;
	case ARFS_VIEW_TXT:
		return col < g->ncols;
	case ARFS_VIEW_NPY:
		return col < g->ncols && npy_type(g->cols[col].type);
	}
	return false;
}

int arfs_view_new(struct arfs_viewsrc *src, enum arfs_view_kind kind,
		  uint64_t col, struct arfs_view **out)
{
	struct arfs_view *v;

	if (!arfs_view_kind_fits(src->g, kind, col))
		return -ENOENT;
	if (kind == ARFS_VIEW_CSV || kind == ARFS_VIEW_JSONL)
		col = 0;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	arfs_viewsrc_get(src);
	v->src = src;
	v->kind = kind;
	v->col = col;
	v->space = ARFS_VIEW_SPACE | (src->serial & ((UINT64_C(1) << 37) - 1))
		   << 24 | ((col + 1) << 3 | kind);
	pthread_mutex_init(&v->layout_lock, NULL);
	pthread_mutex_init(&v->cur_lock, NULL);
	*out = v;
	return 0;
}

static void layout_reset(struct arfs_view *v);

void arfs_view_free(struct arfs_view *v)
{
	if (!v)
		return;
	if (v->kind != ARFS_VIEW_TXT)
		arfs_bufpool_clear(v->src->pool, v->space, false);
	layout_reset(v);
	pthread_mutex_destroy(&v->layout_lock);
	pthread_mutex_destroy(&v->cur_lock);
	arfs_viewsrc_put(v->src);
	free(v);
}

/* ---- rendering pieces ------------------------------------------------- */

/* Rows [r0, r1) as CSV or JSON Lines into tb. [cur_lock] */
static int render_rows(struct arfs_view *v, uint64_t r0, uint64_t r1,
		       struct arfs_textbuf *tb)
{
	struct arfs_blockmgr *mgr = v->src->mgr;
	uint64_t ncols = v->src->g->ncols;
	bool csv = v->kind == ARFS_VIEW_CSV;
	const struct arfs_value *val;
	int rc = 0;

	for (uint64_t c = 0; !rc && c < ncols; c++)
		rc = arfs_csv_cursor_seek(mgr, &v->cur[c], r0);
	for (uint64_t r = r0; !rc && r < r1; r++) {
		for (uint64_t c = 0; !rc && c < ncols; c++) {
			rc = arfs_csv_cursor_next(mgr, &v->cur[c], &val);
			if (rc)
				break;
			if (csv)
				rc = (c ? arfs_textbuf_add(tb, ",", 1) : 0) ?:
				     arfs_csv_put_value(tb, val);
			else
				rc = arfs_textbuf_add(tb, v->keys[c],
						      strlen(v->keys[c])) ?:
				     arfs_jsonl_put_value(tb, val);
		}
		if (!rc && !csv)
			rc = arfs_textbuf_add(tb, ncols ? "}\n" : "{}\n",
					      ncols ? 2 : 3);
		else if (!rc)
			rc = arfs_textbuf_add(tb, "\n", 1);
	}
	return rc;
}

/* Block k of the column as .npy values into tb. */
static int render_npy(struct arfs_view *v, uint64_t k, struct arfs_textbuf *tb)
{
	struct arfs_column *col = v->src->cols[v->col];
	const struct arfs_colblock *b = arfs_column_block(col, k);
	struct arfs_values *vals;
	uint64_t n = b->rows * v->width, w;
	double d;
	int rc = arfs_blockmgr_decode(v->src->mgr, col, k, &vals);

	if (rc)
		return rc;
	rc = vals->n != b->rows ? -EUCLEAN : arfs_textbuf_reserve(tb, n * 8);
	if (rc) {
		arfs_values_free(vals);
		return rc == -EUCLEAN ? rc : -ENOMEM;
	}
	for (uint64_t i = 0; i < vals->n; i++) {
		const struct arfs_value *x = &vals->v[i];

		for (uint64_t j = 0; j < v->width; j++) {
			if (x->type == ARFS_FT_INTEGER && !v->npy_float) {
				w = (uint64_t)x->u.i;
			} else {
				d = x->type == ARFS_FT_INTEGER ? (double)x->u.i :
				    x->type == ARFS_FT_FLOAT ? x->u.f :
				    x->type == ARFS_FT_VECTOR &&
				    j < x->u.vec.n ? x->u.vec.v[j] : NAN;
				memcpy(&w, &d, 8);
			}
			put_le64(tb->p + tb->len, w);
			tb->len += 8;
		}
	}
	arfs_values_free(vals);
	return 0;
}

static int render_piece(struct arfs_view *v, uint64_t k,
			struct arfs_textbuf *tb)
{
	uint64_t r0 = k * v->chunk_rows, r1 = r0 + v->chunk_rows;
	int rc;

	if (v->kind == ARFS_VIEW_NPY)
		return render_npy(v, k, tb);
	if (r1 > v->nrows)
		r1 = v->nrows;
	pthread_mutex_lock(&v->cur_lock);
	rc = render_rows(v, r0, r1, tb);
	pthread_mutex_unlock(&v->cur_lock);
	return rc;
}

/* Pool load of piece id (its key's id); checked against the layout once
 * there is one. */
static int piece_load(void *ctx, struct arfs_buf *buf)
{
	struct arfs_view *v = ctx;
	uint64_t k = arfs_buf_key(buf).id;
	struct arfs_textbuf tb = { 0 };
	int rc = render_piece(v, k, &tb);

	if (!rc && v->off && v->off[k + 1] - v->off[k] != tb.len) {
		arfs_log(ARFS_LOG_ERR, "%s: view piece %" PRIu64 " rendered "
			 "to %zu bytes, not %" PRIu64, v->src->g->dir, k,
			 tb.len, v->off[k + 1] - v->off[k]);
		rc = -EIO;
		/* the next mount renders the sizes again */
		if (v->size_file && !unlink(v->size_file))
			arfs_log(ARFS_LOG_WARNING, "view size file %s removed: "
				 "it gave that size", v->size_file);
	}
	if (!rc && tb.len)
		rc = arfs_buf_write(buf, tb.p, tb.len, 0);
	arfs_textbuf_release(&tb);
	return rc;
}

static int pin_piece(struct arfs_view *v, uint64_t k, struct arfs_buf **out)
{
	struct arfs_bufkey key = { v->space, k };

	if (v->kind == ARFS_VIEW_TXT)
		return arfs_blockmgr_pin_text(v->src->mgr,
					      v->src->cols[v->col], k, out);
	return arfs_bufpool_pin(v->src->pool, key, piece_load, NULL, v, out);
}

/* ---- layout ----------------------------------------------------------- */

ssize_t arfs_view_npy_header(char *out, size_t cap, bool is_float,
			     uint64_t rows, uint64_t width)
{
	char dict[256];
	int n;
	size_t total;

	if (width)
		n = snprintf(dict, sizeof(dict), "{'descr': '%s', "
			     "'fortran_order': False, 'shape': (%" PRIu64
			     ", %" PRIu64 "), }", is_float ? "<f8" : "<i8",
			     rows, width);
	else
		n = snprintf(dict, sizeof(dict), "{'descr': '%s', "
			     "'fortran_order': False, 'shape': (%" PRIu64
			     ",), }", is_float ? "<f8" : "<i8", rows);
	total = (10 + (size_t)n + 1 + 63) / 64 * 64;
	if (total > cap)
		return -ENOSPC;
	memcpy(out, "\x93NUMPY\x01\x00", 8);
	out[8] = (char)((total - 10) & 0xff);
	out[9] = (char)((total - 10) >> 8);
	memcpy(out + 10, dict, (size_t)n);
	memset(out + 10 + n, ' ', total - 10 - (size_t)n - 1);
	out[total - 1] = '\n';
	return (ssize_t)total;
}

/* Whether block k of an int column holds a missing value. */
static int block_has_missing(struct arfs_view *v, uint64_t k, bool *out)
{
	struct arfs_column *col = v->src->cols[v->col];
	const struct arfs_colblock *b = arfs_column_block(col, k);
	struct arfs_values *vals;
	size_t len;
	void *p;
	int rc;

	if ((b->flags & ARFS_BLOCK_TYPED) && !(b->flags & ARFS_BLOCK_MULTITYPE)) {
		/* a typed block's first bytes: 2 types = one type and
		 * missing values; 1 type "undefined" = all missing */
		rc = arfs_blockmgr_read_payload(v->src->mgr, col, k, &p, &len);
		if (rc)
			return rc;
		*out = b->rows && len >= 2 && (((uint8_t *)p)[0] == 2 ||
		       (((uint8_t *)p)[0] == 1 &&
			((uint8_t *)p)[1] == ARFS_FT_UNDEFINED));
		free(p);
		return 0;
	}
	rc = arfs_blockmgr_decode(v->src->mgr, col, k, &vals);
	if (rc)
		return rc;
	*out = false;
	for (uint64_t i = 0; i < vals->n; i++)
		if (vals->v[i].type != ARFS_FT_INTEGER)
			*out = true;
	arfs_values_free(vals);
	return 0;
}

/* A vector column's common length, or -ENOENT if lengths differ. */
static int vector_width(struct arfs_view *v, uint64_t *width)
{
	struct arfs_column *col = v->src->cols[v->col];
	struct arfs_values *vals;
	bool seen = false;
	int rc = 0;

	*width = 0;
	for (uint64_t k = 0; !rc && k < arfs_column_nblocks(col); k++) {
		rc = arfs_blockmgr_decode(v->src->mgr, col, k, &vals);
		for (uint64_t i = 0; !rc && i < vals->n; i++) {
			if (vals->v[i].type != ARFS_FT_VECTOR)
				continue;	/* missing: a row of NaN */
			if (seen && vals->v[i].u.vec.n != *width)
				rc = -ENOENT;
			*width = vals->v[i].u.vec.n;
			seen = true;
		}
		if (vals)
			arfs_values_free(vals);
		vals = NULL;
	}
	return rc;
}

static int layout_npy(struct arfs_view *v)
{
	struct arfs_column *col = v->src->cols[v->col];
	unsigned type = v->src->g->cols[v->col].type;
	uint64_t nb = arfs_column_nblocks(col), w = 0;
	bool missing = false;
	ssize_t hl;
	int rc = 0;

	v->npy_float = type != ARFS_FT_INTEGER;
	for (uint64_t k = 0; !rc && !missing && type == ARFS_FT_INTEGER &&
	     k < nb; k++)
		rc = block_has_missing(v, k, &missing);
	if (missing)
		v->npy_float = true;
	if (!rc && type == ARFS_FT_VECTOR)
		rc = vector_width(v, &w);
	if (rc)
		return rc;
	v->npy_2d = type == ARFS_FT_VECTOR;
	v->width = v->npy_2d ? w : 1;
	v->hdr = malloc(256);
	v->off = calloc(nb + 1, sizeof(*v->off));
	if (!v->hdr || !v->off)
		return -ENOMEM;
	for (uint64_t k = 0; k < nb; k++)
		v->nrows += arfs_column_block(col, k)->rows;
	hl = arfs_view_npy_header(v->hdr, 256, v->npy_float, v->nrows,
				  v->npy_2d ? w : 0);
	if (hl < 0)
		return (int)hl;
	v->npieces = nb;
	v->off[0] = (uint64_t)hl;
	for (uint64_t k = 0; k < nb; k++)
		v->off[k + 1] = v->off[k] +
				arfs_column_block(col, k)->rows * v->width * 8;
	return 0;
}

static int layout_txt(struct arfs_view *v)
{
	struct arfs_column *col = v->src->cols[v->col];
	uint64_t nb = arfs_column_nblocks(col);
	ssize_t sz;

	v->off = calloc(nb + 1, sizeof(*v->off));
	if (!v->off)
		return -ENOMEM;
	v->npieces = nb;
	for (uint64_t k = 0; k < nb; k++) {
		sz = arfs_blockmgr_text_size(v->src->mgr, col, k);
		if (sz < 0)
			return (int)sz;
		v->off[k + 1] = v->off[k] + (uint64_t)sz;
	}
	return 0;
}

static int json_keys(struct arfs_view *v)
{
	const struct arfs_group *g = v->src->g;
	struct arfs_textbuf tb = { 0 };
	int rc = 0;

	v->keys = calloc(g->ncols + 1, sizeof(*v->keys));
	if (!v->keys)
		return -ENOMEM;
	for (uint64_t c = 0; !rc && c < g->ncols; c++) {
		tb.len = 0;
		rc = arfs_textbuf_add(&tb, c ? "," : "{", 1) ?:
		     arfs_jsonl_put_string(&tb, g->cols[c].name,
					   strlen(g->cols[c].name)) ?:
		     arfs_textbuf_add(&tb, ":", 2);	/* with its NUL */
		if (!rc && !(v->keys[c] = strdup(tb.p)))
			rc = -ENOMEM;
	}
	arfs_textbuf_release(&tb);
	return rc;
}

/*
 * Rows per chunk: ARFS_VIEW_CHUNK_ROWS, fewer for wide rows, so that a
 * chunk (a pool buffer) stays near ARFS_VIEW_CHUNK_BYTES. A row's width
 * is estimated from each column's first block text size where known
 * without rendering (else 64 bytes a value).
 */
static uint64_t chunk_rows(struct arfs_view *v)
{
	const struct arfs_group *g = v->src->g;
	const struct arfs_colblock *b;
	uint64_t row_bytes = 1, n;
	ssize_t sz;

	for (uint64_t c = 0; c < g->ncols; c++) {
		b = arfs_column_block(v->src->cols[c], 0);
		sz = b ? arfs_blockmgr_known_size(v->src->cols[c], 0) : -1;
		row_bytes += sz > 0 && b->rows ? (uint64_t)sz / b->rows + 1 : 64;
	}
	n = ARFS_VIEW_CHUNK_BYTES / row_bytes;
	return n < 16 ? 16 : n > ARFS_VIEW_CHUNK_ROWS ? ARFS_VIEW_CHUNK_ROWS : n;
}

/* ---- chunk sizes kept across mounts (viewsize.h) ---------------------- */

/* The view size file's key and path; false without a cache directory. */
static bool size_file_where(struct arfs_view *v, uint8_t **key, size_t *klen,
			    char **path)
{
	const char *dir = arfs_blockmgr_cache_dir(v->src->mgr);
	char *real = dir ? realpath(v->src->g->dir, NULL) : NULL;
	bool ok;

	if (!real)
		return false;
	*path = NULL;
	ok = !arfs_viewsize_key(v->src->g, real, v->src->cols, v->kind, key,
				klen);
	if (ok && !(*path = arfs_viewsize_path(dir, real, v->kind ==
					       ARFS_VIEW_CSV ? "csv" : "jsonl")))
		free(*key);
	free(real);
	return ok && *path;
}

/* Bytes every row takes at least: separators, keys, a byte a value. */
static uint64_t min_row_bytes(const struct arfs_view *v)
{
	uint64_t ncols = v->src->g->ncols, n = ncols ? ncols : 1;

	if (v->kind == ARFS_VIEW_JSONL) {
		n = ncols ? ncols + 2 : 3;
		for (uint64_t c = 0; c < ncols; c++)
			n += strlen(v->keys[c]);
	}
	return n;
}

/* Offsets from the view size file when it describes this view; else NULL
 * (a stale or bad file logged once per source). */
static uint64_t *offsets_from_file(struct arfs_view *v, const uint8_t *key,
				   size_t klen, const char *path,
				   uint64_t hdr_len)
{
	struct arfs_viewsize vs;
	const char *why;
	uint64_t *off = NULL;
	int rc = arfs_viewsize_load(path, key, klen, &vs, &why);

	if (!rc && (why = arfs_viewsize_check(&vs, v->nrows,
					      ARFS_VIEW_CHUNK_ROWS,
					      min_row_bytes(v))))
		rc = -EBADMSG;
	if (!rc && (off = calloc(vs.npieces + 1, sizeof(*off)))) {
		v->chunk_rows = vs.chunk_rows;
		v->npieces = vs.npieces;
		off[0] = hdr_len;
		for (uint64_t k = 0; k < vs.npieces; k++)
			off[k + 1] = off[k] + vs.sizes[k];
	} else if (rc && rc != -ENOENT && rc != -ENOMEM &&
		   !atomic_exchange(&v->src->size_warned, true)) {
		arfs_log(rc == -ESTALE ? ARFS_LOG_INFO : ARFS_LOG_WARNING,
			 "view size file %s (group %s) ignored: %s; chunk "
			 "sizes are rendered", path, v->src->g->dir, why);
	}
	free(vs.sizes);
	return off;
}

static void offsets_to_file(struct arfs_view *v, const uint8_t *key,
			    size_t klen, const char *path)
{
	struct arfs_viewsize vs = { v->chunk_rows, v->npieces, NULL };
	int rc = -ENOMEM;

	vs.sizes = malloc((v->npieces + 1) * sizeof(*vs.sizes));
	for (uint64_t k = 0; vs.sizes && k < v->npieces; k++)
		vs.sizes[k] = v->off[k + 1] - v->off[k];
	if (vs.sizes)
		rc = arfs_viewsize_save(arfs_blockmgr_cache_dir(v->src->mgr),
					path, key, klen, &vs);
	free(vs.sizes);
	if (rc && !atomic_exchange(&v->src->size_warned, true))
		arfs_log(ARFS_LOG_WARNING, "view size file %s cannot be "
			 "written (%s); the next mount renders the view's "
			 "chunks for its size", path, strerror(-rc));
}

/*
 * Offsets of the chunks: from the view size file if it has them, else by
 * rendering every chunk once, in order (each block decoded once), keeping
 * the chunks in the pool, and writing the file for the next mount.
 */
static int layout_rows(struct arfs_view *v)
{
	const struct arfs_group *g = v->src->g;
	struct arfs_textbuf tb = { 0 };
	struct arfs_buf *buf;
	uint8_t *key = NULL;
	size_t klen = 0;
	char *path = NULL;
	bool cached;
	uint64_t *off;
	int rc = 0;

	v->cur = calloc(g->ncols + 1, sizeof(*v->cur));
	if (!v->cur)
		return -ENOMEM;
	for (uint64_t c = 0; c < g->ncols; c++)
		v->cur[c].col = v->src->cols[c];
	if (v->kind == ARFS_VIEW_JSONL)
		rc = json_keys(v);
	else
		rc = arfs_csv_put_header(&tb, g);
	if (rc) {
		arfs_textbuf_release(&tb);
		return rc;
	}
	v->hdr = tb.p;	/* NULL for JSON Lines */
	v->nrows = arfs_csv_rows(g);
	cached = size_file_where(v, &key, &klen, &path);
	if (cached && (off = offsets_from_file(v, key, klen, path,
						 tb.len))) {
		v->off = off;
		v->size_file = path;
		free(key);
		return 0;
	}
	v->chunk_rows = chunk_rows(v);
	v->npieces = (v->nrows + v->chunk_rows - 1) / v->chunk_rows;
	off = calloc(v->npieces + 1, sizeof(*off));
	if (!off)
		rc = -ENOMEM;
	else
		off[0] = tb.len;
	for (uint64_t k = 0; !rc && k < v->npieces; k++) {
		rc = pin_piece(v, k, &buf);
		if (rc)
			break;
		off[k + 1] = off[k] + arfs_buf_size(buf);
		arfs_bufpool_unpin(v->src->pool, buf);
	}
	if (!rc) {
		v->off = off;	/* from now on, pieces are checked */
		if (cached)
			offsets_to_file(v, key, klen, path);
	} else {
		free(off);
	}
	free(key);
	free(path);
	return rc;
}

/* Forget a failed layout's partial state. [layout_lock] */
static void layout_reset(struct arfs_view *v)
{
	for (uint64_t c = 0; v->cur && c < v->src->g->ncols; c++)
		arfs_csv_cursor_release(&v->cur[c]);
	for (uint64_t c = 0; v->keys && c < v->src->g->ncols; c++)
		free(v->keys[c]);
	free(v->keys);
	free(v->cur);
	free(v->hdr);
	free(v->off);
	free(v->size_file);
	v->size_file = NULL;
	v->keys = NULL;
	v->cur = NULL;
	v->hdr = NULL;
	v->off = NULL;
	v->npieces = v->nrows = v->width = 0;
}

static int layout(struct arfs_view *v)
{
	int rc;

	pthread_mutex_lock(&v->layout_lock);
	if (!v->laid_out) {
		switch (v->kind) {
		case ARFS_VIEW_TXT:
			rc = layout_txt(v);
			break;
		case ARFS_VIEW_NPY:
			rc = layout_npy(v);
			break;
		default:
			rc = layout_rows(v);
		}
		/* a lasting answer; others (memory, I/O) are tried again */
		if (!rc || rc == -ENOENT || rc == -EUCLEAN) {
			v->err = rc;
			v->laid_out = true;
		} else {
			layout_reset(v);
		}
		if (rc && rc != -ENOENT)
			arfs_log(ARFS_LOG_ERR, "%s: view of %s failed: %s",
				 v->src->g->dir, v->kind <= ARFS_VIEW_JSONL ?
				 "the group" : v->src->g->cols[v->col].name,
				 strerror(-rc));
	}
	rc = v->err;
	pthread_mutex_unlock(&v->layout_lock);
	return rc;
}

int64_t arfs_view_size(struct arfs_view *v)
{
	int rc = layout(v);

	return rc ? rc : (int64_t)v->off[v->npieces];
}

ssize_t arfs_view_read(struct arfs_view *v, void *dst, size_t cap,
		       uint64_t off)
{
	uint64_t lo = 0, hi, k, n, end;
	struct arfs_buf *buf;
	size_t done = 0;
	ssize_t got;
	int rc = layout(v);

	if (rc)
		return rc;
	end = v->off[v->npieces];
	if (off >= end)
		return 0;
	if (cap > end - off)
		cap = (size_t)(end - off);
	if (off < v->off[0]) {
		n = v->off[0] - off < cap ? v->off[0] - off : cap;
		memcpy(dst, v->hdr + off, n);
		done = n;
	}
	hi = v->npieces;	/* last k with off[k] <= position */
	while (hi - lo > 1) {
		k = lo + (hi - lo) / 2;
		if (v->off[k] <= off + done)
			lo = k;
		else
			hi = k;
	}
	for (k = lo; done < cap && k < v->npieces; k++) {
		if (v->off[k + 1] == v->off[k])
			continue;
		rc = pin_piece(v, k, &buf);
		if (rc)
			return done ? (ssize_t)done : rc;
		if (arfs_buf_size(buf) != v->off[k + 1] - v->off[k]) {
			arfs_bufpool_unpin(v->src->pool, buf);
			arfs_log(ARFS_LOG_ERR, "%s: view piece %" PRIu64
				 " has another size than its layout",
				 v->src->g->dir, k);
			return -EIO;
		}
		got = arfs_buf_read(buf, (char *)dst + done, cap - done,
				    off + done - v->off[k]);
		arfs_bufpool_unpin(v->src->pool, buf);
		if (got < 0)
			return done ? (ssize_t)done : got;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

/* ---- image files -------------------------------------------------------- */

struct arfs_bufpool *arfs_viewsrc_pool(const struct arfs_viewsrc *src)
{
	return src->pool;
}

int arfs_view_images(struct arfs_viewsrc *src, uint64_t col,
		     int (*fn)(void *ctx, uint64_t row, const char *ext),
		     void *ctx)
{
	struct arfs_column *c;
	struct arfs_values *vals;
	const char *ext;
	uint64_t row = 0;
	int rc = 0;

	if (col >= src->g->ncols || src->g->cols[col].type != ARFS_FT_IMAGE)
		return -ENOENT;
	c = src->cols[col];
	for (uint64_t k = 0; !rc && k < arfs_column_nblocks(c); k++) {
		rc = arfs_blockmgr_decode(src->mgr, c, k, &vals);
		if (rc)
			break;
		row = arfs_column_block(c, k)->first_row;
		for (uint64_t i = 0; !rc && i < vals->n; i++)
			if ((ext = arfs_imgfile_ext(&vals->v[i])))
				rc = fn(ctx, row + i, ext);
		arfs_values_free(vals);
	}
	return rc;
}

/* Pool load of an image file: the key's space names the column, its id
 * the row; the buffer's tag says the extension (1 jpg, 2 png). */
static int image_load(void *ctx, struct arfs_buf *buf)
{
	struct arfs_viewsrc *src = ctx;
	struct arfs_bufkey key = arfs_buf_key(buf);
	uint64_t col = ((key.space & 0xffffff) >> 3) - 1, lo = 0, hi, mid;
	struct arfs_column *c = src->cols[col];
	const struct arfs_colblock *b;
	struct arfs_textbuf tb = { 0 };
	struct arfs_values *vals;
	const char *ext;
	int rc;

	hi = arfs_column_nblocks(c);
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (arfs_column_block(c, mid)->first_row <= key.id)
			lo = mid;
		else
			hi = mid;
	}
	b = arfs_column_block(c, lo);
	if (!b || key.id < b->first_row || key.id - b->first_row >= b->rows)
		return -ENOENT;
	rc = arfs_blockmgr_decode(src->mgr, c, lo, &vals);
	if (rc)
		return rc;
	if (key.id - b->first_row >= vals->n) {
		arfs_values_free(vals);
		return -EUCLEAN;
	}
	ext = arfs_imgfile_ext(&vals->v[key.id - b->first_row]);
	rc = arfs_imgfile_render(&vals->v[key.id - b->first_row], &tb);
	if (rc == -EUCLEAN)
		arfs_log(ARFS_LOG_ERR, "%s: column %s row %" PRIu64 ": raw "
			 "image pixels do not match its size", src->g->dir,
			 src->g->cols[col].name, key.id);
	if (!rc && tb.len)
		rc = arfs_buf_write(buf, tb.p, tb.len, 0);
	if (!rc)
		*arfs_buf_tag(buf) = ext[0] == 'j' ? 1 : 2;
	arfs_textbuf_release(&tb);
	arfs_values_free(vals);
	return rc;
}

int arfs_view_image_pin(struct arfs_viewsrc *src, uint64_t col, uint64_t row,
			struct arfs_buf **out, const char **ext)
{
	struct arfs_bufkey key = { 0, row };
	int rc;

	if (col >= src->g->ncols || src->g->cols[col].type != ARFS_FT_IMAGE)
		return -ENOENT;
	key.space = image_space(src, col);
	rc = arfs_bufpool_pin(src->pool, key, image_load, NULL, src, out);
	if (!rc)
		*ext = *arfs_buf_tag(*out) == 1 ? "jpg" : "png";
	return rc;
}
