/*
 * test_faults_group.c - the fault and crash sweeps of test_faults.c
 * (promise 1 of docs/RELIABILITY.md) over commits of the segment group
 * writer (core/groupw.c): append, replace, new segment, compact, LZ4
 * conversion and a sequence; a group commit is atomic, so a reader must
 * see exactly the state before or after the interrupted step, also after
 * a writer's recovery. The number of points is printed. The io table
 * that fails or dies at the Nth call, and the runner setup, are shared
 * with test_faults.c (testutil_faults.c).
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

/* ---- segment groups: commits of the group writer ---- */

/*
 * A group commit is atomic as a whole (the index rename): after a fault or
 * a death during step i, a reader sees exactly the state before or after
 * it, and so does a reader after a writer's recovery. States are the text
 * of both columns, as the mount shows them.
 */
enum { GS_APPEND, GS_REPLACE, GS_SEGMENT, GS_COMPACT, GS_LZ4, GS_COUNT };
static const char *const gstep_names[GS_COUNT] = {
	"append", "replace", "new-segment", "compact", "compact-lz4" };
static const char *const gcol_names[] = { "n", "s" };
static const unsigned gcol_types[] = { ARFS_FT_INTEGER, ARFS_FT_STRING };

static const struct { const char *name; int steps[MAX_STEPS]; } gscenarios[] = {
	{ "group-append", { GS_APPEND, -1 } },
	{ "group-replace", { GS_REPLACE, -1 } },
	{ "group-new-segment", { GS_SEGMENT, -1 } },
	{ "group-compact", { GS_REPLACE, GS_COMPACT, -1 } },
	{ "group-sequence", { GS_APPEND, GS_SEGMENT, GS_LZ4, GS_REPLACE, -1 } },
};
#define NGSCEN (sizeof(gscenarios) / sizeof(gscenarios[0]))

/* Column text of the committed group, "n-text|s-text"; NULL if unreadable. */
static char *group_state(const char *dir)
{
	struct arfs_textbuf tb = { 0 };
	struct arfs_blockmgr *mgr;
	struct arfs_column *col;
	struct arfs_group *g;
	char buf[4096];
	ssize_t n;
	int rc = arfs_group_open(dir, &g);

	if (rc)
		return NULL;
	assert_int_equal(arfs_blockmgr_new(NULL, &mgr), 0);
	for (uint64_t c = 0; !rc && c < g->ncols; c++) {
		rc = arfs_blockmgr_open_column(mgr, g, c, &col);
		for (uint64_t i = 0; !rc && i < arfs_column_nblocks(col); i++)
			for (uint64_t off = 0;; off += (uint64_t)n) {
				n = arfs_blockmgr_read_text(mgr, col, i, buf,
							    sizeof(buf), off);
				if (n <= 0) {
					rc = (int)n;
					break;
				}
				arfs_textbuf_add(&tb, buf, (size_t)n);
			}
		if (!rc) {
			arfs_blockmgr_close_column(mgr, col);
			arfs_textbuf_add(&tb, "|", 1);
		}
	}
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
	if (rc) {
		arfs_textbuf_release(&tb);
		return NULL;
	}
	arfs_textbuf_add(&tb, "", 1);
	return tb.p;
}

static int gput(struct arfs_groupw *gw, uint64_t seg, uint64_t blk,
		int64_t from, int count)
{
	struct arfs_typedenc ei, es;
	char str[64];
	int rc;

	arfs_typedenc_init(&ei, ARFS_FT_INTEGER);
	arfs_typedenc_init(&es, ARFS_FT_STRING);
	for (int i = 0; i < count; i++) {
		snprintf(str, sizeof(str), "v%" PRId64 "-%d", from, i);
		arfs_typedenc_add_int(&ei, from + i);
		arfs_typedenc_add_str(&es, str, strlen(str));
	}
	rc = arfs_groupw_put_enc(gw, seg, 0, blk, &ei);
	if (!rc)
		rc = arfs_groupw_put_enc(gw, seg, 1, blk, &es);
	arfs_typedenc_release(&ei);
	arfs_typedenc_release(&es);
	return rc;
}

static int gstep(struct arfs_groupw *gw, int step)
{
	uint64_t seg;
	int rc = 0;

	switch (step) {
	case GS_APPEND:
		rc = gput(gw, 0, arfs_groupw_nblocks(gw, 0, 0), 100, 500);
		break;
	case GS_REPLACE:
		rc = gput(gw, 0, 0, 7000, 40);
		break;
	case GS_SEGMENT:
		rc = arfs_groupw_add_segment(gw, &seg);
		if (!rc)
			rc = gput(gw, seg, 0, -50, 300);
		break;
	case GS_COMPACT:
		return arfs_groupw_compact(gw, ARFS_GROUPW_KEEP);
	case GS_LZ4:
		return arfs_groupw_compact(gw, ARFS_GROUPW_LZ4);
	}
	return rc ? rc : arfs_groupw_commit(gw);
}

/* A fresh committed group of 3 rows in one segment. */
static char *fresh_group(void)
{
	static int seq;
	struct arfs_groupw *gw;
	uint64_t seg;
	char *dir;

	if (asprintf(&dir, "%s/g%d", scratch_root, seq++) < 0)
		abort();
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(arfs_groupw_create(dir, 2, gcol_names, gcol_types,
					    NULL, &gw), 0);
	assert_int_equal(arfs_groupw_add_segment(gw, &seg), 0);
	assert_int_equal(gput(gw, seg, 0, 1, 3), 0);
	assert_int_equal(arfs_groupw_commit(gw), 0);
	arfs_groupw_close(gw);
	return dir;
}

