/*
 * fuzz_boot.c - hostile titles and command lines through every renderer.
 * The input is split at its first two NUL bytes into title, command line
 * and a second entry's title; each renderer either refuses it or writes a
 * file that a strict reader of its syntax (tests/unit/bootread.h) parses
 * into exactly the entries given, in order, each booting its own kernel
 * and initrd with its own command line: no input may add, remove or
 * reorder an entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "bootread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The words of s joined by one space (what GRUB hands the kernel). */
static void
words(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	while (*s != '\0' && n + 1 < cap) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (n > 0)
			out[n++] = ' ';
		while (*s != '\0' && *s != ' ' && n + 1 < cap)
			out[n++] = *s++;
	}
	out[n] = '\0';
}

static void
check(unsigned loader, const struct boot_config *c)
{
	static struct br_config r;
	static char want[BR_TEXT];
	struct boot_file f[BOOT_MAX_ENTRIES];
	size_t n = 0, i;
	bool ok = true;

	if (boot_render(loader, c, f, &n) != BD_OK)
		return;
	memset(&r, 0, sizeof(r));
	for (i = 0; i < n && ok; i++) {
		if (f[i].len == 0 || f[i].text[f[i].len - 1] != '\n' ||
		    memchr(f[i].text, '\0', f[i].len) != NULL)
			__builtin_trap();
		ok = loader == BOOT_PVGRUB ? br_menu_lst(f[i].text, f[i].len, &r) :
		    loader == BOOT_GRUB ? br_grub_cfg(f[i].text, f[i].len, &r) :
		    br_bls(f[i].text, f[i].len, &r);
	}
	if (!ok || r.n != c->nentries)
		__builtin_trap();
	/* the trial names the new version only, and no string moves it */
	if (loader == BOOT_GRUB &&
	    r.trial != (c->nentries > 1 ? c->entries[0].version : 0))
		__builtin_trap();
	if (loader == BOOT_BLS && (strcmp(f[0].path, c->nentries > 1 ?
	    "loader/entries/bootdrop-fuzz-2+3.conf" :
	    "loader/entries/bootdrop-fuzz-2.conf") != 0 || (n > 1 &&
	    strcmp(f[1].path, "loader/entries/bootdrop-fuzz-1.conf") != 0)))
		__builtin_trap();
	for (i = 0; i < c->nentries; i++) {
		const struct boot_entry *e = &c->entries[i];

		snprintf(want, sizeof(want), "%s%s", e->title,
		    i > 0 ? " (previous)" : "");
		if (strcmp(r.e[i].title, want) != 0 ||
		    strcmp(r.e[i].kernel + 1, e->kernel) != 0 ||
		    strcmp(r.e[i].initrd + 1, e->initrd) != 0)
			__builtin_trap();
		if (loader == BOOT_GRUB)
			words(e->cmdline, want, sizeof(want));
		else
			snprintf(want, sizeof(want), "%s", e->cmdline);
		if (strcmp(r.e[i].cmdline, want) != 0)
			__builtin_trap();
	}
	boot_files_free(f, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_config c = {
		.channel = "fuzz", .root = "(hd0,0)", .nentries = 2,
		.entries = {
			{ 2, NULL, "boot/vmlinuz", "boot/initrd.img", NULL },
			{ 1, NULL, "boot/vmlinuz.old", "boot/initrd.img.old",
			  "root=/dev/vda1 ro" },
		},
	};
	char *buf, *title, *cmdline, *title2;
	unsigned bit;

	if (size > 4096 || (buf = malloc(size + 3)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	title = buf;
	cmdline = title + strlen(title) + 1;
	if (cmdline > buf + size)
		cmdline = buf + size;
	title2 = cmdline + strlen(cmdline) + 1;
	if (title2 > buf + size + 1)
		title2 = buf + size + 1;
	c.entries[0].title = title;
	c.entries[0].cmdline = cmdline;
	c.entries[1].title = title2[0] != '\0' ? title2 : "previous";
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1)
		check(bit, &c);
	free(buf);
	return 0;
}
