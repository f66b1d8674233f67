/*
 * testutil.h - helpers shared by the cmocka runners in tests/core/.
 */
#ifndef ARFS_TESTUTIL_H
#define ARFS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Path of tests/fixtures (env ARFS_FIXTURES), never NULL. */
const char *tu_fixtures(void);
/* Make a fresh empty directory under $TMPDIR; returns a malloc'd path. */
char *tu_tmpdir(const char *tag);
/* rm -rf path (test scratch only). */
void tu_rmrf(const char *path);
/* Copy directory src (flat, regular files only) to a new dst. */
void tu_copydir(const char *src, const char *dst);
/* Read a whole file; malloc'd, *len set. NULL if unreadable. */
uint8_t *tu_readfile(const char *path, size_t *len);
void tu_writefile(const char *path, const void *data, size_t len);
/* Hex sha256 of a buffer into out[65] (small, self-contained). */
void tu_sha256_hex(const void *data, size_t len, char out[65]);

#endif
