/*
 * test_key.c - key ids, public and secret key files, minisign interop.
 *
 * Test data (BOOTDROP_TESTDATA/keys):
 *   test.pub, test.key          unencrypted pair written by seckey_save_file
 *   test-enc.pub, test-enc.key  encrypted pair (minisign's scrypt limits),
 *   test-enc.pass               its passphrase (first line)
 *   minisign.pub, minisign.key  made by `minisign -G -W` (minisign 0.11)
 * Checked by hand when committed: minisign 0.11 signs with test.key and
 * test-enc.key (passphrase on stdin) and its signatures verify with
 * test.pub and test-enc.pub.
 *
 * scrypt at minisign's limits takes about 1 GiB and 6 s; this file runs it
 * twice (test_sig once more, for test-enc.key).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "key.h"

static const char *testdata;
static char tmpdir[] = "/tmp/bootdrop-test-key.XXXXXX";

static const char *
data_path(const char *name)
{
	static char dir[1024];

	snprintf(dir, sizeof(dir), "%s/keys", testdata);
	return join_path(dir, name);
}

static const char *
tmp_path(const char *name)
{
	return join_path(tmpdir, name);
}

static void
spew(const char *path, const void *buf, size_t len)
{
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		printf("FAIL: write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* The binary blob of the key file at path (second line, base64). */
static size_t
key_blob(const char *path, uint8_t *bin, size_t cap)
{
	char text[4096];
	char *line;
	size_t n = 0;

	slurp(path, text, sizeof(text));
	line = strchr(text, '\n') + 1;
	line[strcspn(line, "\r\n")] = '\0';
	if (sodium_base642bin(bin, cap, line, strlen(line), NULL, &n, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0) {
		printf("FAIL: %s: bad base64\n", path);
		exit(1);
	}
	return n;
}

/* Writes a key file with the given comment line and blob. */
static const char *
key_write(const char *name, const char *comment, const uint8_t *bin,
    size_t len)
{
	char text[4096], b64[1024];
	const char *path = tmp_path(name);
	int n;

	sodium_bin2base64(b64, sizeof(b64), bin, len,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(text, sizeof(text), "%s\n%s\n", comment, b64);
	spew(path, text, (size_t)n);
	return path;
}

struct pass_ctx {
	const char *pass;
	int calls;
	bool confirm;
};

static enum bd_err
pass_cb(char *buf, size_t cap, bool confirm, void *ctx)
{
	struct pass_ctx *p = ctx;

	p->calls++;
	p->confirm = confirm;
	snprintf(buf, cap, "%s", p->pass);
	return BD_OK;
}

static bool
same_pub(const struct bd_pubkey *a, const struct bd_pubkey *b)
{
	return memcmp(a->id, b->id, KEY_ID_BYTES) == 0 &&
	    memcmp(a->pk, b->pk, KEY_PK_BYTES) == 0;
}

static void
test_keyid(void)
{
	static const uint8_t id[KEY_ID_BYTES] = {
		0x61, 0x0b, 0x52, 0xe7, 0x1f, 0x5b, 0x54, 0x8a
	};
	uint8_t back[KEY_ID_BYTES];
	char hex[KEY_ID_HEX_BYTES];

	/* minisign prints this id as 8A545B1FE7520B61 (little-endian u64). */
	keyid_hex(id, hex);
	CHECK(strcmp(hex, "8A545B1FE7520B61") == 0, "keyid_hex: %s", hex);
	CHECK_RC(keyid_parse("8a545b1fe7520b61", back), BD_OK,
	    "keyid_parse lower case");
	CHECK(memcmp(back, id, sizeof(id)) == 0, "keyid_parse round trip");
	CHECK_RC(keyid_parse("8A545B1FE7520B6", back), BD_ERR_FORMAT,
	    "keyid_parse 15 digits");
	CHECK_RC(keyid_parse("8A545B1FE7520B611", back), BD_ERR_FORMAT,
	    "keyid_parse 17 digits");
	CHECK_RC(keyid_parse("8A545B1FE7520B6G", back), BD_ERR_FORMAT,
	    "keyid_parse non-hex digit");
	CHECK_RC(keyid_parse(" A545B1FE7520B61", back), BD_ERR_FORMAT,
	    "keyid_parse leading space");
	CHECK_RC(keyid_parse("0x545B1FE7520B61", back), BD_ERR_FORMAT,
	    "keyid_parse 0x prefix");
	CHECK_RC(keyid_parse("", back), BD_ERR_FORMAT, "keyid_parse empty");
}

/* A committed public key file: id matches its comment, base64 its line. */
static void
test_pub_file(const char *name, struct bd_pubkey *pk)
{
	char text[4096], want[256], b64[PUBKEY_B64_BYTES];
	char hex[KEY_ID_HEX_BYTES];
	struct bd_pubkey again;

	slurp(data_path(name), text, sizeof(text));
	CHECK_RC(pubkey_load_file(pk, data_path(name)), BD_OK, name);
	keyid_hex(pk->id, hex);
	pubkey_to_base64(pk, b64);
	snprintf(want, sizeof(want), "untrusted comment: minisign public key "
	    "%s\n%s\n", hex, b64);
	CHECK(strcmp(text, want) == 0, "%s: byte for byte as written by "
	    "minisign, key id %s", name, hex);
	CHECK_RC(pubkey_from_base64(&again, b64), BD_OK,
	    "pubkey_from_base64");
	CHECK(same_pub(pk, &again), "pubkey base64 round trip");
}

static void
test_pubkey(void)
{
	struct bd_pubkey pk, pk2;
	char b64[PUBKEY_B64_BYTES], buf[128];
	uint8_t bin[42];
	size_t n;

	test_pub_file("test.pub", &pk);
	test_pub_file("minisign.pub", &pk2);
	test_pub_file("test-enc.pub", &pk2);

	pubkey_to_base64(&pk, b64);
	CHECK(strlen(b64) == 56, "public key base64 is 56 characters");
	snprintf(buf, sizeof(buf), "%.55s", b64);
	CHECK_RC(pubkey_from_base64(&pk2, buf), BD_ERR_BASE64,
	    "truncated public key string");
	snprintf(buf, sizeof(buf), "%sA", b64);
	CHECK_RC(pubkey_from_base64(&pk2, buf), BD_ERR_BASE64,
	    "overlong public key string");
	snprintf(buf, sizeof(buf), "%s", b64);
	buf[20] = '*';
	CHECK_RC(pubkey_from_base64(&pk2, buf), BD_ERR_BASE64,
	    "invalid base64 character");
	/* libsodium 1.0.18 decodes any byte >= 0x80 as a digit. */
	snprintf(buf, sizeof(buf), "%s", b64);
	buf[20] = (char)0xd9;
	CHECK_RC(pubkey_from_base64(&pk2, buf), BD_ERR_BASE64,
	    "base64 character 0xd9");
	snprintf(buf, sizeof(buf), "%s", b64);
	buf[55] = (char)0x80;
	CHECK_RC(pubkey_from_base64(&pk2, buf), BD_ERR_BASE64,
	    "base64 character 0x80 at the end");
	n = key_blob(data_path("test.pub"), bin, sizeof(bin));
	CHECK(n == sizeof(bin), "test.pub blob is 42 bytes");
	bin[1] = 'D';
	sodium_bin2base64(buf, sizeof(buf), bin, sizeof(bin),
	    sodium_base64_VARIANT_ORIGINAL);
	CHECK_RC(pubkey_from_base64(&pk2, buf), BD_ERR_ALG,
	    "public key with algorithm ED");
	CHECK_RC(pubkey_load_file(&pk2, key_write("alg.pub",
	    "untrusted comment: x", bin, sizeof(bin))), BD_ERR_ALG,
	    "public key file with algorithm ED");
}

/* Parsing rules shared by both key files, exercised on public keys. */
static void
test_file_structure(void)
{
	char text[8192], b64[PUBKEY_B64_BYTES], hex[KEY_ID_HEX_BYTES];
	struct bd_pubkey pk, got;
	const char *p = tmp_path("s.pub");

	CHECK_RC(pubkey_load_file(&pk, data_path("test.pub")), BD_OK,
	    "test.pub");
	pubkey_to_base64(&pk, b64);
	keyid_hex(pk.id, hex);

	snprintf(text, sizeof(text), "untrusted comment: x\r\n%s\r\n", b64);
	spew(p, text, strlen(text));
	CHECK_RC(pubkey_load_file(&got, p), BD_OK, "CRLF line ends accepted");
	CHECK(same_pub(&pk, &got), "CRLF file gives the same key");
	snprintf(text, sizeof(text), "untrusted comment: x\n%s", b64);
	spew(p, text, strlen(text));
	CHECK_RC(pubkey_load_file(&got, p), BD_OK, "no final newline accepted");
	snprintf(text, sizeof(text), "trusted comment: x\n%s\n", b64);
	spew(p, text, strlen(text));
	CHECK_RC(pubkey_load_file(&got, p), BD_ERR_FORMAT,
	    "first line without \"untrusted comment: \"");
	snprintf(text, sizeof(text), "%s\n", b64);
	spew(p, text, strlen(text));
	CHECK_RC(pubkey_load_file(&got, p), BD_ERR_FORMAT, "no comment line");
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\nextra\n", b64);
	spew(p, text, strlen(text));
	CHECK_RC(pubkey_load_file(&got, p), BD_ERR_FORMAT,
	    "data after the key line");
	snprintf(text, sizeof(text), "untrusted comment: x\n%.40s\n", b64);
	spew(p, text, strlen(text));
	CHECK_RC(pubkey_load_file(&got, p), BD_ERR_BASE64,
	    "truncated base64 line");
	snprintf(text, sizeof(text), "untrusted comment: x\n %s\n", b64);
	spew(p, text, strlen(text));
	CHECK_RC(pubkey_load_file(&got, p), BD_ERR_BASE64,
	    "space before base64");
	memset(text, 'A', sizeof(text));
	memcpy(text, "untrusted comment: ", 19);
	spew(p, text, KEY_FILE_MAX_BYTES + 1);
	CHECK_RC(pubkey_load_file(&got, p), BD_ERR_TOOBIG,
	    "public key file over KEY_FILE_MAX_BYTES");
	CHECK_RC(pubkey_load_file(&got, tmpdir), BD_ERR_IO, "directory");
	CHECK_RC(pubkey_load_file(&got, tmp_path("missing")), BD_ERR_IO,
	    "missing file");
}

static void
test_committed_seckeys(void)
{
	struct bd_seckey *sk = NULL;
	struct bd_pubkey pk, want;
	struct pass_ctx ctx = { "unused", 0, false };

	CHECK_RC(seckey_load_file(&sk, data_path("test.key"), pass_cb, &ctx),
	    BD_OK, "test.key (unencrypted)");
	CHECK(ctx.calls == 0, "no passphrase asked for an unencrypted key");
	if (sk != NULL) {
		seckey_public(sk, &pk);
		pubkey_load_file(&want, data_path("test.pub"));
		CHECK(same_pub(&pk, &want), "test.key matches test.pub");
	}
	seckey_free(sk);

	CHECK_RC(seckey_load_file(&sk, data_path("minisign.key"), NULL, NULL),
	    BD_OK, "minisign.key made by minisign -G -W");
	if (sk != NULL) {
		seckey_public(sk, &pk);
		pubkey_load_file(&want, data_path("minisign.pub"));
		CHECK(same_pub(&pk, &want), "minisign.key matches minisign.pub");
	}
	seckey_free(sk);
	seckey_free(NULL);
}

/*
 * Generates a pair, writes it unencrypted and reads it back; checks the
 * layout is minisign -W's and that files are never replaced unless forced.
 */
static void
test_roundtrip_unencrypted(struct bd_seckey **keep, struct bd_pubkey *pk)
{
	struct bd_seckey *sk = NULL, *back = NULL;
	struct bd_pubkey pk2;
	uint8_t blob[256], ms[256];
	char before[4096], after[4096];
	struct stat st;
	size_t n;

	CHECK_RC(seckey_generate(&sk, pk), BD_OK, "seckey_generate");
	seckey_public(sk, &pk2);
	CHECK(same_pub(pk, &pk2), "seckey_public matches generated key");
	CHECK_RC(seckey_save_file(sk, tmp_path("new.key"), false, NULL, NULL),
	    BD_OK, "save unencrypted secret key");
	CHECK_RC(pubkey_save_file(pk, tmp_path("new.pub"), false), BD_OK,
	    "save public key");
	CHECK(stat(tmp_path("new.key"), &st) == 0 &&
	    (st.st_mode & 07777) == 0600, "secret key file mode 0600");
	CHECK(stat(tmp_path("new.pub"), &st) == 0 &&
	    (st.st_mode & 07777) == 0644, "public key file mode 0644");

	n = key_blob(tmp_path("new.key"), blob, sizeof(blob));
	CHECK(n == 158, "secret key blob is 158 bytes");
	CHECK(key_blob(data_path("minisign.key"), ms, sizeof(ms)) == 158,
	    "minisign secret key blob is 158 bytes");
	/* Same bytes as minisign -W everywhere but key id and key. */
	CHECK(memcmp(blob, ms, 54) == 0 && memcmp(blob + 126, ms + 126, 32) ==
	    0, "unencrypted layout identical to minisign -G -W");
	slurp(tmp_path("new.key"), before, sizeof(before));
	CHECK(strncmp(before, "untrusted comment: minisign encrypted secret "
	    "key\n", 49) == 0 && strlen(before) == 49 + 212 + 1,
	    "secret key text as minisign writes it");

	CHECK_RC(seckey_load_file(&back, tmp_path("new.key"), NULL, NULL),
	    BD_OK, "load saved secret key");
	CHECK(back != NULL && memcmp(back->id, sk->id, KEY_ID_BYTES) == 0 &&
	    memcmp(back->sk, sk->sk, KEY_SK_BYTES) == 0,
	    "secret key round trip");
	seckey_free(back);
	CHECK_RC(pubkey_load_file(&pk2, tmp_path("new.pub")), BD_OK,
	    "load saved public key");
	CHECK(same_pub(pk, &pk2), "public key round trip");

	CHECK_RC(seckey_save_file(sk, tmp_path("new.key"), false, NULL, NULL),
	    BD_ERR_EXISTS, "secret key not replaced without force");
	CHECK_RC(pubkey_save_file(&pk2, tmp_path("new.pub"), false),
	    BD_ERR_EXISTS, "public key not replaced without force");
	slurp(tmp_path("new.key"), after, sizeof(after));
	CHECK(strcmp(before, after) == 0, "refused save left the file alone");
	CHECK_RC(seckey_save_file(sk, tmp_path("new.key"), true, NULL, NULL),
	    BD_OK, "secret key replaced with force");
	CHECK_RC(pubkey_save_file(&pk2, tmp_path("new.pub"), true), BD_OK,
	    "public key replaced with force");
	CHECK_RC(pubkey_save_file(&pk2, tmp_path("nodir/new.pub"), false),
	    BD_ERR_IO, "save into a missing directory");
	*keep = sk;
}

/* Hand-made variants of the committed keys; none runs scrypt. */
static void
test_seckey_refusals(const struct bd_seckey *sk)
{
	static const char comment[] = "untrusted comment: minisign encrypted "
	    "secret key";
	struct pass_ctx ctx = { "unused", 0, false };
	struct bd_seckey *out = NULL;
	uint8_t enc[158], plain[158], b[158];
	char text[8192];
	crypto_generichash_state hs;

	key_blob(data_path("test-enc.key"), enc, sizeof(enc));
	key_blob(tmp_path("new.key"), plain, sizeof(plain));

	memcpy(b, enc, sizeof(b));
	b[46 + 4] = 0x01;	/* memlimit 2^32 + 1 GiB */
	CHECK_RC(seckey_load_file(&out, key_write("mem.key", comment, b,
	    sizeof(b)), pass_cb, &ctx), BD_ERR_RANGE,
	    "absurd scrypt memlimit refused");
	memcpy(b, enc, sizeof(b));
	b[38 + 6] = 0x01;	/* opslimit 2^48 + ... */
	CHECK_RC(seckey_load_file(&out, key_write("ops.key", comment, b,
	    sizeof(b)), pass_cb, &ctx), BD_ERR_RANGE,
	    "absurd scrypt opslimit refused");
	CHECK(ctx.calls == 0, "no passphrase asked before the limits check");
	CHECK_RC(seckey_load_file(&out, data_path("test-enc.key"), NULL, NULL),
	    BD_ERR_USAGE, "encrypted key without a passphrase source");

	memcpy(b, enc, sizeof(b));
	b[2] = 'X';
	CHECK_RC(seckey_load_file(&out, key_write("kdf.key", comment, b,
	    sizeof(b)), pass_cb, &ctx), BD_ERR_ALG, "unknown KDF");
	memcpy(b, plain, sizeof(b));
	b[4] = 'S';
	CHECK_RC(seckey_load_file(&out, key_write("chk.key", comment, b,
	    sizeof(b)), NULL, NULL), BD_ERR_ALG, "unknown checksum function");
	memcpy(b, plain, sizeof(b));
	b[1] = 'D';
	CHECK_RC(seckey_load_file(&out, key_write("alg.key", comment, b,
	    sizeof(b)), NULL, NULL), BD_ERR_ALG, "unknown signature algorithm");

	/* minisign -C -W keeps the checksum: a correct one is accepted. */
	memcpy(b, plain, sizeof(b));
	crypto_generichash_init(&hs, NULL, 0, 32);
	crypto_generichash_update(&hs, b, 2);
	crypto_generichash_update(&hs, b + 54, 8 + 64);
	crypto_generichash_final(&hs, b + 126, 32);
	CHECK_RC(seckey_load_file(&out, key_write("kchk.key", comment, b,
	    sizeof(b)), NULL, NULL), BD_OK,
	    "unencrypted key with its checksum");
	CHECK(out != NULL && memcmp(out->sk, sk->sk, KEY_SK_BYTES) == 0,
	    "... gives the key");
	seckey_free(out);
	out = NULL;
	b[126] ^= 1;
	CHECK_RC(seckey_load_file(&out, key_write("bchk.key", comment, b,
	    sizeof(b)), NULL, NULL), BD_ERR_FORMAT,
	    "unencrypted key with a wrong checksum");
	memcpy(b, plain, sizeof(b));
	b[54 + 8 + 40] ^= 1;	/* a byte of the public half */
	CHECK_RC(seckey_load_file(&out, key_write("pair.key", comment, b,
	    sizeof(b)), NULL, NULL), BD_ERR_FORMAT,
	    "secret key whose public half does not match its seed");
	CHECK_RC(seckey_load_file(&out, key_write("short.key", comment, b,
	    sizeof(b) - 1), NULL, NULL), BD_ERR_BASE64,
	    "secret key blob one byte short");

	slurp(tmp_path("new.key"), text, sizeof(text));
	text[strlen(text) - 10] = '\n';
	spew(tmp_path("trunc.key"), text, strlen(text));
	CHECK_RC(seckey_load_file(&out, tmp_path("trunc.key"), NULL, NULL),
	    BD_ERR_FORMAT, "secret key line cut by a newline");
	slurp(tmp_path("new.key"), text, sizeof(text));
	memset(text + strlen(text), '\n', KEY_FILE_MAX_BYTES);
	spew(tmp_path("big.key"), text, KEY_FILE_MAX_BYTES + 1);
	CHECK_RC(seckey_load_file(&out, tmp_path("big.key"), NULL, NULL),
	    BD_ERR_TOOBIG, "secret key file over KEY_FILE_MAX_BYTES");
	CHECK(out == NULL, "no key returned on failure");
}

/* Two scrypt runs at minisign's limits: save encrypted, load it back. */
static void
test_encrypted(const struct bd_seckey *sk)
{
	struct pass_ctx ctx = { "correct horse", 0, false };
	struct bd_seckey *out = NULL;
	struct bd_pubkey pk, want;
	uint8_t b[158];

	CHECK_RC(seckey_save_file(sk, tmp_path("enc.key"), false, pass_cb,
	    &ctx), BD_OK, "save encrypted secret key");
	CHECK(ctx.calls == 1 && ctx.confirm, "passphrase asked once with "
	    "confirm");
	key_blob(tmp_path("enc.key"), b, sizeof(b));
	CHECK(memcmp(b, "EdScB2", 6) == 0, "encrypted key: Ed, Sc, B2");
	CHECK(memcmp(b + 38, "\x00\x00\x00\x02\x00\x00\x00\x00", 8) == 0 &&
	    memcmp(b + 46, "\x00\x00\x00\x40\x00\x00\x00\x00", 8) == 0,
	    "scrypt limits are minisign's (2^25 ops, 1 GiB)");
	CHECK(!sodium_is_zero(b + 6, 32), "salt is set");
	CHECK(memcmp(b + 54 + 8, sk->sk, 32) != 0, "key is not in clear");

	ctx.calls = 0;
	CHECK_RC(seckey_load_file(&out, tmp_path("enc.key"), pass_cb, &ctx),
	    BD_OK, "load encrypted key with its passphrase");
	CHECK(ctx.calls == 1 && !ctx.confirm, "passphrase asked once");
	CHECK(out != NULL && memcmp(out->id, sk->id, KEY_ID_BYTES) == 0 &&
	    memcmp(out->sk, sk->sk, KEY_SK_BYTES) == 0,
	    "encrypted secret key round trip");
	seckey_free(out);
	out = NULL;

	CHECK_RC(pubkey_load_file(&want, data_path("test-enc.pub")), BD_OK,
	    "test-enc.pub");
	seckey_public(sk, &pk);
	CHECK(!same_pub(&pk, &want), "test-enc.pub is a different key");
}

/*
 * Encrypts the unencrypted blob plain as minisign does, but with scrypt's
 * smallest limits so that it is quick; written here independently of
 * key.c.  Loading it proves the stored limits are the ones used.
 */
static const char *
craft_encrypted(const uint8_t plain[158], const char *pass, const char *name)
{
	static const char comment[] = "untrusted comment: minisign encrypted "
	    "secret key";
	uint8_t b[158], stream[104];
	crypto_generichash_state hs;
	size_t i;

	memcpy(b, plain, sizeof(b));
	memcpy(b + 2, "Sc", 2);
	randombytes_buf(b + 6, 32);
	memcpy(b + 38, "\x00\x80\x00\x00\x00\x00\x00\x00", 8);	/* 32768 */
	memcpy(b + 46, "\x00\x00\x00\x01\x00\x00\x00\x00", 8);	/* 16 MiB */
	crypto_generichash_init(&hs, NULL, 0, 32);
	crypto_generichash_update(&hs, b, 2);
	crypto_generichash_update(&hs, b + 54, 8 + 64);
	crypto_generichash_final(&hs, b + 126, 32);
	if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof(stream), pass,
	    strlen(pass), b + 6, 32768, 16777216) != 0) {
		printf("FAIL: scrypt\n");
		exit(1);
	}
	for (i = 0; i < sizeof(stream); i++)
		b[54 + i] ^= stream[i];
	return key_write(name, comment, b, sizeof(b));
}

