/*
 * test_sig.c - minisign signatures: golden files, interop and refusals.
 *
 * Test data (BOOTDROP_TESTDATA/sig):
 *   msg.txt                     the signed message
 *   msg.txt.minisig             sig_sign() with keys/test.key, trusted
 *                               comment "bootdrop golden signature"
 *   msg.txt.minisign.minisig    `minisign -S -s keys/minisign.key -t ...`
 *   msg.txt.legacy.minisig      `minisign -S -l ...` (legacy "Ed", refused)
 * Checked by hand when committed, with minisign 0.11:
 *   minisign -Vm tests/data/sig/msg.txt -p tests/data/keys/test.pub
 *   -> "Signature and comment signature verified"
 *
 * One scrypt run (about 1 GiB, 6 s): loading keys/test-enc.key.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "key.h"
#include "sig.h"

static const char *testdata;

static const char *
data_path(const char *name)
{
	return join_path(testdata, name);
}

static enum bd_err
pass_cb(char *buf, size_t cap, bool confirm, void *ctx)
{
	(void)confirm;
	snprintf(buf, cap, "%s", (const char *)ctx);
	return BD_OK;
}

static struct bd_seckey *test_sk;
static struct bd_pubkey test_pk, minisign_pk;
static char msg[4096], golden[4096];
static size_t msglen, goldenlen;

static enum bd_err
verify_text(const struct bd_pubkey *pk, const char *text, char *tc)
{
	return sig_verify(pk, (const uint8_t *)msg, msglen, text, strlen(text),
	    tc, SIG_COMMENT_MAX_BYTES);
}

/* Replaces line n (0-based) of the golden signature with repl. */
static void
golden_with_line(char *out, size_t cap, int n, const char *repl)
{
	char copy[4096], *line, *save = NULL;
	size_t off = 0;
	int i = 0;

	snprintf(copy, sizeof(copy), "%s", golden);
	out[0] = '\0';
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), i++)
		off += (size_t)snprintf(out + off, cap - off, "%s\n",
		    i == n ? repl : line);
}

/* The golden signature line with its binary blob changed by fn. */
static void
golden_with_blob(char *out, size_t cap, void (*fn)(uint8_t *))
{
	char copy[4096], b64[256], *line;
	uint8_t blob[74];

	snprintf(copy, sizeof(copy), "%s", golden);
	line = strtok(strchr(copy, '\n') + 1, "\n");
	sodium_base642bin(blob, sizeof(blob), line, strlen(line), NULL, NULL,
	    NULL, sodium_base64_VARIANT_ORIGINAL);
	fn(blob);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob),
	    sodium_base64_VARIANT_ORIGINAL);
	golden_with_line(out, cap, 1, b64);
}

static void
alg_legacy(uint8_t *b)
{
	b[1] = 'd';
}

static void
alg_unknown(uint8_t *b)
{
	b[0] = 'X';
}

