/*
 * group.c - read a segment group's index files. See group.h and
 * docs/FORMAT.md ("Segment groups").
 *
 * Two entry points on disk:
 *  - a saved SFrame directory: dir_archive.ini, <prefix>.frame_idx (INI:
 *    [sframe], [column_names], [column_files] "file.sidx:N") and the
 *    .sidx files it names;
 *  - a bare array group: one <prefix>.sidx (JSON), columns named
 *    "0", "1", ....
 *
 * Everything is validated here, before any segment is touched: version 2,
 * segment counts, segment file names that stay inside the directory and
 * exist, row counts that parse as decimal integers, column references in
 * range. The JSON is parsed by jansson from bytes read through the io
 * table (core/io.h), so tests can fail those reads.
 *
 * The arrayfs key "text_sizes" is optional and advisory: a malformed one
 * is logged and dropped, never an error (the sizes are then rendered);
 * its entries are checked against the segments by core/blockmgr.c.
 */
#include "group.h"

#include "io.h"
#include "segment.h"
#include "textsize.h"
#include "textval.h"
#include "typed.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_MAX_BYTES	(64u << 20)

static int bad(const char *file, const char *fmt, const char *detail)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
	arfs_log(ARFS_LOG_ERR, "%s: %s", file, msg);
	return -EUCLEAN;
}

/*
 * An index of another version than 2 (GraphLab Create's version 1: one
 * INI .sidx per column): refused, naming the file. -ENOTSUP.
 */
static int unsupported(const char *file, const char *version)
{
	arfs_log(ARFS_LOG_ERR, "%s: unsupported version %s (only SFrame "
		 "version 2 is read; version 1 is GraphLab Create's older "
		 "format, one INI index per column)", file, version);
	return -ENOTSUP;
}

/*
 * The [sarray] version of an INI index (version 1 files are INI), or
 * NULL if text is not one: a static buffer.
 */
static const char *ini_version(const char *text, size_t len)
{
	static __thread char ver[24];
	const char *p = text, *end = text + len, *nl;
	bool in_sarray = false;
	size_t n;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		while (p < nl && (*p == ' ' || *p == '\t'))
			p++;
		if (p < nl && *p == '[')
			in_sarray = nl - p >= 8 && !memcmp(p, "[sarray]", 8);
		else if (in_sarray && nl - p > 8 && !memcmp(p, "version=", 8)) {
			n = (size_t)(nl - p - 8);
			n = n < sizeof(ver) - 1 ? n : sizeof(ver) - 1;
			memcpy(ver, p + 8, n);
			while (n && (ver[n - 1] == '\r' || ver[n - 1] == ' '))
				n--;
			ver[n] = 0;
			return ver;
		}
		if (nl == end)
			break;
	}
	return NULL;
}

bool arfs_group_safe_name(const char *name)
{
	return name && *name && name[0] != '/' && !strchr(name, '/') &&
	       !strstr(name, "..");
}

static char *path_join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* Read a whole small file through the io table; NUL-terminated. */
static int read_small(const char *path, char **out, size_t *len)
{
	int fd = arfs_io_open(path, O_RDONLY, 0);
	off_t size;
	ssize_t n;
	char *buf;

	if (fd < 0)
		return fd;
	size = arfs_io_size(fd);
	if (size < 0 || size > INDEX_MAX_BYTES) {
		arfs_io_close(fd);
		return size < 0 ? (int)size : -EFBIG;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		arfs_io_close(fd);
		return -ENOMEM;
	}
	n = arfs_io_pread_all(fd, buf, (size_t)size, 0);
	arfs_io_close(fd);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	buf[n] = 0;
	*out = buf;
	*len = (size_t)n;
	return 0;
}

/* A JSON integer, or a string holding only decimal digits. */
static bool json_u64(const json_t *j, uint64_t *out)
{
	const char *s;
	char *end;

	if (json_is_integer(j) && json_integer_value(j) >= 0) {
		*out = (uint64_t)json_integer_value(j);
		return true;
	}
	if (!json_is_string(j))
		return false;
	s = json_string_value(j);
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !*end && !errno;
}

/* Index "0000"-style key, < n. */
static bool key_index(const char *key, uint64_t n, uint64_t *out)
{
	char *end;

	if (*key < '0' || *key > '9')
		return false;
	errno = 0;
	*out = strtoull(key, &end, 10);
	return !*end && !errno && *out < n;
}

