/*
 * arrayctl_group.c - arrayctl for segment groups: ls, cat, check, info.
 *
 *   ls GROUP           one line per column: name, type, rows, blocks,
 *                      stored bytes, decoded bytes
 *   cat GROUP COLUMN   the column as text, one value per line (the same
 *                      bytes as `cat MOUNT/group/COLUMN/ *` in the mount)
 *   check GROUP        decode every block; exit 0 when sound, else 1 and
 *                      one line per problem
 *   info GROUP         index files, segments, columns, rows, sizes
 *
 * Everything goes through core/ (group, blockmgr): this file only parses
 * arguments and prints. Core's log messages name file and offset; they are
 * printed as "arrayctl: <message>".
 */
#include "arrayctl_group.h"

#include "blockmgr.h"
#include "group.h"
#include "segment.h"
#include "typed.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *file, int rc)
{
	fprintf(stderr, "arrayctl: %s: %s\n", file, strerror(-rc));
	return 1;
}

bool arrayctl_is_group(const char *path)
{
	return arfs_group_is_group(path);
}

static int open_group(const char *path, struct arfs_group **g,
		      struct arfs_blockmgr **mgr)
{
	int rc = arfs_group_open(path, g);

	if (rc == -ENOENT) {
		fprintf(stderr, "arrayctl: %s: not a segment group (no .sidx "
			"or .frame_idx)\n", path);
		return 1;
	}
	if (rc)
		return fail(path, rc);
	rc = arfs_blockmgr_new(NULL, mgr);
	if (rc) {
		arfs_group_free(*g);
		return fail(path, rc);
	}
	return 0;
}

static void close_group(struct arfs_group *g, struct arfs_blockmgr *mgr)
{
	arfs_blockmgr_free(mgr);
	arfs_group_free(g);
}

static int cmd_ls(struct arfs_group *g, struct arfs_blockmgr *mgr)
{
	const struct arfs_colblock *cb;
	struct arfs_column *col;
	uint64_t stored, decoded;
	int rc, status = 0;

	printf("%-24s %-9s %10s %7s %12s %12s\n", "COLUMN", "TYPE", "ROWS",
	       "BLOCKS", "STORED", "DECODED");
	for (uint64_t c = 0; c < g->ncols; c++) {
		rc = arfs_blockmgr_open_column(mgr, g, c, &col);
		if (rc) {
			fprintf(stderr, "arrayctl: %s:%" PRIu64 ": %s\n",
				g->cols[c].sidx->file, g->cols[c].index,
				strerror(-rc));
			status = 1;
			continue;
		}
		stored = decoded = 0;
		for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
			cb = arfs_column_block(col, i);
			stored += cb->stored;
			decoded += cb->decoded;
		}
		printf("%-24s %-9s %10" PRIu64 " %7" PRIu64 " %12" PRIu64
		       " %12" PRIu64 "\n", g->cols[c].name,
		       arfs_ftype_name(g->cols[c].type), g->cols[c].rows,
		       arfs_column_nblocks(col), stored, decoded);
		arfs_blockmgr_close_column(mgr, col);
	}
	return status;
}

static int cat_column(struct arfs_blockmgr *mgr, struct arfs_column *col,
		      const char *what)
{
	static char buf[1 << 16];
	uint64_t off;
	ssize_t n;

	for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
		for (off = 0;; off += (uint64_t)n) {
			n = arfs_blockmgr_read_text(mgr, col, i, buf,
						    sizeof(buf), off);
			if (n < 0)
				return fail(what, (int)n);
			if (n == 0)
				break;
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				return fail("stdout", -EIO);
		}
	}
	return fflush(stdout) ? fail("stdout", -EIO) : 0;
}

static int cmd_cat(struct arfs_group *g, struct arfs_blockmgr *mgr,
		   const char *name)
{
	const struct arfs_group_column *gc = arfs_group_find(g, name);
	struct arfs_column *col;
	int rc;

	if (!gc) {
		fprintf(stderr, "arrayctl: %s: no column '%s'\n", g->dir, name);
		return 1;
	}
	rc = arfs_blockmgr_open_column(mgr, g, (uint64_t)(gc - g->cols), &col);
	if (rc)
		return fail(gc->sidx->file, rc);
	rc = cat_column(mgr, col, gc->sidx->file);
	arfs_blockmgr_close_column(mgr, col);
	return rc;
}

