/*
 * arrayctl_group.c - arrayctl for segment groups.
 *
 *   ls GROUP           one line per column: name, type, rows, blocks,
 *                      stored bytes, decoded bytes
 *   cat GROUP COLUMN   the column as text, one value per line (the same
 *                      bytes as `cat MOUNT/group/COLUMN/ *` in the mount)
 *   check GROUP        decode and render every block (and compare the
 *                      text sizes the index records); exit 0 when sound,
 *                      else 1 and one line per problem; notes
 *                      uncommitted tails
 *   info GROUP         index files, segments, columns, rows, sizes
 *   import FILE.csv GROUP   build a new group from CSV (core/csv.c)
 *   export GROUP [FILE.csv] write the group as CSV (stdout by default)
 *                      (both take --dialect turi: Turi's CSV rules)
 *   compact GROUP      rewrite segments without dead bytes
 *   convert --lz4 GROUP     rewrite with LZ4 blocks only (Turi's flags)
 *
 * Everything goes through core/ (group, blockmgr): this file only parses
 * arguments and prints. Core's log messages name file and offset; they are
 * printed as "arrayctl: <message>".
 */
#include "arrayctl_group.h"

#include "blockmgr.h"
#include "csv.h"
#include "group.h"
#include "groupw.h"
#include "segment.h"
#include "textval.h"
#include "typed.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *file, int rc)
{
	fprintf(stderr, "arrayctl: %s: %s\n", file, strerror(-rc));
	return 1;
}

