/*
 * key.c - minisign-compatible Ed25519 key files.
 *
 * The layouts below are minisign's on-disk structures; every field is a
 * byte array, so the structs have no padding and are read and written
 * whole.  Secret material (the decoded secret key, the key file text, the
 * passphrase and the scrypt stream) lives only in sodium_malloc() memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fsutil.h"
#include "b64.h"
#include "key.h"

#define SIGALG			"Ed"
#define KDFALG			"Sc"
#define CHKALG			"B2"
#define COMMENT_PREFIX		"untrusted comment: "
#define PUBKEY_COMMENT		"minisign public key "
#define SECKEY_COMMENT		"minisign encrypted secret key"

#define KEY_SALT_BYTES		32
#define KEY_CHK_BYTES		32

/* minisign's defaults for new keys. */
#define KDF_OPSLIMIT	crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE
#define KDF_MEMLIMIT	crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE
/*
 * Limits accepted from a key file before running scrypt: twice minisign's
 * defaults, so a crafted file cannot make us allocate or spin without end.
 */
#define KDF_OPSLIMIT_MAX	(2ULL * KDF_OPSLIMIT)
#define KDF_MEMLIMIT_MAX	(2ULL * KDF_MEMLIMIT)

struct pubkey_blob {
	uint8_t sig_alg[2];
	uint8_t id[KEY_ID_BYTES];
	uint8_t pk[KEY_PK_BYTES];
};

struct keynum_sk {
	uint8_t id[KEY_ID_BYTES];
	uint8_t sk[KEY_SK_BYTES];
	uint8_t chk[KEY_CHK_BYTES];
};

struct seckey_blob {
	uint8_t sig_alg[2];
	uint8_t kdf_alg[2];
	uint8_t chk_alg[2];
	uint8_t kdf_salt[KEY_SALT_BYTES];
	uint8_t kdf_opslimit_le[8];
	uint8_t kdf_memlimit_le[8];
	struct keynum_sk keynum_sk;
};

_Static_assert(sizeof(struct pubkey_blob) == 42, "pubkey layout");
_Static_assert(sizeof(struct keynum_sk) == 104, "keynum_sk layout");
_Static_assert(sizeof(struct seckey_blob) == 158, "seckey layout");
_Static_assert(KEY_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(KEY_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "pk size");

/* Exact base64 lengths (no NUL) of the two blobs. */
#define PUBKEY_B64_LEN	(sodium_base64_ENCODED_LEN(sizeof(struct pubkey_blob), \
    sodium_base64_VARIANT_ORIGINAL) - 1)
#define SECKEY_B64_LEN	(sodium_base64_ENCODED_LEN(sizeof(struct seckey_blob), \
    sodium_base64_VARIANT_ORIGINAL) - 1)
_Static_assert(PUBKEY_B64_BYTES == PUBKEY_B64_LEN + 1, "pubkey base64 size");

/* Prefixes the recorded failure detail with path. */
static enum bd_err
fail_path(enum bd_err rc, const char *path)
{
	char detail[256];

	snprintf(detail, sizeof(detail), "%s", bd_err_detail());
	return bd_fail(rc, "%s: %s", path, detail);
}

static enum bd_err
crypto_ready(void)
{
	enum bd_err rc = BD_OK;

	if (sodium_init() < 0)
		rc = bd_fail(BD_ERR_NOMEM, "libsodium initialisation failed");
	return rc;
}

static uint64_t
le64_load(const uint8_t b[8])
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

