/*
 * image.c - reads a kernel image: ELF (32/64-bit, i386/x86_64), a
 * gzip-compressed ELF, or an x86 bzImage (boot-protocol header, version
 * string, PE/COFF EFI stub, and the ELF inside its compressed payload,
 * unpacked with zlib, liblzma or libzstd).  Every offset read from the
 * image is bounds-checked against the bytes we have; every decompression
 * stops at IMAGE_UNPACK_MAX_BYTES.  Nothing is trusted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "dynbuf.h"
#include "image.h"

#define ET_EXEC			2
#define EM_386			3
#define EM_X86_64		62
#define ELFOSABI_FREEBSD	9
#define ELFOSABI_NETBSD		2
#define PT_NOTE			4
#define SHT_NOTE		7
#define ELF_MAX_HEADERS		4096
#define XEN_ELFNOTE_ENTRY	1
#define XEN_ELFNOTE_GUEST_OS	6
#define XEN_ELFNOTE_LOADER	8
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* x86 boot protocol (Documentation/arch/x86/boot.rst) */
#define BZ_SETUP_SECTS		0x1f1
#define BZ_BOOT_FLAG		0x1fe
#define BZ_HEADER		0x202
#define BZ_VERSION		0x206
#define BZ_KERNEL_VERSION	0x20e
#define BZ_XLOADFLAGS		0x236
#define BZ_PAYLOAD_OFFSET	0x248
#define BZ_PAYLOAD_LENGTH	0x24c
#define BZ_MIN_BYTES		0x250
#define XLF_KERNEL_64		0x1
#define PE_OFFSET		0x3c
#define PE_MACHINE_I386		0x14c
#define PE_MACHINE_X86_64	0x8664

#define UNPACK_STEP_BYTES	((size_t)4 << 20)
#define WHAT_BYTES		96

struct reader {
	const uint8_t *buf;
	size_t len;
	bool be;	/* big-endian image */
	bool is64;
};

static bool
in_bounds(const struct reader *r, uint64_t off, uint64_t n)
{
	return off <= r->len && n <= r->len - off;
}

/* Reads n bytes at off; the caller has checked in_bounds(). */
static uint64_t
get(const struct reader *r, uint64_t off, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		unsigned shift = r->be ? 8 * (n - 1 - i) : 8 * i;
		v |= (uint64_t)r->buf[off + i] << shift;
	}
	return v;
}

/* Reads a natural-width field (4 bytes in ELF32, 8 in ELF64). */
static uint64_t
elf_word(const struct reader *r, uint64_t off)
{
	return get(r, off, r->is64 ? 8 : 4);
}

static uint64_t
le(const uint8_t *buf, size_t off, unsigned n)
{
	struct reader r = { .buf = buf, .len = off + n };

	return get(&r, off, n);
}

/* Copies a printable, NUL- or length-ended string into out (cap bytes). */
static void
copy_word(const uint8_t *s, size_t n, char *out, size_t cap)
{
	size_t i;

	for (i = 0; i < n && i + 1 < cap && s[i] > 0x20 && s[i] < 0x7f &&
	    s[i] != ','; i++)
		out[i] = (char)s[i];
	out[i] = '\0';
}

/* Walks the note area [off, off+size), recording Xen notes in info. */
static void
notes_scan(const struct reader *r, uint64_t off, uint64_t size,
    struct image_info *info)
{
	uint64_t end, namesz, descsz, type, desc;

	if (!in_bounds(r, off, size))
		return;
	end = off + size;
	while (end - off >= 12) {
		namesz = get(r, off, 4);
		descsz = get(r, off + 4, 4);
		type = get(r, off + 8, 4);
		off += 12;
		if (namesz > end - off)
			return;
		desc = off + ((namesz + 3) & ~(uint64_t)3);
		if (desc > end || descsz > end - desc)
			return;
		if (namesz == 4 && memcmp(r->buf + off, "Xen", 4) == 0) {
			if (type == XEN_ELFNOTE_ENTRY ||
			    type == XEN_ELFNOTE_LOADER)
				info->xen_pv = true;
			else if (type == XEN_ELFNOTE_PHYS32_ENTRY)
				info->pvh = true;
			else if (type == XEN_ELFNOTE_GUEST_OS &&
			    info->os[0] == '\0')
				copy_word(r->buf + desc, descsz, info->os,
				    sizeof(info->os));
		}
		off = desc + ((descsz + 3) & ~(uint64_t)3);
		if (off > end)
			return;
	}
}

