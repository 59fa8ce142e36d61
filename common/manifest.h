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
 * Payload format 2 ("bootdrop-manifest/2") chains versions: "prev" is the
 * SHA-256 of the exact payload bytes of the version before (null for
 * version 1), and "keys" is the trust that signs this version and the
 * next.  Every accepted manifest carries at least its own threshold of
 * signatures from its own keys; manifest_verify_successor() is the one
 * place that decides whether version n+1 follows version n.
 *
 * Payload format 3 ("bootdrop-manifest/3", what publishers write) keeps
 * the chain and replaces the kernel's "elf" facts with "image" facts
 * (image.h), adds the "initrd" kind and a chunk index ("chunks") per
 * artifact, and carries boot data instead of a menu.lst: the client
 * renders each loader's configuration with boot.h.  Format 2 is still
 * read, and one chain may hold both; m->format says which a payload is.
 *
 * json_t never escapes manifest.c.
 */
#ifndef BOOTDROP_MANIFEST_H
#define BOOTDROP_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "boot.h"
#include "err.h"
#include "image.h"
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
#define MANIFEST_MAX_KEYS		16	/* pubkeys in "keys" */
#define MANIFEST_TYPE			"bootdrop-manifest/3"	/* written */
#define MANIFEST_TYPE_2			"bootdrop-manifest/2"	/* still read */
#define MANIFEST_FORMAT			3

/* A format-2 kernel's "elf" facts. */
struct bd_elf {
	unsigned class;		/* 32 or 64 */
	const char *machine;	/* static: "i386", "amd64", ... "unknown" */
	bool xen;
};

struct bd_artifact {
	char *name;		/* [A-Za-z0-9._-]+, unique in the manifest */
	char *kind;		/* "kernel", "initrd" (format 3), "world", "file" */
	uint64_t size;
	uint8_t sha256[SHA256_BYTES];
	char sha256_hex[SHA256_HEX_BYTES];
	char *install;		/* validated relative path */
	bool has_elf;		/* format 2 */
	struct bd_elf elf;	/* elf.machine points at a static string */
	bool has_image;		/* format 3: required for a kernel */
	struct image_info image;	/* os and elf_class are not carried */
	bool has_chunks;	/* format 3: the chunk index blob */
	uint8_t chunks_sha256[SHA256_BYTES];
	char chunks_hex[SHA256_HEX_BYTES];
	uint64_t chunks_size;
};

/* A channel's trust as a payload states it: distinct keys, 1 <= t <= n. */
struct bd_keyset {
	unsigned threshold;
	size_t nkeys;
	struct bd_pubkey keys[MANIFEST_MAX_KEYS];
};

struct bd_manifest {
	/* payload */
	unsigned format;	/* 2 or 3; 0 when building: MANIFEST_FORMAT */
	char *channel;
	uint64_t version;
	bool has_prev;		/* false exactly for version 1 */
	uint8_t prev[SHA256_BYTES];	/* SHA-256 of version-1's payload */
	struct bd_keyset keys;	/* signs this version and the next */
	time_t created;
	time_t expires;
	size_t nartifacts;
	struct bd_artifact *artifacts;
	bool has_boot;
	/* format 2 */
	char *boot_loader;	/* "pvgrub" */
	char *boot_arch;	/* "i386" or "amd64" */
	char *menu_lst;		/* NULL when the manifest carries none */
	/* format 3: boot data, rendered by boot.h */
	unsigned loaders;	/* BOOT_* bits; 0: no configuration */
	char *boot_title;	/* NULL: none */
	char *boot_kernel;	/* artifact name (kind kernel), or NULL */
	char *boot_initrd;	/* artifact name (kind initrd), or NULL */
	char *boot_cmdline;	/* NULL: none */
	char *boot_root;	/* NULL: BOOT_DEFAULT_ROOT */

