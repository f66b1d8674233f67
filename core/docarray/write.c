/*
 * docarray/write.c - commits that write: put (body bytes, then record, then
 * header row), setattr and sync, and the row writes other commits share.
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

/* ---- committing ---- */

/* Remember the files as we left them, so reload sees no foreign change. */
void da_note_own_write(struct arfs_docarray *da)
{
	/* No stat bookkeeping: a writable handle never reloads (it holds
	 * the lock, so nobody else changes the files). */
	atomic_fetch_add(&da->gen, 1);
}

int da_ensure_sidecar(struct arfs_docarray *da)
{
	return da->sfd >= 0 ? 0 : da_sidecar_create(da);
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

	da_fill_tomb(ext);
	return header_write(da, row, (size_t)da->K * 4, ext, sizeof(ext));
}

/*
 * Tombstone a row; caller holds commit and lock (write), so that the row
 * and the index change together: a reader must never find a slot whose
 * data row is already a tombstone (it would see an empty document).
 */
int da_tombstone_row_locked(struct arfs_docarray *da, uint64_t row)
{
	uint8_t ext[24];

	da_fill_tomb(ext);
	return arfs_io_pwrite_all(da->hfd, ext, sizeof(ext),
				  (off_t)(row * da->rowsize + (size_t)da->K * 4));
}

/*
 * Leave the id of slot s with one live row: tombstone the shadowed rows
 * before its data row (oldest first; the visible bytes never change) and
 * move its place in document order to the data row.
 */
int da_undup(struct arfs_docarray *da, struct arfs_slot *s)
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

/* True when the 4096-byte block at b is all zero. */
static bool block_is_zero(const uint8_t *b, size_t n)
{
	static const uint8_t zero[ARFS_PAGE];

	return memcmp(b, zero, n) == 0;
}

/*
 * Write src bytes [from, from + n) at body offset dst. Whole 4096-byte
 * blocks of body.bin past its current end that would receive only zeros are
 * not written: the file is extended over them at the end, leaving a hole
 * (a write past the end of a document stays sparse on disk).
 */
static int copy_in(struct arfs_docarray *da, arfs_src_fn src, void *ctx,
		   uint64_t from, uint64_t n, uint64_t dst)
{
	size_t chunk = n < (1u << 20) ? (size_t)n : (1u << 20);
	uint64_t done, eof, wrote_end = 0;
	struct stat st;
	uint8_t *buf;
	int rc = 0;

	if (n == 0)
		return 0;
	if (fstat(da->body->fd, &st))
		return -errno;
	eof = (uint64_t)st.st_size;
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	for (done = 0; !rc && done < n; done += chunk) {
		size_t len = n - done < chunk ? (size_t)(n - done) : chunk;
		uint64_t at = dst + done;
		size_t i = 0;
		rc = src(ctx, buf, len, from + done);
		while (!rc && i < len) {
			/* Up to the next block boundary of body.bin. */
			size_t k = ARFS_PAGE - (size_t)((at + i) % ARFS_PAGE);
			size_t j = i;
			if (k > len - i)
				k = len - i;
			/* Skip whole zero blocks past the end of the file. */
			while (i < len && k == ARFS_PAGE && at + i >= eof &&
			       block_is_zero(buf + i, k)) {
				i += k;
				k = len - i < ARFS_PAGE ? len - i : ARFS_PAGE;
			}
			if (i > j)
				continue;
			/* Write a run of blocks up to the next skippable one. */
			while (i < len) {
				i += k;
				k = len - i < ARFS_PAGE ? len - i : ARFS_PAGE;
				if (k == ARFS_PAGE && at + i >= eof &&
				    block_is_zero(buf + i, k))
					break;
			}
			rc = arfs_io_pwrite_all(da->body->fd, buf + j, i - j,
						(off_t)(at + j));
			wrote_end = at + i;
		}
	}
	free(buf);
	if (!rc && wrote_end < dst + n && dst + n > eof) {
		if (fstat(da->body->fd, &st))
			rc = -errno;
		else if ((uint64_t)st.st_size < dst + n)
			rc = arfs_io_ftruncate(da->body->fd, (off_t)(dst + n));
	}
	return rc;
}

/*
 * The attributes a put records: a holds the current ones (or defaults for
 * a new document, fresh); see arfs_docarray_put() for what `in` changes.
 */
