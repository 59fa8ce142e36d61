/*
 * elf.c - just enough ELF to tell a boot loader's needs: class, machine,
 * and Xen PV guest information.  Every offset read from the image is
 * bounds-checked against the bytes we have; nothing is trusted.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "elf.h"

#define EI_NIDENT	16
#define ET_EXEC		2
#define PT_NOTE		4
#define SHT_NOTE	7
#define ELF_MAX_HEADERS	4096

struct reader {
	const uint8_t *buf;
	size_t len;
	bool be;	/* big-endian image */
	bool is64;
};

static const struct {
	unsigned em;
	const char *name;
} machines[] = {
	{ 3, "i386" }, { 62, "amd64" }, { 40, "arm" }, { 183, "aarch64" },
	{ 20, "powerpc" }, { 21, "powerpc64" }, { 243, "riscv" },
	{ 8, "mips" }, { 2, "sparc" }, { 43, "sparc64" },
};

static bool
in_bounds(const struct reader *r, uint64_t off, uint64_t n)
{
	return off <= r->len && n <= r->len - off;
}

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
getw(const struct reader *r, uint64_t off)
{
	return get(r, off, r->is64 ? 8 : 4);
}

/* Returns true if the note area [off, off+size) holds a note owned by "Xen". */
static bool
notes_have_xen(const struct reader *r, uint64_t off, uint64_t size)
{
	uint64_t end, namesz, descsz;

	if (!in_bounds(r, off, size))
		return false;
	end = off + size;
	while (end - off >= 12) {
		namesz = get(r, off, 4);
		descsz = get(r, off + 4, 4);
		off += 12;
		if (namesz > end - off)
			return false;
		if (namesz == 4 && memcmp(r->buf + off, "Xen", 4) == 0)
			return true;
		off += (namesz + 3) & ~(uint64_t)3;
		if (off > end || descsz > end - off)
			return false;
		off += (descsz + 3) & ~(uint64_t)3;
	}
	return false;
}

static bool
segments_have_xen(const struct reader *r, uint64_t phoff, uint64_t phentsize,
    uint64_t phnum)
{
	uint64_t i, ph, type, off, size;

	for (i = 0; i < phnum; i++) {
		ph = phoff + i * phentsize;
		if (!in_bounds(r, ph, phentsize))
			return false;
		type = get(r, ph, 4);
		if (type != PT_NOTE)
			continue;
		off = r->is64 ? get(r, ph + 8, 8) : get(r, ph + 4, 4);
		size = r->is64 ? get(r, ph + 32, 8) : get(r, ph + 16, 4);
		if (notes_have_xen(r, off, size))
			return true;
	}
	return false;
}

static bool
sections_have_xen(const struct reader *r, uint64_t shoff, uint64_t shentsize,
    uint64_t shnum, uint64_t shstrndx)
{
	static const char xen_guest[] = "__xen_guest";
	uint64_t i, sh, stroff = 0, strsize = 0, name, type, off, size;
	unsigned woff = r->is64 ? 8 : 4;

	if (shstrndx < shnum && in_bounds(r, shoff + shstrndx * shentsize,
	    shentsize)) {
		sh = shoff + shstrndx * shentsize;
		stroff = getw(r, sh + 8 + 2 * woff);
		size = getw(r, sh + 8 + 3 * woff);
		if (in_bounds(r, stroff, size))
			strsize = size;
	}
	for (i = 0; i < shnum; i++) {
		sh = shoff + i * shentsize;
		if (!in_bounds(r, sh, shentsize))
			return false;
		name = get(r, sh, 4);
		type = get(r, sh + 4, 4);
		off = getw(r, sh + 8 + 2 * woff);
		size = getw(r, sh + 8 + 3 * woff);
		if (name < strsize && strsize - name >= sizeof(xen_guest) &&
		    memcmp(r->buf + stroff + name, xen_guest,
		    sizeof(xen_guest)) == 0)
			return true;
		if (type == SHT_NOTE && notes_have_xen(r, off, size))
			return true;
	}
	return false;
}

