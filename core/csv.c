/*
 * csv.c - CSV import into segment groups (export: csv_export.c). See
 * csv.h for the dialect and the type inference rule.
 *
 * Import reads the file twice: pass 1 checks every record (field count,
 * quoting, UTF-8) and infers the column types; pass 2 encodes. Nothing is
 * written before pass 1 succeeds, and pass 2 writes into a temporary
 * directory beside the target that is renamed into place only after the
 * group's commit, so any failure leaves nothing behind. Memory is bounded
 * by the longest record plus one block per column: per column a typed
 * encoder (typedenc.h) collects values until its raw size reaches a limit,
 * adapted after each block so that blocks come out near the target size of
 * encoded bytes (FORMAT.md 2.10).
 */
#include "csv.h"
#include "csv_turi.h"

#include "blockmgr.h"
#include "group.h"
#include "groupw.h"
#include "io.h"
#include "numfmt.h"
#include "segment.h"
#include "textparse.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RD_BUF		(1u << 20)
#define SEG_ROWS	(1u << 20)

/* ---- record reader ---------------------------------------------------- */

struct rdr {
	int fd;
	uint8_t *buf;
	size_t len, pos;
	bool eof;
	uint64_t off;		/* bytes consumed before buf */
	uint64_t line;		/* line of the next byte, 1-based */
	uint64_t rec_line;	/* first line of the current record */
	struct arfs_textbuf fb;	/* field bytes, each NUL-terminated */
	size_t *fstart, *flen;
	bool *fq;		/* field was quoted */
	size_t nf, fcap;
	int ioerr;		/* -errno of a failed read (rd_get gave -2) */
	bool turi;		/* Turi's dialect (csv_turi.h) */
	char *err;
	size_t err_cap;
};

static int rd_error(struct rdr *r, int rc, uint64_t line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->err && r->err_cap)
		snprintf(r->err, r->err_cap, "line %" PRIu64 ": %s", line, msg);
	return rc;
}

/*
 * Refill: 0, -1 at end of file, -2 on a read error (r->ioerr). The byte
 * readers return a byte, -1 or -2; parse errors are -EINVAL/-EILSEQ,
 * always below -2.
 */
static int rd_fill(struct rdr *r)
{
	ssize_t n;

	if (r->eof)
		return -1;
	r->off += r->len;
	r->pos = r->len = 0;
	n = arfs_io_pread_all(r->fd, r->buf, RD_BUF, (off_t)r->off);
	if (n < 0) {
		r->ioerr = (int)n;
		return -2;
	}
	r->len = (size_t)n;
	if (n == 0) {
		r->eof = true;
		return -1;
	}
	return 0;
}

static inline int rd_get(struct rdr *r)
{
	int rc;

	if (r->pos == r->len) {
		rc = rd_fill(r);
		if (rc)
			return rc;
	}
	return r->buf[r->pos++];
}

static inline int rd_peek(struct rdr *r)
{
	int rc;

	if (r->pos == r->len) {
		rc = rd_fill(r);
		if (rc)
			return rc;
	}
	return r->buf[r->pos];
}

static int field_begin(struct rdr *r)
{
	if (r->nf == r->fcap) {
		size_t cap = r->fcap ? r->fcap * 2 : 64;
		size_t *s = realloc(r->fstart, cap * sizeof(*s));
		size_t *l = s ? realloc(r->flen, cap * sizeof(*l)) : NULL;
		bool *q = l ? realloc(r->fq, cap * sizeof(*q)) : NULL;

		if (s)
			r->fstart = s;
		if (l)
			r->flen = l;
		if (!q)
			return -ENOMEM;
		r->fq = q;
		r->fcap = cap;
	}
	r->fstart[r->nf] = r->fb.len;
	r->fq[r->nf] = false;
	return 0;
}

static int field_end(struct rdr *r)
{
	r->flen[r->nf] = r->fb.len - r->fstart[r->nf];
	r->nf++;
	return arfs_textbuf_add(&r->fb, "", 1);
}

