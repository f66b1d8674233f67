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
