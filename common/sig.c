/*
 * sig.c - minisign signatures, prehashed "ED" algorithm only.
 *
 * A minisig text is parsed whole (exact line structure, exact base64
 * lengths, algorithm) before any crypto; the key id is compared before the
 * Ed25519 checks.  Legacy (non-prehashed "Ed") signatures are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"
#include "sig.h"

#define SIGALG_HASHED		"ED"
#define SIGALG_LEGACY		"Ed"
#define COMMENT_PREFIX		"untrusted comment: "
#define TRUSTED_PREFIX		"trusted comment: "
#define DEFAULT_COMMENT		"signature from bootdrop secret key"

#define SIG_BYTES		crypto_sign_BYTES
#define MSG_HASH_BYTES		crypto_generichash_BYTES_MAX

struct sig_blob {
	uint8_t sig_alg[2];
	uint8_t id[KEY_ID_BYTES];
	uint8_t sig[SIG_BYTES];
};

_Static_assert(sizeof(struct sig_blob) == 74, "signature layout");
_Static_assert(MSG_HASH_BYTES == 64, "BLAKE2b-512");

#define B64_LEN(n)	(sodium_base64_ENCODED_LEN((n), \
    sodium_base64_VARIANT_ORIGINAL) - 1)
#define SIG_B64_LEN	B64_LEN(sizeof(struct sig_blob))
#define GLOBAL_B64_LEN	B64_LEN(SIG_BYTES)

/* A minisig text taken apart; tc points into the text, not terminated. */
struct minisig {
	struct sig_blob blob;
	uint8_t global_sig[SIG_BYTES];
	const char *tc;
	size_t tclen;
};

/*
 * Takes the next line from *p (before end): it must end with "\n",
 * optionally preceded by one "\r", which is not part of the line.
 */
static enum bd_err
next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl;
	enum bd_err rc = BD_OK;

	if ((nl = memchr(*p, '\n', (size_t)(end - *p))) == NULL) {
		rc = bd_fail(BD_ERR_FORMAT, "signature is not four lines");
		goto out;
	}
	*line = *p;
	*len = (size_t)(nl - *p);
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	*p = nl + 1;
out:
	return rc;
}

static bool
has_prefix(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(line, prefix, n) == 0;
}

/*
 * Parses a minisig text into m: four lines, the comment prefixes, comments
 * within SIG_COMMENT_MAX_BYTES-1 bytes, exact base64 lengths and the "ED"
 * algorithm.  No NUL byte anywhere and no "\r" inside the trusted comment,
 * so the trusted comment that is verified is the one handed back.
 */
static enum bd_err
minisig_parse(struct minisig *m, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *line;
	size_t n;
	enum bd_err rc;

	if (len > SIG_MINISIG_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "signature larger than %d bytes",
		    SIG_MINISIG_MAX_BYTES);
		goto out;
	}
	if (memchr(text, '\0', len) != NULL) {
		rc = bd_fail(BD_ERR_FORMAT, "signature contains a NUL byte");
		goto out;
	}

	if ((rc = next_line(&p, end, &line, &n)) != BD_OK)
		goto out;
	if (!has_prefix(line, n, COMMENT_PREFIX)) {
		rc = bd_fail(BD_ERR_FORMAT, "signature does not start with "
		    "\"%s\"", COMMENT_PREFIX);
		goto out;
	}
	if (n - strlen(COMMENT_PREFIX) >= SIG_COMMENT_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "untrusted comment too long");
		goto out;
	}

	if ((rc = next_line(&p, end, &line, &n)) != BD_OK ||
	    (rc = b64_decode_exact((uint8_t *)&m->blob, sizeof(m->blob), line,
	    n, "signature")) != BD_OK)
		goto out;
	if (memcmp(m->blob.sig_alg, SIGALG_LEGACY, 2) == 0) {
		rc = bd_fail(BD_ERR_ALG, "legacy (not prehashed) signature");
		goto out;
	}
	if (memcmp(m->blob.sig_alg, SIGALG_HASHED, 2) != 0) {
		rc = bd_fail(BD_ERR_ALG, "unsupported signature algorithm");
		goto out;
	}

	if ((rc = next_line(&p, end, &line, &n)) != BD_OK)
		goto out;
	if (!has_prefix(line, n, TRUSTED_PREFIX)) {
		rc = bd_fail(BD_ERR_FORMAT, "third line does not start with "
		    "\"%s\"", TRUSTED_PREFIX);
		goto out;
	}
	m->tc = line + strlen(TRUSTED_PREFIX);
	m->tclen = n - strlen(TRUSTED_PREFIX);
	if (m->tclen >= SIG_COMMENT_MAX_BYTES) {
		rc = bd_fail(BD_ERR_TOOBIG, "trusted comment too long");
		goto out;
	}
	if (memchr(m->tc, '\r', m->tclen) != NULL) {
		rc = bd_fail(BD_ERR_FORMAT, "carriage return in the trusted "
		    "comment");
		goto out;
	}

	if ((rc = next_line(&p, end, &line, &n)) != BD_OK ||
	    (rc = b64_decode_exact(m->global_sig, sizeof(m->global_sig), line,
	    n, "signature")) != BD_OK)
		goto out;
	if (p != end)
		rc = bd_fail(BD_ERR_FORMAT, "data after the signature");
out:
	return rc;
}

static enum bd_err
comment_check(const char *what, const char *c)
{
	enum bd_err rc = BD_OK;

	if (strnlen(c, SIG_COMMENT_MAX_BYTES) >= SIG_COMMENT_MAX_BYTES)
		rc = bd_fail(BD_ERR_USAGE, "%s longer than %d bytes", what,
		    SIG_COMMENT_MAX_BYTES - 1);
	else if (strpbrk(c, "\r\n") != NULL)
		rc = bd_fail(BD_ERR_USAGE, "%s contains a line break", what);
	return rc;
}

