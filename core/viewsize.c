/*
 * viewsize.c - piece sizes of CSV and JSON Lines views kept in a cache
 * file (viewsize.h; docs/FORMAT.md 2.14).
 *
 * The file is small (8 bytes a chunk of up to 8192 rows: 1 KiB for 10^6
 * rows) and read whole. Every count is bounded by the bytes that hold it
 * before anything is allocated from it.
 */
#include "viewsize.h"

#include "blockmgr.h"
#include "group.h"
#include "io.h"
#include "textsize.h"
#include "textval.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VS_MAGIC	"ARFSVIEW"
#define VS_VERSION	1u
#define VS_HEADER	40
#define VS_MAX_FILE	(64u << 20)
#define VS_MAX_SIZE	((uint64_t)1 << 56)
#define VS_MAX_TOTAL	((uint64_t)1 << 62)

/* u32 length, then the bytes */
static void bytes_str(struct arfs_bytes *k, const char *s)
{
	size_t n = strlen(s);

	arfs_bytes_u32(k, (uint32_t)n);
	arfs_bytes_put(k, s, n);
}

int arfs_viewsize_key(const struct arfs_group *g, const char *group_real,
		      struct arfs_column *const *cols, unsigned kind,
		      uint8_t **out, size_t *len)
{
	struct arfs_textsize_segid id;
	struct arfs_bytes k = { 0 };
	const char *name;
	uint64_t ns;

	arfs_bytes_u32(&k, kind);
	arfs_bytes_u32(&k, ARFS_VIEWSIZE_RULES);
	bytes_str(&k, group_real);
	arfs_bytes_u64(&k, g->nrows);
	arfs_bytes_u64(&k, g->ncols);
	for (uint64_t c = 0; c < g->ncols; c++) {
		bytes_str(&k, g->cols[c].name);
		arfs_bytes_u32(&k, g->cols[c].type);
		arfs_bytes_u64(&k, g->cols[c].rows);
		ns = arfs_column_nsegs(cols[c]);
		arfs_bytes_u64(&k, ns);
		for (uint64_t s = 0; s < ns; s++) {
			name = arfs_column_segment(cols[c], s, &id);
			bytes_str(&k, name);
			arfs_bytes_u64(&k, id.file_size);
			arfs_bytes_u64(&k, (uint64_t)id.mtime_ns);
			arfs_bytes_u64(&k, id.table_sum);
		}
	}
	if (k.oom) {
		free(k.p);
		return -ENOMEM;
	}
	*out = k.p;
	*len = k.len;
	return 0;
}

char *arfs_viewsize_path(const char *cache_dir, const char *group_real,
			 const char *ext)
{
	uint64_t h = arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT, group_real,
				       strlen(group_real));
	char *path;

	if (asprintf(&path, "%s/%016" PRIx64 ".%s.view", cache_dir, h,
		     ext) < 0)
		return NULL;
	return path;
}

/* Parse a whole file image p[0..n). */
static int parse(const uint8_t *p, size_t n, const uint8_t *key, size_t klen,
		 struct arfs_viewsize *out, const char **why)
{
	uint64_t body, np;
	const uint8_t *b;

