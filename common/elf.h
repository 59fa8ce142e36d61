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

/* Maps a machine name to the pvgrub arch it needs: "i386" or "amd64", else NULL. */
const char *elf_pvgrub_arch(const char *machine);

#endif