/*
 * The untrusted comment may be NULL for "signature from bootdrop secret
 * key".  The whole text must fit SIG_MINISIG_MAX_BYTES so that every
 * signature made here can be verified here.
 */
enum bd_err
sig_sign(const struct bd_seckey *sk, const uint8_t *msg, size_t len,
    const char *trusted_comment, const char *untrusted_comment, char **out)
{
	uint8_t hash[MSG_HASH_BYTES], global[SIG_BYTES];
	uint8_t sigtc[SIG_BYTES + SIG_COMMENT_MAX_BYTES];
	char sigb64[SIG_B64_LEN + 1], globalb64[GLOBAL_B64_LEN + 1];
	struct sig_blob blob;
	size_t tclen;
	char *text = NULL;
	enum bd_err rc;
	int n;

	*out = NULL;
	if (untrusted_comment == NULL)
		untrusted_comment = DEFAULT_COMMENT;
	if (trusted_comment == NULL) {
		rc = bd_fail(BD_ERR_USAGE, "no trusted comment");
		goto out;
	}
	if ((rc = comment_check("trusted comment", trusted_comment)) != BD_OK ||
	    (rc = comment_check("untrusted comment", untrusted_comment)) !=
	    BD_OK)
		goto out;
	if (sodium_init() < 0) {
		rc = bd_fail(BD_ERR_NOMEM, "libsodium initialisation failed");
		goto out;
	}

	memcpy(blob.sig_alg, SIGALG_HASHED, sizeof(blob.sig_alg));
	memcpy(blob.id, sk->id, sizeof(blob.id));
	crypto_generichash(hash, sizeof(hash), msg, len, NULL, 0);
	crypto_sign_detached(blob.sig, NULL, hash, sizeof(hash), sk->sk);

	tclen = strlen(trusted_comment);
	memcpy(sigtc, blob.sig, SIG_BYTES);
	memcpy(sigtc + SIG_BYTES, trusted_comment, tclen);
	crypto_sign_detached(global, NULL, sigtc, SIG_BYTES + tclen, sk->sk);

	sodium_bin2base64(sigb64, sizeof(sigb64), (const uint8_t *)&blob,
	    sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(globalb64, sizeof(globalb64), global, sizeof(global),
	    sodium_base64_VARIANT_ORIGINAL);
	if ((text = malloc(SIG_MINISIG_MAX_BYTES + 1)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "signature text");
		goto out;
	}
	n = snprintf(text, SIG_MINISIG_MAX_BYTES + 1, "%s%s\n%s\n%s%s\n%s\n",
	    COMMENT_PREFIX, untrusted_comment, sigb64, TRUSTED_PREFIX,
	    trusted_comment, globalb64);
	if (n < 0 || n > SIG_MINISIG_MAX_BYTES) {
		rc = bd_fail(BD_ERR_USAGE, "comments too long: signature "
		    "would exceed %d bytes", SIG_MINISIG_MAX_BYTES);
		goto out;
	}
	*out = text;
	text = NULL;
out:
	free(text);
	return rc;
}

enum bd_err
sig_keyid(const char *minisig, size_t minisig_len, uint8_t id[KEY_ID_BYTES])
{
	struct minisig m;
	enum bd_err rc;

	if ((rc = minisig_parse(&m, minisig, minisig_len)) == BD_OK)
		memcpy(id, m.blob.id, KEY_ID_BYTES);
	return rc;
}

enum bd_err
sig_verify(const struct bd_pubkey *pk, const uint8_t *msg, size_t len,
    const char *minisig, size_t minisig_len, char *tc, size_t tc_cap)
{
	uint8_t hash[MSG_HASH_BYTES];
	uint8_t sigtc[SIG_BYTES + SIG_COMMENT_MAX_BYTES];
	char want[KEY_ID_HEX_BYTES], got[KEY_ID_HEX_BYTES];
	struct minisig m;
	enum bd_err rc;

	if (tc_cap < SIG_COMMENT_MAX_BYTES) {
		rc = bd_fail(BD_ERR_USAGE, "trusted comment buffer too small");
		goto out;
	}
	tc[0] = '\0';
	if ((rc = minisig_parse(&m, minisig, minisig_len)) != BD_OK)
		goto out;
	if (memcmp(m.blob.id, pk->id, KEY_ID_BYTES) != 0) {
		keyid_hex(m.blob.id, got);
		keyid_hex(pk->id, want);
		rc = bd_fail(BD_ERR_KEYID, "signature key id is %s, the public "
		    "key's is %s", got, want);
		goto out;
	}
	if (sodium_init() < 0) {
		rc = bd_fail(BD_ERR_NOMEM, "libsodium initialisation failed");
		goto out;
	}
	crypto_generichash(hash, sizeof(hash), msg, len, NULL, 0);
	if (crypto_sign_verify_detached(m.blob.sig, hash, sizeof(hash),
	    pk->pk) != 0) {
		rc = bd_fail(BD_ERR_SIG, "signature verification failed");
		goto out;
	}
	memcpy(sigtc, m.blob.sig, SIG_BYTES);
	memcpy(sigtc + SIG_BYTES, m.tc, m.tclen);
	if (crypto_sign_verify_detached(m.global_sig, sigtc,
	    SIG_BYTES + m.tclen, pk->pk) != 0) {
		rc = bd_fail(BD_ERR_GLOBALSIG, "trusted comment signature "
		    "verification failed");
		goto out;
	}
	memcpy(tc, m.tc, m.tclen);
	tc[m.tclen] = '\0';
out:
	return rc;
}
