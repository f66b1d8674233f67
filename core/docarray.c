/*
 * docarray.c - DocArray memmap arrays: open, index, read, commit, compact.
 *
 * Files in the array directory (byte layouts in docs/FORMAT.md):
 *   header.bin    rows of key_length UTF-32LE code units + 3 x int64 (p,r,e)
 *   body.bin      document bytes back to back; append-only for us
 *   arrayfs.meta  our sidecar: one 32-byte record per header row
 *
 * Commit rule: body bytes first (appended at the end of body.bin, never at
 * the position DocArray computes from the last row), then the sidecar
 * record, then the header row: the header row write is the commit point.
 * With ARFS_PUT_FSYNC the body is fsync'd before the row is written and the
 * header and sidecar after. A crash leaves unreferenced bytes at the end of
 * body.bin (dead space, reclaimed by compact), never a torn document.
 *
 * Locks: `commit` (mutex) serializes writers and is taken first; `lock`
 * (rwlock) protects the index and maps. Writers copy body bytes holding only
 * `commit`, and take `lock` for writing just around header-row writes and
 * index updates, so readers wait at most for one row write.
 *
 * Bodies are reference counted (struct arfs_body): a docref pins the body
 * file it read from, so compaction can replace body.bin under live readers.
 */
#include "docarray.h"
#include "docarray_int.h"
#include "idname.h"
#include "io.h"
#include "util.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COMPACT_MARK "arrayfs.compact"

static const char *const file_names[3] = { "body.bin", "header.bin",
					   ARFS_SIDECAR_NAME };

struct body_map {
	struct body_map *next;
	void *addr;
	size_t len;
};

struct arfs_body {
	int fd;
	atomic_int refs;
	pthread_mutex_t map_lock; /* protects maps */
	struct body_map *maps;    /* newest first; all unmapped at free */
};

struct arfs_docarray {
	char *dir;
	pthread_mutex_t commit;
	pthread_rwlock_t lock;
	atomic_uint_least64_t gen;
	int lockfd; /* holds flock(LOCK_EX) on the directory while writable */
	/*
	 * Everything from dirfd on is the state loaded from the files; reload
	 * and compact build a fresh state and swap it in (state_swap()).
	 */
	int dirfd, hfd, sfd;
	bool ro;
	unsigned K;
	size_t rowsize;
	/* Under lock: */
	struct arfs_body *body;
	const uint8_t *hmap;
	size_t hmap_cap;
	uint64_t nrows;
	const uint8_t *smap;
	size_t smap_cap;
	uint64_t srecs;
	uint8_t *rowflags;
	struct arfs_slot *table;
	size_t tcap, tused; /* tused counts live and tombstone slots */
	uint64_t live, bad_rows, dup_rows;
	uint64_t bad_end_min; /* lowest end of a bad row past body.bin's end */
	/* Under commit: */
	uint64_t body_end, next_docno;
	/* Defaults for rows without a sidecar record. */
	struct timespec def_mtime;
	uid_t def_uid;
	gid_t def_gid;
	/* What the files looked like when indexed, for reload. */
	struct stat st_h, st_b, st_s;
};

#define STATE_OFF offsetof(struct arfs_docarray, dirfd)

/* ---- small helpers ---- */

static int64_t get_i64(const uint8_t *p)
{
	return (int64_t)get_le64(p);
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/* Length of an id field without its trailing zero code units, in bytes. */
static size_t id_trim(const uint8_t *raw, unsigned K)
{
	size_t n = (size_t)K * 4;

	while (n >= 4 && get_le32(raw + n - 4) == 0)
		n -= 4;
	return n;
}

static uint64_t id_hash(const uint8_t *raw, unsigned K)
{
	size_t n = id_trim(raw, K), i;
	uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ n, w;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, raw + i, 8);
		h = mix64(h ^ w);
	}
	if (i < n) {
		w = get_le32(raw + i);
		h = mix64(h ^ w);
	}
	return h;
}

static const uint8_t *row_ptr(const struct arfs_docarray *da, uint64_t row)
{
	return da->hmap + row * da->rowsize;
}

static bool row_is_tomb(const uint8_t *ext)
{
	return get_i64(ext) == -1 && get_i64(ext + 8) == -1 &&
	       get_i64(ext + 16) == -1;
}

/*
 * Decode a row's extents; false when they are not a tombstone and not a
 * valid range inside a body of body_size bytes.
 */
static bool row_extent(const uint8_t *ext, uint64_t body_size, uint64_t *off,
		       uint64_t *len)
{
	int64_t p = get_i64(ext), r = get_i64(ext + 8), e = get_i64(ext + 16);
	uint64_t start, end;

	if (p < 0 || r < 0 || e < r)
		return false;
	if (arfs_add_overflows((uint64_t)p, (uint64_t)r, &start) ||
	    arfs_add_overflows((uint64_t)p, (uint64_t)e, &end) ||
	    end > body_size)
		return false;
	*off = start;
	*len = end - start;
	return true;
}

static void fill_extent(uint8_t ext[24], uint64_t start, uint64_t len)
{
	uint64_t p = start / ARFS_PAGE * ARFS_PAGE;

	put_le64(ext, p);
	put_le64(ext + 8, start - p);
	put_le64(ext + 16, start - p + len);
}

static void fill_tomb(uint8_t ext[24])
{
	memset(ext, 0xFF, 24);
}

/* Encode a name as a padded id field raw[4K]: 0 or -errno. */
static int name_to_raw(unsigned K, const char *name, size_t len, uint8_t *raw)
{
	uint32_t cps[ARFS_MAX_KEY_LENGTH];
	ssize_t n;
	size_t i;

	n = arfs_idname_to_cps(name, len, cps, K);
	if (n < 0)
		return (int)n;
	memset(raw, 0, (size_t)K * 4);
	for (i = 0; i < (size_t)n; i++)
		put_le32(raw + 4 * i, cps[i]);
	return 0;
}

static ssize_t raw_to_name(unsigned K, const uint8_t *raw, char *out,
			   size_t cap)
{
	uint32_t cps[ARFS_MAX_KEY_LENGTH];
	size_t n = id_trim(raw, K) / 4, i;

	for (i = 0; i < n; i++)
		cps[i] = get_le32(raw + 4 * i);
	return arfs_idname_from_cps(cps, n, out, cap);
}

/* ---- bodies ---- */

static struct arfs_body *body_new(int fd)
{
	struct arfs_body *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->fd = fd;
	atomic_init(&b->refs, 1);
	pthread_mutex_init(&b->map_lock, NULL);
	return b;
}

static struct arfs_body *body_get(struct arfs_body *b)
{
	atomic_fetch_add(&b->refs, 1);
	return b;
}

static void body_put(struct arfs_body *b)
{
	struct body_map *m, *next;

	if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	for (m = b->maps; m; m = next) {
		next = m->next;
		munmap(m->addr, m->len);
		free(m);
	}
	pthread_mutex_destroy(&b->map_lock);
	arfs_io_close(b->fd);
	free(b);
}

/* A mapping of b covering [0, end): existing or new. */
static const uint8_t *body_map_upto(struct arfs_body *b, uint64_t end, int *err)
{
	struct body_map *m;
	size_t len;
	void *addr;

	pthread_mutex_lock(&b->map_lock);
	if (b->maps && b->maps->len >= end) {
		addr = b->maps->addr;
		goto out_unlock;
	}
	len = (size_t)end < (1u << 20) ? (1u << 20) : (size_t)end * 2;
	len = (len + ARFS_PAGE - 1) / ARFS_PAGE * ARFS_PAGE;
	addr = arfs_io_mmap(len, PROT_READ, MAP_SHARED, b->fd, 0, err);
	if (!addr)
		goto out_unlock;
	m = malloc(sizeof(*m));
	if (!m) {
		munmap(addr, len);
		addr = NULL;
		*err = -ENOMEM;
		goto out_unlock;
	}
	m->addr = addr;
	m->len = len;
	m->next = b->maps;
	b->maps = m;
out_unlock:
	pthread_mutex_unlock(&b->map_lock);
	return addr;
}

