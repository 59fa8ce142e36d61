/*
 * dest_dir.c - the boot slice as a directory (-d DESTDIR).
 *
 * Layout below DESTDIR: .bootdrop/tmp (0700, ours alone: downloads as
 * <hex>.part and staged files as stage.<k>, hard links of verified parts),
 * .bootdrop/pending (the intent record) and .bootdrop/state/<channel> (or
 * --state DIR/<channel>).  A staged file is put in place by one rename
 * from .bootdrop/tmp, which is on the same file system; both directories
 * are fsynced after each rename, so a finished rename never comes back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "dest_impl.h"
#include "fsutil.h"
#include "install.h"
#include "manifest.h"
#include "units.h"

#define DIR_SLACK_BYTES		((uint64_t)256 << 10)	/* record, state, directories */
#define DIR_OLD_TMP		".bootdrop.old.new"	/* link of a kept <install>.old */
#define DIR_NEW_TMP		".bootdrop.stage.new"	/* link of a staged file */

struct dest_dir {
	struct dest d;		/* first: dest.c sees only this */
	int destfd, bootdropfd, tmpfd;
	bool made_bootdrop, made_tmp;
};

static struct dest_dir *
dd(struct dest *d)
{
	return (struct dest_dir *)d;
}

/*
 * Opens name below dirfd as a real directory without creating it; *fd is
 * -1 when it does not exist.
 */
static enum bd_err
subdir_open(int dirfd, const char *name, int *fd)
{
	*fd = -1;
	if (dirfd < 0)
		return BD_OK;
	*fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (*fd >= 0 || errno == ENOENT)
		return BD_OK;
	if (errno == ELOOP || errno == ENOTDIR)
		return bd_fail(BD_ERR_PATH, "%s is a symlink or not a "
		    "directory", name);
	return bd_fail(BD_ERR_IO, "%s: %s", name, strerror(errno));
}

/*
 * Removes the entries of dirfd whose names start with prefix and end with
 * suffix (leftovers of our own kind; errors ignored: they only pin space).
 */
static void
dir_remove_matching(int dirfd, const char *prefix, const char *suffix)
{
	struct dirent *e;
	size_t pl = strlen(prefix), sl = strlen(suffix), n;
	DIR *dir;
	int fd;

	if (dirfd < 0 || (fd = dup(dirfd)) < 0)
		return;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	rewinddir(dir);
	while ((e = readdir(dir)) != NULL) {
		n = strlen(e->d_name);
		if (n > pl + sl && strncmp(e->d_name, prefix, pl) == 0 &&
		    strcmp(e->d_name + n - sl, suffix) == 0)
			(void)unlinkat(dirfd, e->d_name, 0);
	}
	closedir(dir);
}

static enum bd_err
dir_open(struct dest *d)
{
	struct dest_dir *x = dd(d);
	enum bd_err rc;

	x->destfd = open(d->cfg.target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->destfd < 0 && !(d->cfg.readonly && errno == ENOENT))
		return bd_fail(BD_ERR_IO, "%s: cannot open destination "
		    "directory: %s", d->cfg.target, strerror(errno));
	if (d->cfg.statedir != NULL)
		snprintf(d->state_where, sizeof(d->state_where), "%s/%s",
		    d->cfg.statedir, d->cfg.channel);
	else
		snprintf(d->state_where, sizeof(d->state_where), "%s/"
		    BOOTDROP_DIR "/" STATE_SUBDIR "/%s", d->cfg.target,
		    d->cfg.channel);
	snprintf(d->reset_hint, sizeof(d->reset_hint), "rm '%s'",
	    d->state_where);
	snprintf(d->record_hint, sizeof(d->record_hint), "rm '%s/"
	    BOOTDROP_DIR "/" PENDING_NAME "'", d->cfg.target);
	if ((rc = subdir_open(x->destfd, BOOTDROP_DIR, &x->bootdropfd)) !=
	    BD_OK)
		return bd_fail(rc, "%s/" BOOTDROP_DIR ": %s", d->cfg.target,
		    bd_err_detail());
	return BD_OK;
}

