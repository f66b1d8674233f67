/*
 * segment.c - parse and validate a segment file's block table; read and
 * decompress one block. See segment.h and docs/FORMAT.md.
 *
 * Layout, from the end of the file backwards:
 *
 *   [blocks ...][table: u64 ncols, per column u64 nblocks + 48 * nblocks]
 *   [u64 table size]
 *
 * Validation happens once, at parse time, so that readers can trust the
 * table afterwards: the footer must name a table that fits before it and
 * is consumed exactly; every block must lie within [0, table_offset); flags
 * must be known; an uncompressed block's stored length must equal its
 * decoded size; a compressed block may not claim more than the codec's
 * maximum expansion. Block contents are checked when read (codec.c,
 * typed.c).
 *
 * Nothing here locks: a parsed segment is immutable.
 */
#include "segment.h"

#include "codec.h"
#include "io.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Hard limits against hostile tables (documented in FORMAT.md). */
#define SEG_MAX_TABLE	(256ull << 20)
#define SEG_MAX_BLOCK	(1ull << 30)
#define SEG_MAX_ELEM	(1ull << 24)
#define LZ4_MAX_RATIO	255

static int seg_corrupt(const char *name, uint64_t off, const char *what)
{
	arfs_log(ARFS_LOG_ERR, "%s: offset %" PRIu64 ": %s", name, off, what);
	return -EUCLEAN;
}

static int check_block(const struct arfs_segment *seg,
		       const struct arfs_block_info *bi, uint64_t rec_off)
{
	uint64_t end;

	if (arfs_add_overflows(bi->offset, bi->length, &end) ||
	    end > seg->table_offset)
		return seg_corrupt(seg->name, rec_off,
				   "block runs past the start of the block table");
	if (bi->flags & ~(uint64_t)ARFS_BLOCK_KNOWN_FLAGS)
		return seg_corrupt(seg->name, rec_off, "unknown block flags");
	if ((bi->flags & ARFS_BLOCK_LZ4) && (bi->flags & ARFS_BLOCK_ZSTD))
		return seg_corrupt(seg->name, rec_off,
				   "block flags name two compressions");
	if (bi->block_size > SEG_MAX_BLOCK || bi->num_elem > SEG_MAX_ELEM)
		return seg_corrupt(seg->name, rec_off,
				   "block size or element count beyond limits");
	if (!(bi->flags & (ARFS_BLOCK_LZ4 | ARFS_BLOCK_ZSTD)) &&
	    bi->length != bi->block_size)
		return seg_corrupt(seg->name, rec_off,
				   "uncompressed block length differs from its size");
	if ((bi->flags & ARFS_BLOCK_LZ4) &&
	    bi->block_size / LZ4_MAX_RATIO > bi->length + 1)
		return seg_corrupt(seg->name, rec_off,
				   "LZ4 block claims an impossible expansion");
	return 0;
}

static void get_block_info(const uint8_t *p, struct arfs_block_info *bi)
{
	bi->offset = get_le64(p);
	bi->length = get_le64(p + 8);
	bi->block_size = get_le64(p + 16);
	bi->num_elem = get_le64(p + 24);
	bi->flags = get_le64(p + 32);
	bi->content_type = get_le16(p + 40);
}

void arfs_block_info_put(uint8_t *dst, const struct arfs_block_info *bi)
{
	memset(dst, 0, ARFS_BLOCK_INFO_SIZE);
	put_le64(dst, bi->offset);
	put_le64(dst + 8, bi->length);
	put_le64(dst + 16, bi->block_size);
	put_le64(dst + 24, bi->num_elem);
	put_le64(dst + 32, bi->flags);
	put_le16(dst + 40, bi->content_type);
}

static int parse_column(struct arfs_segment *seg, uint64_t c,
			const uint8_t *tab, size_t tab_len, size_t *pos)
{
	uint64_t n, i, rows = 0;
	size_t rec;
	int rc;

	if (tab_len - *pos < 8)
		return seg_corrupt(seg->name, seg->table_offset + *pos,
				   "block table ends inside a block count");
	n = get_le64(tab + *pos);
	*pos += 8;
	if (n > (tab_len - *pos) / ARFS_BLOCK_INFO_SIZE)
		return seg_corrupt(seg->name, seg->table_offset + *pos - 8,
				   "block count runs past the block table");
	seg->nblocks[c] = n;
	seg->blocks[c] = calloc(n ? n : 1, sizeof(**seg->blocks));
	if (!seg->blocks[c])
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rec = *pos;
		get_block_info(tab + rec, &seg->blocks[c][i]);
		rc = check_block(seg, &seg->blocks[c][i],
				 seg->table_offset + rec);
		if (rc)
			return rc;
		rows += seg->blocks[c][i].num_elem;
		*pos += ARFS_BLOCK_INFO_SIZE;
	}
	seg->rows[c] = rows;
	return 0;
}