static void
test_stored_limits(const struct bd_seckey *sk)
{
	struct pass_ctx ctx = { "light passphrase", 0, false };
	struct bd_seckey *out = NULL;
	const char *path;
	uint8_t plain[158];

	key_blob(tmp_path("new.key"), plain, sizeof(plain));
	path = craft_encrypted(plain, ctx.pass, "light.key");
	CHECK_RC(seckey_load_file(&out, path, pass_cb, &ctx), BD_OK,
	    "encrypted key with small stored scrypt limits");
	CHECK(out != NULL && memcmp(out->sk, sk->sk, KEY_SK_BYTES) == 0 &&
	    memcmp(out->id, sk->id, KEY_ID_BYTES) == 0, "... gives the key");
	seckey_free(out);
	out = NULL;
	ctx.pass = "not the passphrase";
	CHECK_RC(seckey_load_file(&out, path, pass_cb, &ctx),
	    BD_ERR_PASSPHRASE, "wrong passphrase");
	CHECK(out == NULL, "no key returned for a wrong passphrase");
	ctx.pass = "";
	CHECK_RC(seckey_load_file(&out, path, pass_cb, &ctx),
	    BD_ERR_PASSPHRASE, "empty passphrase");
	CHECK(ctx.calls == 3, "passphrase asked once per load");
}

static void
cleanup(void)
{
	static const char *names[] = {
		"alg.pub", "s.pub", "new.key", "new.pub", "mem.key", "ops.key",
		"kdf.key", "chk.key", "alg.key", "kchk.key", "bchk.key",
		"pair.key", "short.key", "trunc.key", "big.key", "enc.key",
		"light.key",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(tmp_path(names[i]));
	rmdir(tmpdir);
}

int
main(void)
{
	struct bd_seckey *sk = NULL;
	struct bd_pubkey pk;

	if ((testdata = getenv("BOOTDROP_TESTDATA")) == NULL) {
		printf("FAIL: BOOTDROP_TESTDATA is not set\n");
		return 1;
	}
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL) {
		printf("FAIL: setup\n");
		return 1;
	}
	test_keyid();
	test_pubkey();
	test_file_structure();
	test_committed_seckeys();
	test_roundtrip_unencrypted(&sk, &pk);
	if (sk != NULL) {
		test_seckey_refusals(sk);
		test_stored_limits(sk);
		test_encrypted(sk);
	}
	seckey_free(sk);
	cleanup();
	return check_done();
}
