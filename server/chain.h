/*
 * chain.h - the publisher's side of payload format 2: every new version of
 * a channel is built on the newest one, re-read and verified first, and is
 * checked to be a valid successor of it (DESIGN.md's rule, applied with
 * manifest_verify_successor()) before a byte of it is written.
 *
 *   head      the newest published version, verified by its own keys
 *   next      version head+1: prev = SHA-256(head's payload), keys = the
 *             head's keys unless new ones are given (the first version:
 *             the signers' public keys)
 */
#ifndef BOOTDROP_CHAIN_H
#define BOOTDROP_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "key.h"
#include "manifest.h"

/* The newest version of a channel, as a new version builds on it. */
struct chain_head {
	uint64_t version;	/* 0: the channel has no versions yet */
	struct bd_manifest *m;	/* that version, NULL for version 0 */
};

/*
 * Loads the newest version of channel: the highest <n>.json, which must
 * verify by its own keys and say channel and version n; manifest.json,
 * when present, must not name a newer version (that one would be
 * missing).  A missing or altered previous version is BD_ERR_CHAIN.
 * Release with chain_head_clear().
 */
enum bd_err chain_head_load(int repofd, const char *channel,
    struct chain_head *h);
void chain_head_clear(struct chain_head *h);

/*
 * Makes m (whose payload fields other than version, prev and keys are
 * set) the next version after h: version, prev, and keys = *keys when
 * given, else the head's, else (first version) the signers' public keys
 * with threshold (0: 1).  Then checks, by key id and before anything is
 * signed or stored, that the signers are enough for the old trust and
 * the new: BD_ERR_THRESHOLD with a plain message otherwise.
 */
enum bd_err chain_next(const struct chain_head *h,
    const struct bd_keyset *keys, unsigned threshold,
    struct bd_seckey *const *signers, size_t nsigners,
    struct bd_manifest *m);

/*
 * The last check before an envelope is written as version h->version+1:
 * it must be accepted as the successor of h (for the first version: by
 * its own keys, as version 1).
 */
enum bd_err chain_check_envelope(const struct chain_head *h,
    const char *channel, const char *envelope, size_t len);

/*
 * Reads --keys arguments: each a public-key file or a bare key string.
 * Refuses a key named twice.  threshold 0 means 1.
 */
enum bd_err chain_keyset_parse(const char *const *args, size_t n,
    unsigned threshold, struct bd_keyset *ks);

/*
 * chain_read_fn (chain_verify.h) over a repository: ctx is a struct
 * chain_source, version v is channels/<channel>/<v>.json.
 */
struct chain_source {
	int repofd;
	const char *channel;
};
enum bd_err chain_source_read(void *ctx, uint64_t v, uint8_t **buf,
    size_t *len);

/* Writes "A1B2C3D4E5F60718 0123456789ABCDEF" (key ids) into out. */
void chain_keyids_text(const struct bd_keyset *ks, char *out, size_t cap);

#endif
