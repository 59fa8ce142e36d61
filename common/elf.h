/*
 * elf.h - what a boot loader needs to know about a kernel ELF: its class,
 * machine, and whether it carries Xen PV guest information (a
 * "__xen_guest" section, as FreeBSD/i386 XEN kernels have, or Xen ELF
 * notes in a PT_NOTE segment / SHT_NOTE section with owner "Xen").
 */
#ifndef BOOTDROP_ELF_H
#define BOOTDROP_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ELF_MAP_MAX_BYTES	((size_t)1 << 30)	/* bytes of a file inspected */

struct elf_info {
	unsigned class;		/* 32 or 64 */
	const char *machine;	/* static: "i386", "amd64", "aarch64", "arm", ... "unknown" */
	bool xen;		/* Xen PV guest information present */
};

/*
 * Inspects an ELF image in buf (the file's first len bytes; sections or
 * notes beyond len are not seen).  Refuses (BD_ERR_ELF) anything that is
 * not an ELF executable (ET_EXEC) with a sane header.
 */
enum bd_err elf_inspect(const uint8_t *buf, size_t len, struct elf_info *info);

/* Inspects the regular file fd (its first ELF_MAP_MAX_BYTES, mapped). */
enum bd_err elf_inspect_fd(int fd, struct elf_info *info);

/*
 * Maps a machine name to the pvgrub arch it needs: "i386" or "amd64", else
 * NULL (also the check of a user's --pvgrub value).
 */
const char *elf_pvgrub_arch(const char *machine);

/*
 * The classic pvgrub mistake, caught by the publisher before release and
 * by the client before installing: an amd64 pvgrub cannot load an i386
 * kernel ELF, nor an i386 pvgrub an amd64 one.  Checks kernel against the
 * manifest's boot arch (boot_arch, NULL when there is none) and the pvgrub
 * that will load it (pvgrub: NULL, "i386" or "amd64"; anything else is
 * BD_ERR_USAGE).  Refuses with BD_ERR_ELF and a detail saying which loader
 * cannot load which kernel: a machine pvgrub cannot load at all, a kernel
 * without Xen PV guest information, one that disagrees with boot_arch, or
 * one the given pvgrub cannot load ("i386 kernel cannot be loaded by amd64
 * pvgrub").
 */
enum bd_err elf_pvgrub_check(const struct elf_info *kernel,
    const char *boot_arch, const char *pvgrub);

#endif
