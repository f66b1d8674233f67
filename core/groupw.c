/*
 * groupw.c - segment group writer. See groupw.h for the contract and
 * docs/FORMAT.md 2.11 for the crash rules.
 *
 * State: per segment an open read-write descriptor, its committed length
 * (what the index on disk says), its current end (committed + staged block
 * bytes), and per column a growable array of block_info records: the
 * staged block table. Segments are append-only between compactions: a
 * commit appends a table and footer after the staged blocks, so every
 * byte a reader of the previous index can reach stays as it was. Only
 * recovery (truncating an uncommitted tail, which no index names) and
 * compaction (new files, old ones removed after the index moved on)
 * shrink or remove anything.
 *
 * The index is kept as the jansson tree read at open, so keys this code
 * does not know survive a rewrite; segment_files, num_segments, each
 * column's segment_sizes, segment_lengths and text_sizes are replaced at
 * commit. Writing the index files (the index, the .frame_idx, a new
 * group's archive files) is in groupw_index.c; the structures below are
 * in groupw_int.h, shared by both.
 *
 * Text sizes: beside each block record the writer keeps the size of the
 * block's text (textval.h), -1 when unknown: rendered from the payload
 * when a block is put, carried along by compaction, and taken at open
 * from the index's text_sizes where they still describe the segment.
 * Each commit writes them (FORMAT.md 2.4), so a mount of a group this
 * project wrote stats block files without decoding them.
 */
#include "groupw_int.h"

#include "codec.h"
#include "group.h"
#include "io.h"
#include "segment.h"
#include "textsize.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ---------------------------------------------------- */

static int lock_dir(const char *dir, int *lockfd)
{
	int fd = arfs_io_open(dir, O_RDONLY | O_DIRECTORY, 0), rc;

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rc == -EBUSY)
			arfs_log(ARFS_LOG_ERR, "%s: the group is open for "
				 "writing by another process (arrayfs or "
				 "arrayctl)", dir);
		arfs_io_close(fd);
		return rc;
	}
	*lockfd = fd;
	return 0;
}

