/*
 * image.h - what a boot loader needs to know about a kernel, read from the
 * kernel's own bytes (DESIGN.md, "Payload format 3", "image"):
 *
 *   format   "elf", "elf.gz" (a gzip-compressed ELF) or "bzimage" (x86)
 *   arch     "i386" or "x86_64"
 *   xen_pv   Xen PV guest information: a "__xen_guest" section (FreeBSD
 *            i386 XEN kernels), or a Xen ELF note of type XEN_ELFNOTE_ENTRY
 *            or XEN_ELFNOTE_LOADER; for a bzImage, found in the ELF its
 *            compressed payload holds
 *   pvh      a XEN_ELFNOTE_PHYS32_ENTRY note
 *   efi      a bzImage with a PE/COFF EFI stub
 *   version  a bzImage's kernel version string (its first word), else ""
 *
 * The facts live here with no decoder behind them, so manifest.c and the
 * client use them without linking zlib, liblzma or libzstd.  The reader,
 * image_inspect(), is common/image.c, built into the publisher's side only
 * (common/meson.build: libbdimage).
 */
#ifndef BOOTDROP_IMAGE_H
#define BOOTDROP_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define IMAGE_MAP_MAX_BYTES	((size_t)1 << 30)	/* a kernel file */
#define IMAGE_UNPACK_MAX_BYTES	((size_t)512 << 20)	/* a decompressed payload */
#define IMAGE_VERSION_MAX_BYTES	65	/* "6.1.0-28-amd64" and a NUL */
#define IMAGE_OS_MAX_BYTES	17	/* "linux", "FreeBSD" */

struct image_info {
	const char *format;	/* static: "elf", "elf.gz", "bzimage" */
	const char *arch;	/* static: "i386", "x86_64" */
	bool xen_pv;
	bool pvh;
	bool efi;
	char version[IMAGE_VERSION_MAX_BYTES];	/* "" when absent */
	/* read by image_inspect(), never carried by a manifest */
	unsigned elf_class;	/* 32 or 64; 0 for none seen */
	char os[IMAGE_OS_MAX_BYTES];	/* "Linux", "FreeBSD", "NetBSD", "" */
};

/* Maps a format or arch name to its static spelling, or NULL. */
const char *image_format_name(const char *s);
const char *image_arch_name(const char *s);

/* True when s is a version string a manifest may carry: [A-Za-z0-9._+~-]{1,64}. */
bool image_version_valid(const char *s);

/*
 * Reads the kernel image in buf.  Refuses (BD_ERR_ELF) what it cannot
 * read, with a detail naming what it found ("a PE/COFF executable, not a
 * kernel bootdrop reads", "a Linux bzImage with an lz4 payload ...").
 * Decompression is capped at IMAGE_UNPACK_MAX_BYTES.  Fills *info.
 */
enum bd_err image_inspect(const uint8_t *buf, size_t len,
    struct image_info *info);

/* Reads the regular file fd (its first IMAGE_MAP_MAX_BYTES, mapped). */
enum bd_err image_inspect_fd(int fd, struct image_info *info);

/* "bzImage x86_64, Xen PV, PVH, EFI stub, Linux 6.1.0-28-amd64", for people. */
void image_describe(const struct image_info *info, char *out, size_t cap);

#endif
