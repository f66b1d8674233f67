/*
 * loop.c - the request loop: one leader thread waits for the kernel's next
 * request by polling /dev/fuse for a short while before it sleeps, and
 * answers quick requests itself.
 *
 * Why: a request costs two wake-ups, the daemon's and the caller's. On a
 * virtual machine waking a sleeping thread on an idle CPU is the most
 * expensive part of a small request (perf: most of the daemon's time in
 * the hypervisor's interrupt-enable path, not in our code). A tool going
 * through many small files (tar, cp, rsync, ls) sends its next request a
 * few microseconds after the last answer: a leader still polling takes it
 * without being woken.
 *
 * Threads: leader/followers. The leader reads requests (non-blocking
 * reads while polling, then poll(2) once the poll window has passed) and
 * handles them in place. Before a request that may block or take long
 * (fsync, rename, unlink, setattr; and whatever a handler announces with
 * arfs_loop_blocking(): decoding a block, rendering a view, a group
 * commit, a compaction, the listing of a large folder) it hands the lead to an idle follower, starting
 * a new thread when none is idle (up to max_threads), and handles the
 * request as a worker, then takes whatever is already queued before it
 * follows again. Only the leader waits on the device, so a request wakes
 * nobody else. Small document reads stay with the leader (tools reading
 * many small files read one at a time); large ones, the kernel's
 * read-ahead of a large file, go to workers in parallel.
 *
 * Polling costs a CPU, so the leader does not poll while workers are
 * busy, nor for 20 ms after the scheduler preempted it while polling
 * (another process wanted the CPU). -o poll=0 turns polling off and
 * uses libfuse's own loop instead (fs/main.c).
 */
#include "ll.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Reads of this many bytes or more are handed on (see may_block). */
#define ARFS_LOOP_BIG_READ (64u << 10)
/* No polling for this long after the scheduler preempted a polling
 * leader (nanoseconds). */
#define ARFS_LOOP_BACK_OFF (20LL * 1000 * 1000)
/* Preemptions are counted from this far into a poll (nanoseconds). */
#define ARFS_LOOP_CHECK_AFTER (20LL * 1000)

struct loop {
	struct fuse_session *se;
	int fd;
	long long poll_ns;
	unsigned max_threads;
	pthread_mutex_t lock;
	pthread_cond_t follow;	/* followers wait here for the lead */
	pthread_cond_t gone;	/* the last thread signals its exit */
	bool has_leader, done;
	unsigned idle, threads;
	atomic_uint busy;	/* threads handling a handed-on request */
	long long quiet_until;	/* the leader's: no polling before this */
	int err;		/* first failure reading the device */
};

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/*
 * Requests that may block on the disk or take long: handled after the
 * lead has passed on. Large writes arrive as a pipe (no header in memory):
 * also handed on.
 */
static bool may_block(const struct fuse_buf *buf)
{
	const struct fuse_in_header *h = buf->mem;

	if ((buf->flags & FUSE_BUF_IS_FD) || buf->size < sizeof(*h))
		return true;
	switch (h->opcode) {
	case FUSE_READ:
		/* The kernel's read-ahead of a large file sends several at
		 * once: they go in parallel. A small file's one read stays. */
		return buf->size < sizeof(*h) + sizeof(struct fuse_read_in) ||
		       ((const struct fuse_read_in *)(h + 1))->size >=
		       ARFS_LOOP_BIG_READ;
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_SETATTR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
	case FUSE_LSEEK:
	case FUSE_DESTROY:
		return true;
	default:
		return false;
	}
}

/* Involuntary context switches of this thread so far. */
static long preempted(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_nivcsw;
}

/*
 * The next request into buf: > 0 when there is one, 0 when the session
 * ends, a negative errno on failure. Polls the device for poll_ns, then
 * sleeps in poll(2). No polling while workers are busy (the CPUs are
 * theirs: a large file read in parallel on 2 CPUs is slower with one of
 * them polling), nor for a while after the scheduler took the CPU from
 * a polling leader (another process wanted it: rsync runs three).
 */
