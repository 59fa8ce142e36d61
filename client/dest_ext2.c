/*
 * dest_ext2.c - the boot slice as an unmounted ext2/ext4 file system
 * (--ext2 DEVICE_OR_IMAGE), written with client/ext2.h.
 *
 * Downloads go to a private host directory (--tmpdir DIR/bootdrop-fetch.
 * UID), and the file system is closed while they run, so no libext2fs
 * handle with cached bitmaps is held across a long download while
 * something else might mount or repair the device.  dest_begin() opens it
 * again for writing, marks it not clean, and the transaction stages every
 * file under .bootdrop/stage before the intent record .bootdrop/pending
 * names them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>

#include "dest_impl.h"
#include "ext2.h"
#include "install.h"
#include "manifest.h"
#include "units.h"

#define EXT2_SLACK_BYTES	((uint64_t)64 << 10)	/* record, state, directories */
#define EXT2_PENDING_PATH	BOOTDROP_DIR "/" PENDING_NAME
#define EXT2_STATE_STAGE	EXT2_STAGE_DIR "/stage.state"

struct dest_ext2 {
	struct dest d;		/* first: dest.c sees only this */
	struct ext2_target *t;	/* NULL while downloading */
	int hostdirfd, tmpfd;
	char hosttmp[32];
};

static struct dest_ext2 *
de(struct dest *d)
{
	return (struct dest_ext2 *)d;
}

static enum bd_err
ext2d_target(struct dest *d)
{
	struct dest_ext2 *x = de(d);

	if (x->t != NULL)
		return BD_OK;
	return ext2_open(d->cfg.target, !d->cfg.readonly, &x->t);
}

static enum bd_err
ext2d_open(struct dest *d)
{
	enum bd_err rc;

	snprintf(d->state_where, sizeof(d->state_where), "%s:/" BOOTDROP_DIR
	    "/" STATE_SUBDIR "/%s", d->cfg.target, d->cfg.channel);
	snprintf(d->reset_hint, sizeof(d->reset_hint), "debugfs -w -R 'rm /"
	    BOOTDROP_DIR "/" STATE_SUBDIR "/%s' '%s'", d->cfg.channel,
	    d->cfg.target);
	snprintf(d->record_hint, sizeof(d->record_hint), "debugfs -w -R 'rm /"
	    EXT2_PENDING_PATH "' '%s'", d->cfg.target);
	if ((rc = ext2d_target(d)) != BD_OK)
		return rc;
	if (!d->cfg.readonly && !ext2_was_clean(de(d)->t))
		d->warning = "the file system is not marked clean (an "
		    "interrupted write?); it stays so until e2fsck -p checks it";
	return BD_OK;
}

static enum bd_err
ext2d_record_read(struct dest *d, uint8_t **buf, size_t *len)
{
	return ext2_read_file(de(d)->t, EXT2_PENDING_PATH, PENDING_MAX_BYTES,
	    buf, len);
}

static enum bd_err
ext2d_state_read(struct dest *d, struct bd_state *st)
{
	char path[INSTALL_PATH_MAX_BYTES + 1];
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc;

	memset(st, 0, sizeof(*st));
	if ((rc = ext2d_target(d)) != BD_OK)
		return rc;
	snprintf(path, sizeof(path), BOOTDROP_DIR "/" STATE_SUBDIR "/%s",
	    d->cfg.channel);
	if ((rc = ext2_read_file(de(d)->t, path, STATE_MAX_BYTES, &buf,
	    &len)) == BD_OK && buf != NULL)
		rc = state_parse(d->cfg.channel, buf, len, st);
	free(buf);
	return rc;
}

/*
 * Checks, writing nothing, that path can be installed: a read capped at
 * 0 bytes walks it as an install would and refuses a symbolic link or
 * non-directory on the way and anything but a regular file at the end
 * (BD_ERR_PATH); a regular file with bytes is merely too big to read.
 */
static enum bd_err
ext2d_path_check(struct dest *d, const char *path)
{
	uint8_t *buf = NULL;
	size_t len;
	enum bd_err rc;

	rc = ext2_read_file(de(d)->t, path, 0, &buf, &len);
	free(buf);
	if (rc == BD_ERR_TOOBIG) {
		bd_err_clear();
		rc = BD_OK;
	}
	return rc;
}