static void
segments_scan(const struct reader *r, uint64_t phoff, uint64_t phentsize,
    uint64_t phnum, struct image_info *info)
{
	uint64_t i, ph, off, size;

	for (i = 0; i < phnum; i++) {
		ph = phoff + i * phentsize;
		if (!in_bounds(r, ph, phentsize))
			return;
		if (get(r, ph, 4) != PT_NOTE)
			continue;
		off = r->is64 ? get(r, ph + 8, 8) : get(r, ph + 4, 4);
		size = r->is64 ? get(r, ph + 32, 8) : get(r, ph + 16, 4);
		notes_scan(r, off, size, info);
	}
}

/* "GUEST_OS=FreeBSD,..." in a __xen_guest section: the OS, if named. */
static void
xen_guest_os(const struct reader *r, uint64_t off, uint64_t size,
    struct image_info *info)
{
	static const char key[] = "GUEST_OS=";
	const uint8_t *p;

	if (!in_bounds(r, off, size) || size < sizeof(key) - 1)
		return;
	p = memmem(r->buf + off, size, key, sizeof(key) - 1);
	if (p != NULL && info->os[0] == '\0')
		copy_word(p + sizeof(key) - 1,
		    (size_t)(r->buf + off + size - p) - (sizeof(key) - 1),
		    info->os, sizeof(info->os));
}

static void
sections_scan(const struct reader *r, uint64_t shoff, uint64_t shentsize,
    uint64_t shnum, uint64_t shstrndx, struct image_info *info)
{
	static const char xen_guest[] = "__xen_guest";
	uint64_t i, sh, stroff = 0, strsize = 0, name, type, off, size;
	unsigned woff = r->is64 ? 8 : 4;

	if (shstrndx < shnum && in_bounds(r, shoff + shstrndx * shentsize,
	    shentsize)) {
		sh = shoff + shstrndx * shentsize;
		stroff = elf_word(r, sh + 8 + 2 * woff);
		size = elf_word(r, sh + 8 + 3 * woff);
		if (in_bounds(r, stroff, size))
			strsize = size;
	}
	for (i = 0; i < shnum; i++) {
		sh = shoff + i * shentsize;
		if (!in_bounds(r, sh, shentsize))
			return;
		name = get(r, sh, 4);
		type = get(r, sh + 4, 4);
		off = elf_word(r, sh + 8 + 2 * woff);
		size = elf_word(r, sh + 8 + 3 * woff);
		if (name < strsize && strsize - name >= sizeof(xen_guest) &&
		    memcmp(r->buf + stroff + name, xen_guest,
		    sizeof(xen_guest)) == 0) {
			info->xen_pv = true;
			xen_guest_os(r, off, size, info);
		}
		if (type == SHT_NOTE)
			notes_scan(r, off, size, info);
	}
}