/*
 * Fill out[0..n) from an object {"0000": v, ...} or an array [v, ...],
 * via get(value, slot). Every slot must be filled exactly once.
 */
static int per_segment(const char *file, const json_t *j, uint64_t n,
		       const char *what,
		       bool (*get)(const json_t *v, void *slot, size_t i),
		       void *slots)
{
	const char *key;
	json_t *v;
	uint64_t i, seen = 0;
	size_t k;

	if (json_is_array(j)) {
		if (json_array_size(j) != n)
			return bad(file, "%s: wrong number of entries", what);
		json_array_foreach(j, k, v)
			if (!get(v, slots, k))
				return bad(file, "%s: bad entry", what);
		return 0;
	}
	if (!json_is_object(j) || json_object_size(j) != n)
		return bad(file, "%s: missing, or wrong number of entries",
			   what);
	json_object_foreach((json_t *)j, key, v) {
		if (!key_index(key, n, &i) || !get(v, slots, i))
			return bad(file, "%s: bad entry", what);
		seen++;
	}
	return seen == n ? 0 : bad(file, "%s: entries missing", what);
}

static bool get_rows(const json_t *v, void *slots, size_t i)
{
	return json_u64(v, &((uint64_t *)slots)[i]);
}

static bool get_name(const json_t *v, void *slots, size_t i)
{
	char **names = slots;

	if (!json_is_string(v) || names[i])
		return false;
	names[i] = strdup(json_string_value(v));
	return names[i] != NULL;
}

static int check_seg_files(const char *dir, struct arfs_sidx *sx)
{
	struct stat st;
	char *p;
	int rc;

	for (uint64_t s = 0; s < sx->nsegs; s++) {
		if (!arfs_group_safe_name(sx->seg_files[s]))
			return bad(sx->file, "segment file '%s' is not a plain "
				   "name in the group's directory (absolute, "
				   "'/' or '..')", sx->seg_files[s]);
		p = path_join(dir, sx->seg_files[s]);
		if (!p)
			return -ENOMEM;
		/* lstat: a symlink could lead out of the store */
		rc = lstat(p, &st);
		free(p);
		if (!rc && S_ISLNK(st.st_mode))
			return bad(sx->file, "segment file '%s' is a symbolic "
				   "link; only plain files in the group's "
				   "directory are read", sx->seg_files[s]);
		if (rc || !S_ISREG(st.st_mode))
			return bad(sx->file, "segment file '%s' is missing",
				   sx->seg_files[s]);
		if ((uint64_t)st.st_size < sx->seg_len[s])
			return bad(sx->file, "segment file '%s' is shorter "
				   "than its committed length (truncated?)",
				   sx->seg_files[s]);
	}
	return 0;
}

static int parse_column(struct arfs_sidx *sx, uint64_t c, const json_t *col)
{
	const json_t *t = json_object_get(json_object_get(col, "metadata"),
					  "__type__");
	char what[64];
	uint64_t type;

	snprintf(what, sizeof(what), "column %" PRIu64, c);
	if (!json_is_object(col) || !json_u64(t, &type) ||
	    type >= ARFS_FT_COUNT)
		return bad(sx->file, "%s: missing or unknown metadata.__type__",
			   what);
	sx->types[c] = (uint8_t)type;
	sx->seg_rows[c] = calloc(sx->nsegs + 1, sizeof(uint64_t));
	if (!sx->seg_rows[c])
		return -ENOMEM;
	snprintf(what, sizeof(what), "column %" PRIu64 " segment_sizes", c);
	return per_segment(sx->file, json_object_get(col, "segment_sizes"),
			   sx->nsegs, what, get_rows, sx->seg_rows[c]);
}

/* ---- "text_sizes" (arrayfs extension, docs/FORMAT.md 2.4) ---------- */

static void sizes_release(struct arfs_sidx *sx)
{
	struct arfs_sidx_sizes *e;

	for (uint64_t s = 0; sx->text_sizes && s < sx->nsegs; s++) {
		e = &sx->text_sizes[s];
		for (uint64_t c = 0; e->sizes && c < sx->ncols; c++)
			free(e->sizes[c]);
		free(e->sizes);
		free(e->nblocks);
	}
	free(sx->text_sizes);
	sx->text_sizes = NULL;
}

