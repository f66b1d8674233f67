/*
 * docarray/check.c - checking an array (arrayctl check) and recognizing one.
 * Design, locks and the state: docarray_int.h.
 */
#include "docarray.h"
#include "docarray_int.h"
#include "idname.h"
#include "io.h"
#include "util.h"

#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- checking ---- */

static bool id_is_valid(const uint8_t *raw, unsigned K)
{
	size_t n = da_id_trim(raw, K), i;

	for (i = 0; i < n; i += 4) {
		uint32_t c = get_le32(raw + i);
		if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return false;
	}
	return true;
}

/*
 * The end rule (docs/FORMAT.md 1.5 rule 8), which DocArray's own updates
 * break: reported as a warning (not counted as a problem).
 */
static void check_end_rule(struct arfs_docarray *da, const char *dir,
			   void (*report)(void *ctx, const char *msg),
			   void *ctx)
{
	size_t idlen = (size_t)da->K * 4;
	uint64_t last = da->nrows - 1, end = 0, maxend = 0, off, len, i;
	const uint8_t *ext;
	char msg[512];

	if (da->nrows == 0)
		return;
	ext = row_ptr(da, last) + idlen;
	if (row_is_tomb(ext)) {
		snprintf(msg, sizeof(msg), "warning: %s/header.bin: offset %"
			 PRIu64 ": the last row is a tombstone: DocArray cannot "
			 "open the array (arrayctl compact fixes it)", dir,
			 last * da->rowsize);
		report(ctx, msg);
		return;
	}
	if (da_row_extent(ext, UINT64_MAX, &off, &len))
		end = off + len;
	for (i = 0; i < da->tcap; i++) {
		const struct arfs_slot *s = &da->table[i];
		if (s->first < SLOT_TOMB &&
		    da_row_extent(row_ptr(da, s->data) + idlen, UINT64_MAX,
				  &off, &len) && off + len > maxend)
			maxend = off + len;
	}
	if (end >= maxend)
		return;
	snprintf(msg, sizeof(msg), "warning: %s/header.bin: offset %" PRIu64
		 ": the last row ends at byte %" PRIu64 " of body.bin, before "
		 "live bytes that end at %" PRIu64 ": DocArray's next append "
		 "would overwrite live documents (arrayctl compact fixes it)",
		 dir, last * da->rowsize, end, maxend);
	report(ctx, msg);
}

int arfs_docarray_check(const char *dir, unsigned key_length,
			void (*report)(void *ctx, const char *msg), void *ctx)
{
	struct arfs_docarray_opts opts = { .key_length = key_length,
					   .read_only = true };
	struct arfs_docarray *da;
	char msg[512];
	uint64_t r, off, len;
	int rc, problems = 0;

	rc = arfs_docarray_open(dir, &opts, &da);
	if (rc) {
		snprintf(msg, sizeof(msg), "%s: cannot open: %s", dir,
			 strerror(-rc));
		report(ctx, msg);
		return 1;
	}
	for (r = 0; r < da->nrows; r++) {
		const uint8_t *row = row_ptr(da, r);
		const uint8_t *ext = row + (size_t)da->K * 4;
		const char *what = NULL;
		if (row_is_tomb(ext))
			continue;
		if (!da_row_extent(ext, da->body_end, &off, &len))
			what = "extents outside body.bin or inverted";
		else if (!id_is_valid(row, da->K))
			what = "id holds a value that is not a Unicode scalar";
		if (!what)
			continue;
		snprintf(msg, sizeof(msg), "%s/header.bin: offset %" PRIu64
			 ": row %" PRIu64 ": %s", dir, r * da->rowsize, r, what);
		report(ctx, msg);
		problems++;
	}
	/*
	 * A partial last record is the trace of an interrupted append (a
	 * record can cross a page boundary, and kill -9 can stop a write
	 * between pages): readers ignore it (FORMAT.md 1.3), the next
	 * read-write open cuts it off.
	 */
	if (da->sfd >= 0 && da->st_s.st_size >= ARFS_SIDECAR_HDR &&
	    ((uint64_t)da->st_s.st_size - ARFS_SIDECAR_HDR) % da->srec) {
		snprintf(msg, sizeof(msg), "warning: %s/" ARFS_SIDECAR_NAME
			 ": size %lld is not the 32-byte header plus whole "
			 "%u-byte records: a partial last record (an "
			 "interrupted append), ignored", dir,
			 (long long)da->st_s.st_size, da->srec);
		report(ctx, msg);
	}
	check_end_rule(da, dir, report, ctx);
	arfs_docarray_close(da);
	return problems;
}

bool arfs_docarray_is_array(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/header.bin", dir);
	if (access(path, F_OK))
		return false;
	snprintf(path, sizeof(path), "%s/body.bin", dir);
	return access(path, F_OK) == 0;
}
