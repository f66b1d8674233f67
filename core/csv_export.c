/*
 * csv_export.c - a segment group to CSV in the dialect of csv.h, the form
 * that import reads back to the same values.
 */
#include "csv.h"
#include "csv_turi.h"

#include "blockmgr.h"
#include "group.h"
#include "numfmt.h"
#include "textval.h"
#include "typed.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put_quoted(struct arfs_textbuf *tb, const char *s, size_t n)
{
	const char *q;
	int rc = arfs_textbuf_add(tb, "\"", 1);

	while (!rc && (q = memchr(s, '"', n))) {
		rc = arfs_textbuf_add(tb, s, (size_t)(q - s) + 1) ?:
		     arfs_textbuf_add(tb, "\"", 1);
		n -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	return rc ?: arfs_textbuf_add(tb, s, n) ?: arfs_textbuf_add(tb, "\"", 1);
}

/* A string field: RFC 4180 quoting, or Turi's escapes. */
static int put_string(struct arfs_textbuf *tb, const char *s, size_t n,
		      bool turi)
{
	return turi ? arfs_csv_turi_put_string(tb, s, n) : put_quoted(tb, s, n);
}

static int put_csv_value(struct arfs_textbuf *tb, const struct arfs_value *v,
			 bool turi)
{
	struct arfs_textbuf t = { 0 };
	int rc = 0;

	switch (v->type) {
	case ARFS_FT_UNDEFINED:
		return 0;
	case ARFS_FT_INTEGER:
		if (arfs_textbuf_reserve(tb, ARFS_NUMFMT_MAX))
			return -ENOMEM;
		tb->len += arfs_numfmt_i64(tb->p + tb->len, v->u.i);
		return 0;
	case ARFS_FT_FLOAT:
		return arfs_textval_put_double(tb, v->u.f, true);
	case ARFS_FT_STRING:
		return put_string(tb, v->u.str.p, v->u.str.len, turi);
	case ARFS_FT_VECTOR:
		rc = arfs_textbuf_add(tb, "[", 1);
		for (uint64_t i = 0; !rc && i < v->u.vec.n; i++)
			rc = (i ? arfs_textbuf_add(tb, " ", 1) : 0) ?:
			     arfs_textval_put_double(tb, v->u.vec.v[i], false);
		return rc ?: arfs_textbuf_add(tb, "]", 1);
	default:
		rc = arfs_textval_append(&t, v);
		if (!rc)
			rc = put_string(tb, t.p ? t.p : "", t.len, turi);
		arfs_textbuf_release(&t);
		return rc;
	}
}

int arfs_csv_cursor_seek(struct arfs_blockmgr *mgr, struct arfs_csv_cursor *cu,
			 uint64_t r)
{
	uint64_t lo = 0, hi = arfs_column_nblocks(cu->col), mid;
	const struct arfs_colblock *b;
	int rc;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (arfs_column_block(cu->col, mid)->first_row <= r)
			lo = mid;
		else
			hi = mid;
	}
	b = arfs_column_block(cu->col, lo);
	if (cu->vals && cu->blk == lo + 1 && r >= b->first_row &&
	    r - b->first_row <= cu->vals->n) {
		cu->pos = r - b->first_row;	/* the block decoded last */
		return 0;
	}
	arfs_values_free(cu->vals);
	cu->vals = NULL;
	cu->blk = lo;
	cu->pos = 0;
	if (!b || r < b->first_row || r - b->first_row >= b->rows) {
		cu->blk = arfs_column_nblocks(cu->col);	/* past its end */
		return 0;
	}
	rc = arfs_blockmgr_decode(mgr, cu->col, cu->blk++, &cu->vals);
	if (!rc)
		cu->pos = r - b->first_row;
	return rc;
}

int arfs_csv_cursor_next(struct arfs_blockmgr *mgr, struct arfs_csv_cursor *cu,
			 const struct arfs_value **out)
{
	static const struct arfs_value missing = { .type = ARFS_FT_UNDEFINED };
	int rc;

	while (!cu->vals || cu->pos == cu->vals->n) {
		arfs_values_free(cu->vals);
		cu->vals = NULL;
		if (cu->blk == arfs_column_nblocks(cu->col)) {
			*out = &missing;	/* a shorter column */
			return 0;
		}
		rc = arfs_blockmgr_decode(mgr, cu->col, cu->blk++, &cu->vals);
		if (rc)
			return rc;
		cu->pos = 0;
	}
	*out = &cu->vals->v[cu->pos++];
	return 0;
}

