/*
 * imgfile.c - image values as image files (imgfile.h). PNG encoding is
 * libpng's (Debian's libpng16): a PNG writer is not code to own here.
 * libpng reports errors by longjmp; the state a longjmp may skip over is
 * kept in a struct the caller owns, so nothing leaks.
 */
#include "imgfile.h"

#include "textval.h"
#include "typed.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>

const char *arfs_imgfile_ext(const struct arfs_value *v)
{
	if (v->type != ARFS_FT_IMAGE)
		return NULL;
	switch (v->u.img.format) {
	case ARFS_IMG_JPEG:
		return "jpg";
	case ARFS_IMG_PNG:
	case ARFS_IMG_RAW:
		return "png";
	default:
		return NULL;
	}
}

struct png_out {
	struct arfs_textbuf *tb;
	int rc;
};

static void png_write(png_structp png, png_bytep data, size_t len)
{
	struct png_out *o = png_get_io_ptr(png);

	if (!o->rc)
		o->rc = arfs_textbuf_add(o->tb, data, len);
}

static void png_flush(png_structp png)
{
	(void)png;
}

int arfs_imgfile_png(const uint8_t *pixels, size_t len, uint64_t width,
		     uint64_t height, uint64_t channels,
		     struct arfs_textbuf *out)
{
	static const int types[] = { 0, PNG_COLOR_TYPE_GRAY,
				     PNG_COLOR_TYPE_GRAY_ALPHA,
				     PNG_COLOR_TYPE_RGB,
				     PNG_COLOR_TYPE_RGB_ALPHA };
	struct png_out o = { out, 0 };
	volatile png_structp png;
	png_infop info = NULL;
	size_t start = out->len;

	if (channels < 1 || channels > 4 || !width || !height ||
	    width > PNG_UINT_31_MAX || height > PNG_UINT_31_MAX ||
	    len / height / channels != width ||
	    width * height * channels != len)
		return -EUCLEAN;
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (!png)
		return -ENOMEM;
	info = png_create_info_struct(png);
	if (!info || setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct((png_structpp)&png, &info);
		out->len = start;
		return o.rc ? o.rc : -ENOMEM;
	}
	png_set_write_fn(png, &o, png_write, png_flush);
	png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
		     types[channels], PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint64_t y = 0; y < height; y++)
		png_write_row(png, pixels + y * width * channels);
	png_write_end(png, NULL);
	png_destroy_write_struct((png_structpp)&png, &info);
	if (o.rc)
		out->len = start;
	return o.rc;
}

int arfs_imgfile_render(const struct arfs_value *v, struct arfs_textbuf *out)
{
	if (!arfs_imgfile_ext(v))
		return -ENOENT;
	if (v->u.img.format == ARFS_IMG_RAW)
		return arfs_imgfile_png(v->u.img.data, v->u.img.size,
					v->u.img.width, v->u.img.height,
					v->u.img.channels, out);
	return arfs_textbuf_add(out, v->u.img.data, v->u.img.size);
}
