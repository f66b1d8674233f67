/*
 * io.c - the file system call table. See io.h.
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int sys_open(const char *path, int flags, mode_t mode)
{
	return open(path, flags, mode);
}

static int sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

const struct arfs_io_ops arfs_io_default = {
	.open = sys_open,
	.openat = sys_openat,
	.close = close,
	.pread = pread,
	.pwrite = pwrite,
	.fsync = fsync,
	.ftruncate = ftruncate,
	.renameat = renameat,
	.unlinkat = unlinkat,
	.mmap = mmap,
};

static _Atomic(const struct arfs_io_ops *) io_ops = &arfs_io_default;

void arfs_io_set(const struct arfs_io_ops *ops)
{
	atomic_store(&io_ops, ops ? ops : &arfs_io_default);
}

const struct arfs_io_ops *arfs_io(void)
{
	return atomic_load(&io_ops);
}

static int neg(int rc)
{
	return rc < 0 ? -errno : rc;
}

int arfs_io_open(const char *path, int flags, mode_t mode)
{
	return neg(arfs_io()->open(path, flags | O_CLOEXEC, mode));
}

int arfs_io_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return neg(arfs_io()->openat(dirfd, path, flags | O_CLOEXEC, mode));
}

int arfs_io_close(int fd)
{
	if (fd < 0)
		return 0;
	return neg(arfs_io()->close(fd));
}

ssize_t arfs_io_pread_all(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = arfs_io()->pread(fd, (char *)buf + done, len - done,
					     off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int arfs_io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = arfs_io()->pwrite(fd, (const char *)buf + done,
					      len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int arfs_io_fsync(int fd)
{
	return neg(arfs_io()->fsync(fd));
}

int arfs_io_ftruncate(int fd, off_t len)
{
	return neg(arfs_io()->ftruncate(fd, len));
}

int arfs_io_renameat(int olddirfd, const char *oldpath, int newdirfd,
		     const char *newpath)
{
	return neg(arfs_io()->renameat(olddirfd, oldpath, newdirfd, newpath));
}

int arfs_io_unlinkat(int dirfd, const char *path, int flags)
{
	return neg(arfs_io()->unlinkat(dirfd, path, flags));
}

int arfs_io_fsync_dir(int dirfd)
{
	return arfs_io_fsync(dirfd);
}

void *arfs_io_mmap(size_t len, int prot, int flags, int fd, off_t off,
		   int *err)
{
	void *p = arfs_io()->mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	*err = 0;
	return p;
}

off_t arfs_io_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return st.st_size;
}
