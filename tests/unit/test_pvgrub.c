/* Unit test for elf_pvgrub_check (common/elf.c): the pvgrub/kernel arch mismatch refused. */
#include <stdio.h>
#include <string.h>

#include "elf.h"

static int fails;

static void
expect(const char *desc, enum bd_err got, enum bd_err want, const char *detail)
{
	if (got != want) {
		printf("FAIL: %s: got %s, want %s (%s)\n", desc, bd_strerror(got),
		    bd_strerror(want), bd_err_detail());
		fails++;
	} else if (detail != NULL && strcmp(bd_err_detail(), detail) != 0) {
		printf("FAIL: %s: detail \"%s\", want \"%s\"\n", desc,
		    bd_err_detail(), detail);
		fails++;
	} else {
		printf("ok: %s\n", desc);
	}
	bd_err_clear();
}

int
main(void)
{
	const struct elf_info i386 = { 32, "i386", true };
	const struct elf_info amd64 = { 64, "amd64", true };
	const struct elf_info arm = { 64, "aarch64", true };
	const struct elf_info plain = { 32, "i386", false };

	expect("i386 kernel, i386 pvgrub", elf_pvgrub_check(&i386, "i386", "i386"), BD_OK, NULL);
	expect("amd64 kernel, amd64 pvgrub", elf_pvgrub_check(&amd64, "amd64", "amd64"), BD_OK, NULL);
	expect("no --pvgrub, matching boot arch", elf_pvgrub_check(&i386, "i386", NULL), BD_OK, NULL);
	expect("no boot arch, no --pvgrub", elf_pvgrub_check(&amd64, NULL, NULL), BD_OK, NULL);
	expect("i386 kernel, amd64 pvgrub", elf_pvgrub_check(&i386, "i386", "amd64"),
	    BD_ERR_ELF, "i386 kernel cannot be loaded by amd64 pvgrub");
	expect("amd64 kernel, i386 pvgrub", elf_pvgrub_check(&amd64, NULL, "i386"),
	    BD_ERR_ELF, "amd64 kernel cannot be loaded by i386 pvgrub");
	expect("kernel disagrees with the manifest's boot arch",
	    elf_pvgrub_check(&i386, "amd64", NULL), BD_ERR_ELF,
	    "i386 kernel, but the manifest's boot arch is amd64");
	expect("aarch64 kernel", elf_pvgrub_check(&arm, NULL, "amd64"), BD_ERR_ELF,
	    "64-bit aarch64 kernel cannot be loaded by pvgrub (i386 or amd64 only)");
	expect("kernel without Xen notes", elf_pvgrub_check(&plain, "i386", "i386"),
	    BD_ERR_ELF, "i386 kernel has no Xen PV guest information; pvgrub cannot boot it");
	expect("bad --pvgrub", elf_pvgrub_check(&i386, "i386", "x86"), BD_ERR_USAGE, NULL);
	expect("refusal exits 3", bd_err_exit_status(elf_pvgrub_check(&i386, NULL, "amd64")) == 3 ?
	    BD_OK : BD_ERR_ELF, BD_OK, NULL);
	return fails != 0;
}
