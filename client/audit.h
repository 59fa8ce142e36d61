/*
 * audit.h - bootdrop-fetch --audit: anyone can check a channel's history.
 * For every mirror, fetch manifest.json, walk channels/<c>/<v>.json from
 * version 1 to the newest checking every link (version 1 against -P/-p
 * when given, else by its own keys), then compare the mirrors version by
 * version.  Writes nothing anywhere.
 *
 * Exit status: 0 every mirror's chain is valid and all agree on every
 * version they share; 3 a broken link, a missing version or a fork (two
 * payloads for one version, both hashes named); 2 a mirror that could not
 * be reached, when nothing worse was found.
 */
#ifndef BOOTDROP_AUDIT_H
#define BOOTDROP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "download.h"
#include "key.h"

#define AUDIT_MAX_VERSIONS	65536

struct audit_opts {
	struct dl *dl;
	const char *const *mirrors;
	size_t nmirrors;
	const char *channel;
	const struct bd_pubkey *keys;	/* nkeys 0: version 1 by its own keys */
	size_t nkeys;
	unsigned threshold;
	bool json;			/* one object per mirror and version */
	bool quiet;			/* only the problems */
};

/* Runs the audit, prints its table or JSON; returns the exit status. */
int audit_run(const struct audit_opts *o);

#endif
