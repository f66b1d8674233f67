/*
 * test_groupw.c - the segment group writer: create, append, replace,
 * insert, remove, commit and read back through the reader (group +
 * blockmgr); the frame_idx row count; recovery of an uncommitted tail;
 * a failed commit (io fault) leaves the old state; the directory lock;
 * compaction and LZ4 conversion; and kill -9 of a child committing in a
 * loop at random moments (fixed seed), after which every reopen reads one
 * whole committed state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blockmgr.h"
#include "group.h"
#include "groupw.h"
#include "io.h"
#include "segment.h"
#include "testutil.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "util.h"

static const char *names[] = { "n", "s" };
static const unsigned types[] = { ARFS_FT_INTEGER, ARFS_FT_STRING };

/* Text of a whole column as the mount would show it; malloc'd. */
static char *column_text(const char *dir, const char *name)
{
	struct arfs_blockmgr *mgr;
	struct arfs_group *g;
	struct arfs_column *col;
	struct arfs_textbuf tb = { 0 };
	const struct arfs_group_column *gc;
	char buf[4096];
	ssize_t n;
	int rc = arfs_group_open(dir, &g);

	if (rc)
		return NULL;
	assert_int_equal(arfs_blockmgr_new(NULL, &mgr), 0);
	gc = arfs_group_find(g, name);
	assert_non_null(gc);
	rc = arfs_blockmgr_open_column(mgr, g, (uint64_t)(gc - g->cols), &col);
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
	if (!rc)
		arfs_blockmgr_close_column(mgr, col);
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
	if (rc) {
		arfs_textbuf_release(&tb);
		return NULL;
	}
	arfs_textbuf_add(&tb, "", 1);
	return tb.p;
}

static void put_ints(struct arfs_groupw *gw, uint64_t seg, uint64_t blk,
		     int64_t from, int count, bool insert)
{
	struct arfs_typedenc enc;

	arfs_typedenc_init(&enc, ARFS_FT_INTEGER);
	for (int i = 0; i < count; i++)
		arfs_typedenc_add_int(&enc, from + i);
	if (insert)
		assert_int_equal(arfs_groupw_insert_enc(gw, seg, 0, blk, &enc), 0);
	else
		assert_int_equal(arfs_groupw_put_enc(gw, seg, 0, blk, &enc), 0);
	arfs_typedenc_release(&enc);
}

static void put_strs(struct arfs_groupw *gw, uint64_t seg, uint64_t blk,
		     const char *tag, int count)
{
	struct arfs_typedenc enc;
	char s[64];

	arfs_typedenc_init(&enc, ARFS_FT_STRING);
	for (int i = 0; i < count; i++) {
		snprintf(s, sizeof(s), "%s%d", tag, i);
		arfs_typedenc_add_str(&enc, s, strlen(s));
	}
	assert_int_equal(arfs_groupw_put_enc(gw, seg, 1, blk, &enc), 0);
	arfs_typedenc_release(&enc);
}

static struct arfs_groupw *make_group(const char *dir,
				      const struct arfs_groupw_opts *o)
{
	struct arfs_groupw *gw;
	uint64_t seg;

	assert_int_equal(arfs_groupw_create(dir, 2, names, types, o, &gw), 0);
	assert_int_equal(arfs_groupw_add_segment(gw, &seg), 0);
	put_ints(gw, seg, 0, 1, 3, false);
	put_strs(gw, seg, 0, "a", 3);
	assert_int_equal(arfs_groupw_commit(gw), 0);
	return gw;
}

