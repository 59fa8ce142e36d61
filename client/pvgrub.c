/*
 * pvgrub.c - refuses a kernel its pvgrub cannot load.  See pvgrub.h.
 */
#include <string.h>

#include "pvgrub.h"

enum bd_err
pvgrub_check(const struct elf_info *kernel, const char *boot_arch,
    const char *pvgrub)
{
	const char *arch = elf_pvgrub_arch(kernel->machine);

	if (pvgrub != NULL && strcmp(pvgrub, "i386") != 0 &&
	    strcmp(pvgrub, "amd64") != 0)
		return bd_fail(BD_ERR_USAGE, "--pvgrub must be i386 or amd64, not \"%s\"",
		    pvgrub);
	if (arch == NULL)
		return bd_fail(BD_ERR_ELF, "%u-bit %s kernel cannot be loaded by pvgrub "
		    "(i386 or amd64 only)", kernel->class, kernel->machine);
	if (!kernel->xen)
		return bd_fail(BD_ERR_ELF, "%s kernel has no Xen PV guest information; "
		    "pvgrub cannot boot it", arch);
	if (boot_arch != NULL && strcmp(boot_arch, arch) != 0)
		return bd_fail(BD_ERR_ELF, "%s kernel, but the manifest's boot arch is %s",
		    arch, boot_arch);
	if (pvgrub != NULL && strcmp(pvgrub, arch) != 0)
		return bd_fail(BD_ERR_ELF, "%s kernel cannot be loaded by %s pvgrub",
		    arch, pvgrub);
	return BD_OK;
}
