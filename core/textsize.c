/*
 * textsize.c - block text sizes kept across mounts: the block-table
 * checksum, the size cache file (docs/FORMAT.md 2.13) and the registry of
 * cache objects. See textsize.h for the contract.
 *
 * A cache object is the parsed cache file of one group: per segment file
 * a record (name, identity, and per column the block sizes). It is loaded
 * whole at the first reference, changed in memory by puts, and written
 * back whole by a save (temporary file + rename, so a reader never sees a
 * half-written file under the cache file's name). Several processes may
 * share a cache directory: the last save wins, and every record in any
 * version of the file is checked against the segment before use, so a
 * lost update only costs a recomputation.
 *
 * Trust: the cache directory is the user's own (or root's); the file is
 * still treated as untrusted bytes (a disk error, a crash during the
 * rename on some file systems, a tool gone wrong): every count is bounded
 * by the bytes left, the body carries a checksum, and a size that cannot
 * be right (below the block's row count) rejects the record. A consistent
 * but wrong size written on purpose is not detected until the block is
 * rendered (core/blockmgr.c then corrects it and logs).
 */
#include "textsize.h"

#include "io.h"
#include "segment.h"
#include "textval.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_MAGIC	"ARFSSIZE"
#define CACHE_VERSION	1u
#define HEADER_SIZE	40
#define MAX_FILE	(256u << 20)
#define MAX_PATH_LEN	4096u
#define MAX_NAME_LEN	255u
#define MAX_RECORDS	(1u << 20)
#define UNKNOWN_DISK	UINT64_MAX

struct tc_col {
	uint32_t col;
	uint64_t n;
	int64_t *sizes;		/* [n] */
};

struct tc_seg {
	char *name;
	struct arfs_textsize_segid id;
	uint32_t ncols;
	struct tc_col *cols;	/* [ncols], by increasing col */
};

struct arfs_textsize_cache {
	struct arfs_textsize_cache *next;	/* reg->caches [reg lock] */
	unsigned refs;				/* [reg lock] */
	pthread_mutex_t lock;			/* protects everything below */
	char *dir, *path, *group;	/* cache dir, cache file, group realpath */
	struct tc_seg *segs;
	size_t nsegs, cap;
	bool changed;		/* since load or save */
	bool warned;		/* a bad or stale record was logged */
	bool save_failed;	/* a failed save was logged */
};

struct arfs_textsize_reg {
	pthread_mutex_t lock;
	char *dir;
	struct arfs_textsize_cache *caches;	/* [lock] */
};

/* ---- checksums and plausibility ------------------------------------- */

uint64_t arfs_textsize_fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	return arfs_textsize_fnv(h, b, 8);
}

uint64_t arfs_textsize_table_sum(const struct arfs_segment *seg)
{
	uint8_t r[ARFS_BLOCK_INFO_SIZE];
	uint64_t h = fnv_u64(ARFS_TEXTSIZE_FNV_INIT, seg->ncols);

	for (uint64_t c = 0; c < seg->ncols; c++) {
		h = fnv_u64(h, seg->nblocks[c]);
		for (uint64_t b = 0; b < seg->nblocks[c]; b++) {
			arfs_block_info_put(r, &seg->blocks[c][b]);
			h = arfs_textsize_fnv(h, r, sizeof(r));
		}
	}
	return h;
}

bool arfs_textsize_plausible(const int64_t *sizes,
			     const struct arfs_block_info *bi, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (sizes[i] != ARFS_TEXTSIZE_UNKNOWN &&
		    (sizes[i] < 0 || sizes[i] > ARFS_TEXTSIZE_MAX ||
		     (uint64_t)sizes[i] < bi[i].num_elem))
			return false;
	return true;
}

/* ---- records in memory [c->lock] ------------------------------------ */

