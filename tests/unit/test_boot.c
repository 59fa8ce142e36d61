/*
 * test_boot.c - which loader boots which kernel (boot_check_kernel), the
 * command-line guess, and the three renderers: each rendered file read
 * back by a strict reader of its syntax (bootread.h) lists exactly the
 * entries given, newest first, with their own kernel, initrd and command
 * line; every grub.cfg is accepted by grub-script-check when GRUB ships it
 * (skipped otherwise); what a syntax cannot carry is refused.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "bootread.h"
#include "check.h"

static const struct image_info freebsd = { "elf", "i386", true, false,
	false, "", 32, "FreeBSD" };
static const struct image_info amd64 = { "elf", "x86_64", true, false,
	false, "", 64, "FreeBSD" };
static const struct image_info debian = { "bzimage", "x86_64", true, true,
	true, "6.1.0-28-amd64", 64, "Linux" };
static const struct image_info kvm_only = { "bzimage", "x86_64", false, false,
	true, "6.1.0-28-amd64", 64, "Linux" };
static const struct image_info no_efi = { "bzimage", "x86_64", true, false,
	false, "", 64, "Linux" };
static const struct image_info plain = { "elf", "i386", false, false, false,
	"", 32, "" };

static void
refuses(const char *what, enum bd_err got, enum bd_err want, const char *part)
{
	CHECK(got == want && strstr(bd_err_detail(), part) != NULL,
	    "%s: %s (%s)", what, bd_strerror(got), bd_err_detail());
}

static bool grub_check_missing;

/* grub-script-check accepts text (skipped when GRUB is not installed). */
static void
grub_accepts(const char *what, const struct boot_file *f)
{
	char path[] = "/tmp/bootdrop-grubcfg.XXXXXX", cmd[256];
	FILE *fp;
	int fd, rc;

	if (grub_check_missing ||
	    system("command -v grub-script-check >/dev/null") != 0) {
		if (!grub_check_missing)
			printf("skip: grub-script-check not installed "
			    "(apt-get install grub-common)\n");
		grub_check_missing = true;
		return;
	}
	if ((fd = mkstemp(path)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		return;
	fwrite(f->text, 1, f->len, fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "grub-script-check '%s'", path);
	rc = system(cmd);
	CHECK(rc == 0, "%s: grub-script-check accepts it", what);
	unlink(path);
}

/* Renders c for loader and reads it back into out; false on refusal. */
static bool
render_read(unsigned loader, const struct boot_config *c,
    struct br_config *out, const char *what)
{
	struct boot_file f[BOOT_MAX_ENTRIES];
	size_t n = 0, i;
	bool ok = true;

	if (boot_render(loader, c, f, &n) != BD_OK)
		return false;
	memset(out, 0, sizeof(*out));
	if (loader == BOOT_PVGRUB)
		ok = n == 1 && strcmp(f[0].path, "boot/grub/menu.lst") == 0 &&
		    br_menu_lst(f[0].text, f[0].len, out);
	else if (loader == BOOT_GRUB) {
		ok = n == 1 && strcmp(f[0].path, "boot/grub/grub.cfg") == 0 &&
		    br_grub_cfg(f[0].text, f[0].len, out);
		if (n == 1)
			grub_accepts(what, &f[0]);
	} else
		for (i = 0; i < n && ok; i++)
			ok = br_bls(f[i].text, f[i].len, out);
	CHECK(ok, "%s: the reader accepts what was rendered", what);
	if (!ok)
		for (i = 0; i < n; i++)
			printf("---- %s\n%.*s----\n", f[i].path, (int)f[i].len,
			    f[i].text);
	boot_files_free(f, n);
	return ok;
}

/* The entries read back are exactly c's, in order. */
static void
same_entries(const char *what, const struct boot_config *c,
    const struct br_config *r, bool cmdline_words)
{
	char want[BOOT_TITLE_MAX_BYTES + 16], k[BOOT_PATH_BYTES + 2];
	size_t i;
	bool ok = r->n == c->nentries;

	for (i = 0; ok && i < c->nentries; i++) {
		const struct boot_entry *e = &c->entries[i];

		snprintf(want, sizeof(want), "%s%s", e->title,
		    i > 0 ? " (previous)" : "");
		snprintf(k, sizeof(k), "/%s", e->kernel);
		ok = strcmp(r->e[i].title, want) == 0 &&
		    strcmp(r->e[i].kernel, k) == 0 &&
		    (e->initrd == NULL ? r->e[i].initrd[0] == '\0' :
		    strcmp(r->e[i].initrd + 1, e->initrd) == 0) &&
		    (cmdline_words || strcmp(r->e[i].cmdline, e->cmdline) == 0);
	}
	CHECK(ok, "%s: %zu entries, newest first, each its own kernel, initrd "
	    "and command line", what, c->nentries);
}

int
main(void)
{
	struct boot_config c = {
		.channel = "debian-12", .root = "(hd0,0)", .nentries = 2,
		.entries = {
			{ 8, "Debian 12", "boot/vmlinuz", "boot/initrd.img",
			  "root=/dev/vda1 ro console=ttyS0" },
			{ 7, "Debian 12", "boot/vmlinuz.old", "boot/initrd.img.old",
			  "root=/dev/vda1 ro quiet" },
		},
	};
	struct boot_file f[BOOT_MAX_ENTRIES];
	struct br_config r;
	size_t n;
	unsigned bit;

	CHECK(boot_loader_parse("grub") == BOOT_GRUB &&
	    boot_loader_parse("GRUB") == 0 && boot_loader_parse("") == 0,
	    "loader names");
	CHECK(boot_root_valid("(hd0,0)") && boot_root_valid("(hd1)") &&
	    !boot_root_valid("(hd0,0) x") && !boot_root_valid("(hd0,0000)") &&
	    !boot_root_valid("hd0"), "root devices");

	/* who boots what */
	CHECK_RC(boot_check_kernel(BOOT_PVGRUB, &freebsd, "i386"), BD_OK,
	    "FreeBSD i386 XEN by i386 pvgrub");
	CHECK_RC(boot_check_kernel(BOOT_GRUB | BOOT_BLS | BOOT_PVGRUB, &debian,
	    "amd64"), BD_OK, "Debian bzImage by every loader");
	refuses("i386 kernel, amd64 pvgrub", boot_check_kernel(0, &freebsd,
	    "amd64"), BD_ERR_ELF, "i386 kernel cannot be loaded by amd64 pvgrub");
	refuses("amd64 kernel, i386 pvgrub", boot_check_kernel(0, &amd64,
	    "i386"), BD_ERR_ELF, "amd64 kernel cannot be loaded by i386 pvgrub");
	refuses("bzImage without Xen PV, pvgrub", boot_check_kernel(BOOT_PVGRUB,
	    &kvm_only, NULL), BD_ERR_ELF, "a Linux bzImage (x86_64) with no Xen "
	    "PV support: pvgrub cannot boot it; use --loader grub");
	refuses("ELF without Xen, pvgrub", boot_check_kernel(BOOT_PVGRUB, &plain,
	    NULL), BD_ERR_ELF, "no Xen PV support");
	refuses("bzImage without EFI stub, bls", boot_check_kernel(BOOT_BLS,
	    &no_efi, NULL), BD_ERR_ELF, "has no EFI stub: systemd-boot");
	refuses("ELF, bls", boot_check_kernel(BOOT_BLS, &freebsd, NULL),
	    BD_ERR_ELF, "has no EFI stub");
	CHECK_RC(boot_check_kernel(BOOT_GRUB, &plain, NULL), BD_OK,
	    "grub boots any ELF");
	refuses("bad --pvgrub", boot_check_kernel(0, &freebsd, "x86"),
	    BD_ERR_USAGE, "i386 or amd64");
	CHECK(bd_err_exit_status(boot_check_kernel(BOOT_PVGRUB, &plain, NULL)) ==
	    3, "a refused kernel exits 3");

	CHECK(strcmp(boot_cmdline_os("vfs.root.mountfrom=ufs:xbd0s2,kern.hz=100"),
	    "FreeBSD") == 0, "FreeBSD's command line recognised");
	CHECK(strcmp(boot_cmdline_os("root=/dev/xvda2 ro console=hvc0"),
	    "Linux") == 0, "Linux's command line recognised");
	CHECK(boot_cmdline_os("hello") == NULL && boot_cmdline_os("") == NULL,
	    "nothing recognised in neither");
	CHECK(boot_cmdline_os("chroot=x") == NULL,
	    "root= inside another word is not Linux's");

	/* every renderer, one and two entries */
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1) {
		c.nentries = 2;
		if (render_read(bit, &c, &r, boot_loader_name(bit))) {
			same_entries(boot_loader_name(bit), &c, &r, false);
			if (bit == BOOT_GRUB)
				CHECK(r.trial == 8, "grub: version 8 on trial, "
				    "falling back to 7 (trial %llu)", r.trial);
		}
		c.nentries = 1;
		if (render_read(bit, &c, &r, boot_loader_name(bit))) {
			same_entries(boot_loader_name(bit), &c, &r, false);
			if (bit == BOOT_GRUB)
				CHECK(r.trial == 0, "grub: one entry, no trial "
				    "(trial %llu)", r.trial);
		}
	}
	c.nentries = 1;
	CHECK_RC(boot_render(BOOT_BLS, &c, f, &n), BD_OK, "bls: one file");
	CHECK(n == 1 && strcmp(f[0].path,
	    "loader/entries/bootdrop-debian-12-8.conf") == 0,
	    "bls: a first install has no counter, nothing to fall back to");
	boot_files_free(f, n);
	c.nentries = 2;
	CHECK_RC(boot_render(BOOT_GRUB, &c, f, &n), BD_OK, "grub renders");
	CHECK(n == 1 && strstr(f[0].text, "\nset fallback=1\n# Trial boot: ") !=
	    NULL && strstr(f[0].text, "\t\tset bootdrop_tried=8\n") != NULL &&
	    strstr(f[0].text, "\telif [ \"${bootdrop_tried}\" = \"8\" ]; "
	    "then\n\t\tset default=1\n") != NULL,
	    "grub.cfg: tries 8 once, then boots the previous entry");
	boot_files_free(f, n);
	c.nentries = 2;
	CHECK_RC(boot_render(BOOT_BLS, &c, f, &n), BD_OK, "bls: two files");
	CHECK(n == 2 && strcmp(f[0].path,
	    "loader/entries/bootdrop-debian-12-8+3.conf") == 0 &&
	    strcmp(f[1].path, "loader/entries/bootdrop-debian-12-7.conf") == 0 &&
	    strstr(f[0].text, "\nversion 8\n") != NULL &&
	    strstr(f[0].text, "\nsort-key bootdrop-debian-12\n") != NULL,
	    "bls: one file per version, sorted by version, the new one "
	    "with three tries");
	boot_files_free(f, n);
	CHECK_RC(boot_render(BOOT_PVGRUB, &c, f, &n), BD_OK, "pvgrub renders");
	CHECK(n == 1 && strstr(f[0].text, "\nfallback 1\n") != NULL &&
	    strstr(f[0].text, "\nroot (hd0,0)\nkernel /boot/vmlinuz root=") !=
	    NULL, "menu.lst: fallback to the previous entry, root given");
	boot_files_free(f, n);

	/* hostile but printable text: quoted, or refused, never an entry */
	c.entries[0].title = "x' --id y { linux /evil } menuentry 'z";
	c.entries[0].cmdline = "a$b ${x} `id` ;{}";
	if (render_read(BOOT_GRUB, &c, &r, "grub, hostile title"))
		same_entries("grub, hostile title", &c, &r, false);
	c.entries[0].cmdline = "init='/bin/sh'";
	refuses("grub: a quote in the command line", boot_render(BOOT_GRUB, &c,
	    f, &n), BD_ERR_SCHEMA, "quote or backslash");
	c.entries[0].title = " leading blank";
	c.entries[0].cmdline = "ro";
	refuses("bls: a leading blank", boot_render(BOOT_BLS, &c, f, &n),
	    BD_ERR_SCHEMA, "blank");
	refuses("pvgrub: a leading blank", boot_render(BOOT_PVGRUB, &c, f, &n),
	    BD_ERR_SCHEMA, "blank");
	c.entries[0].title = "two\nlines";
	for (bit = 1; bit <= BOOT_LOADERS_ALL; bit <<= 1)
		refuses(boot_loader_name(bit), boot_render(bit, &c, f, &n),
		    BD_ERR_SCHEMA, "not printable ASCII");
	c.entries[0].title = "ok";
	c.entries[0].kernel = "boot/../x y";
	refuses("a kernel path with a blank", boot_render(BOOT_GRUB, &c, f, &n),
	    BD_ERR_PATH, "not an install path");
	/* counted BLS names: the client's own, outside the manifest's path rule */
	{
		uint64_t v8 = 8, v9 = 9;
		unsigned left = 99;

		CHECK(boot_bls_counted_path("loader/entries/bootdrop-debian-12-8+3.conf",
		    "debian-12", &v8, &left) && left == 3, "8+3 is version 8's, "
		    "3 tries left");
		CHECK(boot_bls_counted_path("loader/entries/bootdrop-debian-12-8+0-3.conf",
		    "debian-12", &v8, &left) && left == 0, "8+0-3: none left");
		CHECK(!boot_bls_counted_path("loader/entries/bootdrop-debian-12-8+3.conf",
		    "debian-12", &v9, NULL), "not version 9's");
		CHECK(!boot_bls_counted_path("loader/entries/bootdrop-debian-1-8+3.conf",
		    "debian-12", &v8, NULL), "not another channel's");
		CHECK(boot_bls_counted_path("loader/entries/bootdrop-x-1+2-1.conf",
		    NULL, NULL, NULL), "any channel without one given");
		CHECK(!boot_bls_counted_path("loader/entries/bootdrop-debian-12-8.conf",
		    NULL, NULL, NULL) &&
		    !boot_bls_counted_path("loader/entries/other-8+3.conf", NULL,
		    NULL, NULL) &&
		    !boot_bls_counted_path("loader/entries/bootdrop-a+1+3.conf",
		    NULL, NULL, NULL) &&
		    !boot_bls_counted_path("loader/entries/bootdrop-a-1+3.confx",
		    NULL, NULL, NULL) &&
		    !boot_bls_counted_path("loader/entries/bootdrop-a-1+3-.conf",
		    NULL, NULL, NULL) &&
		    !boot_bls_counted_path("loader/entries/bootdrop-a-1+1234.conf",
		    NULL, NULL, NULL) &&
		    !boot_bls_counted_path("loader/entries/../x/bootdrop-a-1+3.conf",
		    NULL, NULL, NULL) &&
		    !boot_bls_counted_path("boot/bootdrop-a-1+3.conf", NULL, NULL,
		    NULL), "no counter, another name, two '+', a bad counter or "
		    "another directory: refused");
	}
	return check_done();
}