static enum bd_err
dir_record_read(struct dest *d, uint8_t **buf, size_t *len)
{
	struct dest_dir *x = dd(d);
	enum bd_err rc;

	*buf = NULL;
	*len = 0;
	if (x->bootdropfd < 0 || (faccessat(x->bootdropfd, PENDING_NAME, F_OK,
	    AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT))
		return BD_OK;
	rc = file_read_capped(x->bootdropfd, PENDING_NAME, PENDING_MAX_BYTES,
	    buf, len);
	if (rc != BD_OK)
		return bd_fail(BD_ERR_IO, "%s/" BOOTDROP_DIR "/" PENDING_NAME
		    ": %s", d->cfg.target, bd_err_detail());
	return BD_OK;
}

/* Opens the state directory (-1 when missing, or made when create). */
static enum bd_err
dir_state_dir(struct dest *d, bool create, int *fd)
{
	struct dest_dir *x = dd(d);
	enum bd_err rc;
	int sfd;

	*fd = -1;
	if (d->cfg.statedir != NULL) {
		if (create && mkdir(d->cfg.statedir, 0755) != 0 &&
		    errno != EEXIST)
			return bd_fail(BD_ERR_IO, "%s: cannot create state "
			    "directory: %s", d->cfg.statedir, strerror(errno));
		*fd = open(d->cfg.statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*fd < 0 && (create || errno != ENOENT))
			return bd_fail(BD_ERR_IO, "%s: cannot open state "
			    "directory: %s", d->cfg.statedir, strerror(errno));
		return BD_OK;
	}
	if (create)
		return dir_open_path(x->destfd, BOOTDROP_DIR "/" STATE_SUBDIR,
		    true, fd);
	if ((rc = subdir_open(x->destfd, BOOTDROP_DIR, &sfd)) != BD_OK)
		return rc;
	if (sfd < 0)
		return BD_OK;
	rc = subdir_open(sfd, STATE_SUBDIR, fd);
	close(sfd);
	return rc;
}

static enum bd_err
dir_state_read(struct dest *d, struct bd_state *st)
{
	enum bd_err rc;
	int fd;

	memset(st, 0, sizeof(*st));
	if ((rc = dir_state_dir(d, false, &fd)) != BD_OK)
		return rc;
	rc = state_load(fd, d->cfg.channel, st);
	if (fd >= 0)
		close(fd);
	return rc;
}

static enum bd_err
dir_path_check(struct dest *d, const char *path)
{
	struct dest_dir *x = dd(d);

	if (x->destfd < 0)
		return BD_OK;	/* --check of a DESTDIR not made yet */
	return install_check(x->destfd, path);
}

static enum bd_err
dir_room(struct dest *d, const struct dest_need *need)
{
	struct dest_dir *x = dd(d);
	struct statvfs vfs;
	struct stat st;
	uint64_t bsize, want = DIR_SLACK_BYTES, have, credit;
	char wtext[SIZE_TEXT_BYTES], htext[SIZE_TEXT_BYTES];
	char part[64];
	size_t i;

	if (fstatvfs(x->destfd, &vfs) != 0)
		return bd_fail(BD_ERR_IO, "%s: statvfs: %s", d->cfg.target,
		    strerror(errno));
	bsize = vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize;
	for (i = 0; i < need->nfiles; i++) {
		want += (need->sizes[i] + bsize - 1) / bsize * bsize + bsize;
		if (need->part_names == NULL || need->part_names[i] == NULL ||
		    x->bootdropfd < 0)
			continue;
		snprintf(part, sizeof(part), TMP_SUBDIR "/%s",
		    need->part_names[i]);
		if (fstatat(x->bootdropfd, part, &st, AT_SYMLINK_NOFOLLOW) ==
		    0 && S_ISREG(st.st_mode)) {
			credit = (uint64_t)st.st_blocks * 512;
			want -= credit < want ? credit : want;
		}
	}
	have = (uint64_t)vfs.f_bavail * bsize;
	if (want > have) {
		size_format(want, false, wtext);
		size_format(have, false, htext);
		return bd_fail(BD_ERR_NOSPACE, "need %s, have %s on %s", wtext,
		    htext, d->cfg.target);
	}
	if (vfs.f_files != 0 && vfs.f_favail < need->nfiles + 4)
		return bd_fail(BD_ERR_IO, "%s: not enough inodes: need %zu, "
		    "have %llu", d->cfg.target, need->nfiles + 4,
		    (unsigned long long)vfs.f_favail);
	return BD_OK;
}

/* A seed in a directory: the installed file, opened read-only. */
struct dir_seed {
	struct dest_seed s;	/* first */
	int fd;
};

static enum bd_err
dir_seed_read(struct dest_seed *s, uint64_t off, uint8_t *buf, size_t len)
{
	return pread_exact(((struct dir_seed *)s)->fd, buf, len, off);
}

static void
dir_seed_close(struct dest_seed *s)
{
	close(((struct dir_seed *)s)->fd);
	free(s);
}

static enum bd_err
dir_seed_open(struct dest *d, const char *path, struct dest_seed **out)
{
	struct dest_dir *x = dd(d);
	char dir[INSTALL_PATH_MAX_BYTES + 1];
	struct dir_seed *n = NULL;
	const char *base;
	struct stat st;
	int dfd = -1, fd = -1;
	enum bd_err rc;

	if ((rc = install_split(path, dir, sizeof(dir), &base)) != BD_OK)
		goto out;
	if (dir_open_path(x->destfd, dir, false, &dfd) != BD_OK) {
		bd_err_clear();		/* missing, or not ours: no seed */
		goto out;
	}
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "seed");
		goto out;
	}
	n->s.read = dir_seed_read;
	n->s.close = dir_seed_close;
	n->fd = fd;
	fd = -1;
	*out = &n->s;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/*
 * Makes (or opens) DESTDIR/.bootdrop/tmp, mode 0700.  It must be a real
 * directory of ours that nobody else can write: verified parts in it are
 * linked into place later.
 */
