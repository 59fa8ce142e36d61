/*
 * chain_verify.h - the one answer to "does a holder of this trust reach
 * this manifest?" (DESIGN.md, "The client's trust and the walk"), used by
 * bootdrop-fetch (versions fetched from mirrors), bootdrop-server's pages
 * and bootdrop-publish verify (versions read from the repository):
 *
 *   1. directly, when the newest envelope carries the trust's threshold
 *      of the trust's keys and its own threshold of its own keys (and,
 *      when it is the accepted version + 1, names that version's hash as
 *      prev);
 *   2. otherwise by walking the versions from the accepted version + 1
 *      (1 without one) up to the newest, each a valid successor of the
 *      one before (manifest_verify_successor(); version 1 against the
 *      trust alone), at most CHAIN_MAX_VERSIONS steps, ending at exactly
 *      the newest envelope's bytes.
 *
 * Without an anchor the walk is the channel's own chain: version 1 judged
 * by its own keys (manifest_verify_self()) and every version walked, with
 * no shortcut and no cap on its length - what a publisher checks of its
 * own repository.
 *
 * Expiry is never judged here (intermediate versions may have expired;
 * the caller judges the newest).  The walk is an iterator, so a caller
 * may offer several candidates for one version (one per mirror) and the
 * walk only moves on an accepted one:
 *
 *	chain_walk_begin(&w, anchor, channel, env, len);
 *	while ((v = chain_walk_next(&w)) != 0)
 *		... chain_walk_offer(&w, bytes of version v) until BD_OK ...
 *	chain_walk_finish(&w, &newest);
 *	chain_walk_clear(&w);
 *
 * chain_reach() runs that loop over a reader for callers with one source.
 */
#ifndef BOOTDROP_CHAIN_VERIFY_H
#define BOOTDROP_CHAIN_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "manifest.h"

/*
 * Versions a walk from a trust may follow: each costs a request or a file
 * read, and a server judges walks for its pages.
 */
#define CHAIN_MAX_VERSIONS	1024

struct chain_walk {
	/* for the caller to read */
	uint64_t newest;		/* version the newest envelope names */
	size_t steps;			/* versions followed; 0: direct */
	bool direct;			/* accepted without walking */
	struct bd_accepted before;	/* the trust before `last` */
	const struct bd_manifest *last;	/* last accepted, borrowed */
	/* the walk's own */
	const char *channel;
	const uint8_t *env;		/* the newest envelope, borrowed */
	size_t len;
	bool self;			/* version 1 by its own keys */
	struct bd_accepted cur;		/* last accepted (or the anchor) */
	uint64_t next;			/* intermediate wanted, 0: none */
	struct bd_manifest *m;		/* owned: what `last` points at */
	bool finished;
};

/*
 * Starts judging env (len bytes, the newest envelope, borrowed until
 * chain_walk_clear()) for channel.  anchor->keys is the trust and
 * anchor->version the accepted version (0: none, with its
 * payload_sha256 otherwise); anchor NULL walks the channel's own chain.
 * BD_OK when accepted directly or a walk is needed; otherwise the direct
 * refusal (nothing to walk to, or more than CHAIN_MAX_VERSIONS steps).
 * Call chain_walk_clear() either way.
 */
enum bd_err chain_walk_begin(struct chain_walk *w,
    const struct bd_accepted *anchor, const char *channel,
    const uint8_t *env, size_t len);

/* The intermediate version the walk needs next; 0: chain_walk_finish(). */
uint64_t chain_walk_next(const struct chain_walk *w);

/*
 * Judges buf (len bytes) as version chain_walk_next(w).  On BD_OK the walk
 * moves on (w->last is that version); otherwise the refusal, with a
 * detail "version N: <rule>", leaves the walk where it was, so another
 * copy (another mirror's) may be offered.
 */
enum bd_err chain_walk_offer(struct chain_walk *w, const uint8_t *buf,
    size_t len);

/*
 * Judges the newest envelope as the last link (or hands over the direct
 * acceptance).  Returns the newest in *out; free with manifest_free().
 */
enum bd_err chain_walk_finish(struct chain_walk *w, struct bd_manifest **out);

/* True when w->last states other keys than w->before (a rotation). */
bool chain_walk_keys_changed(const struct chain_walk *w);

void chain_walk_clear(struct chain_walk *w);

/*
 * Reads version `version`'s envelope (capped at MANIFEST_MAX_BYTES) into
 * a new buffer *buf (free with free()).
 */
typedef enum bd_err (*chain_read_fn)(void *ctx, uint64_t version,
    uint8_t **buf, size_t *len);

/*
 * The whole walk over one source: a holder of anchor (NULL: the chain's
 * own) reaches env through the versions read returns.  The newest in
 * *out (free with manifest_free()); *steps as w->steps.
 */
enum bd_err chain_reach(const struct bd_accepted *anchor, const char *channel,
    const uint8_t *env, size_t len, chain_read_fn read, void *ctx,
    struct bd_manifest **out, size_t *steps);

#endif
