/*
 * testutil_bufpool.c - helpers shared by the buffer pool runners
 * (test_bufpool.c, test_bufcontent.c): the in-memory backing store, its
 * load and writeback callbacks, and a pool over it. Declared in
 * testutil_bufpool.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>

#include "bufpool.h"
#include "io.h"
#include "testutil.h"
#include "testutil_bufpool.h"

int load_cb(void *ctx, struct arfs_buf *buf)
{
	struct store *st = ctx;
	uint64_t id = arfs_buf_key(buf).id;
	int rc;

	pthread_mutex_lock(&st->lock);
	st->loads++;
	rc = st->load_fail;
	if (!rc && st->len[id])
		rc = arfs_buf_write(buf, st->data[id], st->len[id], 0);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int writeback_cb(void *ctx, struct arfs_buf *buf)
{
	struct store *st = ctx;
	uint64_t id = arfs_buf_key(buf).id;
	size_t len = (size_t)arfs_buf_size(buf);
	uint8_t *p = malloc(len ? len : 1);
	ssize_t n;
	int rc;

	if (!p)
		return -ENOMEM;
	n = arfs_buf_read(buf, p, len, 0);
	pthread_mutex_lock(&st->lock);
	st->wb_calls++;
	rc = st->wb_fail;
	if (!rc && n != (ssize_t)len)
		rc = n < 0 ? (int)n : -EIO;
	if (!rc && st->write_in_wb > 0) {
		st->write_in_wb--;
		rc = arfs_buf_write(buf, "w", 1, len); /* a write "during" wb */
	}
	if (!rc) {
		free(st->data[id]);
		st->data[id] = p;
		st->len[id] = len;
		p = NULL;
	}
	pthread_mutex_unlock(&st->lock);
	free(p);
	return rc;
}

struct fixture *fixture_new(size_t max_bytes, size_t max_entries,
				   size_t spill_threshold)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct arfs_bufpool_opts opts = {
		.max_bytes = max_bytes,
		.max_entries = max_entries,
		.spill_threshold = spill_threshold,
	};

	assert_non_null(f);
	pthread_mutex_init(&f->st.lock, NULL);
	f->dir = tu_tmpdir("bufpool");
	opts.staging_dir = f->dir;
	assert_int_equal(arfs_bufpool_new(&opts, &f->pool), 0);
	return f;
}

void fixture_free(struct fixture *f)
{
	struct arfs_bufpool_stats s;

	arfs_bufpool_get_stats(f->pool, &s);
	assert_int_equal(s.pinned, 0);
	arfs_bufpool_free(f->pool);
	for (int i = 0; i < NKEYS; i++)
		free(f->st.data[i]);
	pthread_mutex_destroy(&f->st.lock);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
}

struct arfs_bufkey key(uint64_t space, uint64_t id)
{
	return (struct arfs_bufkey){ .space = space, .id = id };
}

struct arfs_buf *pin(struct fixture *f, uint64_t space, uint64_t id)
{
	struct arfs_buf *buf = NULL;

	assert_int_equal(arfs_bufpool_pin(f->pool, key(space, id), load_cb,
					  writeback_cb, &f->st, &buf), 0);
	assert_non_null(buf);
	return buf;
}

struct arfs_bufpool_stats stats(struct fixture *f)
{
	struct arfs_bufpool_stats s;

	arfs_bufpool_get_stats(f->pool, &s);
	return s;
}

void assert_content(struct arfs_buf *buf, const void *want, size_t len)
{
	uint8_t *got = malloc(len + 16);

	assert_non_null(got);
	assert_int_equal(arfs_buf_size(buf), len);
	assert_int_equal(arfs_buf_read(buf, got, len + 16, 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
}
