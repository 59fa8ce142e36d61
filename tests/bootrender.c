/*
 * bootrender - prints a boot configuration file exactly as bootdrop-fetch
 * renders it, for the shell tests to compare installed files with:
 *
 *   bootrender pvgrub|grub|bls N NEW.json [PREV.json]
 *
 * NEW.json and PREV.json are manifest envelopes (signatures not checked:
 * the tests made them); PREV.json is the version installed before (its
 * entry second, kernel kept as .old where NEW replaces it); N picks the
 * file (bls writes one per entry; 0 otherwise).  Exit 1 on any failure.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "fsutil.h"
#include "manifest.h"

static struct bd_manifest *
load(const char *path)
{
	struct bd_manifest *m = NULL;
	uint8_t *buf = NULL;
	size_t len;

	if (file_read_capped(AT_FDCWD, path, MANIFEST_MAX_BYTES, &buf,
	    &len) != BD_OK || manifest_load_unverified(buf, len, &m) != BD_OK)
		fprintf(stderr, "bootrender: %s: %s\n", path, bd_err_detail());
	free(buf);
	return m;
}

int
main(int argc, char **argv)
{
	struct boot_file files[BOOT_MAX_ENTRIES];
	struct bd_manifest *m = NULL, *prev = NULL;
	struct bd_prev_boot pb;
	struct bd_boot_view v;
	unsigned loader;
	size_t n = 0;
	long k;
	int status = 1;

	if (argc < 4 || argc > 5 || (loader = boot_loader_parse(argv[1])) == 0) {
		fprintf(stderr, "usage: bootrender pvgrub|grub|bls N NEW.json "
		    "[PREV.json]\n");
		return 1;
	}
	k = strtol(argv[2], NULL, 10);
	if ((m = load(argv[3])) == NULL ||
	    (argc == 5 && (prev = load(argv[4])) == NULL))
		goto out;
	if (manifest_boot_view(m, prev != NULL && manifest_prev_boot(prev, &pb) ?
	    &pb : NULL, true, &v) != BD_OK ||
	    boot_render(loader, &v.config, files, &n) != BD_OK) {
		fprintf(stderr, "bootrender: %s\n", bd_err_detail());
		goto out;
	}
	if (k >= 0 && (size_t)k < n &&
	    fwrite(files[k].text, 1, files[k].len, stdout) == files[k].len)
		status = 0;
	boot_files_free(files, n);
out:
	manifest_free(m);
	manifest_free(prev);
	return status;
}