bool arrayctl_is_group(const char *path)
{
	return arfs_group_is_group(path) || arfs_group_is_set(path);
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

/* Each block decoded and rendered once (no pool here to keep it in). */
static int cat_column(struct arfs_blockmgr *mgr, struct arfs_column *col,
		      const char *what)
{
	struct arfs_values *vals;
	size_t len;
	char *text;
	int rc;

	for (uint64_t i = 0; i < arfs_column_nblocks(col); i++) {
		rc = arfs_blockmgr_decode(mgr, col, i, &vals);
		if (!rc) {
			rc = arfs_textval_render(vals, &text, &len);
			arfs_values_free(vals);
		}
		if (rc)
			return fail(what, rc);
		if (fwrite(text, 1, len, stdout) != len) {
			free(text);
			return fail("stdout", -EIO);
		}
		free(text);
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

/*
 * Decode and render block i (a recorded size must not spare it): its
 * text size, or -errno. A recorded size that differs is a problem too.
 */
static ssize_t check_block(struct arfs_blockmgr *mgr, struct arfs_column *col,
			   uint64_t i, const char *colname)
{
	ssize_t known = arfs_blockmgr_known_size(col, i);
	struct arfs_values *vals;
	size_t len;
	char *text;
	int rc = arfs_blockmgr_decode(mgr, col, i, &vals);

	if (rc)
		return rc;
	rc = arfs_textval_render(vals, &text, &len);
	arfs_values_free(vals);
	if (rc)
		return rc;
	free(text);
	if (known >= 0 && (size_t)known != len) {
		fprintf(stderr, "arrayctl: %s: block %" PRIu64 " of column %s: "
			"the index records a text size of %zd bytes, the block "
			"renders to %zu\n", arfs_column_segment_name(col, i),
			arfs_column_block(col, i)->blk, colname, known, len);
		return -EUCLEAN;
	}
	return (ssize_t)len;
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
		n = check_block(mgr, col, i, gc->name);
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

/* Segment files longer than the committed length the index records. */
static void check_tails(struct arfs_group *g)
{
	const struct arfs_sidx *sx;
	struct stat st;
	char path[4096];

	for (uint64_t i = 0; i < g->nsidx; i++) {
		sx = &g->sidx[i];
		for (uint64_t s = 0; s < sx->nsegs; s++) {
			snprintf(path, sizeof(path), "%s/%s", g->dir,
				 sx->seg_files[s]);
			if (!sx->seg_len[s] || stat(path, &st) ||
			    (uint64_t)st.st_size <= sx->seg_len[s])
				continue;
			printf("note: %s: %" PRIu64 " bytes past the committed "
			       "length %" PRIu64 " (an interrupted write; "
			       "ignored, and removed at the next writable "
			       "open)\n", sx->seg_files[s],
			       (uint64_t)st.st_size - sx->seg_len[s],
			       sx->seg_len[s]);
		}
	}
}

/* The group's folder, or its index file when the folder holds others. */
static const char *path_of(const struct arfs_group *g)
{
	static char buf[4096];

	if (!arfs_group_is_set(g->dir))
		return g->dir;
	snprintf(buf, sizeof(buf), "%s/%s", g->dir, g->index_file);
	return buf;
}

static int cmd_check(struct arfs_group *g, struct arfs_blockmgr *mgr)
{
	int problems = 0;

	check_tails(g);
	for (uint64_t c = 0; c < g->ncols; c++)
		problems += check_column(g, mgr, c);
	if (problems) {
		fprintf(stderr, "arrayctl: %s: %d problem%s\n", path_of(g),
			problems, problems == 1 ? "" : "s");
		return 1;
	}
	printf("%s: sound (%" PRIu64 " columns, %" PRIu64 " rows)\n",
	       path_of(g), g->ncols, g->nrows);
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

/* ---- writing commands ------------------------------------------------- */

struct progress {
	struct timespec start, last;
	bool tty;
};

static double since(const struct timespec *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - a->tv_sec) +
	       (double)(now.tv_nsec - a->tv_nsec) / 1e9;
}

static void show_progress(void *ctx, int pass, uint64_t done, uint64_t total,
			  uint64_t rows)
{
	struct progress *p = ctx;
	double frac = total ? (double)done / (double)total : 1, t;
	char bar[31];
	int fill;

	if (!p->tty || since(&p->last) < 0.1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
	t = since(&p->start);
	fill = (int)(frac * 30);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(30 - fill));
	bar[30] = 0;
	if (!pass)	/* export: done and total are rows */
		fprintf(stderr, "\rexporting [%s] %3d%%  %" PRIu64 " rows  "
			"%.0f rows/s ", bar, (int)(frac * 100), rows,
			t > 0 ? (double)done / t : 0);
	else
		fprintf(stderr, "\r%s [%s] %3d%%  %" PRIu64 " rows  %.1f MB/s ",
			pass == 1 ? "checking" : "encoding", bar,
			(int)(frac * 100), rows,
			t > 0 ? (double)done / 1e6 / t : 0);
}

static void print_summary(const char *csv, const char *group,
			  const struct arfs_csv_summary *sum, double secs)
{
	printf("imported %s -> %s\n", csv, group);
	printf("rows:        %" PRIu64 "\n", sum->rows);
	printf("columns:     %" PRIu64 "\n", sum->cols);
	for (uint64_t c = 0; c < sum->cols; c++)
		printf("  %-24s %s\n", sum->names[c],
		       arfs_ftype_name(sum->types[c]));
	printf("blocks:      %" PRIu64 "\n", sum->blocks);
	printf("csv bytes:   %" PRIu64 "\n", sum->csv_bytes);
	printf("on disk:     %" PRIu64 " bytes (index and segments)\n",
	       sum->disk_bytes);
	printf("compression: %.2f (csv bytes / bytes on disk)\n",
	       sum->disk_bytes ? (double)sum->csv_bytes /
				 (double)sum->disk_bytes : 0);
	printf("time:        %.2f s, %.0f rows/s, %.1f MB/s\n", secs,
	       secs > 0 ? (double)sum->rows / secs : 0,
	       secs > 0 ? (double)sum->csv_bytes / 1e6 / secs : 0);
}

/* --type NAME=TYPE: one more forced column type; false if TYPE is bad. */
static bool add_type(struct arfs_csv_import_opts *o, char *arg,
		     const char **names, unsigned *types, size_t cap)
{
	char *eq = strrchr(arg, '=');
	unsigned t;

	if (!eq || o->ntypes == cap)
		return false;
	*eq = 0;
	for (t = 0; t < ARFS_FT_COUNT; t++)
		if (t != ARFS_FT_UNDEFINED && !strcmp(eq + 1, arfs_ftype_name(t)))
			break;
	if (t == ARFS_FT_COUNT)
		return false;
	names[o->ntypes] = arg;
	types[o->ntypes++] = t;
	return true;
}

/* --dialect rfc4180|turi: 0, or -1 after a message */
static int parse_dialect(const char *s, enum arfs_csv_dialect *out)
{
	if (!strcmp(s, "turi"))
		*out = ARFS_CSV_TURI;
	else if (!strcmp(s, "rfc4180") || !strcmp(s, "rfc"))
		*out = ARFS_CSV_RFC4180;
	else {
		fprintf(stderr, "arrayctl: --dialect: expected rfc4180 or "
			"turi, got '%s'\n", s);
		return -1;
	}
	return 0;
}

/* import [--dialect D] [--block-size N] [--segment-rows N]
 *        [--lz4|--no-compress] [--no-fsync] [--type NAME=TYPE]... FILE.csv GROUP */
static int cmd_import(int argc, char **argv)
{
	struct arfs_csv_import_opts o = { .progress = show_progress };
	struct arfs_csv_summary sum;
	struct progress p = { .tty = isatty(2) };
	const char *tnames[256];
	unsigned ttypes[256];
	char err[512];
	int i, rc;

	o.type_names = tnames;
	o.types = ttypes;
	for (i = 0; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--type") && i + 1 < argc) {
			if (!add_type(&o, argv[++i], tnames, ttypes, 256)) {
				fprintf(stderr, "arrayctl: --type NAME=TYPE, "
					"TYPE one of int float str vector "
					"list dict datetime image ndarray\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--block-size") && i + 1 < argc)
			o.gw.block_target = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--segment-rows") && i + 1 < argc)
			o.segment_rows = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--lz4"))
			o.gw.compress = ARFS_GROUPW_LZ4;
		else if (!strcmp(argv[i], "--no-compress"))
			o.gw.compress = ARFS_GROUPW_NONE;
		else if (!strcmp(argv[i], "--no-fsync"))
			o.gw.no_fsync = true;
		else if (!strcmp(argv[i], "--dialect") && i + 1 < argc) {
			if (parse_dialect(argv[++i], &o.dialect))
				return 2;
		} else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: arrayctl import [--dialect rfc4180|turi] "
			"[--block-size BYTES] [--segment-rows N] "
			"[--lz4|--no-compress] [--no-fsync] "
			"[--type NAME=TYPE]... FILE.csv GROUP\n");
		return 2;
	}
	o.ctx = &p;
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	p.last = p.start;
	rc = arfs_csv_import(argv[i], argv[i + 1], &o, &sum, err, sizeof(err));
	if (p.tty)
		fprintf(stderr, "\r%*s\r", 79, "");
	if (rc == -EEXIST) {
		fprintf(stderr, "arrayctl: %s: already exists\n", argv[i + 1]);
		return 1;
	}
	if (rc && err[0]) {
		fprintf(stderr, "arrayctl: %s: %s (nothing written)\n",
			argv[i], err);
		return 1;
	}
	if (rc)
		return fail(argv[i], rc);
	print_summary(argv[i], argv[i + 1], &sum, since(&p.start));
	arfs_csv_summary_release(&sum);
	return 0;
}

static void show_export_progress(void *ctx, uint64_t done, uint64_t rows)
{
	show_progress(ctx, 0, done, rows, done);
}

static int cmd_export(int argc, char **argv)
{
	struct progress p = { .tty = isatty(2) };
	struct arfs_csv_export_opts o = {
		.threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN),
		.progress = show_export_progress, .ctx = &p,
	};
	FILE *out = stdout;
	int rc;

	if (argc >= 2 && !strcmp(argv[0], "--dialect")) {
		if (parse_dialect(argv[1], &o.dialect))
			return 2;
		argc -= 2;
		argv += 2;
	}
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "usage: arrayctl export [--dialect rfc4180|turi] "
			"GROUP [FILE.csv]\n");
		return 2;
	}
	if (argc == 2 && !(out = fopen(argv[1], "w")))
		return fail(argv[1], -errno);
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	p.last = p.start;
	rc = arfs_csv_export(argv[0], out, &o);
	if (p.tty)
		fprintf(stderr, "\r%*s\r", 79, "");
	if (out != stdout && fclose(out) && !rc)
		rc = -EIO;
	return rc ? fail(argv[0], rc) : 0;
}

