/*
 * test_manifest.c - the signed manifest: a round trip of every field, the
 * committed golden envelopes, and one refusal per rule, each asserting the
 * exact bd_err.
 *
 * Payload tampering comes in two kinds.  Where the point is a schema rule,
 * the tampered payload is signed again, so the refusal is the schema
 * check's and not the signature's.  Where the point is the signature, the
 * old signature is kept.
 *
 * Run as `test_manifest --write-golden DIR` to regenerate the files of
 * tests/data/manifest (and seed tests/fuzz/corpus_manifest with them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "key.h"
#include "manifest.h"
#include "sha256.h"
#include "sig.h"
#include "timefmt.h"

#define CHANNEL		"freebsd-9.0-i386"
#define CREATED		"2026-11-26T12:00:00Z"
#define EXPIRES		"2099-12-31T00:00:00Z"
#define TC_VALID	"bootdrop channel=" CHANNEL " version=7 expires=" EXPIRES
#define MENU_LST	"default 0\ntimeout 5\n\ntitle FreeBSD 9.0 i386 XEN\n" \
			"root (hd0,0)\nkernel /boot/kernel\n"


/* Checks that got is want, naming the case and the detail on failure. */
#define EXPECT(desc, got, want) expect(__LINE__, desc, got, want)

static void
expect(int line, const char *desc, enum bd_err got, enum bd_err want)
{
	if (got == want)
		printf("ok: %s: %s (%s)\n", desc, bd_strerror(got),
		    got == BD_OK ? "" : bd_err_detail());
	else {
		printf("FAIL line %d: %s: got %s (%s), want %s\n", line, desc,
		    bd_strerror(got), bd_err_detail(), bd_strerror(want));
		check_failures++;
	}
}

static struct bd_seckey *sk, *sk2;
static struct bd_pubkey pk, pk2;
static char *payload_text;	/* the sample payload, as encoded */

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "test_manifest: %s failed: %s\n", what,
	    bd_err_detail());
	exit(2);
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("strdup");
	return p;
}


static void
sample_fill(struct bd_manifest *m, struct bd_artifact arts[2])
{
	memset(m, 0, sizeof(*m));
	memset(arts, 0, 2 * sizeof(*arts));
	m->format = 2;	/* this file tests format 2; format 3: test_manifest3.c */
	m->channel = CHANNEL;
	m->version = 7;
	m->has_prev = true;
	sha256_buf("version 6", 9, m->prev);
	m->keys.threshold = 1;
	m->keys.nkeys = 1;
	m->keys.keys[0] = pk;
	time_parse(CREATED, &m->created);
	time_parse(EXPIRES, &m->expires);
	arts[0].name = "kernel";
	arts[0].kind = "kernel";
	arts[0].size = 5242880;
	sha256_buf("kernel", 6, arts[0].sha256);
	arts[0].install = "boot/kernel";
	arts[0].has_elf = true;
	arts[0].elf.class = 32;
	arts[0].elf.machine = "i386";
	arts[0].elf.xen = true;
	arts[1].name = "xenworld.tar.gz";
	arts[1].kind = "world";
	arts[1].size = 157286400;
	sha256_buf("world", 5, arts[1].sha256);
	arts[1].install = "xenworld.tar.gz";
	m->artifacts = arts;
	m->nartifacts = 2;
	m->has_boot = true;
	m->boot_loader = "pvgrub";
	m->boot_arch = "i386";
	m->menu_lst = MENU_LST;
}

/* Returns a new envelope of payload signed by each of keys[0..n). */
static char *
envelope(const char *payload, const char *tc, struct bd_seckey **keys,
    size_t n)
{
	char *sigs[MANIFEST_MAX_SIGNATURES] = { NULL };
	uint8_t ids[MANIFEST_MAX_SIGNATURES][KEY_ID_BYTES];
	char *out = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (sig_sign(keys[i], (const uint8_t *)payload, strlen(payload),
		    tc, NULL, &sigs[i]) != BD_OK)
			die("sig_sign");
		memcpy(ids[i], keys[i]->id, KEY_ID_BYTES);
	}
	if (manifest_envelope_encode((const uint8_t *)payload,
	    strlen(payload), (const char *const *)sigs,
	    (const uint8_t (*)[KEY_ID_BYTES])ids, n, &out) != BD_OK)
		die("manifest_envelope_encode");
	for (i = 0; i < n; i++)
		free(sigs[i]);
	return out;
}

static enum bd_err
verify(const char *env, const struct bd_pubkey *keys, size_t nkeys,
    unsigned threshold, const char *channel, struct bd_manifest **out)
{
	struct bd_trust trust = { keys, nkeys, threshold };
	struct bd_manifest *m = NULL;
	enum bd_err rc;

	bd_err_clear();
	rc = manifest_verify_load((const uint8_t *)env, strlen(env), &trust,
	    channel, &m);
	if (rc != BD_OK && m != NULL) {
		printf("FAIL: manifest returned with an error\n");
		check_failures++;
	}
	if (out != NULL)
		*out = m;
	else
		manifest_free(m);
	return rc;
}

/* Verifies env against the test key, threshold 1, the sample channel. */
static enum bd_err
verify1(const char *env)
{
	return verify(env, &pk, 1, 1, CHANNEL, NULL);
}

/* Signs payload with the test key under tc and verifies it. */
static enum bd_err
signed_payload(const char *payload, const char *tc)
{
	char *env = envelope(payload, tc, &sk, 1);
	enum bd_err rc = verify1(env);

	free(env);
	return rc;
}

/* Signs the sample payload with one replacement applied, and verifies. */
static enum bd_err
resigned(const char *from, const char *to)
{
	char *p = check_replace(payload_text, from, to);
	enum bd_err rc = signed_payload(p, TC_VALID);
	struct bd_manifest *m = NULL;

	/* the unverified path applies the same schema */
	char *env = envelope(p, TC_VALID, &sk, 1);
	enum bd_err rc2 = manifest_load_unverified((const uint8_t *)env,
	    strlen(env), &m);

	if (rc2 != rc) {
		printf("FAIL: unverified load says %s, verified load %s\n",
		    bd_strerror(rc2), bd_strerror(rc));
		check_failures++;
	}
	manifest_free(m);
	free(env);
	free(p);
	return rc;
}

static void
test_names(void)
{
	char deep[300];

	CHECK_THAT(channel_name_valid("freebsd-9.0-i386"));
	CHECK_THAT(channel_name_valid("0"));
	CHECK_THAT(channel_name_valid(
	    "a123456789012345678901234567890123456789012345678901234567890123"));
	CHECK_THAT(!channel_name_valid(
	    "a1234567890123456789012345678901234567890123456789012345678901234"));
	CHECK_THAT(!channel_name_valid(""));
	CHECK_THAT(!channel_name_valid("-x"));
	CHECK_THAT(!channel_name_valid(".x"));
	CHECK_THAT(!channel_name_valid("FreeBSD"));
	CHECK_THAT(!channel_name_valid("a/b"));
	CHECK_THAT(!channel_name_valid(NULL));

	CHECK_THAT(artifact_name_valid("xenworld.tar.gz"));
	CHECK_THAT(artifact_name_valid("Kernel_1-2"));
	CHECK_THAT(artifact_name_valid("..."));
	CHECK_THAT(!artifact_name_valid("."));
	CHECK_THAT(!artifact_name_valid(".."));
	CHECK_THAT(!artifact_name_valid(""));
	CHECK_THAT(!artifact_name_valid("a/b"));
	CHECK_THAT(!artifact_name_valid("a b"));
	memset(deep, 'a', 129);
	deep[129] = '\0';
	CHECK_THAT(!artifact_name_valid(deep));
	deep[128] = '\0';
	CHECK_THAT(artifact_name_valid(deep));

	CHECK_THAT(install_path_valid("boot/kernel"));
	CHECK_THAT(install_path_valid("xenworld.tar.gz"));
	CHECK_THAT(install_path_valid("a/b/c/d/e/f/g/h"));
	CHECK_THAT(install_path_valid(".hidden/..x/x.."));
	CHECK_THAT(!install_path_valid("a/b/c/d/e/f/g/h/i"));
	CHECK_THAT(!install_path_valid(""));
	CHECK_THAT(!install_path_valid("/boot/kernel"));
	CHECK_THAT(!install_path_valid("boot/"));
	CHECK_THAT(!install_path_valid("boot//kernel"));
	CHECK_THAT(!install_path_valid("boot/./kernel"));
	CHECK_THAT(!install_path_valid("boot/../kernel"));
	CHECK_THAT(!install_path_valid(".."));
	CHECK_THAT(!install_path_valid("."));
	CHECK_THAT(!install_path_valid("./kernel"));
	CHECK_THAT(!install_path_valid("boot\\kernel"));
	CHECK_THAT(!install_path_valid("boot/ker nel"));
	CHECK_THAT(!install_path_valid("boot/kern\xc3\xa9l"));
	CHECK_THAT(!install_path_valid(NULL));
	memset(deep, 'a', 255);
	deep[255] = '\0';
	CHECK_THAT(install_path_valid(deep));
	memset(deep, 'a', 256);
	deep[256] = '\0';
	CHECK_THAT(!install_path_valid(deep));
}