	/* envelope facts, filled by manifest_verify_load() */
	uint8_t *payload;	/* exact signed bytes */
	size_t payload_len;
	uint8_t payload_sha256[SHA256_BYTES];
	char *trusted_comment;	/* of the first verified signature */
	size_t nsigners;	/* distinct trusted keys that verified */
	uint8_t signers[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
	size_t nself;		/* distinct keys of m->keys that verified */
	size_t nkeyids;		/* every key id named in the envelope */
	uint8_t keyids[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
};

struct bd_trust {
	const struct bd_pubkey *keys;
	size_t nkeys;
	unsigned threshold;	/* >= 1 */
};

/*
 * What a successor is judged against: an accepted version (the previous
 * manifest, or a client's state on the boot slice).
 */
struct bd_accepted {
	uint64_t version;
	uint8_t payload_sha256[SHA256_BYTES];
	struct bd_keyset keys;
};

/*
 * Verifies an envelope and, only after the signatures count, parses its
 * payload.  Checks: size cap, envelope shape, each signature whose key id
 * is trusted (ED algorithm, signature, global signature), distinct
 * verified keys >= threshold, then payload schema, type, channel (must
 * equal the channel argument), agreement of the trusted comment
 * ("bootdrop channel=<c> version=<n> expires=<t>") with the payload, and
 * at least the payload's own threshold of valid signatures from its own
 * keys (the keys it names are really held).  Expiry, rollback and the
 * chain are the caller's (manifest_check_fresh(), and
 * manifest_verify_successor() or manifest_check_link()).
 * Returns a new manifest in *out; free with manifest_free().
 */
enum bd_err manifest_verify_load(const uint8_t *envelope, size_t len,
    const struct bd_trust *trust, const char *channel,
    struct bd_manifest **out);

/*
 * The successor rule (DESIGN.md, payload format 2): the envelope is a
 * valid successor of prev when its version is prev->version + 1, its prev
 * is prev->payload_sha256, it carries >= prev's threshold of valid
 * signatures from prev's keys and >= its own threshold from its own keys
 * (signatures counted per distinct key id).  A broken link is
 * BD_ERR_CHAIN; a signature refusal keeps manifest_verify_load()'s code.
 * Expiry is not judged.  Returns a new manifest in *out.
 */
enum bd_err manifest_verify_successor(const struct bd_accepted *prev,
    const uint8_t *envelope, size_t len, const char *channel,
    struct bd_manifest **out);

/*
 * The self-signature rule, for a version judged on its own (version 1 of
 * a chain with nothing to anchor it, or the previous version a publisher
 * builds on): at least its own threshold of valid signatures from its own
 * keys, plus manifest_verify_load()'s checks.  The keys are read from the
 * payload before any signature is checked, so this vouches only for
 * consistency, never for who published it.  Returns a new manifest.
 */
enum bd_err manifest_verify_self(const uint8_t *envelope, size_t len,
    const char *channel, struct bd_manifest **out);

/*
 * The link part of the successor rule alone, for a manifest already
 * verified against prev's keys (direct acceptance of state version + 1):
 * BD_ERR_CHAIN unless m->version is prev->version + 1 and m->prev is
 * prev->payload_sha256.
 */
enum bd_err manifest_check_link(const struct bd_accepted *prev,
    const struct bd_manifest *m);

/* Fills *out with m's version, payload hash and keys. */
void manifest_accepted(const struct bd_manifest *m, struct bd_accepted *out);

/* Points *trust at the keys and threshold of ks (borrowed). */
void keyset_trust(const struct bd_keyset *ks, struct bd_trust *trust);

/* True when a and b hold the same threshold and the same keys, in any order. */
bool keyset_equal(const struct bd_keyset *a, const struct bd_keyset *b);

/* Index of the key with id in ks, or -1. */
int keyset_find(const struct bd_keyset *ks, const uint8_t id[KEY_ID_BYTES]);

/*
 * Parses an envelope and its payload WITHOUT checking signatures - only for
 * a publisher looking at their own repository (show, the server's HTML
 * index).  Key ids are listed in keyids; nsigners is 0; trusted_comment is
 * the first signature's, unverified.  Same caps and schema checks.
 */
enum bd_err manifest_load_unverified(const uint8_t *envelope, size_t len,
    struct bd_manifest **out);

/*
 * Returns in *out a new manifest with m's payload fields, parsed again
 * from m's payload bytes (for a publisher making the next version of
 * its own newest one); the envelope facts other than the payload and its
 * hash are left empty.  Free with manifest_free().
 */
enum bd_err manifest_copy(const struct bd_manifest *m,
    struct bd_manifest **out);

/* BD_ERR_EXPIRED when m->expires <= now. */
enum bd_err manifest_check_fresh(const struct bd_manifest *m, time_t now);

/* Frees m and everything it owns; NULL is allowed. */
void manifest_free(struct bd_manifest *m);

/*
 * Serializes m's payload fields (channel..boot, prev and keys) as the
 * payload JSON of m->format (MANIFEST_FORMAT when 0; format 2 is written
 * only by tests that build old chains).
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

/*
 * The previous version's boot entry, as the client's state or the
 * previous manifest gives it (borrowed strings).
 */
struct bd_prev_boot {
	uint64_t version;
	const char *title;
	const char *cmdline;
	const char *kernel;			/* install path */
	const uint8_t *kernel_sha256;
	const char *initrd;			/* or NULL */
	const uint8_t *initrd_sha256;
};

/* Fills *out from manifest prev; false when it has no format-3 boot kernel. */
bool manifest_prev_boot(const struct bd_manifest *prev,
    struct bd_prev_boot *out);

/*
 * The boot configuration a guest renders when it installs m over the
 * version prev describes (NULL: a first install, or a previous version
 * without format-3 boot data): m's entry first, then prev's with its own
 * kernel, initrd and command line.  A previous file at a path where m
 * installs other bytes is the kept <path>.old (keep_old, and only for a
 * kernel or initrd artifact); when it cannot be kept the previous version
 * cannot boot and gets no entry.  Points into m and prev (borrowed).
 */
struct bd_boot_view {
	struct boot_config config;
	char old_kernel[INSTALL_PATH_MAX_BYTES + 5];
	char old_initrd[INSTALL_PATH_MAX_BYTES + 5];
};
enum bd_err manifest_boot_view(const struct bd_manifest *m,
    const struct bd_prev_boot *prev, bool keep_old, struct bd_boot_view *v);

/* The artifact named name, or NULL. */
const struct bd_artifact *manifest_artifact(const struct bd_manifest *m,
    const char *name);

#endif