static void
le64_store(uint8_t b[8], uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++) {
		b[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

/*
 * Reads the regular file path into buf (cap bytes; the caller chooses the
 * memory, sodium_malloc for secret keys).  BD_ERR_TOOBIG if the file does
 * not fit.  Local stand-in for fsutil's file_read_capped(), which returns
 * malloc() memory and so cannot hold a secret key.
 */
static enum bd_err
key_file_read(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	struct stat st;
	size_t off = 0, more = 0;
	uint8_t extra;
	enum bd_err rc = BD_OK;
	int fd;

	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1)
		return bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = bd_fail(BD_ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > cap) {
		rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %zu bytes", path,
		    cap);
		goto out;
	}
	/* Read one byte past cap to notice a file that grew meanwhile. */
	if ((rc = read_full(fd, buf, cap, &off)) != BD_OK ||
	    (off == cap && (rc = read_full(fd, &extra, 1, &more)) != BD_OK)) {
		rc = bd_fail(BD_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (off == cap && more == 1) {
		rc = bd_fail(BD_ERR_TOOBIG, "%s: larger than %zu bytes", path,
		    cap);
		goto out;
	}
	*len = off;
out:
	close(fd);
	return rc;
}

/*
 * Splits a key file's text into its base64 line: the first line must start
 * with "untrusted comment: ", the second is the base64 string, optionally
 * ended by "\n" or "\r\n", and nothing may follow.
 */
static enum bd_err
key_text_b64(const char *text, size_t len, const char **b64, size_t *b64len)
{
	const char *nl, *line, *end = text + len;
	size_t n;
	enum bd_err rc = BD_OK;

	if (len < sizeof(COMMENT_PREFIX) - 1 ||
	    memcmp(text, COMMENT_PREFIX, sizeof(COMMENT_PREFIX) - 1) != 0) {
		rc = bd_fail(BD_ERR_FORMAT, "key file does not start with "
		    "\"%s\"", COMMENT_PREFIX);
		goto out;
	}
	if ((nl = memchr(text, '\n', len)) == NULL) {
		rc = bd_fail(BD_ERR_FORMAT, "key file has no key line");
		goto out;
	}
	line = nl + 1;
	n = (size_t)(end - line);
	if ((nl = memchr(line, '\n', n)) != NULL) {
		if (nl + 1 != end) {
			rc = bd_fail(BD_ERR_FORMAT, "key file has data after "
			    "the key line");
			goto out;
		}
		n = (size_t)(nl - line);
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	*b64 = line;
	*b64len = n;
out:
	return rc;
}

static void
seckey_chk(uint8_t chk[KEY_CHK_BYTES], const struct seckey_blob *b)
{
	crypto_generichash_state hs;

	crypto_generichash_init(&hs, NULL, 0, KEY_CHK_BYTES);
	crypto_generichash_update(&hs, b->sig_alg, sizeof(b->sig_alg));
	crypto_generichash_update(&hs, b->keynum_sk.id, sizeof(b->keynum_sk.id));
	crypto_generichash_update(&hs, b->keynum_sk.sk, sizeof(b->keynum_sk.sk));
	crypto_generichash_final(&hs, chk, KEY_CHK_BYTES);
	sodium_memzero(&hs, sizeof(hs));
}

/*
 * Asks getpass for a passphrase into a new sodium_malloc'd buffer *pass
 * (free with sodium_free()).
 */
static enum bd_err
passphrase_get(char **pass, bool confirm, bd_passphrase_fn getpass, void *ctx)
{
	char *p;
	enum bd_err rc;

	*pass = NULL;
	if ((p = sodium_malloc(PASSPHRASE_MAX_BYTES)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "passphrase buffer");
		goto out;
	}
	sodium_memzero(p, PASSPHRASE_MAX_BYTES);
	if ((rc = getpass(p, PASSPHRASE_MAX_BYTES, confirm, ctx)) != BD_OK)
		goto out;
	if (memchr(p, '\0', PASSPHRASE_MAX_BYTES) == NULL) {
		rc = bd_fail(BD_ERR_USAGE, "passphrase is not terminated");
		goto out;
	}
	*pass = p;
	p = NULL;
out:
	if (p != NULL)
		sodium_free(p);
	return rc;
}

/* XORs b's keynum_sk with the scrypt stream of pass and b's KDF fields. */
static enum bd_err
seckey_xor_stream(struct seckey_blob *b, const char *pass)
{
	uint8_t *stream;
	enum bd_err rc = BD_OK;
	size_t i;

	if ((stream = sodium_malloc(sizeof(b->keynum_sk))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "scrypt stream");
		goto out;
	}
	if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof(b->keynum_sk),
	    pass, strlen(pass), b->kdf_salt, le64_load(b->kdf_opslimit_le),
	    (size_t)le64_load(b->kdf_memlimit_le)) != 0) {
		rc = bd_fail(BD_ERR_NOMEM, "scrypt key derivation failed "
		    "(out of memory?)");
		goto out;
	}
	for (i = 0; i < sizeof(b->keynum_sk); i++)
		((uint8_t *)&b->keynum_sk)[i] ^= stream[i];
out:
	if (stream != NULL)
		sodium_free(stream);
	return rc;
}

void
keyid_hex(const uint8_t id[KEY_ID_BYTES], char out[KEY_ID_HEX_BYTES])
{
	snprintf(out, KEY_ID_HEX_BYTES, "%016" PRIX64, le64_load(id));
}

enum bd_err
keyid_parse(const char *hex, uint8_t id[KEY_ID_BYTES])
{
	uint64_t v = 0;
	enum bd_err rc = BD_OK;
	int i, d;

	for (i = 0; i < 2 * KEY_ID_BYTES; i++) {
		char c = hex[i];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		v = (v << 4) | (uint64_t)d;
	}
	if (i != 2 * KEY_ID_BYTES || hex[i] != '\0')
		rc = bd_fail(BD_ERR_FORMAT, "key id is not 16 hex digits");
	else
		le64_store(id, v);
	return rc;
}

static enum bd_err
pubkey_from_b64n(struct bd_pubkey *pk, const char *b64, size_t len)
{
	struct pubkey_blob blob;
	enum bd_err rc;

	if ((rc = b64_decode_exact((uint8_t *)&blob, sizeof(blob), b64,
	    len, "key")) != BD_OK)
		goto out;
	if (memcmp(blob.sig_alg, SIGALG, sizeof(blob.sig_alg)) != 0) {
		rc = bd_fail(BD_ERR_ALG, "public key algorithm is not %s",
		    SIGALG);
		goto out;
	}
	memcpy(pk->id, blob.id, sizeof(pk->id));
	memcpy(pk->pk, blob.pk, sizeof(pk->pk));
out:
	return rc;
}

enum bd_err
pubkey_from_base64(struct bd_pubkey *pk, const char *b64)
{
	return pubkey_from_b64n(pk, b64, strnlen(b64, PUBKEY_B64_BYTES));
}

void
pubkey_to_base64(const struct bd_pubkey *pk, char out[PUBKEY_B64_BYTES])
{
	struct pubkey_blob blob;

	memcpy(blob.sig_alg, SIGALG, sizeof(blob.sig_alg));
	memcpy(blob.id, pk->id, sizeof(blob.id));
	memcpy(blob.pk, pk->pk, sizeof(blob.pk));
	sodium_bin2base64(out, PUBKEY_B64_BYTES, (const uint8_t *)&blob,
	    sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
}

enum bd_err
pubkey_load_file(struct bd_pubkey *pk, const char *path)
{
	uint8_t buf[KEY_FILE_MAX_BYTES];
	const char *b64;
	size_t len, b64len;
	enum bd_err rc;

	if ((rc = key_file_read(path, buf, sizeof(buf), &len)) != BD_OK)
		goto out;
	if ((rc = key_text_b64((const char *)buf, len, &b64, &b64len)) !=
	    BD_OK || (rc = pubkey_from_b64n(pk, b64, b64len)) != BD_OK)
		rc = fail_path(rc, path);
out:
	return rc;
}

enum bd_err
pubkey_save_file(const struct bd_pubkey *pk, const char *path, bool force)
{
	char b64[PUBKEY_B64_BYTES], hex[KEY_ID_HEX_BYTES];
	char text[sizeof(COMMENT_PREFIX PUBKEY_COMMENT) + KEY_ID_HEX_BYTES +
	    PUBKEY_B64_BYTES];
	enum bd_err rc;
	int n;

	if ((rc = crypto_ready()) != BD_OK)
		goto out;
	keyid_hex(pk->id, hex);
	pubkey_to_base64(pk, b64);
	n = snprintf(text, sizeof(text), "%s%s%s\n%s\n", COMMENT_PREFIX,
	    PUBKEY_COMMENT, hex, b64);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		rc = bd_fail(BD_ERR_FORMAT, "public key text too long");
		goto out;
	}
	rc = file_write_atomic(AT_FDCWD, path, text, (size_t)n, 0644, !force);
out:
	return rc;
}

enum bd_err
seckey_generate(struct bd_seckey **sk, struct bd_pubkey *pk)
{
	struct bd_seckey *k;
	enum bd_err rc;

	*sk = NULL;
	if ((rc = crypto_ready()) != BD_OK)
		goto out;
	if ((k = sodium_malloc(sizeof(*k))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "secret key");
		goto out;
	}
	randombytes_buf(k->id, sizeof(k->id));
	crypto_sign_keypair(pk->pk, k->sk);
	memcpy(pk->id, k->id, sizeof(pk->id));
	*sk = k;
out:
	return rc;
}

/*
 * Unencrypted keys are written exactly as `minisign -G -W` writes them:
 * salt, limits and checksum all zero.
 */
enum bd_err
seckey_save_file(const struct bd_seckey *sk, const char *path, bool force,
    bd_passphrase_fn getpass, void *ctx)
{
	struct seckey_blob *b = NULL;
	struct stat st;
	char *pass = NULL, *text = NULL;
	size_t textcap, n;
	enum bd_err rc;

	if ((rc = crypto_ready()) != BD_OK)
		goto out;
	/* Courtesy check before asking for a passphrase; the rename decides. */
	if (!force && lstat(path, &st) == 0) {
		rc = bd_fail(BD_ERR_EXISTS, "%s", path);
		goto out;
	}

	textcap = sizeof(COMMENT_PREFIX SECKEY_COMMENT) + SECKEY_B64_LEN + 2;
	if ((b = sodium_malloc(sizeof(*b))) == NULL ||
	    (text = sodium_malloc(textcap)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "secret key");
		goto out;
	}
	sodium_memzero(b, sizeof(*b));
	memcpy(b->sig_alg, SIGALG, sizeof(b->sig_alg));
	memcpy(b->chk_alg, CHKALG, sizeof(b->chk_alg));
	memcpy(b->keynum_sk.id, sk->id, sizeof(b->keynum_sk.id));
	memcpy(b->keynum_sk.sk, sk->sk, sizeof(b->keynum_sk.sk));
	if (getpass != NULL) {
		if ((rc = passphrase_get(&pass, true, getpass, ctx)) != BD_OK)
			goto out;
		memcpy(b->kdf_alg, KDFALG, sizeof(b->kdf_alg));
		randombytes_buf(b->kdf_salt, sizeof(b->kdf_salt));
		le64_store(b->kdf_opslimit_le, KDF_OPSLIMIT);
		le64_store(b->kdf_memlimit_le, KDF_MEMLIMIT);
		seckey_chk(b->keynum_sk.chk, b);
		if ((rc = seckey_xor_stream(b, pass)) != BD_OK)
			goto out;
	}

	n = (size_t)snprintf(text, textcap, "%s%s\n", COMMENT_PREFIX,
	    SECKEY_COMMENT);
	sodium_bin2base64(text + n, textcap - n, (const uint8_t *)b, sizeof(*b),
	    sodium_base64_VARIANT_ORIGINAL);
	n += SECKEY_B64_LEN;
	text[n++] = '\n';
	rc = file_write_atomic(AT_FDCWD, path, text, n, 0600, !force);
out:
	if (pass != NULL)
		sodium_free(pass);
	if (text != NULL)
		sodium_free(text);
	if (b != NULL)
		sodium_free(b);
	return rc;
}

/*
 * The checksum of an unencrypted key is all zero when minisign -W wrote
 * it; a key whose passphrase was removed with minisign -C -W keeps its
 * checksum, which is then checked.
 */
static enum bd_err
seckey_unlock(struct seckey_blob *b, bd_passphrase_fn getpass, void *ctx)
{
	static const uint8_t none[2] = { 0, 0 };
	uint8_t chk[KEY_CHK_BYTES];
	uint64_t ops, mem;
	char *pass = NULL;
	enum bd_err rc = BD_OK;

	if (memcmp(b->kdf_alg, none, sizeof(none)) == 0) {
		if (sodium_is_zero(b->keynum_sk.chk, sizeof(b->keynum_sk.chk)))
			goto out;
		seckey_chk(chk, b);
		if (sodium_memcmp(chk, b->keynum_sk.chk, sizeof(chk)) != 0)
			rc = bd_fail(BD_ERR_FORMAT, "secret key checksum "
			    "mismatch");
		goto out;
	}
	if (memcmp(b->kdf_alg, KDFALG, sizeof(b->kdf_alg)) != 0) {
		rc = bd_fail(BD_ERR_ALG, "unsupported key derivation function");
		goto out;
	}
	ops = le64_load(b->kdf_opslimit_le);
	mem = le64_load(b->kdf_memlimit_le);
	if (ops > KDF_OPSLIMIT_MAX || mem > KDF_MEMLIMIT_MAX) {
		rc = bd_fail(BD_ERR_RANGE, "scrypt limits too large "
		    "(opslimit %" PRIu64 ", memlimit %" PRIu64 ")", ops, mem);
		goto out;
	}
	if (getpass == NULL) {
		rc = bd_fail(BD_ERR_USAGE, "secret key is encrypted and no "
		    "passphrase source was given");
		goto out;
	}
	if ((rc = passphrase_get(&pass, false, getpass, ctx)) != BD_OK ||
	    (rc = seckey_xor_stream(b, pass)) != BD_OK)
		goto out;
	seckey_chk(chk, b);
	if (sodium_memcmp(chk, b->keynum_sk.chk, sizeof(chk)) != 0)
		rc = bd_fail(BD_ERR_PASSPHRASE, "wrong passphrase for that key");
out:
	sodium_memzero(chk, sizeof(chk));
	if (pass != NULL)
		sodium_free(pass);
	return rc;
}

/* The public half stored in sk must be the one its seed derives. */
static enum bd_err
seckey_check_pair(const uint8_t sk[KEY_SK_BYTES])
{
	uint8_t pk[KEY_PK_BYTES], *sk2;
	enum bd_err rc = BD_OK;

	if ((sk2 = sodium_malloc(KEY_SK_BYTES)) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "secret key");
		goto out;
	}
	crypto_sign_seed_keypair(pk, sk2, sk);
	if (sodium_memcmp(sk2, sk, KEY_SK_BYTES) != 0)
		rc = bd_fail(BD_ERR_FORMAT, "secret key is inconsistent");
	sodium_free(sk2);
out:
	return rc;
}

