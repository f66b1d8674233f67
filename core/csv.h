/*
 * csv.h - CSV in and out of segment groups: `arrayctl import` and
 * `arrayctl export`.
 *
 * Reading follows RFC 4180: fields separated by ',', records ended by LF
 * or CRLF, a field may be quoted with '"' and then hold ',', '"' (doubled)
 * and line breaks. The first record names the columns. Every record must
 * have as many fields as the header; every record must be valid UTF-8.
 * Errors name the line where the bad record (or the unterminated quoted
 * field) starts.
 *
 * Type inference (pass 1 reads the whole file, so memory does not depend
 * on its size; pass 2 encodes). Per column, over its non-missing fields:
 *   int     every field is a decimal integer that fits in 64 bits
 *   float   every field is an int or a decimal/exponent float, inf or nan
 *   vector  every field is [x y z] (numbers separated by spaces and/or
 *           commas; [] is the empty vector)
 *   str     anything else, and a column with no non-missing field.
 * A column named in opts->types is not inferred: it gets the type given
 * there, and each of its fields must be that type's text (textval.h:
 * list and dict as JSON, datetime ISO 8601, image and ndarray lines as
 * the mount shows them; int, float, vector and str as above).
 * An empty unquoted field is a missing value; a quoted empty field ("")
 * is the empty string in a str column (missing in the others).
 *
 * Export writes the same dialect: a header of quoted names, then per row
 * ints in decimal, floats in the shortest form that reads back exactly
 * (integral floats keep ".0", so the column stays float), vectors as
 * [1 2.5], strings always quoted with '"' doubled, other types as their
 * text form (textval.h) quoted, missing values as an empty field.
 * Importing an export gives the same columns, types and values.
 *
 * Turi's dialect (ARFS_CSV_TURI, `--dialect turi`) reads and writes CSV
 * as Turi Create's read_csv/export_csv do by default: backslash escapes
 * inside quoted fields, "NA" as a missing value, quoted fields as strings,
 * spaces around fields ignored; docs/FORMAT.md 3.2 lists every rule with
 * its source. Importing a Turi-dialect export gives the same values too.
 *
 * Thread safety: none needed; all state is in the arguments.
 */
#ifndef ARFS_CSV_H
#define ARFS_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "groupw.h"

enum arfs_csv_dialect {
	ARFS_CSV_RFC4180 = 0,	/* the default: RFC 4180, above */
	ARFS_CSV_TURI = 1,	/* Turi Create's read_csv/export_csv */
};

struct arfs_csv_import_opts {
	enum arfs_csv_dialect dialect;
	struct arfs_groupw_opts gw;	/* block size, compression, fsync */
	uint64_t segment_rows;		/* rows per segment; 0: 2^20 */
	/* types given by column name instead of inferred (enum arfs_ftype,
	 * not undefined); a name no column has is -EINVAL */
	const char *const *type_names;
	const unsigned *types;
	size_t ntypes;
	/* called about every 64 KiB of input; pass is 1 (infer) or 2 */
	void (*progress)(void *ctx, int pass, uint64_t done, uint64_t total,
			 uint64_t rows);
	void *ctx;
};

struct arfs_csv_summary {
	uint64_t rows, cols;
	unsigned *types;	/* [cols] enum arfs_ftype; malloc'd, caller frees */
	char **names;		/* [cols]; malloc'd, caller frees (arfs_csv_summary_release) */
	uint64_t csv_bytes;	/* size of the input */
	uint64_t disk_bytes;	/* index + segment files */
	uint64_t blocks;
};

/*
 * Import csv_path into a new group directory group_dir (which must not
 * exist). The group is built in a temporary directory next to it and
 * renamed into place at the end, so a failure leaves nothing.
 * On a CSV error returns -EINVAL (or -EILSEQ for bad UTF-8) and, when err
 * is not NULL, a message naming the line in err[0..err_cap).
 * -EEXIST when group_dir exists. On success fills *sum (may be NULL).
 */
int arfs_csv_import(const char *csv_path, const char *group_dir,
		    const struct arfs_csv_import_opts *opts,
		    struct arfs_csv_summary *sum, char *err, size_t err_cap);
void arfs_csv_summary_release(struct arfs_csv_summary *sum);

struct arfs_csv_export_opts {
	enum arfs_csv_dialect dialect;
	unsigned threads;	/* formatting threads; 0: 1 */
	/* called after each chunk of rows is written, in the caller's
	 * threads but one at a time */
	void (*progress)(void *ctx, uint64_t rows_done, uint64_t rows);
	void *ctx;
};

/*
 * Export the group at group_path to out (see above), formatting chunks of
 * rows on opts->threads threads and writing them in row order (opts may
 * be NULL: one thread). 0 or -errno; on an error the output stops at a
 * chunk boundary.
 */
int arfs_csv_export(const char *group_path, FILE *out,
		    const struct arfs_csv_export_opts *opts);

/* ---- the export's row rendering, for other renderers (view.h) ---- */

struct arfs_blockmgr;
struct arfs_column;
struct arfs_group;
struct arfs_textbuf;
struct arfs_value;
struct arfs_values;

/*
 * A reading position in one column: the block decoded last and the next
 * row in it. Zero-initialize with col set; arfs_csv_cursor_release() frees
 * the decoded block. Not thread-safe: one cursor per thread.
 */
struct arfs_csv_cursor {
	struct arfs_column *col;
	uint64_t blk, pos;		/* next block to decode; row in vals */
	struct arfs_values *vals;	/* the block decoded last, or NULL */
};

/* Position cu at row r (binary search over the blocks; the block decoded
 * last is reused). Past the column's end, next gives missing values.
 * 0 or the -errno of the block's decode. */
int arfs_csv_cursor_seek(struct arfs_blockmgr *mgr, struct arfs_csv_cursor *cu,
			 uint64_t r);
/* The value at the cursor, then advance: *out valid until the cursor
 * moves to another block or is released. A missing value past a shorter
 * column's end. 0 or -errno. */
int arfs_csv_cursor_next(struct arfs_blockmgr *mgr, struct arfs_csv_cursor *cu,
			 const struct arfs_value **out);
void arfs_csv_cursor_release(struct arfs_csv_cursor *cu);

/* Rows of the export: those of the longest column. */
uint64_t arfs_csv_rows(const struct arfs_group *g);
/* Append the default dialect's header line (quoted names, newline):
 * 0 or -ENOMEM. */
int arfs_csv_put_header(struct arfs_textbuf *tb, const struct arfs_group *g);
/* Append one value as the export writes it in the default (RFC 4180)
 * dialect, no separator: 0 or -ENOMEM. */
int arfs_csv_put_value(struct arfs_textbuf *tb, const struct arfs_value *v);

#endif
