/*
 * util.c - logging. See util.h.
 */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

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
