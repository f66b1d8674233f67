/*
 * test_viewsize.c - core/viewsize.c and its use by core/view.c: a CSV
 * view's chunk sizes written after the first layout are read by the next
 * block manager (a new mount), whose size then decodes no block and whose
 * reads equal the first's bytes; a commit-like change of a segment file
 * (its mtime) makes the file stale, and it is rewritten; a truncated
 * file, a flipped byte, a size below its rows' minimum and other
 * arfs_viewsize_check() failures are ignored; a consistent but wrong file
 * (two chunk sizes swapped, checksum redone) gives EIO on the chunk and
 * is removed, never shifted bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockmgr.h"
#include "bufpool.h"
#include "csv.h"
#include "group.h"
#include "testutil.h"
#include "textsize.h"
#include "util.h"
#include "view.h"
#include "viewsize.h"

#define ROWS 30000

struct fix {
	char *dir, *group, *cache, *file;
	char *bytes;		/* the CSV view as first read */
	size_t len;
	uint64_t decodes;	/* by the first layout */
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct arfs_csv_import_opts o = { .gw = { .block_target = 4096,
						  .no_fsync = true } };
	char *csv, err[256], real[PATH_MAX];
	FILE *out;

	f->dir = tu_tmpdir("viewsize");
	if (asprintf(&csv, "%s/in.csv", f->dir) < 0 ||
	    asprintf(&f->group, "%s/g", f->dir) < 0 ||
	    asprintf(&f->cache, "%s/cache", f->dir) < 0)
		abort();
	out = fopen(csv, "w");
	fprintf(out, "id,x,name\n");
	for (int i = 0; i < ROWS; i++)
		fprintf(out, "%d,%.17g,\"n%d,\"\"q\"\"\"\n", i, i * 0.37 - 5, i);
	fclose(out);
	assert_int_equal(arfs_csv_import(csv, f->group, &o, NULL, err,
					 sizeof(err)), 0);
	free(csv);
	assert_non_null(realpath(f->group, real));
	f->file = arfs_viewsize_path(f->cache, real, "csv");
	assert_non_null(f->file);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	tu_rmrf(f->dir);
	free(f->dir);
	free(f->group);
	free(f->cache);
	free(f->file);
	free(f->bytes);
	free(f);
	return 0;
}

/* One mount: a pool, a block manager with the cache directory, a source
 * and the CSV view. */
struct mnt {
	struct arfs_bufpool *pool;
	struct arfs_blockmgr *mgr;
	struct arfs_viewsrc *src;
	struct arfs_view *v;
};

static void mount_csv(struct fix *f, struct mnt *m)
{
	struct arfs_bufpool_opts po = { .max_bytes = 64u << 20,
					.max_entries = 4096,
					.spill_threshold = 64u << 20 };
	struct arfs_blockmgr_opts bo = { .cache_dir = f->cache };

	assert_int_equal(arfs_bufpool_new(&po, &m->pool), 0);
	bo.pool = m->pool;
	assert_int_equal(arfs_blockmgr_new(&bo, &m->mgr), 0);
	assert_int_equal(arfs_viewsrc_open(m->mgr, m->pool, f->group,
					   &m->src), 0);
	assert_int_equal(arfs_view_new(m->src, ARFS_VIEW_CSV, 0, &m->v), 0);
}

static void umount_csv(struct mnt *m)
{
	arfs_view_free(m->v);
	arfs_viewsrc_put(m->src);
	arfs_blockmgr_free(m->mgr);
	arfs_bufpool_free(m->pool);
}

static uint64_t decodes(struct mnt *m)
{
	struct arfs_blockmgr_stats s;

	arfs_blockmgr_get_stats(m->mgr, &s);
	return s.decodes;
}

static char *read_all(struct arfs_view *v, size_t *len)
{
	int64_t size = arfs_view_size(v);
	char *buf;
	size_t done = 0;
	ssize_t n;

	assert_true(size > 0);
	buf = malloc((size_t)size);
	while ((n = arfs_view_read(v, buf + done, 9999, done)) > 0)
		done += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(done, (size_t)size);
	*len = done;
	return buf;
}

/* Size decoding nothing (true) or rendering (false); bytes as first read
 * either way. Leaves the file as the mount wrote it. */
static bool mount_and_check(struct fix *f)
{
	struct mnt m;
	uint64_t d0;
	bool from_file;
	char tail[100], *all;
	size_t len;

	mount_csv(f, &m);
	d0 = decodes(&m);
	assert_int_equal(arfs_view_size(m.v), (int64_t)f->len);
	from_file = decodes(&m) == d0;
	assert_int_equal(arfs_view_read(m.v, tail, 100, f->len - 100), 100);
	assert_memory_equal(tail, f->bytes + f->len - 100, 100);
	all = read_all(m.v, &len);
	assert_memory_equal(all, f->bytes, len);
	free(all);
	umount_csv(&m);
	return from_file;
}

