/*
 * testutil_docarray.h - helpers shared by the document-array runners
 * (test_docarray.c, test_docarray_write.c, test_docarray_recovery.c),
 * defined in testutil_docarray.c. Test code only: failures assert or
 * abort. scratch_root is set by setup() (the runners' group setup) and
 * removed by teardown(); the log capture is safe across threads.
 */
#ifndef ARFS_TESTUTIL_DOCARRAY_H
#define ARFS_TESTUTIL_DOCARRAY_H

#include "docarray.h"
#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NAME_CAP 1024

#define PAGE 4096

extern pthread_mutex_t log_lock;

extern char last_log[1024];

extern int log_count;

void log_sink(enum arfs_log_level level, const char *msg);

extern char *scratch_root;

char *fixture_dir(const char *name);

char *path_in(const char *dir, const char *file);

/* A fresh writable copy of fixture `name`; free() the path. */
char *copy_fixture(const char *name);

off_t fsize(const char *dir, const char *file);

bool exists(const char *dir, const char *file);

uint8_t *slurp(const char *dir, const char *file, size_t *len);

size_t row_size(unsigned K);

void row_get(const uint8_t *hb, unsigned K, uint64_t row, int64_t ext[3]);

bool is_tomb(const int64_t ext[3]);

/*
 * DocArray's rules for every live row: p a multiple of the page, 0 <= r <
 * page, r <= e, and the bytes inside body.bin.
 */
void check_rows(const char *dir, unsigned K);

struct mdoc {
	char *name;
	uint8_t *data;
	size_t len;
};

struct model {
	struct mdoc *d;
	size_t n, cap;
};

void model_free(struct model *m);

ssize_t model_find(const struct model *m, const char *name);

void model_set(struct mdoc *d, const char *name, const void *data,
		      size_t len);

void model_put(struct model *m, const char *name, const void *data,
		      size_t len);

void model_del_at(struct model *m, size_t i);

void model_del(struct model *m, const char *name);

/*
 * Rename: in place to a free name; over an existing document the result
 * takes the later of the two places (the engine rewrites whichever row
 * comes last: docarray/delete.c, rename_over()).
 */
void model_rename(struct model *m, const char *old, const char *new);

/* Move document `name` to the place right after document `after`. */
void model_move_after(struct model *m, const char *name,
			     const char *after);

json_t *load_expected(const char *fixture);

/* The model of a fixture: expected.json's docs with bytes from body.bin. */
void model_fixture(struct model *m, const char *fixture);

struct arfs_docarray *open_da(const char *dir, unsigned K, bool ro);

/* Read a whole document through pread and view (must agree): malloc'd. */
uint8_t *read_doc(struct arfs_docarray *da, const char *name,
			 size_t *len, struct arfs_docref *keep);

void get_attr(struct arfs_docarray *da, const char *name,
		     struct arfs_docattr *a);

void count_report(void *ctx, const char *msg);

int run_check(const char *dir, unsigned K);

/*
 * Reopen read-only and compare the engine's view with the model (the
 * files on disk may be mid-compaction: the view is what counts).
 */
void verify_open(struct arfs_docarray *da, const struct model *m);

void verify_view(const char *dir, unsigned K, const struct model *m);

/* verify_view(), and header.bin itself follows DocArray's row rules. */
void verify(const char *dir, unsigned K, const struct model *m);

void put_str(struct arfs_docarray *da, struct model *m,
		    const char *name, const char *data);

int setup(void **state);

int teardown(void **state);

#endif
