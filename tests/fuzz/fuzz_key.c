/*
 * fuzz_key.c - key text parsing fed arbitrary bytes: the -P string, the
 * public key file and the secret key file, up to (never into) scrypt.
 *
 * The files are read through the real loaders from a memfd named by its
 * /proc/self/fd path, so the size cap and the text splitting run as they
 * do on a key file.  The passphrase callback always refuses: an encrypted
 * key therefore stops before key derivation, and scrypt never runs with
 * limits the fuzzer chose.  Checks the invariants, not only the absence of
 * crashes: an accepted key re-encodes to the exact base64 that was read,
 * and the passphrase is only asked for a scrypt key within the limits.
 */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The raw secret key blob; offsets as in key.h. */
#define SK_BLOB_BYTES	158
#define SK_KDF_OFF	2
#define SK_OPS_OFF	38
#define SK_MEM_OFF	46

static int asked;

static enum bd_err
refuse_passphrase(char *buf, size_t cap, bool confirm, void *ctx)
{
	(void)buf, (void)cap, (void)confirm, (void)ctx;
	asked = 1;
	return BD_ERR_USAGE;
}

/*
 * Returns the key line of a key file's text (the second line, without
 * "\n" or "\r\n") in *line, or 0 when there is none.
 */
static size_t
key_line(const uint8_t *data, size_t size, const char **line)
{
	const uint8_t *nl, *end = data + size;
	size_t n;

	if ((nl = memchr(data, '\n', size)) == NULL)
		return 0;
	*line = (const char *)nl + 1;
	n = (size_t)(end - (nl + 1));
	if ((nl = memchr(*line, '\n', n)) != NULL)
		n = (size_t)((const char *)nl - *line);
	if (n > 0 && (*line)[n - 1] == '\r')
		n--;
	return n;
}

static uint64_t
le64(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, sizeof(v));
	return le64toh(v);
}

static void
check_pubkey(const struct bd_pubkey *pk, const char *b64, size_t len)
{
	char again[PUBKEY_B64_BYTES];

	pubkey_to_base64(pk, again);
	if (len != PUBKEY_B64_BYTES - 1 || memcmp(again, b64, len) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	char str[PUBKEY_B64_BYTES + 8];
	uint8_t blob[SK_BLOB_BYTES], msg[1] = { 'x' };
	uint8_t sig[crypto_sign_BYTES];
	struct bd_pubkey pk;
	struct bd_seckey *sk = NULL;
	const char *line;
	size_t len, got;

	if (fd == -1) {
		if (sodium_init() < 0 ||
		    (fd = memfd_create("fuzz_key", MFD_CLOEXEC)) == -1)
			__builtin_trap();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}

	/* -P: a bare base64 string. */
	if (size < sizeof(str)) {
		memcpy(str, data, size);
		str[size] = '\0';
		if (pubkey_from_base64(&pk, str) == BD_OK)
			check_pubkey(&pk, str, strlen(str));
	}

	if (ftruncate(fd, 0) == -1 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		__builtin_trap();
	len = key_line(data, size, &line);

	if (pubkey_load_file(&pk, path) == BD_OK) {
		if (size > KEY_FILE_MAX_BYTES || size < 19 ||
		    memcmp(data, "untrusted comment: ", 19) != 0)
			__builtin_trap();
		check_pubkey(&pk, line, len);
	}

	asked = 0;
	if (seckey_load_file(&sk, path, refuse_passphrase, NULL) == BD_OK) {
		/* Only an unencrypted key loads; its pair must work. */
		struct bd_pubkey pub;

		if (asked || sk == NULL)
			__builtin_trap();
		seckey_public(sk, &pub);
		crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk->sk);
		if (crypto_sign_verify_detached(sig, msg, sizeof(msg),
		    pub.pk) != 0)
			__builtin_trap();
		seckey_free(sk);
	} else if (sk != NULL) {
		__builtin_trap();
	}
	if (asked) {
		/* Asked only for a well-formed scrypt key within the caps. */
		if (sodium_base642bin(blob, sizeof(blob), line, len, NULL, &got,
		    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    got != sizeof(blob) ||
		    memcmp(blob + SK_KDF_OFF, "Sc", 2) != 0 ||
		    le64(blob + SK_OPS_OFF) > 2ULL *
		    crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE ||
		    le64(blob + SK_MEM_OFF) > 2ULL *
		    crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE)
			__builtin_trap();
	}
	/* Without a passphrase source an encrypted key is refused too. */
	if (seckey_load_file(&sk, path, NULL, NULL) == BD_OK)
		seckey_free(sk);
	return 0;
}
