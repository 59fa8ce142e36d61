/*
 * sig.h - minisign signatures, prehashed "ED" algorithm only.
 *
 * A signature file (a "minisig") is four lines:
 *   untrusted comment: <text>
 *   base64("ED" || key_id[8] || ed25519(BLAKE2b-512(message))[64])
 *   trusted comment: <text>
 *   base64(ed25519(sig[64] || trusted_comment_bytes)[64])
 * The global signature binds the trusted comment to the signature.
 */
#ifndef BOOTDROP_SIG_H
#define BOOTDROP_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "key.h"

#define SIG_MINISIG_MAX_BYTES	2048	/* cap on a whole minisig text */
#define SIG_COMMENT_MAX_BYTES	1024	/* cap on a (trusted) comment */

/*
 * Signs msg.  trusted_comment and untrusted_comment must not contain '\n'
 * or '\r' and are at most SIG_COMMENT_MAX_BYTES-1 bytes.  Returns a new
 * NUL-terminated minisig text in *out (free with free()).
 */
enum bd_err sig_sign(const struct bd_seckey *sk, const uint8_t *msg,
    size_t len, const char *trusted_comment, const char *untrusted_comment,
    char **out);

/*
 * Reads only the key id of a minisig text (no crypto).  Checks the
 * algorithm ("ED") and the exact base64 length first.
 */
enum bd_err sig_keyid(const char *minisig, size_t minisig_len,
    uint8_t id[KEY_ID_BYTES]);

/*
 * Verifies a minisig text over msg with pk: algorithm, key id, the Ed25519
 * signature over BLAKE2b-512(msg), then the global signature over the
 * trusted comment.  On success copies the trusted comment (without the
 * "trusted comment: " prefix) into tc (NUL-terminated, tc_cap bytes,
 * tc_cap >= SIG_COMMENT_MAX_BYTES).
 */
enum bd_err sig_verify(const struct bd_pubkey *pk, const uint8_t *msg,
    size_t len, const char *minisig, size_t minisig_len, char *tc,
    size_t tc_cap);

#endif
