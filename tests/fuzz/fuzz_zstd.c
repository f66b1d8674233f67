/*
 * fuzz_zstd.c - zstd frames (blocks flagged ARFS_BLOCK_ZSTD). Input: u32
 * expected size (little-endian, capped at 1 MiB), then the frame. A frame
 * that decodes must round-trip through arfs_codec_zstd_compress.
 */
#include "codec.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t want;
	uint8_t *dst, *again, *frame;
	ssize_t n;

	if (size < 4)
		return 0;
	want = fz_le32(data) & 0xFFFFF;
	dst = malloc(want ? want : 1);
	if (!dst)
		return 0;
	if (arfs_codec_zstd_decompress(dst, want, data + 4, size - 4) == 0) {
		size_t cap = arfs_codec_zstd_bound(want);
		frame = malloc(cap);
		again = malloc(want ? want : 1);
		n = arfs_codec_zstd_compress(frame, cap, dst, want, 1);
		if (n < 0 || arfs_codec_zstd_decompress(again, want, frame,
							(size_t)n) ||
		    memcmp(again, dst, want))
			abort();
		free(frame);
		free(again);
	}
	free(dst);
	return 0;
}
