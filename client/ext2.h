/*
 * ext2.h - writing into an unmounted ext2/ext4 file system (a guest's boot
 * slice before anyone mounts it, or an image file) with e2fsprogs'
 * libext2fs: no mount, no privileges needed for an image file.
 *
 * Crash and power-loss safety.  The device is written without
 * libext2fs's write-back cache, and every step that depends on an earlier
 * one is separated from it by a barrier (fsync): a power cut loses any
 * writes since the last barrier, in any order, so each interval holds
 * only writes of which any subset is safe.  Every state a crash or power
 * cut can leave is consistent, or marked not clean with only what
 * `e2fsck -p` repairs on its own (a link count too high, leaked blocks or
 * inodes, an entry naming a deleted inode), and a plain re-run converges
 * from it, with or without that repair:
 *
 *  - ext2_open() for writing first checks the file system is sound (every
 *    block in use owned once and marked used, bitmaps and counts agreeing,
 *    every directory sound and connected, link counts no name exceeds,
 *    checksums valid) and refuses otherwise with BD_ERR_IO naming
 *    `e2fsck -f`; a file system an interrupted write left not clean may
 *    have leaks, recomputed counts and bitmap checksums, nothing worse.
 *  - ext2_begin() marks the file system not clean (as the kernel does on
 *    mount) before the first other write; ext2_close() marks it clean
 *    again only when it was clean when opened and every step succeeded,
 *    so boot-time `e2fsck -p` checks it after any interruption.
 *  - Superblock, descriptors and bitmaps are written in a barrier
 *    interval of their own, the superblock in one write.
 *  - A new file or directory is written complete as a deleted inode (no
 *    links, dtime set) and marked used; then named; then given its links.
 *    A new directory's parent counts it before it is named.
 *  - An inode's link count is raised before a name is added and lowered
 *    after one is gone.  Names are counted (every directory is read), not
 *    inferred from link counts; a name is never linked twice.
 *  - A name is moved to another inode by first giving the inode that
 *    loses its last name a second one under STAGE_DIR ("trash.<ino>"), so
 *    an installed name always points at a complete old or new file.
 *  - A last name is removed by deleting the inode (links 0), then the
 *    entry, then freeing inode and blocks; an inode some entry still names
 *    is never freed, nor one the bitmap calls free already.
 *
 * Paths are relative to the root and must pass install_path_valid().
 * Missing parent directories are created (0755, root:root); a symbolic
 * link or a non-directory on the way, or anything but a regular file at
 * the destination, is BD_ERR_PATH.
 */
#ifndef BOOTDROP_EXT2_H
#define BOOTDROP_EXT2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "sha256.h"

#define EXT2_FILE_MAX_BYTES	((uint64_t)1 << 36)	/* one installed file: 64 GiB */
#define EXT2_STAGE_DIR		".bootdrop/stage"	/* new files and trash */
#define EXT2_NAME_BYTES		256	/* a name and its NUL */

struct ext2_target;

/*
 * Opens the ext2 file system on device_or_image, for writing when rw.
 * Refuses a mounted device (BD_ERR_USAGE), a file system needing journal
 * recovery, anything libext2fs cannot open and, when rw, one that is not
 * sound (BD_ERR_IO, naming `e2fsck -f`).  Returns a new target in *t; release it with ext2_close().
 */
enum bd_err ext2_open(const char *device_or_image, bool rw,
    struct ext2_target **t);

/*
 * As ext2_open() for reading, after the soundness check writing needs
 * (BD_ERR_IO naming `e2fsck -f` otherwise): for files whose bytes are
 * read for use, such as a delta download's seed.  The device is opened
 * read-only and nothing is ever written to it.
 */
enum bd_err ext2_open_checked(const char *device_or_image,
    struct ext2_target **t);

/* Whether the file system was marked clean when opened. */
bool ext2_was_clean(const struct ext2_target *t);

/* Marks the file system not clean on the device (before the first write). */
enum bd_err ext2_begin(struct ext2_target *t);

/* Free bytes (whole blocks), free inodes and the block size. */
void ext2_free(const struct ext2_target *t, uint64_t *bytes,
    uint64_t *inodes, uint32_t *block_size);

/*
 * Creates the regular file path (which must not exist: BD_ERR_EXISTS)
 * from srcfd (pread from offset 0, exactly size bytes), or from buf when
 * srcfd is -1, with permission bits mode; the file is complete before its
 * name appears.
 */
