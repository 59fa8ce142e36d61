/*
 * pvgrub.h - the classic pvgrub mistake, caught before installing: an
 * amd64 pvgrub cannot load an i386 kernel ELF, nor an i386 pvgrub an
 * amd64 one.
 */
#ifndef BOOTDROP_PVGRUB_H
#define BOOTDROP_PVGRUB_H

#include "elf.h"
#include "err.h"

/*
 * Checks a downloaded, hash-verified kernel's ELF header (elf_inspect_fd)
 * against the manifest's boot arch (boot_arch, NULL when the manifest
 * names none) and the pvgrub the user said will load it (pvgrub: NULL,
 * "i386" or "amd64"; anything else is BD_ERR_USAGE).  Refuses with
 * BD_ERR_ELF and a detail saying which loader cannot load which kernel:
 * a kernel pvgrub cannot load at all, one without Xen PV guest
 * information, one that disagrees with boot_arch, or one pvgrub's arch
 * cannot load ("i386 kernel cannot be loaded by amd64 pvgrub").
 */
enum bd_err pvgrub_check(const struct elf_info *kernel, const char *boot_arch,
    const char *pvgrub);

#endif
