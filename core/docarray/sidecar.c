/*
 * docarray/sidecar.c - the sidecar (arrayfs.meta): per-row attribute
 * records, its creation for arrays written by others, and its header.
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

/* ---- sidecar records ---- */

void da_default_attr(const struct arfs_docarray *da, uint64_t first,
		     struct arfs_docattr *a)
{
	a->docno = ARFS_DEFAULT_DOCNO_BASE + first;
	a->mtime_sec = da->def_mtime.tv_sec;
	a->mtime_nsec = (uint32_t)da->def_mtime.tv_nsec;
	a->mode = 0644;
	a->uid = da->def_uid;
	a->gid = da->def_gid;
	a->atime_sec = a->ctime_sec = a->mtime_sec;
	a->atime_nsec = a->ctime_nsec = a->mtime_nsec;
}

/* A record of da's sidecar version into *a; false for "no record". */
static bool parse_record(const uint8_t *rec, unsigned srec,
			 struct arfs_docattr *a)
{
	if (get_le64(rec) == 0)
		return false;
	a->docno = get_le64(rec);
	a->mtime_sec = get_i64(rec + 8);
	a->mtime_nsec = get_le32(rec + 16);
	a->mode = get_le32(rec + 20) & 07777;
	a->uid = get_le32(rec + 24);
	a->gid = get_le32(rec + 28);
	a->atime_sec = a->ctime_sec = a->mtime_sec;
	a->atime_nsec = a->ctime_nsec = a->mtime_nsec;
	if (srec < ARFS_SIDECAR_REC)
		return true; /* version 1: no atime, no ctime */
	a->atime_sec = get_i64(rec + 32);
	a->atime_nsec = get_le32(rec + 40);
	a->ctime_nsec = get_le32(rec + 44);
	a->ctime_sec = get_i64(rec + 48);
	return true;
}

/* Attributes of the document whose slot is s (size not set). */
void da_slot_attr(const struct arfs_docarray *da, const struct arfs_slot *s,
		  struct arfs_docattr *a)
{
	const uint8_t *rec;

	da_default_attr(da, s->first, a);
	if (s->data >= da->srecs)
		return;
	rec = da->smap + ARFS_SIDECAR_HDR + (uint64_t)s->data * da->srec;
	parse_record(rec, da->srec, a);
}

void da_fill_record(uint8_t rec[ARFS_SIDECAR_REC],
		    const struct arfs_docattr *a)
{
	put_le64(rec, a->docno);
	put_le64(rec + 8, (uint64_t)a->mtime_sec);
	put_le32(rec + 16, a->mtime_nsec);
	put_le32(rec + 20, a->mode & 07777);
	put_le32(rec + 24, a->uid);
	put_le32(rec + 28, a->gid);
	put_le64(rec + 32, (uint64_t)a->atime_sec);
	put_le32(rec + 40, a->atime_nsec);
	put_le32(rec + 44, a->ctime_nsec);
	put_le64(rec + 48, (uint64_t)a->ctime_sec);
	memset(rec + 56, 0, 8);
}

void da_fill_sidecar_header(uint8_t hdr[ARFS_SIDECAR_HDR], unsigned K)
{
	memset(hdr, 0, ARFS_SIDECAR_HDR);
	memcpy(hdr, ARFS_SIDECAR_MAGIC, 8);
	put_le32(hdr + 8, ARFS_SIDECAR_VERSION);
	put_le32(hdr + 12, K);
}

/* Write a record; caller holds commit. Visible to readers at once. */
int da_write_record(struct arfs_docarray *da, uint64_t row,
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
	da_fill_record(rec, a);
	if (!rc)
		rc = arfs_io_pwrite_all(da->sfd, rec, sizeof(rec),
					(off_t)(end - ARFS_SIDECAR_REC));
	if (rc)
		return rc;
	if (row < da->srecs)
		return 0;
	pthread_rwlock_wrlock(&da->lock);
	if (end > da->smap_cap)
		rc = da_remap(da->sfd, &da->smap, &da->smap_cap, end);
	if (!rc)
		da->srecs = row + 1;
	pthread_rwlock_unlock(&da->lock);
	return rc;
}

/*
 * The array directory's mtime is the folder's time users see (and rsync
 * restores); files this engine creates and renames inside it (sidecar,
 * compaction) must not move it. da_dir_time_save()/da_dir_time_restore()
 * bracket those steps.
 */
struct timespec da_dir_time_save(int dirfd)
{
	struct stat sb;
	struct timespec none = { 0, UTIME_OMIT };

	return fstat(dirfd, &sb) ? none : sb.st_mtim;
}

