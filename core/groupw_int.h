/*
 * groupw_int.h - private to core/groupw.c and core/groupw_index.c: the
 * writer's structures and the calls between the two files. Design and
 * state: the comment at the top of groupw.c; the contract: groupw.h.
 * Not a library interface.
 *
 * Errors are negative errno, as in groupw.h. Thread safety: none (one
 * caller at a time per writer).
 */
#ifndef ARFS_GROUPW_INT_H
#define ARFS_GROUPW_INT_H

#include "groupw.h"

#include "io.h"
#include "segment.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct blist {
	struct arfs_block_info *b;
	int64_t *ts;		/* [n] text sizes, -1 unknown */
	uint64_t n, cap;
};

struct gw_seg {
	char *file;
	int fd;
	uint64_t committed;	/* end of the committed table + footer */
	uint64_t end;		/* committed + staged block bytes */
	struct blist *cols;	/* [ncols] */
	uint64_t table_sum;	/* of the committed (or last written) table */
	bool dirty;
};

struct arfs_groupw {
	char *dir;
	int dirfd, lockfd;
	char *sidx_file, *frame_file, *prefix;
	json_t *sidx;		/* the index tree */
	uint64_t ncols, nrows_frame;
	char **names;
	unsigned *types;
	uint64_t nsegs;
	struct gw_seg *segs;
	bool dirty;
	struct arfs_groupw_opts opts;
};

/* ---- small helpers ---------------------------------------------------- */

static inline int gw_fsync(struct arfs_groupw *gw, int fd)
{
	return gw->opts.no_fsync ? 0 : arfs_io_fsync(fd);
}

static inline int gw_fsync_dir(struct arfs_groupw *gw)
{
	return gw->opts.no_fsync ? 0 : arfs_io_fsync_dir(gw->dirfd);
}

/* Rows of column c in segment s (its staged block table). */
static inline uint64_t seg_rows(const struct gw_seg *s, uint64_t c)
{
	uint64_t rows = 0;

	for (uint64_t b = 0; b < s->cols[c].n; b++)
		rows += s->cols[c].b[b].num_elem;
	return rows;
}

/* ---- groupw_index.c: the index files ----------------------------------- */

/*
 * Rewrite the index (.sidx) from the staged state, atomically (temp,
 * fsync, rename, fsync dir): the commit point. *renamed (may be NULL) is
 * set once the rename is done.
 */
int arfs_gw_write_index(struct arfs_groupw *gw, bool *renamed);

/* Rewrite the .frame_idx with nrows rows, atomically. */
int arfs_gw_write_frame(struct arfs_groupw *gw, uint64_t nrows);

/* Index tree of a new group with no segment; NULL when out of memory. */
json_t *arfs_gw_empty_index(uint64_t ncols, const unsigned *types);

/* Write a new group's files: objects.bin, dir_archive.ini, index, frame. */
int arfs_gw_create_files(struct arfs_groupw *gw);

#endif
