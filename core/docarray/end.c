/*
 * docarray/end.c - the end rule (docs/FORMAT.md 1.5): the last header row
 * ends at or after the end of every live document's bytes, so that
 * DocArray, which appends at `p + e` of the last row, opens the array and
 * never appends over a live document. Deleting the document of the last
 * row drops that row and any tombstones before it by truncating header.bin
 * (and then the sidecar) instead of leaving a tombstone last.
 * Design, locks and the state: docarray_int.h.
 */
#include "docarray.h"
#include "docarray_int.h"
#include "io.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* End (p + e) of a row that is not a tombstone, in body.bin. */
static uint64_t row_end(const struct arfs_docarray *da, uint64_t row)
{
	const uint8_t *ext = row_ptr(da, row) + (size_t)da->K * 4;
	int64_t p = get_i64(ext), e = get_i64(ext + 16);

	return p < 0 || e < 0 ? 0 : (uint64_t)p + (uint64_t)e;
}

/* The live document other than `except` whose bytes end last, or NULL. */
static struct arfs_slot *last_ending(struct arfs_docarray *da,
				     const struct arfs_slot *except,
				     uint64_t *end)
{
	struct arfs_slot *best = NULL;
	size_t i;

	*end = 0;
	for (i = 0; i < da->tcap; i++) {
		struct arfs_slot *s = &da->table[i];
		uint64_t e;
		if (s->first >= SLOT_TOMB || s == except)
			continue;
		e = row_end(da, s->data);
		if (!best || e > *end) {
			best = s;
			*end = e;
		}
	}
	return best;
}

/* Drop rows [keep, nrows) of header.bin, then their sidecar records. */
static int drop_tail(struct arfs_docarray *da, uint64_t keep)
{
	int rc;

	pthread_rwlock_wrlock(&da->lock);
	rc = arfs_io_ftruncate(da->hfd, (off_t)(keep * da->rowsize));
	if (!rc)
		da->nrows = keep;
	pthread_rwlock_unlock(&da->lock);
	if (rc || da->sfd < 0 || da->srecs <= keep)
		return rc;
	/*
	 * Records past the last row are ignored and overwritten by the next
	 * row appended: a crash here, or a failure, is harmless (logged).
	 */
	pthread_rwlock_wrlock(&da->lock);
	da->srecs = keep;
	pthread_rwlock_unlock(&da->lock);
	rc = arfs_io_ftruncate(da->sfd, (off_t)(ARFS_SIDECAR_HDR +
						keep * ARFS_SIDECAR_REC));
	if (rc)
		arfs_log(ARFS_LOG_WARNING, "%s/" ARFS_SIDECAR_NAME ": cannot "
			 "truncate to %" PRIu64 " records (%s); the records past "
			 "the last row are ignored", da->dir, keep, strerror(-rc));
	return 0;
}

int da_delete_slot(struct arfs_docarray *da, struct arfs_slot *s)
{
	uint64_t d = s->data, keep, off = 0, len = 0, maxend;
	const uint8_t *ext = row_ptr(da, d) + (size_t)da->K * 4;
	struct arfs_slot *x;
	int rc;

	da_row_extent(ext, UINT64_MAX, &off, &len);
	/* Only tombstones after d (left by others): d counts as last. */
	for (keep = d + 1; keep < da->nrows; keep++)
		if (!row_is_tomb(row_ptr(da, keep) + (size_t)da->K * 4))
			break;
	if (keep == da->nrows) {
		for (keep = d; keep > 0; keep--)
			if (!row_is_tomb(row_ptr(da, keep - 1) +
					 (size_t)da->K * 4))
				break;
		x = NULL;
		/*
		 * Rows whose ends increase (all this engine writes) leave the
		 * rule true for any last row; otherwise (an array updated by
		 * DocArray) check the row that would become last.
		 */
		if (da->unsorted && keep > 0) {
			x = last_ending(da, s, &maxend);
			if (x && row_end(da, keep - 1) >= maxend)
				x = NULL;
		}
		if (!x) {
			/* The truncation is the commit point of the delete. */
			rc = drop_tail(da, keep);
			if (rc && da->nrows != keep)
				return rc;
			pthread_rwlock_wrlock(&da->lock);
			da->rowflags[d] &= (uint8_t)~ROW_FIRST;
			da_slot_remove(da, s);
			pthread_rwlock_unlock(&da->lock);
			da->live_bytes -= len;
			return rc;
		}
		/*
		 * The new last row would end before the bytes of x: first
		 * append a copy of x's row (a new version with the same bytes),
		 * so the row of s is no longer last, then tombstone it.
		 */
		{
			uint8_t xext[24];
			struct arfs_docattr a;
			rc = da_ensure_sidecar(da);
			if (rc)
				return rc;
			memcpy(xext, row_ptr(da, x->data) + (size_t)da->K * 4, 24);
			da_slot_attr(da, x, &a);
			rc = da_commit_version(da, x, row_ptr(da, x->first), xext,
					       &a);
			if (rc)
				return rc;
		}
	}
	pthread_rwlock_wrlock(&da->lock);
	rc = da_tombstone_row_locked(da, d);
	if (!rc) {
		da->rowflags[d] &= (uint8_t)~ROW_FIRST;
		da_slot_remove(da, s);
		da->live_bytes -= len;
	}
	pthread_rwlock_unlock(&da->lock);
	return rc;
}
