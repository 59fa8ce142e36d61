/*
 * mkkernel - writes a small sample kernel: an ELF executable (i386 or
 * amd64) carrying Xen PV guest information the way FreeBSD's XEN kernels
 * do (a "__xen_guest" section) plus Xen ELF notes in a PT_NOTE segment.
 * Used by the demo and the tests; it boots nothing.
 *
 * usage: mkkernel i386|amd64|plain-i386 FILE [TEXT_KIB]
 *   plain-i386: an i386 executable without any Xen information.
 *        mkkernel linux-i386|linux-amd64 FLAGS FILE [TEXT_KIB]
 *   a Linux-style ELF (vmlinux): Xen notes owned by "Xen" with GUEST_OS
 *   "linux"; FLAGS is a comma list of xen (XEN_ELFNOTE_ENTRY), pvh
 *   (XEN_ELFNOTE_PHYS32_ENTRY), or "none".
 *        mkkernel elf.gz i386|amd64 FILE
 *   the FreeBSD-style ELF, gzip-compressed.
 *        mkkernel bzimage gzip|xz|zstd|lz4 FLAGS FILE [TEXT_KIB]
 *   an x86 bzImage (boot protocol 2.15, version string "6.1.0-99-test")
 *   whose payload is a compressed linux-amd64 ELF; FLAGS as above plus
 *   efi (an MZ/PE header with an x86_64 PE machine), i386 (a 32-bit
 *   payload, no XLF_KERNEL_64).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#define BUF_MAX		(64u << 20)

static uint8_t *img;
static size_t len;
static int is64;

static void
put(size_t off, uint64_t v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		img[off + i] = (uint8_t)(v >> (8 * i));
}

static size_t
append(const void *p, size_t n)
{
	size_t off = (len + 3) & ~(size_t)3;

	memcpy(img + off, p, n);
	len = off + n;
	return off;
}

/* Appends one ELF note owned by "Xen"; notes stay 4-byte aligned. */
static void
note(unsigned type, const char *desc)
{
	size_t dlen = strlen(desc) + 1;
	size_t off = (len + 3) & ~(size_t)3;

	len = off + 12;
	put(off, 4, 4);
	put(off + 4, dlen, 4);
	put(off + 8, type, 4);
	append("Xen", 4);
	append(desc, dlen);
	len = (len + 3) & ~(size_t)3;
}

enum style { PLAIN, FREEBSD, LINUX };