ssize_t arfs_docref_pread(const struct arfs_docref *ref, void *dst,
			  size_t cap, uint64_t off)
{
	if (!ref->body || off >= ref->len)
		return 0;
	if (cap > ref->len - off)
		cap = (size_t)(ref->len - off);
	return arfs_io_pread_all(ref->body->fd, dst, cap,
				 (off_t)(ref->off + off));
}

int arfs_docref_fd(const struct arfs_docref *ref)
{
	return ref->body ? ref->body->fd : -1;
}

const void *arfs_docref_view(struct arfs_docref *ref, int *err)
{
	const uint8_t *base;

	*err = 0;
	if (!ref->body) {
		*err = -EINVAL;
		return NULL;
	}
	if (ref->len == 0)
		return "";
	base = body_map_upto(ref->body, ref->off + ref->len, err);
	return base ? base + ref->off : NULL;
}

void arfs_docref_copy(struct arfs_docref *dst, const struct arfs_docref *src)
{
	*dst = *src;
	if (dst->body)
		body_get(dst->body);
}

void arfs_docref_release(struct arfs_docref *ref)
{
	body_put(ref->body);
	ref->body = NULL;
}

/* ---- header and sidecar maps ---- */

/*
 * (Re)map fd read-only with room for `need` bytes. Pages past the end of the
 * file are never touched: only committed rows and records are read.
 */
static int remap(int fd, const uint8_t **map, size_t *cap, uint64_t need)
{
	size_t len = need < (1u << 20) ? (1u << 20) : (size_t)need * 2;
	void *addr;
	int err;

	len = (len + ARFS_PAGE - 1) / ARFS_PAGE * ARFS_PAGE;
	addr = arfs_io_mmap(len, PROT_READ, MAP_SHARED, fd, 0, &err);
	if (!addr)
		return err;
	if (*map)
		munmap((void *)*map, *cap);
	*map = addr;
	*cap = len;
	return 0;
}

static int ensure_rows(struct arfs_docarray *da, uint64_t rows)
{
	uint8_t *fl;

	if (rows * da->rowsize > da->hmap_cap) {
		int rc = remap(da->hfd, &da->hmap, &da->hmap_cap,
			       rows * da->rowsize);
		if (rc)
			return rc;
	}
	fl = realloc(da->rowflags, rows ? rows : 1);
	if (!fl)
		return -ENOMEM;
	if (rows > da->nrows)
		memset(fl + da->nrows, 0, rows - da->nrows);
	da->rowflags = fl;
	return 0;
}

/* ---- the id table ---- */

static struct arfs_slot *slot_find(struct arfs_docarray *da, const uint8_t *raw,
				   uint64_t h)
{
	size_t mask = da->tcap - 1, i = h & mask;
	size_t idlen = (size_t)da->K * 4;

	for (;;) {
		struct arfs_slot *s = &da->table[i];
		if (s->first == SLOT_EMPTY)
			return NULL;
		if (s->first != SLOT_TOMB &&
		    !memcmp(row_ptr(da, s->first), raw, idlen))
			return s;
		i = (i + 1) & mask;
	}
}

static void slot_put(struct arfs_slot *table, size_t cap, uint64_t h,
		     struct arfs_slot v)
{
	size_t i = h & (cap - 1);

	while (table[i].first != SLOT_EMPTY && table[i].first != SLOT_TOMB)
		i = (i + 1) & (cap - 1);
	table[i] = v;
}

static int table_resize(struct arfs_docarray *da, size_t cap)
{
	struct arfs_slot *t = malloc(cap * sizeof(*t)), *old = da->table;
	size_t i;

	if (!t)
		return -ENOMEM;
	memset(t, 0xFF, cap * sizeof(*t));
	for (i = 0; old && i < da->tcap; i++)
		if (old[i].first < SLOT_TOMB)
			slot_put(t, cap, id_hash(row_ptr(da, old[i].first), da->K),
				 old[i]);
	free(old);
	da->table = t;
	da->tcap = cap;
	da->tused = da->live;
	return 0;
}

static int slot_insert(struct arfs_docarray *da, uint64_t h, uint32_t row)
{
	struct arfs_slot v = { row, row };
	int rc;

	if ((da->tused + 1) * 10 > da->tcap * 7) {
		rc = table_resize(da, da->live * 2 > da->tcap ? da->tcap * 2 : da->tcap);
		if (rc)
			return rc;
	}
	slot_put(da->table, da->tcap, h, v);
	da->tused++;
	da->live++;
	return 0;
}

static void slot_remove(struct arfs_docarray *da, struct arfs_slot *s)
{
	s->first = SLOT_TOMB;
	s->data = SLOT_TOMB;
	da->live--;
}

/* ---- sidecar records ---- */

static void default_attr(const struct arfs_docarray *da, uint64_t first,
			 struct arfs_docattr *a)
{
	a->docno = ARFS_DEFAULT_DOCNO_BASE + first;
	a->mtime_sec = da->def_mtime.tv_sec;
	a->mtime_nsec = (uint32_t)da->def_mtime.tv_nsec;
	a->mode = 0644;
	a->uid = da->def_uid;
	a->gid = da->def_gid;
}

/* Attributes of the document whose slot is s (size not set). */
static void slot_attr(const struct arfs_docarray *da, const struct arfs_slot *s,
		      struct arfs_docattr *a)
{
	const uint8_t *rec;

	default_attr(da, s->first, a);
	if (s->data >= da->srecs)
		return;
	rec = da->smap + ARFS_SIDECAR_HDR + (uint64_t)s->data * ARFS_SIDECAR_REC;
	if (get_le64(rec) == 0)
		return;
	a->docno = get_le64(rec);
	a->mtime_sec = get_i64(rec + 8);
	a->mtime_nsec = get_le32(rec + 16);
	a->mode = get_le32(rec + 20) & 07777;
	a->uid = get_le32(rec + 24);
	a->gid = get_le32(rec + 28);
}

static void fill_record(uint8_t rec[ARFS_SIDECAR_REC],
			const struct arfs_docattr *a)
{
	put_le64(rec, a->docno);
	put_le64(rec + 8, (uint64_t)a->mtime_sec);
	put_le32(rec + 16, a->mtime_nsec);
	put_le32(rec + 20, a->mode & 07777);
	put_le32(rec + 24, a->uid);
	put_le32(rec + 28, a->gid);
}

static void fill_sidecar_header(uint8_t hdr[ARFS_SIDECAR_HDR], unsigned K)
{
	memset(hdr, 0, ARFS_SIDECAR_HDR);
	memcpy(hdr, ARFS_SIDECAR_MAGIC, 8);
	put_le32(hdr + 8, ARFS_SIDECAR_VERSION);
	put_le32(hdr + 12, K);
}