static void
test_round_trip(void)
{
	struct bd_manifest in, *m = NULL;
	struct bd_artifact arts[2];
	char tc[SIG_COMMENT_MAX_BYTES];
	uint8_t *p = NULL, digest[SHA256_BYTES];
	size_t plen;
	char *env;
	enum bd_err rc;

	sample_fill(&in, arts);
	EXPECT("trusted comment", manifest_trusted_comment(&in, tc,
	    sizeof(tc)), BD_OK);
	CHECK_THAT(strcmp(tc, TC_VALID) == 0);
	EXPECT("payload encode", manifest_payload_encode(&in, &p, &plen),
	    BD_OK);
	CHECK_THAT(p != NULL && plen > 0 && p[plen - 1] == '\n');
	CHECK_THAT(memchr(p, '\0', plen) == NULL);
	if (p == NULL)
		die("payload encode");
	payload_text = malloc(plen + 1);
	if (payload_text == NULL)
		die("malloc");
	memcpy(payload_text, p, plen);
	payload_text[plen] = '\0';
	/* DESIGN.md's field order */
	CHECK_THAT(strstr(payload_text, "\"type\"") < strstr(payload_text,
	    "\"channel\""));
	CHECK_THAT(strstr(payload_text, "\"expires\"") < strstr(payload_text,
	    "\"artifacts\""));
	CHECK_THAT(strstr(payload_text, "\"artifacts\"") < strstr(payload_text,
	    "\"boot\""));

	env = envelope(payload_text, TC_VALID, &sk, 1);
	rc = verify(env, &pk, 1, 1, CHANNEL, &m);
	EXPECT("round trip verifies", rc, BD_OK);
	if (m != NULL) {
		CHECK_THAT(strcmp(m->channel, CHANNEL) == 0);
		CHECK_THAT(m->version == 7);
		CHECK_THAT(m->created == in.created && m->expires == in.expires);
		CHECK_THAT(m->nartifacts == 2);
		CHECK_THAT(strcmp(m->artifacts[0].name, "kernel") == 0);
		CHECK_THAT(strcmp(m->artifacts[0].kind, "kernel") == 0);
		CHECK_THAT(m->artifacts[0].size == 5242880);
		CHECK_THAT(memcmp(m->artifacts[0].sha256, arts[0].sha256,
		    SHA256_BYTES) == 0);
		sha256_hex(arts[0].sha256, arts[0].sha256_hex);
		CHECK_THAT(strcmp(m->artifacts[0].sha256_hex,
		    arts[0].sha256_hex) == 0);
		CHECK_THAT(strcmp(m->artifacts[0].install, "boot/kernel") == 0);
		CHECK_THAT(m->artifacts[0].has_elf);
		CHECK_THAT(m->artifacts[0].elf.class == 32);
		CHECK_THAT(strcmp(m->artifacts[0].elf.machine, "i386") == 0);
		CHECK_THAT(m->artifacts[0].elf.xen);
		CHECK_THAT(strcmp(m->artifacts[1].name, "xenworld.tar.gz") == 0);
		CHECK_THAT(strcmp(m->artifacts[1].kind, "world") == 0);
		CHECK_THAT(m->artifacts[1].size == 157286400);
		CHECK_THAT(strcmp(m->artifacts[1].install, "xenworld.tar.gz") == 0);
		CHECK_THAT(!m->artifacts[1].has_elf);
		CHECK_THAT(m->has_boot);
		CHECK_THAT(strcmp(m->boot_loader, "pvgrub") == 0);
		CHECK_THAT(strcmp(m->boot_arch, "i386") == 0);
		CHECK_THAT(m->menu_lst != NULL && strcmp(m->menu_lst, MENU_LST) == 0);
		CHECK_THAT(m->payload_len == plen &&
		    memcmp(m->payload, p, plen) == 0);
		sha256_buf(p, plen, digest);
		CHECK_THAT(memcmp(m->payload_sha256, digest, SHA256_BYTES) == 0);
		CHECK_THAT(strcmp(m->trusted_comment, TC_VALID) == 0);
		CHECK_THAT(m->nsigners == 1 &&
		    memcmp(m->signers[0], pk.id, KEY_ID_BYTES) == 0);
		CHECK_THAT(m->nkeyids == 1 &&
		    memcmp(m->keyids[0], pk.id, KEY_ID_BYTES) == 0);
		EXPECT("fresh before expiry", manifest_check_fresh(m,
		    m->expires - 1), BD_OK);
		EXPECT("expired at expiry", manifest_check_fresh(m,
		    m->expires), BD_ERR_EXPIRED);
		EXPECT("expired after expiry", manifest_check_fresh(m,
		    m->expires + 86400), BD_ERR_EXPIRED);
	}
	manifest_free(m);
	m = NULL;

	/* re-encoding what was read gives back the same bytes */
	rc = verify(env, &pk, 1, 1, CHANNEL, &m);
	if (m != NULL) {
		uint8_t *p2 = NULL;
		size_t plen2 = 0;

		EXPECT("re-encode", manifest_payload_encode(m, &p2, &plen2),
		    BD_OK);
		CHECK_THAT(plen2 == plen && p2 != NULL && memcmp(p, p2, plen) == 0);
		free(p2);
	}
	manifest_free(m);
	m = NULL;

	EXPECT("unverified load", manifest_load_unverified(
	    (const uint8_t *)env, strlen(env), &m), BD_OK);
	if (m != NULL) {
		CHECK_THAT(m->nsigners == 0);
		CHECK_THAT(m->nkeyids == 1);
		CHECK_THAT(strcmp(m->trusted_comment, TC_VALID) == 0);
		CHECK_THAT(strcmp(m->channel, CHANNEL) == 0 && m->version == 7);
	}
	manifest_free(m);
	free(env);

	/* without elf, boot and menu_lst */
	arts[0].has_elf = false;
	in.menu_lst = NULL;
	free(p);
	EXPECT("encode without menu_lst", manifest_payload_encode(&in, &p,
	    &plen), BD_OK);
	CHECK_THAT(p != NULL && memmem(p, plen, "menu_lst", 8) == NULL);
	CHECK_THAT(p != NULL && memmem(p, plen, "\"elf\"", 5) == NULL);
	free(p);
	in.has_boot = false;
	EXPECT("encode without boot", manifest_payload_encode(&in, &p, &plen),
	    BD_OK);
	CHECK_THAT(p != NULL && memmem(p, plen, "\"boot\"", 6) == NULL);
	if (p != NULL) {
		char *text = strndup((char *)p, plen);

		if (text == NULL)
			die("strndup");
		m = NULL;
		env = envelope(text, TC_VALID, &sk, 1);
		EXPECT("minimal manifest verifies", verify(env, &pk, 1, 1,
		    CHANNEL, &m), BD_OK);
		CHECK_THAT(m != NULL && !m->has_boot && m->menu_lst == NULL &&
		    m->boot_arch == NULL && !m->artifacts[0].has_elf);
		manifest_free(m);
		free(env);
		free(text);
	}
	free(p);

	/* the encoder refuses what a client would refuse */
	sample_fill(&in, arts);
	in.version = 0;
	EXPECT("encode version 0", manifest_payload_encode(&in, &p, &plen),
	    BD_ERR_RANGE);
	CHECK_THAT(p == NULL);
	sample_fill(&in, arts);
	arts[1].install = "../etc";
	EXPECT("encode bad path", manifest_payload_encode(&in, &p, &plen),
	    BD_ERR_PATH);
	sample_fill(&in, arts);
	in.channel = "Bad Channel";
	EXPECT("encode bad channel", manifest_payload_encode(&in, &p, &plen),
	    BD_ERR_CHANNEL);
	sample_fill(&in, arts);
	strcpy(arts[0].sha256_hex, "00");
	EXPECT("encode conflicting sha256", manifest_payload_encode(&in, &p,
	    &plen), BD_ERR_SCHEMA);
	sample_fill(&in, arts);
	in.boot_arch = "amd64";
	EXPECT("encode i386 kernel for amd64 pvgrub", manifest_payload_encode(
	    &in, &p, &plen), BD_ERR_ELF);
}