static void test_create_and_edit(void **state)
{
	char *dir = tu_tmpdir("gw"), *t;
	struct arfs_groupw *gw = make_group(dir, NULL);
	struct arfs_group *g;

	(void)state;
	t = column_text(dir, "n");
	assert_string_equal(t, "1\n2\n3\n");
	free(t);
	t = column_text(dir, "s");
	assert_string_equal(t, "a0\na1\na2\n");
	free(t);
	/* staged changes are invisible until the commit */
	put_ints(gw, 0, 1, 10, 2, false);		/* append */
	t = column_text(dir, "n");
	assert_string_equal(t, "1\n2\n3\n");
	free(t);
	assert_int_equal(arfs_groupw_commit(gw), 0);
	t = column_text(dir, "n");
	assert_string_equal(t, "1\n2\n3\n10\n11\n");
	free(t);
	/* replace with a different row count, insert, remove */
	put_ints(gw, 0, 0, 7, 1, false);
	put_ints(gw, 0, 1, 100, 4, true);
	assert_int_equal(arfs_groupw_remove(gw, 0, 0, 2), 0);
	assert_int_equal(arfs_groupw_remove(gw, 0, 0, 9), -ERANGE);
	assert_int_equal(arfs_groupw_commit(gw), 0);
	t = column_text(dir, "n");
	assert_string_equal(t, "7\n100\n101\n102\n103\n");
	free(t);
	/* the index and frame_idx follow the row counts */
	assert_int_equal(arfs_group_open(dir, &g), 0);
	assert_int_equal(g->cols[0].rows, 5);
	assert_int_equal(g->cols[1].rows, 3);
	assert_int_equal(g->nrows, 5);
	assert_true(g->sidx[0].has_seg_len);
	arfs_group_free(g);
	/* a second writer is refused */
	{
		struct arfs_groupw *gw2;

		assert_int_equal(arfs_groupw_open(dir, NULL, &gw2), -EBUSY);
	}
	arfs_groupw_close(gw);
	assert_int_equal(arfs_groupw_open(dir, NULL, &gw), 0);
	assert_int_equal(arfs_groupw_nblocks(gw, 0, 0), 2);
	arfs_groupw_close(gw);
	tu_rmrf(dir);
	free(dir);
}

/* Path of the one file in dir ending in suffix (static buffer), or "". */
static const char *find_file(const char *dir, const char *suffix)
{
	static char path[4096];
	char pat[4096];
	glob_t gl;

	snprintf(pat, sizeof(pat), "%s/*%s", dir, suffix);
	path[0] = 0;
	if (!glob(pat, 0, NULL, &gl) && gl.gl_pathc == 1)
		snprintf(path, sizeof(path), "%s", gl.gl_pathv[0]);
	globfree(&gl);
	return path;
}

static off_t file_size(const char *dir, const char *suffix)
{
	struct stat st;

	return stat(find_file(dir, suffix), &st) ? -1 : st.st_size;
}

static void append_garbage(const char *dir)
{
	int fd = open(find_file(dir, ".0000"), O_WRONLY | O_APPEND);
	char junk[12345];

	memset(junk, 0x5a, sizeof(junk));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
}

static void test_recover_tail(void **state)
{
	char *dir = tu_tmpdir("gwtail"), *t;
	struct arfs_groupw *gw = make_group(dir, NULL);
	off_t committed = file_size(dir, ".0000");

	(void)state;
	arfs_groupw_close(gw);
	/* an interrupted append: bytes past the committed length */
	append_garbage(dir);
	assert_int_equal(file_size(dir, ".0000"), committed + 12345);
	t = column_text(dir, "s");		/* readers ignore the tail */
	assert_string_equal(t, "a0\na1\na2\n");
	free(t);
	assert_int_equal(arfs_groupw_open(dir, NULL, &gw), 0);
	assert_int_equal(file_size(dir, ".0000"), committed);	/* truncated */
	put_ints(gw, 0, 1, 4, 1, false);
	/* close without commit drops the staged bytes */
	arfs_groupw_close(gw);
	assert_int_equal(file_size(dir, ".0000"), committed);
	/* a segment cut short of its committed length is damage */
	assert_int_equal(truncate(find_file(dir, ".0000"), committed - 10), 0);
	assert_null(column_text(dir, "n"));
	assert_int_equal(arfs_groupw_open(dir, NULL, &gw), -EUCLEAN);
	tu_rmrf(dir);
	free(dir);
}

/* ---- io faults: a failed commit leaves the old state ------------------ */

static int fail_rename;

static int faulty_renameat(int od, const char *op, int nd, const char *np)
{
	if (fail_rename) {
		errno = EIO;
		return -1;
	}
	return arfs_io_default.renameat(od, op, nd, np);
}