static enum bd_err
dir_part_dir(struct dest *d, int *fd)
{
	struct dest_dir *x = dd(d);
	struct stat st;
	enum bd_err rc;

	*fd = -1;
	if (x->tmpfd >= 0) {
		*fd = x->tmpfd;
		return BD_OK;
	}
	if (x->bootdropfd < 0) {
		if (mkdirat(x->destfd, BOOTDROP_DIR, 0755) == 0)
			x->made_bootdrop = true;
		else if (errno != EEXIST)
			return bd_fail(BD_ERR_IO, "%s: cannot create "
			    BOOTDROP_DIR ": %s", d->cfg.target, strerror(errno));
		if ((rc = subdir_open(x->destfd, BOOTDROP_DIR,
		    &x->bootdropfd)) != BD_OK || x->bootdropfd < 0)
			return bd_fail(rc != BD_OK ? rc : BD_ERR_IO, "%s: cannot "
			    "open " BOOTDROP_DIR, d->cfg.target);
	}
	if (mkdirat(x->bootdropfd, TMP_SUBDIR, 0700) == 0)
		x->made_tmp = true;
	else if (errno != EEXIST)
		return bd_fail(BD_ERR_IO, "%s: cannot create " BOOTDROP_DIR "/"
		    TMP_SUBDIR ": %s", d->cfg.target, strerror(errno));
	if ((rc = subdir_open(x->bootdropfd, TMP_SUBDIR, &x->tmpfd)) !=
	    BD_OK || x->tmpfd < 0)
		return bd_fail(rc != BD_OK ? rc : BD_ERR_IO, "%s: cannot open "
		    BOOTDROP_DIR "/" TMP_SUBDIR, d->cfg.target);
	if (fstat(x->tmpfd, &st) != 0)
		return bd_fail(BD_ERR_IO, "%s: stat " BOOTDROP_DIR "/"
		    TMP_SUBDIR ": %s", d->cfg.target, strerror(errno));
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(x->tmpfd);	/* not ours to clean up either */
		x->tmpfd = -1;
		x->made_tmp = false;
		return bd_fail(BD_ERR_IO, "%s/" BOOTDROP_DIR "/" TMP_SUBDIR
		    " is not a private directory (owner %lu, mode %03o); "
		    "remove it", d->cfg.target, (unsigned long)st.st_uid,
		    (unsigned)(st.st_mode & 0777));
	}
	*fd = x->tmpfd;
	return BD_OK;
}

static enum bd_err
dir_begin(struct dest *d)
{
	int fd;

	return dir_part_dir(d, &fd);
}