/*
 * Rows are cut into chunks of CHUNK_ROWS; each thread takes the next
 * chunk, formats it with its own cursors (one per column, seeking to the
 * chunk's first row), then waits for its turn to write, so the output is
 * in row order and at most one chunk per thread is held in memory.
 */
#define CHUNK_ROWS 16384

struct export {
	bool turi;			/* Turi's dialect */
	struct arfs_group *g;
	struct arfs_blockmgr *mgr;
	struct arfs_column **cols;	/* [ncols], shared read-only */
	uint64_t nrows, nchunks;
	FILE *out;
	const struct arfs_csv_export_opts *opts;
	pthread_mutex_t lock;
	pthread_cond_t turn;
	uint64_t next_take, next_write;	/* [lock] chunk numbers */
	int rc;				/* [lock] first error */
};

static int format_chunk(struct export *ex, struct arfs_csv_cursor *cu, uint64_t k,
			struct arfs_textbuf *tb)
{
	uint64_t r0 = k * CHUNK_ROWS, r1 = r0 + CHUNK_ROWS;
	const struct arfs_value *v;
	int rc = 0;

	if (r1 > ex->nrows)
		r1 = ex->nrows;
	tb->len = 0;
	for (uint64_t c = 0; !rc && c < ex->g->ncols; c++)
		rc = arfs_csv_cursor_seek(ex->mgr, &cu[c], r0);
	for (uint64_t r = r0; !rc && r < r1; r++) {
		for (uint64_t c = 0; !rc && c < ex->g->ncols; c++) {
			rc = (c ? arfs_textbuf_add(tb, ",", 1) : 0) ?:
			     arfs_csv_cursor_next(ex->mgr, &cu[c], &v) ?:
			     put_csv_value(tb, v, ex->turi);
		}
		rc = rc ?: arfs_textbuf_add(tb, "\n", 1);
	}
	return rc;
}

/* Write chunk k's text when its turn comes; false once anything failed. */
static bool write_in_turn(struct export *ex, uint64_t k, int rc,
			  const struct arfs_textbuf *tb)
{
	bool ok;

	pthread_mutex_lock(&ex->lock);
	while (ex->next_write != k && !ex->rc)
		pthread_cond_wait(&ex->turn, &ex->lock);
	if (!ex->rc && rc)
		ex->rc = rc;
	if (!ex->rc && tb->len && fwrite(tb->p, 1, tb->len, ex->out) != tb->len)
		ex->rc = -EIO;
	ex->next_write++;
	ok = !ex->rc;
	if (ok && ex->opts && ex->opts->progress)
		ex->opts->progress(ex->opts->ctx, ex->next_write * CHUNK_ROWS <
				   ex->nrows ? ex->next_write * CHUNK_ROWS :
				   ex->nrows, ex->nrows);
	pthread_cond_broadcast(&ex->turn);
	pthread_mutex_unlock(&ex->lock);
	return ok;
}

static void *export_thread(void *p)
{
	struct export *ex = p;
	struct arfs_textbuf tb = { 0 };
	struct arfs_csv_cursor *cu = calloc(ex->g->ncols + 1, sizeof(*cu));
	uint64_t k;
	int rc = cu ? 0 : -ENOMEM;

	for (uint64_t c = 0; cu && c < ex->g->ncols; c++)
		cu[c].col = ex->cols[c];
	for (;;) {
		pthread_mutex_lock(&ex->lock);
		k = ex->next_take++;
		pthread_mutex_unlock(&ex->lock);
		if (k >= ex->nchunks)
			break;
		if (!rc)
			rc = format_chunk(ex, cu, k, &tb);
		if (!write_in_turn(ex, k, rc, &tb))
			break;
	}
	for (uint64_t c = 0; cu && c < ex->g->ncols; c++)
		arfs_values_free(cu[c].vals);
	free(cu);
	arfs_textbuf_release(&tb);
	return NULL;
}