static void
test_golden(void)
{
	char *out = NULL, tc[SIG_COMMENT_MAX_BYTES], text[4096];
	uint8_t id[KEY_ID_BYTES];

	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen,
	    "bootdrop golden signature", "signature from bootdrop secret key",
	    &out), BD_OK, "sign msg.txt with test.key");
	CHECK(out != NULL && strcmp(out, golden) == 0,
	    "signature identical to msg.txt.minisig");
	free(out);
	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen,
	    "bootdrop golden signature", NULL, &out), BD_OK,
	    "sign with the default untrusted comment");
	CHECK(out != NULL && strcmp(out, golden) == 0,
	    "default untrusted comment is \"signature from bootdrop secret "
	    "key\"");
	free(out);

	CHECK_RC(verify_text(&test_pk, golden, tc), BD_OK,
	    "msg.txt.minisig verifies with test.pub");
	CHECK(strcmp(tc, "bootdrop golden signature") == 0,
	    "trusted comment returned: %s", tc);
	CHECK_RC(sig_keyid(golden, goldenlen, id), BD_OK, "sig_keyid");
	CHECK(memcmp(id, test_pk.id, KEY_ID_BYTES) == 0,
	    "sig_keyid gives test.pub's key id");

	slurp(data_path("sig/msg.txt.minisign.minisig"), text, sizeof(text));
	CHECK_RC(verify_text(&minisign_pk, text, tc), BD_OK,
	    "signature made by minisign verifies");
	CHECK(strcmp(tc, "made by minisign 0.11 for bootdrop tests") == 0,
	    "minisign's trusted comment: %s", tc);

	slurp(data_path("sig/msg.txt.legacy.minisig"), text, sizeof(text));
	CHECK_RC(verify_text(&minisign_pk, text, tc), BD_ERR_ALG,
	    "legacy Ed signature by minisign -l refused");
	CHECK_RC(sig_keyid(text, strlen(text), id), BD_ERR_ALG,
	    "sig_keyid refuses a legacy signature");
	CHECK(tc[0] == '\0', "no trusted comment handed back on failure");
}

static void
test_refusals(void)
{
	char tc[SIG_COMMENT_MAX_BYTES], text[8192], line[2048];
	char *p;

	CHECK_RC(verify_text(&minisign_pk, golden, tc), BD_ERR_KEYID,
	    "verify with another key");

	msg[0] ^= 1;
	CHECK_RC(verify_text(&test_pk, golden, tc), BD_ERR_SIG,
	    "tampered message");
	msg[0] ^= 1;
	CHECK_RC(sig_verify(&test_pk, (const uint8_t *)msg, msglen - 1, golden,
	    goldenlen, tc, sizeof(tc)), BD_ERR_SIG, "truncated message");

	golden_with_line(text, sizeof(text), 2,
	    "trusted comment: bootdrop golden signaturE");
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_GLOBALSIG,
	    "tampered trusted comment");
	golden_with_line(text, sizeof(text), 2,
	    "trusted comment: bootdrop golden signature ");
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_GLOBALSIG,
	    "trusted comment with a trailing space");
	snprintf(text, sizeof(text), "%s", golden);
	p = strchr(strstr(text, "\ntrusted comment: ") + 1, '\n') + 10;
	*p = *p == 'A' ? 'B' : 'A';
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_GLOBALSIG,
	    "tampered global signature");
	golden_with_line(text, sizeof(text), 0, "untrusted comment: changed");
	CHECK_RC(verify_text(&test_pk, text, tc), BD_OK,
	    "untrusted comment is not signed");

	golden_with_blob(text, sizeof(text), alg_legacy);
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_ALG,
	    "algorithm Ed refused");
	golden_with_blob(text, sizeof(text), alg_unknown);
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_ALG,
	    "unknown algorithm refused");

	snprintf(text, sizeof(text), "%s", golden);
	p = strchr(text, '\n') + 1;
	memmove(p + 10, p + 11, strlen(p + 11) + 1);
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_BASE64,
	    "signature base64 one character short");
	golden_with_line(text, sizeof(text), 3, "AAAA");
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_BASE64,
	    "truncated global signature base64");
	snprintf(text, sizeof(text), "%s", golden);
	p = strchr(text, '\n') + 1;
	p[5] = '*';
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_BASE64,
	    "invalid base64 character");

	snprintf(text, sizeof(text), "%.*s", (int)goldenlen - 1, golden);
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_FORMAT,
	    "missing final newline");
	snprintf(text, sizeof(text), "%sextra\n", golden);
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_FORMAT,
	    "a fifth line");
	snprintf(text, sizeof(text), "%s\n", golden);
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_FORMAT,
	    "a trailing empty line");
	golden_with_line(text, sizeof(text), 0, "comment: x");
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_FORMAT,
	    "first line without \"untrusted comment: \"");
	golden_with_line(text, sizeof(text), 2, "trusted comment:x");
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_FORMAT,
	    "third line without \"trusted comment: \"");
	CHECK_RC(verify_text(&test_pk, strchr(golden, '\n') + 1, tc),
	    BD_ERR_FORMAT, "untrusted comment line missing");
	CHECK_RC(sig_verify(&test_pk, (const uint8_t *)msg, msglen, golden,
	    goldenlen + 1, tc, sizeof(tc)), BD_ERR_FORMAT,
	    "NUL byte in the signature text");
	golden_with_line(text, sizeof(text), 2, "trusted comment: a\rb");
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_FORMAT,
	    "carriage return inside the trusted comment");

	memset(line, 'x', sizeof(line));
	memcpy(line, "trusted comment: ", 17);
	line[17 + SIG_COMMENT_MAX_BYTES] = '\0';
	golden_with_line(text, sizeof(text), 2, line);
	CHECK_RC(verify_text(&test_pk, text, tc), BD_ERR_TOOBIG,
	    "trusted comment of SIG_COMMENT_MAX_BYTES bytes");
	memset(text, 'x', sizeof(text));
	memcpy(text, golden, goldenlen);
	CHECK_RC(sig_verify(&test_pk, (const uint8_t *)msg, msglen, text,
	    SIG_MINISIG_MAX_BYTES + 1, tc, sizeof(tc)), BD_ERR_TOOBIG,
	    "signature text over SIG_MINISIG_MAX_BYTES");
	CHECK_RC(sig_verify(&test_pk, (const uint8_t *)msg, msglen, golden,
	    goldenlen, tc, SIG_COMMENT_MAX_BYTES - 1), BD_ERR_USAGE,
	    "trusted comment buffer too small");
}