/* A 16-digit hexadecimal string. */
static bool json_hex64(const json_t *j, uint64_t *out)
{
	const char *s = json_string_value(j);

	if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
		return false;
	*out = strtoull(s, NULL, 16);
	return true;
}

/* One column's sizes: an array of integers >= 0 or null. */
static bool sizes_column(const json_t *j, uint64_t *n, int64_t **out)
{
	const json_t *v;
	size_t i;

	if (!json_is_array(j))
		return false;
	*n = json_array_size(j);
	*out = malloc((*n + 1) * sizeof(**out));
	if (!*out)
		return false;
	json_array_foreach(j, i, v) {
		if (json_is_null(v))
			(*out)[i] = ARFS_TEXTSIZE_UNKNOWN;
		else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
			 json_integer_value(v) <= ARFS_TEXTSIZE_MAX)
			(*out)[i] = json_integer_value(v);
		else
			return false;
	}
	return true;
}

static bool sizes_entry(struct arfs_sidx *sx, const json_t *j,
			struct arfs_sidx_sizes *e)
{
	const json_t *cols = json_object_get(j, "columns");

	if (e->present || !json_is_object(j) ||
	    !json_u64(json_object_get(j, "length"), &e->length) ||
	    !json_hex64(json_object_get(j, "table_sum"), &e->table_sum) ||
	    !json_is_array(cols) || json_array_size(cols) != sx->ncols)
		return false;
	e->present = true;
	e->nblocks = calloc(sx->ncols + 1, sizeof(*e->nblocks));
	e->sizes = calloc(sx->ncols + 1, sizeof(*e->sizes));
	if (!e->nblocks || !e->sizes)
		return false;
	for (uint64_t c = 0; c < sx->ncols; c++)
		if (!sizes_column(json_array_get(cols, c), &e->nblocks[c],
				  &e->sizes[c]))
			return false;
	return true;
}

static void parse_text_sizes(struct arfs_sidx *sx, const json_t *root)
{
	const json_t *ts = json_object_get(root, "text_sizes"), *segs, *v;
	const char *key, *why = "malformed";
	uint64_t ver, s;

	if (!ts)
		return;
	segs = json_object_get(ts, "segments");
	if (!json_u64(json_object_get(ts, "version"), &ver) ||
	    !json_is_object(segs))
		goto out_drop;
	if (ver != ARFS_TEXTVAL_VERSION) {
		why = "for other text rules (version)";
		goto out_drop;
	}
	sx->text_sizes = calloc(sx->nsegs + 1, sizeof(*sx->text_sizes));
	if (!sx->text_sizes)
		return;
	json_object_foreach((json_t *)segs, key, v)
		if (!key_index(key, sx->nsegs, &s) ||
		    !sizes_entry(sx, v, &sx->text_sizes[s]))
			goto out_drop;
	return;
out_drop:
	sizes_release(sx);
	arfs_log(ARFS_LOG_INFO, "%s: text_sizes %s; ignored, block sizes are "
		 "rendered", sx->file, why);
}

static int parse_sidx_json(struct arfs_sidx *sx, const json_t *root)
{
	const json_t *sa = json_object_get(root, "sarray");
	const json_t *cols = json_object_get(root, "columns");
	uint64_t ver, c;
	int rc;

	if (!json_is_object(sa) || !json_u64(json_object_get(sa, "version"),
					     &ver))
		return bad(sx->file, "no sarray.version%s", NULL);
	if (ver != 2) {
		char v[24];

		snprintf(v, sizeof(v), "%" PRIu64, ver);
		return unsupported(sx->file, v);
	}
	if (!json_u64(json_object_get(sa, "num_segments"), &sx->nsegs) ||
	    sx->nsegs > 1u << 20)
		return bad(sx->file, "bad sarray.num_segments%s", NULL);
	if (!json_is_array(cols))
		return bad(sx->file, "no columns array%s", NULL);
	sx->ncols = json_array_size(cols);
	sx->seg_files = calloc(sx->nsegs + 1, sizeof(char *));
	sx->seg_len = calloc(sx->nsegs + 1, sizeof(uint64_t));
	sx->types = calloc(sx->ncols + 1, 1);
	sx->seg_rows = calloc(sx->ncols + 1, sizeof(uint64_t *));
	if (!sx->seg_files || !sx->types || !sx->seg_rows || !sx->seg_len)
		return -ENOMEM;
	rc = per_segment(sx->file, json_object_get(root, "segment_files"),
			 sx->nsegs, "segment_files", get_name, sx->seg_files);
	/* arrayfs' committed lengths: optional, ignored by other readers */
	if (!rc && json_object_get(root, "segment_lengths")) {
		sx->has_seg_len = true;
		rc = per_segment(sx->file,
				 json_object_get(root, "segment_lengths"),
				 sx->nsegs, "segment_lengths", get_rows,
				 sx->seg_len);
	}
	for (c = 0; !rc && c < sx->ncols; c++)
		rc = parse_column(sx, c, json_array_get(cols, c));
	if (!rc)
		parse_text_sizes(sx, root);
	return rc;
}

