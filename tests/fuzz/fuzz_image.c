/*
 * fuzz_image.c - the kernel image reader over arbitrary bytes (kernels are
 * untrusted input to the publisher): ELF, gzip-compressed ELF and bzImages
 * with gzip, xz and zstd payloads.  A read kernel has every fact filled.
 */
#include <stdint.h>
#include <string.h>

#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_info info;

	if (image_inspect(data, size, &info) == BD_OK &&
	    (info.format == NULL || info.arch == NULL ||
	    memchr(info.version, '\0', sizeof(info.version)) == NULL ||
	    memchr(info.os, '\0', sizeof(info.os)) == NULL))
		__builtin_trap();
	return 0;
}