enum bd_err
seckey_load_file(struct bd_seckey **sk, const char *path,
    bd_passphrase_fn getpass, void *ctx)
{
	struct seckey_blob *b = NULL;
	struct bd_seckey *k = NULL;
	uint8_t *text = NULL;
	const char *b64;
	size_t len, b64len;
	enum bd_err rc;

	*sk = NULL;
	if ((rc = crypto_ready()) != BD_OK)
		goto out;
	if ((text = sodium_malloc(KEY_FILE_MAX_BYTES)) == NULL ||
	    (b = sodium_malloc(sizeof(*b))) == NULL ||
	    (k = sodium_malloc(sizeof(*k))) == NULL) {
		rc = bd_fail(BD_ERR_NOMEM, "secret key");
		goto out;
	}
	if ((rc = key_file_read(path, text, KEY_FILE_MAX_BYTES, &len)) !=
	    BD_OK)
		goto out;
	if ((rc = key_text_b64((const char *)text, len, &b64, &b64len)) !=
	    BD_OK ||
	    (rc = b64_decode_exact((uint8_t *)b, sizeof(*b), b64, b64len,
	    "secret key")) != BD_OK)
		goto fail;
	if (memcmp(b->sig_alg, SIGALG, sizeof(b->sig_alg)) != 0) {
		rc = bd_fail(BD_ERR_ALG, "secret key algorithm is not %s",
		    SIGALG);
		goto fail;
	}
	if (memcmp(b->chk_alg, CHKALG, sizeof(b->chk_alg)) != 0) {
		rc = bd_fail(BD_ERR_ALG, "unsupported checksum function");
		goto fail;
	}
	if ((rc = seckey_unlock(b, getpass, ctx)) != BD_OK ||
	    (rc = seckey_check_pair(b->keynum_sk.sk)) != BD_OK)
		goto fail;
	memcpy(k->id, b->keynum_sk.id, sizeof(k->id));
	memcpy(k->sk, b->keynum_sk.sk, sizeof(k->sk));
	*sk = k;
	k = NULL;
	goto out;
fail:
	rc = fail_path(rc, path);
out:
	if (k != NULL)
		sodium_free(k);
	if (b != NULL)
		sodium_free(b);
	if (text != NULL)
		sodium_free(text);
	return rc;
}

void
seckey_public(const struct bd_seckey *sk, struct bd_pubkey *pk)
{
	memcpy(pk->id, sk->id, sizeof(pk->id));
	crypto_sign_ed25519_sk_to_pk(pk->pk, sk->sk);
}

void
seckey_free(struct bd_seckey *sk)
{
	if (sk != NULL)
		sodium_free(sk);
}