static int check_column(struct arfs_group *g, struct arfs_blockmgr *mgr,
			uint64_t c)
{
	const struct arfs_group_column *gc = &g->cols[c];
	struct arfs_column *col;
	int rc, problems = 0;
	ssize_t n;

	rc = arfs_blockmgr_open_column(mgr, g, c, &col);
	if (rc) {
		fprintf(stderr, "arrayctl: %s:%" PRIu64 ": column %s: %s\n",
			gc->sidx->file, gc->index, gc->name, strerror(-rc));
		return 1;
	}
	for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
		n = arfs_blockmgr_text_size(mgr, col, i);
		if (n >= 0)
			continue;
		fprintf(stderr, "arrayctl: %s:%" PRIu64 ": block %" PRIu64
			" of column %s: %s\n", arfs_column_segment_name(col, i),
			gc->index, arfs_column_block(col, i)->blk, gc->name,
			strerror((int)-n));
		problems++;
	}
	arfs_blockmgr_close_column(mgr, col);
	return problems;
}

static int cmd_check(struct arfs_group *g, struct arfs_blockmgr *mgr)
{
	int problems = 0;

	for (uint64_t c = 0; c < g->ncols; c++)
		problems += check_column(g, mgr, c);
	if (problems) {
		fprintf(stderr, "arrayctl: %s: %d problem%s\n", g->dir,
			problems, problems == 1 ? "" : "s");
		return 1;
	}
	printf("%s: sound (%" PRIu64 " columns, %" PRIu64 " rows)\n", g->dir,
	       g->ncols, g->nrows);
	return 0;
}

static int cmd_info(struct arfs_group *g)
{
	printf("group:      %s\n"
	       "directory:  %s\n"
	       "index:      %s\n"
	       "columns:    %" PRIu64 "\n"
	       "rows:       %" PRIu64 "\n", g->name, g->dir, g->index_file,
	       g->ncols, g->nrows);
	for (uint64_t i = 0; i < g->nsidx; i++) {
		printf("array group %s: %" PRIu64 " columns, %" PRIu64
		       " segments\n", g->sidx[i].file, g->sidx[i].ncols,
		       g->sidx[i].nsegs);
		for (uint64_t s = 0; s < g->sidx[i].nsegs; s++)
			printf("  segment %04" PRIu64 ": %s\n", s,
			       g->sidx[i].seg_files[s]);
	}
	for (uint64_t c = 0; c < g->ncols; c++)
		printf("  column %-24s %-9s %s:%" PRIu64 "\n", g->cols[c].name,
		       arfs_ftype_name(g->cols[c].type), g->cols[c].sidx->file,
		       g->cols[c].index);
	return 0;
}

int arrayctl_group_cmd(const char *cmd, int argc, char **argv)
{
	struct arfs_blockmgr *mgr;
	struct arfs_group *g;
	int want, rc;

	if (!strcmp(cmd, "cat"))
		want = 2;
	else if (!strcmp(cmd, "ls") || !strcmp(cmd, "check") ||
		 !strcmp(cmd, "info"))
		want = 1;
	else
		return -1;
	if (argc != want) {
		fprintf(stderr, "usage: arrayctl %s GROUP%s\n", cmd,
			want == 2 ? " COLUMN" : "");
		return 2;
	}
	if (open_group(argv[0], &g, &mgr))
		return 1;
	if (!strcmp(cmd, "ls"))
		rc = cmd_ls(g, mgr);
	else if (!strcmp(cmd, "cat"))
		rc = cmd_cat(g, mgr, argv[1]);
	else if (!strcmp(cmd, "check"))
		rc = cmd_check(g, mgr);
	else
		rc = cmd_info(g);
	close_group(g, mgr);
	return rc;
}
