/*
 * fuzz_lz4.c - raw LZ4 blocks as stored in segment files. Input: u32
 * expected size (little-endian, capped at 1 MiB), then the block. The
 * decoder must produce exactly that many bytes or refuse.
 */
#include "codec.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t want;
	void *dst;

	if (size < 4)
		return 0;
	want = fz_le32(data) & 0xFFFFF;
	dst = malloc(want ? want : 1);
	if (!dst)
		return 0;
	arfs_codec_lz4_decompress(dst, want, data + 4, size - 4);
	free(dst);
	return 0;
}