static void seg_release(struct tc_seg *s)
{
	for (uint32_t i = 0; i < s->ncols; i++)
		free(s->cols[i].sizes);
	free(s->cols);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

static void cache_clear(struct arfs_textsize_cache *c)
{
	for (size_t i = 0; i < c->nsegs; i++)
		seg_release(&c->segs[i]);
	free(c->segs);
	c->segs = NULL;
	c->nsegs = c->cap = 0;
}

static struct tc_seg *find_seg(struct arfs_textsize_cache *c,
			       const char *name)
{
	for (size_t i = 0; i < c->nsegs; i++)
		if (!strcmp(c->segs[i].name, name))
			return &c->segs[i];
	return NULL;
}

static struct tc_col *find_col(struct tc_seg *s, uint64_t col)
{
	for (uint32_t i = 0; i < s->ncols; i++)
		if (s->cols[i].col == col)
			return &s->cols[i];
	return NULL;
}

static struct tc_seg *add_seg(struct arfs_textsize_cache *c, const char *name,
			      const struct arfs_textsize_segid *id)
{
	struct tc_seg *n;

	if (c->nsegs == c->cap) {
		n = realloc(c->segs, (c->cap ? c->cap * 2 : 8) * sizeof(*n));
		if (!n)
			return NULL;
		c->segs = n;
		c->cap = c->cap ? c->cap * 2 : 8;
	}
	n = &c->segs[c->nsegs];
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	if (!n->name)
		return NULL;
	n->id = *id;
	c->nsegs++;
	return n;
}

/* Insert (keeping col order) or replace column col's sizes. */
static int set_col(struct tc_seg *s, uint64_t col, const int64_t *sizes,
		   uint64_t n)
{
	struct tc_col *cc = find_col(s, col), *v;
	int64_t *copy = malloc((n ? n : 1) * sizeof(*copy));
	uint32_t at;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, sizes, n * sizeof(*copy));
	if (cc) {
		free(cc->sizes);
		cc->sizes = copy;
		cc->n = n;
		return 0;
	}
	v = realloc(s->cols, (s->ncols + 1) * sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	s->cols = v;
	for (at = s->ncols; at > 0 && v[at - 1].col > col; at--)
		v[at] = v[at - 1];
	v[at] = (struct tc_col){ .col = (uint32_t)col, .n = n, .sizes = copy };
	s->ncols++;
	return 0;
}

/* ---- the file: parse -------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len, at;
};

static bool rd_take(struct rd *r, size_t n, const uint8_t **out)
{
	if (r->len - r->at < n)
		return false;
	*out = r->p + r->at;
	r->at += n;
	return true;
}

static bool rd_u16(struct rd *r, uint64_t *v)
{
	const uint8_t *b;

	if (!rd_take(r, 2, &b))
		return false;
	*v = get_le16(b);
	return true;
}

static bool rd_u32(struct rd *r, uint64_t *v)
{
	const uint8_t *b;

	if (!rd_take(r, 4, &b))
		return false;
	*v = get_le32(b);
	return true;
}

static bool rd_u64(struct rd *r, uint64_t *v)
{
	const uint8_t *b;

	if (!rd_take(r, 8, &b))
		return false;
	*v = get_le64(b);
	return true;
}

/* A segment file name as group.c accepts it: plain, no NUL. */
static bool name_ok(const uint8_t *p, size_t n)
{
	char buf[MAX_NAME_LEN + 1];

	if (!n || n > MAX_NAME_LEN || memchr(p, 0, n))
		return false;
	memcpy(buf, p, n);
	buf[n] = 0;
	return buf[0] != '/' && !strchr(buf, '/') && !strstr(buf, "..");
}

/* One column entry of a segment record. NULL reason: ok. */
static const char *parse_col(struct rd *r, struct tc_seg *s,
			     int64_t prev_col)
{
	uint64_t col, n, v = 0;	/* rd_u64 cannot fail: n was bounded */
	int64_t *sizes;

	if (!rd_u32(r, &col) || !rd_u64(r, &n))
		return "truncated column entry";
	if ((int64_t)col <= prev_col)
		return "column numbers not increasing";
	if (n > (r->len - r->at) / 8)
		return "block count past the end of the file";
	sizes = malloc((n ? n : 1) * sizeof(*sizes));
	if (!sizes)
		return "out of memory";
	for (uint64_t i = 0; i < n; i++) {
		rd_u64(r, &v);
		if (v != UNKNOWN_DISK && v > (uint64_t)ARFS_TEXTSIZE_MAX) {
			free(sizes);
			return "size out of range";
		}
		sizes[i] = v == UNKNOWN_DISK ? ARFS_TEXTSIZE_UNKNOWN :
		       (int64_t)v;
	}
	s->cols[s->ncols++] = (struct tc_col){ .col = (uint32_t)col, .n = n,
					       .sizes = sizes };
	return NULL;
}

static const char *parse_seg(struct arfs_textsize_cache *c, struct rd *r)
{
	struct arfs_textsize_segid id;
	const uint8_t *name;
	char buf[MAX_NAME_LEN + 1];
	uint64_t len, mt, ncols;
	struct tc_seg *s;
	const char *why = NULL;

	if (!rd_u16(r, &len) || !rd_take(r, len, &name) || !name_ok(name, len))
		return "bad segment file name";
	if (!rd_u64(r, &id.file_size) || !rd_u64(r, &mt) ||
	    !rd_u64(r, &id.table_sum) || !rd_u32(r, &ncols))
		return "truncated segment record";
	id.mtime_ns = (int64_t)mt;
	if (ncols > (r->len - r->at) / 12)
		return "column count past the end of the file";
	memcpy(buf, name, len);
	buf[len] = 0;
	if (find_seg(c, buf))
		return "segment file named twice";
	s = add_seg(c, buf, &id);
	if (!s)
		return "out of memory";
	s->cols = calloc(ncols + 1, sizeof(*s->cols));
	if (!s->cols)
		return "out of memory";
	for (uint64_t i = 0; !why && i < ncols; i++)
		why = parse_col(r, s, i ? (int64_t)s->cols[i - 1].col : -1);
	return why;
}

/* Parse a whole cache file image. NULL: ok; else why it is ignored. */
static const char *parse_file(struct arfs_textsize_cache *c,
			      const uint8_t *p, size_t len, bool *stale)
{
	struct rd r = { p, len, HEADER_SIZE };
	uint64_t body, plen, nrec;
	const uint8_t *path;
	const char *why = NULL;

	*stale = false;
	if (len < HEADER_SIZE || memcmp(p, CACHE_MAGIC, 8))
		return "not a size cache (bad magic or too short)";
	if (get_le32(p + 8) != CACHE_VERSION) {
		*stale = true;
		return "another cache format version";
	}
	if (get_le32(p + 12) != ARFS_TEXTVAL_VERSION) {
		*stale = true;
		return "written for other text rules (renderer version)";
	}
	body = get_le64(p + 16);
	if (body != len - HEADER_SIZE)
		return "truncated, or bytes past its end";
	if (arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT, p + HEADER_SIZE,
			      len - HEADER_SIZE) != get_le64(p + 24))
		return "checksum mismatch";
	plen = get_le32(p + 32);
	nrec = get_le32(p + 36);
	if (!plen || plen > MAX_PATH_LEN || nrec > MAX_RECORDS ||
	    !rd_take(&r, plen, &path))
		return "bad header counts";
	if (strlen(c->group) != plen || memcmp(path, c->group, plen)) {
		*stale = true;
		return "describes another group";
	}
	for (uint64_t i = 0; !why && i < nrec; i++)
		why = parse_seg(c, &r);
	if (!why && r.at != len)
		why = "bytes left after the last record";
	return why;
}