/* Line ends as a Windows editor would leave them are accepted. */
static void
test_crlf(void)
{
	char text[4096], tc[SIG_COMMENT_MAX_BYTES];
	const char *s;
	size_t n = 0;

	for (s = golden; *s != '\0'; s++) {
		if (*s == '\n')
			text[n++] = '\r';
		text[n++] = *s;
	}
	text[n] = '\0';
	CHECK_RC(verify_text(&test_pk, text, tc), BD_OK,
	    "CRLF signature verifies");
	CHECK(strcmp(tc, "bootdrop golden signature") == 0,
	    "CRLF: trusted comment without CR");
}

static void
test_sign(void)
{
	char big[2 * SIG_COMMENT_MAX_BYTES], tc[SIG_COMMENT_MAX_BYTES];
	uint8_t id[KEY_ID_BYTES];
	struct bd_seckey *sk = NULL;
	struct bd_pubkey pk;
	char *out = NULL, *p;

	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen, "a\nb", NULL,
	    &out), BD_ERR_USAGE, "trusted comment with a newline");
	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen, "a\rb", NULL,
	    &out), BD_ERR_USAGE, "trusted comment with a carriage return");
	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen, "ok", "x\ny",
	    &out), BD_ERR_USAGE, "untrusted comment with a newline");
	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen, NULL, NULL,
	    &out), BD_ERR_USAGE, "no trusted comment");
	memset(big, 'c', sizeof(big));
	big[SIG_COMMENT_MAX_BYTES] = '\0';
	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen, big, NULL,
	    &out), BD_ERR_USAGE, "trusted comment of SIG_COMMENT_MAX_BYTES");
	big[SIG_COMMENT_MAX_BYTES - 1] = '\0';
	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen, big, big,
	    &out), BD_ERR_USAGE, "two longest comments exceed the text cap");
	CHECK(out == NULL, "no text on failure");

	CHECK_RC(sig_sign(test_sk, (const uint8_t *)msg, msglen, big, NULL,
	    &out), BD_OK, "longest trusted comment");
	CHECK_RC(verify_text(&test_pk, out, tc), BD_OK,
	    "longest trusted comment verifies");
	CHECK(strcmp(tc, big) == 0, "longest trusted comment returned whole");
	free(out);

	CHECK_RC(seckey_generate(&sk, &pk), BD_OK, "generate a key");
	CHECK_RC(sig_sign(sk, (const uint8_t *)"", 0, "", "", &out), BD_OK,
	    "sign an empty message with empty comments");
	CHECK_RC(sig_verify(&pk, (const uint8_t *)"", 0, out, strlen(out), tc,
	    sizeof(tc)), BD_OK, "empty message verifies");
	CHECK(tc[0] == '\0', "empty trusted comment");
	CHECK_RC(sig_keyid(out, strlen(out), id), BD_OK, "sig_keyid");
	CHECK(memcmp(id, pk.id, KEY_ID_BYTES) == 0, "key id of the new key");
	free(out);

	/* Another key that claims test.pub's key id: the signature fails. */
	memcpy(sk->id, test_pk.id, KEY_ID_BYTES);
	CHECK_RC(sig_sign(sk, (const uint8_t *)msg, msglen, "forged", NULL,
	    &out), BD_OK, "sign with a forged key id");
	CHECK_RC(verify_text(&test_pk, out, tc), BD_ERR_SIG,
	    "forged key id refused by the signature check");
	p = strchr(out, '\n') + 1;
	CHECK(strncmp(p, "RUQ", 3) == 0, "signature line starts with ED");
	free(out);
	seckey_free(sk);
}

