/*
 * fuzz_grubenv.c - GRUB's environment block (common/grubenv.c): 1024
 * bytes GRUB, grub-editenv or a damaged disk wrote.  Whatever parses must
 * format back to the very same bytes (the parser accepts only the one
 * layout the formatter writes), and survive an edit.
 */
#include <stdint.h>
#include <string.h>

#include "grubenv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct grubenv env, again;
	uint8_t out[GRUBENV_BYTES];

	if (grubenv_parse(data, size, &env) != BD_OK)
		return 0;
	if (grubenv_format(&env, out) != BD_OK ||
	    memcmp(out, data, GRUBENV_BYTES) != 0)
		__builtin_trap();
	grubenv_unset(&env, GRUBENV_TRIAL);
	grubenv_unset(&env, GRUBENV_TRIED);
	if (grubenv_set(&env, GRUBENV_GOOD, "18446744073709551615") == BD_OK &&
	    grubenv_format(&env, out) == BD_OK &&
	    (grubenv_parse(out, sizeof(out), &again) != BD_OK ||
	    strcmp(grubenv_get(&again, GRUBENV_GOOD),
	    "18446744073709551615") != 0))
		__builtin_trap();
	return 0;
}
