/*
 * html.h - the human index of a repository, generated from its manifests
 * (never from a directory listing).  Manifests are shown as
 * manifest_load_unverified() reads them; the keys the server was given
 * (-P/-p) are judged as bootdrop-fetch judges them (chain_verify.h, through
 * index.h's cache), so a page shows a fetch command only with a key that
 * reaches the channel's newest version, directly or across key changes.  Every string from a manifest or the file system is
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
 * Called by html_check_keys() for a channel whose newest version no
 * shown key reaches; key_ids lists the nkeys shown keys' ids (", "),
 * signers the key ids that signed that version.
 */
typedef void (*html_key_warn_fn)(const char *channel, uint64_t version,
    const char *key_ids, size_t nkeys, const char *signers);

/*
 * When the server shows public keys (-P/-p), reports every channel whose
 * newest manifest a guest holding any one of them would refuse - its
 * page says so instead of printing a fetch command.  Judging fills the
 * cache, so the first page costs no walk.  Returns their count.
 */
size_t html_check_keys(const struct http_server *s, html_key_warn_fn warn);

#endif
