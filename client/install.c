/*
 * install.c - install paths below DESTDIR, checked and split before
 * dest_dir.c puts files there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "install.h"
#include "manifest.h"

enum bd_err
install_split(const char *rel, char *dir, size_t dircap, const char **base)
{
	const char *slash = strrchr(rel, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - rel);

	if (n >= dircap)
		return bd_fail(BD_ERR_PATH, "%s: path too long", rel);
	memcpy(dir, rel, n);
	dir[n] = '\0';
	*base = slash == NULL ? rel : slash + 1;
	if (**base == '\0')
		return bd_fail(BD_ERR_PATH, "%s: empty file name", rel);
	return BD_OK;
}

enum bd_err
install_check(int rootfd, const char *rel)
{
	char comp[INSTALL_PATH_MAX_BYTES + 1];
	const char *p = rel, *slash;
	struct stat st;
	size_t n;
	int fd, next;
	enum bd_err rc = BD_OK;

	if ((fd = dup(rootfd)) < 0)
		return bd_fail(BD_ERR_IO, "dup: %s", strerror(errno));
	while ((slash = strchr(p, '/')) != NULL) {
		n = (size_t)(slash - p);
		if (n == 0 || n >= sizeof(comp)) {
			rc = bd_fail(BD_ERR_PATH, "%s: bad component", rel);
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0 && errno == ENOENT)
			goto out;	/* created later, as a real directory */
		if (next < 0) {
			if (errno == ELOOP || errno == ENOTDIR)
				rc = bd_fail(BD_ERR_PATH, "%s: %s is a symlink "
				    "or not a directory", rel, comp);
			else
				rc = bd_fail(BD_ERR_IO, "%s: %s: %s", rel, comp,
				    strerror(errno));
			goto out;
		}
		close(fd);
		fd = next;
		p = slash + 1;
	}
	if (fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		rc = bd_fail(BD_ERR_IO, "%s: is a directory", rel);
out:
	close(fd);
	return rc;
}
