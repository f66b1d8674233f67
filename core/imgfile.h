/*
 * imgfile.h - an image value (typed.h, type image) as the bytes of an
 * image file, for the views folder's image files (docs/FORMAT.md 4.4):
 *
 *   JPEG (format 0)   the stored bytes, extension "jpg"
 *   PNG (format 1)    the stored bytes, extension "png"
 *   raw (format 2)    the pixels (height rows of width x channels bytes,
 *                     channels 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA)
 *                     written as an 8-bit PNG with Debian's libpng,
 *                     extension "png"
 *   undefined (3)     no file
 *
 * Thread safety: none needed, all state is in the arguments.
 * Errors: -ENOENT for a value that has no file (missing, undefined
 * format, not an image), -EUCLEAN for raw pixels whose byte count is not
 * height x width x channels or whose channel count is not 1..4, -ENOMEM.
 */
#ifndef ARFS_IMGFILE_H
#define ARFS_IMGFILE_H

#include <stddef.h>
#include <stdint.h>

struct arfs_textbuf;
struct arfs_value;

/* The file extension of v ("jpg", "png"), or NULL if it has no file. */
const char *arfs_imgfile_ext(const struct arfs_value *v);
/* Append the file's bytes to out. */
int arfs_imgfile_render(const struct arfs_value *v, struct arfs_textbuf *out);
/* Raw pixels as a PNG, appended to out. */
int arfs_imgfile_png(const uint8_t *pixels, size_t len, uint64_t width,
		     uint64_t height, uint64_t channels,
		     struct arfs_textbuf *out);

#endif
