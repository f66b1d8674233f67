/*
 * bufcontent.c - the content of one buffer of the pool: in memory or in a
 * staging file, its base read on demand, reads, writes and truncates.
 * Design, invariants and locks: bufpool.c; structures: bufpool_int.h.
 */
#include "bufpool.h"
#include "bufpool_int.h"
#include "io.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t empty_content[1];
static atomic_uint_least64_t staging_seq;

/* ---- staging files ---- */

/* Fallback for file systems without O_TMPFILE: create a name, unlink it. */
static int staging_open_named(const char *dir)
{
	char path[PATH_MAX];
	int fd = -EEXIST, rc;

	for (int i = 0; i < STAGING_NAME_TRIES && fd == -EEXIST; i++) {
		uint64_t seq = atomic_fetch_add(&staging_seq, 1);
		int len = snprintf(path, sizeof(path),
				   "%s/.arfs-staging-%ld-%llu", dir,
				   (long)getpid(), (unsigned long long)seq);
		if (len < 0 || (size_t)len >= sizeof(path))
			return -ENAMETOOLONG;
		fd = arfs_io_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0)
		return fd;
	rc = arfs_io_unlinkat(AT_FDCWD, path, 0);
	if (rc) {
		arfs_io_close(fd);
		return rc;
	}
	return fd;
}

/* An empty unnamed file in the staging directory: fd or -errno. */
static int staging_open(const struct arfs_bufpool *pool)
{
	int fd = arfs_io_open(pool->staging_dir, O_RDWR | O_TMPFILE, 0600);

	/* Kernels and file systems without O_TMPFILE say one of these. */
	if (fd == -EOPNOTSUPP || fd == -EISDIR || fd == -EINVAL)
		fd = staging_open_named(pool->staging_dir);
	return fd;
}

/* Move in-memory content to a staging file. Caller holds buf->lock. */
static int spill_locked(struct arfs_buf *buf)
{
	int fd = staging_open(buf->pool);
	int rc = 0;

	if (fd < 0)
		return fd;
	if (buf->size > buf->base)
		rc = arfs_io_pwrite_all(fd, buf->data,
					(size_t)(buf->size - buf->base),
					(off_t)buf->base);
	else if (buf->size)
		rc = arfs_io_ftruncate(fd, (off_t)buf->size);
	if (rc) {
		arfs_io_close(fd);
		return rc;
	}
	atomic_fetch_sub(&buf->pool->bytes, buf->cap);
	free(buf->data);
	buf->data = NULL;
	buf->cap = 0;
	buf->fd = fd;
	atomic_fetch_add(&buf->pool->spills, 1);
	return 0;
}

/* Spill first if the content is about to outgrow memory. */
static int make_room_locked(struct arfs_buf *buf, uint64_t end)
{
	if (buf->fd >= 0 || end - buf->base <= buf->pool->spill_threshold)
		return 0;
	return spill_locked(buf);
}

/* ---- in-memory content (buffer mutex) ---- */

/* Make cap >= need (need <= spill_threshold); doubles, capped there. */
static int mem_reserve(struct arfs_buf *buf, size_t need)
{
	size_t threshold = buf->pool->spill_threshold;
	size_t cap = buf->cap;
	uint8_t *data;

	if (need <= cap)
		return 0;
	cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap < MEM_MIN_CAP)
		cap = MEM_MIN_CAP;
	if (cap > threshold)
		cap = threshold;
	if (cap < need)
		cap = need;
	data = realloc(buf->data, cap);
	if (!data)
		return -ENOMEM;
	atomic_fetch_add(&buf->pool->bytes, cap - buf->cap);
	buf->data = data;
	buf->cap = cap;
	return 0;
}

/* Give memory back after shrinking far below the capacity. */
static void mem_shrink(struct arfs_buf *buf, size_t size)
{
	uint8_t *data = NULL;

	if (size >= buf->cap / 4)
		return;
	if (size) {
		data = realloc(buf->data, size);
		if (!data)
			return; /* keep the bigger array */
	} else {
		free(buf->data);
	}
	atomic_fetch_sub(&buf->pool->bytes, buf->cap - size);
	buf->data = data;
	buf->cap = size;
}

