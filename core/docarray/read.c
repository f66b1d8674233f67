/*
 * docarray/read.c - reading: counts, info, lookup and listing in document
 * order.
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
		    da_row_extent(row_ptr(da, s->data) + (size_t)da->K * 4,
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

	da_row_extent(ext, UINT64_MAX, &ref->off, &ref->len);
	ref->row = s->data;
	ref->body = da_body_get(da->body);
	da_slot_attr(da, s, &ref->attr);
	ref->attr.size = ref->len;
}

int arfs_docarray_lookup(struct arfs_docarray *da, const char *name,
			 size_t name_len, struct arfs_docref *ref)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4];
	struct arfs_slot *s;
	int rc;

	memset(ref, 0, sizeof(*ref));
	rc = da_name_to_raw(da->K, name, name_len, raw);
	if (rc)
		return rc == -ENAMETOOLONG || rc == -EILSEQ ? -ENOENT : rc;
	pthread_rwlock_rdlock(&da->lock);
	s = da_slot_find(da, raw, da_id_hash(raw, da->K));
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
		if (da_raw_to_name(da->K, row, name, cap) < 0) {
			arfs_log(ARFS_LOG_WARNING, "%s/header.bin: row %" PRIu64
				 ": id too long for a file name; not listed",
				 da->dir, r);
			continue;
		}
		h = da_id_hash(row, da->K);
		s = da_slot_find(da, row, h);
		if (!s)
			continue;
		da_slot_attr(da, s, attr);
		da_row_extent(row_ptr(da, s->data) + (size_t)da->K * 4, UINT64_MAX,
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