/* The committed encrypted key signs, and test-enc.pub verifies. */
static void
test_encrypted_key(void)
{
	char pass[256], tc[SIG_COMMENT_MAX_BYTES];
	struct bd_seckey *sk = NULL;
	struct bd_pubkey pk, derived;
	char *out = NULL;

	slurp(data_path("keys/test-enc.pass"), pass, sizeof(pass));
	pass[strcspn(pass, "\n")] = '\0';
	CHECK_RC(pubkey_load_file(&pk, data_path("keys/test-enc.pub")), BD_OK,
	    "test-enc.pub");
	CHECK_RC(seckey_load_file(&sk, data_path("keys/test-enc.key"), pass_cb,
	    pass), BD_OK, "test-enc.key with test-enc.pass");
	if (sk == NULL)
		return;
	seckey_public(sk, &derived);
	CHECK(memcmp(&derived, &pk, sizeof(pk)) == 0,
	    "test-enc.key matches test-enc.pub");
	CHECK_RC(sig_sign(sk, (const uint8_t *)msg, msglen, "encrypted key",
	    NULL, &out), BD_OK, "sign with the encrypted key");
	if (out != NULL)
		CHECK_RC(verify_text(&pk, out, tc), BD_OK,
		    "verifies with test-enc.pub");
	free(out);
	seckey_free(sk);
}

int
main(void)
{
	if ((testdata = getenv("BOOTDROP_TESTDATA")) == NULL) {
		printf("FAIL: BOOTDROP_TESTDATA is not set\n");
		return 1;
	}
	if (sodium_init() < 0) {
		printf("FAIL: sodium_init\n");
		return 1;
	}
	msglen = slurp(data_path("sig/msg.txt"), msg, sizeof(msg));
	goldenlen = slurp(data_path("sig/msg.txt.minisig"), golden,
	    sizeof(golden));
	CHECK_RC(seckey_load_file(&test_sk, data_path("keys/test.key"), NULL,
	    NULL), BD_OK, "keys/test.key");
	CHECK_RC(pubkey_load_file(&test_pk, data_path("keys/test.pub")), BD_OK,
	    "keys/test.pub");
	CHECK_RC(pubkey_load_file(&minisign_pk,
	    data_path("keys/minisign.pub")), BD_OK, "keys/minisign.pub");
	if (test_sk != NULL) {
		test_golden();
		test_refusals();
		test_crlf();
		test_sign();
		test_encrypted_key();
	}
	seckey_free(test_sk);
	return check_done();
}