static void merge_attr(struct arfs_docattr *a, const struct arfs_docattr *in,
		       unsigned flags, bool fresh)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	a->ctime_sec = now.tv_sec;
	a->ctime_nsec = (uint32_t)now.tv_nsec;
	if (!in) {
		a->mtime_sec = now.tv_sec;
		a->mtime_nsec = (uint32_t)now.tv_nsec;
	} else if (flags & ARFS_PUT_MTIME) {
		a->mtime_sec = a->ctime_sec = in->mtime_sec;
		a->mtime_nsec = a->ctime_nsec = in->mtime_nsec;
	} else {
		a->mtime_sec = in->mtime_sec;
		a->mtime_nsec = in->mtime_nsec;
		a->atime_sec = in->atime_sec;
		a->atime_nsec = in->atime_nsec;
		a->mode = in->mode & 07777;
		a->uid = in->uid;
		a->gid = in->gid;
		return;
	}
	if (fresh) {
		a->atime_sec = a->mtime_sec;
		a->atime_nsec = a->mtime_nsec;
	}
}

/*
 * Append a new row for raw with extents ext and record a. Without dup, a
 * new document (a new slot); with dup, a newer version of the document of
 * slot dup: the row becomes its data row (its place in document order
 * stays at its first row, DocArray's rule for a duplicate id). Caller
 * holds commit.
 */
static int append_row(struct arfs_docarray *da, const uint8_t *raw,
		      const uint8_t ext[24], const struct arfs_docattr *a,
		      struct arfs_slot *dup)
{
	uint8_t row[ARFS_MAX_KEY_LENGTH * 4 + 24];
	uint64_t r = da->nrows;
	size_t idlen = (size_t)da->K * 4;
	int rc;