static void
test_keys_and_threshold(void)
{
	struct bd_seckey *both[2] = { sk, sk2 }, *twice[2] = { sk, sk };
	struct bd_seckey *other_first[2] = { sk2, sk };
	struct bd_pubkey trusted[2] = { pk, pk2 };
	struct bd_manifest *m = NULL;
	char *env, *tampered;

	env = envelope(payload_text, TC_VALID, both, 2);
	EXPECT("two keys, threshold 2", verify(env, trusted, 2, 2, CHANNEL,
	    &m), BD_OK);
	CHECK_THAT(m != NULL && m->nsigners == 2 && m->nkeyids == 2);
	manifest_free(m);
	EXPECT("two keys, threshold 3", verify(env, trusted, 2, 3, CHANNEL,
	    NULL), BD_ERR_THRESHOLD);
	CHECK_THAT(strstr(bd_err_detail(), "2 of 3") != NULL);
	EXPECT("untrusted second signature ignored", verify(env, &pk, 1, 1,
	    CHANNEL, &m), BD_OK);
	CHECK_THAT(m != NULL && m->nsigners == 1 && m->nkeyids == 2);
	manifest_free(m);
	free(env);

	env = envelope(payload_text, TC_VALID, other_first, 2);
	EXPECT("untrusted first signature ignored", verify(env, &pk, 1, 1,
	    CHANNEL, NULL), BD_OK);
	free(env);

	env = envelope(payload_text, TC_VALID, &sk, 1);
	EXPECT("one of two keys, threshold 2", verify(env, trusted, 2, 2,
	    CHANNEL, NULL), BD_ERR_THRESHOLD);
	CHECK_THAT(strstr(bd_err_detail(), "1 of 2 required keys verified") !=
	    NULL);
	EXPECT("threshold 0 is a usage error", verify(env, trusted, 2, 0,
	    CHANNEL, NULL), BD_ERR_USAGE);
	free(env);

	env = envelope(payload_text, TC_VALID, twice, 2);
	EXPECT("same key twice counts once", verify(env, trusted, 2, 2,
	    CHANNEL, NULL), BD_ERR_THRESHOLD);
	free(env);

	env = envelope(payload_text, TC_VALID, &sk2, 1);
	EXPECT("wrong key", verify1(env), BD_ERR_KEYID);
	{
		char hex[KEY_ID_HEX_BYTES];

		keyid_hex(pk2.id, hex);
		CHECK_THAT(strstr(bd_err_detail(), hex) != NULL);
	}
	EXPECT("wrong key, unverified load", manifest_load_unverified(
	    (const uint8_t *)env, strlen(env), &m), BD_OK);
	manifest_free(m);
	free(env);

	/* keyid field naming a key other than the minisig's */
	env = envelope(payload_text, TC_VALID, &sk, 1);
	{
		char hex[KEY_ID_HEX_BYTES], hex2[KEY_ID_HEX_BYTES];

		keyid_hex(pk.id, hex);
		keyid_hex(pk2.id, hex2);
		tampered = check_replace(env, hex, hex2);
	}
	EXPECT("keyid field does not match minisig", verify1(tampered),
	    BD_ERR_KEYID);
	EXPECT("keyid mismatch, trusting both", verify(tampered, trusted, 2,
	    1, CHANNEL, NULL), BD_ERR_KEYID);
	free(tampered);
	free(env);

	/* a bad signature from a trusted key refuses, even next to a good one */
	{
		char *sig_good = NULL, *sig_bad = NULL;
		const char *sigs[2];
		uint8_t ids[2][KEY_ID_BYTES];
		char *other = check_replace(payload_text, "\"version\": 7",
		    "\"version\": 8");

		if (sig_sign(sk, (uint8_t *)payload_text, strlen(payload_text),
		    TC_VALID, NULL, &sig_good) != BD_OK ||
		    sig_sign(sk2, (uint8_t *)other, strlen(other), TC_VALID,
		    NULL, &sig_bad) != BD_OK)
			die("sig_sign");
		sigs[0] = sig_good;
		sigs[1] = sig_bad;
		memcpy(ids[0], sk->id, KEY_ID_BYTES);
		memcpy(ids[1], sk2->id, KEY_ID_BYTES);
		if (manifest_envelope_encode((uint8_t *)payload_text,
		    strlen(payload_text), sigs,
		    (const uint8_t (*)[KEY_ID_BYTES])ids, 2, &env) != BD_OK)
			die("envelope");
		EXPECT("failing trusted signature beside a good one",
		    verify(env, trusted, 2, 1, CHANNEL, NULL), BD_ERR_SIG);
		EXPECT("failing untrusted signature ignored",
		    verify(env, &pk, 1, 1, CHANNEL, NULL), BD_OK);
		free(env);
		free(sig_good);
		free(sig_bad);
		free(other);
	}
}

/* Returns a new envelope whose payload differs from what was signed. */
static char *
tampered_payload_envelope(void)
{
	char *other = check_replace(payload_text, "\"size\": 5242880",
	    "\"size\": 5242881");
	char *sig, *out = NULL;

	if (sig_sign(sk, (uint8_t *)payload_text, strlen(payload_text),
	    TC_VALID, NULL, &sig) != BD_OK ||
	    manifest_envelope_encode((uint8_t *)other, strlen(other),
	    (const char *const *)&sig,
	    (const uint8_t (*)[KEY_ID_BYTES])&sk->id, 1, &out) != BD_OK)
		die("envelope");
	free(sig);
	free(other);
	return out;
}

/* Returns a new envelope whose trusted comment was edited after signing. */
static char *
tampered_comment_envelope(void)
{
	char *env = envelope(payload_text, TC_VALID, &sk, 1);
	char *out = check_replace(env, "version=7", "version=8");

	free(env);
	return out;
}

