/*
 * walk.h - how bootdrop-fetch accepts a channel's newest manifest under
 * the trust it holds (DESIGN.md, "The client's trust and the walk").  The
 * decision is chain_verify.h's, shared with bootdrop-server's pages and
 * bootdrop-publish verify; this module fetches what it asks for:
 *
 *   1. directly, when the newest manifest carries the trust's threshold
 *      of the trust's keys and its own threshold of its own keys (and,
 *      when it is the accepted version + 1, names its hash as prev);
 *   2. otherwise by walking channels/<c>/<v>.json from the accepted
 *      version + 1 (1 without state) up to the newest, each version a
 *      valid successor of the one before, intermediate expiry ignored,
 *      at most CHAIN_MAX_VERSIONS steps, ending at exactly the bytes
 *      manifest.json served.
 *
 * A missing intermediate sends the walk to the next mirror; a broken link
 * refuses naming the version and the rule (BD_ERR_CHAIN or the signature
 * refusal); a version that no mirror has refuses with BD_ERR_CHAIN; only
 * a transport failure at every mirror is a network error.
 */
#ifndef BOOTDROP_WALK_H
#define BOOTDROP_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "download.h"
#include "err.h"
#include "manifest.h"
#include "progress.h"
#include "state.h"

/* Where the walk stands and what it cost. */
struct walk_stats {
	size_t requests;	/* versioned manifests fetched */
	size_t steps;		/* versions followed (0: accepted directly) */
};

/*
 * The trust of a run (DESIGN.md): the keys the state on the boot slice
 * recorded, unless reset or the state has none; else the command line's
 * (cmdline->nkeys 0: none given).  Fills anchor (version 0 without
 * state).  *disagree is set when the state's keys win over different
 * command-line keys.  BD_ERR_USAGE when there is no trust at all.
 */
enum bd_err walk_anchor(const struct bd_state *st,
    const struct bd_keyset *cmdline, bool reset, struct bd_accepted *anchor,
    bool *disagree);

/* The URL of channels/<channel>/<version>.json on mirror (cap bytes). */
bool walk_version_url(const char *mirror, const char *channel,
    uint64_t version, char *out, size_t cap);

/*
 * Fetches channels/<channel>/<version>.json from mirror (capped at
 * MANIFEST_MAX_BYTES).  BD_OK; BD_ERR_HTTP with *missing set for a 404
 * or 410; another failure of the download otherwise.  Free *buf.
 */
enum bd_err walk_get_version(struct dl *dl, const char *mirror,
    const char *channel, uint64_t version, uint8_t **buf, size_t *len,
    bool *missing, char *url, size_t url_cap);

/*
 * Accepts env (len bytes, what mirrors[first]'s manifest.json served)
 * under anchor: anchor->keys is the trust; anchor->version is the
 * accepted version (0: nothing accepted yet) and anchor->payload_sha256
 * its hash.  On success returns the newest manifest in *out (free with
 * manifest_free()).  On failure returns the refusal with bd_err_detail()
 * naming the version and the rule, and the URL it concerns in where.
 */
enum bd_err walk_accept(struct dl *dl, struct report *r,
    const char *const *mirrors, size_t nmirrors, size_t first,
    const char *channel, const struct bd_accepted *anchor,
    const uint8_t *env, size_t len, struct bd_manifest **out,
    struct walk_stats *stats, char *where, size_t where_cap);

#endif
