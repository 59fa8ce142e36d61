/*
 * test_image.c - image facts read from sample kernels made by
 * tests/mkkernel (FreeBSD-style ELF, Linux-style ELF with and without Xen
 * PV and PVH notes, gzip-compressed ELF, bzImages with gzip, xz and zstd
 * payloads, with and without an EFI stub), and refusals that name what
 * they found.  Every prefix of a bzImage and of an ELF is read too:
 * truncation must be refused or tolerated, never read out of bounds (run
 * under ASan in CI).  A real Debian kernel is read when one is cached
 * (BOOTDROP_REAL_KERNEL or ~/.cache/bootdrop/vmlinuz); skipped otherwise.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "image.h"

static char dir[] = "/tmp/bootdrop-image.XXXXXX";

/* Runs tests/mkkernel with args, writing dir/name; returns its path. */
static const char *
make(const char *name, const char *args)
{
	static char path[512];
	char cmd[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "'%s/tests/mkkernel' %s '%s'",
	    getenv("BOOTDROP_BUILDDIR"), args, path);
	if (system(cmd) != 0)
		printf("FAIL: mkkernel %s\n", args);
	return path;
}

/* Reads path whole (capped at 64 MiB). */
static uint8_t *
file_bytes(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > (64 << 20) ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*len = (size_t)read(fd, buf, (size_t)st.st_size);
	close(fd);
	return buf;
}

static enum bd_err
inspect(const char *path, struct image_info *info)
{
	int fd = open(path, O_RDONLY);
	enum bd_err rc;

	if (fd < 0)
		return BD_ERR_IO;
	rc = image_inspect_fd(fd, info);
	close(fd);
	return rc;
}

/* Checks the facts of path. */
static void
expect(const char *what, const char *path, const char *format,
    const char *arch, bool xen_pv, bool pvh, bool efi, const char *version,
    const char *os)
{
	struct image_info info;

	CHECK_RC(inspect(path, &info), BD_OK, what);
	if (info.format == NULL || info.arch == NULL) {
		CHECK(false, "%s: facts filled", what);
		return;
	}
	CHECK(strcmp(info.format, format) == 0, "%s: format %s (got %s)", what,
	    format, info.format);
	CHECK(strcmp(info.arch, arch) == 0, "%s: arch %s (got %s)", what, arch,
	    info.arch);
	CHECK(info.xen_pv == xen_pv, "%s: xen_pv %d", what, xen_pv);
	CHECK(info.pvh == pvh, "%s: pvh %d", what, pvh);
	CHECK(info.efi == efi, "%s: efi %d", what, efi);
	CHECK(strcmp(info.version, version) == 0, "%s: version '%s' (got '%s')",
	    what, version, info.version);
	CHECK(strcmp(info.os, os) == 0, "%s: os '%s' (got '%s')", what, os,
	    info.os);
}

/* Refusal of path with a detail containing want. */
static void
refused(const char *what, const char *path, const char *want)
{
	struct image_info info;
	enum bd_err rc = inspect(path, &info);

	CHECK(rc == BD_ERR_ELF && strstr(bd_err_detail(), want) != NULL,
	    "%s refused naming '%s' (got %s: %s)", what, want, bd_strerror(rc),
	    bd_err_detail());
}

/* Every prefix of path: never a crash, never BD_OK with holes in facts. */
static void
prefixes(const char *what, const char *path, size_t step)
{
	struct image_info info;
	uint8_t *buf;
	size_t len = 0, i, bad = 0;

	if ((buf = file_bytes(path, &len)) == NULL) {
		CHECK(false, "%s: read", what);
		return;
	}
	for (i = 0; i < len; i += step) {
		uint8_t *copy = malloc(i + 1);

		memcpy(copy, buf, i);
		if (image_inspect(copy, i, &info) == BD_OK &&
		    (info.format == NULL || info.arch == NULL))
			bad++;
		free(copy);
	}
	CHECK(bad == 0, "%s: every prefix refused or read whole", what);
	free(buf);
}

/* A real Debian kernel, when one is cached outside the repository. */
static void
real_kernel(void)
{
	char path[512];
	const char *p = getenv("BOOTDROP_REAL_KERNEL");
	struct image_info info;

	if (p == NULL) {
		if (getenv("XDG_CACHE_HOME") != NULL)
			snprintf(path, sizeof(path), "%s/bootdrop/vmlinuz",
			    getenv("XDG_CACHE_HOME"));
		else
			snprintf(path, sizeof(path), "%s/.cache/bootdrop/"
			    "vmlinuz", getenv("HOME") != NULL ?
			    getenv("HOME") : "/nonexistent");
		p = path;
	}
	if (access(p, R_OK) != 0) {
		printf("skip: no real kernel at %s (tests/real-kernel.sh "
		    "caches one)\n", p);
		return;
	}
	CHECK_RC(inspect(p, &info), BD_OK, "a real Debian kernel");
	if (info.format == NULL)
		return;
	CHECK(strcmp(info.format, "bzimage") == 0 &&
	    strcmp(info.arch, "x86_64") == 0 && info.efi && info.xen_pv &&
	    info.pvh && strcmp(info.os, "Linux") == 0 &&
	    strncmp(info.version, "6.", 2) == 0,
	    "Debian kernel: bzImage x86_64, EFI stub, Xen PV and PVH, version "
	    "%s", info.version);
}

