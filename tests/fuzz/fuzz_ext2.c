/*
 * fuzz_ext2.c - client/ext2.c on the bytes of a damaged boot slice: the
 * image is opened read-only and checked, as a delta's seed is, and
 * boot/kernel read at any offset; then it is opened for writing (the
 * soundness check), the state file read,
 * an install path walked and hashed, and a file installed.  Whatever the
 * bytes: no crash, no hang, no leak; an install that succeeds reads back
 * the same, and leaves a file system that opens sound again.  The client
 * file is included whole, as the other targets do.
 *
 * Seeds (corpus_ext2): small mkfs.ext2 and mkfs.ext4 (metadata_csum, no
 * journal) images, one holding a boot slice's files.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../client/ext2.c"

#define FUZZ_IMAGE_MAX_BYTES	((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A delta's seed: the checked read-only open, and reads of boot/kernel at
 * its start, its end and past it.
 */
static void
fuzz_seed(const char *img)
{
	struct ext2_target *t = NULL;
	struct ext2_reader *r = NULL;
	uint8_t b[64];
	uint64_t size;

	if (ext2_open_checked(img, &t) != BD_OK)
		return;
	if (ext2_reader_open(t, "boot/kernel", &r, &size) == BD_OK &&
	    r != NULL) {
		(void)ext2_reader_pread(r, b, size < sizeof(b) ? (size_t)size :
		    sizeof(b), 0);
		if (size > sizeof(b))
			(void)ext2_reader_pread(r, b, sizeof(b),
			    size - sizeof(b));
		if (ext2_reader_pread(r, b, 1, size) != BD_ERR_SIZE)
			__builtin_trap();
	}
	ext2_reader_close(r);
	(void)ext2_close(t, false);
}

static void
fuzz_install(const char *img)
{
	static const char menu[] = "timeout 5\ntitle fuzz\n";
	struct ext2_target *t = NULL;
	uint8_t *buf = NULL, sum[SHA256_BYTES];
	size_t len;
	bool present;

	if (ext2_open(img, true, &t) != BD_OK)
		return;
	(void)ext2_read_file(t, ".bootdrop/state/test", 4096, &buf, &len);
	free(buf);
	buf = NULL;
	(void)ext2_hash(t, "boot/kernel", 6, sum, &present);
	if (ext2_install_bytes(t, "boot/grub/menu.lst", menu, sizeof(menu) - 1,
	    0644) != BD_OK) {
		(void)ext2_close(t, false);
		return;
	}
	if (ext2_read_file(t, "boot/grub/menu.lst", 4096, &buf, &len) != BD_OK ||
	    buf == NULL || len != sizeof(menu) - 1 || memcmp(buf, menu, len) != 0)
		__builtin_trap();
	free(buf);
	if (ext2_close(t, true) != BD_OK)
		return;
	/* Sound before, so sound after. */
	if (ext2_open(img, true, &t) != BD_OK)
		__builtin_trap();
	(void)ext2_close(t, true);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char img[64];
	size_t off = 0;
	ssize_t n;
	int fd;

	if (size > FUZZ_IMAGE_MAX_BYTES)
		return 0;
	if ((fd = memfd_create("fuzz_ext2", 0)) < 0)
		return 0;
	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	snprintf(img, sizeof(img), "/proc/self/fd/%d", fd);
	fuzz_seed(img);
	fuzz_install(img);
	bd_err_clear();
out:
	close(fd);
	return 0;
}
