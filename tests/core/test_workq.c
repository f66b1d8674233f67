/*
 * test_workq.c - the decode-ahead workers (core/workq.c): jobs run, a
 * full queue refuses, cancel drops queued jobs and waits for running ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "workq.h"

struct counter {
	_Atomic uint64_t runs, sum;
	atomic_bool running;
	atomic_bool ran_after_cancel;
	atomic_bool cancelled;
};

static void count_job(void *tag, uint64_t arg)
{
	struct counter *c = tag;

	atomic_store(&c->running, true);
	if (atomic_load(&c->cancelled))
		atomic_store(&c->ran_after_cancel, true);
	usleep(arg);
	atomic_fetch_add(&c->sum, arg);
	atomic_fetch_add(&c->runs, 1);
	atomic_store(&c->running, false);
}

static void test_jobs_run(void **state)
{
	struct arfs_workq *q;
	struct counter c = { 0 };
	uint64_t added = 0;

	assert_int_equal(arfs_workq_new(2, 8, &q), 0);
	assert_int_equal(arfs_workq_threads(q), 2);
	for (int i = 0; i < 1000; i++) {
		while (!arfs_workq_try_add(q, count_job, &c, 1))
			usleep(100);
		added++;
	}
	while (atomic_load(&c.runs) < added)
		usleep(1000);
	assert_int_equal(atomic_load(&c.sum), added);
	arfs_workq_free(q);
	arfs_workq_free(NULL);
}

static void test_full_queue_refuses(void **state)
{
	struct arfs_workq *q;
	struct counter c = { 0 };
	unsigned added = 0;

	assert_int_equal(arfs_workq_new(1, 4, &q), 0);
	/* one job runs (slowly), four wait, the rest are refused */
	for (int i = 0; i < 20; i++)
		added += arfs_workq_try_add(q, count_job, &c, 200000);
	assert_true(added >= 4 && added <= 5);
	arfs_workq_cancel(q, &c);
	assert_true(atomic_load(&c.runs) <= 1);
	arfs_workq_free(q);
}

static void test_cancel_waits(void **state)
{
	struct arfs_workq *q;
	struct counter a = { 0 }, b = { 0 };

	assert_int_equal(arfs_workq_new(2, 64, &q), 0);
	for (int i = 0; i < 30; i++) {
		assert_true(arfs_workq_try_add(q, count_job, &a, 20000));
		assert_true(arfs_workq_try_add(q, count_job, &b, 1));
	}
	while (!atomic_load(&a.running))
		usleep(100);
	arfs_workq_cancel(q, &a);
	/* after cancel returns, no job of a runs, now or later */
	assert_false(atomic_load(&a.running));
	atomic_store(&a.cancelled, true);
	usleep(100000);
	assert_false(atomic_load(&a.ran_after_cancel));
	assert_true(atomic_load(&a.runs) < 30);
	/* b's jobs were kept */
	while (atomic_load(&b.runs) < 30)
		usleep(1000);
	arfs_workq_free(q);
}

static void test_bad_arguments(void **state)
{
	struct arfs_workq *q;

	assert_int_equal(arfs_workq_new(0, 4, &q), -EINVAL);
	assert_int_equal(arfs_workq_new(1, 0, &q), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jobs_run),
		cmocka_unit_test(test_full_queue_refuses),
		cmocka_unit_test(test_cancel_waits),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
