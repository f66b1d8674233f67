/*
 * csv_turi.h - the string rules of Turi's CSV dialect (`arrayctl import
 * --dialect turi`, `export --dialect turi`), private to core/csv.c and
 * core/csv_export.c. The rules and their sources in Turi Create are in
 * docs/FORMAT.md 3.2.
 *
 * Thread safety: none needed; the functions touch only their arguments.
 */
#ifndef ARFS_CSV_TURI_H
#define ARFS_CSV_TURI_H

#include <stdbool.h>
#include <stddef.h>

struct arfs_textbuf;

/*
 * Undo Turi's escapes in the n bytes of a quoted field's content, in
 * place (the result is never longer): \\ \" \' \/ \t \b \r \n, \uHHHH (and
 * a surrogate pair \uHHHH\uHHHH) as UTF-8, "" as ". A backslash before any
 * other byte, or a \u that is not four hex digits, stays as it is.
 * Returns the new length.
 */
size_t arfs_csv_turi_unescape(char *s, size_t n);

/*
 * Append the n bytes of s as a Turi CSV string field: in double quotes,
 * with " doubled and \ \t \b \r \n NUL escaped. 0 or -ENOMEM.
 */
int arfs_csv_turi_put_string(struct arfs_textbuf *tb, const char *s,
			     size_t n);

/* True if a header name can be written bare (no quotes). */
bool arfs_csv_turi_bare_name(const char *s, size_t n);

#endif