/* Reads an ELF executable for i386 or x86_64 into info (format untouched). */
static enum bd_err
elf_read(const uint8_t *buf, size_t len, struct image_info *info)
{
	struct reader r = { .buf = buf, .len = len };
	uint64_t em, phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx;
	unsigned woff;

	if (len < 52 || memcmp(buf, "\177ELF", 4) != 0)
		return bd_fail(BD_ERR_ELF, "not an ELF file");
	if (buf[4] != 1 && buf[4] != 2)
		return bd_fail(BD_ERR_ELF, "an ELF file of unknown class %u",
		    buf[4]);
	if (buf[5] != 1 && buf[5] != 2)
		return bd_fail(BD_ERR_ELF, "an ELF file of unknown data "
		    "encoding %u", buf[5]);
	if (buf[6] != 1)
		return bd_fail(BD_ERR_ELF, "an ELF file of unknown version %u",
		    buf[6]);
	r.is64 = buf[4] == 2;
	r.be = buf[5] == 2;
	if (r.is64 && len < 64)
		return bd_fail(BD_ERR_ELF, "a truncated ELF header");
	if (get(&r, 16, 2) != ET_EXEC)
		return bd_fail(BD_ERR_ELF, "an ELF file that is not an "
		    "executable (e_type %llu)",
		    (unsigned long long)get(&r, 16, 2));
	em = get(&r, 18, 2);
	if (r.be || (em != EM_386 && em != EM_X86_64))
		return bd_fail(BD_ERR_ELF, "a %u-bit ELF executable for machine "
		    "%llu, not i386 or x86_64", r.is64 ? 64 : 32,
		    (unsigned long long)em);
	woff = r.is64 ? 8 : 4;
	phoff = elf_word(&r, 24 + woff);
	shoff = elf_word(&r, 24 + 2 * woff);
	phentsize = get(&r, 24 + 3 * woff + 6, 2);
	phnum = get(&r, 24 + 3 * woff + 8, 2);
	shentsize = get(&r, 24 + 3 * woff + 10, 2);
	shnum = get(&r, 24 + 3 * woff + 12, 2);
	shstrndx = get(&r, 24 + 3 * woff + 14, 2);
	if (phnum > ELF_MAX_HEADERS || shnum > ELF_MAX_HEADERS)
		return bd_fail(BD_ERR_ELF, "an ELF file with too many headers");
	if ((phnum > 0 && phentsize < (r.is64 ? 56u : 32u)) ||
	    (shnum > 0 && shentsize < (r.is64 ? 64u : 40u)))
		return bd_fail(BD_ERR_ELF, "an ELF file with a bad header "
		    "entry size");
	info->elf_class = r.is64 ? 64 : 32;
	info->arch = em == EM_386 ? "i386" : "x86_64";
	segments_scan(&r, phoff, phentsize, phnum, info);
	sections_scan(&r, shoff, shentsize, shnum, shstrndx, info);
	if (info->os[0] == '\0' && buf[7] == ELFOSABI_FREEBSD)
		snprintf(info->os, sizeof(info->os), "FreeBSD");
	if (info->os[0] == '\0' && buf[7] == ELFOSABI_NETBSD)
		snprintf(info->os, sizeof(info->os), "NetBSD");
	if (strcmp(info->os, "linux") == 0)
		snprintf(info->os, sizeof(info->os), "Linux");
	return BD_OK;
}

/* The decompressed payload: a dynbuf capped at IMAGE_UNPACK_MAX_BYTES. */
struct unpacked {
	struct dynbuf d;
};

/* Makes room for at least one more step; false at the cap or on ENOMEM. */
static bool
unpacked_grow(struct unpacked *u)
{
	return dynbuf_grow(&u->d) == BD_OK;
}

static enum bd_err
unpack_too_big(const char *what)
{
	return bd_fail(BD_ERR_TOOBIG, "%s decompresses to more than %zu MiB "
	    "(or memory ran out)", what, IMAGE_UNPACK_MAX_BYTES >> 20);
}

/* Inflates the first gzip member of src into u. */
static enum bd_err
unpack_gzip(const uint8_t *src, size_t n, struct unpacked *u,
    const char *what)
{
	z_stream z;
	int zr = Z_OK;
	enum bd_err rc = BD_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return bd_fail(BD_ERR_NOMEM, "zlib");
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
	while (zr != Z_STREAM_END) {
		if (!unpacked_grow(u)) {
			rc = unpack_too_big(what);
			break;
		}
		z.next_out = u->d.p + u->d.len;
		z.avail_out = (uInt)dynbuf_room(&u->d);
		zr = inflate(&z, Z_NO_FLUSH);
		dynbuf_added(&u->d, dynbuf_room(&u->d) - z.avail_out);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
			rc = bd_fail(BD_ERR_ELF, "%s: broken gzip data", what);
			break;
		}
		if (zr == Z_BUF_ERROR && z.avail_out > 0) {
			rc = bd_fail(BD_ERR_ELF, "%s: truncated gzip data", what);
			break;
		}
	}
	inflateEnd(&z);
	return rc;
}