static int parse_table(struct arfs_segment *seg, const uint8_t *tab,
		       size_t tab_len)
{
	size_t pos = 8;
	uint64_t c;
	int rc;

	if (tab_len < 8)
		return seg_corrupt(seg->name, seg->table_offset,
				   "block table shorter than its column count");
	seg->ncols = get_le64(tab);
	/* each column needs at least its 8-byte block count */
	if (seg->ncols > (tab_len - 8) / 8)
		return seg_corrupt(seg->name, seg->table_offset,
				   "column count runs past the block table");
	seg->nblocks = calloc(seg->ncols + 1, sizeof(*seg->nblocks));
	seg->blocks = calloc(seg->ncols + 1, sizeof(*seg->blocks));
	seg->rows = calloc(seg->ncols + 1, sizeof(*seg->rows));
	if (!seg->nblocks || !seg->blocks || !seg->rows)
		return -ENOMEM;
	for (c = 0; c < seg->ncols; c++) {
		rc = parse_column(seg, c, tab, tab_len, &pos);
		if (rc)
			return rc;
	}
	if (pos != tab_len)
		return seg_corrupt(seg->name, seg->table_offset + pos,
				   "footer size does not match the block table "
				   "(bytes left over)");
	return 0;
}

static int seg_alloc(const char *name, uint64_t file_size,
		     struct arfs_segment **out)
{
	struct arfs_segment *seg = calloc(1, sizeof(*seg));

	if (!seg)
		return -ENOMEM;
	seg->name = strdup(name);
	if (!seg->name) {
		free(seg);
		return -ENOMEM;
	}
	seg->file_size = file_size;
	*out = seg;
	return 0;
}

/* Check the footer; on success *tab_off and *tab_len locate the table. */
static int check_footer(const char *name, uint64_t file_size,
			const uint8_t foot[8], uint64_t *tab_off,
			uint64_t *tab_len)
{
	uint64_t ts = get_le64(foot);

	if (file_size < 16)
		return seg_corrupt(name, 0, "file too short for a block "
				   "table and footer (truncated?)");
	if (ts < 8 || ts > file_size - 8 || ts > SEG_MAX_TABLE)
		return seg_corrupt(name, file_size - 8,
				   "footer names a block table larger than the "
				   "file (truncated?)");
	*tab_off = file_size - 8 - ts;
	*tab_len = ts;
	return 0;
}

int arfs_segment_parse_mem(const void *file, size_t file_len,
			   const char *name, struct arfs_segment **out)
{
	const uint8_t *f = file;
	struct arfs_segment *seg;
	uint64_t off, len;
	int rc;

	if (file_len < 8)
		return seg_corrupt(name, 0, "file too short for a footer");
	rc = check_footer(name, file_len, f + file_len - 8, &off, &len);
	if (rc)
		return rc;
	rc = seg_alloc(name, file_len, &seg);
	if (rc)
		return rc;
	seg->table_offset = off;
	rc = parse_table(seg, f + off, len);
	if (rc) {
		arfs_segment_free(seg);
		return rc;
	}
	*out = seg;
	return 0;
}

int arfs_segment_parse(int fd, const char *name, struct arfs_segment **out)
{
	return arfs_segment_parse_len(fd, name, 0, out);
}

int arfs_segment_parse_len(int fd, const char *name, uint64_t committed,
			   struct arfs_segment **out)
{
	struct arfs_segment *seg = NULL;
	uint8_t foot[8], *tab = NULL;
	uint64_t off, len;
	off_t size = arfs_io_size(fd);
	ssize_t n;
	int rc;

