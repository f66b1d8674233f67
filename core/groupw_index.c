/*
 * groupw_index.c - the segment group writer's index files: the segment
 * index (.sidx, a JSON tree: segment files, lengths, per-column segment
 * sizes and text sizes, FORMAT.md 2.4), the frame index (.frame_idx) and,
 * for a new group, the archive files around them. Each is replaced whole
 * and atomically; the index rename is a commit's commit point (FORMAT.md
 * 2.11). The writer's state and its lifecycle are in groupw.c; the
 * structures they share in groupw_int.h.
 */
#include "groupw_int.h"

#include "io.h"
#include "textval.h"
#include "util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Write a whole small file atomically: temp, fsync, rename, fsync dir.
 * *renamed (may be NULL) is set once the rename is done: from then on the
 * new file is in place even if the directory fsync after it fails.
 */
static int replace_file(struct arfs_groupw *gw, const char *name,
			const void *data, size_t len, bool *renamed)
{
	char tmp[512];
	int fd, rc;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = arfs_io_openat(gw->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC,
			    0644);
	if (fd < 0)
		return fd;
	rc = arfs_io_pwrite_all(fd, data, len, 0);
	if (!rc)
		rc = gw_fsync(gw, fd);
	arfs_io_close(fd);
	if (!rc)
		rc = arfs_io_renameat(gw->dirfd, tmp, gw->dirfd, name);
	if (rc) {
		arfs_io_unlinkat(gw->dirfd, tmp, 0);
		return rc;
	}
	if (renamed)
		*renamed = true;
	return gw_fsync_dir(gw);
}

static json_t *num_str(uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return json_string(buf);
}

/*
 * "text_sizes" of the staged state (FORMAT.md 2.4): an entry per segment
 * with at least one known size. NULL when none is known (or no memory).
 */
