/*
 * store.c - discovering arrays under STORE and the single-writer lock.
 * See store.h.
 */
#include "store.h"
#include "blockmgr.h"
#include "docarray.h"
#include "group.h"
#include "io.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARRAY_NUMBER_BITS 22

struct arfs_store {
	char *path;
	int dirfd;
	bool ro, single;
	bool model;	/* STORE is a folder of several SFrames: no arrays */
	unsigned key_length;
	double autocompact;
	uint64_t autocompact_min;
	pthread_mutex_t lock; /* protects arrays, n, cap */
	struct arfs_store_array **arrays;
	size_t n, cap;
	struct arfs_blockmgr *mgr;
	struct arfs_store_group **groups; /* fixed after open */
	size_t ngroups;
	struct arfs_store_set **sets; /* fixed after open */
	size_t nsets;
};

static uint32_t name_number(const char *name)
{
	uint32_t h = 2166136261u;

	while (*name)
		h = (h ^ (unsigned char)*name++) * 16777619u;
	h &= (1u << ARRAY_NUMBER_BITS) - 1;
	return h ? h : 1;
}

static bool number_used(struct arfs_store *st, uint32_t num)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->arrays[i]->number == num)
			return true;
	for (size_t i = 0; i < st->ngroups; i++)
		if (st->groups[i]->number == num)
			return true;
	for (size_t i = 0; i < st->nsets; i++) {
		if (st->sets[i]->number == num)
			return true;
		for (size_t k = 0; k < st->sets[i]->ngroups; k++)
			if (st->sets[i]->groups[k]->number == num)
				return true;
	}
	return false;
}

/* mtime of a path under the store (absolute paths taken as they are). */
static struct timespec file_mtime(struct arfs_store *st, const char *path)
{
	struct stat sb;
	struct timespec zero = { 0, 0 };

	if (fstatat(st->dirfd, *path ? path : ".", &sb, 0))
		return zero;
	return sb.st_mtim;
}

static uint32_t free_number(struct arfs_store *st, const char *name)
{
	uint32_t num = name_number(name);

	while (number_used(st, num))
		num = (num + 1) & ((1u << ARRAY_NUMBER_BITS) - 1) ?: 1;
	return num;
}

static void group_free(struct arfs_store *st, struct arfs_store_group *sg)
{
	if (!sg)
		return;
	for (size_t c = 0; sg->g && sg->cols && c < sg->g->ncols; c++)
		arfs_blockmgr_close_column(st->mgr, sg->cols[c]);
	arfs_group_free(sg->g);
	free(sg->cols);
	free(sg->col_err);
	free(sg->name);
	free(sg);
}

/*
 * Open the group at path as *out, numbered by `numname` (unique in the
 * store). A group that cannot be opened is logged and *out left NULL (0).
 */
static int open_group(struct arfs_store *st, const char *name,
		      const char *numname, const char *path,
		      struct arfs_store_group **out)
{
	struct arfs_store_group *sg = calloc(1, sizeof(*sg));
	char idx[PATH_MAX];
	int rc;

	*out = NULL;
	if (!sg || !(sg->name = strdup(name))) {
		free(sg);
		return -ENOMEM;
	}
	rc = arfs_group_open(path, &sg->g);
	if (!rc && (!(sg->cols = calloc(sg->g->ncols + 1, sizeof(*sg->cols))) ||
		    !(sg->col_err = calloc(sg->g->ncols + 1, sizeof(int)))))
		rc = -ENOMEM;
	if (rc) {
		if (rc != -ENOMEM)
			arfs_log(ARFS_LOG_WARNING, "%s: cannot open the segment "
				 "group (%s); skipped", path, strerror(-rc));
		group_free(st, sg);
		return rc == -ENOMEM ? rc : 0;
	}
	pthread_mutex_init(&sg->lock, NULL);
	sg->number = free_number(st, numname);
	snprintf(idx, sizeof(idx), "%s/%s", sg->g->dir, sg->g->index_file);
	sg->mtime = file_mtime(st, idx);
	*out = sg;
	return 0;
}

/* Insert sg into v[0..*n) in name order (v has room for one more). */
static void insert_sorted(struct arfs_store_group **v, size_t *n,
			  struct arfs_store_group *sg)
{
	size_t i;

	for (i = *n; i > 0 && strcmp(v[i - 1]->name, sg->name) > 0; i--)
		v[i] = v[i - 1];
	v[i] = sg;
	(*n)++;
}

