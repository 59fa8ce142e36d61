/*
 * layout.h - the one home of a repository's names and paths (DESIGN.md):
 *
 *   blobs/sha256/<64 lowercase hex>       artifact bytes, content-addressed
 *   channels/<channel>/manifest.json      newest signed manifest
 *   channels/<channel>/<version>.json     every signed manifest, immutable
 *
 * <channel> is [a-z0-9][a-z0-9._-]{0,63}; <version> is a decimal in
 * 1..MANIFEST_MAX_VERSION without leading zeros.  The publisher writes
 * these paths, the server and the HTML index parse and link them, and the
 * client builds its URLs from them; none of them spells a path itself.
 */
#ifndef BOOTDROP_LAYOUT_H
#define BOOTDROP_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHANNEL_MAX_BYTES	64
#define LAYOUT_BLOBS_TOP	"blobs"
#define LAYOUT_BLOBS_DIR	LAYOUT_BLOBS_TOP "/sha256"
#define LAYOUT_CHANNELS_DIR	"channels"
#define LAYOUT_MANIFEST_FILE	"manifest.json"
#define LAYOUT_HEX_BYTES	64	/* a blob name, without the NUL */
#define LAYOUT_VERSION_MAX	((uint64_t)1 << 53)	/* JSON-safe integer */
/* Room for any path below (the longest, a versioned manifest, is 98). */
#define LAYOUT_PATH_BYTES	128
/* Room for "<version>.json" and "manifest.json". */
#define LAYOUT_FILE_BYTES	24

enum layout_kind {
	LAYOUT_NONE,		/* not a repository path */
	LAYOUT_CHANNEL,		/* "channels/<c>/" */
	LAYOUT_CHANNEL_BARE,	/* "channels/<c>", the same without its slash */
	LAYOUT_MANIFEST,	/* "channels/<c>/manifest.json" */
	LAYOUT_VERSION,		/* "channels/<c>/<n>.json" */
	LAYOUT_BLOB		/* "blobs/sha256/<hex>" */
};

struct layout_ref {
	char channel[CHANNEL_MAX_BYTES + 1];
	uint64_t version;
	char hex[LAYOUT_HEX_BYTES + 1];
};

/* [a-z0-9][a-z0-9._-]{0,63} */
bool channel_name_valid(const char *s);

/* Exactly 64 lowercase hex digits. */
bool layout_hex_valid(const char *s);

/* "<n>.json" with n in 1..LAYOUT_VERSION_MAX and no leading zero. */
bool layout_version_file_parse(const char *name, uint64_t *version);

/* LAYOUT_MANIFEST_FILE or a versioned manifest's file name. */
bool layout_manifest_file_valid(const char *name);

/*
 * Matches a path relative to the repository root (no leading '/') against
 * the grammar; fills ref (zeroed for LAYOUT_NONE).  Nothing else in the
 * repository is ever addressed.
 */
enum layout_kind layout_parse(const char *rel, struct layout_ref *ref);

/*
 * Path builders: each writes a NUL-terminated path relative to the
 * repository root into out (LAYOUT_PATH_BYTES, or LAYOUT_FILE_BYTES for
 * layout_version_file).  Arguments must already be valid names.
 */
void layout_blob_path(const char *hex, char out[LAYOUT_PATH_BYTES]);
void layout_channel_dir(const char *channel, char out[LAYOUT_PATH_BYTES]);
void layout_manifest_path(const char *channel, char out[LAYOUT_PATH_BYTES]);
void layout_version_path(const char *channel, uint64_t version,
    char out[LAYOUT_PATH_BYTES]);
void layout_version_file(uint64_t version, char out[LAYOUT_FILE_BYTES]);

#endif