static int load_sidx(const char *dir, const char *file, struct arfs_sidx *sx)
{
	json_error_t jerr;
	char *path, *text = NULL, pos[256];
	json_t *root;
	size_t len;
	int rc;

	sx->file = strdup(file);
	path = path_join(dir, file);
	if (!sx->file || !path) {
		free(path);
		return -ENOMEM;
	}
	rc = read_small(path, &text, &len);
	free(path);
	if (rc) {
		arfs_log(ARFS_LOG_ERR, "%s: cannot read: %s", file,
			 strerror(-rc));
		return rc == -ENOENT ? -EUCLEAN : rc;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root && ini_version(text, len)) {
		rc = unsupported(file, ini_version(text, len));
		free(text);
		return rc;
	}
	free(text);
	if (!root) {
		snprintf(pos, sizeof(pos), "offset %d (line %d): %s",
			 jerr.position, jerr.line, jerr.text);
		return bad(file, "not valid JSON at %s", pos);
	}
	rc = parse_sidx_json(sx, root);
	json_decref(root);
	if (!rc)
		rc = check_seg_files(dir, sx);
	return rc;
}

static void sidx_release(struct arfs_sidx *sx)
{
	sizes_release(sx);
	for (uint64_t s = 0; sx->seg_files && s < sx->nsegs; s++)
		free(sx->seg_files[s]);
	for (uint64_t c = 0; sx->seg_rows && c < sx->ncols; c++)
		free(sx->seg_rows[c]);
	free(sx->seg_files);
	free(sx->seg_len);
	free(sx->seg_rows);
	free(sx->types);
	free(sx->file);
}

void arfs_group_free(struct arfs_group *g)
{
	if (!g)
		return;
	for (uint64_t i = 0; i < g->nsidx; i++)
		sidx_release(&g->sidx[i]);
	for (uint64_t c = 0; g->cols && c < g->ncols; c++)
		free(g->cols[c].name);
	free(g->sidx);
	free(g->cols);
	free(g->dir);
	free(g->name);
	free(g->index_file);
	free(g);
}

