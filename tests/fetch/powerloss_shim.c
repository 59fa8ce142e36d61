/*
 * powerloss_shim.c - an LD_PRELOAD library for tests/fetch/powerloss.py:
 * records every write a program makes to one image file and every
 * durability barrier, so the states a disk could hold after a power cut
 * can be rebuilt afterwards.
 *
 * POWERLOSS_IMAGE=FILE  the image (matched by device and inode number)
 * POWERLOSS_LOG=FILE    where the records go
 *
 * Records (host byte order): a type byte, u64 offset, u64 length, and for
 * 'W' the length bytes written.
 *   'W'  bytes written at offset (pwrite, pwritev, write)
 *   'Z'  a range punched or zeroed (fallocate)
 *   'B'  a barrier returned successfully (fsync, fdatasync,
 *        sync_file_range with SYNC_FILE_RANGE_WAIT_AFTER, syncfs, sync)
 */
/* The interposed names must be the plain and the *64 ones alike. */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int logfd = -2;		/* -2: not set up yet, -1: off */
static dev_t img_dev;
static ino_t img_ino;

static void
setup(void)
{
	const char *img = getenv("POWERLOSS_IMAGE");
	const char *log = getenv("POWERLOSS_LOG");
	struct stat st;

	logfd = -1;
	if (img == NULL || log == NULL || stat(img, &st) != 0)
		return;
	img_dev = st.st_dev;
	img_ino = st.st_ino;
	logfd = (int)syscall(SYS_openat, AT_FDCWD, log,
	    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static int
is_image(int fd)
{
	struct stat st;

	if (logfd == -2)
		setup();
	if (logfd < 0 || fstat(fd, &st) != 0)
		return 0;
	return st.st_dev == img_dev && st.st_ino == img_ino;
}

static void
put(const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = syscall(SYS_write, logfd, c, n);
		if (w <= 0)
			abort();	/* a lost record would make the test lie */
		c += w;
		n -= (size_t)w;
	}
}

static void
record(char type, uint64_t off, uint64_t len, const struct iovec *iov,
    int iovcnt)
{
	uint64_t left = len;
	int i;

	put(&type, 1);
	put(&off, sizeof(off));
	put(&len, sizeof(len));
	for (i = 0; i < iovcnt && left > 0; i++) {
		size_t n = iov[i].iov_len < left ? iov[i].iov_len : (size_t)left;

		put(iov[i].iov_base, n);
		left -= n;
	}
}

#define REAL(ret, name, args) \
	static ret (*real) args; \
	if (real == NULL) \
		*(void **)&real = dlsym(RTLD_NEXT, name)

static ssize_t
logged_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off,
    ssize_t r)
{
	if (r > 0) {
		pthread_mutex_lock(&lock);
		record('W', (uint64_t)off, (uint64_t)r, iov, iovcnt);
		pthread_mutex_unlock(&lock);
	}
	(void)fd;
	return r;
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	REAL(ssize_t, "pwrite64", (int, const void *, size_t, off64_t));
	struct iovec iov = { (void *)buf, n };
	ssize_t r = real(fd, buf, n, off);

	return is_image(fd) ? logged_pwritev(fd, &iov, 1, off, r) : r;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return pwrite64(fd, buf, n, off);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t off)
{
	REAL(ssize_t, "pwritev64", (int, const struct iovec *, int, off64_t));
	ssize_t r = real(fd, iov, iovcnt, off);

	return is_image(fd) ? logged_pwritev(fd, iov, iovcnt, off, r) : r;
}

ssize_t
pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return pwritev64(fd, iov, iovcnt, off);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	REAL(ssize_t, "write", (int, const void *, size_t));
	struct iovec iov = { (void *)buf, n };
	off_t off;
	ssize_t r;

	if (!is_image(fd))
		return real(fd, buf, n);
	off = lseek(fd, 0, SEEK_CUR);
	r = real(fd, buf, n);
	return logged_pwritev(fd, &iov, 1, off, r);
}

int
fallocate64(int fd, int fmode, off64_t off, off64_t len)
{
	REAL(int, "fallocate64", (int, int, off64_t, off64_t));
	int r = real(fd, fmode, off, len);

	if (r == 0 && is_image(fd) && (fmode & (FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_ZERO_RANGE))) {
		pthread_mutex_lock(&lock);
		record('Z', (uint64_t)off, (uint64_t)len, NULL, 0);
		pthread_mutex_unlock(&lock);
	}
	return r;
}

int
fallocate(int fd, int fmode, off_t off, off_t len)
{
	return fallocate64(fd, fmode, off, len);
}

static int
barrier(int fd, int r)
{
	if (r == 0 && (fd < 0 || is_image(fd))) {
		if (logfd == -2)
			setup();
		if (logfd >= 0) {
			pthread_mutex_lock(&lock);
			record('B', 0, 0, NULL, 0);
			pthread_mutex_unlock(&lock);
		}
	}
	return r;
}

int
fsync(int fd)
{
	REAL(int, "fsync", (int));
	return barrier(fd, real(fd));
}

int
fdatasync(int fd)
{
	REAL(int, "fdatasync", (int));
	return barrier(fd, real(fd));
}

int
sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
	REAL(int, "sync_file_range", (int, off64_t, off64_t, unsigned int));
	int r = real(fd, off, n, flags);

	return (flags & SYNC_FILE_RANGE_WAIT_AFTER) ? barrier(fd, r) : r;
}

int
syncfs(int fd)
{
	REAL(int, "syncfs", (int));
	return barrier(fd, real(fd));
}

void
sync(void)
{
	REAL(void, "sync", (void));
	real();
	(void)barrier(-1, 0);
}
