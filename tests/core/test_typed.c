/*
 * test_typed.c - typed block decoding: every value of every column of the
 * real SFrame fixture against its CSV, plus hand-built payloads for the
 * number stream, the None bitmap, multi-type values, and payloads that end
 * early or leave bytes over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "group.h"
#include "segment.h"
#include "testutil.h"
#include "textval.h"
#include "typed.h"
#include "util.h"

#define NROWS 11536
#define NCOLS 12

/* ---- CSV of the fixture --------------------------------------------- */

struct csv {
	char *buf;
	char **cells;		/* [NROWS][NCOLS], unescaped */
	bool *quoted;
};

/* One field at *p: unescape in place (quoted fields: \\ -> \, \" -> ",
 * "" -> "). Returns the start; *p moves past the separator. */
static char *csv_field(char **p, bool *quoted)
{
	char *s = *p, *out = s, *start = s;

	*quoted = *s == '"';
	if (!*quoted) {
		while (*s && *s != ',' && *s != '\n')
			s++;
		*p = *s ? s + 1 : s;
		*s = 0;
		return start;
	}
	s++;
	for (;;) {
		if (*s == '\\' && (s[1] == '\\' || s[1] == '"')) {
			*out++ = s[1];
			s += 2;
		} else if (*s == '"' && s[1] == '"') {
			*out++ = '"';
			s += 2;
		} else if (*s == '"') {
			s++;
			break;
		} else {
			assert_true(*s != 0);
			*out++ = *s++;
		}
	}
	assert_true(*s == ',' || *s == '\n' || *s == 0);
	*p = *s ? s + 1 : s;
	*out = 0;
	return start;
}

static void csv_load(struct csv *c)
{
	char path[4096], *p;
	size_t len;

	snprintf(path, sizeof(path), "%s/turi/business.csv", tu_fixtures());
	c->buf = (char *)tu_readfile(path, &len);
	assert_non_null(c->buf);
	c->buf = realloc(c->buf, len + 1);
	c->buf[len] = 0;
	c->cells = calloc(NROWS * NCOLS, sizeof(char *));
	c->quoted = calloc(NROWS * NCOLS, sizeof(bool));
	p = strchr(c->buf, '\n') + 1;	/* header */
	for (int r = 0; r < NROWS; r++)
		for (int k = 0; k < NCOLS; k++)
			c->cells[r * NCOLS + k] = csv_field(&p,
						&c->quoted[r * NCOLS + k]);
	assert_int_equal(*p, 0);
}

static void csv_free(struct csv *c)
{
	free(c->buf);
	free(c->cells);
	free(c->quoted);
}

/* ---- decoding a fixture column -------------------------------------- */

struct fixture {
	struct arfs_group *g;
	struct arfs_segment *seg;
	int fd;
};

static void fixture_open(struct fixture *f)
{
	char path[4096];
	const struct arfs_sidx *sx;

	snprintf(path, sizeof(path), "%s/turi/business.sf", tu_fixtures());
	assert_int_equal(arfs_group_open(path, &f->g), 0);
	sx = f->g->cols[0].sidx;
	snprintf(path, sizeof(path), "%s/%s", f->g->dir, sx->seg_files[0]);
	f->fd = open(path, O_RDONLY);
	assert_true(f->fd >= 0);
	assert_int_equal(arfs_segment_parse(f->fd, sx->seg_files[0], &f->seg),
			 0);
	assert_int_equal(arfs_group_check_segment(sx, 0, f->seg), 0);
}

static void fixture_close(struct fixture *f)
{
	arfs_segment_free(f->seg);
	arfs_group_free(f->g);
	close(f->fd);
}

