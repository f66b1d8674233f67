/*
 * workq.c - worker threads over a ring of jobs (workq.h).
 *
 * One mutex guards the ring and the table of what each worker runs;
 * `more` wakes workers when a job is queued or the queue is stopping,
 * `done` wakes cancellers when a worker finishes a job. Jobs run without
 * the mutex. A cancelled job is removed by compacting the ring in place,
 * keeping the order of the rest.
 */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct job {
	arfs_work_fn fn;
	void *tag;
	uint64_t arg;
};

struct arfs_workq {
	pthread_mutex_t lock;
	pthread_cond_t more, done;
	struct job *ring;		/* [cap] */
	unsigned cap, head, count;	/* [lock] */
	bool stop;			/* [lock] */
	unsigned nthreads;
	pthread_t *threads;		/* [nthreads] */
	const void **running;		/* [nthreads] tag of each, [lock] */
};

struct worker_arg {
	struct arfs_workq *q;
	unsigned index;
};

static void *worker(void *p)
{
	struct arfs_workq *q = ((struct worker_arg *)p)->q;
	unsigned me = ((struct worker_arg *)p)->index;
	struct job j;

	free(p);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->count && !q->stop)
			pthread_cond_wait(&q->more, &q->lock);
		if (q->stop)
			break;
		j = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
		q->running[me] = j.tag;
		pthread_mutex_unlock(&q->lock);
		j.fn(j.tag, j.arg);
		pthread_mutex_lock(&q->lock);
		q->running[me] = NULL;
		pthread_cond_broadcast(&q->done);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void stop_and_join(struct arfs_workq *q, unsigned started)
{
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	q->count = 0;
	pthread_cond_broadcast(&q->more);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(q->threads[i], NULL);
}

static void release(struct arfs_workq *q)
{
	pthread_cond_destroy(&q->done);
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->lock);
	free(q->running);
	free(q->threads);
	free(q->ring);
	free(q);
}

int arfs_workq_new(unsigned threads, unsigned cap, struct arfs_workq **out)
{
	struct arfs_workq *q = calloc(1, sizeof(*q));
	struct worker_arg *wa;
	unsigned i;
	int rc = 0;

	if (!q || !threads || !cap) {
		free(q);
		return q ? -EINVAL : -ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	pthread_cond_init(&q->done, NULL);
	q->cap = cap;
	q->nthreads = threads;
	q->ring = calloc(cap, sizeof(*q->ring));
	q->threads = calloc(threads, sizeof(*q->threads));
	q->running = calloc(threads, sizeof(*q->running));
	if (!q->ring || !q->threads || !q->running) {
		release(q);
		return -ENOMEM;
	}
	for (i = 0; i < threads; i++) {
		wa = malloc(sizeof(*wa));
		if (!wa) {
			rc = -ENOMEM;
			break;
		}
		*wa = (struct worker_arg){ q, i };
		rc = -pthread_create(&q->threads[i], NULL, worker, wa);
		if (rc) {
			free(wa);
			break;
		}
	}
	if (rc) {
		stop_and_join(q, i);
		release(q);
		return rc;
	}
	*out = q;
	return 0;
}

void arfs_workq_free(struct arfs_workq *q)
{
	if (!q)
		return;
	stop_and_join(q, q->nthreads);
	release(q);
}

unsigned arfs_workq_threads(const struct arfs_workq *q)
{
	return q->nthreads;
}

bool arfs_workq_try_add(struct arfs_workq *q, arfs_work_fn fn, void *tag,
			uint64_t arg)
{
	bool added = false;

	pthread_mutex_lock(&q->lock);
	if (q->count < q->cap && !q->stop) {
		q->ring[(q->head + q->count) % q->cap] =
			(struct job){ fn, tag, arg };
		q->count++;
		added = true;
		pthread_cond_signal(&q->more);
	}
	pthread_mutex_unlock(&q->lock);
	return added;
}

static bool running_tag(const struct arfs_workq *q, const void *tag)
{
	for (unsigned i = 0; i < q->nthreads; i++)
		if (q->running[i] == tag)
			return true;
	return false;
}

void arfs_workq_cancel(struct arfs_workq *q, const void *tag)
{
	unsigned kept = 0;

	pthread_mutex_lock(&q->lock);
	for (unsigned i = 0; i < q->count; i++) {
		struct job j = q->ring[(q->head + i) % q->cap];

		if (j.tag != tag)
			q->ring[(q->head + kept++) % q->cap] = j;
	}
	q->count = kept;
	while (running_tag(q, tag))
		pthread_cond_wait(&q->done, &q->lock);
	pthread_mutex_unlock(&q->lock);
}
