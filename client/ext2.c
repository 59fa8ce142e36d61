/*
 * ext2.c - writes into an unmounted ext2 file system with libext2fs, in
 * an order that survives a crash at any instant (see ext2.h).  Every
 * libext2fs call's errcode_t is turned into a bd_err here; nothing else in
 * bootdrop sees libext2fs types.
 *
 * One window remains: a directory growing past its twelfth block (or
 * past what its extent root holds) needs an indirect or extent block,
 * which libext2fs writes and maps before the bitmap that marks it is
 * flushed.  Directories bootdrop writes hold a few entries.
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

#include "boot.h"
#include "ext2.h"
#include "fsutil.h"
#include "manifest.h"
#include "state.h"

#define COPY_CHUNK_BYTES	((size_t)64 * 1024)
#define EXT2_LIST_MAX		256	/* names ext2_remove_prefixed() handles per call */
#define EXT2_DIRS_MAX		65536	/* directories the check and ext2_names() walk */
#define EXT2_CHECK_INODES_MAX	((ext2_ino_t)1 << 24)	/* inodes the check counts names of */

struct ext2_target {
	ext2_filsys fs;
	char *name;		/* device or image, for messages */
	bool rw;
	bool was_clean;		/* valid and without errors when opened */
	bool begun;		/* marked not clean on the device */
	ext2_ino_t *dirs;	/* every directory in use, for ext2_names() */
	size_t ndirs, capdirs;
};

/* Where the bytes of a file being created come from. */
struct ext2_source {
	int fd;			/* -1: from buf */
	const uint8_t *buf;
	uint64_t size;
};

static enum bd_err ext2_check(struct ext2_target *t);

static enum bd_err
ext2_fail(errcode_t err, const char *what, const char *path)
{
	return bd_fail(BD_ERR_IO, "ext2: %s %s: %s", what, path, error_message(err));
}

/*
 * The superblock geometry libext2fs reads the bitmaps with, checked as
 * e2fsck does first: libext2fs 1.47.0 itself overruns a heap buffer
 * reading the bitmaps of an image whose first data block is wrong
 * (found by fuzz_ext2).
 */
static enum bd_err
ext2_sane_super(struct ext2_target *t)
{
	struct ext2_super_block *sb = t->fs->super;	/* libext2fs takes no const */
	uint64_t bs = t->fs->blocksize, ratio = EXT2FS_CLUSTER_RATIO(t->fs);
	uint64_t ipb = bs / EXT2_INODE_SIZE(sb);
	blk64_t device = 0;
	const char *why = NULL;

	if (sb->s_first_data_block != (bs == 1024 && ratio == 1 ? 1u : 0u))
		why = "first data block";
	else if (sb->s_blocks_per_group < 8 ||
	    sb->s_blocks_per_group > 8 * bs * ratio)
		why = "blocks per group";
	else if (ipb == 0 || sb->s_inodes_per_group < ipb ||
	    sb->s_inodes_per_group > 8 * bs)
		why = "inodes per group";
	else if ((uint64_t)sb->s_inodes_per_group * t->fs->group_desc_count !=
	    sb->s_inodes_count)
		why = "inode count";
	else if (ext2fs_blocks_count(sb) <= sb->s_first_data_block ||
	    ext2fs_r_blocks_count(sb) > ext2fs_blocks_count(sb) / 2)
		why = "block count";
	/* Blocks past the end of the device read as nothing and would be
	 * handed out over what the file system thinks they hold. */
	else if (ext2fs_get_device_size2(t->name, (int)bs, &device) == 0 &&
	    device < ext2fs_blocks_count(sb))
		why = "more blocks than the device holds";
	if (why != NULL)
		return bd_fail(BD_ERR_IO, "ext2: %s is damaged (superblock: %s); "
		    "run e2fsck -f %s", t->name, why, t->name);
	return BD_OK;
}

/*
 * Whether device_or_image may be opened as asked: a block device or a
 * file, and for writing not mounted.  Writing under a mounted file system
 * corrupts it; without /proc (a bare rescue shell) the check fails, and
 * then only an image file is allowed.
 */