int arfs_csv_put_value(struct arfs_textbuf *tb, const struct arfs_value *v)
{
	return put_csv_value(tb, v, false);
}

int arfs_csv_put_header(struct arfs_textbuf *tb, const struct arfs_group *g)
{
	int rc = 0;

	for (uint64_t c = 0; c < g->ncols; c++) {
		const char *name = g->cols[c].name;

		rc = rc ?: (c ? arfs_textbuf_add(tb, ",", 1) : 0) ?:
		     put_quoted(tb, name, strlen(name));
	}
	return rc ?: arfs_textbuf_add(tb, "\n", 1);
}

uint64_t arfs_csv_rows(const struct arfs_group *g)
{
	uint64_t n = 0;

	for (uint64_t c = 0; c < g->ncols; c++)
		if (g->cols[c].rows > n)
			n = g->cols[c].rows;
	return n;
}

void arfs_csv_cursor_release(struct arfs_csv_cursor *cu)
{
	arfs_values_free(cu->vals);
	cu->vals = NULL;
}

static int write_header(struct export *ex)
{
	struct arfs_textbuf tb = { 0 };
	int rc = 0;

	for (uint64_t c = 0; c < ex->g->ncols; c++) {
		const char *name = ex->g->cols[c].name;

		rc = rc ?: (c ? arfs_textbuf_add(&tb, ",", 1) : 0);
		if (!rc && ex->turi && arfs_csv_turi_bare_name(name,
							       strlen(name)))
			rc = arfs_textbuf_add(&tb, name, strlen(name));
		else if (!rc)
			rc = put_string(&tb, name, strlen(name), ex->turi);
	}
	rc = rc ?: arfs_textbuf_add(&tb, "\n", 1);
	if (!rc && fwrite(tb.p, 1, tb.len, ex->out) != tb.len)
		rc = -EIO;
	arfs_textbuf_release(&tb);
	return rc;
}

static int export_rows(struct export *ex)
{
	unsigned n = ex->opts && ex->opts->threads ? ex->opts->threads : 1;
	pthread_t *t = calloc(n, sizeof(*t));
	unsigned started = 0;
	int rc = write_header(ex);

	if (!t)
		return -ENOMEM;
	ex->nrows = arfs_csv_rows(ex->g);
	ex->nchunks = (ex->nrows + CHUNK_ROWS - 1) / CHUNK_ROWS;
	pthread_mutex_init(&ex->lock, NULL);
	pthread_cond_init(&ex->turn, NULL);
	ex->rc = rc;
	for (; !rc && started < n; started++)
		if (pthread_create(&t[started], NULL, export_thread, ex))
			break;
	if (!rc && !started)
		export_thread(ex);	/* no thread: do it here */
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	rc = ex->rc;
	pthread_cond_destroy(&ex->turn);
	pthread_mutex_destroy(&ex->lock);
	free(t);
	return rc;
}

int arfs_csv_export(const char *group_path, FILE *out,
		    const struct arfs_csv_export_opts *opts)
{
	struct export ex = { .out = out, .opts = opts,
			     .turi = opts && opts->dialect == ARFS_CSV_TURI };
	int rc = arfs_group_open(group_path, &ex.g);

	if (rc)
		return rc;
	rc = arfs_blockmgr_new(NULL, &ex.mgr);
	if (!rc) {
		ex.cols = calloc(ex.g->ncols + 1, sizeof(*ex.cols));
		rc = ex.cols ? 0 : -ENOMEM;
	}
	for (uint64_t c = 0; !rc && c < ex.g->ncols; c++)
		rc = arfs_blockmgr_open_column(ex.mgr, ex.g, c, &ex.cols[c]);
	if (!rc)
		rc = export_rows(&ex);
	if (!rc && fflush(out))
		rc = -EIO;
	for (uint64_t c = 0; ex.cols && c < ex.g->ncols; c++)
		arfs_blockmgr_close_column(ex.mgr, ex.cols[c]);
	free(ex.cols);
	arfs_blockmgr_free(ex.mgr);
	arfs_group_free(ex.g);
	return rc;
}