static enum bd_err
unpack_xz(const uint8_t *src, size_t n, struct unpacked *u, const char *what)
{
	lzma_stream z = LZMA_STREAM_INIT;
	lzma_ret lr = LZMA_OK;
	enum bd_err rc = BD_OK;

	if (lzma_stream_decoder(&z, (uint64_t)1 << 28, 0) != LZMA_OK)
		return bd_fail(BD_ERR_NOMEM, "liblzma");
	z.next_in = src;
	z.avail_in = n;
	while (lr != LZMA_STREAM_END) {
		if (!unpacked_grow(u)) {
			rc = unpack_too_big(what);
			break;
		}
		z.next_out = u->d.p + u->d.len;
		z.avail_out = dynbuf_room(&u->d);
		lr = lzma_code(&z, LZMA_FINISH);
		dynbuf_added(&u->d, dynbuf_room(&u->d) - z.avail_out);
		if (lr != LZMA_OK && lr != LZMA_STREAM_END &&
		    !(lr == LZMA_BUF_ERROR && z.avail_out == 0)) {
			rc = bd_fail(BD_ERR_ELF, "%s: broken or truncated xz "
			    "data", what);
			break;
		}
	}
	lzma_end(&z);
	return rc;
}

static enum bd_err
unpack_zstd(const uint8_t *src, size_t n, struct unpacked *u,
    const char *what)
{
	ZSTD_DStream *z;
	ZSTD_inBuffer in = { src, n, 0 };
	ZSTD_outBuffer out;
	size_t zr = 1;
	enum bd_err rc = BD_OK;

	if ((z = ZSTD_createDStream()) == NULL)
		return bd_fail(BD_ERR_NOMEM, "libzstd");
	/* refuse frames that ask for a window above the cap */
	(void)ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, 27);
	while (zr != 0) {
		if (!unpacked_grow(u)) {
			rc = unpack_too_big(what);
			break;
		}
		out.dst = u->d.p + u->d.len;
		out.size = dynbuf_room(&u->d);
		out.pos = 0;
		zr = ZSTD_decompressStream(z, &out, &in);
		dynbuf_added(&u->d, out.pos);
		if (ZSTD_isError(zr)) {
			rc = bd_fail(BD_ERR_ELF, "%s: broken zstd data", what);
			break;
		}
		if (zr != 0 && in.pos == in.size && out.pos < out.size) {
			rc = bd_fail(BD_ERR_ELF, "%s: truncated zstd data", what);
			break;
		}
	}
	ZSTD_freeDStream(z);
	return rc;
}