/* Set the in-memory size (>= base), zero-filling when it grows. */
static int mem_resize(struct arfs_buf *buf, size_t size)
{
	size_t now = (size_t)(buf->size - buf->base);
	size_t want = size - (size_t)buf->base;
	int rc;

	if (want > now) {
		rc = mem_reserve(buf, want);
		if (rc)
			return rc;
		memset(buf->data + now, 0, want - now);
	} else {
		mem_shrink(buf, want);
	}
	buf->size = size;
	return 0;
}

/* ---- buffer content ---- */

struct arfs_bufkey arfs_buf_key(const struct arfs_buf *buf)
{
	return buf->key;
}

uint64_t arfs_buf_size(struct arfs_buf *buf)
{
	uint64_t size;

	pthread_mutex_lock(&buf->lock);
	size = buf->size;
	pthread_mutex_unlock(&buf->lock);
	return size;
}

bool arfs_buf_dirty(struct arfs_buf *buf)
{
	bool dirty;

	pthread_mutex_lock(&buf->lock);
	dirty = dirty_locked(buf);
	pthread_mutex_unlock(&buf->lock);
	return dirty;
}

/* Bytes [off, off + n) (inside the size). Caller holds lock. */
static ssize_t read_locked(struct arfs_buf *buf, void *dst, size_t n,
			   uint64_t off)
{
	size_t below = 0;
	ssize_t got;
	int rc;

	if (off < buf->base) {
		below = buf->base - off < n ? (size_t)(buf->base - off) : n;
		rc = buf->base_read(buf->base_ctx, dst, below, off);
		if (rc)
			return rc;
		dst = (uint8_t *)dst + below;
		off += below;
		n -= below;
	}
	if (!n)
		return (ssize_t)below;
	if (buf->fd < 0) {
		memcpy(dst, buf->data + (off - buf->base), n);
		return (ssize_t)(below + n);
	}
	got = arfs_io_pread_all(buf->fd, dst, n, (off_t)off);
	if (got >= 0 && (size_t)got != n)
		return -EIO; /* the staging file lost bytes */
	return got < 0 ? got : (ssize_t)(below + n);
}

/*
 * Fetch the base bytes into the content (a write below base). Caller
 * holds lock.
 */
static int materialize_locked(struct arfs_buf *buf)
{
	uint64_t base = buf->base, done;
	uint8_t *chunk;
	int rc = 0;

	if (!base)
		return 0;
	if (buf->fd < 0 && buf->size > buf->pool->spill_threshold) {
		rc = spill_locked(buf);
		if (rc)
			return rc;
	}
	if (buf->fd < 0) {
		size_t clen = (size_t)(buf->size - base);
		rc = mem_reserve(buf, (size_t)buf->size);
		if (rc)
			return rc;
		memmove(buf->data + base, buf->data, clen);
		rc = buf->base_read(buf->base_ctx, buf->data, (size_t)base, 0);
		if (rc) {
			memmove(buf->data, buf->data + base, clen);
			return rc;
		}
	} else {
		chunk = malloc(1u << 20);
		if (!chunk)
			return -ENOMEM;
		for (done = 0; !rc && done < base; done += 1u << 20) {
			size_t n = base - done < (1u << 20) ? (size_t)(base - done)
							    : (1u << 20);
			rc = buf->base_read(buf->base_ctx, chunk, n, done);
			if (!rc)
				rc = arfs_io_pwrite_all(buf->fd, chunk, n,
							(off_t)done);
		}
		free(chunk);
		if (rc)
			return rc;
	}
	buf->base = 0;
	if (buf->base_free)
		buf->base_free(buf->base_ctx);
	buf->base_free = NULL;
	buf->base_ctx = NULL;
	return 0;
}

int arfs_buf_set_base(struct arfs_buf *buf, uint64_t len,
		      arfs_buf_base_fn read, void (*free_ctx)(void *ctx),
		      void *ctx)
{
	int rc = 0;

	pthread_mutex_lock(&buf->lock);
	if (buf->size || buf->base_read) {
		rc = -EBUSY;
	} else {
		buf->base = buf->size = len;
		buf->base_read = read;
		buf->base_free = free_ctx;
		buf->base_ctx = ctx;
		if (buf->fd >= 0)
			rc = arfs_io_ftruncate(buf->fd, (off_t)len);
		buf->gen++;
	}
	pthread_mutex_unlock(&buf->lock);
	return rc;
}