/* Write a record; caller holds commit. Visible to readers at once. */
static int write_record(struct arfs_docarray *da, uint64_t row,
			const struct arfs_docattr *a)
{
	static const uint8_t zero[ARFS_SIDECAR_REC];
	uint8_t rec[ARFS_SIDECAR_REC];
	uint64_t end = ARFS_SIDECAR_HDR + (row + 1) * ARFS_SIDECAR_REC, r;
	int rc = 0;

	/*
	 * Records from srecs up to row were not valid (a cut last record):
	 * zero them ("no record"), or extending the file would let a
	 * half-written record count.
	 */
	for (r = da->srecs; !rc && r < row; r++)
		rc = arfs_io_pwrite_all(da->sfd, zero, sizeof(zero),
					(off_t)(ARFS_SIDECAR_HDR +
						r * ARFS_SIDECAR_REC));
	fill_record(rec, a);
	if (!rc)
		rc = arfs_io_pwrite_all(da->sfd, rec, sizeof(rec),
					(off_t)(end - ARFS_SIDECAR_REC));
	if (rc)
		return rc;
	if (row < da->srecs)
		return 0;
	pthread_rwlock_wrlock(&da->lock);
	if (end > da->smap_cap)
		rc = remap(da->sfd, &da->smap, &da->smap_cap, end);
	if (!rc)
		da->srecs = row + 1;
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

/*
 * The array directory's mtime is the folder's time users see (and rsync
 * restores); files this engine creates and renames inside it (sidecar,
 * compaction) must not move it. dir_time_save()/dir_time_restore() bracket
 * those steps.
 */
static struct timespec dir_time_save(int dirfd)
{
	struct stat sb;
	struct timespec none = { 0, UTIME_OMIT };

	return fstat(dirfd, &sb) ? none : sb.st_mtim;
}

static void dir_time_restore(int dirfd, struct timespec mtime)
{
	struct timespec ts[2] = { { 0, UTIME_OMIT }, mtime };

	futimens(dirfd, ts);
}

/*
 * Create the sidecar for an array that has none, freezing every existing
 * document's default attributes (so that later appends to body.bin do not
 * change the mtime a backup saw). Written to a temporary name, fsync'd and
 * renamed. Caller holds commit.
 */
static int sidecar_create(struct arfs_docarray *da)
{
	const char *tmp = ARFS_SIDECAR_NAME ".tmp";
	struct arfs_docattr a;
	struct timespec dir_mtime;
	uint8_t *buf;
	size_t i, len;
	int fd, rc;

	dir_mtime = dir_time_save(da->dirfd);
	fd = arfs_io_openat(da->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fd;
	/* Built in memory and written at once: one write, not one per row. */
	pthread_rwlock_rdlock(&da->lock);
	len = ARFS_SIDECAR_HDR + (size_t)da->nrows * ARFS_SIDECAR_REC;
	buf = calloc(1, len);
	rc = buf ? 0 : -ENOMEM;
	for (i = 0; !rc && i < da->tcap; i++) {
		const struct arfs_slot *s = &da->table[i];
		if (s->first >= SLOT_TOMB)
			continue;
		default_attr(da, s->first, &a);
		fill_record(buf + ARFS_SIDECAR_HDR +
			    (size_t)s->data * ARFS_SIDECAR_REC, &a);
	}
	pthread_rwlock_unlock(&da->lock);
	if (!rc) {
		fill_sidecar_header(buf, da->K);
		rc = arfs_io_pwrite_all(fd, buf, len, 0);
	}
	free(buf);
	if (!rc)
		rc = arfs_io_fsync(fd);
	if (!rc)
		rc = arfs_io_renameat(da->dirfd, tmp, da->dirfd, ARFS_SIDECAR_NAME);
	if (!rc)
		rc = arfs_io_fsync_dir(da->dirfd);
	if (rc) {
		arfs_io_close(fd);
		arfs_io_unlinkat(da->dirfd, tmp, 0);
	}
	dir_time_restore(da->dirfd, dir_mtime);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&da->lock);
	da->sfd = fd;
	rc = remap(fd, &da->smap, &da->smap_cap,
		   ARFS_SIDECAR_HDR + da->nrows * ARFS_SIDECAR_REC);
	if (!rc)
		da->srecs = da->nrows;
	pthread_rwlock_unlock(&da->lock);
	fstat(fd, &da->st_s);
	return rc;
}

/* ---- opening and indexing ---- */

static void log_bad_row(const struct arfs_docarray *da, uint64_t row)
{
	if (da->bad_rows <= 5)
		arfs_log(ARFS_LOG_WARNING,
			 "%s/header.bin: offset %" PRIu64 ": row %" PRIu64
			 " has extents outside body.bin; left out",
			 da->dir, row * da->rowsize, row);
}

/* Index one row (not a tombstone): 0 or -ENOMEM. */
static int index_row(struct arfs_docarray *da, uint64_t r, uint64_t body_size)
{
	const uint8_t *row = row_ptr(da, r);
	uint64_t off, len, h;
	struct arfs_slot *s;

	if (row_is_tomb(row + (size_t)da->K * 4))
		return 0;
	if (!row_extent(row + (size_t)da->K * 4, body_size, &off, &len)) {
		da->rowflags[r] |= ROW_BAD;
		da->bad_rows++;
		log_bad_row(da, r);
		/* Well formed but past the end: appends must not reach it. */
		if (row_extent(row + (size_t)da->K * 4, UINT64_MAX, &off, &len) &&
		    off + len < da->bad_end_min)
			da->bad_end_min = off + len;
		return 0;
	}
	h = id_hash(row, da->K);
	s = slot_find(da, row, h);
	if (s) {
		s->data = (uint32_t)r;
		da->dup_rows++;
		return 0;
	}
	da->rowflags[r] |= ROW_FIRST;
	return slot_insert(da, h, (uint32_t)r);
}

static int index_build(struct arfs_docarray *da, uint64_t body_size)
{
	size_t cap = 16;
	uint64_t r, docno;
	int rc;

	while (cap < da->nrows * 2)
		cap *= 2;
	rc = table_resize(da, cap);
	da->bad_end_min = UINT64_MAX;
	for (r = 0; !rc && r < da->nrows; r++)
		rc = index_row(da, r, body_size);
	if (da->bad_rows > 5)
		arfs_log(ARFS_LOG_WARNING, "%s/header.bin: %" PRIu64
			 " corrupt rows left out", da->dir, da->bad_rows);
	da->next_docno = 1;
	for (r = 0; r < da->srecs; r++) {
		docno = get_le64(da->smap + ARFS_SIDECAR_HDR + r * ARFS_SIDECAR_REC);
		if (docno < ARFS_DEFAULT_DOCNO_BASE && docno >= da->next_docno)
			da->next_docno = docno + 1;
	}
	return rc;
}

/* Read and check the sidecar header: its key length, or -errno. */
static int sidecar_key_length(struct arfs_docarray *da)
{
	uint8_t hdr[ARFS_SIDECAR_HDR];
	ssize_t n = arfs_io_pread_all(da->sfd, hdr, sizeof(hdr), 0);
	unsigned K;

	if (n < 0)
		return (int)n;
	K = get_le32(hdr + 12);
	if (n != sizeof(hdr) || memcmp(hdr, ARFS_SIDECAR_MAGIC, 8) ||
	    get_le32(hdr + 8) != ARFS_SIDECAR_VERSION || K == 0 ||
	    K > ARFS_MAX_KEY_LENGTH) {
		arfs_log(ARFS_LOG_ERR, "%s/" ARFS_SIDECAR_NAME ": offset 0: "
			 "not an arrayfs sidecar (bad magic, version or key "
			 "length)", da->dir);
		return -EUCLEAN;
	}
	return (int)K;
}

/*
 * Finish an interrupted compaction. The marker file is written after the
 * new files are complete and durable: with it, every "<file>.compact" left
 * is renamed into place (roll forward); without it, they are removed (roll
 * back). A read-only open does not change anything and reads the .compact
 * files where present. *use_compact tells which.
 */
static int compact_recover(struct arfs_docarray *da, bool *use_compact)
{
	char tmp[64];
	bool marked = faccessat(da->dirfd, COMPACT_MARK, F_OK, 0) == 0;
	int i, rc;

	*use_compact = marked && da->ro;
	if (da->ro)
		return 0;
	for (i = 0; i < 3; i++) {
		snprintf(tmp, sizeof(tmp), "%s.compact", file_names[i]);
		if (marked)
			rc = arfs_io_renameat(da->dirfd, tmp, da->dirfd,
					      file_names[i]);
		else
			rc = arfs_io_unlinkat(da->dirfd, tmp, 0);
		if (rc && rc != -ENOENT)
			return rc;
	}
	if (!marked)
		return 0;
	rc = arfs_io_fsync_dir(da->dirfd);
	if (!rc)
		rc = arfs_io_unlinkat(da->dirfd, COMPACT_MARK, 0);
	if (!rc)
		arfs_log(ARFS_LOG_INFO, "%s: finished an interrupted compaction",
			 da->dir);
	return rc;
}

static int open_file(struct arfs_docarray *da, int i, bool use_compact,
		     int flags)
{
	char tmp[64];
	int fd;

	if (use_compact) {
		snprintf(tmp, sizeof(tmp), "%s.compact", file_names[i]);
		fd = arfs_io_openat(da->dirfd, tmp, flags, 0);
		if (fd != -ENOENT)
			return fd;
	}
	return arfs_io_openat(da->dirfd, file_names[i], flags, 0);
}

static int choose_key_length(struct arfs_docarray *da, unsigned want)
{
	int K = ARFS_DEFAULT_KEY_LENGTH;

	if (da->sfd >= 0) {
		K = sidecar_key_length(da);
		if (K < 0)
			return K;
		if (want && want != (unsigned)K) {
			arfs_log(ARFS_LOG_ERR, "%s: key length %u asked for, but "
				 "the array was written with key length %d",
				 da->dir, want, K);
			return -EINVAL;
		}
	} else if (want) {
		K = (int)want;
	}
	if (K < 1 || K > ARFS_MAX_KEY_LENGTH) {
		arfs_log(ARFS_LOG_ERR, "%s: key length %d out of range 1..%d",
			 da->dir, K, ARFS_MAX_KEY_LENGTH);
		return -EINVAL;
	}
	da->K = (unsigned)K;
	da->rowsize = (size_t)K * 4 + 24;
	return 0;
}

/*
 * The bytes of header.bin that hold whole rows, in *hsize. A size that is
 * not a multiple of the row size is refused (-EUCLEAN), except for the
 * trace of an interrupted append: a row that crosses a page boundary is
 * not written atomically, so a writer killed in that pwrite leaves part of
 * a row at the end. That part is no commit (the whole row is the commit
 * point) and is recognized by the sidecar, which fixes the key length and
 * already holds the record of that row (written before it). It is ignored;
 * a read-write open cuts it off.
 */
static int header_whole_rows(struct arfs_docarray *da, uint64_t *hsize)
{
	uint64_t size = (uint64_t)da->st_h.st_size;
	uint64_t rows = size / da->rowsize;
	int rc;

	*hsize = rows * da->rowsize;
	if (size == *hsize)
		return 0;
	if (da->sfd < 0 || (uint64_t)da->st_s.st_size <
	    ARFS_SIDECAR_HDR + (rows + 1) * ARFS_SIDECAR_REC) {
		arfs_log(ARFS_LOG_ERR, "%s/header.bin: size %" PRIu64 " is not "
			 "a multiple of the row size %zu (key length %u)",
			 da->dir, size, da->rowsize, da->K);
		return -EUCLEAN;
	}
	arfs_log(ARFS_LOG_WARNING, "%s/header.bin: offset %" PRIu64 ": %"
		 PRIu64 " bytes of an interrupted row append; %s", da->dir,
		 *hsize, size - *hsize, da->ro ? "ignored" : "cut off");
	if (da->ro)
		return 0;
	rc = arfs_io_ftruncate(da->hfd, (off_t)*hsize);
	if (!rc && fstat(da->hfd, &da->st_h))
		rc = -errno;
	return rc;
}

static int load_files(struct arfs_docarray *da, unsigned want_K)
{
	int flags = da->ro ? O_RDONLY : O_RDWR;
	bool use_compact;
	uint64_t hsize;
	struct stat dst;
	int bfd, rc;

	rc = compact_recover(da, &use_compact);
	if (rc)
		return rc;
	bfd = open_file(da, 0, use_compact, flags);
	if (bfd < 0)
		return bfd;
	da->body = body_new(bfd);
	if (!da->body) {
		arfs_io_close(bfd);
		return -ENOMEM;
	}
	da->hfd = open_file(da, 1, use_compact, flags);
	if (da->hfd < 0)
		return da->hfd;
	da->sfd = open_file(da, 2, use_compact, flags);
	if (da->sfd < 0 && da->sfd != -ENOENT)
		return da->sfd;
	rc = choose_key_length(da, want_K);
	if (rc)
		return rc;
	if (fstat(bfd, &da->st_b) || fstat(da->hfd, &da->st_h) ||
	    fstat(da->dirfd, &dst))
		return -errno;
	if (da->sfd >= 0 && fstat(da->sfd, &da->st_s))
		return -errno;
	rc = header_whole_rows(da, &hsize);
	if (rc)
		return rc;
	if (hsize / da->rowsize > ARFS_MAX_ROWS)
		return -EFBIG;
	da->def_mtime = da->st_b.st_mtim;
	da->def_uid = dst.st_uid;
	da->def_gid = dst.st_gid;
	da->body_end = (uint64_t)da->st_b.st_size;
	rc = remap(da->hfd, &da->hmap, &da->hmap_cap, hsize);
	if (rc)
		return rc;
	if (da->sfd >= 0 && da->st_s.st_size >= ARFS_SIDECAR_HDR) {
		da->srecs = ((uint64_t)da->st_s.st_size - ARFS_SIDECAR_HDR) /
			    ARFS_SIDECAR_REC;
		rc = remap(da->sfd, &da->smap, &da->smap_cap,
			   (uint64_t)da->st_s.st_size);
		if (rc)
			return rc;
	}
	rc = ensure_rows(da, hsize / da->rowsize);
	if (rc)
		return rc;
	da->nrows = hsize / da->rowsize;
	return index_build(da, da->body_end);
}

/* Release the loaded state (files, maps, index) of da. */
static void state_release(struct arfs_docarray *da)
{
	if (da->hmap)
		munmap((void *)da->hmap, da->hmap_cap);
	if (da->smap)
		munmap((void *)da->smap, da->smap_cap);
	body_put(da->body);
	arfs_io_close(da->hfd);
	arfs_io_close(da->sfd);
	arfs_io_close(da->dirfd);
	free(da->rowflags);
	free(da->table);
	memset((char *)da + STATE_OFF, 0, sizeof(*da) - STATE_OFF);
	da->dirfd = da->hfd = da->sfd = -1;
}

/* Load a fresh state for da's directory into `fresh` (caller frees). */
static int state_load(struct arfs_docarray *fresh, const char *dir, bool ro,
		      unsigned want_K)
{
	memset(fresh, 0, sizeof(*fresh));
	fresh->dirfd = fresh->hfd = fresh->sfd = -1;
	fresh->dir = (char *)dir;
	fresh->ro = ro;
	fresh->dirfd = arfs_io_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fresh->dirfd < 0)
		return fresh->dirfd;
	return load_files(fresh, want_K);
}