enum bd_err
elf_inspect(const uint8_t *buf, size_t len, struct elf_info *info)
{
	struct reader r = { .buf = buf, .len = len };
	uint64_t em, phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx;
	unsigned woff;
	size_t i;

	if (len < 52 || memcmp(buf, "\177ELF", 4) != 0)
		return bd_fail(BD_ERR_ELF, "not an ELF file");
	if (buf[4] != 1 && buf[4] != 2)
		return bd_fail(BD_ERR_ELF, "bad ELF class %u", buf[4]);
	if (buf[5] != 1 && buf[5] != 2)
		return bd_fail(BD_ERR_ELF, "bad ELF data encoding %u", buf[5]);
	if (buf[6] != 1)
		return bd_fail(BD_ERR_ELF, "bad ELF version %u", buf[6]);
	r.is64 = buf[4] == 2;
	r.be = buf[5] == 2;
	if (r.is64 && len < 64)
		return bd_fail(BD_ERR_ELF, "truncated ELF header");
	if (get(&r, 16, 2) != ET_EXEC)
		return bd_fail(BD_ERR_ELF, "not an ELF executable (e_type %llu)",
		    (unsigned long long)get(&r, 16, 2));

	em = get(&r, 18, 2);
	woff = r.is64 ? 8 : 4;
	phoff = getw(&r, 24 + woff);
	shoff = getw(&r, 24 + 2 * woff);
	phentsize = get(&r, 24 + 3 * woff + 6, 2);
	phnum = get(&r, 24 + 3 * woff + 8, 2);
	shentsize = get(&r, 24 + 3 * woff + 10, 2);
	shnum = get(&r, 24 + 3 * woff + 12, 2);
	shstrndx = get(&r, 24 + 3 * woff + 14, 2);
	if (phnum > ELF_MAX_HEADERS || shnum > ELF_MAX_HEADERS)
		return bd_fail(BD_ERR_ELF, "too many ELF headers");
	if ((phnum > 0 && phentsize < (r.is64 ? 56u : 32u)) ||
	    (shnum > 0 && shentsize < (r.is64 ? 64u : 40u)))
		return bd_fail(BD_ERR_ELF, "bad ELF header entry size");

	info->class = r.is64 ? 64 : 32;
	info->machine = "unknown";
	for (i = 0; i < sizeof(machines) / sizeof(machines[0]); i++)
		if (machines[i].em == em)
			info->machine = machines[i].name;
	info->xen = segments_have_xen(&r, phoff, phentsize, phnum) ||
	    sections_have_xen(&r, shoff, shentsize, shnum, shstrndx);
	return BD_OK;
}

enum bd_err
elf_inspect_fd(int fd, struct elf_info *info)
{
	struct stat st;
	size_t len;
	void *map;
	enum bd_err rc;

	if (fstat(fd, &st) != 0)
		return bd_fail(BD_ERR_IO, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return bd_fail(BD_ERR_ELF, "not an ELF file");
	/* Section headers sit at the end of a kernel: map all of it. */
	len = (uint64_t)st.st_size > ELF_MAP_MAX_BYTES ? ELF_MAP_MAX_BYTES :
	    (size_t)st.st_size;
	map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return bd_fail(BD_ERR_IO, "mmap: %s", strerror(errno));
	rc = elf_inspect(map, len, info);
	munmap(map, len);
	return rc;
}

/* The machines pvgrub loads, which are also the arches it comes in. */
static const char *const pvgrub_arches[] = { "i386", "amd64" };

const char *
elf_pvgrub_arch(const char *machine)
{
	size_t i;

	for (i = 0; i < sizeof(pvgrub_arches) / sizeof(pvgrub_arches[0]); i++)
		if (machine != NULL && strcmp(machine, pvgrub_arches[i]) == 0)
			return pvgrub_arches[i];
	return NULL;
}

enum bd_err
elf_pvgrub_check(const struct elf_info *kernel, const char *boot_arch,
    const char *pvgrub)
{
	const char *arch = elf_pvgrub_arch(kernel->machine);

	if (pvgrub != NULL && elf_pvgrub_arch(pvgrub) == NULL)
		return bd_fail(BD_ERR_USAGE, "--pvgrub must be i386 or amd64, "
		    "not \"%s\"", pvgrub);
	if (arch == NULL)
		return bd_fail(BD_ERR_ELF, "%u-bit %s kernel cannot be loaded "
		    "by pvgrub (i386 or amd64 only)", kernel->class,
		    kernel->machine);
	if (!kernel->xen)
		return bd_fail(BD_ERR_ELF, "%s kernel has no Xen PV guest "
		    "information; pvgrub cannot boot it", arch);
	if (boot_arch != NULL && strcmp(boot_arch, arch) != 0)
		return bd_fail(BD_ERR_ELF, "%s kernel, but the manifest's boot "
		    "arch is %s", arch, boot_arch);
	if (pvgrub != NULL && strcmp(pvgrub, arch) != 0)
		return bd_fail(BD_ERR_ELF, "%s kernel cannot be loaded by %s "
		    "pvgrub", arch, pvgrub);
	return BD_OK;
}