static void
test_signature_refusals(void)
{
	char *env, *bad;

	env = tampered_payload_envelope();
	EXPECT("tampered payload, not re-signed", verify1(env), BD_ERR_SIG);
	free(env);

	env = tampered_comment_envelope();
	EXPECT("tampered trusted comment", verify1(env), BD_ERR_GLOBALSIG);
	free(env);

	EXPECT("comment says version=8, payload 7", signed_payload(
	    payload_text, "bootdrop channel=" CHANNEL " version=8 expires="
	    EXPIRES), BD_ERR_COMMENT);
	EXPECT("comment names another channel", signed_payload(payload_text,
	    "bootdrop channel=other version=7 expires=" EXPIRES),
	    BD_ERR_COMMENT);
	EXPECT("comment with another expiry", signed_payload(payload_text,
	    "bootdrop channel=" CHANNEL " version=7 expires="
	    "2099-12-31T00:00:01Z"), BD_ERR_COMMENT);
	EXPECT("comment with trailing text", signed_payload(payload_text,
	    TC_VALID " extra"), BD_ERR_COMMENT);
	EXPECT("comment empty", signed_payload(payload_text, ""),
	    BD_ERR_COMMENT);

	/* base64 of the payload */
	env = envelope(payload_text, TC_VALID, &sk, 1);
	{
		const char *p = strstr(env, "\"payload\": \"");
		const char *q = p != NULL ? strchr(p + 12, '"') : NULL;
		char *cut;

		CHECK_THAT(q != NULL);
		if (q != NULL) {
			/* drop the last character of the base64 */
			cut = xstrdup(env);
			memmove(cut + (q - env) - 1, cut + (q - env),
			    strlen(q) + 1);
			EXPECT("truncated base64 payload", verify1(cut),
			    BD_ERR_BASE64);
			free(cut);
			cut = xstrdup(env);
			cut[p - env + 13] = '*';
			EXPECT("invalid base64 character", verify1(cut),
			    BD_ERR_BASE64);
			free(cut);
			/* "\u00e9" in UTF-8, which libsodium 1.0.18 takes
			 * for two base64 digits */
			cut = xstrdup(env);
			cut[p - env + 12] = (char)0xc3;
			cut[p - env + 13] = (char)0xa9;
			EXPECT("non-ASCII base64 characters", verify1(cut),
			    BD_ERR_BASE64);
			free(cut);
		}
	}
	bad = check_replace(env, "\"payload\": \"", "\"payload\": \"\\n");
	EXPECT("whitespace in base64", verify1(bad), BD_ERR_BASE64);
	free(bad);
	bad = check_replace(env, "\"payload\": \"", "\"payload\": \"A");
	EXPECT("unpadded base64", verify1(bad), BD_ERR_BASE64);
	free(bad);
	bad = check_replace(env, "\"payload\": \"", "\"payload\": \"\", \"x\": \"");
	EXPECT("extra envelope key", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	bad = check_replace(env, "\"payload\": \"", "\"payload\": \"\", "
	    "\"payload\": \"");
	EXPECT("duplicate envelope key", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	bad = check_replace(env, "\"keyid\": \"", "\"keyid\": \"X");
	EXPECT("keyid not hex", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	bad = check_replace(env, "\"keyid\": \"", "\"comment\": \"\", \"keyid\": \"");
	EXPECT("extra signature key", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	bad = check_replace(env, "untrusted comment:", "untrusted  comment:");
	EXPECT("malformed minisig", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	bad = check_replace(env, "}\n", "} x\n");
	EXPECT("trailing garbage", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	free(env);

	bad = xstrdup("{\"payload\": \"e30=\", \"signatures\": []}");
	EXPECT("no signatures", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	bad = xstrdup("[]");
	EXPECT("envelope is an array", verify1(bad), BD_ERR_FORMAT);
	free(bad);
	EXPECT("empty envelope", verify1(""), BD_ERR_FORMAT);
	{
		struct bd_trust trust = { &pk, 1, 1 };
		struct bd_manifest *m = NULL;
		uint8_t *big = calloc(1, MANIFEST_MAX_BYTES + 1);

		if (big == NULL)
			die("calloc");
		memset(big, ' ', MANIFEST_MAX_BYTES + 1);
		EXPECT("oversized envelope", manifest_verify_load(big,
		    MANIFEST_MAX_BYTES + 1, &trust, CHANNEL, &m),
		    BD_ERR_TOOBIG);
		CHECK_THAT(m == NULL);
		EXPECT("oversized envelope, unverified",
		    manifest_load_unverified(big, MANIFEST_MAX_BYTES + 1, &m),
		    BD_ERR_TOOBIG);
		/* NUL bytes are refused before JSON sees them */
		env = envelope(payload_text, TC_VALID, &sk, 1);
		memcpy(big, env, strlen(env));
		big[strlen(env)] = '\0';
		EXPECT("NUL after the envelope", manifest_verify_load(big,
		    strlen(env) + 1, &trust, CHANNEL, &m), BD_ERR_FORMAT);
		free(env);
		free(big);
	}
}

/*
 * Returns a new copy of the sample payload whose key list (the quoted key
 * string from) gets n freshly generated keys in front.
 */
static char *
with_more_keys(const char *from, size_t n)
{
	char b64[PUBKEY_B64_BYTES], *list, *out;
	struct bd_seckey *k;
	struct bd_pubkey kp;
	size_t i, cap = (n + 1) * (PUBKEY_B64_BYTES + 4) + 1;

	if ((list = malloc(cap)) == NULL)
		die("malloc");
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if (seckey_generate(&k, &kp) != BD_OK)
			die("seckey_generate");
		seckey_free(k);
		pubkey_to_base64(&kp, b64);
		strcat(list, "\"");
		strcat(list, b64);
		strcat(list, "\", ");
	}
	strcat(list, from);
	out = check_replace(payload_text, from, list);
	free(list);
	return out;
}

/* Format 2's fields: prev and keys, and the payload's own signatures. */
static void
test_prev_and_keys(void)
{
	char prev[SHA256_HEX_BYTES], pub[PUBKEY_B64_BYTES], pub2[PUBKEY_B64_BYTES];
	char from[128], to[512], *p, *env;
	struct bd_seckey *both[2] = { sk, sk2 };
	struct bd_pubkey trusted[2] = { pk, pk2 };
	struct bd_manifest *m = NULL;
	uint8_t d[SHA256_BYTES];
	size_t i;

	sha256_buf("version 6", 9, d);
	sha256_hex(d, prev);
	pubkey_to_base64(&pk, pub);
	pubkey_to_base64(&pk2, pub2);
	snprintf(from, sizeof(from), "\"prev\": \"%s\"", prev);
	EXPECT("prev missing", resigned(from, "\"prev0\": null"),
	    BD_ERR_SCHEMA);
	EXPECT("prev null on version 7", resigned(from, "\"prev\": null"),
	    BD_ERR_SCHEMA);
	EXPECT("prev not hex", resigned("\"prev\": \"", "\"prev\": \"x"),
	    BD_ERR_SCHEMA);
	EXPECT("prev too short", resigned(from, "\"prev\": \"00\""),
	    BD_ERR_SCHEMA);
	EXPECT("prev a number", resigned(from, "\"prev\": 6"), BD_ERR_SCHEMA);
	EXPECT("prev on version 1", resigned("\"version\": 7",
	    "\"version\": 1"), BD_ERR_SCHEMA);
	CHECK_THAT(strstr(bd_err_detail(), "version 1") != NULL);
	for (i = 0; prev[i] != '\0'; i++)
		if (prev[i] >= 'a' && prev[i] <= 'f')
			prev[i] = (char)(prev[i] - 'a' + 'A');
	snprintf(to, sizeof(to), "\"prev\": \"%s\"", prev);
	EXPECT("prev uppercase", resigned(from, to), BD_ERR_SCHEMA);

	EXPECT("keys missing", resigned("\"keys\": {", "\"keys0\": {"),
	    BD_ERR_SCHEMA);
	EXPECT("keys not an object", resigned("\"keys\": {",
	    "\"keys\": 1, \"k\": {"), BD_ERR_SCHEMA);
	EXPECT("unknown key in keys", resigned("\"threshold\": 1",
	    "\"threshold\": 1, \"rotate\": true"), BD_ERR_SCHEMA);
	EXPECT("threshold 0", resigned("\"threshold\": 1",
	    "\"threshold\": 0"), BD_ERR_RANGE);
	EXPECT("threshold above the keys", resigned("\"threshold\": 1",
	    "\"threshold\": 2"), BD_ERR_RANGE);
	EXPECT("threshold missing", resigned("\"threshold\": 1,", ""),
	    BD_ERR_SCHEMA);
	snprintf(from, sizeof(from), "\"%s\"", pub);
	EXPECT("pubkeys empty", resigned(from, ""), BD_ERR_SCHEMA);
	EXPECT("pubkey not a key", resigned(from, "\"RWQ\""), BD_ERR_SCHEMA);
	EXPECT("pubkey a number", resigned(from, "7"), BD_ERR_SCHEMA);
	snprintf(to, sizeof(to), "\"%s\", \"%s\"", pub, pub);
	EXPECT("pubkey named twice", resigned(from, to), BD_ERR_SCHEMA);
	p = with_more_keys(from, MANIFEST_MAX_KEYS - 1);
	env = envelope(p, TC_VALID, &sk, 1);
	EXPECT("16 keys", verify1(env), BD_OK);
	free(env);
	free(p);
	p = with_more_keys(from, MANIFEST_MAX_KEYS);
	env = envelope(p, TC_VALID, &sk, 1);
	EXPECT("17 keys", verify1(env), BD_ERR_TOOBIG);
	free(env);
	free(p);

	/* the payload's own keys must sign it */
	snprintf(to, sizeof(to), "\"%s\"", pub2);
	p = check_replace(payload_text, from, to);
	env = envelope(p, TC_VALID, &sk, 1);
	EXPECT("trusted signer, but the payload names another key",
	    verify1(env), BD_ERR_THRESHOLD);
	free(env);
	env = envelope(p, TC_VALID, both, 2);
	EXPECT("trusted signer and the payload's own key", verify1(env),
	    BD_OK);
	free(env);
	free(p);
	snprintf(to, sizeof(to), "\"%s\", \"%s\"", pub, pub2);
	p = check_replace(payload_text, from, to);
	{
		char *q = check_replace(p, "\"threshold\": 1", "\"threshold\": 2");

		free(p);
		p = q;
	}
	env = envelope(p, TC_VALID, &sk, 1);
	EXPECT("own threshold 2, one signature", verify1(env),
	    BD_ERR_THRESHOLD);
	CHECK_THAT(strstr(bd_err_detail(), "2 must sign it; 1 did") != NULL);
	free(env);
	env = envelope(p, TC_VALID, both, 2);
	EXPECT("own threshold 2, two signatures", verify(env, trusted, 2, 1,
	    CHANNEL, &m), BD_OK);
	CHECK_THAT(m != NULL && m->nself == 2 && m->keys.threshold == 2 &&
	    m->keys.nkeys == 2);
	manifest_free(m);
	free(env);
	free(p);
}

static void
test_payload_refusals(void)
{
	char *env, big[MENU_LST_MAX_BYTES + 64];

	EXPECT("valid payload, re-signed", resigned("\"version\": 7",
	    "\"version\": 7"), BD_OK);
	env = envelope(payload_text, TC_VALID, &sk, 1);
	EXPECT("wrong channel", verify(env, &pk, 1, 1, "freebsd-9.0-amd64",
	    NULL), BD_ERR_CHANNEL);
	free(env);

	/* JSON level */
	EXPECT("duplicate key (JSON)", resigned("\"version\": 7,",
	    "\"version\": 7, \"version\": 7,"), BD_ERR_JSON);
	EXPECT("duplicate nested key (JSON)", resigned("\"xen\": true",
	    "\"xen\": true, \"xen\": false"), BD_ERR_JSON);
	EXPECT("not JSON", resigned("{", "{{"), BD_ERR_JSON);
	EXPECT("trailing data", resigned("\"boot\"", "\"boot\": 1} {\"x\""),
	    BD_ERR_JSON);
	EXPECT("payload not an object", signed_payload("[1]", TC_VALID),
	    BD_ERR_SCHEMA);
	EXPECT("payload with a NUL escape", resigned("kernel /boot/kernel",
	    "\\u0000kernel /boot/kernel"), BD_ERR_JSON);

	/* type */
	EXPECT("format 1 refused", resigned("bootdrop-manifest/2",
	    "bootdrop-manifest/1"), BD_ERR_TYPE);
	EXPECT("format 4 refused", resigned("bootdrop-manifest/2",
	    "bootdrop-manifest/4"), BD_ERR_TYPE);
	EXPECT("format 2 fields under format 3 refused", resigned(
	    "bootdrop-manifest/2", "bootdrop-manifest/3"), BD_ERR_SCHEMA);
	EXPECT("type not a string", resigned("\"bootdrop-manifest/2\"", "1"),
	    BD_ERR_SCHEMA);
	EXPECT("no type", resigned("\"type\": \"bootdrop-manifest/2\",", ""),
	    BD_ERR_SCHEMA);

	/* unknown and missing fields */
	EXPECT("unknown top-level key", resigned("\"version\": 7,",
	    "\"version\": 7, \"mirror\": \"x\","), BD_ERR_SCHEMA);
	CHECK_THAT(strstr(bd_err_detail(), "mirror") != NULL);
	EXPECT("unknown artifact key", resigned("\"name\": \"kernel\",",
	    "\"name\": \"kernel\", \"url\": \"http://x/\","), BD_ERR_SCHEMA);
	EXPECT("unknown elf key", resigned("\"xen\": true",
	    "\"xen\": true, \"pae\": true"), BD_ERR_SCHEMA);
	EXPECT("unknown boot key", resigned("\"loader\": \"pvgrub\",",
	    "\"loader\": \"pvgrub\", \"root\": \"hd0\","), BD_ERR_SCHEMA);
	EXPECT("missing version", resigned("\"version\": 7,", ""),
	    BD_ERR_SCHEMA);
	EXPECT("missing kind", resigned("\"kind\": \"world\",", ""),
	    BD_ERR_SCHEMA);
	EXPECT("version as a string", resigned("\"version\": 7",
	    "\"version\": \"7\""), BD_ERR_SCHEMA);
	test_prev_and_keys();
	EXPECT("unknown kind", resigned("\"kind\": \"world\"",
	    "\"kind\": \"rootfs\""), BD_ERR_SCHEMA);
	EXPECT("sha256 too long", resigned("\"sha256\": \"",
	    "\"sha256\": \"a"), BD_ERR_SCHEMA);
	{
		uint8_t d[SHA256_BYTES];
		char hex[SHA256_HEX_BYTES], upper[SHA256_HEX_BYTES];
		size_t i;

		sha256_buf("kernel", 6, d);
		sha256_hex(d, hex);
		for (i = 0; i < sizeof(hex); i++)
			upper[i] = hex[i] >= 'a' && hex[i] <= 'f' ?
			    (char)(hex[i] - 'a' + 'A') : hex[i];
		CHECK_THAT(strcmp(hex, upper) != 0);
		EXPECT("sha256 uppercase", resigned(hex, upper),
		    BD_ERR_SCHEMA);
	}
	EXPECT("unknown machine", resigned("\"machine\": \"i386\"",
	    "\"machine\": \"vax\""), BD_ERR_SCHEMA);
	EXPECT("xen not a boolean", resigned("\"xen\": true", "\"xen\": 1"),
	    BD_ERR_SCHEMA);
	EXPECT("unknown loader", resigned("\"pvgrub\"", "\"grub2\""),
	    BD_ERR_SCHEMA);
	EXPECT("unknown boot arch", resigned("\"arch\": \"i386\"",
	    "\"arch\": \"arm\""), BD_ERR_SCHEMA);
	{
		char pub[PUBKEY_B64_BYTES], *p;
		size_t n;

		pubkey_to_base64(&pk, pub);
		n = strlen(pub) + 512;
		if ((p = malloc(n)) == NULL)
			die("malloc");
		snprintf(p, n, "{\"type\": \"bootdrop-manifest/2\", "
		    "\"channel\": \"" CHANNEL "\", \"version\": 7, \"prev\": "
		    "\"%064d\", \"keys\": {\"threshold\": 1, \"pubkeys\": "
		    "[\"%s\"]}, \"created\": \"" CREATED "\", \"expires\": \""
		    EXPIRES "\", \"artifacts\": []}", 0, pub);
		EXPECT("no artifacts", signed_payload(p, TC_VALID),
		    BD_ERR_SCHEMA);
		free(p);
	}
	CHECK_THAT(strstr(bd_err_detail(), "artifacts") != NULL);
	EXPECT("two kernels", resigned("\"kind\": \"world\"",
	    "\"kind\": \"kernel\""), BD_ERR_SCHEMA);
	EXPECT("bad created", resigned("\"created\": \"2026-11-26T12:00:00Z\"",
	    "\"created\": \"2026-11-26 12:00:00\""), BD_ERR_SCHEMA);
	EXPECT("created day out of range", resigned("2026-11-26T12:00:00Z",
	    "2026-11-31T12:00:00Z"), BD_ERR_RANGE);
	EXPECT("expires before created", resigned("2026-11-26T12:00:00Z",
	    "2100-01-01T00:00:00Z"), BD_ERR_RANGE);

	/* numbers */
	EXPECT("negative size", resigned("\"size\": 5242880",
	    "\"size\": -1"), BD_ERR_RANGE);
	EXPECT("float size", resigned("\"size\": 5242880",
	    "\"size\": 5242880.0"), BD_ERR_RANGE);
	EXPECT("size too large", resigned("\"size\": 5242880",
	    "\"size\": 1099511627777"), BD_ERR_RANGE);
	EXPECT("size at the cap", resigned("\"size\": 5242880",
	    "\"size\": 1099511627776"), BD_OK);
	EXPECT("size zero", resigned("\"size\": 5242880", "\"size\": 0"),
	    BD_OK);
	EXPECT("float version", resigned("\"version\": 7",
	    "\"version\": 7.0"), BD_ERR_RANGE);
	EXPECT("exponent version", resigned("\"version\": 7",
	    "\"version\": 7e0"), BD_ERR_RANGE);
	EXPECT("version 0", resigned("\"version\": 7", "\"version\": 0"),
	    BD_ERR_RANGE);
	EXPECT("negative version", resigned("\"version\": 7",
	    "\"version\": -7"), BD_ERR_RANGE);
	EXPECT("version above 2^53", resigned("\"version\": 7",
	    "\"version\": 9007199254740993"), BD_ERR_RANGE);
	EXPECT("version beyond 64 bits", resigned("\"version\": 7",
	    "\"version\": 99999999999999999999999"), BD_ERR_RANGE);
	EXPECT("huge float", resigned("\"size\": 5242880",
	    "\"size\": 1e400"), BD_ERR_RANGE);
	EXPECT("elf class 33", resigned("\"class\": 32", "\"class\": 33"),
	    BD_ERR_RANGE);

	/* names and install paths */
	EXPECT("install ..", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"../kernel\""), BD_ERR_PATH);
	CHECK_THAT(strstr(bd_err_detail(), "../kernel") != NULL);
	EXPECT("install /abs", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"/boot/kernel\""), BD_ERR_PATH);
	EXPECT("install a//b", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"boot//kernel\""), BD_ERR_PATH);
	EXPECT("install a/./b", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"boot/./kernel\""), BD_ERR_PATH);
	EXPECT("install 9 deep", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"a/b/c/d/e/f/g/h/kernel\""), BD_ERR_PATH);
	EXPECT("install 8 deep", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"a/b/c/d/e/f/g/kernel\""), BD_OK);
	EXPECT("install empty", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"\""), BD_ERR_PATH);
	EXPECT("install with a space", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"boot/my kernel\""), BD_ERR_PATH);
	EXPECT("install with a backslash", resigned(
	    "\"install\": \"boot/kernel\"", "\"install\": \"boot\\\\kernel\""),
	    BD_ERR_PATH);
	EXPECT("install with a newline", resigned(
	    "\"install\": \"boot/kernel\"", "\"install\": \"boot/\\nkernel\""),
	    BD_ERR_PATH);
	EXPECT("install non-ASCII", resigned("\"install\": \"boot/kernel\"",
	    "\"install\": \"boot/k\\u00e9rnel\""), BD_ERR_PATH);
	EXPECT("install trailing slash", resigned(
	    "\"install\": \"boot/kernel\"", "\"install\": \"boot/kernel/\""),
	    BD_ERR_PATH);
	EXPECT("install into the client's state", resigned(
	    "\"install\": \"boot/kernel\"", "\"install\": \".bootdrop/state\""),
	    BD_ERR_PATH);
	EXPECT("install over menu.lst", resigned(
	    "\"install\": \"boot/kernel\"",
	    "\"install\": \"boot/grub/menu.lst\""), BD_ERR_PATH);
	EXPECT("install paths repeated", resigned(
	    "\"install\": \"xenworld.tar.gz\"", "\"install\": \"boot/kernel\""),
	    BD_ERR_PATH);
	EXPECT("install paths nested", resigned(
	    "\"install\": \"xenworld.tar.gz\"",
	    "\"install\": \"boot/kernel/world\""),
	    BD_ERR_PATH);
	EXPECT("names repeated", resigned("\"name\": \"xenworld.tar.gz\"",
	    "\"name\": \"kernel\""), BD_ERR_PATH);
	EXPECT("name with a slash", resigned("\"name\": \"xenworld.tar.gz\"",
	    "\"name\": \"x/y\""), BD_ERR_PATH);
	EXPECT("name ..", resigned("\"name\": \"xenworld.tar.gz\"",
	    "\"name\": \"..\""), BD_ERR_PATH);

	/* channel */
	EXPECT("channel name not allowed", resigned("\"channel\": \"" CHANNEL,
	    "\"channel\": \"../" CHANNEL), BD_ERR_CHANNEL);

	/* boot */
	EXPECT("amd64 pvgrub for an i386 kernel", resigned("\"arch\": \"i386\"",
	    "\"arch\": \"amd64\""), BD_ERR_ELF);
	EXPECT("kernel without Xen notes", resigned("\"xen\": true",
	    "\"xen\": false"), BD_ERR_ELF);
	memset(big, 'x', sizeof(big));
	memcpy(big, "\"menu_lst\": \"", 13);
	big[13 + MENU_LST_MAX_BYTES + 1] = '"';
	big[13 + MENU_LST_MAX_BYTES + 2] = '\0';
	{
		const char *q = strstr(payload_text, "\"menu_lst\": \"");
		const char *e = q != NULL ? strchr(q + 13, '"') : NULL;
		char *from;

		CHECK_THAT(e != NULL);
		if (e != NULL) {
			from = strndup(q, (size_t)(e - q + 1));
			if (from == NULL)
				die("strndup");
			EXPECT("menu_lst too large", resigned(from, big),
			    BD_ERR_TOOBIG);
			big[13 + MENU_LST_MAX_BYTES] = '"';
			big[13 + MENU_LST_MAX_BYTES + 1] = '\0';
			EXPECT("menu_lst at the cap", resigned(from, big),
			    BD_OK);
			free(from);
		}
	}
}

