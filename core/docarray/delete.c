/*
 * docarray/delete.c - delete and rename: commits that only rewrite header
 * rows.
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

int arfs_docarray_delete(struct arfs_docarray *da, const char *name,
			 size_t name_len)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4];
	struct arfs_slot *s;
	int rc;

	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	s = da_commit_find(da, name, name_len, raw, &rc);
	if (s)
		rc = da_undup(da, s);
	if (s && !rc) {
		rc = da_delete_slot(da, s);
		da_note_own_write(da);
		if (!rc)
			da_maybe_autocompact(da);
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
		da_slot_remove(da, so);
		rc = da_slot_insert(da, da_id_hash(rawnew, da->K), d);
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
	uint64_t off, len, noff, nlen, start;
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
		da_row_extent(row_ptr(da, nd) + idlen, UINT64_MAX, &noff, &nlen);
		da->live_bytes -= nlen;
		da_slot_remove(da, so);
		sn->data = d;
		rc = da_tombstone_row_locked(da, nd);
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
	/*
	 * A's row comes first: its bytes are copied to the end of body.bin
	 * and committed as a new version of B (a row appended at the end, or
	 * B's row rewritten if it is the last), so the last row still ends
	 * after every live byte; then A's row is tombstoned.
	 */
	da_slot_attr(da, so, &a);
	da_row_extent(row_ptr(da, d) + idlen, UINT64_MAX, &off, &len);
	da_row_extent(row_ptr(da, nd) + idlen, UINT64_MAX, &noff, &nlen);
	rc = da_copy_body(da, off, len, &start);
	if (rc)
		return rc;
	da_fill_extent(ext, start, len);
	rc = da_commit_version(da, sn, rawnew, ext, &a);
	if (rc)
		return rc;
	da->live_bytes -= nlen;
	pthread_rwlock_wrlock(&da->lock);
	rc = da_tombstone_row_locked(da, d);
	if (!rc) {
		da->rowflags[d] &= (uint8_t)~ROW_FIRST;
		da_slot_remove(da, so);
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

	rc = da_name_to_raw(da->K, new_name, new_len, rawnew);
	if (rc)
		return rc;
	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	rc = da_ensure_sidecar(da);
	so = rc ? NULL : da_commit_find(da, old_name, old_len, rawold, &rc);
	if (!so)
		goto out_unlock;
	if (!memcmp(rawold, rawnew, (size_t)da->K * 4))
		goto out_unlock;
	sn = da_slot_find(da, rawnew, da_id_hash(rawnew, da->K));
	if (sn && (flags & ARFS_PUT_EXCL)) {
		rc = -EEXIST;
		goto out_unlock;
	}
	rc = da_undup(da, so);
	if (!rc && sn)
		rc = da_undup(da, sn);
	if (!rc)
		rc = sn ? rename_over(da, so, sn, rawnew)
			: rename_free(da, so, rawnew);
	da_note_own_write(da);
	if (!rc)
		da_maybe_autocompact(da);
out_unlock:
	pthread_mutex_unlock(&da->commit);
	return rc;
}