static enum bd_err
ext2d_room(struct dest *d, const struct dest_need *need)
{
	struct dest_ext2 *x = de(d);
	uint64_t bytes, inodes, want = EXT2_SLACK_BYTES, blocks, host = 0;
	char wtext[SIZE_TEXT_BYTES], htext[SIZE_TEXT_BYTES];
	uint32_t bs;
	struct statvfs vfs;
	size_t i;

	ext2_free(x->t, &bytes, &inodes, &bs);
	for (i = 0; i < need->nfiles; i++) {
		blocks = (need->sizes[i] + bs - 1) / bs;
		/* data, indirect or extent blocks, and a directory block */
		want += (blocks + blocks / (bs / 4) + 3) * bs;
		host += need->sizes[i];
	}
	if (want > bytes) {
		size_format(want, false, wtext);
		size_format(bytes, false, htext);
		return bd_fail(BD_ERR_NOSPACE, "need %s, have %s on %s", wtext,
		    htext, d->cfg.target);
	}
	if (inodes < need->nfiles + 4)
		return bd_fail(BD_ERR_IO, "%s: not enough inodes: need %zu, "
		    "have %" PRIu64, d->cfg.target, need->nfiles + 4, inodes);
	if (statvfs(d->cfg.tmpdir, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < host)
		return bd_fail(BD_ERR_IO, "%s: not enough room to download: "
		    "need %" PRIu64 " bytes, have %" PRIu64 " (see --tmpdir)",
		    d->cfg.tmpdir, host, (uint64_t)vfs.f_bavail * vfs.f_frsize);
	return BD_OK;
}

/*
 * Closes the file system (having written nothing) and makes (or opens)
 * TMPDIR/bootdrop-fetch.UID, mode 0700: a real directory of ours that
 * nobody else can write, since the parts in it are read back after
 * verification.
 */
static enum bd_err
ext2d_part_dir(struct dest *d, int *fd)
{
	struct dest_ext2 *x = de(d);
	const char *dir = d->cfg.tmpdir;
	struct stat st;
	enum bd_err rc;

	*fd = -1;
	if (x->tmpfd >= 0) {
		*fd = x->tmpfd;
		return BD_OK;
	}
	rc = ext2_close(x->t, true);
	x->t = NULL;
	if (rc != BD_OK)
		return rc;
	snprintf(x->hosttmp, sizeof(x->hosttmp), "bootdrop-fetch.%lu",
	    (unsigned long)geteuid());
	x->hostdirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->hostdirfd < 0)
		return bd_fail(BD_ERR_IO, "%s: cannot open temporary directory: "
		    "%s", dir, strerror(errno));
	if (mkdirat(x->hostdirfd, x->hosttmp, 0700) != 0 && errno != EEXIST)
		return bd_fail(BD_ERR_IO, "%s: cannot create %s: %s", dir,
		    x->hosttmp, strerror(errno));
	x->tmpfd = openat(x->hostdirfd, x->hosttmp, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (x->tmpfd < 0)
		return bd_fail(BD_ERR_IO, "%s: cannot open %s: %s", dir,
		    x->hosttmp, strerror(errno));
	if (fstat(x->tmpfd, &st) != 0)
		return bd_fail(BD_ERR_IO, "%s: cannot stat %s: %s", dir,
		    x->hosttmp, strerror(errno));
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(x->tmpfd);	/* not ours to clean up either */
		x->tmpfd = -1;
		return bd_fail(BD_ERR_IO, "%s: %s is not a private directory "
		    "(owner %lu, mode %03o)", dir, x->hosttmp,
		    (unsigned long)st.st_uid, (unsigned)(st.st_mode & 0777));
	}
	*fd = x->tmpfd;
	return BD_OK;
}

/*
 * A seed on the file system: a target of its own, opened read-only and
 * checked sound, so the one the install writes with is never held while
 * downloading (see the top of the file).
 */
struct ext2_seed {
	struct dest_seed s;	/* first */
	struct ext2_target *t;
	struct ext2_reader *r;
};

static enum bd_err
ext2d_seed_read(struct dest_seed *s, uint64_t off, uint8_t *buf, size_t len)
{
	return ext2_reader_pread(((struct ext2_seed *)s)->r, buf, len, off);
}

static void
ext2d_seed_close(struct dest_seed *s)
{
	struct ext2_seed *e = (struct ext2_seed *)s;

	ext2_reader_close(e->r);
	(void)ext2_close(e->t, false);
	free(e);
}