/* Swap the loaded state of da with fresh's. Caller holds da->lock (write). */
static void state_swap(struct arfs_docarray *da, struct arfs_docarray *fresh)
{
	char tmp[sizeof(*da) - STATE_OFF];

	memcpy(tmp, (char *)da + STATE_OFF, sizeof(tmp));
	memcpy((char *)da + STATE_OFF, (char *)fresh + STATE_OFF, sizeof(tmp));
	memcpy((char *)fresh + STATE_OFF, tmp, sizeof(tmp));
}

/*
 * One writer per array: a writable open holds flock(LOCK_EX) on the array
 * directory (kept apart from the reloadable state, whose descriptors are
 * reopened). Read-only opens take no lock.
 */
static int lock_dir(const char *dir, bool ro, int *lockfd)
{
	int fd;

	if (ro)
		return 0;
	fd = arfs_io_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rc == -EBUSY)
			arfs_log(ARFS_LOG_ERR, "%s: the array is open for writing "
				 "by another process (arrayfs or arrayctl); mount it "
				 "read-only with -o ro", dir);
		arfs_io_close(fd);
		return rc;
	}
	*lockfd = fd;
	return 0;
}

int arfs_docarray_open(const char *dir, const struct arfs_docarray_opts *opts,
		       struct arfs_docarray **out)
{
	struct arfs_docarray *da = calloc(1, sizeof(*da));
	int rc, lockfd = -1;

