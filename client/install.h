/*
 * install.h - install paths on a boot slice directory (dest_dir.c).
 *
 * Every path is relative to DESTDIR's descriptor and walked one component
 * at a time with openat(O_NOFOLLOW): a symlinked parent directory is
 * refused (BD_ERR_PATH), a symlink at the install path itself is replaced
 * by the rename, never followed.
 */
#ifndef BOOTDROP_INSTALL_H
#define BOOTDROP_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define INSTALL_FILE_MODE	0644

/*
 * Checks, changing nothing, that rel can be installed below rootfd: each
 * parent component is a real directory or missing (BD_ERR_PATH for a
 * symlink or non-directory), and rel itself is not a directory (BD_ERR_IO).
 */
enum bd_err install_check(int rootfd, const char *rel);

/* Splits rel into its directory ("" for none) and last component. */
enum bd_err install_split(const char *rel, char *dir, size_t dircap,
    const char **base);

#endif
