/*
 * segment.h - one segment file of a Turi SFrame v2 array group: the block
 * table at its end and the blocks it points to (docs/FORMAT.md, "Segment
 * groups").
 *
 * A segment file holds blocks of several columns, then the block table
 * (u64 column count; per column a u64 block count and 48-byte block_info
 * records), then a u64 footer holding the table's size in bytes.
 *
 * struct arfs_segment is the parsed, validated table. It holds no file
 * descriptor: the caller (core/blockmgr.c) owns the descriptors and passes
 * one to arfs_segment_read_block(). A parsed segment is immutable, so any
 * number of threads may read it and call arfs_segment_read_block() at
 * once without locking.
 *
 * Errors: -EUCLEAN for corrupt bytes (logged once with file and offset),
 * -ENOMEM, or the -errno of a failed read.
 */
#ifndef ARFS_SEGMENT_H
#define ARFS_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* block_info.flags bits. */
#define ARFS_BLOCK_LZ4		1u	/* payload is a raw LZ4 block */
#define ARFS_BLOCK_TYPED	2u	/* payload is a typed block (typed.h) */
#define ARFS_BLOCK_MULTITYPE	4u	/* typed, values tagged one by one */
#define ARFS_BLOCK_EXTENSION	8u	/* second-generation float/vector codes */
#define ARFS_BLOCK_ZSTD		16u	/* arrayfs extension: payload is zstd */
#define ARFS_BLOCK_KNOWN_FLAGS	31u

#define ARFS_BLOCK_INFO_SIZE	48	/* bytes of one record on disk */

struct arfs_block_info {
	uint64_t offset;	/* of the stored bytes in the file */
	uint64_t length;	/* stored bytes */
	uint64_t block_size;	/* decoded payload bytes */
	uint64_t num_elem;	/* values (rows) in the block */
	uint64_t flags;		/* ARFS_BLOCK_* */
	uint16_t content_type;	/* flexible type, see typed.h */
};

struct arfs_segment {
	char *name;		/* for messages, e.g. "m_x.0000"; owned */
	uint64_t file_size;
	uint64_t table_offset;	/* first byte of the block table */
	uint64_t ncols;
	uint64_t *nblocks;	/* [ncols] */
	struct arfs_block_info **blocks; /* [ncols][nblocks[c]] */
	uint64_t *rows;		/* [ncols]: sum of num_elem */
};

/*
 * Parse and validate the table of the segment open at fd. `name` is used in
 * messages and copied. Every block must lie inside [0, table_offset), have
 * known flags and, if not compressed, length == block_size.
 * On success *out is owned by the caller (arfs_segment_free()).
 */
int arfs_segment_parse(int fd, const char *name, struct arfs_segment **out);
/*
 * As arfs_segment_parse(), for a file whose committed length is `len`
 * (docs/FORMAT.md 2.11): the footer is read at len - 8 and bytes past len
 * are ignored. len 0 means the whole file. A file shorter than len is
 * -EUCLEAN. seg->file_size is then len.
 */
int arfs_segment_parse_len(int fd, const char *name, uint64_t len,
			   struct arfs_segment **out);
/* Parse a table from a whole-file image in memory (tests, tools). */
int arfs_segment_parse_mem(const void *file, size_t file_len,
			   const char *name, struct arfs_segment **out);
void arfs_segment_free(struct arfs_segment *seg);

/* The 48 bytes of bi on disk (FORMAT.md), reserved bytes zero. */
void arfs_block_info_put(uint8_t *dst, const struct arfs_block_info *bi);

/* The record of block `blk` of column `col`, or NULL if out of range. */
const struct arfs_block_info *arfs_segment_block(const struct arfs_segment *seg,
						 uint64_t col, uint64_t blk);

/*
 * Read block (col, blk) from fd with pread and decompress it. On success
 * *out is a malloc'd buffer of exactly block_size bytes (*out_len), owned
 * by the caller (free()). Thread-safe; takes no lock.
 */
int arfs_segment_read_block(const struct arfs_segment *seg, int fd,
			    uint64_t col, uint64_t blk, void **out,
			    size_t *out_len);
/*
 * Decompress the stored bytes of block `bi` (raw, raw_len == bi->length)
 * into a malloc'd payload of block_size bytes. -EUCLEAN when they do not
 * decode to exactly block_size bytes.
 */
int arfs_segment_decode(const struct arfs_segment *seg,
			const struct arfs_block_info *bi, const void *raw,
			size_t raw_len, void **out, size_t *out_len);

#endif
