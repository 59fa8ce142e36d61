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
 *   file=<size> <sha256> <path>    every file the accepted version put on
 *   ...                            the slice (artifacts, rendered files)
 *   prev-file=<size> <sha256> <path>  the previous version's files kept
 *   ...                            bootable with it (e.g. boot/kernel.old)
 *
 * The file lists say what is bootdrop's on this slice: the next version's
 * install removes what it lists and the new version no longer names, and
 * nothing else.  A state without them (written by an older client) lists
 * nothing, so nothing is removed until a version is installed over it.
 */
#ifndef BOOTDROP_STATE_H
#define BOOTDROP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "manifest.h"
#include "sha256.h"

#define STATE_MAX_FILES		(MANIFEST_MAX_ARTIFACTS + 8)	/* per list */
#define STATE_MAX_BYTES		(2 * STATE_MAX_FILES * 320 + 8192)
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

/* A file bootdrop put on the slice, as it put it there. */
struct state_file {
	uint64_t size;
	uint8_t sha256[SHA256_BYTES];
	char path[INSTALL_PATH_MAX_BYTES + 1];
};

struct state_files {
	size_t n;
	struct state_file f[STATE_MAX_FILES];
};

struct bd_state {
	bool present;		/* false: nothing accepted yet */
	uint64_t version;
	uint8_t payload_sha256[SHA256_BYTES];
	bool has_keys;		/* false: a state written before keys */
	struct bd_keyset keys;
	struct state_boot boot;		/* the accepted version's entry */
	struct state_boot prev_boot;	/* the entry rendered second with it */
	bool has_files;		/* false: a state written before file lists */
	struct state_files files;	/* the accepted version's files */
	struct state_files prev_files;	/* the previous version's, kept */
};

/*
 * Whether path is one the client may name on the slice: an install path
 * (install_path_valid()), or one with '+' in a name as systemd-boot's
 * boot counter puts in BLS entry names ("...-7+2-1.conf").
 */
static inline bool
state_path_valid(const char *path)
{
	char buf[INSTALL_PATH_MAX_BYTES + 1];
	size_t i, n = strlen(path);

	if (n >= sizeof(buf))
		return false;
	for (i = 0; i <= n; i++)
		buf[i] = path[i] == '+' ? '_' : path[i];
	return install_path_valid(buf);
}

/*
 * Adds (size, sha256, path) to l unless path is listed already; false
 * when l is full or path is not state_path_valid().
 */
bool state_files_add(struct state_files *l, uint64_t size,
    const uint8_t sha256[SHA256_BYTES], const char *path);

/* The entry of l at path, or NULL. */
const struct state_file *state_files_find(const struct state_files *l,
    const char *path);

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
 *   remove=<size> <sha256 hex> <path>        (at most PENDING_MAX_REMOVES)
 *   ...
 *   state=<n>                                (absent: --only, no state)
 *   <the n bytes of the new state file, as state_format() writes them>
 * The stage name is "stage.<k>"; the file it names lives in the
 * destination's staging directory and must hash to <sha256> before use.
 * A remove line names a file of an earlier version (as the state listed
 * it) that the new version no longer keeps: after every rename it is
 * unlinked if, and only if, it still holds exactly those bytes, so a
 * replay after a crash, or a file someone else put there since, is safe.
 */
#define PENDING_MAGIC		"bootdrop-pending/1"
#define PENDING_MAX_FILES	(64 + 4)	/* MANIFEST_MAX_ARTIFACTS + rendered files */
#define PENDING_MAX_REMOVES	(2 * STATE_MAX_FILES)
#define PENDING_MAX_BYTES	((PENDING_MAX_FILES + PENDING_MAX_REMOVES) * 400 + \
				 STATE_MAX_BYTES)
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
	size_t nremoves;
	struct state_file removes[PENDING_MAX_REMOVES];
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