/* Add a group (name order). Only during scan, before other threads. */
static int add_group(struct arfs_store *st, const char *name, const char *path,
		     bool ro)
{
	struct arfs_store_group *sg, **v;
	int rc = open_group(st, name, name, path, &sg);

	if (rc || !sg)
		return rc;
	sg->ro = ro;
	v = realloc(st->groups, (st->ngroups + 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_destroy(&sg->lock);
		group_free(st, sg);
		return -ENOMEM;
	}
	st->groups = v;
	insert_sorted(v, &st->ngroups, sg);
	return 0;
}

/*
 * A folder of several SFrames: each <prefix>.frame_idx a read-only group
 * named <prefix>. With set NULL (the STORE is the folder) they become the
 * store's own groups.
 */
static int add_frames(struct arfs_store *st, const char *name,
		      const char *dir, struct arfs_store_set *set)
{
	char **frames, path[PATH_MAX], numname[PATH_MAX];
	struct arfs_store_group *sg;
	size_t n;
	int rc = arfs_group_frames(dir, &frames, &n);

	if (rc)
		return rc == -ENOMEM ? rc : 0;
	if (set && !(set->groups = calloc(n, sizeof(*set->groups))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		frames[i][strlen(frames[i]) - strlen(".frame_idx")] = 0;
		snprintf(path, sizeof(path), "%s/%s.frame_idx", dir, frames[i]);
		if (!set) {
			rc = add_group(st, frames[i], path, true);
			continue;
		}
		snprintf(numname, sizeof(numname), "%s/%s", name, frames[i]);
		rc = open_group(st, frames[i], numname, path, &sg);
		if (!rc && sg) {
			sg->ro = true;
			insert_sorted(set->groups, &set->ngroups, sg);
		}
	}
	arfs_group_frames_free(frames);
	return rc;
}

static void set_free(struct arfs_store *st, struct arfs_store_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->ngroups; i++) {
		pthread_mutex_destroy(&set->groups[i]->lock);
		group_free(st, set->groups[i]);
	}
	free(set->groups);
	free(set->name);
	free(set);
}

static int add_set(struct arfs_store *st, const char *name, const char *path)
{
	struct arfs_store_set *set = calloc(1, sizeof(*set)), **v;
	size_t i;
	int rc;

	if (!set || !(set->name = strdup(name))) {
		free(set);
		return -ENOMEM;
	}
	v = realloc(st->sets, (st->nsets + 1) * sizeof(*v));
	if (!v) {
		set_free(st, set);
		return -ENOMEM;
	}
	st->sets = v;
	set->number = free_number(st, name);
	rc = add_frames(st, name, path, set);
	if (rc) {
		set_free(st, set);
		return rc;
	}
	for (i = st->nsets; i > 0 && strcmp(v[i - 1]->name, name) > 0; i--)
		v[i] = v[i - 1];
	v[i] = set;
	st->nsets++;
	return 0;
}

/* Insert keeping name order. Caller holds st->lock. */
static int add_array(struct arfs_store *st, const char *name,
		     struct arfs_docarray *da, struct arfs_store_array **out)
{
	struct arfs_store_array *a = calloc(1, sizeof(*a)), **v;
	size_t i;

	if (!a || !(a->name = strdup(name))) {
		free(a);
		return -ENOMEM;
	}
	if (st->n == st->cap) {
		v = realloc(st->arrays, (st->cap ? st->cap * 2 : 8) * sizeof(*v));
		if (!v) {
			free(a->name);
			free(a);
			return -ENOMEM;
		}
		st->arrays = v;
		st->cap = st->cap ? st->cap * 2 : 8;
	}
	a->da = da;
	a->number = free_number(st, name);
	for (i = st->n; i > 0 && strcmp(st->arrays[i - 1]->name, name) > 0; i--)
		st->arrays[i] = st->arrays[i - 1];
	st->arrays[i] = a;
	st->n++;
	if (out)
		*out = a;
	return 0;
}

static int open_array(struct arfs_store *st, const char *name,
		      struct arfs_docarray **da)
{
	struct arfs_docarray_opts o = { .key_length = st->key_length,
					.read_only = st->ro,
					.autocompact = st->autocompact,
					.autocompact_min = st->autocompact_min };
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s%s", st->path, *name ? "/" : "", name);
	return arfs_docarray_open(path, &o, da);
}

static int scan_entry(struct arfs_store *st, const char *name)
{
	struct arfs_docarray *da;
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", st->path, name);
	if (!arfs_docarray_is_array(path) && arfs_group_is_set(path))
		return add_set(st, name, path);
	if (!arfs_docarray_is_array(path) && arfs_group_is_group(path))
		return add_group(st, name, path, false);
	if (!arfs_docarray_is_array(path)) {
		arfs_log(ARFS_LOG_WARNING, "%s: neither a document array "
			 "(header.bin + body.bin) nor a segment group (*.sidx, "
			 "*.frame_idx); skipped", path);
		return 0;
	}
	rc = open_array(st, name, &da);
	if (rc) {
		arfs_log(ARFS_LOG_WARNING, "%s: cannot open (%s); skipped", path,
			 strerror(-rc));
		return 0;
	}
	rc = add_array(st, name, da, NULL);
	if (rc)
		arfs_docarray_close(da);
	return rc;
}

static int scan(struct arfs_store *st)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (st->single && !arfs_docarray_is_array(st->path))
		return add_group(st, "", st->path, false);
	if (st->model)
		return add_frames(st, NULL, st->path, NULL);
	if (st->single) {
		struct arfs_docarray *da;
		rc = open_array(st, "", &da);
		if (!rc && (rc = add_array(st, "", da, NULL)))
			arfs_docarray_close(da);
		return rc;
	}
	fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!rc && (de = readdir(d)))
		if (de->d_name[0] != '.')
			rc = scan_entry(st, de->d_name);
	closedir(d);
	return rc;
}

