/*
 * manifest.h - the signed manifest of DESIGN.md: a JSON envelope
 *
 *   { "payload": "<base64 of the exact payload bytes>",
 *     "signatures": [ { "keyid": "<16 hex>", "minisig": "<minisig text>" } ] }
 *
 * whose payload bytes are signed, never re-serialized.  Verification order:
 * cap the envelope, parse only the envelope, verify signatures over the raw
 * payload bytes, count distinct trusted keys against the threshold, and only
 * then parse the payload (duplicate keys rejected, strict schema).
 *
 * json_t never escapes manifest.c.
 */
#ifndef BOOTDROP_MANIFEST_H
#define BOOTDROP_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "elf.h"
#include "err.h"
#include "key.h"
#include "layout.h"
#include "sha256.h"

#define MANIFEST_MAX_BYTES		(1u << 20)	/* envelope cap */
#define MANIFEST_PAYLOAD_MAX_BYTES	(768u << 10)
#define MANIFEST_MAX_SIGNATURES		16
#define MANIFEST_MAX_ARTIFACTS		64
#define MANIFEST_MAX_VERSION		LAYOUT_VERSION_MAX
#define ARTIFACT_MAX_SIZE		((uint64_t)1 << 40)	/* 1 TiB */
#define ARTIFACT_NAME_MAX_BYTES		128
#define INSTALL_PATH_MAX_BYTES		255
#define INSTALL_PATH_MAX_DEPTH		8
#define MENU_LST_MAX_BYTES		(16u << 10)
#define MANIFEST_TYPE_V1		"bootdrop-manifest/1"

struct bd_artifact {
	char *name;		/* [A-Za-z0-9._-]+, unique in the manifest */
	char *kind;		/* "kernel", "world" or "file" */
	uint64_t size;
	uint8_t sha256[SHA256_BYTES];
	char sha256_hex[SHA256_HEX_BYTES];
	char *install;		/* validated relative path */
	bool has_elf;
	struct elf_info elf;	/* elf.machine points at a static string */
};

struct bd_manifest {
	/* payload */
	char *channel;
	uint64_t version;
	time_t created;
	time_t expires;
	size_t nartifacts;
	struct bd_artifact *artifacts;
	bool has_boot;
	char *boot_loader;	/* "pvgrub" */
	char *boot_arch;	/* "i386" or "amd64" */
	char *menu_lst;		/* NULL when the manifest carries none */

	/* envelope facts, filled by manifest_verify_load() */
	uint8_t *payload;	/* exact signed bytes */
	size_t payload_len;
	uint8_t payload_sha256[SHA256_BYTES];
	char *trusted_comment;	/* of the first verified signature */
	size_t nsigners;	/* distinct trusted keys that verified */
	uint8_t signers[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
	size_t nkeyids;		/* every key id named in the envelope */
	uint8_t keyids[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
};

struct bd_trust {
	const struct bd_pubkey *keys;
	size_t nkeys;
	unsigned threshold;	/* >= 1 */
};

/*
 * Verifies an envelope and, only after the signatures count, parses its
 * payload.  Checks: size cap, envelope shape, each signature whose key id
 * is trusted (ED algorithm, signature, global signature), distinct
 * verified keys >= threshold, then payload schema, type, channel (must
 * equal the channel argument) and agreement of the trusted comment
 * ("bootdrop channel=<c> version=<n> expires=<t>") with the payload.
 * Expiry and rollback are the caller's (manifest_check_fresh()).
 * Returns a new manifest in *out; free with manifest_free().
 */
enum bd_err manifest_verify_load(const uint8_t *envelope, size_t len,
    const struct bd_trust *trust, const char *channel,
    struct bd_manifest **out);

/*
 * Parses an envelope and its payload WITHOUT checking signatures - only for
 * a publisher looking at their own repository (show, the server's HTML
 * index).  Key ids are listed in keyids; nsigners is 0; trusted_comment is
 * the first signature's, unverified.  Same caps and schema checks.
 */
enum bd_err manifest_load_unverified(const uint8_t *envelope, size_t len,
    struct bd_manifest **out);

/* BD_ERR_EXPIRED when m->expires <= now. */
enum bd_err manifest_check_fresh(const struct bd_manifest *m, time_t now);

/* Frees m and everything it owns; NULL is allowed. */
void manifest_free(struct bd_manifest *m);

/*
 * Serializes m's payload fields (channel..menu_lst) as the payload JSON.
 * Returns new bytes in *out and *len; free with free().
 */
enum bd_err manifest_payload_encode(const struct bd_manifest *m,
    uint8_t **out, size_t *len);

/* The trusted comment for m: "bootdrop channel=%s version=%llu expires=%s". */
enum bd_err manifest_trusted_comment(const struct bd_manifest *m, char *out,
    size_t cap);

/*
 * Builds an envelope from payload bytes and n minisig texts (each signed
 * by key ids[i]).  Returns new NUL-terminated text in *out; free with free().
 */
enum bd_err manifest_envelope_encode(const uint8_t *payload, size_t len,
    const char *const *minisigs, const uint8_t (*ids)[KEY_ID_BYTES],
    size_t n, char **out);

/* [A-Za-z0-9._-]+, not "." or "..", at most ARTIFACT_NAME_MAX_BYTES */
bool artifact_name_valid(const char *s);

/*
 * Relative path: components [A-Za-z0-9._-]+, none "." or "..", no leading
 * '/', no empty component, at most INSTALL_PATH_MAX_DEPTH components and
 * INSTALL_PATH_MAX_BYTES bytes.
 */
bool install_path_valid(const char *s);

#endif
