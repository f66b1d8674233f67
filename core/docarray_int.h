/*
 * docarray_int.h - private to core/docarray.c: the in-memory index.
 *
 * Layout of the index (all protected by arfs_docarray.lock):
 *  - hmap: header.bin mapped read-only (MAP_SHARED) with room to grow;
 *    rows are written with pwrite and seen through the map at once.
 *  - table: open-addressing hash of live ids. A slot holds two row numbers:
 *    `first` (the id's first live row: its place in document order) and
 *    `data` (its last live row: where the bytes are). Keys are not copied:
 *    a slot's id is read from row `first` in the map.
 *  - rowflags: one byte per row: ROW_FIRST marks the row that lists a
 *    document, ROW_BAD a corrupt row that is left out.
 */
#ifndef ARFS_DOCARRAY_INT_H
#define ARFS_DOCARRAY_INT_H

#include <stdint.h>

#define ARFS_MAX_KEY_LENGTH 1024
#define ARFS_SIDECAR_MAGIC "ARFSMETA"
#define ARFS_SIDECAR_VERSION 1
#define ARFS_SIDECAR_HDR 32
#define ARFS_SIDECAR_REC 32
/* Documents with no sidecar record get docno DEFAULT_DOCNO_BASE + row. */
#define ARFS_DEFAULT_DOCNO_BASE (UINT64_C(1) << 40)
#define ARFS_PAGE 4096

enum { ROW_FIRST = 1, ROW_BAD = 2 };

#define SLOT_EMPTY UINT32_MAX
#define SLOT_TOMB (UINT32_MAX - 1)
#define ARFS_MAX_ROWS (UINT32_MAX - 2)

struct arfs_slot {
	uint32_t first, data;
};

#endif
