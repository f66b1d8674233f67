/*
 * test_faults.c - promise 1 of docs/RELIABILITY.md under injected faults:
 * whatever file system call fails, and wherever the process dies, a
 * reopened array shows every document old or new, never torn, never
 * another one's bytes; a commit that returned 0 is there after a reopen.
 *
 * Two sweeps over the same scenarios (put new/replace/duplicate with and
 * without fsync, delete, rename to a free name and over an existing one in
 * both row orders, compact, and a sequence of all of them), each run on a
 * fresh copy of the updated_deleted fixture, with and without a sidecar:
 *
 *  - fault sweep: the Nth call of one kind (pwrite, fsync, renameat, mmap,
 *    openat, ftruncate, unlinkat) fails with ENOSPC/EIO/ENOMEM, N = 1, 2,
 *    ... until the scenario runs without reaching call N. Opening the array
 *    is part of the scenario, so the mmaps of open and of a remap are hit.
 *  - crash sweep: in a forked child, the process dies (_exit) at the Nth
 *    call of one kind instead: before an fsync, rename, unlink or
 *    ftruncate; in a pwrite after writing only the bytes up to the first
 *    page boundary it crosses (what a kill -9 between two pages of one
 *    write(2) leaves; a write within one page is all or nothing).
 *
 * After each point the array is reopened read-only and read-write and
 * checked against a model: every listed name is in the old or new state
 * with exactly the bytes of one of them; names present before and after
 * are present; contents present before and after survive under some name;
 * `arfs_docarray_check` finds nothing. The number of points is printed
 * (docs/RELIABILITY.md quotes it).
 *
 * The same two sweeps over commits of the segment group writer are in
 * test_faults_group.c; the io table, the model and the runner setup both
 * use are in testutil_faults.c.
 *
 * Complements the per-operation sweep in test_docarray_recovery.c
 * (pwrite, fsync, rename, without mmap/open/ftruncate/unlink faults,
 * sequences or deaths).
 * ARFS_FAULT_ONLY=<scenario> runs one scenario; ARFS_FAULT_BT=1 prints a
 * backtrace at each injected fault.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "blockmgr.h"
#include "docarray.h"
#include "group.h"
#include "groupw.h"
#include "io.h"
#include "testutil.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"
#include "testutil_faults.h"

/* ---- the model: names and bytes ---- */

static void model_del(struct model *m, const char *name)
{
	ssize_t i = model_find(m, name);

	if (i < 0)
		return;
	free(m->d[i].data);
	memmove(&m->d[i], &m->d[i + 1], (m->n - (size_t)i - 1) * sizeof(m->d[0]));
	m->n--;
}

static void model_rename(struct model *m, const char *from, const char *to)
{
	ssize_t i = model_find(m, from);
	struct mdoc d;

	if (i < 0)
		return;
	d = m->d[i];
	memmove(&m->d[i], &m->d[i + 1], (m->n - (size_t)i - 1) * sizeof(m->d[0]));
	m->n--;
	model_put(m, to, d.data, d.len);
	free(d.data);
}

static void model_copy(struct model *dst, const struct model *src)
{
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++)
		model_put(dst, src->d[i].name, src->d[i].data, src->d[i].len);
}

/* ---- reading an array back ---- */

static bool holds(const struct model *m, const char *name, const void *data,
		  size_t len)
{
	ssize_t i = model_find(m, name);

	return i >= 0 && m->d[i].len == len && !memcmp(m->d[i].data, data, len);
}

static bool has_bytes(const struct model *m, const void *data, size_t len)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->d[i].len == len && !memcmp(m->d[i].data, data, len))
			return true;
	return false;
}

static void count_report(void *ctx, const char *msg)
{
	/* Warnings (the end rule) concern the fixture, written by others. */
	if (!strncmp(msg, "warning: ", 9))
		return;
	fprintf(stderr, "check: %s\n", msg);
	(*(int *)ctx)++;
}

/*
 * got is a state the array may show after a step from old to new that
 * did not complete: see the file comment. `where` names the point.
 */