static inline int put_byte(struct rdr *r, int c)
{
	if (r->fb.len == r->fb.cap) {
		char ch = (char)c;

		return arfs_textbuf_add(&r->fb, &ch, 1);
	}
	r->fb.p[r->fb.len++] = (char)c;
	return 0;
}

/* A quoted field, after its opening quote. Returns the byte after it. */
static int quoted_field(struct rdr *r)
{
	uint64_t start = r->line;
	int c;

	r->fq[r->nf] = true;
	for (;;) {
		c = rd_get(r);
		if (c == -2)
			return c;
		if (c == -1)
			return rd_error(r, -EINVAL, start, "unterminated quoted "
					"field (end of file inside quotes)");
		if (c == '"') {
			if (rd_peek(r) != '"')
				break;
			rd_get(r);
		} else if (c == '\n') {
			r->line++;
		}
		if (put_byte(r, c))
			return -ENOMEM;
	}
	c = rd_get(r);
	if (c >= 0 && c != ',' && c != '\n' && c != '\r')
		return rd_error(r, -EINVAL, r->line, "unexpected character "
				"after a closing quote (quotes inside a field "
				"must be doubled)");
	return c;
}

/* An unquoted field starting with c. Returns the byte after it. */
static int plain_field(struct rdr *r, int c)
{
	while (c >= 0 && c != ',' && c != '\n') {
		if (c == '"')
			return rd_error(r, -EINVAL, r->line, "quote inside an "
					"unquoted field");
		if (c == '\r' && rd_peek(r) == '\n')
			return rd_get(r);
		if (put_byte(r, c))
			return -ENOMEM;
		c = rd_get(r);
	}
	return c;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			k = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			k = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			k = 3;
			cp = s[i] & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
		    (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static int rd_record_turi(struct rdr *r);

/* Read one record: 1, 0 at end of file, or -errno (message in r->err). */
static int rd_record(struct rdr *r)
{
	int c;

	if (r->turi)
		return rd_record_turi(r);
	c = rd_get(r);

	r->nf = 0;
	r->fb.len = 0;
	r->rec_line = r->line;
	if (c == -2)
		return r->ioerr;
	if (c == -1)
		return 0;
	for (;;) {
		if (field_begin(r))
			return -ENOMEM;
		c = c == '"' ? quoted_field(r) : plain_field(r, c);
		if (c == '\r')	/* after a closing quote */
			c = rd_get(r) == '\n' ? '\n' :
			    rd_error(r, -EINVAL, r->line, "carriage return "
				     "without a line feed after a quote");
		if (c == -2)
			return r->ioerr;
		if (c < -2)
			return c;
		if (field_end(r))
			return -ENOMEM;
		if (c != ',')
			break;
		c = rd_get(r);
	}
	if (c == '\n')
		r->line++;
	if (!utf8_valid((const uint8_t *)r->fb.p, r->fb.len))
		return rd_error(r, -EILSEQ, r->rec_line, "invalid UTF-8");
	return 1;
}

/*
 * Turi's dialect (FORMAT.md 3.2). A quoted field: a backslash takes the
 * next byte with it (so \" does not close the field), "" is a quote; its
 * content is then unescaped (csv_turi.c). Spaces after the closing quote
 * are dropped. Returns the byte after the field.
 */
static int turi_quoted_field(struct rdr *r)
{
	uint64_t start = r->line;
	size_t from = r->fb.len;
	int c;

	r->fq[r->nf] = true;
	for (;;) {
		c = rd_get(r);
		if (c == '\\') {
			if (put_byte(r, c))
				return -ENOMEM;
			c = rd_get(r);
		} else if (c == '"') {
			if (rd_peek(r) != '"')
				break;
			if (put_byte(r, c))
				return -ENOMEM;
			c = rd_get(r);
		}
		if (c == -2)
			return c;
		if (c == -1)
			return rd_error(r, -EINVAL, start, "unterminated quoted "
					"field (end of file inside quotes)");
		if (c == '\n')
			r->line++;
		if (put_byte(r, c))
			return -ENOMEM;
	}
	r->fb.len = from + arfs_csv_turi_unescape(r->fb.p + from,
						  r->fb.len - from);
	do
		c = rd_get(r);
	while (c == ' ' || c == '\t' || c == '\v' || c == '\f');
	if (c >= 0 && c != ',' && c != '\n' && c != '\r')
		return rd_error(r, -EINVAL, r->line, "unexpected character "
				"after a closing quote (a quote inside a quoted "
				"field is written \\\" or \"\")");
	return c;
}

/*
 * An unquoted field starting with c, kept as it is (no unescaping), its
 * trailing spaces dropped. One that starts with [ or { (a vector, list or
 * dict) runs to its closing bracket: commas inside do not end it.
 */
static int turi_plain_field(struct rdr *r, int c)
{
	bool bracket = c == '[' || c == '{', inq = false, esc = false;
	size_t from = r->fb.len;
	int depth = 0;

	for (; c >= 0 && c != '\n' && c != '\r'; c = rd_get(r)) {
		if (!bracket && c == ',')
			break;
		if (bracket && inq) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				inq = false;
		} else if (bracket) {
			if (c == '"')
				inq = true;
			else if (c == '[' || c == '{')
				depth++;
			else if (c == ']' || c == '}')
				depth--;
			else if (c == ',' && depth <= 0)
				break;
		}
		if (put_byte(r, c))
			return -ENOMEM;
	}
	while (r->fb.len > from && strchr(" \t\v\f", r->fb.p[r->fb.len - 1]))
		r->fb.len--;
	return c;
}

/* One record in Turi's dialect: as rd_record(). */
static int rd_record_turi(struct rdr *r)
{
	int c = rd_get(r);

	r->nf = 0;
	r->fb.len = 0;
	r->rec_line = r->line;
	if (c == -2)
		return r->ioerr;
	if (c == -1)
		return 0;
	for (;;) {
		if (field_begin(r))
			return -ENOMEM;
		while (c == ' ' || c == '\v' || c == '\f')
			c = rd_get(r);	/* skip_initial_space */
		c = c == '"' ? turi_quoted_field(r) : turi_plain_field(r, c);
		if (c == -2)
			return r->ioerr;
		if (c < -2)
			return c;
		if (field_end(r))
			return -ENOMEM;
		if (c != ',')
			break;
		c = rd_get(r);
	}
	if (c == '\r' && rd_peek(r) == '\n')
		c = rd_get(r);
	if (c == '\n' || c == '\r')
		r->line++;
	if (!utf8_valid((const uint8_t *)r->fb.p, r->fb.len))
		return rd_error(r, -EILSEQ, r->rec_line, "invalid UTF-8");
	return 1;
}

static int rd_open(struct rdr *r, const char *path, char *err, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->err = err;
	r->err_cap = cap;
	r->line = 1;
	r->buf = malloc(RD_BUF);
	if (!r->buf)
		return -ENOMEM;
	r->fd = arfs_io_open(path, O_RDONLY, 0);
	return r->fd < 0 ? r->fd : 0;
}

static void rd_rewind(struct rdr *r)
{
	r->off = r->len = r->pos = 0;
	r->eof = false;
	r->line = 1;
}

static void rd_close(struct rdr *r)
{
	arfs_io_close(r->fd);
	free(r->buf);
	free(r->fstart);
	free(r->flen);
	free(r->fq);
	arfs_textbuf_release(&r->fb);
}

static const char *fld(const struct rdr *r, size_t i)
{
	return r->fb.p + r->fstart[i];
}

/* ---- values ----------------------------------------------------------- */

enum { T_INT = 1, T_FLOAT = 2, T_VEC = 4 };

static bool parse_int(const char *s, size_t n, int64_t *out)
{
	return arfs_numfmt_parse_i64(s, n, out);
}

/* A float in the strtod sense, but decimal only (no hex, no spaces). */
static bool parse_float(const char *s, size_t n, double *out)
{
	char *end;

	if (arfs_numfmt_parse_fast(s, n, out))
		return true;
	if (!n || *s == ' ' || *s == '\t' || memchr(s, 'x', n) ||
	    memchr(s, 'X', n))
		return false;
	*out = strtod(s, &end);
	return end == s + n;
}

/* Elements of "[1 2 3]" (spaces and/or commas); count in *n. */
static bool parse_vec(const char *s, size_t n, double **v, size_t *cap,
		      size_t *count)
{
	const char *p = s + 1, *e = s + n - 1;
	char *end;

	*count = 0;
	if (n < 2 || s[0] != '[' || s[n - 1] != ']')
		return false;
	for (;;) {
		while (p < e && (*p == ' ' || *p == ','))
			p++;
		if (p >= e)
			return true;
		if (*count == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			double *d = realloc(*v, c * sizeof(*d));

			if (!d)
				return false;
			*v = d;
			*cap = c;
		}
		if (*p == 'x' || *p == 'X')
			return false;
		for (end = (char *)p; end < e && *end != ' ' && *end != ',';)
			end++;
		if (arfs_numfmt_parse_fast(p, (size_t)(end - p),
					   &(*v)[*count])) {
			(*count)++;
			p = end;
			continue;
		}
		(*v)[*count] = strtod(p, &end);
		if (end == p || end > e || (end < e && *end != ' ' &&
					    *end != ','))
			return false;
		(*count)++;
		p = end;
	}
}

static unsigned classify(const char *s, size_t n, double **v, size_t *cap)
{
	int64_t i;
	double d;
	size_t cnt;

	if (parse_int(s, n, &i))
		return T_INT | T_FLOAT;
	if (parse_float(s, n, &d))
		return T_FLOAT;
	if (*s == '[' && parse_vec(s, n, v, cap, &cnt))
		return T_VEC;
	return 0;
}

/* ---- import ----------------------------------------------------------- */

struct import {
	const struct arfs_csv_import_opts *opts;
	struct rdr r;
	uint64_t ncols, total, rows;
	char **names;
	unsigned *types, *mask;
	bool *seen;
	double *vec;
	size_t vec_cap;
	bool *forced;		/* [ncols] type given by opts->types */
	struct arfs_textparse tp;
	struct arfs_groupw *gw;
	struct arfs_typedenc *enc;
	size_t *raw_limit;
	uint64_t seg, seg_rows;
	bool have_seg;
};

static void progress(struct import *im, int pass)
{
	if (im->opts && im->opts->progress)
		im->opts->progress(im->opts->ctx, pass,
				   im->r.off + im->r.pos, im->total, im->rows);
}

static int read_header(struct import *im)
{
	int rc = rd_record(&im->r);

	if (rc == 0)
		return rd_error(&im->r, -EINVAL, 1, "empty file: no header "
				"row");
	if (rc < 0)
		return rc;
	im->ncols = im->r.nf;
	im->names = calloc(im->ncols + 1, sizeof(*im->names));
	im->types = calloc(im->ncols + 1, sizeof(*im->types));
	im->mask = calloc(im->ncols + 1, sizeof(*im->mask));
	im->seen = calloc(im->ncols + 1, sizeof(*im->seen));
	if (!im->names || !im->types || !im->mask || !im->seen)
		return -ENOMEM;
	for (uint64_t c = 0; c < im->ncols; c++) {
		im->mask[c] = T_INT | T_FLOAT | T_VEC;
		if (im->r.flen[c] == 0) {
			if (asprintf(&im->names[c], "X%" PRIu64, c + 1) < 0)
				return -ENOMEM;
		} else {
			im->names[c] = strdup(fld(&im->r, c));
		}
		if (!im->names[c])
			return -ENOMEM;
		if (strchr(im->names[c], '\n') || strchr(im->names[c], '\r'))
			return rd_error(&im->r, -EINVAL, 1, "column name %"
					PRIu64 " holds a line break", c + 1);
		for (uint64_t k = 0; k < c; k++)
			if (!strcmp(im->names[k], im->names[c]))
				return rd_error(&im->r, -EINVAL, 1, "column "
						"name '%s' appears twice",
						im->names[c]);
	}
	return 0;
}

static int next_row(struct import *im, int pass)
{
	int rc = rd_record(&im->r);

	if (rc <= 0)
		return rc;
	if (im->r.nf != im->ncols)
		return rd_error(&im->r, -EINVAL, im->r.rec_line, "%zu field%s, "
				"the header has %" PRIu64, im->r.nf,
				im->r.nf == 1 ? "" : "s", im->ncols);
	if ((++im->rows & 0xffff) == 0)
		progress(im, pass);
	return 1;
}

/* Columns whose type opts->types gives: fixed now, not inferred. */
static int force_types(struct import *im)
{
	const struct arfs_csv_import_opts *o = im->opts;
	uint64_t c;

	im->forced = calloc(im->ncols + 1, sizeof(*im->forced));
	if (!im->forced)
		return -ENOMEM;
	for (size_t k = 0; o && k < o->ntypes; k++) {
		for (c = 0; c < im->ncols; c++)
			if (!strcmp(im->names[c], o->type_names[k]))
				break;
		if (c == im->ncols || o->types[k] >= ARFS_FT_COUNT ||
		    o->types[k] == ARFS_FT_UNDEFINED)
			return rd_error(&im->r, -EINVAL, 1, c == im->ncols ?
					"no column named '%s'" : "column "
					"'%s': bad type", o->type_names[k]);
		im->forced[c] = true;
		im->types[c] = o->types[k];
		im->mask[c] = 0;
	}
	return 0;
}

/*
 * A missing value: an unquoted empty field; in Turi's dialect also an
 * unquoted NA (read_csv's na_values).
 */
static bool is_missing(const struct import *im, uint64_t c)
{
	size_t n = im->r.flen[c];

	if (im->r.fq[c])
		return false;
	return !n || (im->r.turi && n == 2 && !memcmp(fld(&im->r, c), "NA", 2));
}

static int pass1(struct import *im)
{
	int rc = read_header(im);
	unsigned k;

	if (!rc)
		rc = force_types(im);
	while (!rc && (rc = next_row(im, 1)) == 1 && !(rc = 0))
		for (uint64_t c = 0; c < im->ncols; c++) {
			if (is_missing(im, c) || !im->r.flen[c] ||
			    !im->mask[c])
				continue;
			im->seen[c] = true;
			k = classify(fld(&im->r, c), im->r.flen[c], &im->vec,
				     &im->vec_cap);
			/* Turi: a quoted number is a string */
			im->mask[c] &= im->r.turi && im->r.fq[c] ? k & T_VEC : k;
		}
	if (rc)
		return rc;
	for (uint64_t c = 0; c < im->ncols; c++)
		if (!im->forced[c])
			im->types[c] = !im->seen[c] ? ARFS_FT_STRING :
			       im->mask[c] & T_INT ? ARFS_FT_INTEGER :
			       im->mask[c] & T_FLOAT ? ARFS_FT_FLOAT :
			       im->mask[c] & T_VEC ? ARFS_FT_VECTOR :
			       ARFS_FT_STRING;
	return 0;
}

static int add_field(struct import *im, uint64_t c)
{
	struct arfs_typedenc *e = &im->enc[c];
	const char *s = fld(&im->r, c);
	size_t n = im->r.flen[c], cnt;
	struct arfs_value v;
	int64_t i;
	double d;
	int rc;

	if (is_missing(im, c) ||
	    (!n && !(im->r.fq[c] && im->types[c] == ARFS_FT_STRING)))
		return arfs_typedenc_add_missing(e);
	switch (im->types[c]) {
	case ARFS_FT_INTEGER:
		if (parse_int(s, n, &i))
			return arfs_typedenc_add_int(e, i);
		break;
	case ARFS_FT_FLOAT:
		if (parse_float(s, n, &d))
			return arfs_typedenc_add_float(e, d);
		break;
	case ARFS_FT_VECTOR:
		if (parse_vec(s, n, &im->vec, &im->vec_cap, &cnt))
			return arfs_typedenc_add_vec(e, im->vec, cnt);
		break;
	case ARFS_FT_STRING:
		return arfs_typedenc_add_str(e, s, n);
	default:
		rc = arfs_textparse_value(&im->tp, im->types[c], s, n, &v);
		if (!rc)
			rc = arfs_typedenc_add_value(e, &v);
		arfs_textparse_reset(&im->tp);
		if (rc != -EINVAL)
			return rc;
		return rd_error(&im->r, -EINVAL, im->r.rec_line, "column "
				"'%s': '%.40s' is not a %s: %s", im->names[c],
				s, arfs_ftype_name(im->types[c]),
				im->tp.why ? im->tp.why : "cannot be stored");
	}
	return rd_error(&im->r, -EINVAL, im->r.rec_line, "column '%s': '%.40s' "
			"is not a %s%s", im->names[c], s,
			arfs_ftype_name(im->types[c]), im->forced[c] ? "" :
			" (the file changed during the import?)");
}

/* Encode column c's pending values as a block; adapt its size limit. */
static int flush_col(struct import *im, uint64_t c)
{
	struct arfs_typedenc *e = &im->enc[c];
	uint64_t nb = arfs_groupw_nblocks(im->gw, im->seg, c), raw = e->raw;
	size_t target = im->opts && im->opts->gw.block_target ?
			im->opts->gw.block_target : ARFS_GROUPW_BLOCK_TARGET;
	const struct arfs_block_info *bi;
	double lim;
	int rc;

	if (!e->n)
		return 0;
	rc = arfs_groupw_put_enc(im->gw, im->seg, c, nb, e);
	if (rc)
		return rc;
	bi = arfs_groupw_block(im->gw, im->seg, c, nb);
	lim = (double)raw * (double)target /
	      (double)(bi->block_size ? bi->block_size : 1);
	if (lim < (double)target / 4)
		lim = (double)target / 4;
	if (lim > 16.0 * (double)target)
		lim = 16.0 * (double)target;
	im->raw_limit[c] = (size_t)lim;
	arfs_typedenc_reset(e);
	return 0;
}

static int new_segment(struct import *im)
{
	int rc = 0;

	for (uint64_t c = 0; im->have_seg && !rc && c < im->ncols; c++)
		rc = flush_col(im, c);
	if (!rc)
		rc = arfs_groupw_add_segment(im->gw, &im->seg);
	im->have_seg = true;
	im->seg_rows = 0;
	return rc;
}

static int pass2_row(struct import *im)
{
	uint64_t limit = im->opts && im->opts->segment_rows ?
			 im->opts->segment_rows : SEG_ROWS;
	int rc = 0;

	if (!im->have_seg || im->seg_rows == limit)
		rc = new_segment(im);
	for (uint64_t c = 0; !rc && c < im->ncols; c++) {
		rc = add_field(im, c);
		if (!rc && (im->enc[c].raw >= im->raw_limit[c] ||
			    im->enc[c].n >= ARFS_TYPEDENC_MAX_ROWS))
			rc = flush_col(im, c);
	}
	im->seg_rows++;
	return rc;
}

static int pass2(struct import *im, const char *tmp)
{
	struct arfs_groupw_opts gwo = im->opts ? im->opts->gw :
				      (struct arfs_groupw_opts){ 0 };
	size_t target = gwo.block_target ? gwo.block_target :
			ARFS_GROUPW_BLOCK_TARGET;
	int rc;

	rc = arfs_groupw_create(tmp, im->ncols, (const char *const *)im->names,
				im->types, &gwo, &im->gw);
	if (rc)
		return rc;
	im->enc = calloc(im->ncols + 1, sizeof(*im->enc));
	im->raw_limit = calloc(im->ncols + 1, sizeof(*im->raw_limit));
	if (!im->enc || !im->raw_limit)
		return -ENOMEM;
	for (uint64_t c = 0; c < im->ncols; c++) {
		arfs_typedenc_init(&im->enc[c], im->types[c]);
		im->raw_limit[c] = target;
	}
	rd_rewind(&im->r);
	im->rows = 0;
	rc = rd_record(&im->r);	/* header */
	rc = rc == 1 ? 0 : rc ? rc : -EINVAL;
	while (!rc && (rc = next_row(im, 2)) == 1)
		rc = pass2_row(im);
	for (uint64_t c = 0; !rc && c < im->ncols; c++)
		rc = flush_col(im, c);
	if (!rc)
		rc = arfs_groupw_commit(im->gw);
	return rc;
}

static void rmrf_flat(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4096];

	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void import_release(struct import *im)
{
	for (uint64_t c = 0; im->enc && c < im->ncols; c++)
		arfs_typedenc_release(&im->enc[c]);
	free(im->enc);
	free(im->raw_limit);
	for (uint64_t c = 0; im->names && c < im->ncols; c++)
		free(im->names[c]);
	free(im->names);
	free(im->types);
	free(im->mask);
	free(im->seen);
	free(im->forced);
	arfs_textparse_release(&im->tp);
	free(im->vec);
	arfs_groupw_close(im->gw);
	rd_close(&im->r);
}

static void fill_summary(struct import *im, struct arfs_csv_summary *sum)
{
	memset(sum, 0, sizeof(*sum));
	sum->rows = im->rows;
	sum->cols = im->ncols;
	sum->types = im->types;
	sum->names = im->names;
	im->types = NULL;
	im->names = NULL;
	sum->csv_bytes = im->total;
	sum->disk_bytes = arfs_groupw_disk_bytes(im->gw);
	for (uint64_t s = 0; s < arfs_groupw_nsegs(im->gw); s++)
		for (uint64_t c = 0; c < sum->cols; c++)
			sum->blocks += arfs_groupw_nblocks(im->gw, s, c);
}

/* Temporary directory beside group_dir: malloc'd path. */
static char *make_tmp(const char *group_dir, int *rc)
{
	char *a = strdup(group_dir), *b = strdup(group_dir), *t = NULL;

	*rc = -ENOMEM;
	if (a && b && asprintf(&t, "%s/.%s.import-XXXXXX", dirname(a),
			       basename(b)) >= 0) {
		*rc = mkdtemp(t) && !chmod(t, 0755) ? 0 : -errno;
		if (*rc) {
			free(t);
			t = NULL;
		}
	}
	free(a);
	free(b);
	return t;
}

static int place(const char *tmp, const char *group_dir)
{
	char *a = strdup(group_dir);
	int dfd, rc;

	if (!a)
		return -ENOMEM;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, group_dir, RENAME_NOREPLACE))
		rc = -errno;
	else
		rc = 0;
	dfd = rc ? -1 : arfs_io_open(dirname(a), O_RDONLY | O_DIRECTORY, 0);
	if (dfd >= 0) {
		rc = arfs_io_fsync_dir(dfd);
		arfs_io_close(dfd);
	}
	free(a);
	return rc;
}