ssize_t arfs_buf_read(struct arfs_buf *buf, void *dst, size_t cap,
		      uint64_t off)
{
	uint64_t n = 0;
	ssize_t got;

	pthread_mutex_lock(&buf->lock);
	if (off < buf->size)
		n = buf->size - off;
	if (n > cap)
		n = cap;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	got = read_locked(buf, dst, (size_t)n, off);
	pthread_mutex_unlock(&buf->lock);
	return got;
}

/* Write to the staging file, keeping its length equal to the size. */
static int file_write(struct arfs_buf *buf, const void *src, size_t len,
		      uint64_t off, uint64_t end)
{
	int rc = arfs_io_pwrite_all(buf->fd, src, len, (off_t)off);

	if (rc) {
		if (end > buf->size)
			arfs_io_ftruncate(buf->fd, (off_t)buf->size);
		return rc;
	}
	if (end > buf->size)
		buf->size = end;
	return 0;
}

static int mem_write(struct arfs_buf *buf, const void *src, size_t len,
		     uint64_t off, uint64_t end)
{
	int rc;

	if (end > buf->size) {
		rc = mem_resize(buf, (size_t)end); /* zero-fills any gap */
		if (rc)
			return rc;
	}
	memcpy(buf->data + (off - buf->base), src, len);
	return 0;
}

/* A change at off (or, past the end, at the end). Caller holds lock. */
static void note_change(struct arfs_buf *buf, uint64_t off)
{
	if (off > buf->size)
		off = buf->size;
	if (off < buf->changed_from)
		buf->changed_from = off;
}

int arfs_buf_write(struct arfs_buf *buf, const void *src, size_t len,
		   uint64_t off)
{
	uint64_t end;
	int rc;

	if (!len)
		return 0;
	if (arfs_add_overflows(off, len, &end) || end > INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&buf->lock);
	rc = off < buf->base ? materialize_locked(buf) : 0;
	if (!rc)
		rc = make_room_locked(buf, end);
	if (rc)
		goto out_unlock;
	note_change(buf, off);
	if (buf->fd >= 0)
		rc = file_write(buf, src, len, off, end);
	else
		rc = mem_write(buf, src, len, off, end);
	if (!rc)
		buf->gen++;
out_unlock:
	pthread_mutex_unlock(&buf->lock);
	return rc;
}

int arfs_buf_truncate(struct arfs_buf *buf, uint64_t size)
{
	int rc;

	if (size > INT64_MAX)
		return -EFBIG;
	pthread_mutex_lock(&buf->lock);
	if (size < buf->base) {
		/* The base shrinks: its first bytes stay the owner's. */
		if (buf->fd < 0)
			mem_resize(buf, (size_t)buf->base);
		buf->base = size;
	}
	rc = make_room_locked(buf, size);
	if (rc)
		goto out_unlock;
	note_change(buf, size);
	if (buf->fd >= 0) {
		rc = arfs_io_ftruncate(buf->fd, (off_t)size);
		if (!rc)
			buf->size = size;
	} else {
		rc = mem_resize(buf, (size_t)size);
	}
	if (!rc)
		buf->gen++;
out_unlock:
	pthread_mutex_unlock(&buf->lock);
	return rc;
}

uint64_t arfs_buf_unchanged(struct arfs_buf *buf)
{
	uint64_t n;

	pthread_mutex_lock(&buf->lock);
	n = buf->changed_from < buf->size ? buf->changed_from : buf->size;
	pthread_mutex_unlock(&buf->lock);
	return n;
}

void arfs_buf_mark_dirty(struct arfs_buf *buf)
{
	pthread_mutex_lock(&buf->lock);
	buf->changed_from = 0;
	buf->gen++;
	pthread_mutex_unlock(&buf->lock);
}

const void *arfs_buf_data(struct arfs_buf *buf)
{
	const void *p;

	pthread_mutex_lock(&buf->lock);
	if (buf->fd >= 0 || buf->base)
		p = NULL;
	else
		p = buf->data ? buf->data : empty_content;
	pthread_mutex_unlock(&buf->lock);
	return p;
}

uint64_t *arfs_buf_tag(struct arfs_buf *buf)
{
	return &buf->tag;
}
