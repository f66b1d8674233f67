/*
 * csv_export.c - a segment group to CSV in the dialect of csv.h, the form
 * that import reads back to the same values.
 */
#include "csv.h"

#include "blockmgr.h"
#include "group.h"
#include "numfmt.h"
#include "textval.h"
#include "typed.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cursor {
	struct arfs_column *col;
	uint64_t blk, pos;
	struct arfs_values *vals;
};

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

static int put_double(struct arfs_textbuf *tb, double d, bool keep_dot)
{
	char *p;
	size_t n;

	if (arfs_textbuf_reserve(tb, ARFS_NUMFMT_MAX + 2))
		return -ENOMEM;
	p = tb->p + tb->len;
	n = arfs_numfmt_double(p, d);
	if (keep_dot && arfs_numfmt_is_integral(p, n)) {
		memcpy(p + n, ".0", 2);
		n += 2;
	}
	tb->len += n;
	return 0;
}

static int put_csv_value(struct arfs_textbuf *tb, const struct arfs_value *v)
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
		return put_double(tb, v->u.f, true);
	case ARFS_FT_STRING:
		return put_quoted(tb, v->u.str.p, v->u.str.len);
	case ARFS_FT_VECTOR:
		rc = arfs_textbuf_add(tb, "[", 1);
		for (uint64_t i = 0; !rc && i < v->u.vec.n; i++)
			rc = (i ? arfs_textbuf_add(tb, " ", 1) : 0) ?:
			     put_double(tb, v->u.vec.v[i], false);
		return rc ?: arfs_textbuf_add(tb, "]", 1);
	default:
		rc = arfs_textval_append(&t, v);
		if (!rc)
			rc = put_quoted(tb, t.p ? t.p : "", t.len);
		arfs_textbuf_release(&t);
		return rc;
	}
}

static int cursor_next(struct arfs_blockmgr *mgr, struct cursor *cu,
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

static int export_rows(struct arfs_group *g, struct arfs_blockmgr *mgr,
		       struct cursor *cu, FILE *out)
{
	struct arfs_textbuf tb = { 0 };
	const struct arfs_value *v;
	uint64_t nrows = 0;
	int rc = 0;

	for (uint64_t c = 0; c < g->ncols; c++) {
		nrows = g->cols[c].rows > nrows ? g->cols[c].rows : nrows;
		rc = rc ?: (c ? arfs_textbuf_add(&tb, ",", 1) : 0) ?:
		     put_quoted(&tb, g->cols[c].name, strlen(g->cols[c].name));
	}
	rc = rc ?: arfs_textbuf_add(&tb, "\n", 1);
	for (uint64_t r = 0; !rc && r < nrows; r++) {
		for (uint64_t c = 0; !rc && c < g->ncols; c++) {
			rc = (c ? arfs_textbuf_add(&tb, ",", 1) : 0) ?:
			     cursor_next(mgr, &cu[c], &v) ?:
			     put_csv_value(&tb, v);
		}
		rc = rc ?: arfs_textbuf_add(&tb, "\n", 1);
		if (!rc && tb.len >= (1u << 16)) {
			if (fwrite(tb.p, 1, tb.len, out) != tb.len)
				rc = -EIO;
			tb.len = 0;
		}
	}
	if (!rc && tb.len && fwrite(tb.p, 1, tb.len, out) != tb.len)
		rc = -EIO;
	arfs_textbuf_release(&tb);
	return rc;
}

int arfs_csv_export(const char *group_path, FILE *out)
{
	struct arfs_blockmgr *mgr = NULL;
	struct arfs_group *g;
	struct cursor *cu = NULL;
	int rc = arfs_group_open(group_path, &g);

	if (rc)
		return rc;
	rc = arfs_blockmgr_new(NULL, &mgr);
	if (!rc) {
		cu = calloc(g->ncols + 1, sizeof(*cu));
		rc = cu ? 0 : -ENOMEM;
	}
	for (uint64_t c = 0; !rc && c < g->ncols; c++)
		rc = arfs_blockmgr_open_column(mgr, g, c, &cu[c].col);
	if (!rc)
		rc = export_rows(g, mgr, cu, out);
	if (!rc && fflush(out))
		rc = -EIO;
	for (uint64_t c = 0; cu && c < g->ncols; c++) {
		arfs_values_free(cu[c].vals);
		arfs_blockmgr_close_column(mgr, cu[c].col);
	}
	free(cu);
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
	return rc;
}