static int rewrite(const char *path, enum arfs_groupw_compress mode)
{
	struct arfs_groupw *gw;
	uint64_t before;
	int rc = arfs_groupw_open(path, NULL, &gw);

	if (rc)
		return fail(path, rc);
	before = arfs_groupw_disk_bytes(gw);
	rc = arfs_groupw_compact(gw, mode);
	if (!rc)
		printf("%s: %" PRIu64 " -> %" PRIu64 " bytes\n", path, before,
		       arfs_groupw_disk_bytes(gw));
	arfs_groupw_close(gw);
	return rc ? fail(path, rc) : 0;
}

static int run_one(const char *cmd, const char *path, const char *column)
{
	struct arfs_blockmgr *mgr;
	struct arfs_group *g;
	int rc;

	if (open_group(path, &g, &mgr))
		return 1;
	if (!strcmp(cmd, "ls"))
		rc = cmd_ls(g, mgr);
	else if (!strcmp(cmd, "cat"))
		rc = cmd_cat(g, mgr, column);
	else if (!strcmp(cmd, "check"))
		rc = cmd_check(g, mgr);
	else
		rc = cmd_info(g);
	close_group(g, mgr);
	return rc;
}

/*
 * A folder of several SFrames (a Turi model): check and info go through
 * each of them in turn; ls and cat need one, named by its .frame_idx.
 */
