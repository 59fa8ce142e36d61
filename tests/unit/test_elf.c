/*
 * test_elf.c - ELF facts of sample kernels made by tests/mkkernel, and
 * refusals of everything that is not an ELF executable.  Every prefix of a
 * kernel is inspected too: truncation must be refused or tolerated, never
 * read out of bounds (run under ASan in CI).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "elf.h"

static char dir[] = "/tmp/bootdrop-elf.XXXXXX";

/* Makes a sample kernel with tests/mkkernel and opens it. */
static int
sample(const char *arch, unsigned kib)
{
	char cmd[1024], path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, arch);
	snprintf(cmd, sizeof(cmd), "'%s/tests/mkkernel' %s '%s' %u",
	    getenv("BOOTDROP_BUILDDIR"), arch, path, kib);
	if (system(cmd) != 0)
		return -1;
	return open(path, O_RDONLY);
}

int
main(void)
{
	struct elf_info info;
	struct stat st;
	uint8_t *buf;
	size_t len, i;
	int fd;

	if (mkdtemp(dir) == NULL)
		return 1;

	fd = sample("i386", 3000);	/* section headers past 1 MiB */
	CHECK_RC(elf_inspect_fd(fd, &info), BD_OK, "i386 Xen kernel");
	CHECK(info.class == 32 && strcmp(info.machine, "i386") == 0 && info.xen,
	    "i386: class %u machine %s xen %d", info.class, info.machine,
	    info.xen);
	close(fd);

	fd = sample("amd64", 64);
	CHECK_RC(elf_inspect_fd(fd, &info), BD_OK, "amd64 Xen kernel");
	CHECK(info.class == 64 && strcmp(info.machine, "amd64") == 0 && info.xen,
	    "amd64: class %u machine %s xen %d", info.class, info.machine,
	    info.xen);
	CHECK(strcmp(elf_pvgrub_arch(info.machine), "amd64") == 0,
	    "amd64 needs the amd64 pvgrub");
	close(fd);

	fd = sample("plain-i386", 64);
	CHECK_RC(elf_inspect_fd(fd, &info), BD_OK, "i386 kernel without Xen");
	CHECK(!info.xen, "no Xen information found where there is none");
	CHECK(fstat(fd, &st) == 0, "stat plain kernel");
	len = (size_t)st.st_size;
	buf = malloc(len);
	CHECK(pread(fd, buf, len, 0) == (ssize_t)len, "read plain kernel");
	close(fd);

	/* Every truncation point: no crash, no out-of-bounds read. */
	for (i = 0; i < len; i += i < 4096 ? 1 : 509)
		(void)elf_inspect(buf, i, &info);
	CHECK(true, "all prefixes inspected without a fault");
	CHECK_RC(elf_inspect(buf, 40, &info), BD_ERR_ELF, "40-byte header refused");

	buf[16] = 3;	/* ET_DYN: a shared object, not a kernel */
	CHECK_RC(elf_inspect(buf, len, &info), BD_ERR_ELF, "ET_DYN refused");
	buf[16] = 2;
	buf[4] = 7;
	CHECK_RC(elf_inspect(buf, len, &info), BD_ERR_ELF, "bad class refused");
	buf[4] = 1;
	buf[44] = 0xff;	/* e_phnum huge with a tiny file */
	buf[45] = 0xff;
	CHECK_RC(elf_inspect(buf, len, &info), BD_ERR_ELF, "65535 program headers refused");
	memcpy(buf, "#!/bin/sh\n", 10);
	CHECK_RC(elf_inspect(buf, len, &info), BD_ERR_ELF, "a shell script refused");
	free(buf);

	CHECK(elf_pvgrub_arch("aarch64") == NULL, "no pvgrub for aarch64");
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		CHECK(system(cmd) == 0, "cleanup");
	}
	return check_done();
}