	if (!da)
		return -ENOMEM;
	/* state_load() clears all of *da: keep the lock apart until after. */
	da->dirfd = da->hfd = da->sfd = -1;
	rc = lock_dir(dir, opts && opts->read_only, &lockfd);
	if (!rc)
		rc = state_load(da, dir, opts && opts->read_only,
				opts ? opts->key_length : 0);
	da->lockfd = lockfd;
	da->dir = strdup(dir);
	if (!rc && !da->dir)
		rc = -ENOMEM;
	if (rc) {
		state_release(da);
		arfs_io_close(da->lockfd);
		free(da->dir);
		free(da);
		return rc;
	}
	pthread_mutex_init(&da->commit, NULL);
	pthread_rwlock_init(&da->lock, NULL);
	*out = da;
	return 0;
}

int arfs_docarray_create(const char *dir, const struct arfs_docarray_opts *opts,
			 struct arfs_docarray **out)
{
	unsigned K = opts && opts->key_length ? opts->key_length
					      : ARFS_DEFAULT_KEY_LENGTH;
	uint8_t hdr[ARFS_SIDECAR_HDR];
	int dirfd, fd, i, rc = 0;

	if (K > ARFS_MAX_KEY_LENGTH)
		return -EINVAL;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	dirfd = arfs_io_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (dirfd < 0)
		return dirfd;
	for (i = 0; i < 3 && !rc; i++) {
		fd = arfs_io_openat(dirfd, file_names[i],
				    O_RDWR | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			rc = fd;
			break;
		}
		if (i == 2) {
			fill_sidecar_header(hdr, K);
			rc = arfs_io_pwrite_all(fd, hdr, sizeof(hdr), 0);
		}
		if (!rc)
			rc = arfs_io_fsync(fd);
		arfs_io_close(fd);
	}
	if (!rc)
		rc = arfs_io_fsync_dir(dirfd);
	arfs_io_close(dirfd);
	if (rc)
		return rc;
	return arfs_docarray_open(dir, opts, out);
}

void arfs_docarray_close(struct arfs_docarray *da)
{
	if (!da)
		return;
	state_release(da);
	arfs_io_close(da->lockfd);
	pthread_rwlock_destroy(&da->lock);
	pthread_mutex_destroy(&da->commit);
	free(da->dir);
	free(da);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* True when the files on disk differ from what da indexed. */
static bool files_changed(struct arfs_docarray *da)
{
	struct stat st;

	if (fstatat(da->dirfd, "header.bin", &st, 0) || !same_file(&st, &da->st_h))
		return true;
	if (fstatat(da->dirfd, "body.bin", &st, 0) || !same_file(&st, &da->st_b))
		return true;
	if (fstatat(da->dirfd, ARFS_SIDECAR_NAME, &st, 0))
		return da->sfd >= 0;
	return da->sfd < 0 || !same_file(&st, &da->st_s);
}

/* Replace da's state with a fresh load. Caller holds commit. */
static int state_reload(struct arfs_docarray *da)
{
	struct arfs_docarray fresh;
	int rc = state_load(&fresh, da->dir, da->ro, da->K);

	if (rc) {
		state_release(&fresh);
		return rc;
	}
	pthread_rwlock_wrlock(&da->lock);
	state_swap(da, &fresh);
	pthread_rwlock_unlock(&da->lock);
	state_release(&fresh);
	atomic_fetch_add(&da->gen, 1);
	return 0;
}

int arfs_docarray_reload(struct arfs_docarray *da, bool *changed)
{
	int rc = 0;

	*changed = false;
	if (!da->ro)
		return 0; /* the lock keeps other writers out */
	pthread_mutex_lock(&da->commit);
	*changed = files_changed(da);
	if (*changed)
		rc = state_reload(da);
	pthread_mutex_unlock(&da->commit);
	return rc;
}

/* ---- reading ---- */

unsigned arfs_docarray_key_length(const struct arfs_docarray *da)
{
	return da->K;
}

uint64_t arfs_docarray_count(struct arfs_docarray *da)
{
	uint64_t n;

	pthread_rwlock_rdlock(&da->lock);
	n = da->live;
	pthread_rwlock_unlock(&da->lock);
	return n;
}

uint64_t arfs_docarray_generation(struct arfs_docarray *da)
{
	return atomic_load(&da->gen);
}

void arfs_docarray_get_info(struct arfs_docarray *da,
			    struct arfs_docarray_info *out)
{
	uint64_t r, off, len;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&da->lock);
	out->key_length = da->K;
	out->rows = da->nrows;
	out->live = da->live;
	out->bad_rows = da->bad_rows;
	out->duplicate_rows = da->dup_rows;
	out->body_size = da->body_end;
	out->has_sidecar = da->sfd >= 0;
	out->read_only = da->ro;
	for (r = 0; r < da->nrows; r++) {
		const uint8_t *ext = row_ptr(da, r) + (size_t)da->K * 4;
		if (row_is_tomb(ext))
			out->tombstones++;
	}
	for (r = 0; r < da->tcap; r++) {
		const struct arfs_slot *s = &da->table[r];
		if (s->first < SLOT_TOMB &&
		    row_extent(row_ptr(da, s->data) + (size_t)da->K * 4,
			       UINT64_MAX, &off, &len))
			out->live_bytes += len;
	}
	pthread_rwlock_unlock(&da->lock);
}

/* Fill ref from slot s. Caller holds lock (read). */
static void ref_fill(struct arfs_docarray *da, const struct arfs_slot *s,
		     struct arfs_docref *ref)
{
	const uint8_t *ext = row_ptr(da, s->data) + (size_t)da->K * 4;

	row_extent(ext, UINT64_MAX, &ref->off, &ref->len);
	ref->row = s->data;
	ref->body = body_get(da->body);
	slot_attr(da, s, &ref->attr);
	ref->attr.size = ref->len;
}

int arfs_docarray_lookup(struct arfs_docarray *da, const char *name,
			 size_t name_len, struct arfs_docref *ref)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4];
	struct arfs_slot *s;
	int rc;

	memset(ref, 0, sizeof(*ref));
	rc = name_to_raw(da->K, name, name_len, raw);
	if (rc)
		return rc == -ENAMETOOLONG || rc == -EILSEQ ? -ENOENT : rc;
	pthread_rwlock_rdlock(&da->lock);
	s = slot_find(da, raw, id_hash(raw, da->K));
	if (s)
		ref_fill(da, s, ref);
	pthread_rwlock_unlock(&da->lock);
	return s ? 0 : -ENOENT;
}

