#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

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

enum bd_err
pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, p + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bd_fail(BD_ERR_IO, "read: %s", strerror(errno));
		if (n == 0)
			return BD_ERR_SIZE;
		got += (size_t)n;
	}
	return BD_OK;
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
	uint8_t *b = NULL;
	size_t have = 0, cap;
	ssize_t n;
	int fd;
	enum bd_err rc = BD_OK;

	*buf = NULL;
	*len = 0;
	fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
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
	/* The file may grow while we read: read at most max+1 bytes. */
	cap = (size_t)st.st_size + 1;
	if ((b = malloc(cap + 1)) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (have == cap) {
			uint8_t *nb;

			if (cap > max) {
				rc = bd_fail(BD_ERR_TOOBIG,
				    "%s: larger than %zu bytes", path, max);
				goto out;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL) {
				rc = BD_ERR_NOMEM;
				goto out;
			}
			b = nb;
		}
		n = read(fd, b + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > max) {
		rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %zu bytes", path,
		    max);
		goto out;
	}
	b[have] = '\0';
	*buf = b;
	*len = have;
	b = NULL;
out:
	free(b);
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
