/*
 * docarray/body.c - body files: reference-counted descriptors and maps of
 * body.bin, and the docref calls that read through them.
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

/* ---- bodies ---- */

struct arfs_body *da_body_new(int fd)
{
	struct arfs_body *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->fd = fd;
	atomic_init(&b->refs, 1);
	pthread_mutex_init(&b->map_lock, NULL);
	return b;
}

struct arfs_body *da_body_get(struct arfs_body *b)
{
	atomic_fetch_add(&b->refs, 1);
	return b;
}

void da_body_put(struct arfs_body *b)
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
		da_body_get(dst->body);
}

void arfs_docref_release(struct arfs_docref *ref)
{
	da_body_put(ref->body);
	ref->body = NULL;
}
