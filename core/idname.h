/*
 * idname.h - the one rule that turns stored ids (sequences of code points,
 * possibly holding '/', NUL, invalid code points, or being "." / "..") into
 * file names, and back. arrayctl and the mount both use it, so a name a user
 * sees is the name every tool accepts.
 *
 * The rule (docs/FORMAT.md, "Names"):
 *  - U+0000 is written "%00" and '/' (U+002F) "%2F".
 *  - '%' is written "%25" when the two code points after it are hex digits
 *    or the next one is '{', so that "%" followed by anything else, e.g.
 *    "100%", stays as it is.
 *  - A value that is not a Unicode scalar (a surrogate D800..DFFF, or above
 *    10FFFF) is written "%{X}" with X its value in upper-case hex.
 *  - An id that is exactly "." or ".." is written "%2E" or "%2E%2E"; the
 *    empty id is written "%00".
 *  - Everything else is UTF-8.
 * Reading a name back: "%XX" (two hex digits) is code point U+00XX, "%{X}"
 * (1..8 hex digits) is the value X, any other byte sequence is UTF-8;
 * invalid UTF-8 in a name is -EILSEQ.
 *
 * Thread safety: pure functions.
 */
#ifndef ARFS_IDNAME_H
#define ARFS_IDNAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Name of the id stored as `n` code points in `cps`. Writes a NUL-terminated
 * name into out (cap bytes). Returns the name length, or -ENAMETOOLONG when
 * cap is too small.
 */
ssize_t arfs_idname_from_cps(const uint32_t *cps, size_t n, char *out,
			     size_t cap);
/*
 * Code points of a name (len bytes, need not be NUL-terminated) into cps
 * (cap entries). Returns the count, -ENAMETOOLONG when more than cap are
 * needed, -EILSEQ for invalid UTF-8 or a malformed "%{...}", -EINVAL for an
 * empty name.
 */
ssize_t arfs_idname_to_cps(const char *name, size_t len, uint32_t *cps,
			   size_t cap);
/*
 * The name for a UTF-8 string that is not an id (a column name): the same
 * rule applied to its code points; invalid UTF-8 bytes are shown as %{X}
 * of the byte value + 0xDC00 (a lone surrogate, as Python's surrogateescape).
 */
ssize_t arfs_idname_from_utf8(const char *s, size_t len, char *out, size_t cap);

#endif
