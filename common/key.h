/*
 * key.h - minisign-compatible Ed25519 keys.
 *
 * On-disk formats are minisign's, byte for byte:
 *   public key:  "untrusted comment: ...\n" + base64("Ed" || id[8] || pk[32]) + "\n"
 *   secret key:  "untrusted comment: ...\n" + base64("Ed" || kdf_alg[2] || "B2" ||
 *                salt[32] || opslimit[8] || memlimit[8] ||
 *                (id[8] || sk[64] || checksum[32]) XOR scrypt-stream) + "\n"
 * kdf_alg is "Sc" (scrypt) or two zero bytes (unencrypted, minisign -W).
 * checksum = BLAKE2b-256("Ed" || id || sk).
 */
#ifndef BOOTDROP_KEY_H
#define BOOTDROP_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KEY_ID_BYTES		8
#define KEY_PK_BYTES		32
#define KEY_SK_BYTES		64
#define KEY_ID_HEX_BYTES	(2 * KEY_ID_BYTES + 1)	/* incl. NUL */
#define PUBKEY_B64_BYTES	57			/* 56 chars + NUL */
#define KEY_FILE_MAX_BYTES	4096
#define PASSPHRASE_MAX_BYTES	1024

struct bd_pubkey {
	uint8_t id[KEY_ID_BYTES];
	uint8_t pk[KEY_PK_BYTES];
};

/* Always allocated with sodium_malloc(); release with seckey_free(). */
struct bd_seckey {
	uint8_t id[KEY_ID_BYTES];
	uint8_t sk[KEY_SK_BYTES];
};

/*
 * Passphrase source for seckey_load_file()/seckey_save_file().  Writes a
 * NUL-terminated passphrase of at most cap-1 bytes into buf (which is
 * sodium_malloc'd by the caller) and returns BD_OK.  confirm is true when
 * a new key is being written (ask twice).
 */
typedef enum bd_err (*bd_passphrase_fn)(char *buf, size_t cap, bool confirm,
    void *ctx);

/* Formats a key id as minisign prints it: 16 uppercase hex digits. */
void keyid_hex(const uint8_t id[KEY_ID_BYTES], char out[KEY_ID_HEX_BYTES]);

/* Parses 16 hex digits (either case) back to a key id. */
enum bd_err keyid_parse(const char *hex, uint8_t id[KEY_ID_BYTES]);

/* Parses the bare base64 string users paste with -P (exactly 56 chars). */
enum bd_err pubkey_from_base64(struct bd_pubkey *pk, const char *b64);

/* Writes the bare base64 string of pk into out. */
void pubkey_to_base64(const struct bd_pubkey *pk, char out[PUBKEY_B64_BYTES]);

/* Loads a public key file (capped at KEY_FILE_MAX_BYTES). */
enum bd_err pubkey_load_file(struct bd_pubkey *pk, const char *path);

/*
 * Writes a public key file atomically; refuses to replace an existing file
 * (BD_ERR_EXISTS) unless force.
 */
enum bd_err pubkey_save_file(const struct bd_pubkey *pk, const char *path,
    bool force);

/*
 * Generates a new key pair.  Returns a new secret key in *sk (free with
 * seckey_free()) and fills *pk.
 */
enum bd_err seckey_generate(struct bd_seckey **sk, struct bd_pubkey *pk);

/*
 * Writes a secret key file (mode 0600) atomically; encrypted with the
 * passphrase from getpass (asked with confirm=true) using scrypt with
 * minisign's parameters, or unencrypted when getpass is NULL.  Refuses to
 * replace an existing file unless force.
 */
enum bd_err seckey_save_file(const struct bd_seckey *sk, const char *path,
    bool force, bd_passphrase_fn getpass, void *ctx);

/*
 * Loads a secret key file.  getpass is called only when the file is
 * encrypted.  Wrong passphrase: BD_ERR_PASSPHRASE.  Returns a new key in
 * *sk; free with seckey_free().
 */
enum bd_err seckey_load_file(struct bd_seckey **sk, const char *path,
    bd_passphrase_fn getpass, void *ctx);

/* Derives the public key of a secret key. */
void seckey_public(const struct bd_seckey *sk, struct bd_pubkey *pk);

/* Wipes and frees; NULL is allowed. */
void seckey_free(struct bd_seckey *sk);

#endif