static enum bd_err
ext2d_seed_open(struct dest *d, const char *path, struct dest_seed **out)
{
	struct ext2_seed *e;
	uint64_t size;
	enum bd_err rc;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return bd_fail(BD_ERR_NOMEM, "seed");
	e->s.read = ext2d_seed_read;
	e->s.close = ext2d_seed_close;
	if ((rc = ext2_open_checked(d->cfg.target, &e->t)) == BD_OK &&
	    (rc = ext2_reader_open(e->t, path, &e->r, &size)) == BD_OK &&
	    e->r != NULL) {
		*out = &e->s;
		e = NULL;
	} else if (rc == BD_ERR_PATH) {	/* not a regular file: no seed */
		bd_err_clear();
		rc = BD_OK;
	}
	if (e != NULL)
		ext2d_seed_close(&e->s);
	return rc;
}

static enum bd_err
ext2d_begin(struct dest *d)
{
	enum bd_err rc;

	if ((rc = ext2d_target(d)) != BD_OK)
		return rc;
	return ext2_begin(de(d)->t);
}

static enum bd_err
ext2d_clean(struct dest *d)
{
	enum bd_err rc;

	if ((rc = ext2_remove_prefixed(de(d)->t, EXT2_STAGE_DIR, "trash.")) !=
	    BD_OK)
		return rc;
	return ext2_remove_prefixed(de(d)->t, EXT2_STAGE_DIR, "stage.");
}

static enum bd_err
ext2d_stage(struct dest *d, const char *name, int fd, const char *part,
    const void *buf, uint64_t size)
{
	char path[INSTALL_PATH_MAX_BYTES + 1];
	enum bd_err rc;

	(void)part;
	snprintf(path, sizeof(path), EXT2_STAGE_DIR "/%s", name);
	if ((rc = ext2_remove(de(d)->t, path)) != BD_OK)
		return rc;
	return ext2_create(de(d)->t, path, fd, buf, size, INSTALL_FILE_MODE);
}

static enum bd_err
ext2d_record_write(struct dest *d, const char *text, size_t len)
{
	return ext2_create(de(d)->t, EXT2_PENDING_PATH, -1, text, len, 0644);
}

static enum bd_err
ext2d_staged_check(struct dest *d, const char *name, uint64_t size,
    const uint8_t *sha256, bool *present)
{
	char path[INSTALL_PATH_MAX_BYTES + 1];
	uint8_t got[SHA256_BYTES];
	enum bd_err rc;

	snprintf(path, sizeof(path), EXT2_STAGE_DIR "/%s", name);
	rc = ext2_hash(de(d)->t, path, size, sha256 != NULL ? got : NULL,
	    present);
	if (rc != BD_OK || !*present || sha256 == NULL)
		return rc;
	if (sodium_memcmp(got, sha256, SHA256_BYTES) != 0)
		return bd_fail(BD_ERR_HASH, "no longer hashes as recorded");
	return BD_OK;
}

static enum bd_err
ext2d_installed(struct dest *d, const char *path, uint64_t size,
    const uint8_t *sha256, bool *same)
{
	uint8_t got[SHA256_BYTES];
	bool present;
	enum bd_err rc;

	*same = false;
	if (de(d)->t == NULL)
		return BD_OK;
	rc = ext2_hash(de(d)->t, path, size, got, &present);
	if (rc == BD_ERR_SIZE || rc == BD_ERR_PATH) {
		bd_err_clear();
		return BD_OK;
	}
	if (rc == BD_OK && present)
		*same = sodium_memcmp(got, sha256, SHA256_BYTES) == 0;
	return rc;
}

static enum bd_err
ext2d_apply(struct dest *d, const struct bd_pending_file *f)
{
	char path[INSTALL_PATH_MAX_BYTES + 1], old[INSTALL_PATH_MAX_BYTES + 8];
	uint8_t got[SHA256_BYTES];
	bool present, keep = f->keep_old;
	enum bd_err rc;

	snprintf(path, sizeof(path), EXT2_STAGE_DIR "/%s", f->stage);
	if ((rc = ext2_hash(de(d)->t, path, 0, NULL, &present)) != BD_OK ||
	    !present)
		return rc;	/* not present: put in place before */
	snprintf(old, sizeof(old), "%s.old", f->install);
	if (f->keep_old && !install_path_valid(old))
		return bd_fail(BD_ERR_PATH, "%s: name too long", old);
	/* An unchanged file (a refreshed manifest) is not kept as .old, so
	 * the previous kernel is never pushed out by the same one. */
	if (f->keep_old && ext2_hash(de(d)->t, f->install, f->size, got,
	    &present) == BD_OK && present &&
	    sodium_memcmp(got, f->sha256, SHA256_BYTES) == 0)
		keep = false;
	bd_err_clear();
	return ext2_move(de(d)->t, path, f->install, keep ? old : NULL);
}

