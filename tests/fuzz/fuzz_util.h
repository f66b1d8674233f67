/*
 * fuzz_util.h - shared by the libFuzzer targets in tests/fuzz/: a scratch
 * directory per process, whole-file writes, and a silent log sink (a
 * parser's messages on bad input are expected and only slow the fuzzer).
 */
#ifndef ARFS_FUZZ_UTIL_H
#define ARFS_FUZZ_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fz_quiet(enum arfs_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

/* A fresh directory under $TMPDIR, removed at exit by the caller's rm. */
static inline char *fz_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	static char path[4096];

	snprintf(path, sizeof(path), "%s/arfs-fuzz-%s-XXXXXX",
		 base ? base : "/tmp", tag);
	if (!mkdtemp(path))
		abort();
	arfs_log_set_sink(fz_quiet);
	return path;
}

static inline void fz_write(const char *dir, const char *name, const void *data,
		     size_t len)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

static inline void fz_unlink(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static inline uint32_t fz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#endif
