/*
 * fuzz_sidecar.c - arrayfs.meta: the input is the sidecar of a fixed
 * array of six rows (ids a, b, c, a again, a tombstone, d) over a small
 * body.bin. The array is opened read-only and listed with attributes,
 * then opened read-write and a document is put and renamed, which writes
 * records next to whatever the input held.
 */
#include "docarray.h"
#include "fuzz_util.h"

#define K 36
#define ROW (4 * K + 24)

static char *dir;
static uint8_t header[6 * ROW];

static void put64(uint8_t *p, int64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}

static void row(int r, char id, int64_t start, int64_t len)
{
	uint8_t *p = header + r * ROW;

	memset(p, 0, ROW);
	p[0] = (uint8_t)id;
	put64(p + 4 * K, start < 0 ? -1 : 0);
	put64(p + 4 * K + 8, start);
	put64(p + 4 * K + 16, start < 0 ? -1 : start + len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dir = fz_tmpdir("sidecar");
	row(0, 'a', 0, 10);
	row(1, 'b', 10, 20);
	row(2, 'c', 30, 0);
	row(3, 'a', 30, 40);
	row(4, 'x', -1, 0);
	row(5, 'd', 70, 30);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char body[100] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct arfs_docarray_opts ro = { .read_only = true }, rw = { 0 };
	struct arfs_docarray *da;
	struct arfs_docattr a;
	char name[64];
	uint64_t cursor = 0;

	fz_unlink(dir, "arrayfs.meta.tmp");
	fz_write(dir, "header.bin", header, sizeof(header));
	fz_write(dir, "body.bin", body, sizeof(body));
	fz_write(dir, "arrayfs.meta", data, size);
	if (arfs_docarray_open(dir, &ro, &da) == 0) {
		while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0)
			;
		arfs_docarray_close(da);
	}
	if (arfs_docarray_open(dir, &rw, &da) == 0) {
		arfs_docarray_put_mem(da, "e", 1, "new", 3, NULL, 0);
		arfs_docarray_put_mem(da, "b", 1, "newer", 5, NULL, 0);
		arfs_docarray_rename(da, "e", 1, "a", 1, 0);
		cursor = 0;
		while (arfs_docarray_next(da, &cursor, name, sizeof(name), &a) == 0)
			;
		arfs_docarray_close(da);
	}
	return 0;
}