static void check_value(const struct arfs_value *v, unsigned type,
			const char *cell, int row, int col)
{
	struct arfs_textbuf tb = { 0 };
	char *end, want[256];
	const char *p;
	double d;

	if (v->type != type)
		fail_msg("row %d col %d: type %u, want %u", row, col, v->type,
			 type);
	switch (type) {
	case ARFS_FT_INTEGER:
		assert_int_equal(v->u.i, strtoll(cell, &end, 10));
		assert_int_equal(*end, 0);
		break;
	case ARFS_FT_FLOAT:
		d = strtod(cell, &end);
		assert_int_equal(*end, 0);
		if (v->u.f != d)
			fail_msg("row %d col %d: %.17g != %s", row, col, v->u.f,
				 cell);
		/* the text form is the CSV's, plus ".0" when integral */
		assert_int_equal(arfs_textval_append(&tb, v), 0);
		snprintf(want, sizeof(want), "%s%s", cell,
			 strpbrk(cell, ".e") ? "" : ".0");
		if (tb.len != strlen(want) || memcmp(tb.p, want, tb.len))
			fail_msg("row %d col %d: text '%.*s' != '%s'", row, col,
				 (int)tb.len, tb.p, want);
		break;
	case ARFS_FT_STRING:
		if (v->u.str.len != strlen(cell) ||
		    memcmp(v->u.str.p, cell, v->u.str.len))
			fail_msg("row %d col %d: '%.*s' != '%s'", row, col,
				 (int)v->u.str.len, v->u.str.p, cell);
		break;
	case ARFS_FT_VECTOR:
		p = cell + 1;
		for (uint64_t i = 0; i < v->u.vec.n; i++) {
			d = strtod(p, &end);
			assert_true(end != p);
			assert_true(v->u.vec.v[i] == d);
			p = end;
		}
		assert_string_equal(p, "]");
		assert_int_equal(arfs_textval_append(&tb, v), 0);
		assert_int_equal(tb.len, strlen(cell));
		assert_memory_equal(tb.p, cell, tb.len);
		break;
	default:
		fail_msg("unexpected type %u", type);
	}
	arfs_textbuf_release(&tb);
}

static void test_fixture_matches_csv(void **state)
{
	struct fixture f;
	struct csv c;
	uint64_t col, b, row;
	void *payload;
	size_t len;
	char where[64];

	csv_load(&c);
	fixture_open(&f);
	assert_int_equal(f.g->ncols, NCOLS);
	for (col = 0; col < NCOLS; col++) {
		const struct arfs_group_column *gc = &f.g->cols[col];

		assert_int_equal(gc->rows, NROWS);
		row = 0;
		for (b = 0; b < f.seg->nblocks[gc->index]; b++) {
			struct arfs_values *vals;

			assert_int_equal(arfs_segment_read_block(f.seg, f.fd,
					 gc->index, b, &payload, &len), 0);
			snprintf(where, sizeof(where), "col %lu block %lu",
				 (unsigned long)col, (unsigned long)b);
			assert_int_equal(arfs_typed_decode(
				&f.seg->blocks[gc->index][b], payload, len,
				where, &vals), 0);
			for (uint64_t i = 0; i < vals->n; i++, row++)
				check_value(&vals->v[i], gc->type,
					    c.cells[row * NCOLS + col],
					    (int)row, (int)col);
			arfs_values_free(vals);
			free(payload);
		}
		assert_int_equal(row, NROWS);
	}
	fixture_close(&f);
	csv_free(&c);
}

/* Every column's rendering has one line per row and no raw tab. */
static void test_fixture_render_lines(void **state)
{
	struct fixture f;
	uint64_t col, b, lines;
	void *payload;
	size_t len, tlen;
	char *text;

	fixture_open(&f);
	for (col = 0; col < f.seg->ncols; col++) {
		lines = 0;
		for (b = 0; b < f.seg->nblocks[col]; b++) {
			struct arfs_values *vals;

			assert_int_equal(arfs_segment_read_block(f.seg, f.fd,
					 col, b, &payload, &len), 0);
			assert_int_equal(arfs_typed_decode(&f.seg->blocks[col][b],
					 payload, len, "x", &vals), 0);
			assert_int_equal(arfs_textval_render(vals, &text,
					 &tlen), 0);
			for (size_t i = 0; i < tlen; i++) {
				lines += text[i] == '\n';
				assert_true(text[i] != '\t');
			}
			free(text);
			arfs_values_free(vals);
			free(payload);
		}
		assert_int_equal(lines, NROWS);
	}
	fixture_close(&f);
}

/* ---- hand-built payloads -------------------------------------------- */

static int decode(uint64_t flags, uint64_t n, const void *p, size_t len,
		  struct arfs_values **out)
{
	struct arfs_block_info bi = { .flags = flags, .num_elem = n,
				      .block_size = len, .length = len };

	return arfs_typed_decode(&bi, p, len, "test", out);
}

