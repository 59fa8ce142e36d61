#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "dynbuf.h"
#include "fsutil.h"

#define TEMP_NAME_BYTES		300
#define TEMP_NAME_TRIES		16

enum bd_err
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bd_fail(BD_ERR_IO, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return BD_OK;
}

/* One loop for read_full() and pread_full(): off < 0 means read(2). */
static enum bd_err
read_loop(int fd, uint8_t *p, size_t len, int64_t off, size_t *got)
{
	ssize_t n;
	int e;

	*got = 0;
	while (*got < len) {
		n = off < 0 ? read(fd, p + *got, len - *got) :
		    pread(fd, p + *got, len - *got, (off_t)off + (off_t)*got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			(void)bd_fail(BD_ERR_IO, "read: %s", strerror(e));
			errno = e;
			return BD_ERR_IO;
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return BD_OK;
}

enum bd_err
read_full(int fd, void *buf, size_t len, size_t *got)
{
	return read_loop(fd, buf, len, -1, got);
}

enum bd_err
pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	*got = 0;
	if (off > (uint64_t)INT64_MAX - len)
		return bd_fail(BD_ERR_RANGE, "read past the largest offset");
	return read_loop(fd, buf, len, (int64_t)off, got);
}

enum bd_err
pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	size_t put = 0;
	ssize_t n;
	int e;

	if (off > (uint64_t)INT64_MAX - len)
		return bd_fail(BD_ERR_RANGE, "write past the largest offset");
	while (put < len) {
		n = pwrite(fd, p + put, len - put, (off_t)(off + put));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			(void)bd_fail(BD_ERR_IO, "write: %s", strerror(e));
			errno = e;
			return BD_ERR_IO;
		}
		put += (size_t)n;
	}
	return BD_OK;
}

enum bd_err
pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got;
	enum bd_err rc;

	if ((rc = pread_full(fd, buf, len, off, &got)) == BD_OK && got != len)
		rc = BD_ERR_SIZE;
	return rc;
}

enum bd_err
fd_sync(int fd)
{
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		return bd_fail(BD_ERR_IO, "fsync: %s", strerror(errno));
	return BD_OK;
}

enum bd_err
file_read_capped(int dirfd, const char *path, size_t max, uint8_t **buf,
    size_t *len)
{
	struct stat st;
	struct dynbuf b;
	ssize_t n;
	int fd;
	enum bd_err rc = BD_OK;

	*buf = NULL;
	*len = 0;
	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
	/* The file may grow while we read: read at most max + 1 bytes. */
	dynbuf_init(&b, max < SIZE_MAX - 1 ? max + 1 : max, 0);
	if (fstat(fd, &st) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = bd_fail(BD_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %zu bytes", path,
		    max);
		goto out;
	}
	if ((rc = dynbuf_reserve(&b, (size_t)st.st_size + 1)) != BD_OK)
		goto out;
	for (;;) {
		if ((rc = dynbuf_grow(&b)) == BD_ERR_TOOBIG)
			break;	/* max + 1 bytes read: too big */
		if (rc != BD_OK)
			goto out;
		n = read(fd, b.p + b.len, dynbuf_room(&b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		dynbuf_added(&b, (size_t)n);
	}
	rc = BD_OK;
	if (b.len > max) {
		rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %zu bytes", path,
		    max);
		goto out;
	}
	*buf = dynbuf_take(&b, len);
out:
	dynbuf_free(&b);
	close(fd);
	return rc;
}

/* fsyncs the directory that holds name (relative to dirfd). */
static enum bd_err
fd_sync_dir_of(int dirfd, const char *name)
{
	char dir[TEMP_NAME_BYTES];
	const char *slash = strrchr(name, '/');
	enum bd_err rc;
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - name),
	    name) >= (int)sizeof(dir))
		return bd_fail(BD_ERR_IO, "%s: name too long", name);
	fd = openat(dirfd, dir[0] == '\0' ? "/" : dir,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", dir, strerror(errno));
	rc = fd_sync(fd);
	close(fd);
	return rc;
}

