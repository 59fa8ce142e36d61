/*
 * html.h - the human index of a repository, generated from its manifests
 * (never from a directory listing).  The server is the publisher's own and
 * holds no trust keys, so manifests are read with
 * manifest_load_unverified() and the pages say that bootdrop-fetch checks
 * the signatures.  Every string from a manifest or the file system is
 * HTML-escaped; the pages use no JavaScript and a small inline style that
 * reads on a phone.
 */
#ifndef BOOTDROP_HTML_H
#define BOOTDROP_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http.h"

#define HTML_PAGE_MAX_BYTES	(4u << 20)
#define HTML_MAX_VERSIONS_SHOWN	100
#define HTML_SIGNERS_BYTES	(MANIFEST_MAX_SIGNATURES * 18 + 1)

/*
 * Renders the index (channel NULL) or the page of one channel.  Returns a new
 * NUL-terminated page in *page (length *len); free with free().  BD_ERR_PATH when
 * the channel does not exist (404).
 */
enum bd_err html_render(const struct http_server *s, const char *channel,
    char **page, size_t *len);

/*
 * Called by html_check_keys() for a channel whose newest version is not
 * signed by the configured key (key_id); signers lists the key ids that
 * did sign it.
 */
typedef void (*html_key_warn_fn)(const char *channel, uint64_t version,
    const char *key_id, const char *signers);

/*
 * When the server shows a public key (-P/-p), reports every channel whose
 * newest manifest that key did not sign - its page says so instead of
 * printing a fetch command that would be refused.  Returns their count.
 */
size_t html_check_keys(const struct http_server *s, html_key_warn_fn warn);

#endif
