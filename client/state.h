/*
 * state.h - what this boot slice has accepted, per channel: the manifest
 * version, the SHA-256 of its signed payload bytes and its keys (the
 * trust the next version is judged by).  Kept in
 * DESTDIR/.bootdrop/state/<channel> (or --state DIR/<channel>) so a
 * rollback to an older version, or another payload under the same version
 * (equivocation), is refused.
 *
 * File format (text, at most STATE_MAX_BYTES):
 *   bootdrop-state/1
 *   channel=<channel>
 *   version=<n>
 *   payload-sha256=<64 hex>
 *   threshold=<t>                  the accepted version's keys: present
 *   key=<minisign key string>      together, 1..16 keys, 1 <= t <= keys
 *   boot-title=<title>             the accepted version's boot entry
 *   boot-kernel=<sha256> <path>    (format 3; absent otherwise), so the
 *   boot-initrd=<sha256> <path>    next version renders it as its second
 *   boot-cmdline=<command line>    entry; boot-initrd is optional
 *   prev-boot-version=<n>          the entry rendered second with it (its
 *   prev-boot-title=...            paths as installed, e.g. boot/kernel.old),
 *   prev-boot-kernel=...           so a repair renders the same files;
 *   prev-boot-initrd=...           absent when there was none
 *   prev-boot-cmdline=...
 */
#ifndef BOOTDROP_STATE_H
#define BOOTDROP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "manifest.h"
#include "sha256.h"

#define STATE_MAX_BYTES		8192
#define BOOTDROP_DIR		".bootdrop"	/* below DESTDIR */
#define STATE_SUBDIR		"state"		/* below BOOTDROP_DIR */
#define TMP_SUBDIR		"tmp"		/* below BOOTDROP_DIR */
#define STAGE_SUBDIR		"stage"		/* below BOOTDROP_DIR (--ext2) */
#define PENDING_NAME		"pending"	/* below BOOTDROP_DIR */

/* One boot entry as a loader's configuration shows it. */
struct state_boot {
	bool present;
	uint64_t version;
	char title[BOOT_TITLE_MAX_BYTES + 1];
	char cmdline[BOOT_CMDLINE_MAX_BYTES + 1];
	char kernel[INSTALL_PATH_MAX_BYTES + 5];	/* room for ".old" */
	uint8_t kernel_sha256[SHA256_BYTES];
	bool has_initrd;
	char initrd[INSTALL_PATH_MAX_BYTES + 5];
	uint8_t initrd_sha256[SHA256_BYTES];
};

struct bd_state {
	bool present;		/* false: nothing accepted yet */
	uint64_t version;
	uint8_t payload_sha256[SHA256_BYTES];
	bool has_keys;		/* false: a state written before keys */
	struct bd_keyset keys;
	struct state_boot boot;		/* the accepted version's entry */
	struct state_boot prev_boot;	/* the entry rendered second with it */
};

/*
 * Records in st the entries a run installing m renders: m's own, and
 * second (v->config.nentries == 2) the previous version's as rendered.
 */
void state_set_boot(struct bd_state *st, const struct bd_manifest *m,
    const struct bd_boot_view *v, const struct bd_prev_boot *second);

/*
 * The previous version's entry for rendering m over st: st's own entry
 * when m is newer, or, when m is st's version (a repair), the entry st
 * rendered second.  False when there is none.
 */
bool state_prev_boot(const struct bd_state *st, uint64_t version,
    struct bd_prev_boot *out);

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

/*
 * The intent record of an install (DESTDIR/.bootdrop/pending, or the same
 * path in the ext2 file system), written once every file is staged and
 * removed once every step is done.  A run that finds one finishes it
 * before anything else.  Format (text, at most PENDING_MAX_BYTES, every
 * line checked; unknown keys refused, so a newer client's record is never
 * half understood):
 *   bootdrop-pending/1
 *   channel=<channel>
 *   file=<stage name> <size> <sha256 hex> <keep-old 0|1> <install path>
 *   ...                                      (at most PENDING_MAX_FILES)
 *   state=<n>                                (absent: --only, no state)
 *   <the n bytes of the new state file, as state_format() writes them>
 * The stage name is "stage.<k>"; the file it names lives in the
 * destination's staging directory and must hash to <sha256> before use.
 */
#define PENDING_MAGIC		"bootdrop-pending/1"
#define PENDING_MAX_FILES	(64 + 4)	/* MANIFEST_MAX_ARTIFACTS + rendered files */
#define PENDING_MAX_BYTES	(PENDING_MAX_FILES * 400 + STATE_MAX_BYTES)
#define PENDING_STAGE_BYTES	16

struct bd_pending_file {
	char stage[PENDING_STAGE_BYTES];	/* "stage.<k>" */
	uint64_t size;
	uint8_t sha256[SHA256_BYTES];
	bool keep_old;				/* keep the replaced file as <install>.old */
	char install[256];			/* install_path_valid() */
};

struct bd_pending {
	char channel[64 + 1];
	size_t nfiles;
	struct bd_pending_file files[PENDING_MAX_FILES];
	bool has_state;
	struct bd_state state;
};

/* Formats p into text (cap bytes; *len bytes, no NUL). */
enum bd_err pending_format(const struct bd_pending *p, char *text,
    size_t cap, size_t *len);

/*
 * Parses a record of len bytes (untrusted as to form: refuses anything
 * malformed, oversized or unknown with BD_ERR_FORMAT or BD_ERR_TOOBIG).
 */
enum bd_err pending_parse(const uint8_t *buf, size_t len,
    struct bd_pending *p);

#endif