static int blist_insert(struct blist *bl, uint64_t at,
			const struct arfs_block_info *bi, int64_t text_size)
{
	struct arfs_block_info *n;
	uint64_t cap = bl->cap ? bl->cap * 2 : 16;
	int64_t *ts;

	if (bl->n == bl->cap) {
		n = realloc(bl->b, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		bl->b = n;
		ts = realloc(bl->ts, cap * sizeof(*ts));
		if (!ts)
			return -ENOMEM;
		bl->ts = ts;
		bl->cap = cap;
	}
	memmove(bl->b + at + 1, bl->b + at, (bl->n - at) * sizeof(*bl->b));
	memmove(bl->ts + at + 1, bl->ts + at, (bl->n - at) * sizeof(*bl->ts));
	bl->b[at] = *bi;
	bl->ts[at] = text_size;
	bl->n++;
	return 0;
}

static void seg_release(struct arfs_groupw *gw, struct gw_seg *s)
{
	arfs_io_close(s->fd);
	for (uint64_t c = 0; s->cols && c < gw->ncols; c++) {
		free(s->cols[c].b);
		free(s->cols[c].ts);
	}
	free(s->cols);
	free(s->file);
}

void arfs_groupw_close(struct arfs_groupw *gw)
{
	struct gw_seg *s;

	if (!gw)
		return;
	for (uint64_t i = 0; i < gw->nsegs; i++) {
		s = &gw->segs[i];
		/* drop staged bytes; a new, never committed file goes too */
		if (s->fd >= 0 && s->committed && s->end > s->committed)
			arfs_io_ftruncate(s->fd, (off_t)s->committed);
		else if (s->fd >= 0 && !s->committed && s->file)
			arfs_io_unlinkat(gw->dirfd, s->file, 0);
		seg_release(gw, s);
	}
	free(gw->segs);
	for (uint64_t c = 0; gw->names && c < gw->ncols; c++)
		free(gw->names[c]);
	free(gw->names);
	free(gw->types);
	json_decref(gw->sidx);
	arfs_io_close(gw->dirfd);
	arfs_io_close(gw->lockfd);
	free(gw->dir);
	free(gw->sidx_file);
	free(gw->frame_file);
	free(gw->prefix);
	free(gw);
}

static struct arfs_groupw *gw_alloc(const char *dir,
				    const struct arfs_groupw_opts *opts)
{
	struct arfs_groupw *gw = calloc(1, sizeof(*gw));

	if (!gw)
		return NULL;
	gw->dirfd = gw->lockfd = -1;
	if (opts)
		gw->opts = *opts;
	if (!gw->opts.block_target)
		gw->opts.block_target = ARFS_GROUPW_BLOCK_TARGET;
	if (!gw->opts.zstd_level)
		gw->opts.zstd_level = 3;
	gw->dir = strdup(dir);
	if (!gw->dir) {
		free(gw);
		return NULL;
	}
	return gw;
}

/* ---- segments: load, recover ------------------------------------------ */

/* Index sizes e still describe seg (committed at len): else NULL. */
static const struct arfs_sidx_sizes *sizes_fit(
	const struct arfs_sidx_sizes *e, const struct arfs_segment *seg,
	uint64_t len, uint64_t sum)
{
	if (!e || !e->present || e->length != len || e->table_sum != sum)
		return NULL;
	for (uint64_t c = 0; c < seg->ncols; c++)
		if (e->nblocks[c] != seg->nblocks[c] ||
		    !arfs_textsize_plausible(e->sizes[c], seg->blocks[c],
					     seg->nblocks[c]))
			return NULL;
	return e;
}

static int seg_load(struct arfs_groupw *gw, struct gw_seg *s,
		    uint64_t committed, const struct arfs_sidx_sizes *sizes)
{
	struct arfs_segment *seg;
	off_t size;
	int rc;

	s->fd = arfs_io_openat(gw->dirfd, s->file, O_RDWR | O_NOFOLLOW, 0);
	if (s->fd < 0)
		return s->fd;
	size = arfs_io_size(s->fd);
	if (size < 0)
		return (int)size;
	if (!committed)
		committed = (uint64_t)size;
	if ((uint64_t)size > committed) {
		arfs_log(ARFS_LOG_INFO, "%s: truncating an uncommitted tail "
			 "(%" PRIu64 " bytes past the committed length "
			 "%" PRIu64 ")", s->file, (uint64_t)size - committed,
			 committed);
		rc = arfs_io_ftruncate(s->fd, (off_t)committed);
		if (!rc)
			rc = gw_fsync(gw, s->fd);
		if (rc)
			return rc;
	}
	rc = arfs_segment_parse_len(s->fd, s->file, committed, &seg);
	if (rc)
		return rc;
	s->committed = s->end = committed;
	s->cols = calloc(gw->ncols + 1, sizeof(*s->cols));
	if (!s->cols) {
		arfs_segment_free(seg);
		return -ENOMEM;
	}
	if (seg->ncols != gw->ncols)
		rc = -EUCLEAN;
	s->table_sum = arfs_textsize_table_sum(seg);
	if (!rc)
		sizes = sizes_fit(sizes, seg, committed, s->table_sum);
	for (uint64_t c = 0; !rc && c < gw->ncols; c++)
		for (uint64_t b = 0; !rc && b < seg->nblocks[c]; b++)
			rc = blist_insert(&s->cols[c], s->cols[c].n,
					  &seg->blocks[c][b], sizes ?
					  sizes->sizes[c][b] :
					  ARFS_TEXTSIZE_UNKNOWN);
	arfs_segment_free(seg);
	return rc;
}

static bool is_seg_name(const char *name, const char *prefix)
{
	size_t n = strlen(prefix), i;

	if (strncmp(name, prefix, n) || name[n] != '.')
		return false;
	for (i = n + 1; name[i]; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return i == n + 5;
}

static bool seg_named(const struct arfs_groupw *gw, const char *name)
{
	for (uint64_t s = 0; s < gw->nsegs; s++)
		if (!strcmp(gw->segs[s].file, name))
			return true;
	return false;
}

/* Remove temporary index files and segment files no index names. */
static void remove_leftovers(struct arfs_groupw *gw)
{
	DIR *d = opendir(gw->dir);
	struct dirent *de;
	size_t n;

	if (!d)
		return;
	while ((de = readdir(d))) {
		n = strlen(de->d_name);
		if ((de->d_name[0] == '.' && n > 5 &&
		     !strcmp(de->d_name + n - 4, ".tmp")) ||
		    (is_seg_name(de->d_name, gw->prefix) &&
		     !seg_named(gw, de->d_name))) {
			arfs_log(ARFS_LOG_INFO, "%s/%s: removing a leftover of "
				 "an interrupted commit", gw->dir, de->d_name);
			arfs_io_unlinkat(gw->dirfd, de->d_name, 0);
		}
	}
	closedir(d);
}

/* ---- open ------------------------------------------------------------- */

static int load_json(struct arfs_groupw *gw)
{
	json_error_t jerr;
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", gw->dir, gw->sidx_file);
	gw->sidx = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!gw->sidx) {
		arfs_log(ARFS_LOG_ERR, "%s: %s", path, jerr.text);
		return -EUCLEAN;
	}
	return 0;
}

static int from_group(struct arfs_groupw *gw, const struct arfs_group *g)
{
	const struct arfs_sidx *sx;

	if (g->nsidx != 1) {
		arfs_log(ARFS_LOG_ERR, "%s: columns spread over several "
			 "indexes cannot be written", g->dir);
		return -EOPNOTSUPP;
	}
	sx = &g->sidx[0];
	for (uint64_t c = 0; c < g->ncols; c++)
		if (g->cols[c].index != c || sx->ncols != g->ncols) {
			arfs_log(ARFS_LOG_ERR, "%s: columns are not in index "
				 "order; cannot be written", g->dir);
			return -EOPNOTSUPP;
		}
	gw->sidx_file = strdup(sx->file);
	gw->prefix = strndup(sx->file, strlen(sx->file) - strlen(".sidx"));
	if (strcmp(g->index_file, sx->file))
		gw->frame_file = strdup(g->index_file);
	gw->ncols = g->ncols;
	gw->nrows_frame = g->nrows;
	gw->names = calloc(g->ncols + 1, sizeof(*gw->names));
	gw->types = calloc(g->ncols + 1, sizeof(*gw->types));
	gw->nsegs = sx->nsegs;
	gw->segs = calloc(sx->nsegs + 1, sizeof(*gw->segs));
	if (!gw->sidx_file || !gw->prefix || !gw->names || !gw->types ||
	    !gw->segs)
		return -ENOMEM;
	for (uint64_t s = 0; s < gw->nsegs; s++)
		gw->segs[s].fd = -1;
	for (uint64_t c = 0; c < g->ncols; c++) {
		gw->names[c] = strdup(g->cols[c].name);
		gw->types[c] = g->cols[c].type;
		if (!gw->names[c])
			return -ENOMEM;
	}
	for (uint64_t s = 0; s < gw->nsegs; s++) {
		int rc;

		gw->segs[s].file = strdup(sx->seg_files[s]);
		if (!gw->segs[s].file)
			return -ENOMEM;
		rc = seg_load(gw, &gw->segs[s], sx->seg_len[s],
			      sx->text_sizes ? &sx->text_sizes[s] : NULL);
		if (!rc)
			for (uint64_t c = 0; c < gw->ncols; c++) {
				uint64_t rows = 0;
				struct blist *bl = &gw->segs[s].cols[c];

				for (uint64_t b = 0; b < bl->n; b++)
					rows += bl->b[b].num_elem;
				if (rows != sx->seg_rows[c][s])
					rc = -EUCLEAN;
			}
		if (rc) {
			arfs_log(ARFS_LOG_ERR, "%s/%s: cannot load: %s",
				 gw->dir, sx->seg_files[s], strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int arfs_groupw_open(const char *dir, const struct arfs_groupw_opts *opts,
		     struct arfs_groupw **out)
{
	struct arfs_groupw *gw = gw_alloc(dir, opts);
	struct arfs_group *g = NULL;
	int rc;

	if (!gw)
		return -ENOMEM;
	rc = gw->opts.lock_held ? 0 : lock_dir(dir, &gw->lockfd);
	if (rc)
		goto out_close;
	gw->dirfd = arfs_io_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (gw->dirfd < 0) {
		rc = gw->dirfd;
		goto out_close;
	}
	rc = arfs_group_open(dir, &g);
	if (!rc)
		rc = from_group(gw, g);
	arfs_group_free(g);
	if (!rc)
		rc = load_json(gw);
	if (rc)
		goto out_close;
	remove_leftovers(gw);
	*out = gw;
	return 0;
out_close:
	arfs_groupw_close(gw);
	return rc;
}

/* ---- accessors -------------------------------------------------------- */

uint64_t arfs_groupw_ncols(const struct arfs_groupw *gw)
{
	return gw->ncols;
}

uint64_t arfs_groupw_nsegs(const struct arfs_groupw *gw)
{
	return gw->nsegs;
}

unsigned arfs_groupw_type(const struct arfs_groupw *gw, uint64_t col)
{
	return col < gw->ncols ? gw->types[col] : ARFS_FT_UNDEFINED;
}

uint64_t arfs_groupw_nblocks(const struct arfs_groupw *gw, uint64_t seg,
			     uint64_t col)
{
	if (seg >= gw->nsegs || col >= gw->ncols)
		return 0;
	return gw->segs[seg].cols[col].n;
}

const struct arfs_block_info *arfs_groupw_block(const struct arfs_groupw *gw,
						uint64_t seg, uint64_t col,
						uint64_t blk)
{
	if (seg >= gw->nsegs || col >= gw->ncols ||
	    blk >= gw->segs[seg].cols[col].n)
		return NULL;
	return &gw->segs[seg].cols[col].b[blk];
}

const char *arfs_groupw_dir(const struct arfs_groupw *gw)
{
	return gw->dir;
}

bool arfs_groupw_dirty(const struct arfs_groupw *gw)
{
	return gw->dirty;
}

/* ---- segments: create, append ------------------------------------------ */

static int new_seg_file(struct arfs_groupw *gw, char **name, int *fd)
{
	for (unsigned i = 0; i < 10000; i++) {
		if (asprintf(name, "%s.%04u", gw->prefix, i) < 0)
			return -ENOMEM;
		if (!seg_named(gw, *name)) {
			*fd = arfs_io_openat(gw->dirfd, *name,
					     O_RDWR | O_CREAT | O_TRUNC, 0644);
			if (*fd >= 0)
				return 0;
			free(*name);
			*name = NULL;	/* callers free what is left */
			return *fd;
		}
		free(*name);
		*name = NULL;
	}
	return -ENOSPC;
}

int arfs_groupw_add_segment(struct arfs_groupw *gw, uint64_t *segno)
{
	struct gw_seg *n = realloc(gw->segs, (gw->nsegs + 1) * sizeof(*n)), *s;
	int rc;

	if (!n)
		return -ENOMEM;
	gw->segs = n;
	s = &n[gw->nsegs];
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->cols = calloc(gw->ncols + 1, sizeof(*s->cols));
	if (!s->cols)
		return -ENOMEM;
	rc = new_seg_file(gw, &s->file, &s->fd);
	if (rc) {
		free(s->cols);
		return rc;
	}
	s->dirty = true;
	gw->dirty = true;
	*segno = gw->nsegs++;
	return 0;
}

/*
 * Compress payload per mode into *out (malloc'd) unless that saves less
 * than 10%: then *out is NULL and the payload is stored raw. *flag is the
 * compression flag to add.
 */
static int compress(enum arfs_groupw_compress mode, int level,
		    const void *p, size_t len, void **out, size_t *out_len,
		    uint64_t *flag)
{
	size_t cap;
	ssize_t n;
	void *buf;

	*out = NULL;
	*flag = 0;
	if (mode == ARFS_GROUPW_NONE || len < 32)
		return 0;
	cap = mode == ARFS_GROUPW_LZ4 ? arfs_codec_lz4_bound(len) :
	      arfs_codec_zstd_bound(len);
	buf = malloc(cap ? cap : 1);
	if (!buf)
		return -ENOMEM;
	n = mode == ARFS_GROUPW_LZ4 ?
	    arfs_codec_lz4_compress(buf, cap, p, len) :
	    arfs_codec_zstd_compress(buf, cap, p, len, level);
	if (n < 0 || (size_t)n > len - len / 10) {
		free(buf);
		return 0;
	}
	*out = buf;
	*out_len = (size_t)n;
	*flag = mode == ARFS_GROUPW_LZ4 ? ARFS_BLOCK_LZ4 : ARFS_BLOCK_ZSTD;
	return 0;
}

/* Append stored bytes to segment s: the record's offset/length are set. */
static int seg_append(struct arfs_groupw *gw, struct gw_seg *s,
		      const void *p, size_t len, struct arfs_block_info *bi)
{
	int rc = arfs_io_pwrite_all(s->fd, p, len, (off_t)s->end);

	if (rc)
		return rc;
	bi->offset = s->end;
	bi->length = len;
	s->end += len;
	s->dirty = true;
	gw->dirty = true;
	return 0;
}

/* Compress and append a payload; fill *bi. */
static int store_payload(struct arfs_groupw *gw, struct gw_seg *s,
			 uint64_t col, enum arfs_groupw_compress mode,
			 const void *payload, size_t len, uint64_t num_elem,
			 uint64_t flags, struct arfs_block_info *bi)
{
	size_t zlen = 0;
	uint64_t cflag;
	void *z;
	int rc;

	if (num_elem > ARFS_TYPEDENC_MAX_ROWS)
		return -EOVERFLOW;
	rc = compress(mode, gw->opts.zstd_level, payload, len, &z, &zlen,
		      &cflag);
	if (rc)
		return rc;
	memset(bi, 0, sizeof(*bi));
	bi->block_size = len;
	bi->num_elem = num_elem;
	bi->flags = (flags & ~(uint64_t)(ARFS_BLOCK_LZ4 | ARFS_BLOCK_ZSTD)) |
		    cflag;
	bi->content_type = (uint16_t)gw->types[col];
	rc = seg_append(gw, s, z ? z : payload, z ? zlen : len, bi);
	free(z);
	return rc;
}

/* Size of the text the mount shows for a payload; -1 if it does not decode. */
static int64_t payload_text_size(const struct arfs_groupw *gw, uint64_t col,
				 const void *payload, size_t len,
				 uint64_t num_elem, uint64_t flags)
{
	struct arfs_block_info bi = {
		.block_size = len, .num_elem = num_elem,
		.flags = flags & ~(uint64_t)(ARFS_BLOCK_LZ4 | ARFS_BLOCK_ZSTD),
		.content_type = (uint16_t)gw->types[col],
	};
	struct arfs_values *vals;
	size_t tlen;
	char *text;
	int rc = arfs_typed_decode(&bi, payload, len, "block being written",
				   &vals);

	if (rc)
		return ARFS_TEXTSIZE_UNKNOWN;
	rc = arfs_textval_render(vals, &text, &tlen);
	arfs_values_free(vals);
	if (rc)
		return ARFS_TEXTSIZE_UNKNOWN;
	free(text);
	return (int64_t)tlen;
}

static int put(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
	       uint64_t blk, bool insert, const void *payload, size_t len,
	       uint64_t num_elem, uint64_t flags)
{
	struct arfs_block_info bi;
	struct blist *bl;
	int64_t ts;
	int rc;

	if (seg >= gw->nsegs || col >= gw->ncols)
		return -ERANGE;
	bl = &gw->segs[seg].cols[col];
	if (blk > bl->n)
		return -ERANGE;
	rc = store_payload(gw, &gw->segs[seg], col, gw->opts.compress,
			   payload, len, num_elem, flags, &bi);
	if (rc)
		return rc;
	ts = payload_text_size(gw, col, payload, len, num_elem, flags);
	if (blk == bl->n || insert)
		return blist_insert(bl, blk, &bi, ts);
	bl->b[blk] = bi;
	bl->ts[blk] = ts;
	return 0;
}

int arfs_groupw_put(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
		    uint64_t blk, const void *payload, size_t len,
		    uint64_t num_elem, uint64_t flags)
{
	return put(gw, seg, col, blk, false, payload, len, num_elem, flags);
}

static int put_enc(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
		   uint64_t blk, bool insert, const struct arfs_typedenc *enc)
{
	struct arfs_textbuf tb = { 0 };
	uint64_t flags;
	int rc;

	if (col < gw->ncols && enc->type != gw->types[col])
		return -EINVAL;
	rc = arfs_typedenc_encode(enc, &tb, &flags);
	if (!rc)
		rc = put(gw, seg, col, blk, insert, tb.p, tb.len, enc->n,
			 flags);
	arfs_textbuf_release(&tb);
	return rc;
}

int arfs_groupw_put_enc(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
			uint64_t blk, const struct arfs_typedenc *enc)
{
	return put_enc(gw, seg, col, blk, false, enc);
}

int arfs_groupw_insert_enc(struct arfs_groupw *gw, uint64_t seg,
			   uint64_t col, uint64_t blk,
			   const struct arfs_typedenc *enc)
{
	return put_enc(gw, seg, col, blk, true, enc);
}

int arfs_groupw_remove(struct arfs_groupw *gw, uint64_t seg, uint64_t col,
		       uint64_t blk)
{
	struct blist *bl;

	if (seg >= gw->nsegs || col >= gw->ncols)
		return -ERANGE;
	bl = &gw->segs[seg].cols[col];
	if (blk >= bl->n)
		return -ERANGE;
	memmove(bl->b + blk, bl->b + blk + 1,
		(bl->n - blk - 1) * sizeof(*bl->b));
	memmove(bl->ts + blk, bl->ts + blk + 1,
		(bl->n - blk - 1) * sizeof(*bl->ts));
	bl->n--;
	gw->segs[seg].dirty = true;
	gw->dirty = true;
	return 0;
}

/* ---- commit ----------------------------------------------------------- */

/* Append the block table and footer of s at its end; fsync. */
static int seg_write_table(struct arfs_groupw *gw, struct gw_seg *s)
{
	size_t len = 8, at;
	uint8_t *t;
	uint64_t nb = 0;
	int rc;

	for (uint64_t c = 0; c < gw->ncols; c++)
		nb += s->cols[c].n;
	len += 8 * gw->ncols + ARFS_BLOCK_INFO_SIZE * nb;
	t = calloc(1, len + 8);
	if (!t)
		return -ENOMEM;
	put_le64(t, gw->ncols);
	at = 8;
	for (uint64_t c = 0; c < gw->ncols; c++) {
		put_le64(t + at, s->cols[c].n);
		at += 8;
		for (uint64_t b = 0; b < s->cols[c].n; b++) {
			arfs_block_info_put(t + at, &s->cols[c].b[b]);
			at += ARFS_BLOCK_INFO_SIZE;
		}
	}
	put_le64(t + at, len);
	s->table_sum = arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT, t, len);
	rc = arfs_io_pwrite_all(s->fd, t, len + 8, (off_t)s->end);
	free(t);
	if (!rc)
		rc = gw_fsync(gw, s->fd);
	if (!rc)
		s->end += len + 8;
	return rc;
}

static uint64_t col_rows(const struct arfs_groupw *gw, uint64_t c)
{
	uint64_t rows = 0;

	for (uint64_t s = 0; s < gw->nsegs; s++)
		rows += seg_rows(&gw->segs[s], c);
	return rows;
}

int arfs_groupw_commit(struct arfs_groupw *gw)
{
	bool renamed = false;
	uint64_t nrows;
	int rc = 0;

	if (!gw->dirty)
		return 0;
	for (uint64_t s = 0; !rc && s < gw->nsegs; s++)
		if (gw->segs[s].dirty)
			rc = seg_write_table(gw, &gw->segs[s]);
	/* new segment files' directory entries before the index names them */
	if (!rc)
		rc = gw_fsync_dir(gw);
	if (!rc)
		rc = arfs_gw_write_index(gw, &renamed);	/* the commit point */
	if (rc && !renamed)
		return rc;
	/*
	 * Past the rename the new state is on disk even when the directory
	 * fsync after it failed: it must not be dropped (close would cut the
	 * segments below the lengths the index now names).
	 */
	for (uint64_t s = 0; s < gw->nsegs; s++) {
		gw->segs[s].committed = gw->segs[s].end;
		gw->segs[s].dirty = false;
	}
	gw->dirty = false;
	if (rc)
		return rc;
	nrows = gw->ncols ? col_rows(gw, 0) : 0;
	if (gw->frame_file && nrows != gw->nrows_frame) {
		rc = arfs_gw_write_frame(gw, nrows);
		if (!rc)
			gw->nrows_frame = nrows;
	}
	return rc;
}

uint64_t arfs_groupw_disk_bytes(const struct arfs_groupw *gw)
{
	struct stat st;
	uint64_t total = 0;

	for (uint64_t s = 0; s < gw->nsegs; s++)
		total += gw->segs[s].committed;
	if (!fstatat(gw->dirfd, gw->sidx_file, &st, 0))
		total += (uint64_t)st.st_size;
	if (gw->frame_file && !fstatat(gw->dirfd, gw->frame_file, &st, 0))
		total += (uint64_t)st.st_size;
	return total;
}

/* ---- create ----------------------------------------------------------- */

static int name_ok(const char *name)
{
	return *name && !strchr(name, '\n') && strlen(name) < 4096;
}

int arfs_groupw_create(const char *dir, uint64_t ncols,
		       const char *const *names, const unsigned *types,
		       const struct arfs_groupw_opts *opts,
		       struct arfs_groupw **out)
{
	struct arfs_groupw *gw = gw_alloc(dir, opts);
	struct timespec ts;
	char prefix[64];
	int rc = -ENOMEM;

	if (!gw)
		return -ENOMEM;
	for (uint64_t c = 0; c < ncols; c++)
		if (!name_ok(names[c]) || types[c] >= ARFS_FT_COUNT) {
			rc = -EINVAL;
			goto out_close;
		}
	rc = gw->opts.lock_held ? 0 : lock_dir(dir, &gw->lockfd);
	if (rc)
		goto out_close;
	gw->dirfd = arfs_io_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (gw->dirfd < 0) {
		rc = gw->dirfd;
		goto out_close;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(prefix, sizeof(prefix), "m_%016" PRIx64,
		 (uint64_t)(((uint64_t)ts.tv_sec * 1000000007ull) ^
			    (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40)));
	rc = -ENOMEM;
	gw->prefix = strdup(prefix);
	gw->ncols = ncols;
	gw->names = calloc(ncols + 1, sizeof(*gw->names));
	gw->types = calloc(ncols + 1, sizeof(*gw->types));
	if (asprintf(&gw->sidx_file, "%s.sidx", prefix) < 0)
		gw->sidx_file = NULL;
	if (asprintf(&gw->frame_file, "%s.frame_idx", prefix) < 0)
		gw->frame_file = NULL;
	gw->sidx = arfs_gw_empty_index(ncols, types);
	if (!gw->prefix || !gw->names || !gw->types || !gw->sidx_file ||
	    !gw->frame_file || !gw->sidx)
		goto out_close;
	for (uint64_t c = 0; c < ncols; c++) {
		gw->names[c] = strdup(names[c]);
		gw->types[c] = types[c];
		if (!gw->names[c])
			goto out_close;
	}
	rc = arfs_gw_create_files(gw);
	if (rc)
		goto out_close;
	*out = gw;
	return 0;
out_close:
	arfs_groupw_close(gw);
	return rc;
}

/* ---- compaction ------------------------------------------------------- */

/* Copy (or re-compress) one block from s into the new segment n. */
static int copy_block(struct arfs_groupw *gw, struct gw_seg *s,
		      struct gw_seg *n, uint64_t col,
		      enum arfs_groupw_compress mode,
		      struct arfs_block_info *bi)
{
	struct arfs_segment seg = { .name = s->file };
	uint64_t want = mode == ARFS_GROUPW_LZ4 ? ARFS_BLOCK_LZ4 :
			mode == ARFS_GROUPW_ZSTD ? ARFS_BLOCK_ZSTD : 0;
	uint64_t have = bi->flags & (ARFS_BLOCK_LZ4 | ARFS_BLOCK_ZSTD);
	void *raw, *payload;
	size_t plen;
	ssize_t r;
	int rc;

	raw = malloc(bi->length ? bi->length : 1);
	if (!raw)
		return -ENOMEM;
	r = arfs_io_pread_all(s->fd, raw, bi->length, (off_t)bi->offset);
	rc = r < 0 ? (int)r : (uint64_t)r != bi->length ? -EUCLEAN : 0;
	if (!rc && (mode == ARFS_GROUPW_KEEP || have == want)) {
		rc = seg_append(gw, n, raw, bi->length, bi);
	} else if (!rc) {
		rc = arfs_segment_decode(&seg, bi, raw, bi->length, &payload,
					 &plen);
		if (!rc) {
			rc = store_payload(gw, n, col, mode, payload, plen,
					   bi->num_elem, bi->flags, bi);
			free(payload);
		}
	}
	free(raw);
	return rc;
}

static int compact_seg(struct arfs_groupw *gw, struct gw_seg *s,
		       struct gw_seg *n, enum arfs_groupw_compress mode)
{
	int rc;

	n->fd = -1;
	n->cols = calloc(gw->ncols + 1, sizeof(*n->cols));
	if (!n->cols)
		return -ENOMEM;
	rc = new_seg_file(gw, &n->file, &n->fd);
	for (uint64_t c = 0; !rc && c < gw->ncols; c++)
		for (uint64_t b = 0; !rc && b < s->cols[c].n; b++) {
			struct arfs_block_info bi = s->cols[c].b[b];

			rc = copy_block(gw, s, n, c, mode, &bi);
			if (!rc)
				rc = blist_insert(&n->cols[c], n->cols[c].n,
						  &bi, s->cols[c].ts[b]);
		}
	if (!rc)
		rc = seg_write_table(gw, n);
	return rc;
}

int arfs_groupw_compact(struct arfs_groupw *gw,
			enum arfs_groupw_compress mode)
{
	struct gw_seg *old = gw->segs, *fresh, *grown;
	uint64_t nsegs = gw->nsegs, built = 0;
	bool renamed = false;
	int rc = arfs_groupw_commit(gw), rc2;

	if (rc)
		return rc;
	fresh = calloc(nsegs + 1, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	/* new files get names no old or new segment uses: list both */
	grown = realloc(old, (2 * nsegs + 1) * sizeof(*old));
	if (!grown) {
		free(fresh);
		return -ENOMEM;
	}
	gw->segs = old = grown;
	for (; !rc && built < nsegs; built++) {
		gw->nsegs = nsegs + built;
		rc = compact_seg(gw, &old[built], &fresh[built], mode);
		old[nsegs + built] = fresh[built];	/* reserve its name */
	}
	gw->nsegs = nsegs;
	if (!rc) {
		gw->segs = fresh;
		gw->dirty = true;	/* the index must name the new files */
		rc = gw_fsync_dir(gw);
		if (!rc)
			rc = arfs_gw_write_index(gw, &renamed);	/* the commit point */
		gw->dirty = false;
	}
	if (rc && !renamed) {
		/* old state stays: drop the new files */
		gw->segs = old;
		for (uint64_t s = 0; s < built; s++) {
			if (fresh[s].file)
				arfs_io_unlinkat(gw->dirfd, fresh[s].file, 0);
			seg_release(gw, &fresh[s]);
		}
		free(fresh);
		return rc;
	}
	for (uint64_t s = 0; s < nsegs; s++) {
		fresh[s].committed = fresh[s].end;
		arfs_io_unlinkat(gw->dirfd, old[s].file, 0);
		seg_release(gw, &old[s]);
	}
	free(old);
	/* renamed with rc set: the new files are in place, the error stays */
	rc2 = gw_fsync_dir(gw);
	return rc ? rc : rc2;
}
