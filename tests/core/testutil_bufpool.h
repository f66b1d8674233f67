/*
 * testutil_bufpool.h - helpers shared by the buffer pool runners
 * (test_bufpool.c, test_bufcontent.c), defined in testutil_bufpool.c.
 * Test code only: failures assert or abort. A fixture is one pool over
 * one backing store, owned by its test (fixture_new .. fixture_free); the
 * store's counters are under its lock.
 */
#ifndef ARFS_TESTUTIL_BUFPOOL_H
#define ARFS_TESTUTIL_BUFPOOL_H

#include "bufpool.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define NKEYS 64

#define MiB ((size_t)1 << 20)

/* The backing store: one byte string per key id. */
struct store {
	pthread_mutex_t lock;
	uint8_t *data[NKEYS];
	size_t len[NKEYS];
	int loads, wb_calls;     /* callback calls, under lock */
	int load_fail, wb_fail;  /* -errno the callbacks return, or 0 */
	int write_in_wb;         /* writeback writes this many times */
};

struct fixture {
	struct store st;
	struct arfs_bufpool *pool;
	char *dir;
};

int load_cb(void *ctx, struct arfs_buf *buf);

int writeback_cb(void *ctx, struct arfs_buf *buf);

struct fixture *fixture_new(size_t max_bytes, size_t max_entries,
				   size_t spill_threshold);

void fixture_free(struct fixture *f);

struct arfs_bufkey key(uint64_t space, uint64_t id);

struct arfs_buf *pin(struct fixture *f, uint64_t space, uint64_t id);

struct arfs_bufpool_stats stats(struct fixture *f);

void assert_content(struct arfs_buf *buf, const void *want, size_t len);

#endif