static int take_lock(struct arfs_store *st)
{
	if (st->ro || st->single)
		return 0; /* a single array is locked by the array itself */
	if (flock(st->dirfd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK) {
		arfs_log(ARFS_LOG_ERR, "%s: the store is already open for "
			 "writing by another arrayfs or arrayctl; mount it "
			 "read-only with -o ro", st->path);
		return -EBUSY;
	}
	return -errno;
}

int arfs_store_open(const char *path, const struct arfs_store_opts *opts,
		    struct arfs_store **out)
{
	struct arfs_store *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	st->ro = opts && opts->read_only;
	st->key_length = opts ? opts->key_length : 0;
	st->autocompact = opts ? opts->autocompact : 0;
	st->autocompact_min = opts ? opts->autocompact_min : 0;
	st->mgr = opts ? opts->mgr : NULL;
	st->path = realpath(path, NULL);
	if (!st->path) {
		rc = -errno;
		goto out_free;
	}
	st->dirfd = arfs_io_open(st->path, O_RDONLY | O_DIRECTORY, 0);
	if (st->dirfd < 0) {
		rc = st->dirfd;
		goto out_free;
	}
	st->single = arfs_docarray_is_array(st->path) ||
		     arfs_group_is_group(st->path);
	st->model = !st->single && arfs_group_is_set(st->path);
	rc = take_lock(st);
	if (!rc)
		rc = scan(st);
	if (rc)
		goto out_free;
	*out = st;
	return 0;
out_free:
	arfs_store_close(st);
	return rc;
}

void arfs_store_close(struct arfs_store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++) {
		arfs_docarray_close(st->arrays[i]->da);
		free(st->arrays[i]->name);
		free(st->arrays[i]);
	}
	free(st->arrays);
	for (size_t i = 0; i < st->ngroups; i++) {
		pthread_mutex_destroy(&st->groups[i]->lock);
		group_free(st, st->groups[i]);
	}
	free(st->groups);
	for (size_t i = 0; i < st->nsets; i++)
		set_free(st, st->sets[i]);
	free(st->sets);
	if (st->dirfd > 0)
		arfs_io_close(st->dirfd);
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
}

bool arfs_store_is_single(const struct arfs_store *st)
{
	return st->single;
}

bool arfs_store_read_only(const struct arfs_store *st)
{
	return st->ro;
}

const char *arfs_store_path(const struct arfs_store *st)
{
	return st->path;
}

void arfs_store_dir_times(struct arfs_store *st,
			  const struct arfs_store_array *a,
			  struct timespec t[3])
{
	struct stat sb;

	if (fstatat(st->dirfd, a && *a->name ? a->name : ".", &sb, 0)) {
		memset(t, 0, 3 * sizeof(*t));
		return;
	}
	t[0] = sb.st_atim;
	t[1] = sb.st_mtim;
	t[2] = sb.st_ctim;
}

struct arfs_store_array *arfs_store_array_at(struct arfs_store *st, size_t i)
{
	struct arfs_store_array *a = NULL;
	size_t k, live = 0;

	pthread_mutex_lock(&st->lock);
	for (k = 0; k < st->n && !a; k++)
		if (!st->arrays[k]->removed && live++ == i)
			a = st->arrays[k];
	pthread_mutex_unlock(&st->lock);
	return a;
}

static struct arfs_store_array *find_locked(struct arfs_store *st,
					    const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!st->arrays[i]->removed && !strcmp(st->arrays[i]->name, name))
			return st->arrays[i];
	return NULL;
}

struct arfs_store_array *arfs_store_find(struct arfs_store *st,
					 const char *name)
{
	struct arfs_store_array *a;

	pthread_mutex_lock(&st->lock);
	a = find_locked(st, name);
	pthread_mutex_unlock(&st->lock);
	return a;
}