	if (n < VS_HEADER || memcmp(p, VS_MAGIC, 8)) {
		*why = "not a view size file (bad magic or too short)";
		return -EBADMSG;
	}
	if (get_le32(p + 8) != VS_VERSION ||
	    get_le32(p + 12) != ARFS_TEXTVAL_VERSION) {
		*why = "another format or text rules version";
		return -ESTALE;
	}
	body = get_le64(p + 16);
	if (body != n - VS_HEADER) {
		*why = "truncated, or bytes past its end";
		return -EBADMSG;
	}
	if (arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT, p + VS_HEADER, body) !=
	    get_le64(p + 24)) {
		*why = "checksum mismatch";
		return -EBADMSG;
	}
	if (get_le32(p + 32) != klen || body < klen + 16 ||
	    memcmp(p + VS_HEADER, key, klen)) {
		*why = "describes another state of the group (a commit, "
		       "another index or other rules)";
		return -ESTALE;
	}
	b = p + VS_HEADER + klen;
	np = get_le64(b + 8);
	if (np != (body - klen - 16) / 8 || (body - klen - 16) % 8) {
		*why = "chunk count does not match its bytes";
		return -EBADMSG;
	}
	out->chunk_rows = get_le64(b);
	out->npieces = np;
	out->sizes = malloc((np ? np : 1) * sizeof(*out->sizes));
	if (!out->sizes)
		return -ENOMEM;
	for (uint64_t i = 0; i < np; i++)
		out->sizes[i] = get_le64(b + 16 + 8 * i);
	return 0;
}

int arfs_viewsize_load(const char *path, const uint8_t *key, size_t klen,
		       struct arfs_viewsize *out, const char **why)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int rc, fd = arfs_io_open(path, O_RDONLY | O_NOFOLLOW, 0);

	*why = "cannot be read";
	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > VS_MAX_FILE) {
		arfs_io_close(fd);
		*why = "not a regular file of at most 64 MiB";
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	n = buf ? arfs_io_pread_all(fd, buf, (size_t)st.st_size, 0) : -ENOMEM;
	arfs_io_close(fd);
	rc = n < 0 ? (int)n : parse(buf, (size_t)n, key, klen, out, why);
	free(buf);
	return rc;
}

const char *arfs_viewsize_check(const struct arfs_viewsize *vs,
				uint64_t nrows, uint64_t max_chunk_rows,
				uint64_t min_row_bytes)
{
	uint64_t total = 0, rows;

	if (!vs->chunk_rows || vs->chunk_rows > max_chunk_rows)
		return "rows per chunk out of range";
	if (vs->npieces != (nrows + vs->chunk_rows - 1) / vs->chunk_rows)
		return "chunk count does not fit the row count";
	for (uint64_t k = 0; k < vs->npieces; k++) {
		rows = k + 1 < vs->npieces ? vs->chunk_rows :
		       nrows - k * vs->chunk_rows;
		if (vs->sizes[k] > VS_MAX_SIZE ||
		    vs->sizes[k] < rows * min_row_bytes)
			return "a chunk size that cannot be right";
		total += vs->sizes[k];
		if (total > VS_MAX_TOTAL)
			return "sizes add up past 2^62";
	}
	return NULL;
}

int arfs_viewsize_save(const char *dir, const char *path, const uint8_t *key,
		       size_t klen, const struct arfs_viewsize *vs)
{
	uint8_t h[VS_HEADER] = { 0 };
	struct arfs_bytes k = { 0 };
	int rc;

	if (klen > UINT32_MAX)
		return -EINVAL;
	arfs_bytes_put(&k, h, sizeof(h));
	arfs_bytes_put(&k, key, klen);
	arfs_bytes_u64(&k, vs->chunk_rows);
	arfs_bytes_u64(&k, vs->npieces);
	for (uint64_t i = 0; i < vs->npieces; i++)
		arfs_bytes_u64(&k, vs->sizes[i]);
	if (k.oom) {
		free(k.p);
		return -ENOMEM;
	}
	memcpy(k.p, VS_MAGIC, 8);
	put_le32(k.p + 8, VS_VERSION);
	put_le32(k.p + 12, ARFS_TEXTVAL_VERSION);
	put_le64(k.p + 16, k.len - VS_HEADER);
	put_le64(k.p + 24, arfs_textsize_fnv(ARFS_TEXTSIZE_FNV_INIT,
					     k.p + VS_HEADER,
					     k.len - VS_HEADER));
	put_le32(k.p + 32, (uint32_t)klen);
	rc = arfs_textsize_write_file(dir, path, k.p, k.len);
	free(k.p);
	return rc;
}
