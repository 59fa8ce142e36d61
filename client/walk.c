/*
 * walk.c - the client's side of chain_verify.h: the trust this slice
 * holds, and the versions the walk needs fetched from the mirrors in
 * turn.  Whether a version is accepted is chain_verify.c's decision
 * alone; here is only where its bytes come from and what is said.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_verify.h"
#include "layout.h"
#include "manifest.h"
#include "walk.h"

#define WALK_DETAIL_BYTES	512

enum bd_err
walk_anchor(const struct bd_state *st, const struct bd_keyset *cmdline,
    bool reset, struct bd_accepted *anchor, bool *disagree)
{
	memset(anchor, 0, sizeof(*anchor));
	*disagree = false;
	if (st->present) {
		anchor->version = st->version;
		memcpy(anchor->payload_sha256, st->payload_sha256,
		    SHA256_BYTES);
	}
	if (st->present && st->has_keys && !reset) {
		anchor->keys = st->keys;
		*disagree = cmdline->nkeys > 0 &&
		    !keyset_equal(cmdline, &st->keys);
		return BD_OK;
	}
	if (cmdline->nkeys == 0)
		return bd_fail(BD_ERR_USAGE, st->present && st->has_keys ?
		    "--reset-trust needs -P KEY or -p PUBFILE" :
		    "no trusted key: give -P KEY or -p PUBFILE");
	anchor->keys = *cmdline;
	return BD_OK;
}

bool
walk_version_url(const char *mirror, const char *channel, uint64_t version,
    char *out, size_t cap)
{
	char rel[LAYOUT_PATH_BYTES];
	int n;

	layout_version_path(channel, version, rel);
	n = snprintf(out, cap, "%s/%s", mirror, rel);
	return n >= 0 && (size_t)n < cap;
}

enum bd_err
walk_get_version(struct dl *dl, const char *mirror, const char *channel,
    uint64_t version, uint8_t **buf, size_t *len, bool *missing, char *url,
    size_t url_cap)
{
	enum bd_err rc;

	*buf = NULL;
	*len = 0;
	*missing = false;
	if (!walk_version_url(mirror, channel, version, url, url_cap))
		return bd_fail(BD_ERR_USAGE, "URL too long");
	rc = dl_get_buf(dl, url, MANIFEST_MAX_BYTES, buf, len);
	if (rc == BD_OK)
		return BD_OK;
	*missing = dl_failure_missing(dl_failure(dl));
	return bd_fail(rc, "%s", dl_detail(dl));
}

/*
 * One intermediate version, from the mirrors in turn starting at *at.
 * On success *at is the mirror that had it.  Otherwise: the first broken
 * link any mirror served (exit 3), else "missing everywhere" (exit 3),
 * else the transport failure (exit 2).
 */
static enum bd_err
walk_step(struct dl *dl, struct report *r, const char *const *mirrors,
    size_t nmirrors, size_t *at, const char *channel, struct chain_walk *w,
    struct walk_stats *stats, char *where, size_t where_cap)
{
	char url[DL_URL_MAX_BYTES], broken_url[DL_URL_MAX_BYTES] = "";
	char net_url[DL_URL_MAX_BYTES] = "", missing_url[DL_URL_MAX_BYTES] = "";
	char broken[WALK_DETAIL_BYTES] = "", net[WALK_DETAIL_BYTES] = "";
	enum bd_err rc, broken_rc = BD_OK, net_rc = BD_OK;
	bool missing, any_missing = false;
	uint64_t v = chain_walk_next(w);
	uint8_t *buf;
	size_t len, k, i;

	for (k = 0; k < nmirrors; k++) {
		i = (*at + k) % nmirrors;
		stats->requests++;
		rc = walk_get_version(dl, mirrors[i], channel, v, &buf, &len,
		    &missing, url, sizeof(url));
		if (rc == BD_OK) {
			rc = chain_walk_offer(w, buf, len);
			free(buf);
			if (rc == BD_OK) {
				*at = i;
				return BD_OK;
			}
		}
		if (rc == BD_ERR_USAGE || rc == BD_ERR_NOMEM)
			return rc;
		if (missing) {
			any_missing = true;
			snprintf(missing_url, sizeof(missing_url), "%s", url);
		} else if (bd_err_exit_status(rc) == 2) {
			if (net_rc == BD_OK) {
				net_rc = rc;
				snprintf(net, sizeof(net), "%s", bd_err_detail());
				snprintf(net_url, sizeof(net_url), "%s", url);
			}
		} else if (broken_rc == BD_OK) {
			broken_rc = rc;
			snprintf(broken, sizeof(broken), "%s", bd_err_detail());
			snprintf(broken_url, sizeof(broken_url), "%s", url);
		}
		if (k + 1 < nmirrors)
			report_warn(r, "%s: %s: %s; trying the next mirror", url,
			    missing ? "not found" : bd_strerror(rc),
			    bd_err_detail());
	}
	if (broken_rc != BD_OK) {
		snprintf(where, where_cap, "%s", broken_url);
		return bd_fail(broken_rc, "%s", broken);
	}
	if (any_missing) {
		snprintf(where, where_cap, "%s", missing_url);
		return bd_fail(BD_ERR_CHAIN, "no chain of versions from the "
		    "trusted keys: version %" PRIu64 " is on no mirror", v);
	}
	snprintf(where, where_cap, "%s", net_url);
	return bd_fail(net_rc, "version %" PRIu64 ": %s", v, net);
}

enum bd_err
walk_accept(struct dl *dl, struct report *r, const char *const *mirrors,
    size_t nmirrors, size_t first, const char *channel,
    const struct bd_accepted *anchor, const uint8_t *env, size_t len,
    struct bd_manifest **out, struct walk_stats *stats, char *where,
    size_t where_cap)
{
	struct chain_walk w;
	enum bd_err rc;
	size_t at = first;

	*out = NULL;
	memset(stats, 0, sizeof(*stats));
	snprintf(where, where_cap, "%s", "");
	if ((rc = chain_walk_begin(&w, anchor, channel, env, len)) != BD_OK)
		goto out;
	if (!w.direct)
		report_info(r, "following the chain of %s from version %" PRIu64
		    " to %" PRIu64, channel, anchor->version + 1, w.newest);
	while (chain_walk_next(&w) != 0) {
		if ((rc = walk_step(dl, r, mirrors, nmirrors, &at, channel, &w,
		    stats, where, where_cap)) != BD_OK)
			goto out;
		if (chain_walk_keys_changed(&w))
			report_keys_changed(r, w.last->version, &w.before.keys,
			    &w.last->keys);
	}
	if ((rc = chain_walk_finish(&w, out)) != BD_OK) {
		snprintf(where, where_cap, "%s", mirrors[first]);
		goto out;
	}
	if (chain_walk_keys_changed(&w))
		report_keys_changed(r, w.last->version, &w.before.keys,
		    &w.last->keys);
	stats->steps = w.steps;
	if (!w.direct)
		report_info(r, "followed %zu version%s of %s (%zu request%s)",
		    stats->steps, stats->steps == 1 ? "" : "s", channel,
		    stats->requests, stats->requests == 1 ? "" : "s");
out:
	chain_walk_clear(&w);
	return rc;
}