static json_t *sizes_json(const struct arfs_groupw *gw)
{
	json_t *root = json_object(), *segs = json_object(), *e, *cols, *a;
	const struct gw_seg *s;
	char key[24], sum[24];
	bool any_seg = false, any;
	int rc = !root || !segs;

	for (uint64_t i = 0; !rc && i < gw->nsegs; i++) {
		s = &gw->segs[i];
		any = false;
		for (uint64_t c = 0; c < gw->ncols; c++)
			for (uint64_t b = 0; b < s->cols[c].n; b++)
				any |= s->cols[c].ts[b] >= 0;
		if (!any)
			continue;
		e = json_object();
		cols = json_array();
		snprintf(key, sizeof(key), "%04" PRIu64, i);
		snprintf(sum, sizeof(sum), "%016" PRIx64, s->table_sum);
		rc |= !e || !cols;
		rc |= json_object_set_new(e, "length", num_str(s->end));
		rc |= json_object_set_new(e, "table_sum", json_string(sum));
		for (uint64_t c = 0; !rc && c < gw->ncols; c++) {
			a = json_array();
			for (uint64_t b = 0; a && b < s->cols[c].n; b++)
				rc |= json_array_append_new(a,
					s->cols[c].ts[b] < 0 ? json_null() :
					json_integer(s->cols[c].ts[b]));
			rc |= json_array_append_new(cols, a);
		}
		rc |= json_object_set_new(e, "columns", cols);
		rc |= json_object_set_new(segs, key, e);
		any_seg = true;
	}
	rc |= json_object_set_new(root, "version",
				  json_integer(ARFS_TEXTVAL_VERSION));
	rc |= json_object_set_new(root, "segments", segs);
	if (rc || !any_seg) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Index tree with the staged state: segment lengths are s->end. */
static int update_json(struct arfs_groupw *gw)
{
	json_t *sa = json_object_get(gw->sidx, "sarray");
	json_t *cols = json_object_get(gw->sidx, "columns");
	json_t *files = json_object(), *lens = json_object(), *sizes;
	char key[24];
	int rc = 0;

	if (!sa || !cols || !files || !lens) {
		json_decref(files);
		json_decref(lens);
		return -ENOMEM;
	}
	for (uint64_t s = 0; s < gw->nsegs; s++) {
		snprintf(key, sizeof(key), "%04" PRIu64, s);
		rc |= json_object_set_new(files, key,
					  json_string(gw->segs[s].file));
		rc |= json_object_set_new(lens, key, num_str(gw->segs[s].end));
	}
	rc |= json_object_set_new(sa, "num_segments", json_integer(
					  (json_int_t)gw->nsegs));
	rc |= json_object_set_new(gw->sidx, "segment_files", files);
	rc |= json_object_set_new(gw->sidx, "segment_lengths", lens);
	sizes = sizes_json(gw);
	if (sizes)
		rc |= json_object_set_new(gw->sidx, "text_sizes", sizes);
	else
		json_object_del(gw->sidx, "text_sizes");
	for (uint64_t c = 0; c < gw->ncols; c++) {
		sizes = json_object();
		for (uint64_t s = 0; sizes && s < gw->nsegs; s++) {
			snprintf(key, sizeof(key), "%04" PRIu64, s);
			rc |= json_object_set_new(sizes, key,
				num_str(seg_rows(&gw->segs[s], c)));
		}
		rc |= json_object_set_new(json_array_get(cols, c),
					  "segment_sizes", sizes);
	}
	return rc ? -ENOMEM : 0;
}

int arfs_gw_write_frame(struct arfs_groupw *gw, uint64_t nrows)
{
	struct arfs_textbuf tb = { 0 };
	char line[4200];
	int rc = 0;

	snprintf(line, sizeof(line), "[sframe]\nversion=0\nnum_segments=0\n"
		 "num_columns=%" PRIu64 "\nnrows=%" PRIu64 "\n[column_names]\n",
		 gw->ncols, nrows);
	rc |= arfs_textbuf_add(&tb, line, strlen(line));
	for (uint64_t c = 0; c < gw->ncols; c++) {
		snprintf(line, sizeof(line), "%04" PRIu64 "=%s\n", c,
			 gw->names[c]);
		rc |= arfs_textbuf_add(&tb, line, strlen(line));
	}
	rc |= arfs_textbuf_add(&tb, "[column_files]\n", 15);
	for (uint64_t c = 0; c < gw->ncols; c++) {
		snprintf(line, sizeof(line), "%04" PRIu64 "=%s:%" PRIu64 "\n",
			 c, gw->sidx_file, c);
		rc |= arfs_textbuf_add(&tb, line, strlen(line));
	}
	if (!rc)
		rc = replace_file(gw, gw->frame_file, tb.p, tb.len, NULL);
	arfs_textbuf_release(&tb);
	return rc;
}

int arfs_gw_write_index(struct arfs_groupw *gw, bool *renamed)
{
	char *text;
	int rc = update_json(gw);

	if (rc)
		return rc;
	text = json_dumps(gw->sidx, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (!text)
		return -ENOMEM;
	rc = replace_file(gw, gw->sidx_file, text, strlen(text), renamed);
	free(text);
	return rc;
}

json_t *arfs_gw_empty_index(uint64_t ncols, const unsigned *types)
{
	json_t *root = json_object(), *sa = json_object(), *cols = json_array();
	char t[8];

	if (!root || !sa || !cols) {
		json_decref(root);
		json_decref(sa);
		json_decref(cols);
		return NULL;
	}
	json_object_set_new(sa, "version", json_integer(2));
	json_object_set_new(sa, "num_segments", json_integer(0));
	json_object_set_new(root, "sarray", sa);
	json_object_set_new(root, "segment_files", json_object());
	json_object_set_new(root, "segment_lengths", json_object());
	for (uint64_t c = 0; c < ncols; c++) {
		json_t *col = json_object(), *meta = json_object();

		snprintf(t, sizeof(t), "%u", types[c]);
		json_object_set_new(meta, "__type__", json_string(t));
		json_object_set_new(col, "content_type", json_string(""));
		json_object_set_new(col, "metadata", meta);
		json_object_set_new(col, "segment_sizes", json_object());
		json_array_append_new(cols, col);
	}
	json_object_set_new(root, "columns", cols);
	return root;
}

int arfs_gw_create_files(struct arfs_groupw *gw)
{
	char text[512];
	int rc;

	snprintf(text, sizeof(text), "[archive]\nversion=1\nnum_prefixes=3\n"
		 "[metadata]\ncontents=sframe\n[prefixes]\n"
		 "0000=dir_archive.ini\n0001=objects.bin\n0002=%s\n",
		 gw->prefix);
	rc = replace_file(gw, "objects.bin", "", 0, NULL);
	if (!rc)
		rc = replace_file(gw, "dir_archive.ini", text, strlen(text),
				  NULL);
	if (!rc)
		rc = arfs_gw_write_index(gw, NULL);
	if (!rc)
		rc = arfs_gw_write_frame(gw, 0);
	return rc;
}