static enum bd_err
dir_clean(struct dest *d)
{
	struct dest_dir *x = dd(d);

	dir_remove_matching(x->tmpfd, "stage.", "");
	dir_remove_matching(x->tmpfd, ".stage.", ".tmp");
	dir_remove_matching(x->bootdropfd, "." PENDING_NAME ".", ".tmp");
	return BD_OK;
}

static enum bd_err
dir_stage(struct dest *d, const char *name, int fd, const char *part,
    const void *buf, uint64_t size)
{
	struct dest_dir *x = dd(d);
	enum bd_err rc;

	(void)unlinkat(x->tmpfd, name, 0);
	if (fd < 0)
		return file_write_atomic(x->tmpfd, name, buf, (size_t)size,
		    INSTALL_FILE_MODE, false);
	if (fchmod(fd, INSTALL_FILE_MODE) != 0)
		return bd_fail(BD_ERR_IO, "%s: chmod: %s", part, strerror(errno));
	if ((rc = fd_sync(fd)) != BD_OK)
		return rc;
	if (linkat(x->tmpfd, part, x->tmpfd, name, 0) != 0)
		return bd_fail(BD_ERR_IO, "%s/" BOOTDROP_DIR "/" TMP_SUBDIR
		    "/%s: link: %s", d->cfg.target, name, strerror(errno));
	return BD_OK;
}

static enum bd_err
dir_record_write(struct dest *d, const char *text, size_t len)
{
	struct dest_dir *x = dd(d);
	enum bd_err rc;

	if ((rc = fd_sync(x->tmpfd)) != BD_OK)
		return rc;
	rc = file_write_atomic(x->bootdropfd, PENDING_NAME, text, len, 0644,
	    false);
	if (rc != BD_OK)
		return bd_fail(rc, "%s/" BOOTDROP_DIR "/" PENDING_NAME ": %s",
		    d->cfg.target, bd_err_detail());
	return BD_OK;
}