int
main(void)
{
	struct image_info info;
	char text[200];
	const char *p;

	if (mkdtemp(dir) == NULL)
		return 1;
	expect("FreeBSD i386 XEN", make("i386", "i386"), "elf", "i386", true,
	    false, false, "", "FreeBSD");
	expect("FreeBSD amd64 XEN", make("amd64", "amd64"), "elf", "x86_64",
	    true, false, false, "", "FreeBSD");
	expect("i386 without Xen", make("plain", "plain-i386"), "elf", "i386",
	    false, false, false, "", "FreeBSD");
	expect("Linux vmlinux, PV and PVH", make("vmlinux", "linux-amd64 xen,pvh"),
	    "elf", "x86_64", true, true, false, "", "Linux");
	expect("Linux vmlinux, PVH only", make("vmlinux-pvh", "linux-amd64 pvh"),
	    "elf", "x86_64", false, true, false, "", "Linux");
	expect("Linux vmlinux, no Xen", make("vmlinux-kvm", "linux-i386 none"),
	    "elf", "i386", false, false, false, "", "Linux");
	p = make("kernel.gz", "elf.gz i386");
	expect("gzip-compressed ELF", p, "elf.gz", "i386", true, false, false, "",
	    "FreeBSD");
	prefixes("gzip-compressed ELF", p, 97);
	p = make("bz-gzip", "bzimage gzip efi,xen,pvh");
	expect("bzImage, gzip, EFI, Xen PV", p, "bzimage", "x86_64", true, true,
	    true, "6.1.0-99-test", "Linux");
	prefixes("bzImage gzip", p, 61);
	p = make("bz-xz", "bzimage xz efi");
	expect("bzImage, xz, EFI, no Xen", p, "bzimage", "x86_64", false, false,
	    true, "6.1.0-99-test", "Linux");
	prefixes("bzImage xz", p, 61);
	p = make("bz-zstd", "bzimage zstd xen");
	expect("bzImage, zstd, no EFI stub", p, "bzimage", "x86_64", true, false,
	    false, "6.1.0-99-test", "Linux");
	prefixes("bzImage zstd", p, 61);
	expect("bzImage, 32-bit payload", make("bz-i386", "bzimage gzip i386,xen"),
	    "bzimage", "i386", true, false, false, "6.1.0-99-test", "Linux");
	refused("bzImage with an lz4 payload", make("bz-lz4", "bzimage lz4 efi"),
	    "a Linux bzImage with an lz4 payload");
	prefixes("FreeBSD i386 XEN", make("i386", "i386"), 13);

	/* Hand-made refusals, each naming what was found. */
	p = make("bz-gzip2", "bzimage gzip efi");
	{
		size_t len = 0;
		uint8_t *buf = file_bytes(p, &len);

		if (buf != NULL) {
			buf[0x206] = 0x06;	/* boot protocol 2.06 */
			CHECK(image_inspect(buf, len, &info) == BD_ERR_ELF &&
			    strstr(bd_err_detail(), "boot protocol 2.06") !=
			    NULL, "an old bzImage refused: %s", bd_err_detail());
			buf[0x206] = 0x0f;
			buf[0x84] = 0x64;	/* PE machine: aarch64 (0xaa64) */
			buf[0x85] = 0xaa;
			CHECK(image_inspect(buf, len, &info) == BD_ERR_ELF &&
			    strstr(bd_err_detail(), "EFI stub") != NULL,
			    "an aarch64 EFI stub refused: %s", bd_err_detail());
			buf[0x84] = 0x64;
			buf[0x85] = 0x86;
			buf[len - 40] ^= 0xff;	/* break the gzip data */
			CHECK(image_inspect(buf, len, &info) != BD_OK,
			    "a bzImage with broken gzip refused: %s",
			    bd_err_detail());
			free(buf);
		}
	}
	CHECK(image_inspect((const uint8_t *)"MZ\0\0", 4, &info) == BD_ERR_ELF &&
	    strstr(bd_err_detail(), "PE/COFF") != NULL, "a PE file named: %s",
	    bd_err_detail());
	CHECK(image_inspect((const uint8_t *)"#!/bin/sh\n", 10, &info) ==
	    BD_ERR_ELF && strstr(bd_err_detail(), "script") != NULL,
	    "a script named: %s", bd_err_detail());
	CHECK(image_inspect((const uint8_t *)"not a kernel", 12, &info) ==
	    BD_ERR_ELF, "text refused: %s", bd_err_detail());
	{
		/* an aarch64 ELF: refused naming the machine */
		uint8_t elf[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };

		elf[16] = 2;
		elf[18] = 183;
		CHECK(image_inspect(elf, sizeof(elf), &info) == BD_ERR_ELF &&
		    strstr(bd_err_detail(), "machine 183") != NULL,
		    "an aarch64 ELF named: %s", bd_err_detail());
	}
	/* A gzip bomb: more than IMAGE_UNPACK_MAX_BYTES of zeros. */
	{
		char cmd[512];
		size_t len = 0;
		uint8_t *buf;

		snprintf(cmd, sizeof(cmd), "head -c %zu /dev/zero | gzip -1 >"
		    " '%s/bomb.gz'", IMAGE_UNPACK_MAX_BYTES + (1 << 20), dir);
		if (system(cmd) == 0) {
			snprintf(cmd, sizeof(cmd), "%s/bomb.gz", dir);
			buf = file_bytes(cmd, &len);
			CHECK(buf != NULL && image_inspect(buf, len, &info) ==
			    BD_ERR_TOOBIG, "a gzip bomb stops at the cap: %s",
			    bd_err_detail());
			free(buf);
		}
	}
	inspect(make("bz-gzip3", "bzimage gzip efi,xen"), &info);
	image_describe(&info, text, sizeof(text));
	CHECK(strcmp(text, "bzImage x86_64, Xen PV, EFI stub, Linux "
	    "6.1.0-99-test") == 0, "described: %s", text);
	real_kernel();
	snprintf(text, sizeof(text), "rm -rf '%s'", dir);
	if (system(text) != 0)
		return 1;
	return check_done();
}
