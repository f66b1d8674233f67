/*
 * fuzz_typed.c - the typed block payload decoder. Input: u8 flags (the
 * block_info flags bits 2, 4, 8), u32 num_elem (little-endian, capped at
 * 65536), then the payload. The decoded values are rendered as text, as
 * the mount does.
 */
#include "segment.h"
#include "textval.h"
#include "typed.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	arfs_log_set_sink(fz_quiet);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arfs_block_info bi = { 0 };
	struct arfs_values *vals;

	if (size < 5)
		return 0;
	bi.flags = data[0] & (ARFS_BLOCK_TYPED | ARFS_BLOCK_MULTITYPE |
			      ARFS_BLOCK_EXTENSION);
	bi.num_elem = fz_le32(data + 1) & 0xFFFF;
	bi.length = bi.block_size = size - 5;
	if (arfs_typed_decode(&bi, data + 5, size - 5, "fuzz", &vals))
		return 0;
	if (vals->n != bi.num_elem)
		abort();
	{
		char *text;
		size_t len;
		if (arfs_textval_render(vals, &text, &len) == 0) {
			free(text);
		}
	}
	arfs_values_free(vals);
	return 0;
}
