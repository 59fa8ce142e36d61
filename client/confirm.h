/*
 * confirm.h - the trial boot on the slice (DESIGN.md, "The previous
 * version stays bootable, and a bad one falls back by itself";
 * doc/boot-scheme.md): arming it at install time, and --confirm.
 *
 *   grub  boot/grub/grubenv (common/grubenv.h) carries the trial record;
 *         the install writes bootdrop_trial=N, GRUB turns it into
 *         bootdrop_tried=N when it boots N once (and bootdrop_failed=N
 *         when it boots the previous entry after that); --confirm writes
 *         bootdrop_good=N.  The file is rewritten in place, never
 *         replaced, on both destinations.
 *   bls   N's entry is loader/entries/bootdrop-C-N+3.conf; systemd-boot
 *         counts it down by renaming it; --confirm renames it to
 *         bootdrop-C-N.conf.
 */
#ifndef BOOTDROP_CONFIRM_H
#define BOOTDROP_CONFIRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "dest.h"
#include "err.h"

#define CONFIRM_BLS_TRIES	3	/* boot.h's BOOT_BLS_TRIES */

/*
 * Before an install's commit with loader grub: writes the grubenv block
 * with bootdrop_trial=N when trial (there is a previous entry to fall
 * back to), else without any trial variable; variables that are not
 * bootdrop's are kept.  The old grub.cfg ignores a record naming N, so a
 * crash before the commit leaves the old version booting as before.
 */
enum bd_err confirm_arm(struct dest *d, uint64_t version, bool trial);

/*
 * The BLS entry of channel's version on d, whatever systemd-boot's
 * counter made of its name: found gets the path ("" when there is none),
 * *left the tries left (-1: no counter, confirmed or a first install),
 * *booted whether systemd-boot has counted a try (a "+L-D" name).
 */
enum bd_err confirm_bls_find(struct dest *d, const char *channel,
    uint64_t version, char found[BOOT_PATH_BYTES], int *left, bool *booted);

/*
 * --confirm: marks the state's version of channel good on d.  Refuses
 * (BD_ERR_IO, detail saying why) when d holds no install of channel, when
 * the version has not been booted yet, or when the loader shows the
 * previous version runs (GRUB recorded bootdrop_failed=N; systemd-boot
 * has no tries left for it).  efivars (NULL: none) is where the running
 * system's EFI variables are: when systemd-boot's LoaderEntrySelected is
 * there, the entry it names decides for bls instead of the counter.
 * summary gets what was done; *changed whether anything was written
 * (false: already confirmed, or no trial on this slice).
 */
enum bd_err confirm_run(struct dest *d, const char *channel,
    const char *efivars, char *summary, size_t cap, bool *changed);

#endif
