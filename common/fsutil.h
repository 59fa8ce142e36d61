/*
 * fsutil.h - careful file handling: capped reads, atomic replacement
 * (temp file in the same directory, fsync, rename, fsync directory), and
 * directory walks relative to a root that never follow a symlink.
 */
#ifndef BOOTDROP_FSUTIL_H
#define BOOTDROP_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/*
 * Reads the regular file at path (relative to dirfd, AT_FDCWD allowed,
 * O_NOFOLLOW on the last component) into a new buffer of at most max
 * bytes; BD_ERR_TOOBIG beyond.  The buffer gets a NUL after *len bytes.
 * Free with free().
 */
enum bd_err file_read_capped(int dirfd, const char *path, size_t max,
    uint8_t **buf, size_t *len);

/*
 * Atomically replaces dir/name with len bytes of buf: writes a temporary
 * file in the same directory, fsyncs it, renames it over name and fsyncs
 * the directory.  The temporary is removed on failure.  If exclusive, an
 * existing name is BD_ERR_EXISTS (checked with linkat-free renameat2
 * RENAME_NOREPLACE, falling back to link+unlink).
 */
enum bd_err file_write_atomic(int dirfd, const char *name, const void *buf,
    size_t len, mode_t mode, bool exclusive);

/* fsync an open directory or file by fd (BD_ERR_IO on failure). */
enum bd_err fd_sync(int fd);

/*
 * Opens (creating with mode 0755, whatever the umask, when missing) each component of the
 * relative path rel below rootfd, refusing symlinks and non-directories
 * (BD_ERR_PATH).  Returns a new directory fd in *out.
 */
enum bd_err dir_open_path(int rootfd, const char *rel, bool create, int *out);

/*
 * Called by dir_each() for one entry: dirfd is the directory being read,
 * type its d_type (DT_UNKNOWN on file systems that do not say).
 */
typedef enum bd_err (*dir_entry_fn)(void *ctx, int dirfd, const char *name,
    unsigned char type);

/*
 * Calls fn for every entry of the directory rel below rootfd (opened as by
 * dir_open_path(), never through a symlink) except "." and "..".  Stops at
 * the first result other than BD_OK and returns it.
 */
enum bd_err dir_each(int rootfd, const char *rel, dir_entry_fn fn, void *ctx);

/* Writes all of len bytes (retrying short writes and EINTR). */
enum bd_err write_all(int fd, const void *buf, size_t len);

/*
 * Reads until len bytes or end of file (retrying short reads and EINTR);
 * *got says how many arrived (less than len only at end of file).
 * BD_ERR_IO with errno kept on a read error.
 */
enum bd_err read_full(int fd, void *buf, size_t len, size_t *got);

/* As read_full(), with pread(2) from offset off. */
enum bd_err pread_full(int fd, void *buf, size_t len, uint64_t off,
    size_t *got);

/* Writes all of len bytes at offset off with pwrite(2). */
enum bd_err pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/*
 * As pread_full(), for exactly len bytes: BD_ERR_SIZE, with no detail, when
 * the file ends first.
 */
enum bd_err pread_exact(int fd, void *buf, size_t len, uint64_t off);

#endif
