/*
 * image_facts.c - the names and checks of image.h's facts, without the
 * reader (image.c) and its decoders: what manifest.c and the client need.
 */
#include <stdio.h>
#include <string.h>

#include "image.h"

static const char *const formats[] = { "elf", "elf.gz", "bzimage", NULL };
static const char *const arches[] = { "i386", "x86_64", NULL };

static const char *
lookup(const char *const *list, const char *s)
{
	for (; s != NULL && *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return *list;
	return NULL;
}

const char *
image_format_name(const char *s)
{
	return lookup(formats, s);
}

const char *
image_arch_name(const char *s)
{
	return lookup(arches, s);
}

bool
image_version_valid(const char *s)
{
	size_t i;
	char c;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; (c = s[i]) != '\0'; i++)
		if (i >= IMAGE_VERSION_MAX_BYTES - 1 ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._+~-", c) != NULL))
			return false;
	return true;
}

void
image_describe(const struct image_info *info, char *out, size_t cap)
{
	/* a bzImage is Linux's, whatever a manifest left unsaid */
	const char *os = info->os[0] != '\0' ? info->os :
	    strcmp(info->format, "bzimage") == 0 ? "Linux" : "";

	snprintf(out, cap, "%s %s%s%s%s%s%s%s%s",
	    strcmp(info->format, "bzimage") == 0 ? "bzImage" :
	    strcmp(info->format, "elf.gz") == 0 ? "gzip-compressed ELF" : "ELF",
	    info->arch, info->xen_pv ? ", Xen PV" : "",
	    info->pvh ? ", PVH" : "", info->efi ? ", EFI stub" : "",
	    os[0] != '\0' ? ", " : "", os,
	    info->version[0] != '\0' ? " " : "", info->version);
}