int arfs_csv_import(const char *csv_path, const char *group_dir,
		    const struct arfs_csv_import_opts *opts,
		    struct arfs_csv_summary *sum, char *err, size_t err_cap)
{
	struct import im = { .opts = opts };
	struct stat st;
	char *tmp = NULL;
	int rc;

	if (err && err_cap)
		err[0] = 0;
	if (sum)
		memset(sum, 0, sizeof(*sum));
	if (!lstat(group_dir, &st))
		return -EEXIST;
	rc = rd_open(&im.r, csv_path, err, err_cap);
	im.r.turi = opts && opts->dialect == ARFS_CSV_TURI;
	if (!rc && fstat(im.r.fd, &st))
		rc = -errno;
	im.total = rc ? 0 : (uint64_t)st.st_size;
	if (!rc) {	/* before reading: a bad destination fails at once */
		tmp = make_tmp(group_dir, &rc);
		if (rc && err && err_cap)
			snprintf(err, err_cap, "cannot create the group %s: %s",
				 group_dir, strerror(-rc));
	}
	if (!rc)
		rc = pass1(&im);
	if (!rc)
		rc = pass2(&im, tmp);
	if (!rc && sum)
		fill_summary(&im, sum);
	arfs_groupw_close(im.gw);	/* unlock before the rename */
	im.gw = NULL;
	if (!rc)
		rc = place(tmp, group_dir);
	if (rc && tmp)
		rmrf_flat(tmp);
	if (rc && sum)
		arfs_csv_summary_release(sum);
	free(tmp);
	import_release(&im);
	return rc;
}

void arfs_csv_summary_release(struct arfs_csv_summary *sum)
{
	for (uint64_t c = 0; sum->names && c < sum->cols; c++)
		free(sum->names[c]);
	free(sum->names);
	free(sum->types);
	memset(sum, 0, sizeof(*sum));
}