static void expect_either(const struct model *got, const struct model *old,
			  const struct model *new, const char *where)
{
	size_t i;

	for (i = 0; i < got->n; i++) {
		const struct mdoc *d = &got->d[i];
		if (!holds(old, d->name, d->data, d->len) &&
		    !holds(new, d->name, d->data, d->len))
			fail_msg("%s: %s (%zu bytes) holds neither its old nor "
				 "its new bytes", where, d->name, d->len);
	}
	for (i = 0; i < old->n; i++) {
		const struct mdoc *d = &old->d[i];
		if (model_find(new, d->name) >= 0 && model_find(got, d->name) < 0)
			fail_msg("%s: %s lost", where, d->name);
		if (has_bytes(new, d->data, d->len) &&
		    !has_bytes(got, d->data, d->len))
			fail_msg("%s: the bytes of %s lost", where, d->name);
	}
}

static void expect_equal(const struct model *got, const struct model *want,
			 const char *where)
{
	if (got->n != want->n)
		fail_msg("%s: %zu documents, want %zu", where, got->n, want->n);
	for (size_t i = 0; i < want->n; i++)
		if (!holds(got, want->d[i].name, want->d[i].data, want->d[i].len))
			fail_msg("%s: %s differs", where, want->d[i].name);
}

/* Reopen read-only, then read-write (recovery), and check both. */
static void verify(const char *dir, const struct model *old,
		   const struct model *new, bool done, const char *where)
{
	struct model got = { .n = 0 };
	int ro, problems = 0;

	for (ro = 1; ro >= 0; ro--) {
		model_load(dir, ro, &got);
		if (done)
			expect_equal(&got, new, where);
		else
			expect_either(&got, old, new, where);
		model_free(&got);
	}
	assert_true(arfs_docarray_check(dir, 36, count_report, &problems) >= 0);
	if (problems)
		fail_msg("%s: arfs_docarray_check found %d problems", where,
			 problems);
}

/* ---- scenarios ---- */

enum {
	ST_PUT_NEW, ST_PUT_NEW_FSYNC, ST_PUT_REPLACE, ST_PUT_BIG_FSYNC,
	ST_PUT_DUP, ST_DELETE, ST_DELETE_DUP, ST_RENAME_FREE,
	ST_RENAME_OVER_AFTER, ST_RENAME_OVER_BEFORE, ST_COMPACT, ST_PUT_FIVE,
	ST_COUNT
};
static const char *const step_names[ST_COUNT] = {
	"put-new", "put-new-fsync", "put-replace", "put-big-fsync", "put-dup",
	"delete", "delete-dup", "rename-free", "rename-over-after",
	"rename-over-before", "compact", "put-five" };

#define BIG_LEN (2u * 4096 + 1000) /* spans pages: tearable */

static uint8_t *big_doc(void)
{
	static uint8_t buf[BIG_LEN];

	for (size_t i = 0; i < BIG_LEN; i++)
		buf[i] = (uint8_t)(i * 131 + i / 4096);
	return buf;
}

/* Run one step on da and apply it to m (the state if it succeeds). */
static int run_step(struct arfs_docarray *da, int step, struct model *m)
{
	static const char text[] = "a replacement document, longer than the "
				   "one it replaces\n";
	size_t tl = sizeof(text) - 1;
	int rc = 0;

	switch (step) {
	case ST_PUT_NEW:
		rc = arfs_docarray_put_mem(da, "fresh", 5, text, tl, NULL, 0);
		model_put(m, "fresh", text, tl);
		break;
	case ST_PUT_NEW_FSYNC:
		rc = arfs_docarray_put_mem(da, "fresh2", 6, "f2\n", 3, NULL,
					   ARFS_PUT_FSYNC);
		model_put(m, "fresh2", "f2\n", 3);
		break;
	case ST_PUT_REPLACE:
		rc = arfs_docarray_put_mem(da, "d00", 3, text, tl, NULL, 0);
		model_put(m, "d00", text, tl);
		break;
	case ST_PUT_BIG_FSYNC:
		rc = arfs_docarray_put_mem(da, "d03", 3, big_doc(), BIG_LEN,
					   NULL, ARFS_PUT_FSYNC);
		model_put(m, "d03", big_doc(), BIG_LEN);
		break;
	case ST_PUT_DUP: /* d18 has two live rows (14 and 18) */
		rc = arfs_docarray_put_mem(da, "d18", 3, text, tl, NULL,
					   ARFS_PUT_FSYNC);
		model_put(m, "d18", text, tl);
		break;
	case ST_DELETE:
		rc = arfs_docarray_delete(da, "d17", 3);
		model_del(m, "d17");
		break;
	case ST_DELETE_DUP:
		rc = arfs_docarray_delete(da, "d18", 3);
		model_del(m, "d18");
		break;
	case ST_RENAME_FREE:
		rc = arfs_docarray_rename(da, "d09", 3, "n09", 3, 0);
		model_rename(m, "d09", "n09");
		break;
	case ST_RENAME_OVER_AFTER: /* d16 (row 16) over d04 (row 4) */
		rc = arfs_docarray_rename(da, "d16", 3, "d04", 3, 0);
		model_rename(m, "d16", "d04");
		break;
	case ST_RENAME_OVER_BEFORE: /* d06 (row 6) over d13 (row 13) */
		rc = arfs_docarray_rename(da, "d06", 3, "d13", 3, 0);
		model_rename(m, "d06", "d13");
		break;
	case ST_COMPACT:
		rc = arfs_docarray_compact(da);
		break;
	case ST_PUT_FIVE: /* rows 20..24: row 24 crosses a page of header.bin */
		for (int i = 0; !rc && i < 5; i++) {
			char name[8];
			snprintf(name, sizeof(name), "m%d", i);
			rc = arfs_docarray_put_mem(da, name, 2, name, 2, NULL, 0);
			model_put(m, name, name, 2);
		}
		break;
	}
	return rc;
}

