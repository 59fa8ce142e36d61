/*
 * state.h - what this boot slice has accepted, per channel: the manifest
 * version and the SHA-256 of its signed payload bytes.  Kept in
 * DESTDIR/.bootdrop/state/<channel> (or --state DIR/<channel>) so a
 * rollback to an older version, or another payload under the same version
 * (equivocation), is refused.
 *
 * File format (text, at most STATE_MAX_BYTES):
 *   bootdrop-state/1
 *   channel=<channel>
 *   version=<n>
 *   payload-sha256=<64 hex>
 */
#ifndef BOOTDROP_STATE_H
#define BOOTDROP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define STATE_MAX_BYTES		1024
#define BOOTDROP_DIR		".bootdrop"	/* below DESTDIR */
#define STATE_SUBDIR		"state"		/* below BOOTDROP_DIR */
#define TMP_SUBDIR		"tmp"		/* below BOOTDROP_DIR */

struct bd_state {
	bool present;		/* false: nothing accepted yet */
	uint64_t version;
	uint8_t payload_sha256[SHA256_BYTES];
};

/*
 * Loads the state of channel from the state directory dirfd (-1 when the
 * directory does not exist: st->present = false).  A missing file is not
 * an error; a malformed one is BD_ERR_FORMAT (never silently ignored: that
 * would re-open rollback).
 */
enum bd_err state_load(int dirfd, const char *channel, struct bd_state *st);

/*
 * Parses the len bytes of a state file for channel (as state_load() does;
 * --ext2 reads them from the image).  BD_ERR_FORMAT for anything malformed.
 */
enum bd_err state_parse(const char *channel, const uint8_t *buf, size_t len,
    struct bd_state *st);

/* Formats st as a state file for channel into text (*len bytes, no NUL). */
enum bd_err state_format(const char *channel, const struct bd_state *st,
    char text[STATE_MAX_BYTES], size_t *len);

/* Atomically replaces the state of channel in dirfd (fsynced). */
enum bd_err state_save(int dirfd, const char *channel,
    const struct bd_state *st);

#endif