enum bd_err ext2_create(struct ext2_target *t, const char *path, int srcfd,
    const void *buf, uint64_t size, mode_t mode);

/*
 * Moves the file at from to to, replacing a regular file there; with
 * keep_old non-NULL the replaced file is moved to keep_old first
 * (replacing that).  A from that already is to's file only loses its name.
 */
enum bd_err ext2_move(struct ext2_target *t, const char *from,
    const char *to, const char *keep_old);

/*
 * Removes the regular file at path, which must be bootdrop's own with no
 * other name (a staged file, the record, trash); a missing one is no error.
 */
enum bd_err ext2_remove(struct ext2_target *t, const char *path);

/*
 * Removes the regular file at path only while it holds size bytes hashing
 * to sha256 (anything else there is left as it is; missing: done), or
 * finishes the removal an interruption left with its name on a deleted
 * inode; *removed tells whether it removed a name.
 */
enum bd_err ext2_remove_same(struct ext2_target *t, const char *path,
    uint64_t size, const uint8_t sha256[SHA256_BYTES], bool *removed);

/* Removes every regular file in directory dir whose name starts with prefix. */
enum bd_err ext2_remove_prefixed(struct ext2_target *t, const char *dir,
    const char *prefix);

/*
 * The names in directory dir starting with prefix (at most cap, of any
 * type: the caller checks what it uses); *n 0 when dir is missing.
 */
enum bd_err ext2_list(struct ext2_target *t, const char *dir,
    const char *prefix, char (*names)[EXT2_NAME_BYTES], size_t cap,
    size_t *n);

/*
 * Hashes the regular file at path: *present false when missing; else
 * BD_ERR_SIZE unless it holds size bytes, and out gets its SHA-256 (out
 * NULL: only whether it is present).
 */
enum bd_err ext2_hash(struct ext2_target *t, const char *path, uint64_t size,
    uint8_t out[SHA256_BYTES], bool *present);

/* As ext2_create() then ext2_move() to path (for tests and tools). */
enum bd_err ext2_install_file(struct ext2_target *t, const char *path,
    int srcfd, uint64_t size, mode_t mode);
enum bd_err ext2_install_bytes(struct ext2_target *t, const char *path,
    const void *buf, size_t len, mode_t mode);

/*
 * Reads the regular file at path, refusing one larger than max bytes
 * (BD_ERR_TOOBIG).  A missing file is not an error: *buf is set to NULL
 * and *len to 0.  Otherwise *buf is a new NUL-terminated buffer of *len
 * bytes (plus the NUL); free it with free().
 */
enum bd_err ext2_read_file(struct ext2_target *t, const char *path,
    size_t max, uint8_t **buf, size_t *len);

/*
 * A regular file opened for reading at any offset (a delta's seed).
 * ext2_reader_open() finds path as ext2_read_file() does (the install's
 * walk: BD_ERR_PATH for a symbolic link or a non-directory on the way, or
 * anything but a regular file of at most EXT2_FILE_MAX_BYTES at the end);
 * *r is NULL when the file is missing, else a new reader (*size its
 * bytes), closed with ext2_reader_close() before t is.
 * ext2_reader_pread() reads exactly len bytes at off: BD_ERR_SIZE when
 * the file ends first.
 */
struct ext2_reader;
enum bd_err ext2_reader_open(struct ext2_target *t, const char *path,
    struct ext2_reader **r, uint64_t *size);
enum bd_err ext2_reader_pread(struct ext2_reader *r, uint8_t *buf,
    size_t len, uint64_t off);
void ext2_reader_close(struct ext2_reader *r);

/*
 * Rewrites the regular file at path in place with len bytes (at most one
 * block, the file's size): the same inode and the same data block,
 * overwritten where it lies, never reallocated (GRUB's save_env writes
 * that block).  A missing file is created once, fully allocated.  A file
 * of another size, or one without an allocated block, is BD_ERR_IO.
 */
enum bd_err ext2_rewrite(struct ext2_target *t, const char *path,
    const void *buf, size_t len);

/*
 * Writes back what is left, marks the file system clean when ext2_begin()
 * found it clean and ok is set, flushes the device and frees t (always,
 * even on failure).  t may be NULL.
 */
enum bd_err ext2_close(struct ext2_target *t, bool ok);

#endif