int arfs_docarray_next(struct arfs_docarray *da, uint64_t *cursor, char *name,
		       size_t cap, struct arfs_docattr *attr)
{
	uint64_t r, h, off, len;
	const uint8_t *row;
	struct arfs_slot *s;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&da->lock);
	for (r = *cursor; r < da->nrows; r++) {
		if (!(da->rowflags[r] & ROW_FIRST))
			continue;
		row = row_ptr(da, r);
		if (raw_to_name(da->K, row, name, cap) < 0) {
			arfs_log(ARFS_LOG_WARNING, "%s/header.bin: row %" PRIu64
				 ": id too long for a file name; not listed",
				 da->dir, r);
			continue;
		}
		h = id_hash(row, da->K);
		s = slot_find(da, row, h);
		if (!s)
			continue;
		slot_attr(da, s, attr);
		row_extent(row_ptr(da, s->data) + (size_t)da->K * 4, UINT64_MAX,
			   &off, &len);
		attr->size = len;
		rc = 0;
		r++;
		break;
	}
	*cursor = r;
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

/* ---- committing ---- */

/* Remember the files as we left them, so reload sees no foreign change. */
static void note_own_write(struct arfs_docarray *da)
{
	/* No stat bookkeeping: a writable handle never reloads (it holds
	 * the lock, so nobody else changes the files). */
	atomic_fetch_add(&da->gen, 1);
}

static int ensure_sidecar(struct arfs_docarray *da)
{
	return da->sfd >= 0 ? 0 : sidecar_create(da);
}

/* pwrite into header.bin under the write lock. Caller holds commit. */
static int header_write(struct arfs_docarray *da, uint64_t row, size_t at,
			const void *buf, size_t len)
{
	int rc;

	pthread_rwlock_wrlock(&da->lock);
	rc = arfs_io_pwrite_all(da->hfd, buf, len,
				(off_t)(row * da->rowsize + at));
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

static int tombstone_row(struct arfs_docarray *da, uint64_t row)
{
	uint8_t ext[24];

	fill_tomb(ext);
	return header_write(da, row, (size_t)da->K * 4, ext, sizeof(ext));
}

/*
 * Tombstone a row; caller holds commit and lock (write), so that the row
 * and the index change together: a reader must never find a slot whose
 * data row is already a tombstone (it would see an empty document).
 */
static int tombstone_row_locked(struct arfs_docarray *da, uint64_t row)
{
	uint8_t ext[24];

	fill_tomb(ext);
	return arfs_io_pwrite_all(da->hfd, ext, sizeof(ext),
				  (off_t)(row * da->rowsize + (size_t)da->K * 4));
}

/*
 * Leave the id of slot s with one live row: tombstone the shadowed rows
 * before its data row (oldest first; the visible bytes never change) and
 * move its place in document order to the data row.
 */
static int undup(struct arfs_docarray *da, struct arfs_slot *s)
{
	const uint8_t *id = row_ptr(da, s->data);
	size_t idlen = (size_t)da->K * 4;
	uint64_t r;
	int rc;

	if (s->first == s->data)
		return 0;
	for (r = s->first; r < s->data; r++) {
		const uint8_t *row = row_ptr(da, r);
		if ((da->rowflags[r] & ROW_BAD) || row_is_tomb(row + idlen) ||
		    memcmp(row, id, idlen))
			continue;
		rc = tombstone_row(da, r);
		if (rc)
			return rc;
		da->dup_rows--;
	}
	pthread_rwlock_wrlock(&da->lock);
	da->rowflags[s->first] &= (uint8_t)~ROW_FIRST;
	da->rowflags[s->data] |= ROW_FIRST;
	s->first = s->data;
	pthread_rwlock_unlock(&da->lock);
	return 0;
}

static int copy_in(struct arfs_docarray *da, arfs_src_fn src, void *ctx,
		   uint64_t size, uint64_t start)
{
	size_t chunk = size < (1u << 20) ? (size_t)size : (1u << 20);
	uint64_t done;
	void *buf;
	int rc = 0;

	if (size == 0)
		return 0;
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	for (done = 0; !rc && done < size; done += chunk) {
		size_t n = size - done < chunk ? (size_t)(size - done) : chunk;
		rc = src(ctx, buf, n, done);
		if (!rc)
			rc = arfs_io_pwrite_all(da->body->fd, buf, n,
						(off_t)(start + done));
	}
	free(buf);
	return rc;
}

static void merge_attr(struct arfs_docattr *a, const struct arfs_docattr *in)
{
	struct timespec now;

	if (!in) {
		clock_gettime(CLOCK_REALTIME, &now);
		a->mtime_sec = now.tv_sec;
		a->mtime_nsec = (uint32_t)now.tv_nsec;
		return;
	}
	a->mtime_sec = in->mtime_sec;
	a->mtime_nsec = in->mtime_nsec;
	a->mode = in->mode & 07777;
	a->uid = in->uid;
	a->gid = in->gid;
}

/* Append a new row for raw with extents ext. Caller holds commit. */
static int append_row(struct arfs_docarray *da, const uint8_t *raw,
		      const uint8_t ext[24], const struct arfs_docattr *a)
{
	uint8_t row[ARFS_MAX_KEY_LENGTH * 4 + 24];
	uint64_t r = da->nrows;
	size_t idlen = (size_t)da->K * 4;
	int rc;

	if (r >= ARFS_MAX_ROWS)
		return -EFBIG;
	rc = write_record(da, r, a);
	if (rc)
		return rc;
	memcpy(row, raw, idlen);
	memcpy(row + idlen, ext, 24);
	pthread_rwlock_wrlock(&da->lock);
	rc = ensure_rows(da, r + 1);
	if (!rc)
		rc = arfs_io_pwrite_all(da->hfd, row, da->rowsize,
					(off_t)(r * da->rowsize));
	if (!rc) {
		da->nrows = r + 1;
		da->rowflags[r] = ROW_FIRST;
		rc = slot_insert(da, id_hash(raw, da->K), (uint32_t)r);
	}
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

static int sync_meta(struct arfs_docarray *da)
{
	int rc = arfs_io_fsync(da->hfd);

	if (!rc && da->sfd >= 0)
		rc = arfs_io_fsync(da->sfd);
	return rc;
}

int arfs_docarray_put(struct arfs_docarray *da, const char *name,
		      size_t name_len, arfs_src_fn src, void *ctx,
		      uint64_t size, const struct arfs_docattr *attr,
		      unsigned flags, struct arfs_docattr *out_attr)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4], ext[24];
	struct arfs_docattr a;
	struct arfs_slot *s;
	uint64_t start;
	int rc;

	rc = name_to_raw(da->K, name, name_len, raw);
	if (rc)
		return rc;
	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	rc = ensure_sidecar(da);
	if (rc)
		goto out_unlock;
	/* Only commit holders change the table: no read lock needed here. */
	s = slot_find(da, raw, id_hash(raw, da->K));
	if (s && (flags & ARFS_PUT_EXCL)) {
		rc = -EEXIST;
		goto out_unlock;
	}
	if (s) {
		slot_attr(da, s, &a);
	} else {
		default_attr(da, 0, &a);
		a.docno = da->next_docno;
	}
	merge_attr(&a, attr);
	start = da->body_end;
	/*
	 * A corrupt row whose extents end past body.bin is left out; growing
	 * body.bin over its end would bring it back with other bytes.
	 */
	if (start + size >= da->bad_end_min) {
		arfs_log(ARFS_LOG_ERR, "%s/body.bin: a corrupt row in header.bin "
			 "ends at offset %" PRIu64 ", past the end (%" PRIu64
			 "); refusing to append over it (compact the array)",
			 da->dir, da->bad_end_min, start);
		rc = -EUCLEAN;
		goto out_unlock;
	}
	rc = copy_in(da, src, ctx, size, start);
	if (!rc && (flags & ARFS_PUT_FSYNC))
		rc = arfs_io_fsync(da->body->fd);
	if (rc)
		goto out_unlock;
	da->body_end = start + size;
	fill_extent(ext, start, size);
	if (s) {
		rc = write_record(da, s->data, &a);
		if (!rc)
			rc = header_write(da, s->data, (size_t)da->K * 4, ext, 24);
	} else {
		rc = append_row(da, raw, ext, &a);
		if (!rc)
			da->next_docno++;
	}
	if (!rc && (flags & ARFS_PUT_FSYNC))
		rc = sync_meta(da);
	if (!rc && out_attr) {
		*out_attr = a;
		out_attr->size = size;
	}
	note_own_write(da);
out_unlock:
	pthread_mutex_unlock(&da->commit);
	return rc;
}

