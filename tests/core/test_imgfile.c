/*
 * test_imgfile.c - image values as files: JPEG and PNG bytes as stored;
 * raw pixels (gray, gray + alpha, RGB, RGBA) as a PNG that libpng's
 * reader gives back pixel for pixel; a pixel count that does not match
 * the size, a bad channel count, missing values and undefined formats
 * have no file or fail cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "imgfile.h"
#include "textval.h"
#include "typed.h"

static struct arfs_value image(int format, const uint8_t *data, size_t size,
			       uint64_t w, uint64_t h, uint64_t c)
{
	struct arfs_value v = { .type = ARFS_FT_IMAGE };

	v.u.img.format = format;
	v.u.img.data = data;
	v.u.img.size = size;
	v.u.img.width = w;
	v.u.img.height = h;
	v.u.img.channels = c;
	return v;
}

static void test_stored_bytes(void **state)
{
	static const uint8_t jpg[] = { 0xff, 0xd8, 0xff, 0xe0, 1, 2, 3 };
	struct arfs_value v = image(ARFS_IMG_JPEG, jpg, sizeof(jpg), 1, 1, 3);
	struct arfs_textbuf tb = { 0 };

	(void)state;
	assert_string_equal(arfs_imgfile_ext(&v), "jpg");
	assert_int_equal(arfs_imgfile_render(&v, &tb), 0);
	assert_int_equal(tb.len, sizeof(jpg));
	assert_memory_equal(tb.p, jpg, sizeof(jpg));
	v.u.img.format = ARFS_IMG_PNG;
	assert_string_equal(arfs_imgfile_ext(&v), "png");
	v.u.img.format = ARFS_IMG_UNDEFINED;
	assert_null(arfs_imgfile_ext(&v));
	assert_int_equal(arfs_imgfile_render(&v, &tb), -ENOENT);
	v.type = ARFS_FT_UNDEFINED;
	assert_null(arfs_imgfile_ext(&v));
	arfs_textbuf_release(&tb);
}

static void test_raw_as_png(void **state)
{
	(void)state;
	for (uint64_t c = 1; c <= 4; c++) {
		uint64_t w = 7, h = 5;
		size_t n = w * h * c;
		uint8_t *px = malloc(n);
		struct arfs_textbuf tb = { 0 };
		png_image img;
		uint8_t *back;
		struct arfs_value v;

		for (size_t i = 0; i < n; i++)
			px[i] = (uint8_t)(i * 37 + c);
		v = image(ARFS_IMG_RAW, px, n, w, h, c);
		assert_string_equal(arfs_imgfile_ext(&v), "png");
		assert_int_equal(arfs_imgfile_render(&v, &tb), 0);
		assert_memory_equal(tb.p, "\x89PNG\r\n\x1a\n", 8);
		memset(&img, 0, sizeof(img));
		img.version = PNG_IMAGE_VERSION;
		assert_true(png_image_begin_read_from_memory(&img, tb.p, tb.len));
		assert_int_equal(img.width, w);
		assert_int_equal(img.height, h);
		assert_int_equal(PNG_IMAGE_SAMPLE_CHANNELS(img.format), c);
		back = malloc(PNG_IMAGE_SIZE(img));
		assert_true(png_image_finish_read(&img, NULL, back, 0, NULL));
		assert_memory_equal(back, px, n);
		free(back);
		free(px);
		arfs_textbuf_release(&tb);
	}
}

static void test_raw_bad(void **state)
{
	uint8_t px[12] = { 0 };
	struct arfs_textbuf tb = { 0 };
	struct arfs_value v = image(ARFS_IMG_RAW, px, 12, 2, 2, 3);

	(void)state;
	v.u.img.size = 11;		/* not 2 x 2 x 3 */
	assert_int_equal(arfs_imgfile_render(&v, &tb), -EUCLEAN);
	v.u.img.size = 12;
	v.u.img.channels = 5;
	v.u.img.width = 1;
	assert_int_equal(arfs_imgfile_render(&v, &tb), -EUCLEAN);
	v = image(ARFS_IMG_RAW, px, 0, 0, 0, 3);
	assert_int_equal(arfs_imgfile_render(&v, &tb), -EUCLEAN);
	v = image(ARFS_IMG_RAW, px, 12, UINT64_C(1) << 62, 4, 3);
	assert_int_equal(arfs_imgfile_render(&v, &tb), -EUCLEAN);
	assert_int_equal(tb.len, 0);
	arfs_textbuf_release(&tb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stored_bytes),
		cmocka_unit_test(test_raw_as_png),
		cmocka_unit_test(test_raw_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
