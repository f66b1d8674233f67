/*
 * jsonl.h - values as JSON, for the JSON Lines view of a segment group
 * (view.h; docs/FORMAT.md, "Views"). One row is one JSON object whose keys
 * are the column names in order:
 *
 *   int         a JSON number (decimal)
 *   float       a JSON number in the block text's shortest form (numfmt.h,
 *               integral values keep ".0"); inf, -inf and nan as null
 *   str         a JSON string: '"', '\' and control characters escaped
 *               (\n \t \r \b \f, others \u00XX); bytes that are not UTF-8
 *               become U+FFFD (JSON holds text only)
 *   vector      an array of numbers (non-finite elements null)
 *   list, dict  a JSON array / object of these forms; a dict key that is
 *               not a string is written as a string of its JSON text
 *   missing     null
 *   other types (datetime, image, ndarray) a JSON string of their block
 *               text (textval.h)
 *
 * Thread safety: none needed, all state is in the arguments.
 * Errors: -ENOMEM only.
 */
#ifndef ARFS_JSONL_H
#define ARFS_JSONL_H

#include <stddef.h>

struct arfs_textbuf;
struct arfs_value;

/* Append s[0..n) as a JSON string (quotes included). */
int arfs_jsonl_put_string(struct arfs_textbuf *tb, const char *s, size_t n);
/* Append one value in the form above. */
int arfs_jsonl_put_value(struct arfs_textbuf *tb, const struct arfs_value *v);

#endif
