/*
 * chain_verify.c - direct acceptance of the newest manifest, or the walk
 * over the versions between a trust and it (see chain_verify.h).  Every
 * link is judged by manifest_verify_successor(), the one successor rule;
 * the newest is the exact envelope the caller holds, never read again.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain_verify.h"

#define CHAIN_DETAIL_BYTES	512

/*
 * Judges the envelope of version v against w->cur: the version before,
 * or for v = 1 the trust alone (or, walking the chain's own, version 1's
 * own keys).  Returns a new manifest in *m.
 */
static enum bd_err
link_verify(const struct chain_walk *w, uint64_t v, const uint8_t *buf,
    size_t len, struct bd_manifest **m)
{
	struct bd_trust trust;
	char saved[CHAIN_DETAIL_BYTES];
	enum bd_err rc;

	*m = NULL;
	if (w->cur.version > 0) {
		rc = manifest_verify_successor(&w->cur, buf, len, w->channel,
		    m);
	} else {
		if (w->self)
			rc = manifest_verify_self(buf, len, w->channel, m);
		else {
			keyset_trust(&w->cur.keys, &trust);
			rc = manifest_verify_load(buf, len, &trust, w->channel,
			    m);
		}
		if (rc == BD_OK && (*m)->version != 1) {
			rc = bd_fail(BD_ERR_CHAIN, "1.json holds version %"
			    PRIu64, (*m)->version);
			manifest_free(*m);
			*m = NULL;
		}
	}
	if (rc != BD_OK) {
		snprintf(saved, sizeof(saved), "%s", bd_err_detail());
		return bd_fail(rc, "version %" PRIu64 ": %s", v, saved);
	}
	return BD_OK;
}

/* w->m becomes the last accepted version, m. */
static void
advance(struct chain_walk *w, struct bd_manifest *m)
{
	w->before = w->cur;
	manifest_accepted(m, &w->cur);
	manifest_free(w->m);
	w->m = m;
	w->last = m;
	w->steps++;
}

enum bd_err
chain_walk_begin(struct chain_walk *w, const struct bd_accepted *anchor,
    const char *channel, const uint8_t *env, size_t len)
{
	char direct[CHAIN_DETAIL_BYTES] = "";
	struct bd_manifest *m = NULL, *u = NULL;
	struct bd_trust trust;
	enum bd_err rc = BD_OK, direct_rc = BD_OK;

	memset(w, 0, sizeof(*w));
	w->channel = channel;
	w->env = env;
	w->len = len;
	w->self = anchor == NULL;
	if (anchor != NULL) {
		w->cur = *anchor;
		keyset_trust(&anchor->keys, &trust);
		bd_err_clear();
		direct_rc = manifest_verify_load(env, len, &trust, channel, &m);
		if (direct_rc == BD_OK) {
			if (anchor->version > 0 &&
			    m->version == anchor->version + 1 &&
			    (rc = manifest_check_link(anchor, m)) != BD_OK)
				goto out;
			w->direct = true;
			w->before = *anchor;
			w->m = m;
			w->last = m;
			w->newest = m->version;
			m = NULL;
			goto out;
		}
		snprintf(direct, sizeof(direct), "%s", bd_err_detail());
	}

	/*
	 * The newest's version only bounds the walk: the walk ends by
	 * verifying these very bytes as a successor.
	 */
	if ((rc = manifest_load_unverified(env, len, &u)) != BD_OK ||
	    u->version <= w->cur.version) {
		if (!w->self)
			rc = bd_fail(direct_rc, "%s", direct);
		goto out;
	}
	w->newest = u->version;
	if (!w->self && w->newest - w->cur.version > CHAIN_MAX_VERSIONS) {
		rc = bd_fail(BD_ERR_CHAIN, "version %" PRIu64 " is not signed "
		    "by the trusted keys (%s), and following the chain to it "
		    "takes %" PRIu64 " steps, more than %d", w->newest, direct,
		    w->newest - w->cur.version, CHAIN_MAX_VERSIONS);
		goto out;
	}
	w->next = w->cur.version + 1 < w->newest ? w->cur.version + 1 : 0;
out:
	manifest_free(m);
	manifest_free(u);
	return rc;
}

uint64_t
chain_walk_next(const struct chain_walk *w)
{
	return w->finished ? 0 : w->next;
}

enum bd_err
chain_walk_offer(struct chain_walk *w, const uint8_t *buf, size_t len)
{
	struct bd_manifest *m;
	uint64_t v = w->next;
	enum bd_err rc;

	if (v == 0 || w->finished)
		return bd_fail(BD_ERR_USAGE, "no version wanted");
	if ((rc = link_verify(w, v, buf, len, &m)) != BD_OK)
		return rc;
	advance(w, m);
	w->next = v + 1 < w->newest ? v + 1 : 0;
	return BD_OK;
}

enum bd_err
chain_walk_finish(struct chain_walk *w, struct bd_manifest **out)
{
	struct bd_manifest *m;
	enum bd_err rc;

	*out = NULL;
	if (w->next != 0 || w->finished || (w->m == NULL && w->newest == 0))
		return bd_fail(BD_ERR_USAGE, "the walk is not at its end");
	if (!w->direct) {
		if ((rc = link_verify(w, w->newest, w->env, w->len, &m)) !=
		    BD_OK)
			return rc;
		advance(w, m);
	}
	/* w->last stays valid: it is *out, now the caller's */
	*out = w->m;
	w->m = NULL;
	w->finished = true;
	return BD_OK;
}

bool
chain_walk_keys_changed(const struct chain_walk *w)
{
	return w->last != NULL && w->before.version > 0 &&
	    !keyset_equal(&w->before.keys, &w->last->keys);
}

void
chain_walk_clear(struct chain_walk *w)
{
	manifest_free(w->m);
	memset(w, 0, sizeof(*w));
}

enum bd_err
chain_reach(const struct bd_accepted *anchor, const char *channel,
    const uint8_t *env, size_t len, chain_read_fn read, void *ctx,
    struct bd_manifest **out, size_t *steps)
{
	char saved[CHAIN_DETAIL_BYTES];
	struct chain_walk w;
	uint8_t *buf;
	size_t blen;
	uint64_t v;
	enum bd_err rc;

	*out = NULL;
	*steps = 0;
	if ((rc = chain_walk_begin(&w, anchor, channel, env, len)) != BD_OK)
		goto out;
	while ((v = chain_walk_next(&w)) != 0) {
		buf = NULL;
		blen = 0;
		if ((rc = read(ctx, v, &buf, &blen)) != BD_OK) {
			snprintf(saved, sizeof(saved), "%s", bd_err_detail());
			rc = bd_fail(rc, "version %" PRIu64 ": %s", v, saved);
			goto out;
		}
		rc = chain_walk_offer(&w, buf, blen);
		free(buf);
		if (rc != BD_OK)
			goto out;
	}
	if ((rc = chain_walk_finish(&w, out)) == BD_OK)
		*steps = w.steps;
out:
	chain_walk_clear(&w);
	return rc;
}