static int next_request(struct loop *l, struct fuse_buf *buf)
{
	long long start = now_ns(), spun;
	bool polling = l->poll_ns && start >= l->quiet_until &&
		       !atomic_load(&l->busy);
	long before = -1; /* preemptions when the check started */
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	int res;

	for (;;) {
		res = fuse_session_receive_buf(l->se, buf);
		if (res > 0 || (res < 0 && res != -EAGAIN && res != -EINTR))
			break;
		if (res == 0 || fuse_session_exited(l->se)) {
			res = 0;
			break;
		}
		if (res == -EINTR || !polling)
			goto sleep;
		spun = now_ns() - start;
		/* Counting preemptions costs two system calls: only for a
		 * poll long enough to be preempted. */
		if (before < 0 && spun >= ARFS_LOOP_CHECK_AFTER)
			before = preempted();
		if (spun < l->poll_ns && !atomic_load(&l->busy))
			continue;
		polling = false;
		if (before >= 0 && preempted() != before)
			l->quiet_until = now_ns() + ARFS_LOOP_BACK_OFF;
		before = -1;
sleep:
		/* Wakes on unmount too (POLLERR); the read then says so. A
		 * signal's exit request is seen within the timeout. */
		if (res != -EINTR && poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -errno;
	}
	if (before >= 0 && preempted() != before)
		l->quiet_until = now_ns() + ARFS_LOOP_BACK_OFF;
	return res;
}

static void *worker(void *arg);

/* The loop this thread leads, if it does. */
static _Thread_local struct loop *leading;

/* Start one more thread, which takes the lead. Caller holds l->lock. */
static void spawn(struct loop *l)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (!pthread_create(&t, &attr, worker, l))
		l->threads++;
	pthread_attr_destroy(&attr);
}

void arfs_loop_blocking(void)
{
	struct loop *l = leading;

	if (!l)
		return;
	leading = NULL;
	atomic_fetch_add(&l->busy, 1);
	pthread_mutex_lock(&l->lock);
	l->has_leader = false;
	if (l->idle)
		pthread_cond_signal(&l->follow);
	else if (l->threads < l->max_threads)
		spawn(l);
	pthread_mutex_unlock(&l->lock);
}

/*
 * Lead: take requests and handle them until one is handed on (this thread
 * then handled it as a worker: returns 1) or the session ends (0 or a
 * negative errno; still the leader).
 */
static int lead(struct loop *l, struct fuse_buf *buf)
{
	int res;

	leading = l;
	while ((res = next_request(l, buf)) > 0) {
		if (may_block(buf))
			arfs_loop_blocking();
		fuse_session_process_buf(l->se, buf);
		if (!leading) {
			/* Requests already queued (the kernel's read-ahead sends
			 * several): taken here, without waking anybody. */
			while (fuse_session_receive_buf(l->se, buf) > 0)
				fuse_session_process_buf(l->se, buf);
			atomic_fetch_sub(&l->busy, 1);
			return 1;
		}
	}
	leading = NULL;
	return res;
}

static void *worker(void *arg)
{
	struct loop *l = arg;
	struct fuse_buf buf = { .mem = NULL };
	int res;

	pthread_mutex_lock(&l->lock);
	while (!l->done) {
		if (l->has_leader) {
			l->idle++;
			pthread_cond_wait(&l->follow, &l->lock);
			l->idle--;
			continue;
		}
		l->has_leader = true;
		pthread_mutex_unlock(&l->lock);
		res = lead(l, &buf);
		pthread_mutex_lock(&l->lock);
		if (res <= 0) {
			l->has_leader = false;
			if (res < 0 && !l->err)
				l->err = res;
			l->done = true;
			pthread_cond_broadcast(&l->follow);
		}
	}
	if (--l->threads == 0)
		pthread_cond_signal(&l->gone);
	pthread_mutex_unlock(&l->lock);
	free(buf.mem);
	return NULL;
}

int arfs_loop_run(struct fuse_session *se, unsigned poll_us,
		  unsigned max_threads)
{
	struct loop l = {
		.se = se,
		.fd = fuse_session_fd(se),
		.poll_ns = (long long)poll_us * 1000,
		.max_threads = max_threads ? max_threads : 1,
	};
	int fl = fcntl(l.fd, F_GETFL);

	if (fl < 0 || fcntl(l.fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	pthread_mutex_init(&l.lock, NULL);
	pthread_cond_init(&l.follow, NULL);
	pthread_cond_init(&l.gone, NULL);
	pthread_mutex_lock(&l.lock);
	l.threads = 1; /* this one */
	pthread_mutex_unlock(&l.lock);
	worker(&l);
	pthread_mutex_lock(&l.lock);
	while (l.threads)
		pthread_cond_wait(&l.gone, &l.lock);
	pthread_mutex_unlock(&l.lock);
	pthread_cond_destroy(&l.gone);
	pthread_cond_destroy(&l.follow);
	pthread_mutex_destroy(&l.lock);
	fuse_session_reset(se);
	return l.err;
}