static void warn_once(struct arfs_textsize_cache *c, bool stale,
		      const char *fmt_detail, const char *detail)
{
	if (c->warned)
		return;
	c->warned = true;
	arfs_log(stale ? ARFS_LOG_INFO : ARFS_LOG_WARNING,
		 "size cache %s (group %s): %s %s; block sizes are recomputed",
		 c->path, c->group, fmt_detail, detail ? detail : "");
}

static void cache_load(struct arfs_textsize_cache *c)
{
	struct stat st;
	const char *why;
	uint8_t *buf;
	ssize_t n;
	bool stale;
	int fd = arfs_io_open(c->path, O_RDONLY | O_NOFOLLOW, 0);

	if (fd < 0) {
		if (fd != -ENOENT)
			warn_once(c, false, "cannot be read:", strerror(-fd));
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > MAX_FILE) {
		arfs_io_close(fd);
		warn_once(c, false, "ignored:", "not a regular file of at "
			  "most 256 MiB");
		return;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? arfs_io_pread_all(fd, buf, (size_t)st.st_size, 0) : -ENOMEM;
	arfs_io_close(fd);
	if (n < 0) {
		free(buf);
		warn_once(c, false, "cannot be read:", strerror((int)-n));
		return;
	}
	why = parse_file(c, buf, (size_t)n, &stale);
	free(buf);
	if (why) {
		cache_clear(c);
		warn_once(c, stale, "ignored:", why);
	}
}

/* ---- the file: write ------------------------------------------------ */

static void wr_seg(struct arfs_bytes *w, const struct tc_seg *s)
{
	uint8_t b[2];
	size_t len = strlen(s->name);

	put_le16(b, (uint16_t)len);
	arfs_bytes_put(w, b, 2);
	arfs_bytes_put(w, s->name, len);
	arfs_bytes_u64(w, s->id.file_size);
	arfs_bytes_u64(w, (uint64_t)s->id.mtime_ns);
	arfs_bytes_u64(w, s->id.table_sum);
	arfs_bytes_u32(w, s->ncols);
	for (uint32_t i = 0; i < s->ncols; i++) {
		arfs_bytes_u32(w, s->cols[i].col);
		arfs_bytes_u64(w, s->cols[i].n);
		for (uint64_t b2 = 0; b2 < s->cols[i].n; b2++)
			arfs_bytes_u64(w, s->cols[i].sizes[b2] < 0 ? UNKNOWN_DISK :
				  (uint64_t)s->cols[i].sizes[b2]);
	}
}

/* The whole file image into w. */
static void cache_image(const struct arfs_textsize_cache *c, struct arfs_bytes *w)
{
	uint8_t h[HEADER_SIZE] = { 0 };

	arfs_bytes_put(w, h, sizeof(h));
	arfs_bytes_put(w, c->group, strlen(c->group));
	for (size_t i = 0; i < c->nsegs; i++)
		wr_seg(w, &c->segs[i]);
	if (w->oom)
		return;
	memcpy(w->p, CACHE_MAGIC, 8);
	put_le32(w->p + 8, CACHE_VERSION);
	put_le32(w->p + 12, ARFS_TEXTVAL_VERSION);
	put_le64(w->p + 16, w->len - HEADER_SIZE);
	put_le64(w->p + 24, arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT,
					      w->p + HEADER_SIZE,
					      w->len - HEADER_SIZE));
	put_le32(w->p + 32, (uint32_t)strlen(c->group));
	put_le32(w->p + 36, (uint32_t)c->nsegs);
}

