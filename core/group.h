/*
 * group.h - a segment group (Turi SFrame v2 array group) as named on disk:
 * its index (*.sidx JSON), and for a saved SFrame directory the column
 * names (*.frame_idx INI). See docs/FORMAT.md, "Segment groups".
 *
 * arfs_group_open() reads and validates the index files only; it checks
 * that every segment file named exists in the group's directory but does
 * not parse segments (core/blockmgr.c does that lazily, and calls
 * arfs_group_check_segment() on each one it parses).
 *
 * Addressing in messages follows the original block manager:
 * "m_x.sidx:2" is column 2 of the index m_x.sidx, "m_x.0000:2" that
 * column in segment file m_x.0000.
 *
 * Ownership: struct arfs_group and everything it points to is owned by the
 * caller of arfs_group_open() and freed by arfs_group_free(). It is
 * immutable after open: any number of threads may read it.
 *
 * Errors: -EUCLEAN for a malformed or inconsistent index, an unsafe or
 * missing segment file name (logged with the file, and the JSON position
 * where known); -ENOENT when path holds no group; -ENOMEM; -errno of I/O.
 */
#ifndef ARFS_GROUP_H
#define ARFS_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arfs_segment;

/*
 * One segment's entry of the index's "text_sizes" (an arrayfs key,
 * docs/FORMAT.md 2.4): the text size (textval.h) of each block, for the
 * segment as committed at `length` with block-table checksum `table_sum`
 * (textsize.h). Parsed as written; a user (core/blockmgr.c) checks
 * length, checksum and each column's block count against the parsed
 * segment and ignores the entry on any mismatch.
 */
struct arfs_sidx_sizes {
	bool present;		/* the key has an entry for this segment */
	uint64_t length, table_sum;
	uint64_t *nblocks;	/* [ncols] */
	int64_t **sizes;	/* [ncols][nblocks[c]], -1 unknown */
};

/* One *.sidx file: an array group of ncols columns over nsegs segments. */
struct arfs_sidx {
	char *file;		/* file name in the group directory */
	uint64_t nsegs;
	char **seg_files;	/* [nsegs] file names in the same directory */
	uint64_t ncols;
	uint8_t *types;		/* [ncols] enum arfs_ftype */
	uint64_t **seg_rows;	/* [ncols][nsegs] rows per segment */
	/*
	 * [nsegs] committed length of each segment file (the index's
	 * "segment_lengths", an arrayfs key), 0 when the index has none
	 * (the whole file is committed, as in Turi's own files). A segment
	 * file longer than this holds an interrupted append past the end.
	 */
	uint64_t *seg_len;
	bool has_seg_len;	/* the index carries segment_lengths */
	/*
	 * [nsegs] recorded text sizes, or NULL when the index has no
	 * "text_sizes" key, one for other text rules (ARFS_TEXTVAL_VERSION)
	 * or a malformed one (logged; never an error: sizes are then
	 * rendered).
	 */
	struct arfs_sidx_sizes *text_sizes;
};

struct arfs_group_column {
	char *name;		/* from the .frame_idx, else "0", "1", ... */
	unsigned type;		/* enum arfs_ftype */
	uint64_t rows;
	const struct arfs_sidx *sidx;
	uint64_t index;		/* column number in sidx and its segments */
};

struct arfs_group {
	char *dir;		/* the directory holding every file */
	char *name;		/* display name: the directory's base name */
	char *index_file;	/* the .frame_idx or .sidx that was opened */
	uint64_t nrows;		/* rows of the first column (0 if none) */
	uint64_t nsidx;
	struct arfs_sidx *sidx;	/* [nsidx] */
	uint64_t ncols;
	struct arfs_group_column *cols; /* [ncols] */
};

/*
 * Open the group at path: a directory holding one *.frame_idx (saved
 * SFrame) or exactly one *.sidx, or a *.sidx or *.frame_idx file itself
 * (its name without the suffix is then the group's name). *out owned by
 * caller. -EISDIR (logged) for a directory of several *.frame_idx (a
 * model folder: see arfs_group_frames()), -EUCLEAN for several *.sidx
 * without a *.frame_idx, -ENOENT when there is no index.
 */
int arfs_group_open(const char *path, struct arfs_group **out);
void arfs_group_free(struct arfs_group *g);

/* True if path is a directory holding one *.frame_idx, or *.sidx files
 * and no *.frame_idx, or a *.sidx or *.frame_idx file. */
bool arfs_group_is_group(const char *path);

/*
 * A folder of several SFrames, as Turi saves a model (dir_archive.ini,
 * objects.bin and a <prefix>.frame_idx set per SFrame; FORMAT.md 2.2.1):
 * true if path is a directory holding two or more *.frame_idx files.
 */
bool arfs_group_is_set(const char *path);
/*
 * The *.frame_idx file names in dir, in byte order: *out is a
 * NULL-terminated array of *n malloc'd names, freed with
 * arfs_group_frames_free() (which accepts NULL). 0, -ENOENT (none),
 * -ENOMEM or the -errno of opendir.
 */
int arfs_group_frames(const char *dir, char ***out, size_t *n);
void arfs_group_frames_free(char **v);

/* Column by name, or NULL. */
const struct arfs_group_column *arfs_group_find(const struct arfs_group *g,
						const char *name);

/*
 * Check a parsed segment against the index: same column count, and each
 * column's row count in this segment equal to the index's segment_sizes.
 * Logs and returns -EUCLEAN on a mismatch, else 0.
 */
int arfs_group_check_segment(const struct arfs_sidx *sx, uint64_t segno,
			     const struct arfs_segment *seg);

/* true if name may be used as a file in the group's directory: not empty,
 * not absolute, no '/', no "..". */
bool arfs_group_safe_name(const char *name);

#endif