/* Index of the sidx named file in g, loading it if new. */
static int group_sidx(struct arfs_group *g, const char *file, uint64_t *out)
{
	struct arfs_sidx *n;
	int rc;

	for (uint64_t i = 0; i < g->nsidx; i++)
		if (!strcmp(g->sidx[i].file, file)) {
			*out = i;
			return 0;
		}
	if (!arfs_group_safe_name(file))
		return bad(g->index_file, "column file '%s' is not a plain "
			   "name in the group's directory", file);
	n = realloc(g->sidx, (g->nsidx + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	g->sidx = n;
	memset(&n[g->nsidx], 0, sizeof(*n));
	g->nsidx++;
	rc = load_sidx(g->dir, file, &n[g->nsidx - 1]);
	*out = g->nsidx - 1;
	return rc;
}

static int set_column(struct arfs_group *g, uint64_t c, const char *name,
		      uint64_t si, uint64_t index)
{
	const struct arfs_sidx *sx = &g->sidx[si];
	struct arfs_group_column *col = &g->cols[c];

	if (index >= sx->ncols)
		return bad(g->index_file, "column file names column %s past "
			   "the end of its index", name);
	col->name = strdup(name);
	if (!col->name)
		return -ENOMEM;
	col->sidx = sx;
	col->index = index;
	col->type = sx->types[index];
	col->rows = 0;
	for (uint64_t s = 0; s < sx->nsegs; s++)
		if (arfs_add_overflows(col->rows, sx->seg_rows[index][s],
				       &col->rows))
			return bad(sx->file, "row counts overflow%s", NULL);
	return 0;
}

static int open_bare(struct arfs_group *g, const char *file)
{
	uint64_t si;
	char name[32];
	int rc;

	g->index_file = strdup(file);
	if (!g->index_file)
		return -ENOMEM;
	rc = group_sidx(g, file, &si);
	if (rc)
		return rc;
	g->ncols = g->sidx[si].ncols;
	g->cols = calloc(g->ncols + 1, sizeof(*g->cols));
	if (!g->cols)
		return -ENOMEM;
	for (uint64_t c = 0; !rc && c < g->ncols; c++) {
		snprintf(name, sizeof(name), "%" PRIu64, c);
		rc = set_column(g, c, name, si, c);
	}
	return rc;
}

/* ---- .frame_idx (INI) ----------------------------------------------- */

struct frame_ini {
	uint64_t ncols, nrows;
	bool have_ncols, have_nrows;
	char **names, **files;	/* [ncols] */
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int ini_entry(const char *file, struct frame_ini *fi,
		     const char *sec, char *key, char *val)
{
	char **slot;
	uint64_t i;

	if (!strcmp(sec, "sframe")) {
		if (!strcmp(key, "num_columns")) {
			if (fi->have_ncols)
				return bad(file, "num_columns given twice%s", NULL);
			fi->have_ncols = true;
			fi->ncols = strtoull(val, NULL, 10);
			if (fi->ncols > 1u << 20)
				return bad(file, "num_columns too large%s", NULL);
			fi->names = calloc(fi->ncols + 1, sizeof(char *));
			fi->files = calloc(fi->ncols + 1, sizeof(char *));
			if (!fi->names || !fi->files)
				return -ENOMEM;
		} else if (!strcmp(key, "nrows")) {
			fi->have_nrows = true;
			fi->nrows = strtoull(val, NULL, 10);
		}
		return 0;
	}
	if (strcmp(sec, "column_names") && strcmp(sec, "column_files"))
		return 0;
	if (!fi->have_ncols)
		return bad(file, "[%s] before [sframe] num_columns", sec);
	if (!key_index(key, fi->ncols, &i))
		return bad(file, "bad column key '%s'", key);
	slot = !strcmp(sec, "column_names") ? &fi->names[i] : &fi->files[i];
	if (*slot)
		return bad(file, "column key '%s' given twice", key);
	*slot = strdup(val);
	return *slot ? 0 : -ENOMEM;
}

static int parse_frame_ini(const char *file, char *text, struct frame_ini *fi)
{
	char sec[64] = "", *line, *save, *eq, *s;
	int rc;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			eq = strchr(s, ']');
			if (!eq || eq - s - 1 >= (long)sizeof(sec))
				return bad(file, "bad section line '%s'", s);
			memcpy(sec, s + 1, (size_t)(eq - s - 1));
			sec[eq - s - 1] = 0;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return bad(file, "line without '=': '%s'", s);
		*eq = 0;
		rc = ini_entry(file, fi, sec, trim(s), trim(eq + 1));
		if (rc)
			return rc;
	}
	if (!fi->have_ncols)
		return bad(file, "no [sframe] num_columns%s", NULL);
	return 0;
}

/* A .sidx named by the .frame_idx must not be a symlink (it could leave
 * the store). Missing files are reported by load_sidx(). */
static int plain_file(struct arfs_group *g, const char *file)
{
	struct stat st;
	char *p;
	int rc;

	if (!arfs_group_safe_name(file))
		return 0;	/* group_sidx() refuses it with its message */
	p = path_join(g->dir, file);
	if (!p)
		return -ENOMEM;
	rc = lstat(p, &st);
	free(p);
	if (!rc && S_ISLNK(st.st_mode))
		return bad(g->index_file, "column file '%s' is a symbolic "
			   "link; only plain files in the group's directory "
			   "are read", file);
	return 0;
}

static int frame_columns(struct arfs_group *g, struct frame_ini *fi)
{
	char *colon, *end;
	uint64_t si, index;
	int rc = 0;

	g->ncols = fi->ncols;
	g->cols = calloc(g->ncols + 1, sizeof(*g->cols));
	if (!g->cols)
		return -ENOMEM;
	for (uint64_t c = 0; !rc && c < fi->ncols; c++) {
		if (!fi->names[c] || !fi->files[c])
			return bad(g->index_file, "column %s has no name or "
				   "no file", fi->names[c] ? fi->names[c] : "?");
		/* no ":N": column 0 (Turi's parse_v2_segment_filename), as
		 * version 1 frames name one index per column */
		colon = strrchr(fi->files[c], ':');
		index = 0;
		if (colon) {
			*colon = 0;
			errno = 0;
			index = strtoull(colon + 1, &end, 10);
			if (*end || errno || colon[1] < '0' || colon[1] > '9')
				return bad(g->index_file, "bad column number "
					   "in '%s'", fi->files[c]);
		}
		rc = plain_file(g, fi->files[c]);
		if (!rc)
			rc = group_sidx(g, fi->files[c], &si);
		if (!rc)
			rc = set_column(g, c, fi->names[c], si, index);
	}
	return rc;
}

static int open_frame(struct arfs_group *g, const char *file)
{
	struct frame_ini fi = { 0 };
	char *path, *text;
	size_t len;
	int rc;

	g->index_file = strdup(file);
	path = path_join(g->dir, file);
	if (!g->index_file || !path) {
		free(path);
		return -ENOMEM;
	}
	rc = read_small(path, &text, &len);
	free(path);
	if (rc)
		return rc;
	rc = parse_frame_ini(file, text, &fi);
	free(text);
	if (!rc)
		rc = frame_columns(g, &fi);
	for (uint64_t c = 0; c < fi.ncols && fi.names; c++) {
		free(fi.names[c]);
		free(fi.files[c]);
	}
	free(fi.names);
	free(fi.files);
	/*
	 * arrayfs rewrites nrows after the .sidx (its commit point), so an
	 * index carrying segment_lengths may be ahead of nrows after a crash:
	 * the .sidx wins. Turi's own files must agree.
	 */
	if (!rc && fi.have_nrows && g->ncols && g->cols[0].rows != fi.nrows) {
		if (g->cols[0].sidx->has_seg_len)
			arfs_log(ARFS_LOG_INFO, "%s: [sframe] nrows lags the "
				 "index; using the index", file);
		else
			rc = bad(file, "[sframe] nrows differs from the "
				 "columns' row count%s", NULL);
	}
	return rc;
}

/* ---- discovery ------------------------------------------------------ */

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n > m && !strcmp(s + n - m, suf);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void arfs_group_frames_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int arfs_group_frames(const char *dir, char ***out, size_t *n)
{
	char **v = NULL, **grown;
	size_t cnt = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!has_suffix(de->d_name, ".frame_idx"))
			continue;
		grown = realloc(v, (cnt + 2) * sizeof(*v));
		if (!grown || !(grown[cnt] = strdup(de->d_name))) {
			closedir(d);
			v = grown ? grown : v;
			if (v)
				v[cnt] = NULL;
			arfs_group_frames_free(v);
			return -ENOMEM;
		}
		v = grown;
		v[++cnt] = NULL;
	}
	closedir(d);
	if (!cnt)
		return -ENOENT;
	qsort(v, cnt, sizeof(*v), cmp_names);
	*out = v;
	*n = cnt;
	return 0;
}