/* The first mount renders and writes the file. */
static void first_mount(struct fix *f)
{
	struct mnt m;
	struct stat st;

	mount_csv(f, &m);
	f->bytes = read_all(m.v, &f->len);
	f->decodes = decodes(&m);
	assert_true(f->decodes > 0);
	umount_csv(&m);
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);
}

static void test_kept_across_mounts(void **state)
{
	struct fix *f = *state;
	struct mnt m;
	char tail[100];
	uint64_t d0, d1;

	first_mount(f);
	assert_true(mount_and_check(f));
	/* the tail of a fresh mount decodes fewer blocks than the whole */
	mount_csv(f, &m);
	d0 = decodes(&m);
	assert_int_equal(arfs_view_size(m.v), (int64_t)f->len);
	assert_int_equal(arfs_view_read(m.v, tail, 100, f->len - 100), 100);
	d1 = decodes(&m);
	assert_true(d1 > d0 && (d1 - d0) * 3 < f->decodes);
	umount_csv(&m);
}

static void test_stale_after_change(void **state)
{
	struct fix *f = *state;
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 12345, 678 } };
	struct arfs_group *g;
	char path[4096];

	first_mount(f);
	assert_int_equal(arfs_group_open(f->group, &g), 0);
	snprintf(path, sizeof(path), "%s/%s", g->dir, g->sidx[0].seg_files[0]);
	arfs_group_free(g);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_false(mount_and_check(f));	/* stale: rendered */
	assert_true(mount_and_check(f));	/* and written again */
}

/* Rewrite the file's checksum after a change of its bytes. */
static void resum(uint8_t *p, size_t len)
{
	put_le64(p + 24, arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT, p + 40,
					   len - 40));
}

static void test_hostile_files(void **state)
{
	struct fix *f = *state;
	uint8_t *p, save[8];
	size_t len, sz;
	uint64_t np;
	struct mnt m;
	char buf[100];

	first_mount(f);
	p = tu_readfile(f->file, &len);
	sz = 40 + get_le32(p + 32);	/* chunk_rows, npieces, sizes */
	np = get_le64(p + sz + 8);
	assert_true(np >= 3);
	assert_int_equal(len, sz + 16 + 8 * np);

	tu_writefile(f->file, p, len - 5);		/* truncated */
	assert_false(mount_and_check(f));
	tu_writefile(f->file, p, len);
	assert_true(mount_and_check(f));

	p[sz + 20] ^= 1;				/* a flipped bit */
	tu_writefile(f->file, p, len);
	assert_false(mount_and_check(f));
	p[sz + 20] ^= 1;

	memcpy(save, p + sz + 16, 8);			/* size below rows */
	put_le64(p + sz + 16, 10);
	resum(p, len);
	tu_writefile(f->file, p, len);
	assert_false(mount_and_check(f));
	memcpy(p + sz + 16, save, 8);

	put_le64(p + sz, 0);				/* 0 rows a chunk */
	resum(p, len);
	tu_writefile(f->file, p, len);
	assert_false(mount_and_check(f));

	tu_writefile(f->file, "ARFSVIEW", 8);		/* too short */
	assert_false(mount_and_check(f));

	/* consistent but wrong: the first and last chunk sizes swapped */
	free(p);
	p = tu_readfile(f->file, &len);
	memcpy(save, p + sz + 16, 8);
	memcpy(p + sz + 16, p + sz + 16 + 8 * (np - 1), 8);
	memcpy(p + sz + 16 + 8 * (np - 1), save, 8);
	resum(p, len);
	tu_writefile(f->file, p, len);
	mount_csv(f, &m);
	assert_int_equal(arfs_view_size(m.v), (int64_t)f->len);
	assert_int_equal(arfs_view_read(m.v, buf, 5, 0), 5);	/* header */
	assert_int_equal(arfs_view_read(m.v, buf, 100, f->len - 100), -EIO);
	umount_csv(&m);
	assert_int_not_equal(access(f->file, F_OK), 0);	/* removed */
	assert_false(mount_and_check(f));
	assert_true(mount_and_check(f));
	free(p);
}

static void test_check(void **state)
{
	uint64_t sizes[3] = { 100, 100, 40 };
	struct arfs_viewsize vs = { 10, 3, sizes };

	(void)state;
	assert_null(arfs_viewsize_check(&vs, 25, 8192, 4));
	assert_non_null(arfs_viewsize_check(&vs, 31, 8192, 4));  /* 4 chunks */
	assert_non_null(arfs_viewsize_check(&vs, 20, 8192, 4));  /* 2 chunks */
	assert_non_null(arfs_viewsize_check(&vs, 25, 8, 4));	  /* > max */
	assert_non_null(arfs_viewsize_check(&vs, 25, 8192, 11)); /* < rows */
	sizes[2] = UINT64_MAX;
	assert_non_null(arfs_viewsize_check(&vs, 25, 8192, 4));
	vs.chunk_rows = 0;
	sizes[2] = 40;
	assert_non_null(arfs_viewsize_check(&vs, 25, 8192, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test_setup_teardown(test_kept_across_mounts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stale_after_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_files, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
