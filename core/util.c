/*
 * util.c - logging. See util.h.
 */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static arfs_log_sink log_sink;
static enum arfs_log_level log_max = ARFS_LOG_INFO;
static const char *log_prefix = "arrayfs";

void arfs_log_set_sink(arfs_log_sink sink)
{
	log_sink = sink;
}

void arfs_log_set_level(enum arfs_log_level max)
{
	log_max = max;
}

void arfs_log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

void arfs_log(enum arfs_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_sink)
		log_sink(level, msg);
	else
		fprintf(stderr, "%s: %s\n", log_prefix, msg);
}

size_t arfs_utf8_put(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | cp >> 6);
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | cp >> 12);
		d[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | cp >> 18);
	d[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	d[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

void arfs_bytes_put(struct arfs_bytes *b, const void *src, size_t n)
{
	uint8_t *np;
	size_t cap;

	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

void arfs_bytes_u32(struct arfs_bytes *b, uint32_t v)
{
	uint8_t le[4];

	put_le32(le, v);
	arfs_bytes_put(b, le, 4);
}

void arfs_bytes_u64(struct arfs_bytes *b, uint64_t v)
{
	uint8_t le[8];

	put_le64(le, v);
	arfs_bytes_put(b, le, 8);
}
