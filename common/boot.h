/*
 * boot.h - boot data (DESIGN.md, "Boot") and the one renderer per loader
 * that turns it into a boot loader's configuration, used by the client to
 * write and by the publisher's show to preview the exact text:
 *
 *   pvgrub  boot/grub/menu.lst                  legacy GRUB, "fallback 1"
 *   grub    boot/grub/grub.cfg                  GRUB 2 (also pvgrub2)
 *   grub    also: the trial-boot block reading boot/grub/grubenv
 *   bls     loader/entries/bootdrop-<channel>-<version>[+3].conf, one file per
 *           entry (Boot Loader Specification type 1, systemd-boot)
 *
 * Each configuration lists the new version first and the previous
 * version second, each with its own kernel, initrd and command line.  A
 * renderer quotes the title and command line for its syntax and refuses
 * (BD_ERR_SCHEMA) what that syntax cannot carry faithfully; no string can
 * add, remove or reorder an entry (tests/fuzz/fuzz_boot.c).
 */
#ifndef BOOTDROP_BOOT_H
#define BOOTDROP_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "image.h"

#define BOOT_CMDLINE_MAX_BYTES	1024
#define BOOT_TITLE_MAX_BYTES	128
#define BOOT_ROOT_MAX_BYTES	24	/* "(hd0,0)" */
#define BOOT_RENDER_MAX_BYTES	(16u << 10)	/* one rendered file */
#define BOOT_PATH_BYTES		300
#define BOOT_MAX_ENTRIES	2	/* the new version, the previous one */
#define BOOT_DEFAULT_ROOT	"(hd0,0)"
#define BOOT_MENU_LST_PATH	"boot/grub/menu.lst"
#define BOOT_GRUB_CFG_PATH	"boot/grub/grub.cfg"
#define BOOT_BLS_DIR		"loader/entries"
#define BOOT_BLS_TRIES		"+3"	/* systemd-boot's boot counter */

enum boot_loader {
	BOOT_PVGRUB = 1u << 0,
	BOOT_GRUB = 1u << 1,
	BOOT_BLS = 1u << 2,
};
#define BOOT_LOADERS_ALL	(BOOT_PVGRUB | BOOT_GRUB | BOOT_BLS)

/* One bootable version, as a loader's entry shows it. */
struct boot_entry {
	uint64_t version;
	const char *title;	/* printable ASCII */
	const char *kernel;	/* install path on the boot slice */
	const char *initrd;	/* install path, or NULL */
	const char *cmdline;	/* "" for none */
};

struct boot_config {
	const char *channel;
	const char *root;	/* pvgrub's root device, e.g. "(hd0,0)" */
	size_t nentries;	/* 1 or 2 */
	struct boot_entry entries[BOOT_MAX_ENTRIES];	/* newest first */
};

struct boot_file {
	char path[BOOT_PATH_BYTES];	/* relative to the boot slice */
	char *text;			/* new; boot_files_free() */
	size_t len;
};

/* "pvgrub", "grub", "bls" for one loader bit; NULL otherwise. */
const char *boot_loader_name(unsigned loader);

/* The loader bit named s, or 0. */
unsigned boot_loader_parse(const char *s);

/* Printable ASCII (0x20..0x7e) of at most max bytes ("" allowed). */
bool boot_text_valid(const char *s, size_t max);

/* "(hdN)" or "(hdN,M)" with at most 3 digits each. */
bool boot_root_valid(const char *s);

/*
 * Whether every loader in loaders can boot kernel k (DESIGN.md: pvgrub an
 * ELF, ELF.gz or bzImage with xen_pv, of the arch of pvgrub_arch when
 * given ("i386" or "amd64", pvgrub's own names); bls a bzImage with an
 * EFI stub; grub any format image.h reads).  BD_ERR_ELF with a detail
 * naming the kernel and the loader, and what to do instead.
 */
enum bd_err boot_check_kernel(unsigned loaders, const struct image_info *k,
    const char *pvgrub_arch);

/* "i386" or "amd64": pvgrub's name for an image arch, or NULL. */
const char *boot_pvgrub_arch(const char *image_arch);

/*
 * What a command line looks like: "FreeBSD" (vfs.root.mountfrom=,
 * boot_*, comma-separated kenv), "Linux" (root=, console=, ro, init=...),
 * or NULL when it says neither.
 */
const char *boot_cmdline_os(const char *cmdline);

/*
 * Renders loader's configuration for c into files (at most
 * BOOT_MAX_ENTRIES of them); *n gets how many.  BD_ERR_SCHEMA when a
 * title or command line cannot be written in the loader's syntax, with a
 * detail saying which and why.  Free with boot_files_free().
 */
enum bd_err boot_render(unsigned loader, const struct boot_config *c,
    struct boot_file files[BOOT_MAX_ENTRIES], size_t *n);

void boot_files_free(struct boot_file *files, size_t n);

/*
 * Whether path is a BLS entry the client rendered with systemd-boot's
 * boot counter, "loader/entries/bootdrop-<channel>-<N>+<L>[-<D>].conf"
 * (L tries left, D done: systemd-boot renames the file as it counts).
 * Such names are the client's own, not manifest install paths, which
 * hold no '+'; installing and confirming accept them besides those.
 * With version non-NULL, also whether <channel> is channel and <N> is
 * *version, and *left gets L (NULL: not wanted).
 */
bool boot_bls_counted_path(const char *path, const char *channel,
    const uint64_t *version, unsigned *left);

#endif