static enum bd_err
ext2_may_open(const char *device_or_image, bool rw)
{
	struct stat st;
	errcode_t err;
	int mflags = 0;

	if (stat(device_or_image, &st) == -1)
		return bd_fail(BD_ERR_IO, "ext2: %s: %s", device_or_image,
		    strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return bd_fail(BD_ERR_USAGE, "ext2: %s is neither a block "
		    "device nor a file", device_or_image);
	err = ext2fs_check_if_mounted(device_or_image, &mflags);
	if (rw && err != 0 && !S_ISREG(st.st_mode))
		return ext2_fail(err, "cannot tell whether mounted:",
		    device_or_image);
	if (rw && err == 0 && (mflags & EXT2_MF_MOUNTED))
		return bd_fail(BD_ERR_USAGE, "ext2: %s is mounted; unmount it "
		    "or use -d", device_or_image);
	return BD_OK;
}

/* Opens n->name with libext2fs: a superblock that needs no recovery. */
static enum bd_err
ext2_fs_open(struct ext2_target *n)
{
	errcode_t err;

	err = ext2fs_open(n->name, (n->rw ? EXT2_FLAG_RW : 0) |
	    EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &n->fs);
	if (err != 0)
		n->fs = NULL;
	if (err == EXT2_ET_BAD_MAGIC)
		return bd_fail(BD_ERR_NOTFS, "%s (no ext2 superblock magic)",
		    n->name);
	if (err != 0)
		return bd_fail(BD_ERR_IO, "ext2: cannot open %s: %s; if it "
		    "holds an ext2 file system, run e2fsck -f %s", n->name,
		    error_message(err), n->name);
	if (ext2fs_has_feature_journal_needs_recovery(n->fs->super))
		return bd_fail(BD_ERR_IO, "ext2: %s needs journal recovery "
		    "(run e2fsck)", n->name);
	/* Every write reaches the device when made, in order. */
	if (n->rw && (err = io_channel_set_options(n->fs->io, "cache=off")) !=
	    0)
		return ext2_fail(err, "cannot turn off the write cache of",
		    n->name);
	return BD_OK;
}

/*
 * Reads the bitmaps.  A bitmap's checksum lives in its group descriptor,
 * another block: a power cut may keep one write and lose the other.  On a
 * file system an interrupted write left not clean, such a bitmap is read
 * anyway - ext2_check() then proves it covers every block and inode in
 * use, and the next flush writes both again.
 */
static enum bd_err
ext2_bitmaps_read(struct ext2_target *n)
{
	errcode_t err = ext2fs_read_bitmaps(n->fs);

	if ((err == EXT2_ET_BLOCK_BITMAP_CSUM_INVALID ||
	    err == EXT2_ET_INODE_BITMAP_CSUM_INVALID) && n->rw &&
	    !n->was_clean) {
		n->fs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
		err = ext2fs_read_bitmaps(n->fs);
		n->fs->flags &= ~EXT2_FLAG_IGNORE_CSUM_ERRORS;
		ext2fs_mark_bb_dirty(n->fs);
		ext2fs_mark_ib_dirty(n->fs);
	}
	if (err != 0)
		return bd_fail(BD_ERR_IO, "ext2: cannot read bitmaps of %s: %s; "
		    "run e2fsck -f %s", n->name, error_message(err), n->name);
	return BD_OK;
}

/* ext2_open(), with the soundness check when check is set. */
static enum bd_err
ext2_open_as(const char *device_or_image, bool rw, bool check,
    struct ext2_target **t)
{
	struct ext2_target *n = NULL;
	enum bd_err rc;

	*t = NULL;
	initialize_ext2_error_table();
	if ((rc = ext2_may_open(device_or_image, rw)) != BD_OK)
		goto out;
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->name = strdup(device_or_image)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	n->rw = rw;
	if ((rc = ext2_fs_open(n)) != BD_OK ||
	    (rc = ext2_sane_super(n)) != BD_OK)
		goto out;
	n->was_clean = (n->fs->super->s_state & EXT2_VALID_FS) &&
	    !(n->fs->super->s_state & EXT2_ERROR_FS);
	if ((rc = ext2_bitmaps_read(n)) != BD_OK)
		goto out;
	n->fs->umask = 022;
	/* Nothing is read for writing, and nothing written, before the
	 * file system is known sound. */
	if (check && (rc = ext2_check(n)) != BD_OK)
		goto out;
	*t = n;
	n = NULL;
out:
	if (n != NULL) {
		if (n->fs != NULL)
			ext2fs_free(n->fs);
		free(n->dirs);
		free(n->name);
		free(n);
	}
	return rc;
}

enum bd_err
ext2_open(const char *device_or_image, bool rw, struct ext2_target **t)
{
	return ext2_open_as(device_or_image, rw, rw, t);
}

enum bd_err
ext2_open_checked(const char *device_or_image, struct ext2_target **t)
{
	return ext2_open_as(device_or_image, false, true, t);
}

bool
ext2_was_clean(const struct ext2_target *t)
{
	return t->was_clean;
}

/* Remembers dir among the directories ext2_names() reads. */
static enum bd_err
ext2_dirs_add(struct ext2_target *t, ext2_ino_t dir)
{
	ext2_ino_t *n;
	size_t cap;

	if (t->ndirs == t->capdirs) {
		if (t->capdirs >= EXT2_DIRS_MAX)
			return bd_fail(BD_ERR_TOOBIG, "ext2: %s: more than %d "
			    "directories", t->name, EXT2_DIRS_MAX);
		cap = t->capdirs == 0 ? 64 : t->capdirs * 2;
		if ((n = realloc(t->dirs, cap * sizeof(*n))) == NULL)
			return bd_fail(BD_ERR_NOMEM, "ext2");
		t->dirs = n;
		t->capdirs = cap;
	}
	t->dirs[t->ndirs++] = dir;
	return BD_OK;
}

/* What ext2_check() found wrong, for its one message. */
struct ext2_check {
	struct ext2_target *t;
	ext2fs_block_bitmap owned;	/* blocks the fs or an in-use inode uses */
	ext2fs_block_bitmap tables;	/* bitmaps and inode tables: no file's */
	ext2fs_inode_bitmap inuse;	/* inodes with links */
	ext2fs_inode_bitmap isdir;	/* in-use directories */
	uint32_t *names;		/* entries naming each inode */
	ext2_ino_t *parent;		/* the directory naming each directory */
	ext2_ino_t *dotdot;		/* what each directory's ".." names */
	ext2_ino_t ino;			/* inode being looked at */
	bool shared;			/* its blocks may be fs metadata too */
	e2_blkcnt_t last;		/* its highest logical block */
	char why[160];
};

static int
ext2_check_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
    blk64_t ref_blk, int ref_offset, void *priv)
{
	struct ext2_check *c = priv;
	blk64_t b = *blocknr;

	(void)ref_blk; (void)ref_offset;
	if (b < fs->super->s_first_data_block || b >= ext2fs_blocks_count(fs->super))
		snprintf(c->why, sizeof(c->why), "inode %lu maps block %llu, "
		    "outside the file system", (unsigned long)c->ino,
		    (unsigned long long)b);
	else if (!c->shared && ext2fs_test_block_bitmap2(c->owned, b))
		snprintf(c->why, sizeof(c->why), "block %llu is used twice "
		    "(again by inode %lu)", (unsigned long long)b,
		    (unsigned long)c->ino);
	/* A system inode may share the superblocks and descriptors (the
	 * resize inode does), never a block every inode write changes. */
	else if (ext2fs_test_block_bitmap2(c->tables, b))
		snprintf(c->why, sizeof(c->why), "inode %lu maps block %llu of "
		    "a bitmap or inode table", (unsigned long)c->ino,
		    (unsigned long long)b);
	else if (!ext2fs_test_block_bitmap2(fs->block_map, b))
		snprintf(c->why, sizeof(c->why), "block %llu of inode %lu is "
		    "free in the bitmap", (unsigned long long)b,
		    (unsigned long)c->ino);
	if (c->why[0] != '\0')
		return BLOCK_ABORT;
	ext2fs_mark_block_bitmap2(c->owned, b);
	if (blockcnt > c->last)
		c->last = blockcnt;
	return 0;
}

/* Marks b as a bitmap or inode table block. */
static void
ext2_check_table(struct ext2_check *c, blk64_t b)
{
	ext2fs_mark_block_bitmap2(c->owned, b);
	ext2fs_mark_block_bitmap2(c->tables, b);
}

/* Marks the file system's own blocks: superblocks, descriptors, bitmaps,
 * inode tables. */
static void
ext2_check_meta(struct ext2_check *c)
{
	ext2_filsys fs = c->t->fs;
	dgrp_t g;
	blk64_t b, n;

	for (g = 0; g < fs->group_desc_count; g++) {
		(void)ext2fs_reserve_super_and_bgd(fs, g, c->owned);
		if (ext2fs_block_bitmap_loc(fs, g) != 0)
			ext2_check_table(c, ext2fs_block_bitmap_loc(fs, g));
		if (ext2fs_inode_bitmap_loc(fs, g) != 0)
			ext2_check_table(c, ext2fs_inode_bitmap_loc(fs, g));
		b = ext2fs_inode_table_loc(fs, g);
		for (n = 0; b != 0 && n < fs->inode_blocks_per_group; n++)
			if (b + n < ext2fs_blocks_count(fs->super))
				ext2_check_table(c, b + n);
	}
}

/* The file system's own files: reserved inodes, and those the superblock
 * names (journal, quota, orphan file), which no directory names. */
static bool
ext2_system_inode(ext2_filsys fs, ext2_ino_t ino)
{
	const struct ext2_super_block *sb = fs->super;

	return (ino < EXT2_FIRST_INODE(sb) && ino != EXT2_ROOT_INO) ||
	    ino == sb->s_journal_inum || ino == sb->s_usr_quota_inum ||
	    ino == sb->s_grp_quota_inum || ino == sb->s_prj_quota_inum ||
	    ino == sb->s_orphan_file_inum;
}

