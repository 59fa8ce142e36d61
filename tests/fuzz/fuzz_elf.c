/* fuzz_elf.c - ELF inspection of arbitrary bytes (kernels are untrusted input). */
#include <stdint.h>

#include "elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_info info;

	if (elf_inspect(data, size, &info) == BD_OK && info.machine == NULL)
		__builtin_trap();
	return 0;
}
