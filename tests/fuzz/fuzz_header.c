/*
 * fuzz_header.c - header.bin: the input is the whole header.bin of an
 * array (key length 36, no sidecar) over a fixed 64 KiB body.bin. The
 * array is opened read-only, listed, every document looked up and read
 * (pread and the mapped view), and checked.
 */
#include "docarray.h"
#include "fuzz_util.h"

static char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static uint8_t body[65536];

	dir = fz_tmpdir("header");
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7);
	fz_write(dir, "body.bin", body, sizeof(body));
	return 0;
}

static void count(void *ctx, const char *msg)
{
	(void)msg;
	(*(int *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arfs_docarray_opts o = { .read_only = true };
	struct arfs_docarray *da;
	struct arfs_docattr a;
	struct arfs_docref ref;
	char name[1024], buf[256];
	uint64_t cursor = 0;
	int err, n = 0;

	fz_write(dir, "header.bin", data, size);
	if (arfs_docarray_open(dir, &o, &da) == 0) {
		while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0) {
			if (arfs_docarray_lookup(da, name, strlen(name), &ref))
				abort(); /* listed but not found */
			if (ref.len != a.size)
				abort();
			arfs_docref_pread(&ref, buf, sizeof(buf), 0);
			if (!arfs_docref_view(&ref, &err) && ref.len)
				abort();
			arfs_docref_release(&ref);
		}
		arfs_docarray_close(da);
	}
	arfs_docarray_check(dir, 0, count, &n);
	return 0;
}