void da_dir_time_restore(int dirfd, struct timespec mtime)
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
int da_sidecar_create(struct arfs_docarray *da)
{
	const char *tmp = ARFS_SIDECAR_NAME ".tmp";
	struct arfs_docattr a;
	struct timespec dir_mtime;
	uint8_t *buf;
	size_t i, len;
	int fd, rc;

	dir_mtime = da_dir_time_save(da->dirfd);
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
		da_default_attr(da, s->first, &a);
		da_fill_record(buf + ARFS_SIDECAR_HDR +
			    (size_t)s->data * ARFS_SIDECAR_REC, &a);
	}
	pthread_rwlock_unlock(&da->lock);
	if (!rc) {
		da_fill_sidecar_header(buf, da->K);
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
	da_dir_time_restore(da->dirfd, dir_mtime);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&da->lock);
	da->sfd = fd;
	rc = da_remap(fd, &da->smap, &da->smap_cap,
		   ARFS_SIDECAR_HDR + da->nrows * ARFS_SIDECAR_REC);
	if (!rc) {
		da->srecs = da->nrows;
		da->srec = ARFS_SIDECAR_REC;
	}
	pthread_rwlock_unlock(&da->lock);
	fstat(fd, &da->st_s);
	return rc;
}
/* Read and check the sidecar header: its key length, or -errno. */
int da_sidecar_key_length(struct arfs_docarray *da)
{
	uint8_t hdr[ARFS_SIDECAR_HDR];
	ssize_t n = arfs_io_pread_all(da->sfd, hdr, sizeof(hdr), 0);
	unsigned K, version;

	if (n < 0)
		return (int)n;
	K = get_le32(hdr + 12);
	version = get_le32(hdr + 8);
	if (n != sizeof(hdr) || memcmp(hdr, ARFS_SIDECAR_MAGIC, 8) ||
	    (version != 1 && version != ARFS_SIDECAR_VERSION) || K == 0 ||
	    K > ARFS_MAX_KEY_LENGTH) {
		arfs_log(ARFS_LOG_ERR, "%s/" ARFS_SIDECAR_NAME ": offset 0: "
			 "not an arrayfs sidecar (bad magic, version or key "
			 "length)", da->dir);
		return -EUCLEAN;
	}
	da->srec = version == 1 ? ARFS_SIDECAR_REC_V1 : ARFS_SIDECAR_REC;
	return (int)K;
}

/* Convert version 1 records [first, first + n) of da->sfd into out. */
static int upgrade_chunk(struct arfs_docarray *da, uint64_t first, size_t n,
			 uint8_t *in, uint8_t *out)
{
	struct arfs_docattr a;
	ssize_t got;
	size_t i;

	got = arfs_io_pread_all(da->sfd, in, n * ARFS_SIDECAR_REC_V1,
				(off_t)(ARFS_SIDECAR_HDR +
					first * ARFS_SIDECAR_REC_V1));
	if (got < 0)
		return (int)got;
	if ((size_t)got != n * ARFS_SIDECAR_REC_V1)
		return -EIO; /* the file shrank under us */
	memset(out, 0, n * ARFS_SIDECAR_REC);
	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		if (parse_record(in + i * ARFS_SIDECAR_REC_V1,
				 ARFS_SIDECAR_REC_V1, &a))
			da_fill_record(out + i * ARFS_SIDECAR_REC, &a);
	}
	return 0;
}

/*
 * Rewrite a version 1 sidecar as version 2 (docs/FORMAT.md 1.3): atime
 * and ctime of every record start as its mtime; a partial last record is
 * dropped (it never counted). Written to a temporary name, fsync'd and
 * renamed over the old one, so a crash leaves one whole version or the
 * other. Called by a read-write open before anything reads the records.
 */
int da_sidecar_upgrade(struct arfs_docarray *da)
{
	const char *tmp = ARFS_SIDECAR_NAME ".tmp";
	enum { CHUNK = 4096 };
	uint8_t hdr[ARFS_SIDECAR_HDR], *in, *out;
	struct timespec dir_mtime;
	struct stat sb;
	uint64_t recs, r;
	size_t n;
	int fd, rc;

	if (fstat(da->sfd, &sb))
		return -errno;
	recs = ((uint64_t)sb.st_size - ARFS_SIDECAR_HDR) / ARFS_SIDECAR_REC_V1;
	in = malloc(CHUNK * ARFS_SIDECAR_REC_V1);
	out = malloc(CHUNK * ARFS_SIDECAR_REC);
	if (!in || !out) {
		free(in);
		free(out);
		return -ENOMEM;
	}
	dir_mtime = da_dir_time_save(da->dirfd);
	fd = arfs_io_openat(da->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	rc = fd < 0 ? fd : 0;
	if (!rc) {
		da_fill_sidecar_header(hdr, da->K);
		rc = arfs_io_pwrite_all(fd, hdr, sizeof(hdr), 0);
	}
	for (r = 0; !rc && r < recs; r += n) {
		n = recs - r < CHUNK ? (size_t)(recs - r) : CHUNK;
		rc = upgrade_chunk(da, r, n, in, out);
		if (!rc)
			rc = arfs_io_pwrite_all(fd, out, n * ARFS_SIDECAR_REC,
						(off_t)(ARFS_SIDECAR_HDR +
							r * ARFS_SIDECAR_REC));
	}
	free(in);
	free(out);
	if (!rc)
		rc = arfs_io_fsync(fd);
	if (!rc)
		rc = arfs_io_renameat(da->dirfd, tmp, da->dirfd, ARFS_SIDECAR_NAME);
	if (!rc)
		rc = arfs_io_fsync_dir(da->dirfd);
	if (rc && fd >= 0) {
		arfs_io_close(fd);
		arfs_io_unlinkat(da->dirfd, tmp, 0);
	}
	da_dir_time_restore(da->dirfd, dir_mtime);
	if (rc)
		return rc;
	arfs_log(ARFS_LOG_INFO, "%s/" ARFS_SIDECAR_NAME ": upgraded from "
		 "version 1 to %d (%" PRIu64 " records)", da->dir,
		 ARFS_SIDECAR_VERSION, recs);
	arfs_io_close(da->sfd);
	da->sfd = fd;
	da->srec = ARFS_SIDECAR_REC;
	return 0;
}