static void test_varint(void **state)
{
	/* 12 -> one byte 0x18; 524 -> 0x31 0x08 (value << 2 | 1) */
	static const uint8_t b[] = { 0x18, 0x31, 0x08, 0x7f, 1, 2, 3, 4, 5,
				     6, 7, 8 };
	size_t pos = 0;
	uint64_t v;

	assert_int_equal(arfs_typed_decode_varint(b, sizeof(b), &pos, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(arfs_typed_decode_varint(b, sizeof(b), &pos, &v), 0);
	assert_int_equal(v, 524);
	assert_int_equal(arfs_typed_decode_varint(b, sizeof(b), &pos, &v), 0);
	assert_int_equal(v, 0x0807060504030201ull);
	assert_int_equal(pos, sizeof(b));
	pos = 3;
	assert_int_equal(arfs_typed_decode_varint(b, 8, &pos, &v), -EUCLEAN);
}

static void test_int_column_with_missing(void **state)
{
	/* 3 rows: 5, None, 7. num_types 2, type int, bitmap bit 1,
	 * FOR frame of 2 values: header (shift 2 -> 2 bits, technique 0),
	 * base 5 (0x0a), packed [0, 2] with 6 bits of padding: 0x80 */
	static const uint8_t p[] = { 2, 0, 2, 0, 0, 0, 0, 0, 0, 0,
				     2 << 2, 0x0a, 0x80 };
	struct arfs_values *v;
	char *text;
	size_t len;

	assert_int_equal(decode(ARFS_BLOCK_TYPED, 3, p, sizeof(p), &v), 0);
	assert_int_equal(v->v[0].u.i, 5);
	assert_int_equal(v->v[1].type, ARFS_FT_UNDEFINED);
	assert_int_equal(v->v[2].u.i, 7);
	assert_int_equal(arfs_textval_render(v, &text, &len), 0);
	assert_int_equal(len, strlen("5\n\\N\n7\n"));
	assert_memory_equal(text, "5\n\\N\n7\n", len);
	free(text);
	arfs_values_free(v);
}

static void test_delta_zigzag(void **state)
{
	/* 4 ints 10, 9, 11, 11: delta zigzag, first 10 (0x14), deltas
	 * -1,+2,0 -> 1,4,0 in 4-bit fields; 3 values pad 5 -> skip 4 bits:
	 * byte0 high nibble = 1, byte1 = 4 | 0 << 4 */
	static const uint8_t p[] = { 1, 0, (3 << 2) | 2, 0x14, 0x10, 0x04 };
	struct arfs_values *v;

	assert_int_equal(decode(ARFS_BLOCK_TYPED, 4, p, sizeof(p), &v), 0);
	assert_int_equal(v->v[0].u.i, 10);
	assert_int_equal(v->v[1].u.i, 9);
	assert_int_equal(v->v[2].u.i, 11);
	assert_int_equal(v->v[3].u.i, 11);
	arfs_values_free(v);
}

static void test_all_undefined_and_empty(void **state)
{
	static const uint8_t undef[] = { 1, ARFS_FT_UNDEFINED };
	static const uint8_t empty[] = { 0 };
	struct arfs_values *v;

	assert_int_equal(decode(ARFS_BLOCK_TYPED, 5, undef, 2, &v), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(v->v[i].type, ARFS_FT_UNDEFINED);
	arfs_values_free(v);
	assert_int_equal(decode(ARFS_BLOCK_TYPED, 0, empty, 1, &v), 0);
	arfs_values_free(v);
	assert_int_equal(decode(ARFS_BLOCK_TYPED, 2, empty, 1, &v), -EUCLEAN);
}

static void test_multitype(void **state)
{
	/* u8 num_types, u64 count 3, then tagged values:
	 * int 7; list ["a", 2.5]; dict {"k": None} */
	uint8_t p[128], *q = p;
	struct arfs_values *v;
	struct arfs_textbuf tb = { 0 };
	double d = 2.5;

	*q++ = 3;
	put_le64(q, 3), q += 8;
	*q++ = 128 + 0, put_le64(q, 7), q += 8;
	*q++ = 128 + 4, put_le64(q, 2), q += 8;
	*q++ = 128 + 2, put_le64(q, 1), q += 8, *q++ = 'a';
	*q++ = 128 + 1, memcpy(q, &d, 8), q += 8;
	*q++ = 128 + 5, put_le64(q, 1), q += 8;
	*q++ = 128 + 2, put_le64(q, 1), q += 8, *q++ = 'k';
	*q++ = 128 + 7;
	assert_int_equal(decode(ARFS_BLOCK_TYPED | ARFS_BLOCK_MULTITYPE, 3, p,
				(size_t)(q - p), &v), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(arfs_textval_append(&tb, &v->v[i]), 0);
		arfs_textbuf_add(&tb, "|", 1);
	}
	assert_int_equal(tb.len, strlen("7|[\"a\",2.5]|{\"k\":null}|"));
	assert_memory_equal(tb.p, "7|[\"a\",2.5]|{\"k\":null}|", tb.len);
	arfs_textbuf_release(&tb);
	arfs_values_free(v);
	/* every truncation of it is an error, never a crash */
	for (size_t n = 0; n < (size_t)(q - p); n++)
		assert_int_equal(decode(ARFS_BLOCK_TYPED | ARFS_BLOCK_MULTITYPE,
					3, p, n, &v), -EUCLEAN);
}

/*
 * Image bodies as Turi's image_type::save() writes them: u8 version, u64
 * height, width, channels, u64 format (an enum of size_t), u64 size, bytes.
 * A single-type image block: num_types 1, type 8, then the bodies.
 */
static size_t put_image_body(uint8_t *q, uint64_t h, uint64_t w, uint64_t c,
			     uint64_t fmt, const char *data)
{
	uint8_t *p = q;
	size_t len = strlen(data);

	*q++ = 0;
	put_le64(q, h), q += 8;
	put_le64(q, w), q += 8;
	put_le64(q, c), q += 8;
	put_le64(q, fmt), q += 8;
	put_le64(q, len), q += 8;
	memcpy(q, data, len), q += len;
	return (size_t)(q - p);
}

static void test_image_column(void **state)
{
	uint8_t p[256], *q = p;
	struct arfs_values *v;
	char *text;
	size_t len;
	static const char want[] = "<image 3x2x1 png 4 bytes iVBORw==>\n"
				   "<image 640x480x3 jpeg 5 bytes /9hhYmM=>\n";

	*q++ = 1;
	*q++ = ARFS_FT_IMAGE;
	q += put_image_body(q, 2, 3, 1, ARFS_IMG_PNG, "\x89PNG");
	q += put_image_body(q, 480, 640, 3, ARFS_IMG_JPEG, "\xff\xd8" "abc");
	assert_int_equal(decode(ARFS_BLOCK_TYPED, 2, p, (size_t)(q - p), &v),
			 0);
	assert_int_equal(v->v[0].u.img.height, 2);
	assert_int_equal(v->v[0].u.img.width, 3);
	assert_int_equal(v->v[0].u.img.format, ARFS_IMG_PNG);
	assert_int_equal(v->v[0].u.img.size, 4);
	assert_memory_equal(v->v[0].u.img.data, "\x89PNG", 4);
	assert_int_equal(v->v[1].u.img.format, ARFS_IMG_JPEG);
	assert_memory_equal(v->v[1].u.img.data, "\xff\xd8" "abc", 5);
	assert_int_equal(arfs_textval_render(v, &text, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(text, want, len);
	free(text);
	arfs_values_free(v);
	/* every truncation fails cleanly */
	for (size_t n = 0; n < (size_t)(q - p); n++)
		assert_int_equal(decode(ARFS_BLOCK_TYPED, 2, p, n, &v),
				 -EUCLEAN);
	/* a format past Turi's four is corrupt */
	q = p + 2;
	put_image_body(q, 2, 3, 1, 4, "\x89PNG");
	assert_int_equal(decode(ARFS_BLOCK_TYPED, 1, p, 2 + 45, &v), -EUCLEAN);
}

/* JPEG frame size from the first SOFn marker: 0 if none. */
static int jpeg_size(const uint8_t *b, uint64_t n, unsigned *w, unsigned *h)
{
	uint64_t i = 2;

	while (i + 9 < n && b[i] == 0xff) {
		uint8_t m = b[i + 1];
		unsigned seg = (unsigned)b[i + 2] << 8 | b[i + 3];

		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 &&
		    m != 0xcc) {
			*h = (unsigned)b[i + 5] << 8 | b[i + 6];
			*w = (unsigned)b[i + 7] << 8 | b[i + 8];
			return 1;
		}
		i += 2 + seg;
	}
	return 0;
}

/*
 * The real image column (Turi Create, 60 JPEGs): every value decodes, is a
 * JPEG (SOI marker), and its stored width and height are those of the
 * JPEG's own frame header.
 */
static void test_fixture_image_column(void **state)
{
	char path[4096];
	struct arfs_group *g;
	struct arfs_segment *seg;
	const struct arfs_group_column *gc;
	struct arfs_values *v;
	void *payload;
	size_t len;
	uint64_t rows = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/turi/liang_or_lu_image",
		 tu_fixtures());
	assert_int_equal(arfs_group_open(path, &g), 0);
	gc = &g->cols[1];
	assert_int_equal(gc->type, ARFS_FT_IMAGE);
	snprintf(path, sizeof(path), "%s/%s", g->dir, gc->sidx->seg_files[0]);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(arfs_segment_parse(fd, gc->sidx->seg_files[0], &seg),
			 0);
	for (uint64_t b = 0; b < seg->nblocks[gc->index]; b++) {
		assert_int_equal(arfs_segment_read_block(seg, fd, gc->index, b,
							 &payload, &len), 0);
		assert_int_equal(arfs_typed_decode(&seg->blocks[gc->index][b],
						   payload, len, "image", &v),
				 0);
		for (uint64_t i = 0; i < v->n; i++, rows++) {
			const struct arfs_value *x = &v->v[i];
			unsigned w = 0, h = 0;

			assert_int_equal(x->type, ARFS_FT_IMAGE);
			assert_int_equal(x->u.img.format, ARFS_IMG_JPEG);
			assert_int_equal(x->u.img.channels, 3);
			assert_true(x->u.img.size > 4);
			assert_int_equal(x->u.img.data[0], 0xff);
			assert_int_equal(x->u.img.data[1], 0xd8);
			assert_true(jpeg_size(x->u.img.data, x->u.img.size,
					      &w, &h));
			assert_int_equal(x->u.img.width, w);
			assert_int_equal(x->u.img.height, h);
		}
		arfs_values_free(v);
		free(payload);
	}
	assert_int_equal(rows, 60);
	arfs_segment_free(seg);
	arfs_group_free(g);
	close(fd);
}

static void test_fixture_blocks_truncated_or_padded(void **state)
{
	struct fixture f;
	struct arfs_values *v;
	struct arfs_block_info bi;
	uint8_t *padded;
	void *payload;
	size_t len;

	fixture_open(&f);
	for (uint64_t col = 0; col < f.seg->ncols; col++) {
		assert_int_equal(arfs_segment_read_block(f.seg, f.fd, col, 1,
				 &payload, &len), 0);
		bi = f.seg->blocks[col][1];
		/* ends early: cut at several points */
		for (size_t cut = 0; cut < len; cut += 1 + len / 50)
			assert_int_equal(arfs_typed_decode(&bi, payload, cut,
					 "trunc", &v), -EUCLEAN);
		/* bytes left over */
		padded = malloc(len + 3);
		memcpy(padded, payload, len);
		memset(padded + len, 0, 3);
		assert_int_equal(arfs_typed_decode(&bi, padded, len + 3, "pad",
						   &v), -EUCLEAN);
		/* random damage: any result, no crash */
		srand(42);
		for (int k = 0; k < 200; k++) {
			memcpy(padded, payload, len);
			padded[rand() % len] ^= (uint8_t)(1 + rand() % 255);
			if (arfs_typed_decode(&bi, padded, len, "fuzz", &v) == 0)
				arfs_values_free(v);
		}
		free(padded);
		free(payload);
	}
	fixture_close(&f);
}

static void quiet(enum arfs_log_level level, const char *msg)
{
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_matches_csv),
		cmocka_unit_test(test_fixture_render_lines),
		cmocka_unit_test(test_varint),
		cmocka_unit_test(test_int_column_with_missing),
		cmocka_unit_test(test_delta_zigzag),
		cmocka_unit_test(test_all_undefined_and_empty),
		cmocka_unit_test(test_multitype),
		cmocka_unit_test(test_image_column),
		cmocka_unit_test(test_fixture_image_column),
		cmocka_unit_test(test_fixture_blocks_truncated_or_padded),
	};

	arfs_log_set_sink(quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
