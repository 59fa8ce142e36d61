/*
 * ext2.c - installs verified files into an unmounted ext2 file system with
 * libext2fs.  See ext2.h for the contract.
 *
 * A replacement is made in this order: allocate and fill a new inode,
 * point the existing directory entry at it (one dirent rewrite, never an
 * unlink followed by a link), then release the old inode and its blocks.
 * Every libext2fs call's errcode_t is turned into a bd_err here; nothing
 * else in bootdrop sees libext2fs types.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "ext2.h"
#include "manifest.h"

#define COPY_CHUNK_BYTES	((size_t)64 * 1024)

struct ext2_target {
	ext2_filsys fs;
	char *name;		/* device or image, for messages */
};

/* Where the bytes of a file being installed come from. */
struct ext2_source {
	int fd;			/* -1: from buf */
	const uint8_t *buf;
	uint64_t size;
};

static enum bd_err
ext2_fail(errcode_t err, const char *what, const char *path)
{
	return bd_fail(BD_ERR_IO, "ext2: %s %s: %s", what, path, error_message(err));
}

enum bd_err
ext2_open(const char *device_or_image, struct ext2_target **t)
{
	struct ext2_target *n = NULL;
	struct stat st;
	errcode_t err;
	int mflags = 0;
	enum bd_err rc;

	*t = NULL;
	initialize_ext2_error_table();
	if (stat(device_or_image, &st) == -1) {
		rc = bd_fail(BD_ERR_IO, "ext2: %s: %s", device_or_image, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		rc = bd_fail(BD_ERR_USAGE, "ext2: %s is neither a block device nor a file",
		    device_or_image);
		goto out;
	}
	/* Writing under a mounted file system corrupts it.  Without /proc
	 * (a bare rescue shell) the check fails: allow only an image file. */
	err = ext2fs_check_if_mounted(device_or_image, &mflags);
	if (err != 0 && !S_ISREG(st.st_mode)) {
		rc = ext2_fail(err, "cannot tell whether mounted:", device_or_image);
		goto out;
	}
	if (err == 0 && (mflags & EXT2_MF_MOUNTED)) {
		rc = bd_fail(BD_ERR_USAGE, "ext2: %s is mounted; unmount it or use -d",
		    device_or_image);
		goto out;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->name = strdup(device_or_image)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	err = ext2fs_open(n->name, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0,
	    unix_io_manager, &n->fs);
	if (err != 0) {
		n->fs = NULL;
		rc = ext2_fail(err, "cannot open", device_or_image);
		goto out;
	}
	if (ext2fs_has_feature_journal_needs_recovery(n->fs->super)) {
		rc = bd_fail(BD_ERR_IO, "ext2: %s needs journal recovery (run e2fsck)",
		    device_or_image);
		goto out;
	}
	if ((err = ext2fs_read_bitmaps(n->fs)) != 0) {
		rc = ext2_fail(err, "cannot read bitmaps of", device_or_image);
		goto out;
	}
	n->fs->umask = 022;
	*t = n;
	n = NULL;
	rc = BD_OK;
out:
	if (n != NULL) {
		if (n->fs != NULL)
			ext2fs_free(n->fs);
		free(n->name);
		free(n);
	}
	return rc;
}

enum bd_err
ext2_close(struct ext2_target *t)
{
	errcode_t err;
	enum bd_err rc = BD_OK;

	if (t == NULL)
		return BD_OK;
	/* ext2fs_close2 writes everything back, fsyncs the device and frees
	 * fs - but leaves fs to us when writing back fails. */
	if ((err = ext2fs_close2(t->fs, 0)) != 0) {
		rc = ext2_fail(err, "cannot write back", t->name);
		ext2fs_free(t->fs);
	}
	free(t->name);
	free(t);
	return rc;
}

/* Looks name up in dir: BD_OK with *ino set, or *ino = 0 when absent. */
static enum bd_err
ext2_lookup(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t *ino, struct ext2_inode *inode)
{
	errcode_t err;

	*ino = 0;
	err = ext2fs_lookup(t->fs, dir, name, (int)strlen(name), NULL, ino);
	if (err == EXT2_ET_FILE_NOT_FOUND) {
		*ino = 0;
		return BD_OK;
	}
	if (err != 0)
		return ext2_fail(err, "cannot look up", name);
	if ((err = ext2fs_read_inode(t->fs, *ino, inode)) != 0)
		return ext2_fail(err, "cannot read inode of", name);
	return BD_OK;
}

/*
 * Walks the directories of path (all but its last component) from the
 * root, creating missing ones when create is set, and refusing symbolic
 * links and non-directories.  Sets *dir to the parent (0 if missing and
 * not created) and *base to the last component inside buf.
 */
static enum bd_err
ext2_walk(struct ext2_target *t, const char *path, bool create,
    char buf[INSTALL_PATH_MAX_BYTES + 1], ext2_ino_t *dir, const char **base)
{
	struct ext2_inode inode;
	ext2_ino_t cur = EXT2_ROOT_INO, next;
	char *comp, *slash;
	errcode_t err;
	enum bd_err rc;

	*dir = 0;
	if (!install_path_valid(path))
		return bd_fail(BD_ERR_PATH, "ext2: install path not allowed: %s", path);
	memcpy(buf, path, strlen(path) + 1);
	for (comp = buf; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
		*slash = '\0';
		if ((rc = ext2_lookup(t, cur, comp, &next, &inode)) != BD_OK)
			return rc;
		if (next == 0) {
			if (!create)
				return BD_OK;
			err = ext2fs_mkdir(t->fs, cur, 0, comp);
			if (err == EXT2_ET_DIR_NO_SPACE &&
			    (err = ext2fs_expand_dir(t->fs, cur)) == 0)
				err = ext2fs_mkdir(t->fs, cur, 0, comp);
			if (err != 0)
				return ext2_fail(err, "cannot create directory", comp);
			if ((rc = ext2_lookup(t, cur, comp, &next, &inode)) != BD_OK)
				return rc;
			if (next == 0)
				return bd_fail(BD_ERR_IO, "ext2: %s vanished", comp);
		}
		if (LINUX_S_ISLNK(inode.i_mode))
			return bd_fail(BD_ERR_PATH, "ext2: %s: %s is a symbolic link",
			    path, comp);
		if (!LINUX_S_ISDIR(inode.i_mode))
			return bd_fail(BD_ERR_PATH, "ext2: %s: %s is not a directory",
			    path, comp);
		*slash = '/';
		cur = next;
	}
	*dir = cur;
	*base = comp;
	return BD_OK;
}

/* Frees ino's blocks and the inode itself (the link count already 0). */
static enum bd_err
ext2_release(struct ext2_target *t, ext2_ino_t ino, const char *path)
{
	struct ext2_inode inode;
	errcode_t err;

	if ((err = ext2fs_read_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot read inode of", path);
	if (ext2fs_inode_has_valid_blocks2(t->fs, &inode) &&
	    (err = ext2fs_punch(t->fs, ino, &inode, NULL, 0, ~0ULL)) != 0)
		return ext2_fail(err, "cannot free blocks of", path);
	inode.i_links_count = 0;
	inode.i_dtime = (__u32)time(NULL);
	if ((err = ext2fs_write_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot write inode of", path);
	ext2fs_inode_alloc_stats2(t->fs, ino, -1, 0);
	return BD_OK;
}

/* Reads up to len bytes of src at off into buf. */
static enum bd_err
ext2_source_read(const struct ext2_source *src, uint64_t off, uint8_t *buf,
    size_t len)
{
	ssize_t n;
	size_t got = 0;

	if (src->fd < 0) {
		memcpy(buf, src->buf + off, len);
		return BD_OK;
	}
	while (got < len) {
		n = pread(src->fd, buf + got, len - got, (off_t)(off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return bd_fail(BD_ERR_IO, "ext2: read source: %s", strerror(errno));
		if (n == 0)
			return bd_fail(BD_ERR_SIZE, "ext2: source shorter than %llu bytes",
			    (unsigned long long)src->size);
		got += (size_t)n;
	}
	return BD_OK;
}

/* Allocates a new regular-file inode near dir and fills it from src. */
static enum bd_err
ext2_write_new(struct ext2_target *t, ext2_ino_t dir, const char *path,
    const struct ext2_source *src, mode_t mode, ext2_ino_t *ino)
{
	struct ext2_inode inode;
	ext2_extent_handle_t eh;
	ext2_file_t file = NULL;
	uint8_t *chunk = NULL;
	uint64_t off;
	unsigned int wrote;
	size_t n;
	errcode_t err;
	enum bd_err rc;
	__u32 now = (__u32)time(NULL);

	*ino = 0;
	if ((chunk = malloc(COPY_CHUNK_BYTES)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	err = ext2fs_new_inode(t->fs, dir, LINUX_S_IFREG | 0600, NULL, ino);
	if (err != 0) {
		*ino = 0;
		rc = ext2_fail(err, "no free inode for", path);
		goto out;
	}
	ext2fs_inode_alloc_stats2(t->fs, *ino, +1, 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = (__u16)(LINUX_S_IFREG | (mode & 07777));
	inode.i_links_count = 1;
	inode.i_atime = inode.i_ctime = inode.i_mtime = now;
	if (ext2fs_has_feature_extents(t->fs->super)) {
		/* Lets libext2fs write an empty extent tree header. */
		if ((err = ext2fs_extent_open2(t->fs, *ino, &inode, &eh)) != 0) {
			rc = ext2_fail(err, "cannot set up extents for", path);
			goto out;
		}
		ext2fs_extent_free(eh);
	}
	if ((err = ext2fs_write_new_inode(t->fs, *ino, &inode)) != 0) {
		rc = ext2_fail(err, "cannot write inode of", path);
		goto out;
	}
	if ((err = ext2fs_file_open(t->fs, *ino, EXT2_FILE_WRITE, &file)) != 0) {
		file = NULL;
		rc = ext2_fail(err, "cannot open new inode of", path);
		goto out;
	}
	for (off = 0; off < src->size; off += n) {
		n = src->size - off < COPY_CHUNK_BYTES ?
		    (size_t)(src->size - off) : COPY_CHUNK_BYTES;
		if ((rc = ext2_source_read(src, off, chunk, n)) != BD_OK)
			goto out;
		err = ext2fs_file_write(file, chunk, (unsigned int)n, &wrote);
		if (err == 0 && wrote != n)
			err = EXT2_ET_SHORT_WRITE;
		if (err != 0) {
			rc = ext2_fail(err, "cannot write", path);
			goto out;
		}
	}
	if ((err = ext2fs_file_set_size2(file, src->size)) != 0) {
		rc = ext2_fail(err, "cannot set the size of", path);
		goto out;
	}
	err = ext2fs_file_close(file);
	file = NULL;
	if (err != 0) {
		rc = ext2_fail(err, "cannot write", path);
		goto out;
	}
	rc = BD_OK;
out:
	if (file != NULL)
		(void)ext2fs_file_close(file);
	if (rc != BD_OK && *ino != 0) {
		(void)ext2_release(t, *ino, path);
		*ino = 0;
	}
	free(chunk);
	return rc;
}

struct ext2_repoint {
	const char *name;
	size_t namelen;
	ext2_ino_t from, to;
	bool done;
};

static int
ext2_repoint_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
    int offset, int blocksize, char *buf, void *arg)
{
	struct ext2_repoint *r = arg;

	(void)dir; (void)entry; (void)offset; (void)blocksize; (void)buf;
	if (dirent->inode != r->from ||
	    (size_t)ext2fs_dirent_name_len(dirent) != r->namelen ||
	    memcmp(dirent->name, r->name, r->namelen) != 0)
		return 0;
	dirent->inode = r->to;
	r->done = true;
	return DIRENT_CHANGED | DIRENT_ABORT;
}

/* Installs src at path, replacing a regular file there. */
static enum bd_err
ext2_install(struct ext2_target *t, const char *path,
    const struct ext2_source *src, mode_t mode)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode old_inode;
	struct ext2_repoint r;
	ext2_ino_t dir, old, ino = 0;
	const char *base;
	errcode_t err;
	enum bd_err rc;

	if (src->size > EXT2_FILE_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "ext2: %s: %llu bytes", path,
		    (unsigned long long)src->size);
		goto out;
	}
	if ((rc = ext2_walk(t, path, true, buf, &dir, &base)) != BD_OK)
		goto out;
	if ((rc = ext2_lookup(t, dir, base, &old, &old_inode)) != BD_OK)
		goto out;
	if (old != 0 && !LINUX_S_ISREG(old_inode.i_mode)) {
		rc = bd_fail(BD_ERR_PATH, "ext2: %s exists and is not a regular file", path);
		goto out;
	}
	if ((rc = ext2_write_new(t, dir, path, src, mode, &ino)) != BD_OK)
		goto out;
	if (old == 0) {
		err = ext2fs_link(t->fs, dir, base, ino, EXT2_FT_REG_FILE);
		if (err == EXT2_ET_DIR_NO_SPACE &&
		    (err = ext2fs_expand_dir(t->fs, dir)) == 0)
			err = ext2fs_link(t->fs, dir, base, ino, EXT2_FT_REG_FILE);
		if (err != 0) {
			rc = ext2_fail(err, "cannot link", path);
			goto out;
		}
		ino = 0;
		goto out;
	}
	r.name = base;
	r.namelen = strlen(base);
	r.from = old;
	r.to = ino;
	r.done = false;
	err = ext2fs_dir_iterate2(t->fs, dir, 0, NULL, ext2_repoint_entry, &r);
	if (err != 0 || !r.done) {
		rc = err != 0 ? ext2_fail(err, "cannot replace", path) :
		    bd_fail(BD_ERR_IO, "ext2: %s: directory entry vanished", path);
		goto out;
	}
	ino = 0;
	/* The old inode may have other names (hard links). */
	if (old_inode.i_links_count > 1) {
		old_inode.i_links_count--;
		if ((err = ext2fs_write_inode(t->fs, old, &old_inode)) != 0)
			rc = ext2_fail(err, "cannot write inode of old", path);
	} else {
		rc = ext2_release(t, old, path);
	}
out:
	if (ino != 0)
		(void)ext2_release(t, ino, path);
	return rc;
}

enum bd_err
ext2_install_file(struct ext2_target *t, const char *path, int srcfd,
    uint64_t size, mode_t mode)
{
	struct ext2_source src = { .fd = srcfd, .buf = NULL, .size = size };
	struct stat st;

	if (fstat(srcfd, &st) == -1)
		return bd_fail(BD_ERR_IO, "ext2: source of %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return bd_fail(BD_ERR_SIZE, "ext2: source of %s is not a regular file "
		    "of %llu bytes", path, (unsigned long long)size);
	return ext2_install(t, path, &src, mode);
}

enum bd_err
ext2_install_bytes(struct ext2_target *t, const char *path, const void *buf,
    size_t len, mode_t mode)
{
	struct ext2_source src = { .fd = -1, .buf = buf, .size = len };

	return ext2_install(t, path, &src, mode);
}

enum bd_err
ext2_read_file(struct ext2_target *t, const char *path, size_t max,
    uint8_t **buf, size_t *len)
{
	char pbuf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	ext2_file_t file = NULL;
	ext2_ino_t dir, ino;
	const char *base;
	uint8_t *b = NULL;
	uint64_t size;
	unsigned int got;
	size_t have = 0;
	errcode_t err;
	enum bd_err rc;

	*buf = NULL;
	*len = 0;
	if ((rc = ext2_walk(t, path, false, pbuf, &dir, &base)) != BD_OK || dir == 0)
		goto out;
	if ((rc = ext2_lookup(t, dir, base, &ino, &inode)) != BD_OK || ino == 0)
		goto out;
	if (!LINUX_S_ISREG(inode.i_mode)) {
		rc = bd_fail(BD_ERR_PATH, "ext2: %s is not a regular file", path);
		goto out;
	}
	size = EXT2_I_SIZE(&inode);
	if (size > max) {
		rc = bd_fail(BD_ERR_TOOBIG, "ext2: %s: %llu bytes, at most %zu", path,
		    (unsigned long long)size, max);
		goto out;
	}
	if ((b = malloc((size_t)size + 1)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	if ((err = ext2fs_file_open(t->fs, ino, 0, &file)) != 0) {
		file = NULL;
		rc = ext2_fail(err, "cannot open", path);
		goto out;
	}
	while (have < size) {
		err = ext2fs_file_read(file, b + have,
		    (unsigned int)(size - have < COPY_CHUNK_BYTES ? size - have :
		    COPY_CHUNK_BYTES), &got);
		if (err == 0 && got == 0)
			err = EXT2_ET_SHORT_READ;
		if (err != 0) {
			rc = ext2_fail(err, "cannot read", path);
			goto out;
		}
		have += got;
	}
	b[have] = '\0';
	*buf = b;
	*len = have;
	b = NULL;
	rc = BD_OK;
out:
	if (file != NULL)
		(void)ext2fs_file_close(file);
	free(b);
	return rc;
}