static enum bd_err
ext2d_list(struct dest *d, const char *dir, const char *prefix,
    char (*names)[DEST_NAME_BYTES], size_t cap, size_t *n)
{
	enum bd_err rc = ext2_list(de(d)->t, dir, prefix, names, cap, n);

	if (rc == BD_ERR_PATH) {	/* a symlink on the way: nothing of ours */
		bd_err_clear();
		rc = BD_OK;
	}
	return rc;
}

static enum bd_err
ext2d_remove_same(struct dest *d, const char *path, uint64_t size,
    const uint8_t *sha256, bool *removed)
{
	enum bd_err rc = ext2_remove_same(de(d)->t, path, size, sha256,
	    removed);

	if (rc == BD_ERR_PATH) {	/* not a regular file: not ours */
		bd_err_clear();
		rc = BD_OK;
	}
	return rc;
}

static enum bd_err
ext2d_state_write(struct dest *d, const char *channel, const char *text,
    size_t len)
{
	char path[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_target *t = de(d)->t;
	enum bd_err rc;

	snprintf(path, sizeof(path), BOOTDROP_DIR "/" STATE_SUBDIR "/%s",
	    channel);
	if ((rc = ext2_remove(t, EXT2_STATE_STAGE)) != BD_OK ||
	    (rc = ext2_create(t, EXT2_STATE_STAGE, -1, text, len, 0644)) !=
	    BD_OK)
		return rc;
	return ext2_move(t, EXT2_STATE_STAGE, path, NULL);
}

static enum bd_err
ext2d_record_remove(struct dest *d)
{
	return ext2_remove(de(d)->t, EXT2_PENDING_PATH);
}

static enum bd_err
ext2d_close(struct dest *d, bool failed)
{
	struct dest_ext2 *x = de(d);
	enum bd_err rc;

	rc = ext2_close(x->t, !failed);
	if (x->tmpfd >= 0) {
		close(x->tmpfd);
		/* Fails, harmlessly, while parts remain. */
		(void)unlinkat(x->hostdirfd, x->hosttmp, AT_REMOVEDIR);
	}
	if (x->hostdirfd >= 0)
		close(x->hostdirfd);
	free(x);
	return rc;
}

static enum bd_err
ext2d_file_read(struct dest *d, const char *path, size_t max, uint8_t **buf,
    size_t *len)
{
	enum bd_err rc;

	if ((rc = ext2d_target(d)) != BD_OK)
		return rc;
	return ext2_read_file(de(d)->t, path, max, buf, len);
}

static enum bd_err
ext2d_file_rewrite(struct dest *d, const char *path, const void *buf,
    size_t len)
{
	return ext2_rewrite(de(d)->t, path, buf, len);
}

static enum bd_err
ext2d_file_rename(struct dest *d, const char *from, const char *to)
{
	enum bd_err rc;

	if ((rc = ext2_move(de(d)->t, from, to, NULL)) != BD_OK)
		return rc;
	return ext2_remove_prefixed(de(d)->t, EXT2_STAGE_DIR, "trash.");
}

static const struct dest_ops ext2_ops = {
	.open = ext2d_open,
	.record_read = ext2d_record_read,
	.state_read = ext2d_state_read,
	.path_check = ext2d_path_check,
	.room = ext2d_room,
	.part_dir = ext2d_part_dir,
	.seed_open = ext2d_seed_open,
	.begin = ext2d_begin,
	.clean = ext2d_clean,
	.stage = ext2d_stage,
	.record_write = ext2d_record_write,
	.staged_check = ext2d_staged_check,
	.installed = ext2d_installed,
	.apply = ext2d_apply,
	.list = ext2d_list,
	.remove_same = ext2d_remove_same,
	.state_write = ext2d_state_write,
	.record_remove = ext2d_record_remove,
	.close = ext2d_close,
	.file_read = ext2d_file_read,
	.file_rewrite = ext2d_file_rewrite,
	.file_rename = ext2d_file_rename,
};

enum bd_err
dest_ext2_new(struct dest **out)
{
	struct dest_ext2 *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return bd_fail(BD_ERR_NOMEM, "destination");
	x->d.ops = &ext2_ops;
	x->d.path_sep = ":/";
	x->hostdirfd = x->tmpfd = -1;
	*out = &x->d;
	return BD_OK;
}