/* Every inode: in use ones own their blocks once, marked in the bitmaps. */
static enum bd_err
ext2_check_inodes(struct ext2_check *c)
{
	ext2_filsys fs = c->t->fs;
	ext2_inode_scan scan = NULL;
	struct ext2_inode inode;
	ext2_ino_t ino;
	uint64_t size, bs = fs->blocksize;
	errcode_t err;
	enum bd_err rc = BD_OK;

	if ((err = ext2fs_open_inode_scan(fs, 0, &scan)) != 0)
		return ext2_fail(err, "cannot scan the inodes of", c->t->name);
	for (;;) {
		err = ext2fs_get_next_inode(scan, &ino, &inode);
		if (err != 0) {
			snprintf(c->why, sizeof(c->why), "inode %lu: %s",
			    (unsigned long)ino + 1, error_message(err));
			goto out;
		}
		if (ino == 0)
			break;
		if (inode.i_links_count == 0 && ino != EXT2_BAD_INO)
			continue;
		if (ino == EXT2_ROOT_INO && !LINUX_S_ISDIR(inode.i_mode)) {
			snprintf(c->why, sizeof(c->why), "the root is not a directory");
			goto out;
		}
		if (ino != EXT2_BAD_INO) {
			if (!ext2fs_test_inode_bitmap2(fs->inode_map, ino)) {
				snprintf(c->why, sizeof(c->why), "inode %lu is in "
				    "use but free in the bitmap", (unsigned long)ino);
				goto out;
			}
			ext2fs_mark_inode_bitmap2(c->inuse, ino);
		}
		c->ino = ino;
		c->shared = ext2_system_inode(fs, ino);
		c->last = -1;
		if (!(inode.i_flags & EXT4_INLINE_DATA_FL) &&
		    ext2fs_inode_has_valid_blocks2(fs, &inode)) {
			err = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY,
			    NULL, ext2_check_block, c);
			if (c->why[0] != '\0')
				goto out;
			if (err != 0) {
				snprintf(c->why, sizeof(c->why), "inode %lu: %s",
				    (unsigned long)ino, error_message(err));
				goto out;
			}
		}
		size = EXT2_I_SIZE(&inode);
		if (LINUX_S_ISDIR(inode.i_mode) && c->shared)
			continue;
		if (LINUX_S_ISDIR(inode.i_mode)) {
			if (!(inode.i_flags & EXT4_INLINE_DATA_FL) &&
			    (c->last < 0 || size != (uint64_t)(c->last + 1) * bs)) {
				snprintf(c->why, sizeof(c->why), "directory inode "
				    "%lu has size %llu for %lld blocks",
				    (unsigned long)ino, (unsigned long long)size,
				    (long long)c->last + 1);
				goto out;
			}
			ext2fs_mark_inode_bitmap2(c->isdir, ino);
			if ((rc = ext2_dirs_add(c->t, ino)) != BD_OK)
				goto out;
		} else if (LINUX_S_ISREG(inode.i_mode) && !c->shared &&
		    c->last >= 0 && size <= (uint64_t)c->last * bs) {
			snprintf(c->why, sizeof(c->why), "inode %lu has size %llu "
			    "but maps block %lld", (unsigned long)ino,
			    (unsigned long long)size, (long long)c->last);
			goto out;
		}
	}
out:
	ext2fs_close_inode_scan(scan);
	return rc;
}

static int
ext2_check_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
    int offset, int blocksize, char *buf, void *arg)
{
	struct ext2_check *c = arg;
	ext2_filsys fs = c->t->fs;
	ext2_ino_t ino = dirent->inode;

	(void)offset; (void)blocksize; (void)buf;
	if (ino == 0)
		return 0;
	if (ino > fs->super->s_inodes_count) {
		snprintf(c->why, sizeof(c->why), "directory %lu names inode %lu, "
		    "beyond the last", (unsigned long)dir, (unsigned long)ino);
		return DIRENT_ABORT;
	}
	if (entry == DIRENT_DOT_FILE) {
		if (ino != dir)
			snprintf(c->why, sizeof(c->why), "directory %lu: bad "
			    "\".\"", (unsigned long)dir);
		return c->why[0] != '\0' ? DIRENT_ABORT : 0;
	}
	if (entry == DIRENT_DOT_DOT_FILE) {
		c->dotdot[dir] = ino;
		return 0;
	}
	if (ext2_system_inode(fs, ino)) {
		snprintf(c->why, sizeof(c->why), "directory %lu names reserved "
		    "inode %lu", (unsigned long)dir, (unsigned long)ino);
		return DIRENT_ABORT;
	}
	if (!ext2fs_test_inode_bitmap2(c->inuse, ino) && c->t->was_clean) {
		snprintf(c->why, sizeof(c->why), "directory %lu names unused "
		    "inode %lu", (unsigned long)dir, (unsigned long)ino);
		return DIRENT_ABORT;
	}
	if (c->names[ino] < UINT32_MAX)
		c->names[ino]++;
	if (ext2fs_test_inode_bitmap2(c->isdir, ino)) {
		if (c->parent[ino] != 0 || ino == EXT2_ROOT_INO) {
			snprintf(c->why, sizeof(c->why), "directory %lu is "
			    "named twice (a loop or a hard link)",
			    (unsigned long)ino);
			return DIRENT_ABORT;
		}
		c->parent[ino] = dir;
	}
	return 0;
}

/* Every directory: sound blocks, one parent, a path to the root, and
 * link counts that no name exceeds. */
static enum bd_err
ext2_check_tree(struct ext2_check *c)
{
	ext2_filsys fs = c->t->fs;
	struct ext2_inode inode;
	ext2_ino_t ino, d, max = fs->super->s_inodes_count;
	uint32_t *subdirs = NULL;
	unsigned int need;
	size_t i, steps;
	errcode_t err;
	enum bd_err rc = BD_OK;

	for (i = 0; i < c->t->ndirs && c->why[0] == '\0'; i++) {
		err = ext2fs_dir_iterate2(fs, c->t->dirs[i], 0, NULL,
		    ext2_check_entry, c);
		if (err != 0 && c->why[0] == '\0')
			snprintf(c->why, sizeof(c->why), "directory %lu: %s",
			    (unsigned long)c->t->dirs[i], error_message(err));
	}
	if (c->why[0] != '\0')
		return BD_OK;
	if ((subdirs = calloc((size_t)max + 1, sizeof(*subdirs))) == NULL)
		return bd_fail(BD_ERR_NOMEM, "ext2");
	for (i = 0; i < c->t->ndirs; i++) {
		ino = c->t->dirs[i];
		if (ino < EXT2_FIRST_INODE(fs->super) && ino != EXT2_ROOT_INO)
			continue;
		if (ino == EXT2_ROOT_INO ? c->dotdot[ino] != ino :
		    c->parent[ino] == 0 || c->dotdot[ino] != c->parent[ino]) {
			snprintf(c->why, sizeof(c->why), "directory %lu is not "
			    "connected to its parent", (unsigned long)ino);
			goto out;
		}
		for (d = ino, steps = 0; d != EXT2_ROOT_INO; d = c->parent[d])
			if (++steps > c->t->ndirs || c->parent[d] == 0) {
				snprintf(c->why, sizeof(c->why), "directory %lu "
				    "is in a loop", (unsigned long)ino);
				goto out;
			}
		if (ino != EXT2_ROOT_INO)
			subdirs[c->parent[ino]]++;
	}
	for (ino = 1; ino <= max; ino++) {
		if (ext2_system_inode(fs, ino) ||
		    (!ext2fs_test_inode_bitmap2(c->inuse, ino) && c->names[ino] == 0))
			continue;
		if (!ext2fs_test_inode_bitmap2(c->inuse, ino))
			continue;	/* named, deleted: an interrupted write */
		if ((err = ext2fs_read_inode(fs, ino, &inode)) != 0) {
			snprintf(c->why, sizeof(c->why), "inode %lu: %s",
			    (unsigned long)ino, error_message(err));
			goto out;
		}
		need = ext2fs_test_inode_bitmap2(c->isdir, ino) ?
		    2 + subdirs[ino] : c->names[ino];
		if (need == 0) {
			snprintf(c->why, sizeof(c->why), "inode %lu is in use "
			    "but has no name", (unsigned long)ino);
			goto out;
		}
		if (inode.i_links_count == 1 && need > EXT2_LINK_MAX)
			continue;	/* dir_nlink */
		if (inode.i_links_count < need ||
		    (c->t->was_clean && inode.i_links_count != need)) {
			snprintf(c->why, sizeof(c->why), "inode %lu has %u links "
			    "for %u names", (unsigned long)ino,
			    (unsigned)inode.i_links_count, need);
			goto out;
		}
	}
out:
	free(subdirs);
	return rc;
}

