/*
 * testutil_faults.h - helpers shared by the fault runners (test_faults.c,
 * test_faults_group.c), defined in testutil_faults.c. Test code only:
 * failures assert or abort. fault_arm() installs fault_ops and counts
 * calls of one kind (atomics: forked children and threads share them);
 * setup() fills scratch_root and the base models, teardown() frees them.
 */
#ifndef ARFS_TESTUTIL_FAULTS_H
#define ARFS_TESTUTIL_FAULTS_H

#include "docarray.h"
#include "io.h"
#include "util.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NAME_CAP 1024

#define MAX_POINTS 400

#define CRASH_EXIT 42

struct mdoc {
	char name[64];
	uint8_t *data;
	size_t len;
};

struct model {
	struct mdoc d[64];
	size_t n;
};

ssize_t model_find(const struct model *m, const char *name);

void model_free(struct model *m);

void model_put(struct model *m, const char *name, const void *data,
		      size_t len);

int open_da(const char *dir, bool ro, struct arfs_docarray **out);

/* The array's documents as a model (names in listing order). */
void model_load(const char *dir, bool ro, struct model *m);

enum { FK_PWRITE, FK_FSYNC, FK_RENAME, FK_MMAP, FK_OPEN, FK_FTRUNCATE,
       FK_UNLINK, FK_COUNT };

extern const char *const kind_names[FK_COUNT];

extern atomic_int f_kind;

extern atomic_long f_at, f_calls;

extern atomic_bool f_hit, f_crash;

bool fault_now(int kind);

ssize_t f_pwrite(int fd, const void *buf, size_t len, off_t off);

int f_fsync(int fd);

int f_renameat(int a, const char *b, int c, const char *d);

void *f_mmap(void *addr, size_t len, int prot, int flags, int fd,
		    off_t off);

int f_openat(int dirfd, const char *path, int flags, mode_t mode);

int f_open(const char *path, int flags, mode_t mode);

int f_ftruncate(int fd, off_t len);

int f_unlinkat(int a, const char *b, int c);

extern struct arfs_io_ops fault_ops;

void fault_arm(int kind, long at, bool crash);

bool fault_disarm(void);

/* Steps of a scenario at most (struct scenario, gscenarios). */
#define MAX_STEPS 8

extern char *scratch_root;

extern char *volatile child_dir;

extern struct model base_plain, base_sidecar;

extern long points_fault, points_crash, points_gfault, points_gcrash;

/* A fresh copy of the fixture, with a sidecar if asked (one put). */
char *fresh_copy(bool sidecar);

void quiet(enum arfs_log_level level, const char *msg);

int setup(void **state);

int teardown(void **state);

#endif
