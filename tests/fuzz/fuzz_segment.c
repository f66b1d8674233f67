/*
 * fuzz_segment.c - a segment file's block table: the input is a whole
 * segment file image. It is parsed; every block of every column is then
 * decompressed (LZ4/zstd per its flags) and, when typed, decoded.
 */
#include "segment.h"
#include "typed.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	arfs_log_set_sink(fz_quiet);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arfs_segment *seg;
	struct arfs_values *vals;
	void *payload;
	size_t len;

	if (arfs_segment_parse_mem(data, size, "fuzz.0000", &seg))
		return 0;
	for (uint64_t c = 0; c < seg->ncols; c++) {
		for (uint64_t b = 0; b < seg->nblocks[c]; b++) {
			const struct arfs_block_info *bi = arfs_segment_block(seg, c, b);
			if (!bi || bi->offset + bi->length > size)
				abort(); /* the parser let a block out */
			/*
			 * Bounded memory per input: a tiny payload may declare
			 * 2^24 values (all missing), which decodes to ~800 MB
			 * of values, legitimately; that costs time, not bugs.
			 */
			if (bi->block_size > (1u << 22) || bi->num_elem > 65536)
				continue;
			if (arfs_segment_decode(seg, bi, data + bi->offset,
						bi->length, &payload, &len))
				continue;
			if (len != bi->block_size)
				abort();
			if (arfs_typed_decode(bi, payload, len, "fuzz", &vals) == 0)
				arfs_values_free(vals);
			free(payload);
		}
	}
	arfs_segment_free(seg);
	return 0;
}
