/*
 * workq.h - a fixed set of worker threads and a bounded queue of jobs, for
 * work done ahead of a reader (decoding the next blocks of a column).
 *
 * A job is (fn, tag, arg): a worker calls fn(tag, arg). Adding never
 * blocks and never allocates: when the queue is full the job is refused,
 * so a burst of requests cannot grow memory. arfs_workq_cancel(tag) is how
 * an owner frees what its jobs use: it drops the tag's queued jobs and
 * waits for its running ones, after which no worker touches the tag.
 *
 * Ownership: the queue is owned by the caller of arfs_workq_new() and
 * freed by arfs_workq_free(), which drops queued jobs and joins the
 * workers. Thread safety: every function may be called from any thread
 * but a worker (a job that cancels its own tag would wait for itself).
 * Errors: arfs_workq_new() returns 0, -ENOMEM or -errno of
 * pthread_create().
 */
#ifndef ARFS_WORKQ_H
#define ARFS_WORKQ_H

#include <stdbool.h>
#include <stdint.h>

struct arfs_workq;

typedef void (*arfs_work_fn)(void *tag, uint64_t arg);

/* threads >= 1 workers and room for cap >= 1 queued jobs. */
int arfs_workq_new(unsigned threads, unsigned cap, struct arfs_workq **out);
/* Drop queued jobs, wait for running ones, join the workers. NULL is
 * accepted. */
void arfs_workq_free(struct arfs_workq *q);
unsigned arfs_workq_threads(const struct arfs_workq *q);
/* Queue fn(tag, arg): true, or false when the queue is full. */
bool arfs_workq_try_add(struct arfs_workq *q, arfs_work_fn fn, void *tag,
			uint64_t arg);
/* Drop tag's queued jobs and wait until none of its jobs runs. */
void arfs_workq_cancel(struct arfs_workq *q, const void *tag);

#endif