static enum bd_err
dir_staged_check(struct dest *d, const char *name, uint64_t size,
    const uint8_t *sha256, bool *present)
{
	struct dest_dir *x = dd(d);
	uint8_t got[SHA256_BYTES];
	uint64_t n;
	struct stat st;
	enum bd_err rc;
	int fd;

	*present = false;
	if (x->tmpfd < 0)
		return BD_OK;
	if (fstatat(x->tmpfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return BD_OK;
		return bd_fail(BD_ERR_IO, "%s: %s", name, strerror(errno));
	}
	*present = true;
	if (sha256 == NULL)
		return BD_OK;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return bd_fail(BD_ERR_SIZE, "is not a regular file of %" PRIu64
		    " bytes", size);
	if ((fd = openat(x->tmpfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) <
	    0)
		return bd_fail(BD_ERR_IO, "%s: %s", name, strerror(errno));
	rc = sha256_fd(fd, size, got, &n);
	close(fd);
	if (rc != BD_OK)
		return rc;
	if (n != size || sodium_memcmp(got, sha256, SHA256_BYTES) != 0)
		return bd_fail(BD_ERR_HASH, "no longer hashes as recorded");
	return BD_OK;
}

/*
 * Whether the installed file base (st) already holds f's bytes: then it is
 * not kept as <install>.old, so an unchanged kernel (a refreshed manifest)
 * never pushes the previous one out.
 */
static bool
dir_same_file(int dfd, const char *base, const struct stat *st,
    const struct bd_pending_file *f)
{
	uint8_t got[SHA256_BYTES];
	uint64_t n;
	bool same = false;
	int fd;

	if ((uint64_t)st->st_size != f->size ||
	    (fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return false;
	if (sha256_fd(fd, f->size, got, &n) == BD_OK && n == f->size)
		same = sodium_memcmp(got, f->sha256, SHA256_BYTES) == 0;
	close(fd);
	bd_err_clear();
	return same;
}

/*
 * Opens the directory of the installed file path into *dfd (-1 when it is
 * missing, or a symlink on the way makes it not ours) and says whether its
 * file *base is a regular file of size bytes hashing to sha256.
 */
static enum bd_err
dir_find_same(struct dest_dir *x, const char *path, uint64_t size,
    const uint8_t *sha256, int *dfd, const char **base, bool *same)
{
	char dir[INSTALL_PATH_MAX_BYTES + 1];
	struct bd_pending_file f;
	struct stat st;
	enum bd_err rc;

	*dfd = -1;
	*same = false;
	if ((rc = install_split(path, dir, sizeof(dir), base)) != BD_OK)
		return rc;
	if (dir_open_path(x->destfd, dir, false, dfd) != BD_OK) {
		bd_err_clear();
		*dfd = -1;
		return BD_OK;
	}
	memset(&f, 0, sizeof(f));
	f.size = size;
	memcpy(f.sha256, sha256, SHA256_BYTES);
	if (fstatat(*dfd, *base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		*same = dir_same_file(*dfd, *base, &st, &f);
	return BD_OK;
}

static enum bd_err
dir_installed(struct dest *d, const char *path, uint64_t size,
    const uint8_t *sha256, bool *same)
{
	const char *base;
	enum bd_err rc;
	int dfd;

	rc = dir_find_same(dd(d), path, size, sha256, &dfd, &base, same);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

static enum bd_err
dir_apply(struct dest *d, const struct bd_pending_file *f)
{
	struct dest_dir *x = dd(d);
	char dir[INSTALL_PATH_MAX_BYTES + 1], old[NAME_MAX + 1];
	struct stat st;
	const char *base;
	int dfd = -1;
	enum bd_err rc;

	if ((rc = install_split(f->install, dir, sizeof(dir), &base)) != BD_OK)
		return rc;
	if (fstatat(x->tmpfd, f->stage, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT)
		return BD_OK;	/* put in place before an interruption */
	if ((rc = dir_open_path(x->destfd, dir, true, &dfd)) != BD_OK)
		goto out;
	/* What older clients and interrupted runs left beside it. */
	dir_remove_matching(dfd, ".bootdrop.", ".new");
	if (snprintf(old, sizeof(old), ".%s.", base) < (int)sizeof(old))
		dir_remove_matching(dfd, old, ".tmp");
	if (f->keep_old && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && !dir_same_file(dfd, base, &st, f)) {
		if (snprintf(old, sizeof(old), "%s.old", base) >=
		    (int)sizeof(old)) {
			rc = bd_fail(BD_ERR_PATH, "%s.old: name too long",
			    f->install);
			goto out;
		}
		/* A second name first, then renamed over <install>.old; the
		 * unlink covers a rename between two names of one inode. */
		(void)unlinkat(dfd, DIR_OLD_TMP, 0);
		if (linkat(dfd, base, dfd, DIR_OLD_TMP, 0) != 0 ||
		    renameat(dfd, DIR_OLD_TMP, dfd, old) != 0) {
			rc = bd_fail(BD_ERR_IO, "%s/%s.old: %s", d->cfg.target,
			    f->install, strerror(errno));
			goto out;
		}
		(void)unlinkat(dfd, DIR_OLD_TMP, 0);
	}
	/*
	 * A second name in the install directory, renamed over the install
	 * path; the staged name goes only once that is durable.  A rename
	 * from .bootdrop/tmp would touch two directories, and a power cut
	 * could keep the staged name's removal and lose the new one.
	 */
	(void)unlinkat(dfd, DIR_NEW_TMP, 0);
	if (linkat(x->tmpfd, f->stage, dfd, DIR_NEW_TMP, 0) != 0 ||
	    renameat(dfd, DIR_NEW_TMP, dfd, base) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s/%s: rename: %s", d->cfg.target,
		    f->install, strerror(errno));
		goto out;
	}
	(void)unlinkat(dfd, DIR_NEW_TMP, 0);	/* base was this file already */
	if ((rc = fd_sync(dfd)) != BD_OK)
		goto out;
	if (unlinkat(x->tmpfd, f->stage, 0) != 0 && errno != ENOENT) {
		rc = bd_fail(BD_ERR_IO, "%s/" BOOTDROP_DIR "/" TMP_SUBDIR "/%s: "
		    "unlink: %s", d->cfg.target, f->stage, strerror(errno));
		goto out;
	}
	rc = fd_sync(x->tmpfd);
out:
	if (dfd >= 0)
		close(dfd);
	return rc;
}

struct dir_list {
	const char *prefix;
	char (*names)[DEST_NAME_BYTES];
	size_t cap, n;
};

static enum bd_err
dir_list_entry(void *ctx, int dirfd, const char *name, unsigned char type)
{
	struct dir_list *l = ctx;
	struct stat st;

	(void)type;
	if (l->n == l->cap || strncmp(name, l->prefix, strlen(l->prefix)) != 0 ||
	    strlen(name) >= DEST_NAME_BYTES ||
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(st.st_mode))
		return BD_OK;
	memcpy(l->names[l->n++], name, strlen(name) + 1);
	return BD_OK;
}

static enum bd_err
dir_list(struct dest *d, const char *dir, const char *prefix,
    char (*names)[DEST_NAME_BYTES], size_t cap, size_t *n)
{
	struct dir_list l = { prefix, names, cap, 0 };
	struct dest_dir *x = dd(d);
	enum bd_err rc;
	int dfd;

	*n = 0;
	/* missing, or a symlink on the way: nothing of ours there */
	if (dir_open_path(x->destfd, dir, false, &dfd) != BD_OK) {
		bd_err_clear();
		return BD_OK;
	}
	close(dfd);
	rc = dir_each(x->destfd, dir, dir_list_entry, &l);
	*n = l.n;
	return rc;
}

static enum bd_err
dir_remove_same(struct dest *d, const char *path, uint64_t size,
    const uint8_t *sha256, bool *removed)
{
	const char *base;
	enum bd_err rc;
	bool same;
	int dfd;

	rc = dir_find_same(dd(d), path, size, sha256, &dfd, &base, &same);
	if (rc != BD_OK || dfd < 0)
		return rc;	/* gone already, or not ours */
	/* Gone, or other bytes: not ours to remove.  The directory is synced
	 * either way: a run killed before its sync leaves the unlink to a
	 * replay that finds the file gone. */
	if (same) {
		if (unlinkat(dfd, base, 0) == 0)
			*removed = true;
		else if (errno != ENOENT)
			rc = bd_fail(BD_ERR_IO, "%s/%s: unlink: %s",
			    d->cfg.target, path, strerror(errno));
	}
	if (rc == BD_OK)
		rc = fd_sync(dfd);
	close(dfd);
	return rc;
}

static enum bd_err
dir_state_write(struct dest *d, const char *channel, const char *text,
    size_t len)
{
	char prefix[80];
	enum bd_err rc;
	int fd;

	if ((rc = dir_state_dir(d, true, &fd)) != BD_OK)
		return bd_fail(rc, "%s: %s", d->state_where, bd_err_detail());
	rc = file_write_atomic(fd, channel, text, len, 0644, false);
	snprintf(prefix, sizeof(prefix), ".%s.", channel);
	dir_remove_matching(fd, prefix, ".tmp");
	close(fd);
	if (rc != BD_OK)
		return bd_fail(rc, "%s: %s", d->state_where, bd_err_detail());
	return BD_OK;
}

static enum bd_err
dir_record_remove(struct dest *d)
{
	struct dest_dir *x = dd(d);

	if (unlinkat(x->bootdropfd, PENDING_NAME, 0) != 0 && errno != ENOENT)
		return bd_fail(BD_ERR_IO, "%s/" BOOTDROP_DIR "/" PENDING_NAME
		    ": %s", d->cfg.target, strerror(errno));
	return fd_sync(x->bootdropfd);
}

static enum bd_err
dir_close(struct dest *d, bool failed)
{
	struct dest_dir *x = dd(d);

	(void)failed;
	if (x->tmpfd >= 0) {
		close(x->tmpfd);
		/* Fails, harmlessly, while parts remain. */
		(void)unlinkat(x->bootdropfd, TMP_SUBDIR, AT_REMOVEDIR);
	}
	if (x->bootdropfd >= 0)
		close(x->bootdropfd);
	if (x->made_bootdrop && x->destfd >= 0)
		(void)unlinkat(x->destfd, BOOTDROP_DIR, AT_REMOVEDIR);
	if (x->destfd >= 0)
		close(x->destfd);
	free(x);
	return BD_OK;
}

static enum bd_err
dir_file_read(struct dest *d, const char *path, size_t max, uint8_t **buf,
    size_t *len)
{
	struct dest_dir *x = dd(d);
	enum bd_err rc;

	*buf = NULL;
	*len = 0;
	if (x->destfd < 0 || (faccessat(x->destfd, path, F_OK,
	    AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT))
		return BD_OK;
	if ((rc = install_check(x->destfd, path)) != BD_OK)
		return rc;
	return file_read_capped(x->destfd, path, max, buf, len);
}

/*
 * Overwrites the file's bytes where they are: open without O_TRUNC,
 * pwrite at 0, fsync (a file of another size is refused: GRUB would not
 * write it).  A missing file is written whole and renamed into place once.
 */
static enum bd_err
dir_file_rewrite(struct dest *d, const char *path, const void *buf,
    size_t len)
{
	struct dest_dir *x = dd(d);
	char dir[INSTALL_PATH_MAX_BYTES + 1];
	const char *base;
	struct stat st;
	ssize_t n;
	int dfd = -1, fd = -1;
	enum bd_err rc;

	if ((rc = install_check(x->destfd, path)) != BD_OK ||
	    (rc = install_split(path, dir, sizeof(dir), &base)) != BD_OK)
		return rc;
	if ((rc = dir_open_path(x->destfd, dir, true, &dfd)) != BD_OK)
		return rc;
	fd = openat(dfd, base, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		rc = file_write_atomic(dfd, base, buf, len, INSTALL_FILE_MODE,
		    true);
		goto out;
	}
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = bd_fail(BD_ERR_IO, "%s/%s: %s", d->cfg.target, path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len) {
		rc = bd_fail(BD_ERR_IO, "%s/%s is not a regular file of %zu "
		    "bytes; remove it and run again", d->cfg.target, path, len);
		goto out;
	}
	if ((n = pwrite(fd, buf, len, 0)) < 0 || (size_t)n != len) {
		rc = bd_fail(BD_ERR_IO, "%s/%s: write: %s", d->cfg.target, path,
		    n < 0 ? strerror(errno) : "short write");
		goto out;
	}
	rc = fd_sync(fd);
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return rc;
}

static enum bd_err
dir_file_rename(struct dest *d, const char *from, const char *to)
{
	struct dest_dir *x = dd(d);
	char dir[INSTALL_PATH_MAX_BYTES + 1], todir[INSTALL_PATH_MAX_BYTES + 1];
	const char *base, *tobase;
	int dfd = -1;
	enum bd_err rc;

	if ((rc = install_check(x->destfd, from)) != BD_OK ||
	    (rc = install_split(from, dir, sizeof(dir), &base)) != BD_OK ||
	    (rc = install_split(to, todir, sizeof(todir), &tobase)) != BD_OK)
		return rc;
	if (strcmp(dir, todir) != 0)
		return bd_fail(BD_ERR_PATH, "%s and %s: not one directory",
		    from, to);
	if ((rc = dir_open_path(x->destfd, dir, false, &dfd)) != BD_OK)
		return rc;
	if (renameat(dfd, base, dfd, tobase) != 0)
		rc = bd_fail(BD_ERR_IO, "%s/%s: rename: %s", d->cfg.target,
		    from, strerror(errno));
	else
		rc = fd_sync(dfd);
	close(dfd);
	return rc;
}

static const struct dest_ops dir_ops = {
	.open = dir_open,
	.record_read = dir_record_read,
	.state_read = dir_state_read,
	.path_check = dir_path_check,
	.room = dir_room,
	.part_dir = dir_part_dir,
	.seed_open = dir_seed_open,
	.begin = dir_begin,
	.clean = dir_clean,
	.stage = dir_stage,
	.record_write = dir_record_write,
	.staged_check = dir_staged_check,
	.installed = dir_installed,
	.apply = dir_apply,
	.list = dir_list,
	.remove_same = dir_remove_same,
	.state_write = dir_state_write,
	.record_remove = dir_record_remove,
	.close = dir_close,
	.file_read = dir_file_read,
	.file_rewrite = dir_file_rewrite,
	.file_rename = dir_file_rename,
};

enum bd_err
dest_dir_new(struct dest **out)
{
	struct dest_dir *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return bd_fail(BD_ERR_NOMEM, "destination");
	x->d.ops = &dir_ops;
	x->d.path_sep = "/";
	x->destfd = x->bootdropfd = x->tmpfd = -1;
	*out = &x->d;
	return BD_OK;
}