/*
 * Blocks and inodes the bitmaps call used that nothing uses (a leak):
 * refused on a file system marked clean, tolerated (e2fsck -p frees them)
 * on one an interrupted write left not clean.  The free counts are then
 * recomputed from the bitmaps, which the check has shown cover everything.
 */
static void
ext2_check_counts(struct ext2_check *c)
{
	ext2_filsys fs = c->t->fs;
	blk64_t b, first, last, free_blocks = 0, gfree;
	ext2_ino_t ino, free_inodes = 0, gifree, gdirs;
	dgrp_t g;
	bool wrong = false;

	for (g = 0; g < fs->group_desc_count; g++) {
		first = ext2fs_group_first_block2(fs, g);
		last = ext2fs_group_last_block2(fs, g);
		for (gfree = 0, b = first; b <= last; b++) {
			if (!ext2fs_test_block_bitmap2(fs->block_map, b)) {
				gfree++;
				continue;
			}
			if (!ext2fs_test_block_bitmap2(c->owned, b) &&
			    c->t->was_clean) {
				snprintf(c->why, sizeof(c->why), "block %llu is "
				    "used in the bitmap but by nothing",
				    (unsigned long long)b);
				return;
			}
		}
		gifree = gdirs = 0;
		for (ino = g * fs->super->s_inodes_per_group + 1;
		    ino <= (g + 1) * fs->super->s_inodes_per_group; ino++) {
			if (!ext2fs_test_inode_bitmap2(fs->inode_map, ino)) {
				gifree++;
				continue;
			}
			if (ext2fs_test_inode_bitmap2(c->isdir, ino))
				gdirs++;
			if (ino >= EXT2_FIRST_INODE(fs->super) &&
			    !ext2fs_test_inode_bitmap2(c->inuse, ino) &&
			    c->t->was_clean) {
				snprintf(c->why, sizeof(c->why), "inode %lu is "
				    "used in the bitmap but deleted",
				    (unsigned long)ino);
				return;
			}
		}
		if (ext2fs_bg_free_blocks_count(fs, g) != gfree ||
		    ext2fs_bg_free_inodes_count(fs, g) != gifree ||
		    ext2fs_bg_used_dirs_count(fs, g) != gdirs) {
			wrong = true;
			ext2fs_bg_free_blocks_count_set(fs, g, gfree);
			ext2fs_bg_free_inodes_count_set(fs, g, gifree);
			ext2fs_bg_used_dirs_count_set(fs, g, gdirs);
			ext2fs_group_desc_csum_set(fs, g);
		}
		free_blocks += gfree;
		free_inodes += gifree;
	}
	if (ext2fs_free_blocks_count(fs->super) != free_blocks ||
	    fs->super->s_free_inodes_count != free_inodes) {
		wrong = true;
		ext2fs_free_blocks_count_set(fs->super, free_blocks);
		fs->super->s_free_inodes_count = free_inodes;
	}
	if (wrong && c->t->was_clean)
		snprintf(c->why, sizeof(c->why), "the free counts disagree "
		    "with the bitmaps");
	else if (wrong)
		ext2fs_mark_super_dirty(fs);
}

/*
 * Before the first write: the allocation state every write depends on
 * must be sound, or nothing is written (BD_ERR_IO naming e2fsck -f).
 * Cheap on a boot slice of a few dozen files; it also lists the
 * directories ext2_names() counts names in.
 */