/* Builds the ELF in img/len: machine 3 or 62, notes per style and flags. */
static void
build(int machine, enum style style, int xen_entry, int pvh, unsigned long kib)
{
	static const char shstr[] = "\0.text\0__xen_guest\0.note.Xen\0.shstrtab";
	static const char guest[] = "GUEST_OS=FreeBSD,GUEST_VER=9.0,"
	    "XEN_VER=xen-3.0,BSD_SYMTAB,VIRT_BASE=0xc0000000";
	size_t ehsize, phsize, shsize, text_off, text_len, guest_off, note_off,
	    note_len, str_off, sh_off, ph_off, i;
	int xen = style == FREEBSD;

	is64 = machine == 62;
	len = 0;
	memset(img, 0, BUF_MAX);
	ehsize = is64 ? 64 : 52;
	phsize = is64 ? 56 : 32;
	shsize = is64 ? 64 : 40;
	len = ehsize + 2 * phsize;
	ph_off = ehsize;

	/* .text: a recognisable, deterministic pattern. */
	text_len = kib * 1024;
	text_off = (len + 4095) & ~(size_t)4095;
	for (i = 0; i < text_len; i++)
		img[text_off + i] = (uint8_t)(i * 2654435761u >> 24);
	len = text_off + text_len;

	guest_off = xen ? append(guest, sizeof(guest)) : len;
	note_off = (len + 3) & ~(size_t)3;
	len = note_off;
	if (xen) {
		note(6, "FreeBSD");	/* XEN_ELFNOTE_GUEST_OS */
		note(5, "xen-3.0");	/* XEN_ELFNOTE_XEN_VERSION */
		note(8, "generic");	/* XEN_ELFNOTE_LOADER */
	}
	if (style == LINUX) {
		note(6, "linux");	/* XEN_ELFNOTE_GUEST_OS */
		note(5, "xen-3.0");	/* XEN_ELFNOTE_XEN_VERSION */
		if (xen_entry)
			note(1, "startup_xen");	/* XEN_ELFNOTE_ENTRY */
		if (pvh)
			note(18, "pvh_start_xen");	/* PHYS32_ENTRY */
	}
	note_len = len - note_off;
	str_off = append(shstr, sizeof(shstr));
	sh_off = (len + 7) & ~(size_t)7;
	len = sh_off + 5 * shsize;

	/* ELF header */
	memcpy(img, "\177ELF", 4);
	img[4] = is64 ? 2 : 1;
	img[5] = 1;
	img[6] = 1;
	img[7] = style == LINUX ? 0 : 9;	/* ELFOSABI_FREEBSD */
	put(16, 2, 2);	/* ET_EXEC */
	put(18, (uint64_t)machine, 2);
	put(20, 1, 4);
	if (is64) {
		put(24, 0xffffffff80200000ull + text_off, 8);
		put(32, ph_off, 8);
		put(40, sh_off, 8);
		put(52, ehsize, 2);
		put(54, phsize, 2);
		put(56, 2, 2);
		put(58, shsize, 2);
		put(60, 5, 2);
		put(62, 4, 2);
	} else {
		put(24, 0xc0000000u + text_off, 4);
		put(28, ph_off, 4);
		put(32, sh_off, 4);
		put(40, ehsize, 2);
		put(42, phsize, 2);
		put(44, 2, 2);
		put(46, shsize, 2);
		put(48, 5, 2);
		put(50, 4, 2);
	}

	/* Program headers: PT_LOAD for .text, PT_NOTE for the Xen notes. */
	for (i = 0; i < 2; i++) {
		size_t ph = ph_off + i * phsize;
		uint64_t type = i == 0 ? 1 : 4;
		uint64_t off = i == 0 ? text_off : note_off;
		uint64_t sz = i == 0 ? text_len : note_len;

		put(ph, type, 4);
		if (is64) {
			put(ph + 4, 5, 4);
			put(ph + 8, off, 8);
			put(ph + 32, sz, 8);
			put(ph + 40, sz, 8);
		} else {
			put(ph + 4, off, 4);
			put(ph + 16, sz, 4);
			put(ph + 20, sz, 4);
			put(ph + 24, 5, 4);
		}
	}

	/* Section headers: null, .text, __xen_guest, .note.Xen, .shstrtab. */
	{
		const struct { uint32_t name, type; uint64_t off, size; } sh[5] = {
			{ 0, 0, 0, 0 },
			{ 1, 1, text_off, text_len },
			{ xen ? 7 : 1, 1, guest_off, xen ? sizeof(guest) : 0 },
			{ 19, note_len > 0 ? 7 : 1, note_off, note_len },
			{ 29, 3, str_off, sizeof(shstr) },
		};
		for (i = 0; i < 5; i++) {
			size_t s = sh_off + i * shsize;

			put(s, sh[i].name, 4);
			put(s + 4, sh[i].type, 4);
			put(s + (is64 ? 24 : 16), sh[i].off, is64 ? 8 : 4);
			put(s + (is64 ? 32 : 20), sh[i].size, is64 ? 8 : 4);
		}
	}

}

static uint8_t *out;
static size_t outlen;

/* Compresses img[0..len) into out with the named method. */
static int
payload_compress(const char *how)
{
	size_t cap = len + len / 2 + 65536;

	if ((out = calloc(1, cap)) == NULL)
		return -1;
	if (strcmp(how, "gzip") == 0) {
		z_stream z;

		memset(&z, 0, sizeof(z));
		if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
		    Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		z.next_in = img;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		if (deflate(&z, Z_FINISH) != Z_STREAM_END)
			return -1;
		outlen = z.total_out;
		deflateEnd(&z);
	} else if (strcmp(how, "xz") == 0) {
		outlen = 0;
		if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, img, len,
		    out, &outlen, cap) != LZMA_OK)
			return -1;
	} else if (strcmp(how, "zstd") == 0) {
		outlen = ZSTD_compress(out, cap, img, len, 19);
		if (ZSTD_isError(outlen))
			return -1;
	} else if (strcmp(how, "lz4") == 0) {
		/* the magic only: the reader must refuse by name */
		memcpy(out, "\x02\x21\x4c\x18", 4);
		memcpy(out + 4, img, len);
		outlen = len + 4;
	} else
		return -1;
	/* the kernel's build appends the decompressed size, little-endian */
	out[outlen++] = (uint8_t)len;
	out[outlen++] = (uint8_t)(len >> 8);
	out[outlen++] = (uint8_t)(len >> 16);
	out[outlen++] = (uint8_t)(len >> 24);
	return 0;
}

