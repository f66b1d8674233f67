/*
 * fuzz_sidx.c - the *.sidx JSON index: the input is m.sidx in a directory
 * that also holds (empty) segment files m.0000 .. m.0003 and the
 * fixture's segment name, so that names resolve. The group is opened;
 * on success every column is looked up by name.
 */
#include "group.h"
#include "fuzz_util.h"

static char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dir = fz_tmpdir("sidx");
	fz_write(dir, "m.0000", "", 0);
	fz_write(dir, "m.0001", "", 0);
	fz_write(dir, "m.0002", "", 0);
	fz_write(dir, "m.0003", "", 0);
	fz_write(dir, "m_9688d6320ff94822.0000", "", 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arfs_group *g;

	fz_write(dir, "m.sidx", data, size);
	if (arfs_group_open(dir, &g) == 0) {
		for (uint64_t c = 0; c < g->ncols; c++)
			if (arfs_group_find(g, g->cols[c].name) == NULL)
				abort();
		arfs_group_free(g);
	}
	return 0;
}
