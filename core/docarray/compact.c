/*
 * docarray/compact.c - compaction: rewrite the live documents into *.compact
 * files, commit with a marker file, rename into place; recovery of an
 * interrupted one.
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

/*
 * Finish an interrupted compaction. The marker file is written after the
 * new files are complete and durable: with it, every "<file>.compact" left
 * is renamed into place (roll forward); without it, they are removed (roll
 * back). A read-only open does not change anything and reads the .compact
 * files where present. *use_compact tells which.
 */
int da_compact_recover(struct arfs_docarray *da, bool *use_compact,
		       bool quiet)
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
	if (!rc && !quiet)
		arfs_log(ARFS_LOG_INFO, "%s: finished an interrupted compaction",
			 da->dir);
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

	da_row_extent(row_ptr(da, s->data) + idlen, UINT64_MAX, &off, &len);
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
	da_fill_extent(ext, start, len);
	da_slot_attr(da, s, &a);
	da_fill_record(rec, &a);
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

	da_fill_sidecar_header(hdr, da->K);
	rc = app_put(&w[2], hdr, sizeof(hdr));
	for (r = 0; !rc && r < da->nrows; r++) {
		const uint8_t *row = row_ptr(da, r);
		struct arfs_slot *s;
		if (!(da->rowflags[r] & ROW_FIRST))
			continue;
		s = da_slot_find(da, row, da_id_hash(row, da->K));
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
	int rc;

	if (da->ro)
		return -EROFS;
	pthread_mutex_lock(&da->commit);
	rc = da_compact_locked(da);
	pthread_mutex_unlock(&da->commit);
	return rc;
}

/*
 * Compact; caller holds commit. Readers go on reading the old files and
 * wait only for the swap of the loaded state.
 */
int da_compact_locked(struct arfs_docarray *da)
{
	struct appender w[3];
	struct timespec dir_mtime;
	char tmp[64];
	int i, fd, rc = 0;

	memset(w, 0, sizeof(w));
	dir_mtime = da_dir_time_save(da->dirfd);
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
		int rc2 = da_compact_recover(da, &unused, true);
		if (!rc)
			rc = rc2;
	}
	/*
	 * Once the marker exists the new files are the array, even if a step
	 * above failed: reload (which finishes the renames). If that fails
	 * too, this handle no longer matches the disk: refuse further writes.
	 */
	if (!rc || !faccessat(da->dirfd, COMPACT_MARK, F_OK, 0)) {
		int rc2 = da_state_reload(da);
		if (rc2) {
			arfs_log(ARFS_LOG_ERR, "%s: compaction committed but the "
				 "array could not be reopened (%s); read-only until "
				 "reopened", da->dir, strerror(-rc2));
			da->ro = true;
		}
		if (!rc)
			rc = rc2;
	}
	da_dir_time_restore(da->dirfd, dir_mtime);
	return rc;
}