/* A scenario: steps run in order on one open array; -1 ends the list. */
struct scenario {
	const char *name;
	int steps[MAX_STEPS];
};

static const struct scenario scenarios[] = {
	{ "put-new", { ST_PUT_NEW, -1 } },
	{ "put-new-fsync", { ST_PUT_NEW_FSYNC, -1 } },
	{ "put-replace", { ST_PUT_REPLACE, -1 } },
	{ "put-big-fsync", { ST_PUT_BIG_FSYNC, -1 } },
	{ "put-dup", { ST_PUT_DUP, -1 } },
	{ "delete", { ST_DELETE, -1 } },
	{ "delete-dup", { ST_DELETE_DUP, -1 } },
	{ "rename-free", { ST_RENAME_FREE, -1 } },
	{ "rename-over-after", { ST_RENAME_OVER_AFTER, -1 } },
	{ "rename-over-before", { ST_RENAME_OVER_BEFORE, -1 } },
	{ "compact", { ST_COMPACT, -1 } },
	{ "put-five", { ST_PUT_FIVE, -1 } },
	{ "sequence", { ST_PUT_BIG_FSYNC, ST_RENAME_FREE, ST_DELETE_DUP,
			ST_PUT_NEW, ST_COMPACT, ST_RENAME_OVER_BEFORE,
			ST_PUT_REPLACE, -1 } },
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

/*
 * Run scenario sc on dir with the io table armed by the caller. Returns
 * the number of steps that completed; *rc the failing step's error.
 * `progress` (may be NULL) is set to the step being run.
 */
static int run_scenario(const char *dir, const struct scenario *sc,
			volatile int *progress, int *rc)
{
	struct arfs_docarray *da;
	struct model scratch = { .n = 0 };
	int i;

	if (progress)
		*progress = -1;
	*rc = open_da(dir, false, &da);
	if (*rc)
		return -1;
	for (i = 0; i < MAX_STEPS && sc->steps[i] >= 0; i++) {
		if (progress)
			*progress = i;
		*rc = run_step(da, sc->steps[i], &scratch);
		if (*rc)
			break;
	}
	if (progress)
		*progress = i;
	model_free(&scratch);
	arfs_docarray_close(da);
	return i;
}

/*
 * The models of sc: states[i] is the state after i steps (states[0] the
 * base). Computed by running sc once without faults on a copy.
 */
static int scenario_states(const struct scenario *sc, bool sidecar,
			   struct model *states)
{
	char *dir = fresh_copy(sidecar);
	struct arfs_docarray *da;
	int i, n = 0;

	model_copy(&states[0], sidecar ? &base_sidecar : &base_plain);
	assert_int_equal(open_da(dir, false, &da), 0);
	for (i = 0; i < MAX_STEPS && sc->steps[i] >= 0; i++) {
		model_copy(&states[i + 1], &states[i]);
		assert_int_equal(run_step(da, sc->steps[i], &states[i + 1]), 0);
		n = i + 1;
	}
	arfs_docarray_close(da);
	/* The model must agree with what the engine made of it. */
	verify(dir, NULL, &states[n], true, sc->name);
	tu_rmrf(dir);
	free(dir);
	return n;
}

static void fault_sweep(const struct scenario *sc, bool sidecar, int kind)
{
	struct model states[MAX_STEPS + 1];
	char where[160];
	int nsteps, done, rc;
	long at;

	memset(states, 0, sizeof(states));
	nsteps = scenario_states(sc, sidecar, states);
	for (at = 1; at <= MAX_POINTS; at++) {
		char *dir = fresh_copy(sidecar);
		bool hit;
		fault_arm(kind, at, false);
		done = run_scenario(dir, sc, NULL, &rc);
		hit = fault_disarm();
		snprintf(where, sizeof(where), "%s%s: %s #%ld fails (rc %d, "
			 "%d steps done, in %s)", sc->name,
			 sidecar ? "+sidecar" : "", kind_names[kind], at, rc,
			 done, done >= 0 && done < nsteps ?
			 step_names[sc->steps[done]] : "open/close");
		if (hit && rc == 0 && done == nsteps && kind != FK_MMAP)
			fail_msg("%s: the fault was not reported", where);
		if (!hit && (rc || done != nsteps))
			fail_msg("%s: failed without a fault", where);
		if (done < 0)
			done = 0;
		if (!hit || (rc == 0 && done == nsteps))
			verify(dir, NULL, &states[done], true, where);
		else
			verify(dir, &states[done], &states[done + 1], false,
			       where);
		tu_rmrf(dir);
		free(dir);
		if (!hit)
			break;
		points_fault++;
	}
	assert_true(at <= MAX_POINTS);
	for (int i = 0; i <= nsteps; i++)
		model_free(&states[i]);
}

static void crash_sweep(const struct scenario *sc, bool sidecar, int kind)
{
	struct model states[MAX_STEPS + 1];
	volatile int *progress;
	char where[160];
	int nsteps, st, step;
	long at;

	progress = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(progress != MAP_FAILED);
	memset(states, 0, sizeof(states));
	nsteps = scenario_states(sc, sidecar, states);
	for (at = 1; at <= MAX_POINTS; at++) {
		char *dir = child_dir = fresh_copy(sidecar);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int rc, done;
			fault_arm(kind, at, true);
			done = run_scenario(dir, sc, progress, &rc);
			_exit(rc || done != nsteps ? 3 : 0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		step = *progress;
		snprintf(where, sizeof(where), "%s%s: death at %s #%ld (in %s)",
			 sc->name, sidecar ? "+sidecar" : "", kind_names[kind],
			 at, step >= 0 && step < nsteps ?
			 step_names[sc->steps[step]] : "open/close");
		if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 &&
				       WEXITSTATUS(st) != CRASH_EXIT))
			fail_msg("%s: child status %d", where, st);
		if (WEXITSTATUS(st) == 0) {
			verify(dir, NULL, &states[nsteps], true, where);
		} else {
			if (step < 0) /* died opening: recovery of nothing */
				step = 0;
			/* Steps before `step` returned 0: they must be there. */
			verify(dir, &states[step], &states[step + 1], false,
			       where);
			points_crash++;
		}
		tu_rmrf(dir);
		free(dir);
		if (WEXITSTATUS(st) == 0)
			break;
	}
	assert_true(at <= MAX_POINTS);
	for (int i = 0; i <= nsteps; i++)
		model_free(&states[i]);
	munmap((void *)progress, sizeof(int));
}