static void test_failed_commit(void **state)
{
	static struct arfs_io_ops ops;
	char *dir = tu_tmpdir("gwfault"), *t;
	struct arfs_groupw *gw = make_group(dir, NULL);
	int rc;

	(void)state;
	ops = arfs_io_default;
	ops.renameat = faulty_renameat;
	arfs_io_set(&ops);
	fail_rename = 1;
	put_ints(gw, 0, 0, 50, 2, false);
	rc = arfs_groupw_commit(gw);
	fail_rename = 0;
	arfs_io_set(NULL);
	assert_int_equal(rc, -EIO);
	arfs_groupw_close(gw);
	t = column_text(dir, "n");
	assert_string_equal(t, "1\n2\n3\n");
	free(t);
	assert_int_equal(arfs_groupw_open(dir, NULL, &gw), 0);	/* recovers */
	arfs_groupw_close(gw);
	t = column_text(dir, "n");
	assert_string_equal(t, "1\n2\n3\n");
	free(t);
	tu_rmrf(dir);
	free(dir);
}

/* ---- compaction ------------------------------------------------------- */

static void test_compact_and_lz4(void **state)
{
	char *dir = tu_tmpdir("gwcompact"), *t, *before;
	struct arfs_groupw *gw = make_group(dir, NULL);
	struct arfs_group *g;
	off_t size_before;

	(void)state;
	for (int i = 0; i < 20; i++) {	/* dead blocks */
		put_ints(gw, 0, 0, i * 1000, 500, false);
		assert_int_equal(arfs_groupw_commit(gw), 0);
	}
	before = column_text(dir, "n");
	size_before = file_size(dir, ".0000");
	assert_int_equal(arfs_groupw_compact(gw, ARFS_GROUPW_KEEP), 0);
	t = column_text(dir, "n");
	assert_string_equal(t, before);
	free(t);
	assert_true(file_size(dir, ".0001") < size_before / 4);
	assert_int_equal(file_size(dir, ".0000"), -1);	/* old file gone */
	assert_int_equal(arfs_groupw_compact(gw, ARFS_GROUPW_LZ4), 0);
	arfs_groupw_close(gw);
	t = column_text(dir, "n");
	assert_string_equal(t, before);
	free(t);
	free(before);
	/* only Turi's own flags remain */
	assert_int_equal(arfs_group_open(dir, &g), 0);
	{
		char path[4096];
		int fd;
		struct arfs_segment *seg;

		snprintf(path, sizeof(path), "%s/%s", dir,
			 g->sidx[0].seg_files[0]);
		fd = open(path, O_RDONLY);
		assert_int_equal(arfs_segment_parse(fd, "x", &seg), 0);
		for (uint64_t c = 0; c < seg->ncols; c++)
			for (uint64_t b = 0; b < seg->nblocks[c]; b++)
				assert_false(seg->blocks[c][b].flags &
					     ARFS_BLOCK_ZSTD);
		assert_true(seg->blocks[0][0].flags & ARFS_BLOCK_LZ4);
		arfs_segment_free(seg);
		close(fd);
	}
	arfs_group_free(g);
	tu_rmrf(dir);
	free(dir);
}

/* ---- kill -9 during a commit loop -------------------------------------- */

/*
 * Round k writes column n as k repeated 300 times and column s as 200
 * strings "k" - each round in one commit, in blocks spread over two
 * segments. A reader must see both columns at the same round.
 */
static int write_round(struct arfs_groupw *gw, int64_t k)
{
	struct arfs_typedenc e0, e1;
	char s[32];
	int rc = 0;

	arfs_typedenc_init(&e0, ARFS_FT_INTEGER);
	arfs_typedenc_init(&e1, ARFS_FT_STRING);
	snprintf(s, sizeof(s), "%" PRId64, k);
	for (int i = 0; i < 300; i++)
		arfs_typedenc_add_int(&e0, k);
	for (int i = 0; i < 200; i++)
		arfs_typedenc_add_str(&e1, s, strlen(s));
	for (uint64_t seg = 0; !rc && seg < 2; seg++) {
		uint64_t b0 = arfs_groupw_nblocks(gw, seg, 0) ? 0 : 0;

		rc = arfs_groupw_put_enc(gw, seg, 0, b0, &e0) ?:
		     arfs_groupw_put_enc(gw, seg, 1, b0, &e1);
	}
	arfs_typedenc_release(&e0);
	arfs_typedenc_release(&e1);
	return rc;
}