	if (r >= ARFS_MAX_ROWS)
		return -EFBIG;
	rc = da_write_record(da, r, a);
	if (rc)
		return rc;
	memcpy(row, raw, idlen);
	memcpy(row + idlen, ext, 24);
	pthread_rwlock_wrlock(&da->lock);
	rc = da_ensure_rows(da, r + 1);
	if (!rc)
		rc = arfs_io_pwrite_all(da->hfd, row, da->rowsize,
					(off_t)(r * da->rowsize));
	if (!rc) {
		da->nrows = r + 1;
		if (dup) {
			dup->data = (uint32_t)r;
			da->dup_rows++;
		} else {
			da->rowflags[r] = ROW_FIRST;
			rc = da_slot_insert(da, da_id_hash(raw, da->K),
					    (uint32_t)r);
		}
	}
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

/*
 * Commit new extents ext (record a) for the existing document of slot s,
 * keeping the end rule (docs/FORMAT.md 1.5): when its data row is the last
 * row, the row is rewritten in place; otherwise a new row with the same id
 * is appended (the commit point), and the previous data row, if it is not
 * the first row, is tombstoned after (so an id never has more than two
 * live rows).
 */
int da_commit_version(struct arfs_docarray *da, struct arfs_slot *s,
		      const uint8_t *raw, const uint8_t ext[24],
		      const struct arfs_docattr *a)
{
	uint32_t old = s->data;
	int rc;

	if ((uint64_t)old + 1 == da->nrows) {
		rc = da_write_record(da, old, a);
		if (!rc)
			rc = header_write(da, old, (size_t)da->K * 4, ext, 24);
		return rc;
	}
	rc = append_row(da, raw, ext, a, s);
	if (rc || old == s->first)
		return rc;
	rc = tombstone_row(da, old);
	if (!rc)
		da->dup_rows--;
	return rc;
}

static int sync_meta(struct arfs_docarray *da)
{
	int rc = arfs_io_fsync(da->hfd);

	if (!rc && da->sfd >= 0)
		rc = arfs_io_fsync(da->sfd);
	return rc;
}

static int body_src(void *ctx, void *dst, size_t len, uint64_t off)
{
	struct arfs_docarray *da = ctx;
	ssize_t n = arfs_io_pread_all(da->body->fd, dst, len,
				      (off_t)(da->copy_from + off));

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EUCLEAN;
}

/*
 * Copy body bytes [off, off + len) to the end of body.bin: *start is where
 * they landed. Caller holds commit.
 */
int da_copy_body(struct arfs_docarray *da, uint64_t off, uint64_t len,
		 uint64_t *start)
{
	int rc;

	*start = da->body_end;
	if (*start + len >= da->bad_end_min)
		return -EUCLEAN;
	da->copy_from = off;
	rc = copy_in(da, body_src, da, 0, len, *start);
	if (!rc)
		da->body_end = *start + len;
	return rc;
}

/* Dead bytes: body bytes no live row shows, plus dead header rows. */
static uint64_t dead_bytes(struct arfs_docarray *da)
{
	uint64_t rows = da->nrows - da->live;

	return da->body_end - (da->live_bytes < da->body_end ? da->live_bytes
							     : da->body_end) +
	       rows * da->rowsize;
}

/* Dead space past the thresholds. Caller holds commit. */
static bool compact_due(struct arfs_docarray *da)
{
	uint64_t dead;

	if (da->ro || da->ac_ratio <= 0)
		return false;
	dead = dead_bytes(da);
	return dead > da->ac_min &&
	       (double)dead > da->ac_ratio * (double)(da->body_end +
						      da->nrows * da->rowsize);
}

/* Compact when dead space passes the thresholds. Caller holds commit. */
int da_maybe_autocompact(struct arfs_docarray *da)
{
	int rc;

	if (!compact_due(da))
		return 0;
	arfs_log(ARFS_LOG_INFO, "%s: %" PRIu64 " dead bytes of %" PRIu64
		 "; compacting", da->dir, dead_bytes(da), da->body_end);
	rc = da_compact_locked(da);
	if (rc)
		arfs_log(ARFS_LOG_WARNING, "%s: automatic compaction failed: %s",
			 da->dir, strerror(-rc));
	return rc;
}

bool arfs_docarray_compact_due(struct arfs_docarray *da)
{
	bool due;

	if (da->ro)
		return false;
	pthread_mutex_lock(&da->commit);
	due = compact_due(da);
	pthread_mutex_unlock(&da->commit);
	return due;
}

int arfs_docarray_autocompact(struct arfs_docarray *da)
{
	int rc;

	if (da->ro)
		return 0;
	pthread_mutex_lock(&da->commit);
	rc = da_maybe_autocompact(da);
	pthread_mutex_unlock(&da->commit);
	return rc;
}

/*
 * True when the last row `row` may end at `end` instead (a document cut
 * short in place): the rows before it must end at or before that, so that
 * the end rule holds (1.5 rule 8). Row ends increase in an array arrayfs
 * wrote: the nearest live row before it has the largest end.
 */
static bool shrink_keeps_order(struct arfs_docarray *da, uint64_t row,
			       uint64_t end)
{
	size_t idlen = (size_t)da->K * 4;
	uint64_t r, off, len;

	if (row + 1 != da->nrows || da->unsorted)
		return false;
	for (r = row; r > 0; r--) {
		const uint8_t *ext = row_ptr(da, r - 1) + idlen;
		if (row_is_tomb(ext))
			continue;
		return da_row_extent(ext, UINT64_MAX, &off, &len) &&
		       off + len <= end;
	}
	return true;
}

int arfs_docarray_put_keep(struct arfs_docarray *da, const char *name,
			   size_t name_len, arfs_src_fn src, void *ctx,
			   uint64_t size, const struct arfs_docattr *attr,
			   unsigned flags, const struct arfs_put_keep *keep,
			   struct arfs_docattr *out_attr)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4], ext[24];
	uint64_t start, from = 0, coff = 0, clen = 0, new_end;
	struct arfs_docattr a;
	struct arfs_slot *s;
	bool in_place = false;
	int rc;

	rc = da_name_to_raw(da->K, name, name_len, raw);
	if (rc)
		return rc;
	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	rc = da_ensure_sidecar(da);
	if (rc)
		goto out_unlock;
	/* Only commit holders change the table: no read lock needed here. */
	s = da_slot_find(da, raw, da_id_hash(raw, da->K));
	if (s && (flags & ARFS_PUT_EXCL)) {
		rc = -EEXIST;
		goto out_unlock;
	}
	if (s) {
		da_slot_attr(da, s, &a);
		da_row_extent(row_ptr(da, s->data) + (size_t)da->K * 4,
			      UINT64_MAX, &coff, &clen);
		/*
		 * An append to the document whose bytes end body.bin and
		 * whose row is the last row: only the new bytes are written,
		 * after the old ones, and the row grows in place.
		 */
		in_place = keep && keep->docno == a.docno &&
			   keep->keep >= clen && size >= clen &&
			   coff + clen == da->body_end &&
			   (uint64_t)s->data + 1 == da->nrows;
		/* A cut of the last row's document: its row shrinks. */
		if (keep && keep->docno == a.docno && keep->keep >= size &&
		    size < clen && shrink_keeps_order(da, s->data, coff + size))
			in_place = true;
	} else {
		da_default_attr(da, 0, &a);
		a.docno = da->next_docno;
	}
	merge_attr(&a, attr, flags, s == NULL);
	start = in_place ? coff : da->body_end;
	from = in_place ? (size < clen ? size : clen) : 0;
	new_end = start + size;
	/*
	 * A corrupt row whose extents end past body.bin is left out; growing
	 * body.bin over its end would bring it back with other bytes.
	 */
	if (new_end >= da->bad_end_min) {
		arfs_log(ARFS_LOG_ERR, "%s/body.bin: a corrupt row in header.bin "
			 "ends at offset %" PRIu64 ", past the end (%" PRIu64
			 "); refusing to append over it (compact the array)",
			 da->dir, da->bad_end_min, da->body_end);
		rc = -EUCLEAN;
		goto out_unlock;
	}
	rc = copy_in(da, src, ctx, from, size - from, start + from);
	if (!rc && (flags & ARFS_PUT_FSYNC))
		rc = arfs_io_fsync(da->body->fd);
	if (rc)
		goto out_unlock;
	if (new_end > da->body_end)
		da->body_end = new_end;
	da_fill_extent(ext, start, size);
	if (s) {
		rc = da_commit_version(da, s, raw, ext, &a);
		if (!rc)
			da->live_bytes = da->live_bytes - clen + size;
	} else {
		rc = append_row(da, raw, ext, &a, NULL);
		if (!rc) {
			da->next_docno++;
			da->live_bytes += size;
		}
	}
	if (!rc && (flags & ARFS_PUT_FSYNC))
		rc = sync_meta(da);
	if (!rc && out_attr) {
		*out_attr = a;
		out_attr->size = size;
	}
	da_note_own_write(da);
	if (!rc && !(flags & ARFS_PUT_NO_AUTOCOMPACT))
		da_maybe_autocompact(da);