/* Wraps out (the compressed payload) into a bzImage in img. */
static void
bzimage(int efi, int x64)
{
	static const char version[] = "6.1.0-99-test (builder@example) #1 SMP";
	size_t setup_sects = 3, setup_end = (setup_sects + 1) * 512;

	memset(img, 0, BUF_MAX);
	if (efi) {
		img[0] = 'M';
		img[1] = 'Z';
		put(0x3c, 0x80, 4);
		memcpy(img + 0x80, "PE\0\0", 4);
		put(0x84, 0x8664, 2);
	}
	img[0x1f1] = (uint8_t)setup_sects;
	put(0x1fe, 0xaa55, 2);
	memcpy(img + 0x202, "HdrS", 4);
	put(0x206, 0x020f, 2);		/* boot protocol 2.15 */
	put(0x20e, 0x300 - 0x200, 2);	/* kernel_version */
	memcpy(img + 0x300, version, sizeof(version));
	put(0x211, 0x01, 1);		/* LOADED_HIGH */
	put(0x236, x64 ? 0x1 : 0, 2);	/* xloadflags */
	put(0x248, 0x100, 4);		/* payload_offset */
	put(0x24c, outlen, 4);		/* payload_length */
	memcpy(img + setup_end + 0x100, out, outlen);
	len = setup_end + 0x100 + outlen;
}

static int
flag(const char *flags, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = flags; (p = strstr(p, name)) != NULL; p += n)
		if ((p == flags || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

static int
size_arg(const char *s, unsigned long *kib)
{
	char *end;

	errno = 0;
	*kib = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *kib == 0 || *kib > 32768) {
		fprintf(stderr, "mkkernel: bad size %s\n", s);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned long kib = 64;
	const char *file;
	FILE *f;

	if ((img = calloc(1, BUF_MAX)) == NULL)
		return 1;
	if (argc >= 4 && strcmp(argv[1], "bzimage") == 0) {
		if (argc < 5 || argc > 6 || (argc == 6 &&
		    size_arg(argv[5], &kib) != 0))
			goto usage;
		build(flag(argv[3], "i386") ? 3 : 62, LINUX,
		    flag(argv[3], "xen"), flag(argv[3], "pvh"), kib);
		if (payload_compress(argv[2]) != 0) {
			fprintf(stderr, "mkkernel: cannot compress with %s\n",
			    argv[2]);
			return 1;
		}
		bzimage(flag(argv[3], "efi"), !flag(argv[3], "i386"));
		file = argv[4];
	} else if (argc == 4 && strcmp(argv[1], "elf.gz") == 0) {
		build(strcmp(argv[2], "i386") == 0 ? 3 : 62, FREEBSD, 0, 0, kib);
		if (payload_compress("gzip") != 0)
			return 1;
		outlen -= 4;	/* a plain .gz: no appended size */
		memcpy(img, out, outlen);
		len = outlen;
		file = argv[3];
	} else if (argc >= 4 && strncmp(argv[1], "linux-", 6) == 0) {
		if (argc > 5 || (argc == 5 && size_arg(argv[4], &kib) != 0))
			goto usage;
		build(strcmp(argv[1], "linux-i386") == 0 ? 3 : 62, LINUX,
		    flag(argv[2], "xen"), flag(argv[2], "pvh"), kib);
		file = argv[3];
	} else if (argc >= 3 && argc <= 4) {
		if (argc == 4 && size_arg(argv[3], &kib) != 0)
			return 1;
		if (strcmp(argv[1], "i386") == 0)
			build(3, FREEBSD, 0, 0, kib);
		else if (strcmp(argv[1], "amd64") == 0)
			build(62, FREEBSD, 0, 0, kib);
		else if (strcmp(argv[1], "plain-i386") == 0)
			build(3, PLAIN, 0, 0, kib);
		else {
			fprintf(stderr, "mkkernel: unknown arch %s\n", argv[1]);
			return 1;
		}
		file = argv[2];
	} else
		goto usage;
	if ((f = fopen(file, "wb")) == NULL ||
	    fwrite(img, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "mkkernel: %s: %s\n", file, strerror(errno));
		return 1;
	}
	free(img);
	free(out);
	return 0;
usage:
	fprintf(stderr, "usage: mkkernel i386|amd64|plain-i386 FILE [TEXT_KIB]\n"
	    "       mkkernel linux-i386|linux-amd64 FLAGS FILE [TEXT_KIB]\n"
	    "       mkkernel elf.gz i386|amd64 FILE\n"
	    "       mkkernel bzimage gzip|xz|zstd|lz4 FLAGS FILE [TEXT_KIB]\n");
	return 1;
}