/* ARFS_FAULT_ONLY=name runs one scenario (debugging). */
static bool scen_skipped(const struct scenario *sc)
{
	const char *only = getenv("ARFS_FAULT_ONLY");

	return only && strcmp(only, sc->name);
}

static void test_fault_sweep(void **state)
{
	for (size_t s = 0; s < NSCEN; s++)
		if (!scen_skipped(&scenarios[s]))
		for (int sc = 0; sc < 2; sc++)
			for (int k = 0; k < FK_COUNT; k++)
				fault_sweep(&scenarios[s], sc, k);
	printf("fault points injected: %ld\n", points_fault);
	if (!getenv("ARFS_FAULT_ONLY"))
		assert_true(points_fault > 500);
}

static void test_crash_sweep(void **state)
{
	static const int kinds[] = { FK_PWRITE, FK_FSYNC, FK_RENAME,
				     FK_FTRUNCATE, FK_UNLINK };

	for (size_t s = 0; s < NSCEN; s++)
		if (!scen_skipped(&scenarios[s]))
		for (int sc = 0; sc < 2; sc++)
			for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
				crash_sweep(&scenarios[s], sc, kinds[k]);
	printf("crash points: %ld\n", points_crash);
	if (!getenv("ARFS_FAULT_ONLY"))
		assert_true(points_crash > 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_sweep),
		cmocka_unit_test(test_crash_sweep),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