static int run_set(const char *cmd, const char *dir)
{
	char **frames, path[4096];
	size_t n;
	int rc = arfs_group_frames(dir, &frames, &n), status = 0;

	if (rc)
		return fail(dir, rc);
	if (strcmp(cmd, "check") && strcmp(cmd, "info")) {
		fprintf(stderr, "arrayctl: %s: a folder of %zu SFrames; name "
			"one of them:\n", dir, n);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  %s/%s\n", dir, frames[i]);
		arfs_group_frames_free(frames);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, frames[i]);
		if (i && !strcmp(cmd, "info"))
			printf("\n");
		status |= run_one(cmd, path, NULL);
	}
	arfs_group_frames_free(frames);
	return status;
}

int arrayctl_group_cmd(const char *cmd, int argc, char **argv)
{
	int want;

	if (!strcmp(cmd, "import"))
		return cmd_import(argc, argv);
	if (!strcmp(cmd, "export"))
		return cmd_export(argc, argv);
	if (!strcmp(cmd, "compact") && argc == 1)
		return rewrite(argv[0], ARFS_GROUPW_KEEP);
	if (!strcmp(cmd, "convert")) {
		if (argc != 2 || strcmp(argv[0], "--lz4")) {
			fprintf(stderr, "usage: arrayctl convert --lz4 GROUP\n");
			return 2;
		}
		return rewrite(argv[1], ARFS_GROUPW_LZ4);
	}
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
	if (arfs_group_is_set(argv[0]))
		return run_set(cmd, argv[0]);
	return run_one(cmd, argv[0], argc == 2 ? argv[1] : NULL);
}
