/*
 * mkkernel - writes a small sample kernel: an ELF executable (i386 or
 * amd64) carrying Xen PV guest information the way FreeBSD's XEN kernels
 * do (a "__xen_guest" section) plus Xen ELF notes in a PT_NOTE segment.
 * Used by the demo and the tests; it boots nothing.
 *
 * usage: mkkernel i386|amd64|plain-i386 FILE [TEXT_KIB]
 *   plain-i386: an i386 executable without any Xen information.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
main(int argc, char **argv)
{
	static const char shstr[] = "\0.text\0__xen_guest\0.note.Xen\0.shstrtab";
	static const char guest[] = "GUEST_OS=FreeBSD,GUEST_VER=9.0,"
	    "XEN_VER=xen-3.0,BSD_SYMTAB,VIRT_BASE=0xc0000000";
	size_t ehsize, phsize, shsize, text_off, text_len, guest_off, note_off,
	    note_len, str_off, sh_off, ph_off, i;
	unsigned long kib = 64;
	int xen = 1, machine;
	char *end;
	FILE *f;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: mkkernel i386|amd64|plain-i386 FILE [TEXT_KIB]\n");
		return 1;
	}
	if (strcmp(argv[1], "i386") == 0)
		machine = 3;
	else if (strcmp(argv[1], "amd64") == 0)
		machine = 62, is64 = 1;
	else if (strcmp(argv[1], "plain-i386") == 0)
		machine = 3, xen = 0;
	else {
		fprintf(stderr, "mkkernel: unknown arch %s\n", argv[1]);
		return 1;
	}
	if (argc == 4) {
		errno = 0;
		kib = strtoul(argv[3], &end, 10);
		if (errno != 0 || *end != '\0' || kib == 0 || kib > 32768) {
			fprintf(stderr, "mkkernel: bad size %s\n", argv[3]);
			return 1;
		}
	}
	if ((img = calloc(1, BUF_MAX)) == NULL)
		return 1;

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
	note_len = len - note_off;
	str_off = append(shstr, sizeof(shstr));
	sh_off = (len + 7) & ~(size_t)7;
	len = sh_off + 5 * shsize;

	/* ELF header */
	memcpy(img, "\177ELF", 4);
	img[4] = is64 ? 2 : 1;
	img[5] = 1;
	img[6] = 1;
	img[7] = 9;	/* ELFOSABI_FREEBSD */
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
			{ 19, xen ? 7 : 1, note_off, note_len },
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

	if ((f = fopen(argv[2], "wb")) == NULL ||
	    fwrite(img, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "mkkernel: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	free(img);
	return 0;
}