out_unlock:
	pthread_mutex_unlock(&da->commit);
	return rc;
}

int arfs_docarray_put(struct arfs_docarray *da, const char *name,
		      size_t name_len, arfs_src_fn src, void *ctx,
		      uint64_t size, const struct arfs_docattr *attr,
		      unsigned flags, struct arfs_docattr *out_attr)
{
	return arfs_docarray_put_keep(da, name, name_len, src, ctx, size, attr,
				      flags, NULL, out_attr);
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
struct arfs_slot *da_commit_find(struct arfs_docarray *da,
				 const char *name, size_t len,
				 uint8_t *raw, int *rc)
{
	struct arfs_slot *s;

	*rc = da_name_to_raw(da->K, name, len, raw);
	if (*rc) {
		if (*rc == -EILSEQ || *rc == -ENAMETOOLONG)
			*rc = -ENOENT;
		return NULL;
	}
	s = da_slot_find(da, raw, da_id_hash(raw, da->K));
	if (!s)
		*rc = -ENOENT;
	return s;
}
int arfs_docarray_setattr(struct arfs_docarray *da, const char *name,
			  size_t name_len, const struct arfs_docattr *attr,
			  unsigned mask)
{
	uint8_t raw[ARFS_MAX_KEY_LENGTH * 4];
	struct arfs_docattr a;
	struct arfs_slot *s;
	struct timespec now;
	int rc;

	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	rc = da_ensure_sidecar(da);
	s = rc ? NULL : da_commit_find(da, name, name_len, raw, &rc);
	if (!s)
		goto out_unlock;
	da_slot_attr(da, s, &a);
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
	if (mask & ARFS_ATTR_ATIME) {
		a.atime_sec = attr->atime_sec;
		a.atime_nsec = attr->atime_nsec;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	a.ctime_sec = now.tv_sec;
	a.ctime_nsec = (uint32_t)now.tv_nsec;
	rc = da_write_record(da, s->data, &a);
	da_note_own_write(da);
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