static bool bad_array_name(const char *name)
{
	return !*name || name[0] == '.' || strchr(name, '/');
}

int arfs_store_mkarray(struct arfs_store *st, const char *name,
		       struct arfs_store_array **out)
{
	struct arfs_docarray_opts o = { .key_length = st->key_length,
					.autocompact = st->autocompact,
					.autocompact_min = st->autocompact_min };
	struct arfs_docarray *da;
	char path[PATH_MAX];
	int rc;

	if (st->ro)
		return -EROFS;
	if (st->single || st->model || bad_array_name(name))
		return -EPERM;
	pthread_mutex_lock(&st->lock);
	rc = find_locked(st, name) ? -EEXIST : 0;
	snprintf(path, sizeof(path), "%s/%s", st->path, name);
	if (!rc && mkdirat(st->dirfd, name, 0755))
		rc = -errno;
	if (!rc)
		rc = arfs_docarray_create(path, &o, &da);
	if (!rc && (rc = add_array(st, name, da, out)))
		arfs_docarray_close(da);
	if (!rc)
		rc = arfs_io_fsync_dir(st->dirfd);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Remove the files of an empty array directory, then the directory. */
static int remove_array_dir(struct arfs_store *st, const char *name)
{
	static const char *const files[] = { "header.bin", "body.bin",
					     ARFS_SIDECAR_NAME };
	int dfd = openat(st->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (dfd < 0)
		return -errno;
	for (size_t i = 0; i < 3 && !rc; i++) {
		rc = arfs_io_unlinkat(dfd, files[i], 0);
		if (rc == -ENOENT)
			rc = 0;
	}
	close(dfd);
	if (!rc)
		rc = arfs_io_unlinkat(st->dirfd, name, AT_REMOVEDIR);
	return rc;
}

int arfs_store_rmarray(struct arfs_store *st, const char *name)
{
	struct arfs_store_array *a;
	int rc;

	if (st->ro)
		return -EROFS;
	pthread_mutex_lock(&st->lock);
	a = find_locked(st, name);
	if (!a)
		rc = -ENOENT;
	else if (arfs_docarray_count(a->da) > 0)
		rc = -ENOTEMPTY;
	else
		rc = remove_array_dir(st, name);
	if (!rc)
		a->removed = true;
	pthread_mutex_unlock(&st->lock);
	return rc;
}

struct arfs_store_group *arfs_store_group_at(struct arfs_store *st, size_t i)
{
	return i < st->ngroups ? st->groups[i] : NULL;
}

struct arfs_store_group *arfs_store_find_group(struct arfs_store *st,
					       const char *name)
{
	for (size_t i = 0; i < st->ngroups; i++)
		if (!strcmp(st->groups[i]->name, name))
			return st->groups[i];
	return NULL;
}

struct arfs_store_set *arfs_store_set_at(struct arfs_store *st, size_t i)
{
	return i < st->nsets ? st->sets[i] : NULL;
}

struct arfs_store_set *arfs_store_find_set(struct arfs_store *st,
					   const char *name)
{
	for (size_t i = 0; i < st->nsets; i++)
		if (!strcmp(st->sets[i]->name, name))
			return st->sets[i];
	return NULL;
}

struct arfs_store_group *arfs_store_set_find(const struct arfs_store_set *set,
					     const char *name)
{
	for (size_t i = 0; i < set->ngroups; i++)
		if (!strcmp(set->groups[i]->name, name))
			return set->groups[i];
	return NULL;
}

int arfs_store_column(struct arfs_store *st, struct arfs_store_group *sg,
		      uint64_t c, struct arfs_column **out)
{
	int rc = 0;

	if (c >= sg->g->ncols)
		return -ENOENT;
	if (!st->mgr)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&sg->lock);
	/* A damaged column is reported once, then fails fast. */
	rc = sg->col_err[c];
	if (!rc && !sg->cols[c])
		rc = sg->col_err[c] = arfs_blockmgr_open_column(st->mgr, sg->g, c,
								&sg->cols[c]);
	*out = sg->cols[c];
	pthread_mutex_unlock(&sg->lock);
	return rc;
}

int arfs_store_set_times(struct arfs_store *st, struct arfs_store_array *a,
			 struct timespec atime, struct timespec mtime)
{
	struct timespec ts[2] = { atime, mtime };

	if (st->ro)
		return -EROFS;
	if (utimensat(st->dirfd, a && *a->name ? a->name : ".", ts, 0))
		return -errno;
	return 0;
}

int arfs_store_touch(struct arfs_store *st, struct arfs_store_array *a)
{
	struct timespec omit = { 0, UTIME_OMIT }, now = { 0, UTIME_NOW };

	return arfs_store_set_times(st, a, omit, now);
}
