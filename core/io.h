/*
 * io.h - every file system call core makes goes through one ops table, so
 * that tests can fail any call (SQLite's test VFS idea) and so that the
 * crash rules in docs/FORMAT.md are enforced in one place.
 *
 * The default table (arfs_io_default) calls the real system calls. Tests
 * install a table of their own with arfs_io_set(); it stays in force for
 * the whole process until replaced. Install before other threads run.
 *
 * All functions return what the system call returns, except that errors are
 * returned as -errno (never -1 with errno set) and short reads/writes are
 * retried: arfs_io_pwrite_all()/arfs_io_pread_all() move every byte or fail.
 *
 * Thread safety: all calls are safe from any thread.
 */
#ifndef ARFS_IO_H
#define ARFS_IO_H

#include <stddef.h>
#include <sys/types.h>

struct arfs_io_ops {
	int (*open)(const char *path, int flags, mode_t mode);
	int (*openat)(int dirfd, const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*renameat)(int olddirfd, const char *oldpath, int newdirfd,
			const char *newpath);
	int (*unlinkat)(int dirfd, const char *path, int flags);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off);
};

extern const struct arfs_io_ops arfs_io_default;

/* Replace the table (NULL restores the default). The table is not copied. */
void arfs_io_set(const struct arfs_io_ops *ops);
const struct arfs_io_ops *arfs_io(void);

/* open(2)/openat(2) with O_CLOEXEC added: fd or -errno. */
int arfs_io_open(const char *path, int flags, mode_t mode);
int arfs_io_openat(int dirfd, const char *path, int flags, mode_t mode);
/* close(2); accepts fd < 0 and then does nothing. Returns 0 or -errno. */
int arfs_io_close(int fd);
/* Read exactly len bytes at off: len, or fewer only at end of file, or -errno. */
ssize_t arfs_io_pread_all(int fd, void *buf, size_t len, off_t off);
/* Write all len bytes at off: 0 or -errno (-ENOSPC, -EIO...). */
int arfs_io_pwrite_all(int fd, const void *buf, size_t len, off_t off);
int arfs_io_fsync(int fd);
int arfs_io_ftruncate(int fd, off_t len);
int arfs_io_renameat(int olddirfd, const char *oldpath, int newdirfd,
		     const char *newpath);
int arfs_io_unlinkat(int dirfd, const char *path, int flags);
/* fsync a directory so that a rename or create in it is durable. */
int arfs_io_fsync_dir(int dirfd);
/* mmap(2): the mapping, or NULL with *err = -errno. */
void *arfs_io_mmap(size_t len, int prot, int flags, int fd, off_t off,
		   int *err);
/* Size of an open file: >= 0, or -errno. */
off_t arfs_io_size(int fd);

#endif
