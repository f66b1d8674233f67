/*
 * docarray/open.c - opening, creating, closing and reloading an array: the
 * files, the key length, the writer's directory lock and the loaded state.
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

	da->srec = ARFS_SIDECAR_REC;
	if (da->sfd >= 0) {
		K = da_sidecar_key_length(da);
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
	    ARFS_SIDECAR_HDR + (rows + 1) * da->srec) {
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

/*
 * A partial last sidecar record (an interrupted append: kill -9 can stop
 * a write that crosses a page boundary) is ignored; a read-write open cuts
 * it off, so the next append lands on a record boundary of the file's end.
 */
static int sidecar_whole_records(struct arfs_docarray *da)
{
	uint64_t size = (uint64_t)da->st_s.st_size, whole;
	int rc;

	if (da->sfd < 0 || size < ARFS_SIDECAR_HDR)
		return 0;
	whole = size - (size - ARFS_SIDECAR_HDR) % da->srec;
	if (whole == size || da->ro)
		return 0;
	arfs_log(ARFS_LOG_WARNING, "%s/" ARFS_SIDECAR_NAME ": offset %" PRIu64
		 ": %" PRIu64 " bytes of an interrupted record append cut off",
		 da->dir, whole, size - whole);
	rc = arfs_io_ftruncate(da->sfd, (off_t)whole);
	if (!rc && fstat(da->sfd, &da->st_s))
		rc = -errno;
	return rc;
}

/*
 * Read up to `size` bytes of fd into a new buffer (read-only opens: another
 * process may truncate header.bin or the sidecar, which would fault a
 * mapping). *got is the number of bytes read.
 */
static int read_copy(int fd, uint64_t size, const uint8_t **map, size_t *cap,
		     uint64_t *got)
{
	uint8_t *buf = malloc(size ? (size_t)size : 1);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	n = size ? arfs_io_pread_all(fd, buf, (size_t)size, 0) : 0;
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*map = buf;
	*cap = (size_t)size;
	*got = (uint64_t)n;
	return 0;
}

/* Map (writable opens) or copy (read-only opens) header.bin and sidecar. */
static int load_maps(struct arfs_docarray *da, uint64_t *hsize)
{
	uint64_t got = 0;
	int rc;

	da->in_mem = da->ro;
	if (!da->ro) {
		rc = da_remap(da->hfd, &da->hmap, &da->hmap_cap, *hsize);
		if (!rc && da->sfd >= 0 && da->st_s.st_size >= ARFS_SIDECAR_HDR)
			rc = da_remap(da->sfd, &da->smap, &da->smap_cap,
				      (uint64_t)da->st_s.st_size);
		return rc;
	}
	rc = read_copy(da->hfd, *hsize, &da->hmap, &da->hmap_cap, &got);
	if (rc)
		return rc;
	*hsize = got / da->rowsize * da->rowsize;
	if (da->sfd >= 0 && da->st_s.st_size >= ARFS_SIDECAR_HDR) {
		rc = read_copy(da->sfd, (uint64_t)da->st_s.st_size, &da->smap,
			       &da->smap_cap, &got);
		if (rc)
			return rc;
		da->st_s.st_size = (off_t)got;
	}
	return 0;
}

static int load_files(struct arfs_docarray *da, unsigned want_K)
{
	int flags = da->ro ? O_RDONLY : O_RDWR;
	bool use_compact;
	uint64_t hsize;
	struct stat dst;
	int bfd, rc;

	rc = da_compact_recover(da, &use_compact, false);
	if (rc)
		return rc;
	bfd = open_file(da, 0, use_compact, flags);
	if (bfd < 0)
		return bfd;
	da->body = da_body_new(bfd);
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
	if (!rc && !da->ro && da->srec != ARFS_SIDECAR_REC)
		rc = da_sidecar_upgrade(da);
	if (rc)
		return rc;
	if (fstat(bfd, &da->st_b) || fstat(da->hfd, &da->st_h) ||
	    fstat(da->dirfd, &dst))
		return -errno;
	if (da->sfd >= 0 && fstat(da->sfd, &da->st_s))
		return -errno;
	rc = sidecar_whole_records(da);
	if (!rc)
		rc = header_whole_rows(da, &hsize);
	if (rc)
		return rc;
	if (hsize / da->rowsize > ARFS_MAX_ROWS)
		return -EFBIG;
	da->def_mtime = da->st_b.st_mtim;
	da->def_uid = dst.st_uid;
	da->def_gid = dst.st_gid;
	da->body_end = (uint64_t)da->st_b.st_size;
	rc = load_maps(da, &hsize);
	if (rc)
		return rc;
	if (da->smap && da->st_s.st_size >= ARFS_SIDECAR_HDR)
		da->srecs = ((uint64_t)da->st_s.st_size - ARFS_SIDECAR_HDR) /
			    da->srec;
	rc = da_ensure_rows(da, hsize / da->rowsize);
	if (rc)
		return rc;
	da->nrows = hsize / da->rowsize;
	return da_index_build(da, da->body_end);
}

/* Release the loaded state (files, maps, index) of da. */
static void state_release(struct arfs_docarray *da)
{
	if (da->in_mem) {
		free((void *)da->hmap);
		free((void *)da->smap);
	} else {
		if (da->hmap)
			munmap((void *)da->hmap, da->hmap_cap);
		if (da->smap)
			munmap((void *)da->smap, da->smap_cap);
	}
	da_body_put(da->body);
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
	da->ac_ratio = !opts || opts->autocompact == 0 ? ARFS_AUTOCOMPACT_RATIO
						       : opts->autocompact;
	da->ac_min = opts && opts->autocompact_min ? opts->autocompact_min
						   : ARFS_AUTOCOMPACT_MIN;
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
			da_fill_sidecar_header(hdr, K);
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
int da_state_reload(struct arfs_docarray *da)
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
		rc = da_state_reload(da);
	pthread_mutex_unlock(&da->commit);
	return rc;
}