/* Reads a whole test data file into a new NUL-terminated buffer. */
static char *
read_data(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	buf = malloc(MANIFEST_MAX_BYTES + 1);
	if (buf == NULL)
		die("malloc");
	n = fread(buf, 1, MANIFEST_MAX_BYTES, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static const struct golden {
	const char *file;
	enum bd_err want;
} goldens[] = {
	{ "valid.json", BD_OK },
	{ "tampered-payload.json", BD_ERR_SIG },
	{ "tampered-comment.json", BD_ERR_GLOBALSIG },
	{ "wrong-key.json", BD_ERR_KEYID },
	{ "comment-mismatch.json", BD_ERR_COMMENT },
	{ "bad-path.json", BD_ERR_PATH },
	{ "unknown-key.json", BD_ERR_SCHEMA },
	{ "format1.json", BD_ERR_TYPE },
	{ "broken-keys.json", BD_ERR_THRESHOLD },
};

static void
test_golden(const char *dir)
{
	struct bd_manifest *m;
	char path[4096], *buf, *payload;
	size_t i, len, plen;
	enum bd_err rc;

	for (i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		snprintf(path, sizeof(path), "manifest/%s", goldens[i].file);
		if ((buf = read_data(dir, path, &len)) == NULL) {
			printf("FAIL: cannot read %s/%s\n", dir, path);
			check_failures++;
			continue;
		}
		m = NULL;
		rc = verify(buf, &pk, 1, 1, CHANNEL, &m);
		EXPECT(goldens[i].file, rc, goldens[i].want);
		if (i == 0 && m != NULL) {
			CHECK_THAT(m->version == 7);
			CHECK_THAT(strcmp(m->channel, CHANNEL) == 0);
			CHECK_THAT(strcmp(m->trusted_comment, TC_VALID) == 0);
			EXPECT("golden is fresh in 2099", manifest_check_fresh(m,
			    4070908800), BD_OK);
			payload = read_data(dir, "manifest/valid.payload.json",
			    &plen);
			CHECK_THAT(payload != NULL && plen == m->payload_len &&
			    memcmp(payload, m->payload, plen) == 0);
			free(payload);
		}
		manifest_free(m);
		free(buf);
	}
}

/*
 * The golden chain of tests/data/chain (made by tests/data/chain/make.py
 * with the real minisign): A = keys/test, B = keys/minisign,
 * C = keys/backup.
 */
#define CHAIN_CHANNEL	"chain-test"
#define CHAIN_LEN	5
#define KEY_A		0
#define KEY_B		1
#define KEY_C		2
#define KEY_NONE	(-1)

static struct bd_seckey *chain_sk[3];
static struct bd_pubkey chain_pk[3];
static char *chain_payload[CHAIN_LEN + 1];	/* [v], exact bytes */
static char *chain_minisign[CHAIN_LEN + 1];	/* [v], envelopes */
static const char *const chain_expires[CHAIN_LEN + 1] = { NULL,
	"2099-12-31T00:00:00Z", "2001-01-01T00:00:00Z", "2099-12-31T00:00:00Z",
	"2099-12-31T00:00:00Z", "2099-12-31T00:00:00Z" };
static const int chain_signers[CHAIN_LEN + 1][3] = {
	{ KEY_NONE, KEY_NONE, KEY_NONE },
	{ KEY_A, KEY_NONE, KEY_NONE },
	{ KEY_A, KEY_NONE, KEY_NONE },
	{ KEY_A, KEY_B, KEY_NONE },
	{ KEY_B, KEY_C, KEY_NONE },
	{ KEY_B, KEY_NONE, KEY_NONE },
};

/* Returns a new envelope of payload signed by bootdrop with the keys listed. */
static char *
chain_envelope(const char *payload, unsigned version, const char *expires,
    int k1, int k2, int k3)
{
	struct bd_seckey *keys[3];
	const int ks[3] = { k1, k2, k3 };
	char tc[SIG_COMMENT_MAX_BYTES];
	size_t i, n = 0;

	snprintf(tc, sizeof(tc), "bootdrop channel=" CHAIN_CHANNEL
	    " version=%u expires=%s", version, expires);
	for (i = 0; i < 3; i++)
		if (ks[i] != KEY_NONE)
			keys[n++] = chain_sk[ks[i]];
	return envelope(payload, tc, keys, n);
}

/* Version v of the golden payloads, signed by bootdrop as minisign did. */
static char *
chain_bootdrop(unsigned v)
{
	return chain_envelope(chain_payload[v], v, chain_expires[v],
	    chain_signers[v][0], chain_signers[v][1], chain_signers[v][2]);
}

/*
 * Follows envs[1..CHAIN_LEN] from the key A, each version the successor
 * of the one before, and checks where the trust ends up.
 */
static void
chain_follow(const char *name, char *const *envs)
{
	struct bd_trust trust = { &chain_pk[KEY_A], 1, 1 };
	struct bd_accepted prev;
	struct bd_manifest *m = NULL;
	char desc[128];
	unsigned v;
	enum bd_err rc;

	snprintf(desc, sizeof(desc), "%s: version 1 from key A", name);
	EXPECT(desc, verify(envs[1], trust.keys, 1, 1, CHAIN_CHANNEL, &m),
	    BD_OK);
	if (m == NULL)
		return;
	CHECK_THAT(m->version == 1 && !m->has_prev && m->keys.nkeys == 1 &&
	    m->nself == 1);
	manifest_accepted(m, &prev);
	manifest_free(m);
	snprintf(desc, sizeof(desc), "%s: version 1 signs itself", name);
	EXPECT(desc, manifest_verify_self((const uint8_t *)envs[1],
	    strlen(envs[1]), CHAIN_CHANNEL, &m), BD_OK);
	manifest_free(m);
	for (v = 2; v <= CHAIN_LEN; v++) {
		snprintf(desc, sizeof(desc), "%s: version %u follows %u", name,
		    v, v - 1);
		bd_err_clear();
		rc = manifest_verify_successor(&prev, (const uint8_t *)envs[v],
		    strlen(envs[v]), CHAIN_CHANNEL, &m);
		EXPECT(desc, rc, BD_OK);
		if (m == NULL)
			return;
		if (v == 2)
			EXPECT("version 2 is expired, and still a link",
			    manifest_check_fresh(m, 1764547200), BD_ERR_EXPIRED);
		manifest_accepted(m, &prev);
		manifest_free(m);
	}
	CHECK(prev.version == CHAIN_LEN && prev.keys.threshold == 1 &&
	    prev.keys.nkeys == 2 && keyset_find(&prev.keys,
	    chain_pk[KEY_B].id) >= 0 && keyset_find(&prev.keys,
	    chain_pk[KEY_C].id) >= 0 && keyset_find(&prev.keys,
	    chain_pk[KEY_A].id) < 0, "%s: the trust ends at B C, threshold 1",
	    name);
}

/* The accepted version v of the golden chain (verified against itself). */
static void
chain_accepted(unsigned v, struct bd_accepted *a)
{
	struct bd_manifest *m = NULL;

	if (manifest_verify_self((const uint8_t *)chain_minisign[v],
	    strlen(chain_minisign[v]), CHAIN_CHANNEL, &m) != BD_OK)
		die("chain_accepted");
	manifest_accepted(m, a);
	manifest_free(m);
}

/* Judges env as the successor of golden version prev_v. */
static enum bd_err
successor_of(unsigned prev_v, const char *env)
{
	struct bd_accepted prev;
	struct bd_manifest *m = NULL;
	enum bd_err rc;

	chain_accepted(prev_v, &prev);
	bd_err_clear();
	rc = manifest_verify_successor(&prev, (const uint8_t *)env,
	    strlen(env), CHAIN_CHANNEL, &m);
	if (rc != BD_OK && m != NULL) {
		printf("FAIL: manifest returned with an error\n");
		check_failures++;
	}
	manifest_free(m);
	return rc;
}

static void
test_chain(const char *dir)
{
	char *boot[CHAIN_LEN + 1] = { NULL }, *env, *p, *sig = NULL, *line;
	char name[64], hex[SHA256_HEX_BYTES];
	struct bd_accepted a;
	struct bd_manifest *m = NULL;
	size_t len;
	unsigned v;

	for (v = 1; v <= CHAIN_LEN; v++) {
		snprintf(name, sizeof(name), "chain/%u.payload", v);
		chain_payload[v] = read_data(dir, name, &len);
		snprintf(name, sizeof(name), "chain/%u.json", v);
		chain_minisign[v] = read_data(dir, name, &len);
		if (chain_payload[v] == NULL || chain_minisign[v] == NULL)
			die(name);
		boot[v] = chain_bootdrop(v);
	}
	chain_follow("signed by minisign", chain_minisign);
	chain_follow("signed by bootdrop", boot);

	/* Ed25519 is deterministic: both tools made the same signature */
	if (sig_sign(chain_sk[KEY_A], (const uint8_t *)chain_payload[1],
	    strlen(chain_payload[1]), "bootdrop channel=" CHAIN_CHANNEL
	    " version=1 expires=2099-12-31T00:00:00Z", NULL, &sig) != BD_OK)
		die("sig_sign");
	line = strchr(sig, '\n') + 1;
	*strchr(line, '\n') = '\0';
	CHECK(strstr(chain_minisign[1], line) != NULL, "bootdrop's signature "
	    "of version 1 is byte for byte minisign's");
	free(sig);

	/* rotation needs the old keys and the new */
	env = chain_envelope(chain_payload[3], 3, chain_expires[3], KEY_A,
	    KEY_NONE, KEY_NONE);
	EXPECT("rotation signed only by the old key", successor_of(2, env),
	    BD_ERR_THRESHOLD);
	CHECK_THAT(strstr(bd_err_detail(), "2 must sign it; 1 did") != NULL);
	free(env);
	env = chain_envelope(chain_payload[3], 3, chain_expires[3], KEY_B,
	    KEY_C, KEY_NONE);
	EXPECT("rotation signed only by the new keys", successor_of(2, env),
	    BD_ERR_KEYID);
	CHECK_THAT(strstr(bd_err_detail(), "successor of version 2") != NULL);
	free(env);
	env = chain_envelope(chain_payload[3], 3, chain_expires[3], KEY_A,
	    KEY_C, KEY_NONE);
	EXPECT("rotation signed by the old key and the backup key",
	    successor_of(2, env), BD_OK);
	free(env);
	env = chain_envelope(chain_payload[3], 3, chain_expires[3], KEY_A,
	    KEY_A, KEY_NONE);
	EXPECT("one key signing twice counts once", successor_of(2, env),
	    BD_ERR_THRESHOLD);
	free(env);

	/* thresholds across a rotation: version 3 asks 2 of A B C */
	env = chain_envelope(chain_payload[4], 4, chain_expires[4], KEY_B,
	    KEY_NONE, KEY_NONE);
	EXPECT("version 4 with 1 of the 2 signatures version 3 requires",
	    successor_of(3, env), BD_ERR_THRESHOLD);
	CHECK_THAT(strstr(bd_err_detail(), "1 of 2 required") != NULL);
	free(env);
	env = chain_envelope(chain_payload[4], 4, chain_expires[4], KEY_A,
	    KEY_B, KEY_NONE);
	EXPECT("version 4 signed by the key it revokes and a kept one",
	    successor_of(3, env), BD_OK);
	free(env);

	/* a revoked key */
	env = chain_envelope(chain_payload[5], 5, chain_expires[5], KEY_A,
	    KEY_NONE, KEY_NONE);
	EXPECT("version 5 signed only by the revoked key A",
	    successor_of(4, env), BD_ERR_KEYID);
	free(env);
	env = chain_envelope(chain_payload[5], 5, chain_expires[5], KEY_A,
	    KEY_C, KEY_NONE);
	EXPECT("the revoked key's signature beside a trusted one is ignored",
	    successor_of(4, env), BD_OK);
	free(env);

	/* the link itself */
	chain_accepted(1, &a);
	sha256_hex(a.payload_sha256, hex);
	p = check_replace(chain_payload[2], hex, "00000000000000000000000000000000"
	    "00000000000000000000000000000000");
	env = chain_envelope(p, 2, chain_expires[2], KEY_A, KEY_NONE,
	    KEY_NONE);
	EXPECT("version 2 with a broken prev", successor_of(1, env),
	    BD_ERR_CHAIN);
	CHECK_THAT(strstr(bd_err_detail(), hex) != NULL);
	free(env);
	free(p);
	EXPECT("version 3 after version 1 (2 skipped)",
	    successor_of(1, chain_minisign[3]), BD_ERR_CHAIN);
	CHECK_THAT(strstr(bd_err_detail(), "cannot follow version 1") != NULL);
	EXPECT("version 2 after version 2", successor_of(2, chain_minisign[2]),
	    BD_ERR_CHAIN);
	EXPECT("version 1 after version 2", successor_of(2, chain_minisign[1]),
	    BD_ERR_CHAIN);
	p = check_replace(chain_payload[1], "\"channel\": \"chain-test\"",
	    "\"channel\": \"other\"");
	env = envelope(p, "bootdrop channel=other version=1 expires=2099-12-31"
	    "T00:00:00Z", &chain_sk[KEY_A], 1);
	EXPECT("a successor from another channel", successor_of(1, env),
	    BD_ERR_CHANNEL);
	free(env);
	free(p);

	/* the link check alone, as direct acceptance uses it */
	chain_accepted(2, &a);
	EXPECT("manifest_verify_self of version 3", manifest_verify_self(
	    (const uint8_t *)chain_minisign[3], strlen(chain_minisign[3]),
	    CHAIN_CHANNEL, &m), BD_OK);
	if (m != NULL)
		EXPECT("manifest_check_link 2 -> 3", manifest_check_link(&a, m),
		    BD_OK);
	a.payload_sha256[0] ^= 1;
	if (m != NULL)
		EXPECT("manifest_check_link with another hash",
		    manifest_check_link(&a, m), BD_ERR_CHAIN);
	manifest_free(m);
	m = NULL;
	env = chain_envelope(chain_payload[3], 3, chain_expires[3], KEY_A,
	    KEY_NONE, KEY_NONE);
	EXPECT("self rule: 1 of the 2 signatures version 3 requires",
	    manifest_verify_self((const uint8_t *)env, strlen(env),
	    CHAIN_CHANNEL, &m), BD_ERR_THRESHOLD);
	free(env);

	for (v = 1; v <= CHAIN_LEN; v++) {
		free(boot[v]);
		free(chain_payload[v]);
		free(chain_minisign[v]);
	}
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0)
		die(path);
	printf("wrote %s\n", path);
}

static void
write_golden(const char *dir)
{
	char *env, *p;

	write_file(dir, "valid.payload.json", payload_text);
	env = envelope(payload_text, TC_VALID, &sk, 1);
	write_file(dir, "valid.json", env);
	free(env);
	env = tampered_payload_envelope();
	write_file(dir, "tampered-payload.json", env);
	free(env);
	env = tampered_comment_envelope();
	write_file(dir, "tampered-comment.json", env);
	free(env);
	env = envelope(payload_text, TC_VALID, &sk2, 1);
	write_file(dir, "wrong-key.json", env);
	free(env);
	env = envelope(payload_text, "bootdrop channel=" CHANNEL " version=8 "
	    "expires=" EXPIRES, &sk, 1);
	write_file(dir, "comment-mismatch.json", env);
	free(env);
	p = check_replace(payload_text, "\"install\": \"boot/kernel\"",
	    "\"install\": \"../../boot/kernel\"");
	env = envelope(p, TC_VALID, &sk, 1);
	write_file(dir, "bad-path.json", env);
	free(env);
	free(p);
	p = check_replace(payload_text, "\"version\": 7,",
	    "\"version\": 7, \"mirror\": \"http://evil/\",");
	env = envelope(p, TC_VALID, &sk, 1);
	write_file(dir, "unknown-key.json", env);
	free(env);
	free(p);
	/* signed by the trusted key, naming only a key that did not sign */
	{
		char from[PUBKEY_B64_BYTES], to[PUBKEY_B64_BYTES];

		pubkey_to_base64(&pk, from);
		pubkey_to_base64(&pk2, to);
		p = check_replace(payload_text, from, to);
	}
	env = envelope(p, TC_VALID, &sk, 1);
	write_file(dir, "broken-keys.json", env);
	free(env);
	free(p);
}

int
main(int argc, char **argv)
{
	const char *data = getenv("BOOTDROP_TESTDATA");
	char path[4096];

	if (data == NULL) {
		fprintf(stderr, "test_manifest: BOOTDROP_TESTDATA not set\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/keys/test.key", data);
	if (seckey_load_file(&sk, path, NULL, NULL) != BD_OK)
		die(path);
	snprintf(path, sizeof(path), "%s/keys/test.pub", data);
	if (pubkey_load_file(&pk, path) != BD_OK)
		die(path);
	if (seckey_generate(&sk2, &pk2) != BD_OK)
		die("seckey_generate");
	{
		static const char *const names[3] = { "test", "minisign",
		    "backup" };
		size_t i;

		for (i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/keys/%s.key", data,
			    names[i]);
			if (seckey_load_file(&chain_sk[i], path, NULL, NULL) !=
			    BD_OK)
				die(path);
			seckey_public(chain_sk[i], &chain_pk[i]);
		}
	}

	test_names();
	test_round_trip();
	if (argc == 3 && strcmp(argv[1], "--write-golden") == 0) {
		write_golden(argv[2]);
		goto done;
	}
	test_keys_and_threshold();
	test_signature_refusals();
	test_payload_refusals();
	test_golden(data);
	test_chain(data);
done:
	free(payload_text);
	seckey_free(sk);
	seckey_free(sk2);
	for (int i = 0; i < 3; i++)
		seckey_free(chain_sk[i]);
	if (check_failures > 0) {
		printf("%d check(s) failed\n", check_failures);
		return 1;
	}
	return 0;
}