static int run_gscenario(const char *dir, const int *steps,
			 volatile int *progress, int *rc)
{
	struct arfs_groupw *gw;
	int i;

	if (progress)
		*progress = -1;
	*rc = arfs_groupw_open(dir, NULL, &gw);
	if (*rc)
		return -1;
	for (i = 0; i < MAX_STEPS && steps[i] >= 0; i++) {
		if (progress)
			*progress = i;
		*rc = gstep(gw, steps[i]);
		if (*rc)
			break;
	}
	if (progress)
		*progress = i;
	arfs_groupw_close(gw);
	return i;
}

/* states[i]: text after i steps, from a run without faults. */
static int gscenario_states(const int *steps, char **states)
{
	char *dir = fresh_group();
	int rc, n;

	states[0] = group_state(dir);
	assert_non_null(states[0]);
	for (n = 0; n < MAX_STEPS && steps[n] >= 0; n++) {
		int one[2] = { steps[n], -1 };
		assert_int_equal(run_gscenario(dir, one, NULL, &rc), 1);
		states[n + 1] = group_state(dir);
		assert_non_null(states[n + 1]);
	}
	tu_rmrf(dir);
	free(dir);
	return n;
}

/* Before or after the step, read plainly and after a writer's recovery. */
static void gverify(const char *dir, char **states, int step, bool done,
		    const char *where)
{
	struct arfs_groupw *gw;
	char *got;

	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			int rc = arfs_groupw_open(dir, NULL, &gw);
			if (rc)
				fail_msg("%s: writer cannot reopen: %d", where, rc);
			arfs_groupw_close(gw);
		}
		got = group_state(dir);
		if (!got)
			fail_msg("%s: the group cannot be read%s", where,
				 pass ? " after recovery" : "");
		if (done ? strcmp(got, states[step]) :
		    strcmp(got, states[step]) && strcmp(got, states[step + 1]))
			fail_msg("%s: the group shows neither the old nor the "
				 "new state%s", where, pass ? " after recovery" : "");
		free(got);
	}
}

static void gsweep(size_t s, int kind, bool crash)
{
	char *states[MAX_STEPS + 1] = { 0 }, where[160];
	const int *steps = gscenarios[s].steps;
	volatile int *progress = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int nsteps = gscenario_states(steps, states), done = 0, rc = 0, st;
	bool hit;
	long at;

	assert_true(progress != MAP_FAILED);
	for (at = 1; at <= MAX_POINTS; at++) {
		char *dir = child_dir = fresh_group();
		if (crash) {
			pid_t pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				fault_arm(kind, at, true);
				done = run_gscenario(dir, steps, progress, &rc);
				_exit(rc || done != nsteps ? 3 : 0);
			}
			assert_int_equal(waitpid(pid, &st, 0), pid);
			if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 &&
					       WEXITSTATUS(st) != CRASH_EXIT))
				fail_msg("%s: death at %s #%ld: child status %d",
					 gscenarios[s].name, kind_names[kind], at, st);
			hit = WEXITSTATUS(st) == CRASH_EXIT;
			done = *progress;
		} else {
			fault_arm(kind, at, false);
			done = run_gscenario(dir, steps, NULL, &rc);
			hit = fault_disarm();
			if (!hit && (rc || done != nsteps))
				fail_msg("%s: failed without a fault (%d)",
					 gscenarios[s].name, rc);
		}
		if (done < 0)
			done = 0;
		snprintf(where, sizeof(where), "%s: %s at %s #%ld (in %s)",
			 gscenarios[s].name, crash ? "death" : "fault",
			 kind_names[kind], at, done < nsteps ?
			 gstep_names[steps[done]] : "open/close");
		if (!hit || (!crash && !rc && done == nsteps))
			gverify(dir, states, nsteps, true, where);
		else
			gverify(dir, states, done, false, where);
		tu_rmrf(dir);
		free(dir);
		if (!hit)
			break;
		if (crash)
			points_gcrash++;
		else
			points_gfault++;
	}
	assert_true(at <= MAX_POINTS);
	for (int i = 0; i <= nsteps; i++)
		free(states[i]);
	munmap((void *)progress, sizeof(int));
}

static void test_group_sweeps(void **state)
{
	static const int crash_kinds[] = { FK_PWRITE, FK_FSYNC, FK_RENAME,
					   FK_FTRUNCATE, FK_UNLINK };

	for (size_t s = 0; s < NGSCEN; s++) {
		if (getenv("ARFS_FAULT_ONLY") &&
		    strcmp(getenv("ARFS_FAULT_ONLY"), gscenarios[s].name))
			continue;
		for (int k = 0; k < FK_COUNT; k++)
			gsweep(s, k, false);
		for (size_t k = 0; k < sizeof(crash_kinds) / sizeof(int); k++)
			gsweep(s, crash_kinds[k], true);
	}
	printf("group fault points injected: %ld, group crash points: %ld\n",
	       points_gfault, points_gcrash);
	if (!getenv("ARFS_FAULT_ONLY")) {
		assert_true(points_gfault > 100);
		assert_true(points_gcrash > 50);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_sweeps),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
