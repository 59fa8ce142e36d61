/*
 * index.h - the cache behind bootdrop-server's "/" page: each channel's
 * parsed manifest.json, kept while the file is the same (device, inode,
 * size, mtime, ctime), and the rendered page, kept until something under
 * channels/ changes (inotify on channels/ and on each channel directory;
 * where inotify is missing or out of watches, each second) or the
 * next expiry shown on it passes.  A request for "/" then costs one
 * non-blocking read of the inotify descriptor and a copy of the page,
 * whatever the number of channels.
 *
 * It also keeps, per channel and per key the server shows, whether a
 * guest holding that key alone reaches manifest.json (chain_reach(), the
 * walk bootdrop-fetch makes), while manifest.json is the same file: a
 * walk of up to CHAIN_MAX_VERSIONS versions is made once per published
 * version, never per request, and one at a time.
 */
#ifndef BOOTDROP_INDEX_H
#define BOOTDROP_INDEX_H

#include <stddef.h>

#include "err.h"
#include "key.h"
#include "manifest.h"

#define INDEX_REACH_DETAIL_BYTES	320

/* Whether a guest holding one key reaches a channel's newest manifest. */
struct index_reach {
	enum bd_err rc;			/* BD_OK: reached */
	uint64_t version;		/* what it reaches (when BD_OK) */
	size_t steps;			/* versions walked; 0: directly */
	char detail[INDEX_REACH_DETAIL_BYTES];	/* the refusal, when not */
};

struct http_server;
struct index_cache;

/*
 * Reads channels/<channel>/<file> and parses it without verification
 * (the pages only show it).  Returns a new manifest in *m.
 */
enum bd_err index_manifest_load(int repofd, const char *channel,
    const char *file, struct bd_manifest **m);

/* A new cache for the repository open at repofd; NULL when out of memory. */
struct index_cache *index_cache_new(int repofd);
void index_cache_free(struct index_cache *c);

/*
 * A new copy of the index page in *page (*len bytes); free with free().
 * Renders it with html_render() when the cached one is stale.
 */
enum bd_err index_page(struct http_server *s, char **page, size_t *len);

/*
 * For html.c while it renders the index: channel's newest manifest, parsed
 * without verification.  With a cache (c not NULL, only during
 * index_page()) *m is borrowed from it; without, it is new.  Hand it back
 * with index_channel_release() either way.
 */
enum bd_err index_channel_manifest(struct index_cache *c, int repofd,
    const char *channel, struct bd_manifest **m);
void index_channel_release(struct index_cache *c, struct bd_manifest *m);

/*
 * Fills out[i] (i < nkeys <= HTTP_MAX_KEYS) with whether a guest holding
 * only keys[i] (threshold 1, no state) reaches channel's manifest.json.
 * keys must be the same set on every call (the server's).  With a cache
 * the verdicts are kept while manifest.json is the same file; without
 * (c NULL) they are judged now.  BD_OK unless the manifest cannot be
 * judged at all (the verdicts then say why).
 */
enum bd_err index_channel_reach(struct index_cache *c, int repofd,
    const char *channel, const struct bd_pubkey *keys, size_t nkeys,
    struct index_reach *out);

#endif
