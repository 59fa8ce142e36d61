/*
 * ext2.h - installing verified files into an unmounted ext2 file system
 * (a guest's boot slice before anyone mounts it, or an image file) with
 * e2fsprogs' libext2fs: no mount, no privileges needed for an image file.
 *
 * The caller verifies first and installs after, as for a directory: every
 * source is a verified temporary file (or buffer) on the host.  Within a
 * target, a replaced file is swapped by rewriting its one directory entry
 * after the new inode is complete, so no half-written file is ever linked.
 * Nothing is durable before ext2_close() returns BD_OK; a failed install
 * leaves the old file in place and frees what it allocated.
 *
 * Paths are relative to the file system's root and must pass
 * install_path_valid() (common/manifest.h).  Missing parent directories
 * are created (0755, root:root); a symbolic link or a non-directory on the
 * way, or anything but a regular file at the destination, is refused with
 * BD_ERR_PATH.  New files are owned by root:root.
 *
 * Typical use in bootdrop-fetch (--ext2 DEVICE_OR_IMAGE):
 *
 *	ext2_open(dev, &t);                              after every verify
 *	ext2_read_file(t, ".bootdrop/state/CH", cap, &buf, &len);
 *	ext2_install_file(t, "boot/kernel", fd, size, 0644);   per artifact
 *	ext2_install_bytes(t, "boot/grub/menu.lst", menu, n, 0644);
 *	ext2_install_bytes(t, ".bootdrop/state/CH", state, n, 0644);
 *	ext2_close(t);                                   durable only now
 */
#ifndef BOOTDROP_EXT2_H
#define BOOTDROP_EXT2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define EXT2_FILE_MAX_BYTES	((uint64_t)1 << 36)	/* one installed file: 64 GiB */

struct ext2_target;

/*
 * Opens the ext2 file system on device_or_image for writing.  Refuses a
 * mounted device (BD_ERR_USAGE), a file system needing journal recovery
 * and anything libext2fs cannot open (BD_ERR_IO, with its message).
 * Returns a new target in *t; release it with ext2_close().
 */
enum bd_err ext2_open(const char *device_or_image, struct ext2_target **t);

/*
 * Installs the first size bytes of the regular file srcfd (read with
 * pread from offset 0; the file must hold exactly size bytes) at path
 * with permission bits mode, replacing a regular file already there.
 */
enum bd_err ext2_install_file(struct ext2_target *t, const char *path,
    int srcfd, uint64_t size, mode_t mode);

/* As ext2_install_file(), from the len bytes at buf. */
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
 * Writes back the superblock, group descriptors, bitmaps and cached blocks,
 * flushes the device, and frees t (always, even on failure).  Only a BD_OK
 * here makes the installs durable.  t may be NULL.
 */
enum bd_err ext2_close(struct ext2_target *t);

#endif