	if (size < 0)
		return (int)size;
	if (committed) {
		if ((uint64_t)size < committed)
			return seg_corrupt(name, (uint64_t)size, "file shorter "
					   "than its committed length "
					   "(truncated?)");
		size = (off_t)committed;
	}
	if (size < 8)
		return seg_corrupt(name, 0, "file too short for a footer "
				   "(truncated?)");
	n = arfs_io_pread_all(fd, foot, 8, size - 8);
	if (n != 8)
		return n < 0 ? (int)n : -EIO;
	rc = check_footer(name, (uint64_t)size, foot, &off, &len);
	if (rc)
		return rc;
	tab = malloc(len);
	if (!tab)
		return -ENOMEM;
	n = arfs_io_pread_all(fd, tab, len, (off_t)off);
	if (n < 0 || (uint64_t)n != len) {
		rc = n < 0 ? (int)n : -EIO;
		goto out_free_tab;
	}
	rc = seg_alloc(name, (uint64_t)size, &seg);
	if (rc)
		goto out_free_tab;
	seg->table_offset = off;
	rc = parse_table(seg, tab, len);
	if (rc) {
		arfs_segment_free(seg);
		goto out_free_tab;
	}
	*out = seg;
out_free_tab:
	free(tab);
	return rc;
}

void arfs_segment_free(struct arfs_segment *seg)
{
	uint64_t c;

	if (!seg)
		return;
	if (seg->blocks)
		for (c = 0; c < seg->ncols; c++)
			free(seg->blocks[c]);
	free(seg->blocks);
	free(seg->nblocks);
	free(seg->rows);
	free(seg->name);
	free(seg);
}

const struct arfs_block_info *arfs_segment_block(const struct arfs_segment *seg,
						 uint64_t col, uint64_t blk)
{
	if (col >= seg->ncols || blk >= seg->nblocks[col])
		return NULL;
	return &seg->blocks[col][blk];
}

int arfs_segment_decode(const struct arfs_segment *seg,
			const struct arfs_block_info *bi, const void *raw,
			size_t raw_len, void **out, size_t *out_len)
{
	void *dst;
	int rc = 0;

	if (raw_len != bi->length)
		return -EINVAL;
	dst = malloc(bi->block_size ? bi->block_size : 1);
	if (!dst)
		return -ENOMEM;
	if (bi->flags & ARFS_BLOCK_LZ4)
		rc = arfs_codec_lz4_decompress(dst, bi->block_size, raw,
					       raw_len);
	else if (bi->flags & ARFS_BLOCK_ZSTD)
		rc = arfs_codec_zstd_decompress(dst, bi->block_size, raw,
						raw_len);
	else
		memcpy(dst, raw, raw_len);
	if (rc) {
		free(dst);
		if (rc == -EUCLEAN)
			seg_corrupt(seg->name, bi->offset, "compressed block "
				    "does not decode to exactly its block size");
		return rc;
	}
	*out = dst;
	*out_len = bi->block_size;
	return 0;
}

int arfs_segment_read_block(const struct arfs_segment *seg, int fd,
			    uint64_t col, uint64_t blk, void **out,
			    size_t *out_len)
{
	const struct arfs_block_info *bi = arfs_segment_block(seg, col, blk);
	void *raw;
	ssize_t n;
	int rc;

	if (!bi)
		return -ERANGE;
	if (!(bi->flags & (ARFS_BLOCK_LZ4 | ARFS_BLOCK_ZSTD))) {
		raw = malloc(bi->length ? bi->length : 1);
		if (!raw)
			return -ENOMEM;
		n = arfs_io_pread_all(fd, raw, bi->length, (off_t)bi->offset);
		if (n < 0 || (uint64_t)n != bi->length) {
			free(raw);
			return n < 0 ? (int)n : seg_corrupt(seg->name,
				bi->offset, "block runs past end of file");
		}
		*out = raw;
		*out_len = bi->length;
		return 0;
	}
	raw = malloc(bi->length ? bi->length : 1);
	if (!raw)
		return -ENOMEM;
	n = arfs_io_pread_all(fd, raw, bi->length, (off_t)bi->offset);
	if (n < 0 || (uint64_t)n != bi->length)
		rc = n < 0 ? (int)n : seg_corrupt(seg->name, bi->offset,
			"block runs past end of file");
	else
		rc = arfs_segment_decode(seg, bi, raw, bi->length, out,
					 out_len);
	free(raw);
	return rc;
}
