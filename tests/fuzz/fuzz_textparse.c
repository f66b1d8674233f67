/*
 * fuzz_textparse.c - the block text parser (textval.c, textparse.c) and
 * the encoder behind it. Input: u8 column type (taken modulo 10), then
 * text lines as a block file write would give them. Text that parses is
 * encoded, decoded by the block decoder (which must accept it) and
 * rendered; the rendered text must parse again and render to the same
 * bytes (one form per value, FORMAT.md 2.8).
 */
#include "segment.h"
#include "textval.h"
#include "typed.h"
#include "typedenc.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	arfs_log_set_sink(fz_quiet);
	return 0;
}

/* Parse, encode, decode, render: 0 with *text malloc'd, or -errno. */
static int cycle(unsigned type, const char *in, size_t len, char **text,
		 size_t *text_len)
{
	struct arfs_typedenc enc;
	struct arfs_textbuf pay = { 0 };
	struct arfs_block_info bi = { 0 };
	struct arfs_values *vals;
	uint64_t bad, flags;
	int rc = arfs_typedenc_init(&enc, type);

	if (!rc)
		rc = arfs_textval_parse(&enc, in, len, &bad);
	if (!rc)
		rc = arfs_typedenc_encode(&enc, &pay, &flags);
	if (!rc) {
		bi.flags = flags;
		bi.num_elem = enc.n;
		bi.length = bi.block_size = pay.len;
		if (arfs_typed_decode(&bi, pay.p, pay.len, "fuzz", &vals))
			abort();	/* we wrote something we cannot read */
		rc = arfs_textval_render(vals, text, text_len);
		arfs_values_free(vals);
	}
	arfs_textbuf_release(&pay);
	arfs_typedenc_release(&enc);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t1, *t2;
	size_t n1, n2;
	unsigned type;

	if (size < 1 || size > 65536)
		return 0;
	type = data[0] % ARFS_FT_COUNT;
	if (cycle(type, (const char *)data + 1, size - 1, &t1, &n1))
		return 0;
	if (cycle(type, t1, n1, &t2, &n2))
		abort();	/* our own text does not read back */
	if (n1 != n2 || memcmp(t1, t2, n1))
		abort();	/* a value with two texts */
	free(t1);
	free(t2);
	return 0;
}
