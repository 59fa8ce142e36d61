/*
 * ext2.c - writes into an unmounted ext2 file system with libext2fs, in
 * an order that survives a crash at any instant (see ext2.h).  Every
 * libext2fs call's errcode_t is turned into a bd_err here; nothing else in
 * bootdrop sees libext2fs types.
 *
 * One window remains that ordering cannot close from outside libext2fs:
 * a directory that must grow by a block (ext2fs_expand_dir) refers to the
 * block before the bitmaps say it is used; the flush right after narrows
 * it to one write, and the file system is marked not clean throughout, so
 * e2fsck -p still runs.  Directories bootdrop creates are made here in
 * the safe order.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
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
#define EXT2_LIST_MAX		256	/* names ext2_remove_prefixed() handles per call */
#define EXT2_NAME_BYTES		256

struct ext2_target {
	ext2_filsys fs;
	char *name;		/* device or image, for messages */
	bool rw;
	bool was_clean;		/* valid and without errors when opened */
	bool begun;		/* marked not clean on the device */
};

/* Where the bytes of a file being created come from. */
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
ext2_open(const char *device_or_image, bool rw, struct ext2_target **t)
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
	if (rw && err != 0 && !S_ISREG(st.st_mode)) {
		rc = ext2_fail(err, "cannot tell whether mounted:", device_or_image);
		goto out;
	}
	if (rw && err == 0 && (mflags & EXT2_MF_MOUNTED)) {
		rc = bd_fail(BD_ERR_USAGE, "ext2: %s is mounted; unmount it or use -d",
		    device_or_image);
		goto out;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->name = strdup(device_or_image)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	n->rw = rw;
	err = ext2fs_open(n->name, (rw ? EXT2_FLAG_RW : 0) | EXT2_FLAG_64BITS,
	    0, 0, unix_io_manager, &n->fs);
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
	/* Every write reaches the device when made, in order. */
	if (rw && (err = io_channel_set_options(n->fs->io, "cache=off")) != 0) {
		rc = ext2_fail(err, "cannot turn off the write cache of", device_or_image);
		goto out;
	}
	if ((err = ext2fs_read_bitmaps(n->fs)) != 0) {
		rc = ext2_fail(err, "cannot read bitmaps of", device_or_image);
		goto out;
	}
	n->was_clean = (n->fs->super->s_state & EXT2_VALID_FS) &&
	    !(n->fs->super->s_state & EXT2_ERROR_FS);
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

bool
ext2_was_clean(const struct ext2_target *t)
{
	return t->was_clean;
}

/* Superblock, descriptors and bitmaps to the device, then fsync. */
static enum bd_err
ext2_flush(struct ext2_target *t)
{
	errcode_t err;

	if ((err = ext2fs_flush(t->fs)) != 0)
		return ext2_fail(err, "cannot write back", t->name);
	return BD_OK;
}

enum bd_err
ext2_begin(struct ext2_target *t)
{
	if (!t->rw)
		return bd_fail(BD_ERR_IO, "ext2: %s opened read-only", t->name);
	if (t->begun)
		return BD_OK;
	t->fs->super->s_state &= (__u16)~EXT2_VALID_FS;
	ext2fs_mark_super_dirty(t->fs);
	t->begun = true;
	return ext2_flush(t);
}

void
ext2_free(const struct ext2_target *t, uint64_t *bytes, uint64_t *inodes,
    uint32_t *block_size)
{
	*block_size = t->fs->blocksize;
	*bytes = (uint64_t)ext2fs_free_blocks_count(t->fs->super) * t->fs->blocksize;
	*inodes = t->fs->super->s_free_inodes_count;
}

enum bd_err
ext2_close(struct ext2_target *t, bool ok)
{
	errcode_t err;
	enum bd_err rc = BD_OK;

	if (t == NULL)
		return BD_OK;
	if (t->begun && ok && t->was_clean) {
		t->fs->super->s_state |= EXT2_VALID_FS;
		ext2fs_mark_super_dirty(t->fs);
	}
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
 * Sets ino's link count to n, or adds n to it when relative; a count of 0
 * makes the inode deleted (dtime set).
 */
static enum bd_err
ext2_links(struct ext2_target *t, ext2_ino_t ino, bool relative, int n,
    const char *path)
{
	struct ext2_inode inode;
	errcode_t err;

	if ((err = ext2fs_read_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot read inode of", path);
	if (relative)
		n += inode.i_links_count;
	inode.i_links_count = (__u16)(n < 0 ? 0 : n);
	inode.i_dtime = inode.i_links_count == 0 ? (__u32)time(NULL) : 0;
	if ((err = ext2fs_write_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot write inode of", path);
	return BD_OK;
}

/* Adds the entry name -> ino to dir, growing dir when full. */
static enum bd_err
ext2_link_entry(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t ino, int type)
{
	errcode_t err;

	err = ext2fs_link(t->fs, dir, name, ino, type);
	if (err == EXT2_ET_DIR_NO_SPACE) {
		if ((err = ext2fs_expand_dir(t->fs, dir)) != 0)
			return ext2_fail(err, "cannot grow the directory of", name);
		if ((err = ext2fs_flush(t->fs)) == 0)
			err = ext2fs_link(t->fs, dir, name, ino, type);
	}
	if (err != 0)
		return ext2_fail(err, "cannot link", name);
	return BD_OK;
}

/*
 * Creates directory name in parent: inode and block marked used on the
 * device first, then the block, the inode as deleted, the entry, and
 * finally the inode's links and the parent's.
 */
static enum bd_err
ext2_mkdir(struct ext2_target *t, ext2_ino_t parent, const char *name,
    ext2_ino_t *out)
{
	struct ext2_inode inode;
	ext2_extent_handle_t eh;
	ext2_ino_t ino;
	blk64_t blk;
	char *block = NULL;
	errcode_t err;
	enum bd_err rc;
	__u32 now = (__u32)time(NULL);

	*out = 0;
	if ((err = ext2fs_new_inode(t->fs, parent, LINUX_S_IFDIR | 0755, NULL,
	    &ino)) != 0)
		return ext2_fail(err, "no free inode for directory", name);
	if ((err = ext2fs_new_block2(t->fs, 0, NULL, &blk)) != 0)
		return ext2_fail(err, "no free block for directory", name);
	ext2fs_inode_alloc_stats2(t->fs, ino, +1, 1);
	ext2fs_block_alloc_stats2(t->fs, blk, +1);
	if ((rc = ext2_flush(t)) != BD_OK)
		return rc;
	if ((err = ext2fs_new_dir_block(t->fs, ino, parent, &block)) != 0 ||
	    (err = ext2fs_write_dir_block4(t->fs, blk, block, 0, ino)) != 0) {
		rc = ext2_fail(err, "cannot write directory", name);
		goto out;
	}
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = LINUX_S_IFDIR | 0755;
	inode.i_atime = inode.i_ctime = inode.i_mtime = now;
	inode.i_dtime = now;
	inode.i_size = t->fs->blocksize;
	if (ext2fs_has_feature_extents(t->fs->super)) {
		if ((err = ext2fs_extent_open2(t->fs, ino, &inode, &eh)) != 0) {
			rc = ext2_fail(err, "cannot set up extents for", name);
			goto out;
		}
		ext2fs_extent_free(eh);
	}
	if ((err = ext2fs_write_new_inode(t->fs, ino, &inode)) != 0 ||
	    (err = ext2fs_bmap2(t->fs, ino, &inode, NULL, BMAP_SET, 0, NULL,
	    &blk)) != 0 ||
	    (err = ext2fs_read_inode(t->fs, ino, &inode)) != 0 ||
	    (err = ext2fs_iblk_set(t->fs, &inode, 1)) != 0 ||
	    (err = ext2fs_write_inode(t->fs, ino, &inode)) != 0) {
		rc = ext2_fail(err, "cannot write inode of directory", name);
		goto out;
	}
	if ((rc = ext2_link_entry(t, parent, name, ino, EXT2_FT_DIR)) != BD_OK ||
	    (rc = ext2_links(t, ino, false, 2, name)) != BD_OK ||
	    (rc = ext2_links(t, parent, true, +1, name)) != BD_OK ||
	    (rc = ext2_flush(t)) != BD_OK)
		goto out;
	*out = ino;
out:
	if (block != NULL)
		ext2fs_free_mem(&block);
	return rc;
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
			if ((rc = ext2_mkdir(t, cur, comp, &next)) != BD_OK ||
			    (rc = ext2_lookup(t, cur, comp, &next, &inode)) != BD_OK)
				return rc;
			if (next == 0)
				return bd_fail(BD_ERR_IO, "ext2: %s vanished", comp);
		}
		/* A directory ext2_mkdir() was interrupted making: named,
		 * still unlinked.  Finish it, or treat it as missing. */
		if (LINUX_S_ISDIR(inode.i_mode) && inode.i_links_count == 0) {
			if (!create)
				return BD_OK;
			if ((rc = ext2_links(t, next, false, 2, comp)) != BD_OK ||
			    (rc = ext2_links(t, cur, true, +1, comp)) != BD_OK ||
			    (rc = ext2_flush(t)) != BD_OK)
				return rc;
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

/* Frees ino's blocks and the inode itself (no name left pointing at it). */
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

/*
 * Allocates a new regular-file inode near dir and fills it from src.  The
 * inode stays deleted (no links, dtime set) until it is named.
 */
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
	/*
	 * Everything written until the file is closed belongs to a deleted
	 * inode on blocks the device's bitmaps call free, so its order does
	 * not matter: the write-back cache spares a write of the inode and
	 * of its map per data block.  Turning it off again writes it all.
	 * Blocks it cached before are stale now that writes bypassed it:
	 * changing the block size (and back) drops them.
	 */
	if ((err = io_channel_set_blksize(t->fs->io, (int)t->fs->blocksize * 2)) != 0 ||
	    (err = io_channel_set_blksize(t->fs->io, (int)t->fs->blocksize)) != 0 ||
	    (err = io_channel_set_options(t->fs->io, "cache=on")) != 0) {
		rc = ext2_fail(err, "cannot turn on the cache of", t->name);
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
	inode.i_links_count = 0;
	inode.i_atime = inode.i_ctime = inode.i_mtime = now;
	inode.i_dtime = now;
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
	if ((err = io_channel_set_options(t->fs->io, "cache=off")) != 0 &&
	    rc == BD_OK) {
		rc = ext2_fail(err, "cannot write back", t->name);
		*ino = 0;	/* its blocks stay allocated: a leak e2fsck finds */
	}
	free(chunk);
	return rc;
}

static enum bd_err
ext2_create_src(struct ext2_target *t, const char *path,
    const struct ext2_source *src, mode_t mode)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	ext2_ino_t dir, old, ino = 0;
	const char *base;
	enum bd_err rc;

	if (src->size > EXT2_FILE_MAX_BYTES)
		return bd_fail(BD_ERR_TOOBIG, "ext2: %s: %llu bytes", path,
		    (unsigned long long)src->size);
	if ((rc = ext2_walk(t, path, true, buf, &dir, &base)) != BD_OK ||
	    (rc = ext2_lookup(t, dir, base, &old, &inode)) != BD_OK)
		return rc;
	if (old != 0)
		return bd_fail(BD_ERR_EXISTS, "ext2: %s exists", path);
	if ((rc = ext2_write_new(t, dir, path, src, mode, &ino)) != BD_OK)
		return rc;
	/* Bitmaps first, then the name (of a deleted inode), then the link. */
	if ((rc = ext2_flush(t)) != BD_OK ||
	    (rc = ext2_link_entry(t, dir, base, ino, EXT2_FT_REG_FILE)) != BD_OK) {
		(void)ext2_release(t, ino, path);
		return rc;
	}
	return ext2_links(t, ino, false, 1, path);
}

enum bd_err
ext2_create(struct ext2_target *t, const char *path, int srcfd,
    const void *buf, uint64_t size, mode_t mode)
{
	struct ext2_source src = { .fd = srcfd, .buf = buf, .size = size };
	struct stat st;

	if (srcfd >= 0) {
		if (fstat(srcfd, &st) == -1)
			return bd_fail(BD_ERR_IO, "ext2: source of %s: %s", path,
			    strerror(errno));
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
			return bd_fail(BD_ERR_SIZE, "ext2: source of %s is not a "
			    "regular file of %llu bytes", path,
			    (unsigned long long)size);
	}
	return ext2_create_src(t, path, &src, mode);
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

/* Rewrites the one entry dir/name from -> to. */
static enum bd_err
ext2_repoint(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t from, ext2_ino_t to, const char *path)
{
	struct ext2_repoint r = { name, strlen(name), from, to, false };
	errcode_t err;

	err = ext2fs_dir_iterate2(t->fs, dir, 0, NULL, ext2_repoint_entry, &r);
	if (err != 0)
		return ext2_fail(err, "cannot replace", path);
	if (!r.done)
		return bd_fail(BD_ERR_IO, "ext2: %s: directory entry vanished", path);
	return BD_OK;
}

/*
 * Points path at ino (which keeps its other names).  With trash, the
 * regular file there (bootdrop's own, with no other name) is first named
 * EXT2_STAGE_DIR/trash.<ino>, so no name ever points at a half-released
 * inode; without, it keeps another name the caller gave it.  Link counts
 * are raised before a name is added and lowered after one goes, so an
 * interruption leaves at most a count one too high.
 */
static enum bd_err
ext2_put(struct ext2_target *t, const char *path, ext2_ino_t ino, bool trash_old)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1], trash[64];
	struct ext2_inode inode;
	ext2_ino_t dir, old;
	const char *base;
	enum bd_err rc;

	if ((rc = ext2_walk(t, path, true, buf, &dir, &base)) != BD_OK ||
	    (rc = ext2_lookup(t, dir, base, &old, &inode)) != BD_OK)
		return rc;
	if (old == ino)
		return BD_OK;
	if (old != 0 && !LINUX_S_ISREG(inode.i_mode))
		return bd_fail(BD_ERR_PATH, "ext2: %s exists and is not a regular file",
		    path);
	if ((rc = ext2_links(t, ino, true, +1, path)) != BD_OK)
		return rc;
	if (old == 0) {
		if ((rc = ext2_link_entry(t, dir, base, ino, EXT2_FT_REG_FILE)) != BD_OK)
			return rc;
		return ext2_flush(t);
	}
	if (trash_old) {
		char tbuf[INSTALL_PATH_MAX_BYTES + 1];
		ext2_ino_t tdir;
		const char *tbase;

		snprintf(trash, sizeof(trash), EXT2_STAGE_DIR "/trash.%lu",
		    (unsigned long)old);
		if ((rc = ext2_links(t, old, true, +1, path)) != BD_OK ||
		    (rc = ext2_walk(t, trash, true, tbuf, &tdir, &tbase)) != BD_OK ||
		    (rc = ext2_link_entry(t, tdir, tbase, old,
		    EXT2_FT_REG_FILE)) != BD_OK || (rc = ext2_flush(t)) != BD_OK)
			return rc;
	}
	if ((rc = ext2_repoint(t, dir, base, old, ino, path)) != BD_OK)
		return rc;
	if ((rc = ext2_links(t, old, true, -1, path)) != BD_OK)
		return rc;
	return ext2_flush(t);
}

enum bd_err
ext2_move(struct ext2_target *t, const char *from, const char *to,
    const char *keep_old)
{
	char fbuf[INSTALL_PATH_MAX_BYTES + 1], tbuf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode, oinode;
	ext2_ino_t fdir, tdir, ino, old;
	const char *fbase, *tbase;
	errcode_t err;
	enum bd_err rc;

	if ((rc = ext2_walk(t, from, false, fbuf, &fdir, &fbase)) != BD_OK)
		return rc;
	if (fdir == 0 || (rc = ext2_lookup(t, fdir, fbase, &ino, &inode)) != BD_OK ||
	    ino == 0)
		return rc != BD_OK ? rc : bd_fail(BD_ERR_IO, "ext2: %s vanished", from);
	if (!LINUX_S_ISREG(inode.i_mode))
		return bd_fail(BD_ERR_PATH, "ext2: %s is not a regular file", from);
	if ((rc = ext2_walk(t, to, true, tbuf, &tdir, &tbase)) != BD_OK ||
	    (rc = ext2_lookup(t, tdir, tbase, &old, &oinode)) != BD_OK)
		return rc;
	if (old != ino) {
		if (old != 0 && !LINUX_S_ISREG(oinode.i_mode))
			return bd_fail(BD_ERR_PATH, "ext2: %s exists and is not a "
			    "regular file", to);
		if (keep_old != NULL && old != 0 &&
		    (rc = ext2_put(t, keep_old, old, true)) != BD_OK)
			return rc;
		if ((rc = ext2_put(t, to, ino, keep_old == NULL)) != BD_OK)
			return rc;
	}
	if ((err = ext2fs_unlink(t->fs, fdir, fbase, ino, 0)) != 0)
		return ext2_fail(err, "cannot unlink", from);
	return ext2_links(t, ino, false, 1, to);
}

enum bd_err
ext2_remove(struct ext2_target *t, const char *path)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	ext2_ino_t dir, ino;
	const char *base;
	errcode_t err;
	enum bd_err rc;

	if ((rc = ext2_walk(t, path, false, buf, &dir, &base)) != BD_OK || dir == 0)
		return rc;
	if ((rc = ext2_lookup(t, dir, base, &ino, &inode)) != BD_OK || ino == 0)
		return rc;
	if (!LINUX_S_ISREG(inode.i_mode))
		return bd_fail(BD_ERR_PATH, "ext2: %s is not a regular file", path);
	/*
	 * Deleted first, then unnamed, then its blocks freed.  Only files of
	 * bootdrop's own with this one name are removed: a link count above
	 * one is what an interrupted run's increment left, not another name.
	 * The flushes order this against what came before, and the entry's
	 * removal after the inode's.
	 */
	if ((rc = ext2_flush(t)) != BD_OK ||
	    (rc = ext2_links(t, ino, false, 0, path)) != BD_OK ||
	    (rc = ext2_flush(t)) != BD_OK)
		return rc;
	if ((err = ext2fs_unlink(t->fs, dir, base, ino, 0)) != 0)
		return ext2_fail(err, "cannot unlink", path);
	return ext2_release(t, ino, path);
}

struct ext2_names {
	const char *prefix;
	size_t n;
	char (*names)[EXT2_NAME_BYTES];
};

static int
ext2_collect_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
    int offset, int blocksize, char *buf, void *arg)
{
	struct ext2_names *l = arg;
	size_t len = (size_t)ext2fs_dirent_name_len(dirent);
	size_t plen = strlen(l->prefix);

	(void)dir; (void)entry; (void)offset; (void)blocksize; (void)buf;
	if (dirent->inode == 0 || len < plen || len >= EXT2_NAME_BYTES ||
	    memcmp(dirent->name, l->prefix, plen) != 0)
		return 0;
	memcpy(l->names[l->n], dirent->name, len);
	l->names[l->n][len] = '\0';
	return ++l->n == EXT2_LIST_MAX ? DIRENT_ABORT : 0;
}

enum bd_err
ext2_remove_prefixed(struct ext2_target *t, const char *dirpath,
    const char *prefix)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1], path[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_names l = { prefix, 0, NULL };
	ext2_ino_t parent, dir;
	const char *base;
	errcode_t err;
	enum bd_err rc = BD_OK;
	size_t i;
	int n;

	/* dirpath/x walks to dirpath itself. */
	n = snprintf(path, sizeof(path), "%s/x", dirpath);
	if (n < 0 || (size_t)n >= sizeof(path))
		return bd_fail(BD_ERR_PATH, "ext2: %s: path too long", dirpath);
	if ((rc = ext2_walk(t, path, false, buf, &parent, &base)) != BD_OK ||
	    parent == 0)
		return rc;
	dir = parent;
	if ((l.names = malloc(sizeof(*l.names) * EXT2_LIST_MAX)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "ext2");
	err = ext2fs_dir_iterate2(t->fs, dir, 0, NULL, ext2_collect_entry, &l);
	if (err != 0) {
		rc = ext2_fail(err, "cannot read directory", dirpath);
		goto out;
	}
	for (i = 0; i < l.n && rc == BD_OK; i++) {
		n = snprintf(path, sizeof(path), "%s/%s", dirpath, l.names[i]);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		rc = ext2_remove(t, path);
	}
out:
	free(l.names);
	return rc;
}

enum bd_err
ext2_hash(struct ext2_target *t, const char *path, uint64_t size,
    uint8_t out[SHA256_BYTES], bool *present)
{
	char pbuf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	struct sha256_ctx *c = NULL;
	ext2_file_t file = NULL;
	ext2_ino_t dir, ino;
	const char *base;
	uint8_t *chunk = NULL;
	uint64_t have = 0;
	unsigned int got;
	errcode_t err;
	enum bd_err rc;

	*present = false;
	if ((rc = ext2_walk(t, path, false, pbuf, &dir, &base)) != BD_OK || dir == 0)
		goto out;
	if ((rc = ext2_lookup(t, dir, base, &ino, &inode)) != BD_OK || ino == 0)
		goto out;
	*present = true;
	if (out == NULL)
		goto out;
	if (!LINUX_S_ISREG(inode.i_mode) || EXT2_I_SIZE(&inode) != size) {
		rc = bd_fail(BD_ERR_SIZE, "ext2: %s is not a regular file of %llu "
		    "bytes", path, (unsigned long long)size);
		goto out;
	}
	if ((chunk = malloc(COPY_CHUNK_BYTES)) == NULL ||
	    (c = sha256_new()) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	if ((err = ext2fs_file_open(t->fs, ino, 0, &file)) != 0) {
		file = NULL;
		rc = ext2_fail(err, "cannot open", path);
		goto out;
	}
	while (have < size) {
		err = ext2fs_file_read(file, chunk, (unsigned int)(size - have <
		    COPY_CHUNK_BYTES ? size - have : COPY_CHUNK_BYTES), &got);
		if (err == 0 && got == 0)
			err = EXT2_ET_SHORT_READ;
		if (err != 0) {
			rc = ext2_fail(err, "cannot read", path);
			goto out;
		}
		sha256_update(c, chunk, got);
		have += got;
	}
	sha256_final(c, out);
	rc = BD_OK;
out:
	if (file != NULL)
		(void)ext2fs_file_close(file);
	sha256_free(c);
	free(chunk);
	return rc;
}

/* Through a fixed staging name, as the install transaction does. */
static enum bd_err
ext2_install(struct ext2_target *t, const char *path, int srcfd,
    const void *buf, uint64_t size, mode_t mode)
{
	static const char tmp[] = EXT2_STAGE_DIR "/tool";
	uint8_t *b = NULL;
	size_t len;
	enum bd_err rc;

	/* Refuse a bad path before writing anything. */
	rc = ext2_read_file(t, path, 0, &b, &len);
	free(b);
	if (rc != BD_OK && rc != BD_ERR_TOOBIG)
		return rc;
	if ((rc = ext2_begin(t)) != BD_OK ||
	    (rc = ext2_remove(t, tmp)) != BD_OK ||
	    (rc = ext2_create(t, tmp, srcfd, buf, size, mode)) != BD_OK ||
	    (rc = ext2_move(t, tmp, path, NULL)) != BD_OK)
		return rc;
	return ext2_remove_prefixed(t, EXT2_STAGE_DIR, "trash.");
}

enum bd_err
ext2_install_file(struct ext2_target *t, const char *path, int srcfd,
    uint64_t size, mode_t mode)
{
	return ext2_install(t, path, srcfd, NULL, size, mode);
}

enum bd_err
ext2_install_bytes(struct ext2_target *t, const char *path, const void *buf,
    size_t len, mode_t mode)
{
	return ext2_install(t, path, -1, buf, len, mode);
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
