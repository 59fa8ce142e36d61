/*
 * repo.h - the publisher's view of a repository (its paths: layout.h).
 *
 * Publishing writes blobs first, then the versioned manifest, then
 * replaces manifest.json atomically, so a reader never sees a manifest
 * whose blobs are missing.
 */
#ifndef BOOTDROP_REPO_H
#define BOOTDROP_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "chain.h"
#include "err.h"
#include "key.h"
#include "manifest.h"

#define REPO_MAX_CHANNELS	1024
#define REPO_MAX_VERSIONS	100000

struct release_input {
	const char *name;	/* artifact name: "kernel", "world" or other */
	const char *path;	/* file to publish */
};

struct release_opts {
	const char *channel;
	struct bd_seckey *const *keys;	/* one signature per key */
	size_t nkeys;
	time_t now;
	time_t expires;
	const char *menu_lst;	/* NULL: default pvgrub menu; "" with no_menu */
	bool no_menu;
	const struct bd_keyset *trust;	/* new keys; NULL: the previous
					   version's (chain_next()) */
	unsigned threshold;	/* first version: of the signers' keys */
};

/* Default pvgrub menu.lst for a FreeBSD Xen kernel at /boot/kernel. */
extern const char repo_default_menu_lst[];

/* Opens (creating if create) a repository directory; returns its fd. */
enum bd_err repo_open(const char *path, bool create, int *fd);

/*
 * Publishes a release: stores every input as a blob, inspects the kernel's
 * ELF (refusing a non-ELF kernel), re-reads and verifies version N
 * (chain_head_load()), writes version N+1 signed by each key and replaces
 * manifest.json.  *version gets the new version.
 */
enum bd_err repo_release(int repofd, const struct release_opts *o,
    const struct release_input *in, size_t nin, uint64_t *version);

/*
 * Publishes m, whose payload fields are set (rotate and refresh copy them
 * from the head), as the version after h: chain_next() with o->trust,
 * signed by o->keys, checked as h's successor, written like a release.
 */
enum bd_err repo_publish_next(int repofd, const struct release_opts *o,
    const struct chain_head *h, struct bd_manifest *m);

/*
 * Reads channels/<channel>/<file> ("manifest.json" or "<n>.json"),
 * capped at MANIFEST_MAX_BYTES.  Free *buf with free().
 */
enum bd_err repo_read_manifest(int repofd, const char *channel,
    const char *file, uint8_t **buf, size_t *len);

/* Lists valid channel names, sorted.  Free with repo_names_free(). */
enum bd_err repo_list_channels(int repofd, char ***names, size_t *n);
void repo_names_free(char **names, size_t n);

/* Lists published versions of a channel, ascending.  Free with free(). */
enum bd_err repo_list_versions(int repofd, const char *channel,
    uint64_t **versions, size_t *n);

/*
 * Splits a command line's "NAME=FILE" in place (the '=' becomes a NUL) into
 * in, which points into arg; refuses a missing part or a bad name.
 */
enum bd_err repo_parse_input(char *arg, struct release_input *in);

#endif
