/*
 * fuzz_frame_idx.c - the *.frame_idx INI file of a saved SFrame: the
 * input is m.frame_idx in a directory that holds a valid two-column index
 * m.sidx (and its segment file m.0000), so column references resolve.
 */
#include "group.h"
#include "fuzz_util.h"

static char *dir;

static const char sidx[] =
	"{\"sarray\": {\"version\": 2, \"num_segments\": 1},\n"
	" \"segment_files\": {\"0000\": \"m.0000\"},\n"
	" \"columns\": [\n"
	"  {\"content_type\": \"\", \"metadata\": {\"__type__\": \"0\"},\n"
	"   \"segment_sizes\": {\"0000\": \"3\"}},\n"
	"  {\"content_type\": \"\", \"metadata\": {\"__type__\": \"2\"},\n"
	"   \"segment_sizes\": {\"0000\": \"3\"}}]}\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dir = fz_tmpdir("frame");
	fz_write(dir, "m.0000", "", 0);
	fz_write(dir, "m.sidx", sidx, sizeof(sidx) - 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arfs_group *g;

	fz_write(dir, "m.frame_idx", data, size);
	if (arfs_group_open(dir, &g) == 0) {
		for (uint64_t c = 0; c < g->ncols; c++)
			if (!g->cols[c].name || !g->cols[c].sidx)
				abort();
		arfs_group_free(g);
	}
	return 0;
}