static int mem_src(void *ctx, void *dst, size_t len, uint64_t off)
{
	memcpy(dst, (const char *)ctx + off, len);
	return 0;
}

int arfs_docarray_put_mem(struct arfs_docarray *da, const char *name,
			  size_t name_len, const void *data, size_t size,
			  const struct arfs_docattr *attr, unsigned flags)
{
	return arfs_docarray_put(da, name, name_len, mem_src, (void *)data,
				 size, attr, flags, NULL);
}

/* Look up name for a commit: the slot, or NULL with *rc set. */
static struct arfs_slot *commit_find(struct arfs_docarray *da,
				     const char *name, size_t len,
				     uint8_t *raw, int *rc)
{
	struct arfs_slot *s;

	*rc = name_to_raw(da->K, name, len, raw);
	if (*rc) {
		if (*rc == -EILSEQ || *rc == -ENAMETOOLONG)
			*rc = -ENOENT;
		return NULL;
	}
	s = slot_find(da, raw, id_hash(raw, da->K));
	if (!s)
		*rc = -ENOENT;
	return s;
}

int arfs_docarray_delete(struct arfs_docarray *da, const char *name,
			 size_t name_len)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4];
	struct arfs_slot *s;
	int rc;

	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	s = commit_find(da, name, name_len, raw, &rc);
	if (s)
		rc = undup(da, s);
	if (s && !rc) {
		pthread_rwlock_wrlock(&da->lock);
		rc = tombstone_row_locked(da, s->data);
		if (!rc) {
			da->rowflags[s->data] &= (uint8_t)~ROW_FIRST;
			slot_remove(da, s);
		}
		pthread_rwlock_unlock(&da->lock);
		if (!rc)
			note_own_write(da);
	}
	pthread_mutex_unlock(&da->commit);
	return rc;
}

/* Rename into a free name: rewrite the id of the data row in place. */
static int rename_free(struct arfs_docarray *da, struct arfs_slot *so,
		       const uint8_t *rawnew)
{
	uint32_t d = so->data;
	int rc;

	pthread_rwlock_wrlock(&da->lock);
	rc = arfs_io_pwrite_all(da->hfd, rawnew, (size_t)da->K * 4,
				(off_t)(d * da->rowsize));
	if (!rc) {
		slot_remove(da, so);
		rc = slot_insert(da, id_hash(rawnew, da->K), d);
	}
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

/*
 * Rename over an existing document (both without duplicates). If the old
 * document's row comes after the target's, rewriting its id is the single
 * commit point: DocArray's rule (bytes from the last row of an id) then
 * shows the old bytes under the new name; the target's row is tombstoned
 * after. Otherwise the target's row takes the old extents and attributes
 * (the commit point) and the old row is tombstoned after; a crash in
 * between leaves both names with the same bytes, never a loss.
 */
static int rename_over(struct arfs_docarray *da, struct arfs_slot *so,
		       struct arfs_slot *sn, const uint8_t *rawnew)
{
	uint32_t d = so->data, nd = sn->data;
	size_t idlen = (size_t)da->K * 4;
	struct arfs_docattr a;
	uint8_t ext[24];
	int rc;

	/* Row writes and index changes under one write lock: see above. */
	if (d > nd) {
		pthread_rwlock_wrlock(&da->lock);
		rc = arfs_io_pwrite_all(da->hfd, rawnew, idlen,
					(off_t)(d * da->rowsize));
		if (rc)
			goto out_unlock;
		/* Committed: B now reads A's bytes from row d. */
		slot_remove(da, so);
		sn->data = d;
		rc = tombstone_row_locked(da, nd);
		if (rc) {
			/*
			 * B's old row stays: B keeps its place with A's bytes
			 * (as a reopen shows it); the error is still returned.
			 */
			da->rowflags[d] &= (uint8_t)~ROW_FIRST;
			da->dup_rows++;
		} else {
			da->rowflags[nd] &= (uint8_t)~ROW_FIRST;
			da->rowflags[d] |= ROW_FIRST;
			sn->first = d;
		}
out_unlock:
		pthread_rwlock_unlock(&da->lock);
		return rc;
	}
	slot_attr(da, so, &a);
	memcpy(ext, row_ptr(da, d) + idlen, sizeof(ext));
	rc = write_record(da, nd, &a);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&da->lock);
	rc = arfs_io_pwrite_all(da->hfd, ext, sizeof(ext),
				(off_t)(nd * da->rowsize + idlen));
	if (!rc)
		rc = tombstone_row_locked(da, d);
	if (!rc) {
		da->rowflags[d] &= (uint8_t)~ROW_FIRST;
		slot_remove(da, so);
	}
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

int arfs_docarray_rename(struct arfs_docarray *da, const char *old_name,
			 size_t old_len, const char *new_name, size_t new_len,
			 unsigned flags)
{
	uint8_t rawold[ARFS_MAX_KEY_LENGTH * 4], rawnew[ARFS_MAX_KEY_LENGTH * 4];
	struct arfs_slot *so, *sn;
	int rc;

	rc = name_to_raw(da->K, new_name, new_len, rawnew);
	if (rc)
		return rc;
	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	rc = ensure_sidecar(da);
	so = rc ? NULL : commit_find(da, old_name, old_len, rawold, &rc);
	if (!so)
		goto out_unlock;
	if (!memcmp(rawold, rawnew, (size_t)da->K * 4))
		goto out_unlock;
	sn = slot_find(da, rawnew, id_hash(rawnew, da->K));
	if (sn && (flags & ARFS_PUT_EXCL)) {
		rc = -EEXIST;
		goto out_unlock;
	}
	rc = undup(da, so);
	if (!rc && sn)
		rc = undup(da, sn);
	if (!rc)
		rc = sn ? rename_over(da, so, sn, rawnew)
			: rename_free(da, so, rawnew);
	note_own_write(da);
out_unlock:
	pthread_mutex_unlock(&da->commit);
	return rc;
}

int arfs_docarray_setattr(struct arfs_docarray *da, const char *name,
			  size_t name_len, const struct arfs_docattr *attr,
			  unsigned mask)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4];
	struct arfs_docattr a;
	struct arfs_slot *s;
	int rc;

	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	rc = ensure_sidecar(da);
	s = rc ? NULL : commit_find(da, name, name_len, raw, &rc);
	if (!s)
		goto out_unlock;
	slot_attr(da, s, &a);
	if (mask & ARFS_ATTR_MTIME) {
		a.mtime_sec = attr->mtime_sec;
		a.mtime_nsec = attr->mtime_nsec;
	}
	if (mask & ARFS_ATTR_MODE)
		a.mode = attr->mode & 07777;
	if (mask & ARFS_ATTR_UID)
		a.uid = attr->uid;
	if (mask & ARFS_ATTR_GID)
		a.gid = attr->gid;
	rc = write_record(da, s->data, &a);
	note_own_write(da);
out_unlock:
	pthread_mutex_unlock(&da->commit);
	return rc;
}

int arfs_docarray_sync(struct arfs_docarray *da)
{
	int rc;

	if (da->ro)
		return 0;
	pthread_mutex_lock(&da->commit);
	rc = arfs_io_fsync(da->body->fd);
	if (!rc)
		rc = sync_meta(da);
	pthread_mutex_unlock(&da->commit);
	return rc;
}