/* Commit rounds 1, 2, ... until killed; one byte to fd after each commit. */
static void child_loop(const char *dir, int fd)
{
	struct arfs_groupw *gw;

	if (arfs_groupw_open(dir, NULL, &gw))
		_exit(3);
	for (int64_t k = 1;; k++) {
		if (write_round(gw, k))
			_exit(4);
		if (k % 7 == 0 && arfs_groupw_compact(gw, ARFS_GROUPW_KEEP))
			_exit(5);
		if (arfs_groupw_commit(gw))
			_exit(6);
		/* a full pipe only means the parent stopped counting */
		(void)!write(fd, "c", 1);
	}
}

static long round_of(const char *text, int lines)
{
	long k = atol(text);
	const char *p = text;
	int n = 0;

	for (; *p; n++) {
		const char *nl = strchr(p, '\n');

		if (!nl || atol(p) != k)
			return -1;
		p = nl + 1;
	}
	return n == lines ? k : -2;
}

static void test_kill9_loop(void **state)
{
	char *dir = tu_tmpdir("gwkill"), *a, *b;
	struct arfs_groupw *gw;
	uint64_t seg;
	long last = 0, seen_max = 0;
	unsigned seed = 12345;
	/* ARFS_TEST_SLOW=N stretches the delays (valgrind runs ~30x slower) */
	unsigned slow = getenv("ARFS_TEST_SLOW") ? (unsigned)atoi(getenv(
		"ARFS_TEST_SLOW")) : 1;

	(void)state;
	assert_int_equal(arfs_groupw_create(dir, 2, names, types, NULL, &gw), 0);
	for (int s = 0; s < 2; s++)
		assert_int_equal(arfs_groupw_add_segment(gw, &seg), 0);
	assert_int_equal(write_round(gw, 0), 0);
	assert_int_equal(arfs_groupw_commit(gw), 0);
	arfs_groupw_close(gw);
	for (int round = 0; round < 25; round++) {
		int st, pfd[2];
		pid_t pid;
		char c;

		assert_int_equal(pipe2(pfd, O_NONBLOCK), 0);
		pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			child_loop(dir, pfd[1]);
		}
		close(pfd[1]);
		/*
		 * Every fifth round waits for the child's second commit, so
		 * that a loaded machine, where the random delay can pass
		 * before any commit, still tests recovery past round 1.
		 */
		for (int commits = 0; round % 5 == 4 && commits < 2;) {
			struct pollfd p = { .fd = pfd[0], .events = POLLIN };

			if (poll(&p, 1, 60000) != 1)
				fail_msg("round %d: no commit in 60 s", round);
			if (read(pfd[0], &c, 1) == 1)
				commits++;
		}
		usleep((2000 + rand_r(&seed) % 40000) * (slow ? slow : 1));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		close(pfd[0]);
		assert_true(WIFSIGNALED(st));
		/* a reader first (sees the tail), then a writer (recovers) */
		for (int pass = 0; pass < 2; pass++) {
			a = column_text(dir, "n");
			b = column_text(dir, "s");
			assert_non_null(a);
			assert_non_null(b);
			if (round_of(a, 600) != round_of(b, 400) ||
			    round_of(a, 600) < 0)
				fail_msg("round %d: columns disagree: n at %ld, "
					 "s at %ld", round, round_of(a, 600),
					 round_of(b, 400));
			if (round_of(a, 600) > seen_max)
				seen_max = round_of(a, 600);
			free(a);
			free(b);
			if (pass == 0) {
				assert_int_equal(arfs_groupw_open(dir, NULL,
								  &gw), 0);
				arfs_groupw_close(gw);
			}
		}
		last++;
	}
	assert_int_equal(last, 25);
	/* the child got commits in before being killed */
	print_message("kill -9: 25 kills, highest committed round seen %ld\n",
		      seen_max);
	assert_true(seen_max > 1);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_edit),
		cmocka_unit_test(test_recover_tail),
		cmocka_unit_test(test_failed_commit),
		cmocka_unit_test(test_compact_and_lz4),
		cmocka_unit_test(test_kill9_loop),
	};

	arfs_log_set_level(ARFS_LOG_WARNING);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