/* Find the index file in dir: a .frame_idx wins over .sidx files. */
static int find_index(const char *dir, char **out, bool *is_frame)
{
	char *frame = NULL, *sidx = NULL;
	int nframe = 0, nsidx = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (has_suffix(de->d_name, ".frame_idx") && !nframe++)
			frame = strdup(de->d_name);
		else if (has_suffix(de->d_name, ".sidx") && !nsidx++)
			sidx = strdup(de->d_name);
	}
	closedir(d);
	if (nframe > 1 || (!nframe && nsidx > 1)) {
		free(frame);
		free(sidx);
	}
	if (nframe > 1) {
		arfs_log(ARFS_LOG_ERR, "%s: a folder of %d SFrames (as Turi "
			 "saves a model): name one of its *.frame_idx files",
			 dir, nframe);
		return -EISDIR;
	}
	if (!nframe && nsidx > 1)
		return bad(dir, "several group indexes, cannot choose%s", NULL);
	*is_frame = nframe;
	*out = nframe ? frame : sidx;
	if (nframe)
		free(sidx);
	if (!nframe && !nsidx)
		return -ENOENT;
	return *out ? 0 : -ENOMEM;
}

static int count_frames(const char *path)
{
	char **v;
	size_t n = 0;

	if (arfs_group_frames(path, &v, &n))
		return 0;
	arfs_group_frames_free(v);
	return (int)n;
}