/* ---- compaction ---- */

/* A buffered sequential writer for the new files. */
struct appender {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	uint64_t off;
};

static int app_flush(struct appender *w)
{
	int rc = arfs_io_pwrite_all(w->fd, w->buf, w->len, (off_t)w->off);

	w->off += w->len;
	w->len = 0;
	return rc;
}

static int app_put(struct appender *w, const void *src, size_t len)
{
	int rc;

	while (len) {
		size_t n = w->cap - w->len < len ? w->cap - w->len : len;
		memcpy(w->buf + w->len, src, n);
		w->len += n;
		src = (const char *)src + n;
		len -= n;
		if (w->len == w->cap && (rc = app_flush(w)))
			return rc;
	}
	return 0;
}

/* Write one document into the new files. Caller holds commit. */
static int compact_doc(struct arfs_docarray *da, const struct arfs_slot *s,
		       struct appender w[3])
{
	size_t idlen = (size_t)da->K * 4;
	uint8_t ext[24], rec[ARFS_SIDECAR_REC], chunk[65536];
	uint64_t off, len, start = w[0].off + w[0].len, done;
	struct arfs_docattr a;
	ssize_t n;
	int rc;

	row_extent(row_ptr(da, s->data) + idlen, UINT64_MAX, &off, &len);
	for (done = 0; done < len; done += (uint64_t)n) {
		size_t want = len - done < sizeof(chunk) ? (size_t)(len - done)
							 : sizeof(chunk);
		n = arfs_io_pread_all(da->body->fd, chunk, want,
				      (off_t)(off + done));
		if (n < 0)
			return (int)n;
		if ((size_t)n != want)
			return -EUCLEAN;
		rc = app_put(&w[0], chunk, want);
		if (rc)
			return rc;
	}
	fill_extent(ext, start, len);
	slot_attr(da, s, &a);
	fill_record(rec, &a);
	rc = app_put(&w[1], row_ptr(da, s->first), idlen);
	if (!rc)
		rc = app_put(&w[1], ext, sizeof(ext));
	if (!rc)
		rc = app_put(&w[2], rec, sizeof(rec));
	return rc;
}

static int compact_write(struct arfs_docarray *da, struct appender w[3])
{
	uint8_t hdr[ARFS_SIDECAR_HDR];
	uint64_t r;
	int rc;

	fill_sidecar_header(hdr, da->K);
	rc = app_put(&w[2], hdr, sizeof(hdr));
	for (r = 0; !rc && r < da->nrows; r++) {
		const uint8_t *row = row_ptr(da, r);
		struct arfs_slot *s;
		if (!(da->rowflags[r] & ROW_FIRST))
			continue;
		s = slot_find(da, row, id_hash(row, da->K));
		if (s)
			rc = compact_doc(da, s, w);
	}
	for (r = 0; r < 3 && !rc; r++) {
		rc = app_flush(&w[r]);
		if (!rc)
			rc = arfs_io_fsync(w[r].fd);
	}
	return rc;
}

int arfs_docarray_compact(struct arfs_docarray *da)
{
	struct appender w[3];
	struct timespec dir_mtime;
	char tmp[64];
	int i, fd, rc = 0;

	if (da->ro)
		return -EROFS;
	memset(w, 0, sizeof(w));
	pthread_mutex_lock(&da->commit);
	dir_mtime = dir_time_save(da->dirfd);
	for (i = 0; i < 3; i++) {
		snprintf(tmp, sizeof(tmp), "%s.compact", file_names[i]);
		w[i].cap = 1u << 20;
		w[i].buf = malloc(w[i].cap);
		w[i].fd = arfs_io_openat(da->dirfd, tmp,
					 O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (!w[i].buf)
			rc = -ENOMEM;
		if (w[i].fd < 0 && !rc)
			rc = w[i].fd;
	}
	if (!rc)
		rc = compact_write(da, w);
	if (!rc) {
		/* The marker is the commit point of the whole compaction. */
		fd = arfs_io_openat(da->dirfd, COMPACT_MARK,
				    O_WRONLY | O_CREAT | O_TRUNC, 0644);
		rc = fd < 0 ? fd : arfs_io_fsync(fd);
		arfs_io_close(fd);
	}
	if (!rc)
		rc = arfs_io_fsync_dir(da->dirfd);
	for (i = 0; i < 3; i++) {
		arfs_io_close(w[i].fd);
		free(w[i].buf);
	}
	/* Roll forward after the marker, back without it. */
	if (!rc || faccessat(da->dirfd, COMPACT_MARK, F_OK, 0)) {
		bool unused;
		int rc2 = compact_recover(da, &unused);
		if (!rc)
			rc = rc2;
	}
	/*
	 * Once the marker exists the new files are the array, even if a step
	 * above failed: reload (which finishes the renames). If that fails
	 * too, this handle no longer matches the disk: refuse further writes.
	 */
	if (!rc || !faccessat(da->dirfd, COMPACT_MARK, F_OK, 0)) {
		int rc2 = state_reload(da);
		if (rc2) {
			arfs_log(ARFS_LOG_ERR, "%s: compaction committed but the "
				 "array could not be reopened (%s); read-only until "
				 "reopened", da->dir, strerror(-rc2));
			da->ro = true;
		}
		if (!rc)
			rc = rc2;
	}
	dir_time_restore(da->dirfd, dir_mtime);
	pthread_mutex_unlock(&da->commit);
	return rc;
}

/* ---- checking ---- */

static bool id_is_valid(const uint8_t *raw, unsigned K)
{
	size_t n = id_trim(raw, K), i;

	for (i = 0; i < n; i += 4) {
		uint32_t c = get_le32(raw + i);
		if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return false;
	}
	return true;
}

int arfs_docarray_check(const char *dir, unsigned key_length,
			void (*report)(void *ctx, const char *msg), void *ctx)
{
	struct arfs_docarray_opts opts = { .key_length = key_length,
					   .read_only = true };
	struct arfs_docarray *da;
	char msg[512];
	uint64_t r, off, len;
	int rc, problems = 0;

	rc = arfs_docarray_open(dir, &opts, &da);
	if (rc) {
		snprintf(msg, sizeof(msg), "%s: cannot open: %s", dir,
			 strerror(-rc));
		report(ctx, msg);
		return 1;
	}
	for (r = 0; r < da->nrows; r++) {
		const uint8_t *row = row_ptr(da, r);
		const uint8_t *ext = row + (size_t)da->K * 4;
		const char *what = NULL;
		if (row_is_tomb(ext))
			continue;
		if (!row_extent(ext, da->body_end, &off, &len))
			what = "extents outside body.bin or inverted";
		else if (!id_is_valid(row, da->K))
			what = "id holds a value that is not a Unicode scalar";
		if (!what)
			continue;
		snprintf(msg, sizeof(msg), "%s/header.bin: offset %" PRIu64
			 ": row %" PRIu64 ": %s", dir, r * da->rowsize, r, what);
		report(ctx, msg);
		problems++;
	}
	if (da->sfd >= 0 && da->st_s.st_size >= ARFS_SIDECAR_HDR &&
	    ((uint64_t)da->st_s.st_size - ARFS_SIDECAR_HDR) % ARFS_SIDECAR_REC) {
		snprintf(msg, sizeof(msg), "%s/" ARFS_SIDECAR_NAME ": size %lld "
			 "is not the 32-byte header plus whole 32-byte records",
			 dir, (long long)da->st_s.st_size);
		report(ctx, msg);
		problems++;
	}
	arfs_docarray_close(da);
	return problems;
}

bool arfs_docarray_is_array(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/header.bin", dir);
	if (access(path, F_OK))
		return false;
	snprintf(path, sizeof(path), "%s/body.bin", dir);
	return access(path, F_OK) == 0;
}