/* The compression a payload's magic says, or NULL with *other named. */
static const char *
payload_kind(const uint8_t *p, size_t n, const char **other)
{
	*other = NULL;
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return "gzip";
	if (n >= 6 && memcmp(p, "\3757zXZ\0", 6) == 0)
		return "xz";
	if (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
		return "zstd";
	if (n >= 3 && memcmp(p, "BZh", 3) == 0)
		*other = "bzip2";
	else if (n >= 3 && p[0] == 0x5d && p[1] == 0 && p[2] == 0)
		*other = "lzma";
	else if (n >= 4 && memcmp(p, "\x89LZO", 4) == 0)
		*other = "lzo";
	else if (n >= 4 && memcmp(p, "\x02\x21\x4c\x18", 4) == 0)
		*other = "lz4";
	else
		*other = "unrecognised";
	return NULL;
}

static enum bd_err
unpack(const char *kind, const uint8_t *src, size_t n, struct unpacked *u,
    const char *what)
{
	if (strcmp(kind, "gzip") == 0)
		return unpack_gzip(src, n, u, what);
	if (strcmp(kind, "xz") == 0)
		return unpack_xz(src, n, u, what);
	return unpack_zstd(src, n, u, what);
}

/* Only the Linux/x86 PE stub's machine numbers, for a detail. */
static const char *
pe_machine(unsigned m)
{
	return m == PE_MACHINE_X86_64 ? "x86_64" : m == PE_MACHINE_I386 ?
	    "i386" : "another machine";
}

/* True when buf has an "MZ" header pointing at a "PE\0\0" header. */
static bool
has_pe(const uint8_t *buf, size_t len, unsigned *machine)
{
	uint64_t pe;

	if (len < PE_OFFSET + 4 || buf[0] != 'M' || buf[1] != 'Z')
		return false;
	pe = le(buf, PE_OFFSET, 4);
	if (pe > len || len - pe < 6 || memcmp(buf + pe, "PE\0\0", 4) != 0)
		return false;
	*machine = (unsigned)le(buf, (size_t)pe + 4, 2);
	return true;
}

/* The kernel version string's first word (boot protocol >= 2.00). */
static void
bz_version(const uint8_t *buf, size_t len, unsigned setup_end,
    struct image_info *info)
{
	uint64_t off = le(buf, BZ_KERNEL_VERSION, 2);
	const uint8_t *p, *nul;

	if (off == 0)
		return;
	off += 0x200;
	if (off >= len || off >= setup_end)
		return;
	p = buf + off;
	nul = memchr(p, '\0', setup_end - off);
	if (nul == NULL)
		return;
	copy_word(p, (size_t)(nul - p), info->version, sizeof(info->version));
	if (!image_version_valid(info->version))
		info->version[0] = '\0';
}

static enum bd_err
bzimage_read(const uint8_t *buf, size_t len, struct image_info *info)
{
	char what[WHAT_BYTES], saved[256];
	struct image_info inner;
	struct unpacked u;
	const char *kind, *other;
	uint64_t setup_sects, setup_end, proto, poff, plen;
	unsigned machine;
	enum bd_err rc;

	dynbuf_init(&u.d, IMAGE_UNPACK_MAX_BYTES, UNPACK_STEP_BYTES);
	if (len < BZ_MIN_BYTES)
		return bd_fail(BD_ERR_ELF, "a truncated bzImage header");
	proto = le(buf, BZ_VERSION, 2);
	setup_sects = buf[BZ_SETUP_SECTS] == 0 ? 4 : buf[BZ_SETUP_SECTS];
	setup_end = (setup_sects + 1) * 512;
	info->format = "bzimage";
	snprintf(info->os, sizeof(info->os), "Linux");
	if (proto >= 0x200)
		bz_version(buf, len, (unsigned)(setup_end < len ? setup_end :
		    len), info);
	if (has_pe(buf, len, &machine)) {
		if (machine != PE_MACHINE_X86_64 && machine != PE_MACHINE_I386)
			return bd_fail(BD_ERR_ELF, "a bzImage whose EFI stub is "
			    "for %s (PE machine 0x%x)", pe_machine(machine),
			    machine);
		info->efi = true;
	}
	if (proto < 0x208)
		return bd_fail(BD_ERR_ELF, "a bzImage of boot protocol %u.%02u "
		    "(before 2.08, its payload cannot be located)",
		    (unsigned)(proto >> 8), (unsigned)(proto & 0xff));
	poff = le(buf, BZ_PAYLOAD_OFFSET, 4);
	plen = le(buf, BZ_PAYLOAD_LENGTH, 4);
	if (setup_end > len || poff > len - setup_end ||
	    plen > len - setup_end - poff || plen == 0)
		return bd_fail(BD_ERR_ELF, "a truncated bzImage (its payload "
		    "lies beyond the file)");
	if ((kind = payload_kind(buf + setup_end + poff, plen, &other)) ==
	    NULL)
		return bd_fail(BD_ERR_ELF, "a Linux bzImage with a%s %s "
		    "payload: bootdrop reads gzip, xz and zstd payloads",
		    other[0] == 'b' ? "" : "n", other);
	snprintf(what, sizeof(what), "the bzImage's %s payload", kind);
	if ((rc = unpack(kind, buf + setup_end + poff, plen, &u, what)) !=
	    BD_OK)
		goto out;
	memset(&inner, 0, sizeof(inner));
	if ((rc = elf_read(u.d.p, u.d.len, &inner)) != BD_OK) {
		snprintf(saved, sizeof(saved), "%s", bd_err_detail());
		rc = bd_fail(rc, "a bzImage whose %s payload is %s", kind, saved);
		goto out;
	}
	info->arch = inner.arch;
	info->elf_class = inner.elf_class;
	info->xen_pv = inner.xen_pv;
	info->pvh = inner.pvh;
	if (proto >= 0x20c && (buf[BZ_XLOADFLAGS] & XLF_KERNEL_64) != 0 &&
	    strcmp(info->arch, "x86_64") != 0) {
		rc = bd_fail(BD_ERR_ELF, "a bzImage that says it is 64-bit "
		    "holding a %s ELF", info->arch);
		goto out;
	}
out:
	dynbuf_free(&u.d);
	return rc;
}

enum bd_err
image_inspect(const uint8_t *buf, size_t len, struct image_info *info)
{
	char saved[256];
	struct unpacked u;
	enum bd_err rc;

	memset(info, 0, sizeof(*info));
	dynbuf_init(&u.d, IMAGE_UNPACK_MAX_BYTES, UNPACK_STEP_BYTES);
	if (len >= 4 && memcmp(buf, "\177ELF", 4) == 0) {
		info->format = "elf";
		return elf_read(buf, len, info);
	}
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
		if ((rc = unpack_gzip(buf, len, &u, "the gzip file")) == BD_OK) {
			info->format = "elf.gz";
			if ((rc = elf_read(u.d.p, u.d.len, info)) != BD_OK) {
				snprintf(saved, sizeof(saved), "%s",
				    bd_err_detail());
				rc = bd_fail(rc, "a gzip file holding %s", saved);
			}
		}
		dynbuf_free(&u.d);
		return rc;
	}
	if (len >= BZ_HEADER + 4 && memcmp(buf + BZ_HEADER, "HdrS", 4) == 0 &&
	    le(buf, BZ_BOOT_FLAG, 2) == 0xaa55)
		return bzimage_read(buf, len, info);
	if (len >= 2 && buf[0] == 'M' && buf[1] == 'Z')
		return bd_fail(BD_ERR_ELF, "a PE/COFF (EFI or DOS) executable "
		    "that is not a Linux bzImage");
	if (len >= 4 && memcmp(buf, "\3757zX", 4) == 0)
		return bd_fail(BD_ERR_ELF, "an xz file (bootdrop reads gzip-"
		    "compressed ELF kernels; decompress it first)");
	if (len >= 2 && buf[0] == '#' && buf[1] == '!')
		return bd_fail(BD_ERR_ELF, "a script, not a kernel");
	return bd_fail(BD_ERR_ELF, "not a kernel bootdrop reads (ELF, "
	    "gzip-compressed ELF or x86 bzImage)");
}

enum bd_err
image_inspect_fd(int fd, struct image_info *info)
{
	struct stat st;
	size_t len;
	void *map;
	enum bd_err rc;

	memset(info, 0, sizeof(*info));
	if (fstat(fd, &st) != 0)
		return bd_fail(BD_ERR_IO, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return bd_fail(BD_ERR_ELF, "an empty file or not a regular file");
	/* Section headers sit at the end of a kernel: map all of it. */
	len = (uint64_t)st.st_size > IMAGE_MAP_MAX_BYTES ? IMAGE_MAP_MAX_BYTES :
	    (size_t)st.st_size;
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return bd_fail(BD_ERR_IO, "mmap: %s", strerror(errno));
	rc = image_inspect(map, len, info);
	munmap(map, len);
	return rc;
}