enum bd_err
file_write_atomic(int dirfd, const char *name, const void *buf, size_t len,
    mode_t mode, bool exclusive)
{
	char tmp[TEMP_NAME_BYTES];
	const char *base;
	int fd = -1, i, n;
	enum bd_err rc;

	base = strrchr(name, '/');
	base = base == NULL ? name : base + 1;
	for (i = 0; i < TEMP_NAME_TRIES; i++) {
		n = snprintf(tmp, sizeof(tmp), "%.*s.%s.%08x.tmp",
		    (int)(base - name), name, base, randombytes_random());
		if (n < 0 || (size_t)n >= sizeof(tmp))
			return bd_fail(BD_ERR_IO, "%s: name too long", name);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", tmp, strerror(errno));
	/* openat honours the umask; the caller's mode is the contract. */
	if (fchmod(fd, mode) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if ((rc = write_all(fd, buf, len)) != BD_OK ||
	    (rc = fd_sync(fd)) != BD_OK)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		rc = bd_fail(BD_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (exclusive) {
		if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) != 0) {
			if (errno == EEXIST) {
				rc = bd_fail(BD_ERR_EXISTS, "%s", name);
				goto fail;
			}
			if (errno != EINVAL && errno != ENOSYS) {
				rc = bd_fail(BD_ERR_IO, "%s: %s", name,
				    strerror(errno));
				goto fail;
			}
			/* No RENAME_NOREPLACE here: link refuses to replace. */
			if (linkat(dirfd, tmp, dirfd, name, 0) != 0) {
				rc = bd_fail(errno == EEXIST ? BD_ERR_EXISTS :
				    BD_ERR_IO, "%s: %s", name, strerror(errno));
				goto fail;
			}
			unlinkat(dirfd, tmp, 0);
		}
	} else if (renameat(dirfd, tmp, dirfd, name) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", name, strerror(errno));
		goto fail;
	}
	return fd_sync_dir_of(dirfd, name);
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return rc;
}

enum bd_err
dir_open_path(int rootfd, const char *rel, bool create, int *out)
{
	char comp[256];
	const char *p = rel, *slash;
	size_t n;
	int fd, next;
	bool made;
	enum bd_err rc = BD_OK;

	*out = -1;
	if ((fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return bd_fail(BD_ERR_IO, "open root: %s", strerror(errno));
	while (*p != '\0') {
		slash = strchr(p, '/');
		n = slash == NULL ? strlen(p) : (size_t)(slash - p);
		if (n == 0 || n >= sizeof(comp)) {
			rc = bd_fail(BD_ERR_PATH, "%s: bad component", rel);
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			rc = bd_fail(BD_ERR_PATH, "%s: dot component", rel);
			goto out;
		}
		made = create && mkdirat(fd, comp, 0755) == 0;
		if (create && !made && errno != EEXIST) {
			rc = bd_fail(BD_ERR_IO, "%s: mkdir %s: %s", rel, comp,
			    strerror(errno));
			goto out;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		/* mkdirat honours the umask; 0755 is the contract. */
		if (next >= 0 && made && fchmod(next, 0755) != 0) {
			rc = bd_fail(BD_ERR_IO, "%s: chmod %s: %s", rel, comp,
			    strerror(errno));
			close(next);
			goto out;
		}
		if (next < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				rc = bd_fail(BD_ERR_PATH, "%s: %s is not a "
				    "directory (symlink?)", rel, comp);
			else
				rc = bd_fail(BD_ERR_IO, "%s: %s: %s", rel, comp,
				    strerror(errno));
			goto out;
		}
		close(fd);
		fd = next;
		p += n;
		if (*p == '/')
			p++;
	}
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

enum bd_err
dir_each(int rootfd, const char *rel, dir_entry_fn fn, void *ctx)
{
	struct dirent *e;
	DIR *d;
	int fd;
	enum bd_err rc;

	if ((rc = dir_open_path(rootfd, rel, false, &fd)) != BD_OK)
		return rc;
	if ((d = fdopendir(fd)) == NULL) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", rel, strerror(errno));
		close(fd);
		return rc;
	}
	while (rc == BD_OK && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		rc = fn(ctx, dirfd(d), e->d_name, e->d_type);
	}
	closedir(d);
	return rc;
}