/* mkdir -p dir (mode 0700 for what it creates). */
static int make_dirs(const char *dir)
{
	char buf[PATH_MAX], *s;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int arfs_textsize_write_file(const char *dir, const char *path,
			     const void *p, size_t len)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
		     (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	rc = make_dirs(dir);
	if (rc)
		return rc;
	fd = arfs_io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
			  0600);
	if (fd < 0)
		return fd;
	rc = arfs_io_pwrite_all(fd, p, len, 0);
	arfs_io_close(fd);
	if (!rc)
		rc = arfs_io_renameat(AT_FDCWD, tmp, AT_FDCWD, path);
	if (rc)
		arfs_io_unlinkat(AT_FDCWD, tmp, 0);
	return rc;
}

int arfs_textsize_cache_save(struct arfs_textsize_cache *c)
{
	struct arfs_bytes w = { 0 };
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (!c->changed)
		goto out_unlock;
	cache_image(c, &w);
	rc = w.oom ? -ENOMEM : arfs_textsize_write_file(c->dir, c->path,
							   w.p, w.len);
	if (!rc) {
		c->changed = false;
	} else if (!c->save_failed) {
		c->save_failed = true;
		arfs_log(ARFS_LOG_WARNING, "size cache %s: cannot be written "
			 "(%s); sizes of group %s will be recomputed by the next "
			 "mount (see -o cache_dir)", c->path, strerror(-rc),
			 c->group);
	}
	free(w.p);
out_unlock:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- get, put --------------------------------------------------------- */

static bool same_id(const struct arfs_textsize_segid *a,
		    const struct arfs_textsize_segid *b)
{
	return a->file_size == b->file_size && a->mtime_ns == b->mtime_ns &&
	       a->table_sum == b->table_sum;
}

bool arfs_textsize_cache_get(struct arfs_textsize_cache *c,
			     const char *seg_name,
			     const struct arfs_textsize_segid *id,
			     uint64_t col, const struct arfs_block_info *bi,
			     uint64_t nblocks, int64_t *out)
{
	struct tc_seg *s;
	struct tc_col *cc = NULL;
	bool ok = false;

	pthread_mutex_lock(&c->lock);
	s = find_seg(c, seg_name);
	if (s && !same_id(&s->id, id)) {
		warn_once(c, true, "stale for segment file", seg_name);
		s = NULL;
	}
	if (s)
		cc = find_col(s, col);
	if (cc && (cc->n != nblocks ||
		   !arfs_textsize_plausible(cc->sizes, bi, nblocks))) {
		warn_once(c, false, "record does not fit the blocks of",
			  seg_name);
		cc = NULL;
	}
	if (cc) {
		memcpy(out, cc->sizes, nblocks * sizeof(*out));
		ok = true;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

int arfs_textsize_cache_put(struct arfs_textsize_cache *c,
			    const char *seg_name,
			    const struct arfs_textsize_segid *id,
			    uint64_t col, const int64_t *sizes,
			    uint64_t nblocks)
{
	struct tc_seg *s;
	int rc = 0;

	if (col > UINT32_MAX || strlen(seg_name) > MAX_NAME_LEN)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	s = find_seg(c, seg_name);
	if (s && !same_id(&s->id, id)) {
		seg_release(s);
		*s = c->segs[--c->nsegs];	/* order does not matter */
		s = NULL;
	}
	if (!s && c->nsegs >= MAX_RECORDS)
		rc = -ENOSPC;
	if (!rc && !s && !(s = add_seg(c, seg_name, id)))
		rc = -ENOMEM;
	if (!rc)
		rc = set_col(s, col, sizes, nblocks);
	if (!rc)
		c->changed = true;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

const char *arfs_textsize_cache_path(const struct arfs_textsize_cache *c)
{
	return c->path;
}

/* ---- registry --------------------------------------------------------- */

int arfs_textsize_reg_new(const char *cache_dir,
			  struct arfs_textsize_reg **out)
{
	struct arfs_textsize_reg *reg = calloc(1, sizeof(*reg));

	if (!reg || !(reg->dir = strdup(cache_dir))) {
		free(reg);
		return -ENOMEM;
	}
	pthread_mutex_init(&reg->lock, NULL);
	*out = reg;
	return 0;
}

const char *arfs_textsize_reg_dir(const struct arfs_textsize_reg *reg)
{
	return reg->dir;
}

static void cache_free(struct arfs_textsize_cache *c)
{
	cache_clear(c);
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c->path);
	free(c->group);
	free(c);
}

void arfs_textsize_reg_free(struct arfs_textsize_reg *reg)
{
	struct arfs_textsize_cache *c;

	if (!reg)
		return;
	while ((c = reg->caches)) {
		reg->caches = c->next;
		if (c->refs)
			arfs_log(ARFS_LOG_ERR, "size cache %s freed in use",
				 c->path);
		arfs_textsize_cache_save(c);
		cache_free(c);
	}
	pthread_mutex_destroy(&reg->lock);
	free(reg->dir);
	free(reg);
}

static struct arfs_textsize_cache *cache_new(const char *dir,
					     const char *group)
{
	struct arfs_textsize_cache *c = calloc(1, sizeof(*c));
	uint64_t h = arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT, group,
				       strlen(group));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->dir = strdup(dir);
	c->group = strdup(group);
	if (asprintf(&c->path, "%s/%016" PRIx64 ".sizes", dir, h) < 0)
		c->path = NULL;
	if (!c->dir || !c->group || !c->path) {
		cache_free(c);
		return NULL;
	}
	cache_load(c);
	return c;
}

int arfs_textsize_reg_get(struct arfs_textsize_reg *reg,
			  const char *group_dir,
			  struct arfs_textsize_cache **out)
{
	struct arfs_textsize_cache *c;
	char *real = realpath(group_dir, NULL);

	if (!real)
		return -errno;
	pthread_mutex_lock(&reg->lock);
	for (c = reg->caches; c && strcmp(c->group, real); c = c->next)
		;
	if (!c && (c = cache_new(reg->dir, real))) {
		c->next = reg->caches;
		reg->caches = c;
	}
	if (c)
		c->refs++;
	pthread_mutex_unlock(&reg->lock);
	free(real);
	*out = c;
	return c ? 0 : -ENOMEM;
}

void arfs_textsize_reg_put(struct arfs_textsize_reg *reg,
			   struct arfs_textsize_cache *c)
{
	unsigned left;

	if (!c)
		return;
	pthread_mutex_lock(&reg->lock);
	left = --c->refs;
	pthread_mutex_unlock(&reg->lock);
	if (!left)
		arfs_textsize_cache_save(c);
}

/* ---- location --------------------------------------------------------- */

int arfs_textsize_default_dir(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/arrayfs", xdg);
	else if (geteuid() == 0)
		n = snprintf(buf, cap, "/var/cache/arrayfs");
	else if (home && home[0] == '/')
		n = snprintf(buf, cap, "%s/.cache/arrayfs", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