static enum bd_err
ext2_check(struct ext2_target *t)
{
	ext2_filsys fs = t->fs;
	struct ext2_check c;
	size_t n = (size_t)fs->super->s_inodes_count + 1;
	errcode_t err;
	enum bd_err rc;

	memset(&c, 0, sizeof(c));
	c.t = t;
	t->ndirs = 0;
	if (fs->super->s_inodes_count > EXT2_CHECK_INODES_MAX)
		return bd_fail(BD_ERR_TOOBIG, "ext2: %s: %lu inodes, more than "
		    "--ext2 checks (%lu)", t->name,
		    (unsigned long)fs->super->s_inodes_count,
		    (unsigned long)EXT2_CHECK_INODES_MAX);
	if ((err = ext2fs_allocate_block_bitmap(fs, "owned", &c.owned)) != 0 ||
	    (err = ext2fs_allocate_block_bitmap(fs, "tables", &c.tables)) != 0 ||
	    (err = ext2fs_allocate_inode_bitmap(fs, "in use", &c.inuse)) != 0 ||
	    (err = ext2fs_allocate_inode_bitmap(fs, "dirs", &c.isdir)) != 0) {
		rc = ext2_fail(err, "cannot check", t->name);
		goto out;
	}
	if ((c.names = calloc(n, sizeof(*c.names))) == NULL ||
	    (c.parent = calloc(n, sizeof(*c.parent))) == NULL ||
	    (c.dotdot = calloc(n, sizeof(*c.dotdot))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	ext2_check_meta(&c);
	if ((rc = ext2_check_inodes(&c)) != BD_OK || c.why[0] != '\0')
		goto out;
	if ((rc = ext2_check_tree(&c)) != BD_OK || c.why[0] != '\0')
		goto out;
	ext2_check_counts(&c);
out:
	if (rc == BD_OK && c.why[0] != '\0')
		rc = bd_fail(BD_ERR_IO, "ext2: %s is damaged (%s); nothing "
		    "written: run e2fsck -f %s", t->name, c.why, t->name);
	if (c.owned != NULL)
		ext2fs_free_block_bitmap(c.owned);
	if (c.tables != NULL)
		ext2fs_free_block_bitmap(c.tables);
	if (c.inuse != NULL)
		ext2fs_free_inode_bitmap(c.inuse);
	if (c.isdir != NULL)
		ext2fs_free_inode_bitmap(c.isdir);
	free(c.names);
	free(c.parent);
	free(c.dotdot);
	return rc;
}

/*
 * A barrier: every write before it is durable before any after it.  The
 * device is written without a cache, so this is one fsync.
 */
static enum bd_err
ext2_sync(struct ext2_target *t)
{
	errcode_t err;

	if ((err = io_channel_flush(t->fs->io)) != 0)
		return ext2_fail(err, "cannot flush", t->name);
	return BD_OK;
}

/*
 * Bitmaps, descriptors and superblock to the device, then a barrier.  The
 * superblock goes in one write (libext2fs would otherwise write only the
 * fields that changed, two bytes at a time, with its checksum last).
 */
static enum bd_err
ext2_flush(struct ext2_target *t)
{
	errcode_t err;

	if (t->fs->orig_super != NULL)
		ext2fs_free_mem(&t->fs->orig_super);
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
	if (t->fs->orig_super != NULL)
		ext2fs_free_mem(&t->fs->orig_super);
	/* ext2fs_close2 writes everything back, fsyncs the device and frees
	 * fs - but leaves fs to us when writing back fails.  Read-only, the
	 * counts a check recomputed in memory are dropped, never written. */
	if (!t->rw)
		ext2fs_free(t->fs);
	else if ((err = ext2fs_close2(t->fs, 0)) != 0) {
		rc = ext2_fail(err, "cannot write back", t->name);
		ext2fs_free(t->fs);
	}
	free(t->dirs);
	free(t->name);
	free(t);
	return rc;
}

/*
 * Looks name up in dir: *ino 0 when absent.  An entry naming an inode
 * with no links is what an interrupted create or remove leaves (the inode
 * is written deleted before it is named, and deleted before its name
 * goes): *deleted tells it apart, and every reader takes it as absent.
 */
static enum bd_err
ext2_find(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t *ino, struct ext2_inode *inode, bool *deleted)
{
	errcode_t err;

	*ino = 0;
	*deleted = false;
	err = ext2fs_lookup(t->fs, dir, name, (int)strlen(name), NULL, ino);
	if (err == EXT2_ET_FILE_NOT_FOUND) {
		*ino = 0;
		return BD_OK;
	}
	if (err != 0)
		return ext2_fail(err, "cannot look up", name);
	if (*ino < EXT2_FIRST_INODE(t->fs->super) && *ino != EXT2_ROOT_INO)
		return bd_fail(BD_ERR_IO, "ext2: %s names reserved inode %lu; "
		    "run e2fsck -f %s", name, (unsigned long)*ino, t->name);
	if ((err = ext2fs_read_inode(t->fs, *ino, inode)) != 0)
		return ext2_fail(err, "cannot read inode of", name);
	*deleted = inode->i_links_count == 0;
	return BD_OK;
}

/* As ext2_find(), with an entry naming a deleted inode taken as absent. */
static enum bd_err
ext2_lookup(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t *ino, struct ext2_inode *inode)
{
	bool deleted;
	enum bd_err rc = ext2_find(t, dir, name, ino, inode, &deleted);

	if (rc == BD_OK && deleted)
		*ino = 0;
	return rc;
}

/*
 * Sets ino's link count to n (0: deleted, dtime set), then a barrier:
 * what follows never overtakes it.
 */
static enum bd_err
ext2_set_links(struct ext2_target *t, ext2_ino_t ino, unsigned int n,
    const char *path)
{
	struct ext2_inode inode;
	errcode_t err;

	if ((err = ext2fs_read_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot read inode of", path);
	if (inode.i_links_count == n && (n == 0) == (inode.i_dtime != 0))
		return BD_OK;
	inode.i_links_count = (__u16)n;
	inode.i_dtime = n == 0 ? (__u32)time(NULL) : 0;
	if ((err = ext2fs_write_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot write inode of", path);
	return ext2_sync(t);
}

/* Raises ino's link count to at least n, then a barrier. */
static enum bd_err
ext2_raise_links(struct ext2_target *t, ext2_ino_t ino, unsigned int n,
    const char *path)
{
	struct ext2_inode inode;
	errcode_t err;

	if ((err = ext2fs_read_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot read inode of", path);
	if (inode.i_links_count >= n)
		return BD_OK;
	return ext2_set_links(t, ino, n, path);
}

struct ext2_count {
	ext2_ino_t ino;
	unsigned int n;
	bool dirs;		/* count subdirectories instead */
	ext2_filsys fs;
};

static int
ext2_count_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
    int offset, int blocksize, char *buf, void *arg)
{
	struct ext2_count *c = arg;
	struct ext2_inode inode;

	(void)dir; (void)offset; (void)blocksize; (void)buf;
	if (dirent->inode == 0 || entry == DIRENT_DOT_FILE ||
	    entry == DIRENT_DOT_DOT_FILE)
		return 0;
	if (!c->dirs) {
		if (dirent->inode == c->ino)
			c->n++;
		return 0;
	}
	if (ext2fs_read_inode(c->fs, dirent->inode, &inode) == 0 &&
	    LINUX_S_ISDIR(inode.i_mode) && inode.i_links_count != 0)
		c->n++;
	return 0;
}

/* How many entries, in every directory of the file system, name ino. */
static enum bd_err
ext2_names(struct ext2_target *t, ext2_ino_t ino, unsigned int *n,
    const char *path)
{
	struct ext2_count c = { ino, 0, false, t->fs };
	errcode_t err;
	size_t i;

	*n = 0;
	for (i = 0; i < t->ndirs; i++) {
		err = ext2fs_dir_iterate2(t->fs, t->dirs[i], 0, NULL,
		    ext2_count_entry, &c);
		if (err != 0)
			return ext2_fail(err, "cannot read a directory looking for", path);
	}
	*n = c.n;
	return BD_OK;
}

/* The link count directory dir should have: 2 plus its subdirectories. */
static enum bd_err
ext2_dir_links(struct ext2_target *t, ext2_ino_t dir, unsigned int *n,
    const char *path)
{
	struct ext2_count c = { 0, 2, true, t->fs };
	errcode_t err;

	*n = 2;
	err = ext2fs_dir_iterate2(t->fs, dir, 0, NULL, ext2_count_entry, &c);
	if (err != 0)
		return ext2_fail(err, "cannot read directory of", path);
	*n = c.n;
	return BD_OK;
}

/*
 * Gives dir one more block, empty: the block is marked used, then
 * written, and only then does the directory's inode map it, each step
 * durable before the next.
 */
static enum bd_err
ext2_grow_dir(struct ext2_target *t, ext2_ino_t dir, const char *path)
{
	struct ext2_inode inode;
	blk64_t blk, lblk;
	char *block = NULL;
	errcode_t err;
	enum bd_err rc;

	if ((err = ext2fs_read_inode(t->fs, dir, &inode)) != 0)
		return ext2_fail(err, "cannot read directory of", path);
	if (ext2fs_has_feature_inline_data(t->fs->super) ||
	    (inode.i_flags & EXT2_INDEX_FL))
		return bd_fail(BD_ERR_IO, "ext2: %s: cannot grow this directory",
		    path);
	lblk = EXT2_I_SIZE(&inode) / t->fs->blocksize;
	if ((err = ext2fs_new_block2(t->fs, 0, NULL, &blk)) != 0)
		return ext2_fail(err, "no free block to grow the directory of", path);
	ext2fs_block_alloc_stats2(t->fs, blk, +1);
	if ((rc = ext2_flush(t)) != BD_OK)
		return rc;
	if ((err = ext2fs_new_dir_block(t->fs, 0, 0, &block)) != 0 ||
	    (err = ext2fs_write_dir_block4(t->fs, blk, block, 0, dir)) != 0) {
		rc = ext2_fail(err, "cannot write a directory block of", path);
		goto out;
	}
	if ((rc = ext2_sync(t)) != BD_OK)
		goto out;
	if ((err = ext2fs_bmap2(t->fs, dir, &inode, NULL, BMAP_SET, lblk, NULL,
	    &blk)) != 0 ||
	    (err = ext2fs_read_inode(t->fs, dir, &inode)) != 0 ||
	    (err = ext2fs_inode_size_set(t->fs, &inode,
	    (lblk + 1) * t->fs->blocksize)) != 0 ||
	    (err = ext2fs_iblk_add_blocks(t->fs, &inode, 1)) != 0 ||
	    (err = ext2fs_write_inode(t->fs, dir, &inode)) != 0) {
		rc = ext2_fail(err, "cannot grow the directory of", path);
		goto out;
	}
	rc = ext2_flush(t);
out:
	if (block != NULL)
		ext2fs_free_mem(&block);
	return rc;
}

/*
 * Adds the entry name -> ino to dir, growing dir when full, then a
 * barrier.  A name already there is never linked twice: naming ino it
 * is done already, naming another inode it is BD_ERR_EXISTS.
 */
static enum bd_err
ext2_add_entry(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t ino, int type)
{
	struct ext2_inode inode;
	ext2_ino_t there;
	bool deleted;
	errcode_t err;
	enum bd_err rc;

	if ((rc = ext2_find(t, dir, name, &there, &inode, &deleted)) != BD_OK)
		return rc;
	if (there == ino)
		return BD_OK;
	if (there != 0)
		return bd_fail(BD_ERR_EXISTS, "ext2: %s exists", name);
	err = ext2fs_link(t->fs, dir, name, ino, type);
	if (err == EXT2_ET_DIR_NO_SPACE) {
		if ((rc = ext2_grow_dir(t, dir, name)) != BD_OK)
			return rc;
		err = ext2fs_link(t->fs, dir, name, ino, type);
	}
	if (err != 0)
		return ext2_fail(err, "cannot link", name);
	return ext2_sync(t);
}

/* Removes the entry name -> ino from dir, then a barrier. */
static enum bd_err
ext2_del_entry(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t ino)
{
	errcode_t err;

	if ((err = ext2fs_unlink(t->fs, dir, name, ino, 0)) != 0)
		return ext2_fail(err, "cannot unlink", name);
	return ext2_sync(t);
}

/*
 * Creates directory name in parent.  The parent's link count first
 * counts it; then inode and block are marked used; then the block and
 * the inode (deleted) are written; then the entry; and last the inode's
 * links.  Each step is durable before the next, so a power cut leaves a
 * count one too high, leaked blocks or an entry naming a deleted inode:
 * each repaired by e2fsck -p, and the last finished by ext2_walk().
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
	unsigned int n;
	errcode_t err;
	enum bd_err rc;
	__u32 now = (__u32)time(NULL);

	*out = 0;
	if ((rc = ext2_dir_links(t, parent, &n, name)) != BD_OK ||
	    (rc = ext2_raise_links(t, parent, n + 1, name)) != BD_OK)
		return rc;
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
	if ((rc = ext2_sync(t)) != BD_OK ||
	    (rc = ext2_add_entry(t, parent, name, ino, EXT2_FT_DIR)) != BD_OK ||
	    (rc = ext2_set_links(t, ino, 2, name)) != BD_OK ||
	    (rc = ext2_dirs_add(t, ino)) != BD_OK)
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
	bool deleted;
	enum bd_err rc;

	*dir = 0;
	if (!state_path_valid(path))
		return bd_fail(BD_ERR_PATH, "ext2: install path not allowed: %s", path);
	memcpy(buf, path, strlen(path) + 1);
	for (comp = buf; (slash = strchr(comp, '/')) != NULL; comp = slash + 1) {
		*slash = '\0';
		if ((rc = ext2_find(t, cur, comp, &next, &inode, &deleted)) !=
		    BD_OK)
			return rc;
		/* A directory ext2_mkdir() was interrupted making: named,
		 * written, still unlinked.  Finish it, or treat it as missing. */
		if (next != 0 && deleted && LINUX_S_ISDIR(inode.i_mode)) {
			if (!create)
				return BD_OK;
			if ((rc = ext2_set_links(t, next, 2, comp)) != BD_OK ||
			    (rc = ext2_dirs_add(t, next)) != BD_OK ||
			    (rc = ext2_lookup(t, cur, comp, &next, &inode)) != BD_OK)
				return rc;
		} else if (next != 0 && deleted) {
			return bd_fail(BD_ERR_PATH, "ext2: %s: %s names a deleted "
			    "file", path, comp);
		}
		if (next == 0) {
			if (!create)
				return BD_OK;
			if ((rc = ext2_mkdir(t, cur, comp, &next)) != BD_OK ||
			    (rc = ext2_lookup(t, cur, comp, &next, &inode)) != BD_OK)
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

/*
 * Frees ino's blocks and the inode itself, in memory: the caller makes
 * sure no name is left pointing at it and flushes.  An inode the bitmap
 * calls free already is left alone (never freed twice).
 */
static enum bd_err
ext2_release(struct ext2_target *t, ext2_ino_t ino, const char *path)
{
	struct ext2_inode inode;
	errcode_t err;

	if (!ext2fs_test_inode_bitmap2(t->fs->inode_map, ino))
		return BD_OK;
	if ((err = ext2fs_read_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot read inode of", path);
	if (ext2fs_inode_has_valid_blocks2(t->fs, &inode) &&
	    (err = ext2fs_punch(t->fs, ino, &inode, NULL, 0, ~0ULL)) != 0)
		return ext2_fail(err, "cannot free blocks of", path);
	inode.i_links_count = 0;
	inode.i_dtime = (__u32)time(NULL);
	if ((err = ext2fs_write_inode(t->fs, ino, &inode)) != 0)
		return ext2_fail(err, "cannot write inode of", path);
	ext2fs_inode_alloc_stats2(t->fs, ino, -1, LINUX_S_ISDIR(inode.i_mode));
	return BD_OK;
}

/* Reads len bytes of src at off into buf. */
static enum bd_err
ext2_source_read(const struct ext2_source *src, uint64_t off, uint8_t *buf,
    size_t len)
{
	size_t got;

	if (src->fd < 0) {
		memcpy(buf, src->buf + off, len);
		return BD_OK;
	}
	if (pread_full(src->fd, buf, len, off, &got) != BD_OK)
		return bd_fail(BD_ERR_IO, "ext2: read source: %s",
		    strerror(errno));
	if (got < len)
		return bd_fail(BD_ERR_SIZE, "ext2: source shorter than %llu bytes",
		    (unsigned long long)src->size);
	return BD_OK;
}

/* A new deleted inode (no links, dtime set) for path, written. */
static enum bd_err
ext2_new_inode(struct ext2_target *t, ext2_ino_t dir, const char *path,
    mode_t mode, ext2_ino_t *ino)
{
	struct ext2_inode inode;
	ext2_extent_handle_t eh;
	errcode_t err;
	__u32 now = (__u32)time(NULL);

	if ((err = ext2fs_new_inode(t->fs, dir, LINUX_S_IFREG | 0600, NULL,
	    ino)) != 0) {
		*ino = 0;
		return ext2_fail(err, "no free inode for", path);
	}
	ext2fs_inode_alloc_stats2(t->fs, *ino, +1, 0);
	memset(&inode, 0, sizeof(inode));
	inode.i_mode = (__u16)(LINUX_S_IFREG | (mode & 07777));
	inode.i_links_count = 0;
	inode.i_atime = inode.i_ctime = inode.i_mtime = now;
	inode.i_dtime = now;
	if (ext2fs_has_feature_extents(t->fs->super)) {
		/* Lets libext2fs write an empty extent tree header. */
		if ((err = ext2fs_extent_open2(t->fs, *ino, &inode, &eh)) != 0)
			return ext2_fail(err, "cannot set up extents for", path);
		ext2fs_extent_free(eh);
	}
	if ((err = ext2fs_write_new_inode(t->fs, *ino, &inode)) != 0)
		return ext2_fail(err, "cannot write inode of", path);
	return BD_OK;
}

/* Copies all of src into the empty inode ino and sets its size. */
static enum bd_err
ext2_fill(struct ext2_target *t, ext2_ino_t ino, const char *path,
    const struct ext2_source *src)
{
	ext2_file_t file = NULL;
	uint8_t *chunk;
	uint64_t off;
	unsigned int wrote;
	size_t n;
	errcode_t err;
	enum bd_err rc = BD_OK;

	if ((chunk = malloc(COPY_CHUNK_BYTES)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "ext2");
	if ((err = ext2fs_file_open(t->fs, ino, EXT2_FILE_WRITE, &file)) != 0) {
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
	if (err != 0)
		rc = ext2_fail(err, "cannot write", path);
out:
	if (file != NULL)
		(void)ext2fs_file_close(file);
	free(chunk);
	return rc;
}

/*
 * Allocates a new regular-file inode near dir and fills it from src.  The
 * inode stays deleted (no links, dtime set) until it is named.
 */
static enum bd_err
ext2_write_new(struct ext2_target *t, ext2_ino_t dir, const char *path,
    const struct ext2_source *src, mode_t mode, ext2_ino_t *ino)
{
	errcode_t err;
	enum bd_err rc;

	*ino = 0;
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
	if ((rc = ext2_new_inode(t, dir, path, mode, ino)) == BD_OK)
		rc = ext2_fill(t, *ino, path, src);
out:
	if (rc != BD_OK && *ino != 0) {
		(void)ext2_release(t, *ino, path);
		*ino = 0;
	}
	if ((err = io_channel_set_options(t->fs->io, "cache=off")) != 0 &&
	    rc == BD_OK) {
		rc = ext2_fail(err, "cannot write back", t->name);
		*ino = 0;	/* its blocks stay allocated: a leak e2fsck finds */
	}
	return rc;
}

/*
 * Takes the entry dir/name away from ino.  The last name of an inode goes
 * only after the inode is durably deleted (an entry naming a deleted
 * inode is what e2fsck -p clears, and what ext2_find() reports), and the
 * inode and its blocks are freed only after the entry is durably gone.
 * Another name is counted, never assumed: an inode some entry still names
 * only has its link count lowered, after the entry is gone.
 */
static enum bd_err
ext2_drop(struct ext2_target *t, ext2_ino_t dir, const char *name,
    ext2_ino_t ino, const char *path)
{
	unsigned int n;
	enum bd_err rc;

	if (!t->begun)	/* ext2_check() has not listed the directories */
		return bd_fail(BD_ERR_IO, "ext2: %s: remove before begin", path);
	if ((rc = ext2_names(t, ino, &n, path)) != BD_OK)
		return rc;
	if (n >= 2) {
		if ((rc = ext2_del_entry(t, dir, name, ino)) != BD_OK)
			return rc;
		return ext2_set_links(t, ino, n - 1, path);
	}
	if ((rc = ext2_set_links(t, ino, 0, path)) != BD_OK ||
	    (rc = ext2_del_entry(t, dir, name, ino)) != BD_OK ||
	    (rc = ext2_release(t, ino, path)) != BD_OK)
		return rc;
	return ext2_flush(t);
}

static enum bd_err
ext2_create_src(struct ext2_target *t, const char *path,
    const struct ext2_source *src, mode_t mode)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	ext2_ino_t dir, old, ino = 0;
	const char *base;
	bool deleted;
	enum bd_err rc;

	if (src->size > EXT2_FILE_MAX_BYTES)
		return bd_fail(BD_ERR_TOOBIG, "ext2: %s: %llu bytes", path,
		    (unsigned long long)src->size);
	if ((rc = ext2_walk(t, path, true, buf, &dir, &base)) != BD_OK ||
	    (rc = ext2_find(t, dir, base, &old, &inode, &deleted)) != BD_OK)
		return rc;
	if (old != 0 && !deleted)
		return bd_fail(BD_ERR_EXISTS, "ext2: %s exists", path);
	if (old != 0 && (rc = ext2_drop(t, dir, base, old, path)) != BD_OK)
		return rc;
	if ((rc = ext2_write_new(t, dir, path, src, mode, &ino)) != BD_OK)
		return rc;
	/* The inode written deleted and marked used, durably; then its name;
	 * then its link. */
	if ((rc = ext2_flush(t)) != BD_OK ||
	    (rc = ext2_add_entry(t, dir, base, ino, EXT2_FT_REG_FILE)) != BD_OK) {
		if (ext2_release(t, ino, path) == BD_OK)
			(void)ext2_flush(t);
		return rc;
	}
	return ext2_set_links(t, ino, 1, path);
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

/* Rewrites the one entry dir/name from -> to (one block), then a barrier. */
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
	return ext2_sync(t);
}

/*
 * Points path at ino, which keeps its other names.  Link counts are
 * raised before a name is added and lowered after one goes, each durable
 * before the next step, so a power cut leaves at most a count too high.
 * The regular file path named before, when path was its last name, is
 * first named EXT2_STAGE_DIR/trash.<ino>: no installed name ever points
 * at a half-freed inode, and no inode is ever left with no name at all.
 */
static enum bd_err
ext2_point(struct ext2_target *t, const char *path, ext2_ino_t ino)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1], tbuf[INSTALL_PATH_MAX_BYTES + 1];
	char trash[64];
	struct ext2_inode inode;
	ext2_ino_t dir, old, tdir;
	const char *base, *tbase;
	unsigned int n;
	bool deleted;
	enum bd_err rc;

	if ((rc = ext2_walk(t, path, true, buf, &dir, &base)) != BD_OK ||
	    (rc = ext2_find(t, dir, base, &old, &inode, &deleted)) != BD_OK)
		return rc;
	if (old == ino)
		return BD_OK;
	if (old != 0 && !LINUX_S_ISREG(inode.i_mode))
		return bd_fail(BD_ERR_PATH, "ext2: %s exists and is not a regular file",
		    path);
	if (old != 0 && deleted) {
		if ((rc = ext2_drop(t, dir, base, old, path)) != BD_OK)
			return rc;
		old = 0;
	}
	if ((rc = ext2_names(t, ino, &n, path)) != BD_OK ||
	    (rc = ext2_raise_links(t, ino, n + 1, path)) != BD_OK)
		return rc;
	if (old == 0)
		return ext2_add_entry(t, dir, base, ino, EXT2_FT_REG_FILE);
	if ((rc = ext2_names(t, old, &n, path)) != BD_OK)
		return rc;
	if (n == 1) {
		snprintf(trash, sizeof(trash), EXT2_STAGE_DIR "/trash.%lu",
		    (unsigned long)old);
		if ((rc = ext2_raise_links(t, old, 2, path)) != BD_OK ||
		    (rc = ext2_walk(t, trash, true, tbuf, &tdir, &tbase)) != BD_OK ||
		    (rc = ext2_add_entry(t, tdir, tbase, old,
		    EXT2_FT_REG_FILE)) != BD_OK)
			return rc;
	}
	if ((rc = ext2_repoint(t, dir, base, old, ino, path)) != BD_OK ||
	    (rc = ext2_names(t, old, &n, path)) != BD_OK)
		return rc;
	return ext2_set_links(t, old, n, path);
}

enum bd_err
ext2_move(struct ext2_target *t, const char *from, const char *to,
    const char *keep_old)
{
	char fbuf[INSTALL_PATH_MAX_BYTES + 1], tbuf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode, oinode;
	ext2_ino_t fdir, tdir, ino, old;
	const char *fbase, *tbase;
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
		    (rc = ext2_point(t, keep_old, old)) != BD_OK)
			return rc;
		if ((rc = ext2_point(t, to, ino)) != BD_OK)
			return rc;
	}
	return ext2_drop(t, fdir, fbase, ino, from);
}

enum bd_err
ext2_remove(struct ext2_target *t, const char *path)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	ext2_ino_t dir, ino;
	const char *base;
	bool deleted;
	enum bd_err rc;

	if ((rc = ext2_walk(t, path, false, buf, &dir, &base)) != BD_OK || dir == 0)
		return rc;
	if ((rc = ext2_find(t, dir, base, &ino, &inode, &deleted)) != BD_OK ||
	    ino == 0)
		return rc;
	if (!deleted && !LINUX_S_ISREG(inode.i_mode))
		return bd_fail(BD_ERR_PATH, "ext2: %s is not a regular file", path);
	return ext2_drop(t, dir, base, ino, path);
}

enum bd_err
ext2_remove_same(struct ext2_target *t, const char *path, uint64_t size,
    const uint8_t sha256[SHA256_BYTES], bool *removed)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1];
	uint8_t got[SHA256_BYTES];
	struct ext2_inode inode;
	ext2_ino_t dir, ino;
	const char *base;
	bool deleted, present;
	enum bd_err rc;

	*removed = false;
	if ((rc = ext2_walk(t, path, false, buf, &dir, &base)) != BD_OK ||
	    dir == 0)
		return rc;
	if ((rc = ext2_find(t, dir, base, &ino, &inode, &deleted)) != BD_OK ||
	    ino == 0)
		return rc;
	/* A name left on a deleted inode is this removal, interrupted. */
	if (!deleted) {
		if (!LINUX_S_ISREG(inode.i_mode) || EXT2_I_SIZE(&inode) != size)
			return BD_OK;
		if ((rc = ext2_hash(t, path, size, got, &present)) != BD_OK ||
		    !present || memcmp(got, sha256, SHA256_BYTES) != 0)
			return rc;
	}
	if ((rc = ext2_drop(t, dir, base, ino, path)) == BD_OK)
		*removed = true;
	return rc;
}

struct ext2_names {
	const char *prefix;
	size_t n, cap;
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
	return ++l->n == l->cap ? DIRENT_ABORT : 0;
}

enum bd_err
ext2_remove_prefixed(struct ext2_target *t, const char *dirpath,
    const char *prefix)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1], path[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_names l = { prefix, 0, EXT2_LIST_MAX, NULL };
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
ext2_list(struct ext2_target *t, const char *dirpath, const char *prefix,
    char (*names)[EXT2_NAME_BYTES], size_t cap, size_t *n)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1], path[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_names l = { prefix, 0, cap, names };
	ext2_ino_t parent;
	const char *base;
	errcode_t err;
	enum bd_err rc = BD_OK;
	int w;

	*n = 0;
	w = snprintf(path, sizeof(path), "%s/x", dirpath);
	if (w < 0 || (size_t)w >= sizeof(path))
		return bd_fail(BD_ERR_PATH, "ext2: %s: path too long", dirpath);
	if (cap == 0 || (rc = ext2_walk(t, path, false, buf, &parent,
	    &base)) != BD_OK || parent == 0)
		return rc;
	err = ext2fs_dir_iterate2(t->fs, parent, 0, NULL, ext2_collect_entry,
	    &l);
	if (err != 0)
		return ext2_fail(err, "cannot read directory", dirpath);
	*n = l.n;
	return BD_OK;
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

struct ext2_reader {
	struct ext2_target *t;
	ext2_file_t file;
	uint64_t size;
	char path[INSTALL_PATH_MAX_BYTES + 1];
};

enum bd_err
ext2_reader_open(struct ext2_target *t, const char *path,
    struct ext2_reader **r, uint64_t *size)
{
	char pbuf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	struct ext2_reader *n = NULL;
	ext2_ino_t dir, ino;
	const char *base;
	errcode_t err;
	enum bd_err rc;

	*r = NULL;
	*size = 0;
	if ((rc = ext2_walk(t, path, false, pbuf, &dir, &base)) != BD_OK ||
	    dir == 0)
		goto out;
	if ((rc = ext2_lookup(t, dir, base, &ino, &inode)) != BD_OK || ino == 0)
		goto out;
	if (!LINUX_S_ISREG(inode.i_mode) ||
	    EXT2_I_SIZE(&inode) > EXT2_FILE_MAX_BYTES) {
		rc = bd_fail(BD_ERR_PATH, "ext2: %s is not a regular file of at "
		    "most %llu bytes", path,
		    (unsigned long long)EXT2_FILE_MAX_BYTES);
		goto out;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "ext2");
		goto out;
	}
	if ((err = ext2fs_file_open(t->fs, ino, 0, &n->file)) != 0) {
		rc = ext2_fail(err, "cannot open", path);
		goto out;
	}
	n->t = t;
	n->size = EXT2_I_SIZE(&inode);
	memcpy(n->path, path, strlen(path) + 1);
	*size = n->size;
	*r = n;
	n = NULL;
out:
	free(n);
	return rc;
}

enum bd_err
ext2_reader_pread(struct ext2_reader *r, uint8_t *buf, size_t len,
    uint64_t off)
{
	unsigned int got, want;
	size_t have = 0;
	errcode_t err;

	if (off > r->size || len > r->size - off)
		return BD_ERR_SIZE;
	if ((err = ext2fs_file_llseek(r->file, off, EXT2_SEEK_SET, NULL)) != 0)
		return ext2_fail(err, "cannot seek in", r->path);
	while (have < len) {
		want = (unsigned int)(len - have < COPY_CHUNK_BYTES ?
		    len - have : COPY_CHUNK_BYTES);
		err = ext2fs_file_read(r->file, buf + have, want, &got);
		if (err == 0 && got == 0)
			err = EXT2_ET_SHORT_READ;
		if (err != 0)
			return ext2_fail(err, "cannot read", r->path);
		have += got;
	}
	return BD_OK;
}

void
ext2_reader_close(struct ext2_reader *r)
{
	if (r == NULL)
		return;
	(void)ext2fs_file_close(r->file);
	free(r);
}

/*
 * Overwrites the first len bytes of the file's one data block where it
 * lies: the inode, its size and its block map are not touched (GRUB's
 * save_env writes the same sectors, so they must never move).
 */
static enum bd_err
ext2_overwrite_block(struct ext2_target *t, ext2_ino_t ino,
    struct ext2_inode *inode, const char *path, const void *buf, size_t len)
{
	blk64_t phys = 0;
	uint8_t *block = NULL;
	int flags = 0;
	errcode_t err;
	enum bd_err rc = BD_OK;

	if (!LINUX_S_ISREG(inode->i_mode) || EXT2_I_SIZE(inode) != len ||
	    len > t->fs->blocksize ||
	    (inode->i_flags & EXT4_INLINE_DATA_FL) != 0)
		return bd_fail(BD_ERR_IO, "ext2: %s is not a regular file of %zu "
		    "bytes in one block; remove it and run again", path, len);
	if ((err = ext2fs_bmap2(t->fs, ino, inode, NULL, 0, 0, &flags,
	    &phys)) != 0)
		return ext2_fail(err, "cannot map", path);
	if (phys == 0 || (flags & BMAP_RET_UNINIT) != 0)
		return bd_fail(BD_ERR_IO, "ext2: %s has no allocated block (a "
		    "sparse file GRUB cannot write); remove it and run again",
		    path);
	if ((block = malloc(t->fs->blocksize)) == NULL)
		return bd_fail(BD_ERR_NOMEM, "ext2");
	if ((err = io_channel_read_blk64(t->fs->io, phys, 1, block)) != 0) {
		rc = ext2_fail(err, "cannot read", path);
		goto out;
	}
	memcpy(block, buf, len);
	if ((err = io_channel_write_blk64(t->fs->io, phys, 1, block)) != 0) {
		rc = ext2_fail(err, "cannot write", path);
		goto out;
	}
	rc = ext2_sync(t);
out:
	free(block);
	return rc;
}

enum bd_err
ext2_rewrite(struct ext2_target *t, const char *path, const void *buf,
    size_t len)
{
	char pbuf[INSTALL_PATH_MAX_BYTES + 1];
	struct ext2_inode inode;
	ext2_ino_t dir, ino = 0;
	const char *base;
	enum bd_err rc;

	if ((rc = ext2_begin(t)) != BD_OK ||
	    (rc = ext2_walk(t, path, false, pbuf, &dir, &base)) != BD_OK)
		return rc;
	if (dir != 0 && (rc = ext2_lookup(t, dir, base, &ino, &inode)) != BD_OK)
		return rc;
	if (ino == 0)
		return ext2_install_bytes(t, path, buf, len, 0644);
	return ext2_overwrite_block(t, ino, &inode, path, buf, len);
}