bool arfs_group_is_set(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode) &&
	       count_frames(path) > 1;
}

bool arfs_group_is_group(const char *path)
{
	struct stat st;
	bool frame;
	char *f = NULL;
	int rc;

	if (stat(path, &st))
		return false;
	if (S_ISREG(st.st_mode))
		return has_suffix(path, ".sidx") ||
		       has_suffix(path, ".frame_idx");
	if (!S_ISDIR(st.st_mode) || count_frames(path) > 1)
		return false;
	rc = find_index(path, &f, &frame);
	free(f);
	return rc == 0 || rc == -EUCLEAN;
}

static int group_names(struct arfs_group *g, const char *path, bool is_file)
{
	char *copy = strdup(path), *slash, *base;

	if (!copy)
		return -ENOMEM;
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = 0;
	slash = strrchr(copy, '/');
	if (is_file) {
		base = slash ? slash + 1 : copy;
		g->name = strndup(base, strlen(base) - strlen(
			has_suffix(base, ".sidx") ? ".sidx" : ".frame_idx"));
		if (slash)
			*slash = 0;
		g->dir = strdup(slash ? (*copy ? copy : "/") : ".");
	} else {
		g->name = strdup(slash && slash[1] ? slash + 1 : copy);
		g->dir = strdup(copy);
	}
	free(copy);
	return g->name && g->dir ? 0 : -ENOMEM;
}

int arfs_group_open(const char *path, struct arfs_group **out)
{
	struct arfs_group *g = calloc(1, sizeof(*g));
	struct stat st;
	bool is_file, is_frame = false;
	char *file = NULL;
	int rc;

	if (!g)
		return -ENOMEM;
	if (stat(path, &st)) {
		rc = -errno;
		goto out_free;
	}
	is_file = S_ISREG(st.st_mode);
	rc = group_names(g, path, is_file);
	if (rc)
		goto out_free;
	if (is_file) {
		is_frame = has_suffix(path, ".frame_idx");
		if (!is_frame && !has_suffix(path, ".sidx")) {
			rc = -ENOENT;
			goto out_free;
		}
		file = strdup(strrchr(path, '/') ? strrchr(path, '/') + 1 :
			      path);
		rc = file ? 0 : -ENOMEM;
	} else {
		rc = find_index(g->dir, &file, &is_frame);
	}
	if (!rc)
		rc = is_frame ? open_frame(g, file) : open_bare(g, file);
	free(file);
	if (rc)
		goto out_free;
	g->nrows = g->ncols ? g->cols[0].rows : 0;
	*out = g;
	return 0;
out_free:
	arfs_group_free(g);
	return rc;
}

const struct arfs_group_column *arfs_group_find(const struct arfs_group *g,
						const char *name)
{
	for (uint64_t c = 0; c < g->ncols; c++)
		if (!strcmp(g->cols[c].name, name))
			return &g->cols[c];
	return NULL;
}

int arfs_group_check_segment(const struct arfs_sidx *sx, uint64_t segno,
			     const struct arfs_segment *seg)
{
	if (seg->ncols != sx->ncols) {
		arfs_log(ARFS_LOG_ERR, "%s: offset %" PRIu64 ": block table has "
			 "%" PRIu64 " columns, index %s has %" PRIu64,
			 seg->name, seg->table_offset, seg->ncols, sx->file,
			 sx->ncols);
		return -EUCLEAN;
	}
	for (uint64_t c = 0; c < sx->ncols; c++) {
		if (seg->rows[c] == sx->seg_rows[c][segno])
			continue;
		arfs_log(ARFS_LOG_ERR, "%s:%" PRIu64 ": blocks hold %" PRIu64
			 " rows, index %s:%" PRIu64 " says %" PRIu64, seg->name,
			 c, seg->rows[c], sx->file, c, sx->seg_rows[c][segno]);
		return -EUCLEAN;
	}
	return 0;
}
