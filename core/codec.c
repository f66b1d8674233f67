/*
 * codec.c - LZ4 and zstd block codecs. See codec.h.
 *
 * Design: a block's decoded size is always known from its block_info
 * record, so every decoder is "decode exactly N bytes": a block that
 * decodes to fewer or more bytes is corrupt, never silently truncated.
 * LZ4_decompress_safe() never writes past dst_cap and never reads past
 * src_len, which makes it safe on untrusted input.
 */
#include "codec.h"

#include <errno.h>
#include <limits.h>
#include <lz4.h>
#include <zstd.h>
#include <zstd_errors.h>

int arfs_codec_lz4_decompress(void *dst, size_t dst_len, const void *src,
			      size_t src_len)
{
	int n;

	if (dst_len > (size_t)LZ4_MAX_INPUT_SIZE || src_len > INT_MAX)
		return -EINVAL;
	if (src_len == 0)
		return dst_len == 0 ? 0 : -EUCLEAN;
	n = LZ4_decompress_safe(src, dst, (int)src_len, (int)dst_len);
	if (n < 0 || (size_t)n != dst_len)
		return -EUCLEAN;
	return 0;
}

size_t arfs_codec_lz4_bound(size_t src_len)
{
	if (src_len > (size_t)LZ4_MAX_INPUT_SIZE)
		return 0;
	return (size_t)LZ4_compressBound((int)src_len);
}

ssize_t arfs_codec_lz4_compress(void *dst, size_t dst_cap, const void *src,
				size_t src_len)
{
	int n;

	if (src_len > (size_t)LZ4_MAX_INPUT_SIZE)
		return -EINVAL;
	if (src_len == 0)
		return 0;
	n = LZ4_compress_default(src, dst, (int)src_len,
				 dst_cap > INT_MAX ? INT_MAX : (int)dst_cap);
	return n > 0 ? n : -ENOSPC;
}

size_t arfs_codec_zstd_bound(size_t src_len)
{
	return ZSTD_compressBound(src_len);
}

ssize_t arfs_codec_zstd_compress(void *dst, size_t dst_cap, const void *src,
				 size_t src_len, int level)
{
	size_t n = ZSTD_compress(dst, dst_cap, src, src_len,
				 level ? level : ZSTD_CLEVEL_DEFAULT);

	if (ZSTD_isError(n))
		return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ?
		       -ENOSPC : -EINVAL;
	return (ssize_t)n;
}

int arfs_codec_zstd_decompress(void *dst, size_t dst_len, const void *src,
			       size_t src_len)
{
	unsigned long long want = ZSTD_getFrameContentSize(src, src_len);
	size_t n;

	if (want == ZSTD_CONTENTSIZE_ERROR)
		return -EUCLEAN;
	if (want != ZSTD_CONTENTSIZE_UNKNOWN && want != dst_len)
		return -EUCLEAN;
	n = ZSTD_decompress(dst, dst_len, src, src_len);
	if (ZSTD_isError(n) || n != dst_len)
		return -EUCLEAN;
	return 0;
}
