/*
 * codec.h - block compression: raw LZ4 blocks (reading Turi segment files)
 * and zstd (arrayfs' own blocks, flag ARFS_BLOCK_ZSTD in segment.h).
 *
 * All functions are pure transformations of caller buffers: no state, no
 * allocation, safe to call from any thread. Buffers follow the order
 * (dst, dst_cap, src, src_len) of lib/zstd.h.
 *
 * Errors: -EUCLEAN when the compressed bytes are corrupt or do not decode
 * to exactly the expected size (the caller logs file and offset, it knows
 * them); -ENOSPC when dst is too small on compression; -ENOMEM.
 */
#ifndef ARFS_CODEC_H
#define ARFS_CODEC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Decode one raw LZ4 block (no frame header) from src[0..src_len) into
 * exactly dst_len bytes of dst. Returns 0, or -EUCLEAN if the block is
 * malformed or decodes to any other length, -EINVAL if a length exceeds
 * what liblz4 can address (2 GiB).
 */
int arfs_codec_lz4_decompress(void *dst, size_t dst_len, const void *src,
			      size_t src_len);

/* Largest raw LZ4 block for src_len bytes (0 if src_len is too large). */
size_t arfs_codec_lz4_bound(size_t src_len);
/*
 * Compress src into one raw LZ4 block (LZ4_compress_default, what Turi
 * writes). Returns the compressed size, or -ENOSPC when dst is too small,
 * -EINVAL when src_len exceeds LZ4's limit.
 */
ssize_t arfs_codec_lz4_compress(void *dst, size_t dst_cap, const void *src,
				size_t src_len);

/* Largest compressed size of src_len bytes (for sizing dst). */
size_t arfs_codec_zstd_bound(size_t src_len);
/*
 * Compress src into one zstd frame in dst (level as zstd: 1..19, 0 means
 * the default). Returns the compressed size, or -ENOSPC/-EINVAL.
 */
ssize_t arfs_codec_zstd_compress(void *dst, size_t dst_cap, const void *src,
				 size_t src_len, int level);
/*
 * Decode one zstd frame into exactly dst_len bytes of dst: 0, or -EUCLEAN
 * when the frame is corrupt or its content size differs from dst_len.
 */
int arfs_codec_zstd_decompress(void *dst, size_t dst_len, const void *src,
			       size_t src_len);

#endif
