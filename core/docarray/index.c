/*
 * docarray/index.c - the id encoding of header rows, the header map and the
 * in-memory index of live ids (hash table of first/data rows).
 * Design, locks and the state: docarray_int.h.
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

/* ---- small helpers ---- */

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
size_t da_id_trim(const uint8_t *raw, unsigned K)
{
	size_t n = (size_t)K * 4;

	while (n >= 4 && get_le32(raw + n - 4) == 0)
		n -= 4;
	return n;
}

uint64_t da_id_hash(const uint8_t *raw, unsigned K)
{
	size_t n = da_id_trim(raw, K), i;
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

/*
 * Decode a row's extents; false when they are not a tombstone and not a
 * valid range inside a body of body_size bytes.
 */
bool da_row_extent(const uint8_t *ext, uint64_t body_size, uint64_t *off,
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

void da_fill_extent(uint8_t ext[24], uint64_t start, uint64_t len)
{
	uint64_t p = start / ARFS_PAGE * ARFS_PAGE;

	put_le64(ext, p);
	put_le64(ext + 8, start - p);
	put_le64(ext + 16, start - p + len);
}

void da_fill_tomb(uint8_t ext[24])
{
	memset(ext, 0xFF, 24);
}

/* Encode a name as a padded id field raw[4K]: 0 or -errno. */
int da_name_to_raw(unsigned K, const char *name, size_t len, uint8_t *raw)
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

ssize_t da_raw_to_name(unsigned K, const uint8_t *raw, char *out,
		       size_t cap)
{
	uint32_t cps[ARFS_MAX_KEY_LENGTH];
	size_t n = da_id_trim(raw, K) / 4, i;

	for (i = 0; i < n; i++)
		cps[i] = get_le32(raw + 4 * i);
	return arfs_idname_from_cps(cps, n, out, cap);
}
/* ---- header and sidecar maps ---- */

/*
 * (Re)map fd read-only with room for `need` bytes. Pages past the end of the
 * file are never touched: only committed rows and records are read.
 */
int da_remap(int fd, const uint8_t **map, size_t *cap, uint64_t need)
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

int da_ensure_rows(struct arfs_docarray *da, uint64_t rows)
{
	uint8_t *fl;

	if (rows * da->rowsize > da->hmap_cap) {
		int rc = da_remap(da->hfd, &da->hmap, &da->hmap_cap,
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

struct arfs_slot *da_slot_find(struct arfs_docarray *da, const uint8_t *raw,
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
			slot_put(t, cap, da_id_hash(row_ptr(da, old[i].first), da->K),
				 old[i]);
	free(old);
	da->table = t;
	da->tcap = cap;
	da->tused = da->live;
	return 0;
}

int da_slot_insert(struct arfs_docarray *da, uint64_t h, uint32_t row)
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

void da_slot_remove(struct arfs_docarray *da, struct arfs_slot *s)
{
	s->first = SLOT_TOMB;
	s->data = SLOT_TOMB;
	da->live--;
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
	if (!da_row_extent(row + (size_t)da->K * 4, body_size, &off, &len)) {
		da->rowflags[r] |= ROW_BAD;
		da->bad_rows++;
		log_bad_row(da, r);
		/* Well formed but past the end: appends must not reach it. */
		if (da_row_extent(row + (size_t)da->K * 4, UINT64_MAX, &off, &len) &&
		    off + len < da->bad_end_min)
			da->bad_end_min = off + len;
		return 0;
	}
	if (off + len < da->end_seen)
		da->unsorted = true;
	else
		da->end_seen = off + len;
	h = da_id_hash(row, da->K);
	s = da_slot_find(da, row, h);
	if (s) {
		s->data = (uint32_t)r;
		da->dup_rows++;
		return 0;
	}
	da->rowflags[r] |= ROW_FIRST;
	return da_slot_insert(da, h, (uint32_t)r);
}

int da_index_build(struct arfs_docarray *da, uint64_t body_size)
{
	size_t cap = 16;
	uint64_t r, docno;
	int rc;

	while (cap < da->nrows * 2)
		cap *= 2;
	rc = table_resize(da, cap);
	da->bad_end_min = UINT64_MAX;
	da->unsorted = false;
	da->end_seen = 0;
	for (r = 0; !rc && r < da->nrows; r++)
		rc = index_row(da, r, body_size);
	da->live_bytes = 0;
	for (r = 0; !rc && r < da->tcap; r++) {
		uint64_t off, len;
		const struct arfs_slot *s = &da->table[r];
		if (s->first < SLOT_TOMB &&
		    da_row_extent(row_ptr(da, s->data) + (size_t)da->K * 4,
				  UINT64_MAX, &off, &len))
			da->live_bytes += len;
	}
	if (da->bad_rows > 5)
		arfs_log(ARFS_LOG_WARNING, "%s/header.bin: %" PRIu64
			 " corrupt rows left out", da->dir, da->bad_rows);
	da->next_docno = 1;
	for (r = 0; r < da->srecs; r++) {
		docno = get_le64(da->smap + ARFS_SIDECAR_HDR + r * da->srec);
		if (docno < ARFS_DEFAULT_DOCNO_BASE && docno >= da->next_docno)
			da->next_docno = docno + 1;
	}
	return rc;
}
