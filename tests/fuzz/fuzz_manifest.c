/*
 * fuzz_manifest.c - libFuzzer target for the manifest parser: every input
 * goes through manifest_load_unverified() (reaching the payload schema)
 * and manifest_verify_load() against the committed test key (reaching the
 * signature checks; seeds signed by that key reach the schema too).
 *
 * Then the chain rules: manifest_verify_successor() against an accepted
 * version 6 whose hash valid.json's prev names (so the seed reaches the
 * link checks), and manifest_verify_self().
 *
 * The input is also taken as raw payload bytes, wrapped in an envelope
 * with a fixed signature, so the payload parser sees the fuzzer's bytes
 * directly rather than through base64.
 *
 * Whatever parses must encode again: a manifest the client accepts is one
 * the publisher can write.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "manifest.h"
#include "sha256.h"

/* tests/data/keys/test.pub */
#define TEST_PUBKEY	"RWQ19CmR6/evLM85DdfN3QdSbX5ghorZBtvOvwqY5d1g8QaUvhPpiJca"
#define TEST_CHANNEL	"freebsd-9.0-i386"
/* the signature of tests/data/manifest/valid.json, by that key */
#define TEST_MINISIG \
	"untrusted comment: signature from bootdrop secret key\n" \
	"RUQ19CmR6/evLA8U3byQ0Lf7+il47aLi3C1a1enMK4oE3vyRl3c14cK/6q6WYUOwj3p" \
	"j92mRETGdaK5/58X9pAwj59Hj3fUJGw8=\n" \
	"trusted comment: bootdrop channel=freebsd-9.0-i386 version=7 " \
	"expires=2099-12-31T00:00:00Z\n" \
	"RXWCZPA88rjivkBamtSPBwyzdCtt84aWUk1BKeqcYBrqGWk/DK157Yek55bzP2rk4d7" \
	"7OPOKaruFYn4JjiGUAQ==\n"
/* valid.json's prev: the version it follows has this payload hash */
#define TEST_PREV_TEXT	"version 6"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_encodes(const struct bd_manifest *m)
{
	char tc[1024];
	uint8_t *p = NULL;
	size_t n;

	if (manifest_payload_encode(m, &p, &n) != BD_OK ||
	    manifest_trusted_comment(m, tc, sizeof(tc)) != BD_OK)
		abort();
	free(p);
}

/* Parses data as payload bytes inside an envelope signed by someone. */
static void
fuzz_payload(const uint8_t *data, size_t size, const struct bd_pubkey *pk)
{
	static const char *const sigs[1] = { TEST_MINISIG };
	struct bd_manifest *m = NULL;
	char *env = NULL;

	if (manifest_envelope_encode(data, size, sigs,
	    (const uint8_t (*)[KEY_ID_BYTES])&pk->id, 1, &env) != BD_OK)
		return;
	if (manifest_load_unverified((const uint8_t *)env, strlen(env), &m) ==
	    BD_OK)
		check_encodes(m);
	manifest_free(m);
	free(env);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bd_pubkey pk;
	static struct bd_accepted prev;
	static int ready;
	struct bd_trust trust = { &pk, 1, 1 };
	struct bd_manifest *m = NULL;

	if (!ready) {
		if (pubkey_from_base64(&pk, TEST_PUBKEY) != BD_OK)
			abort();
		prev.version = 6;
		sha256_buf(TEST_PREV_TEXT, strlen(TEST_PREV_TEXT),
		    prev.payload_sha256);
		prev.keys.threshold = 1;
		prev.keys.nkeys = 1;
		prev.keys.keys[0] = pk;
		ready = 1;
	}
	if (manifest_load_unverified(data, size, &m) == BD_OK)
		check_encodes(m);
	manifest_free(m);
	m = NULL;
	if (manifest_verify_load(data, size, &trust, TEST_CHANNEL, &m) ==
	    BD_OK) {
		if (m->nsigners < 1)
			abort();
		check_encodes(m);
	}
	manifest_free(m);
	m = NULL;
	if (manifest_verify_successor(&prev, data, size, TEST_CHANNEL, &m) ==
	    BD_OK) {
		if (m->version != 7 || !m->has_prev || m->nsigners < 1 ||
		    m->nself < m->keys.threshold)
			abort();
		check_encodes(m);
	}
	manifest_free(m);
	m = NULL;
	if (manifest_verify_self(data, size, TEST_CHANNEL, &m) == BD_OK &&
	    m->nself < m->keys.threshold)
		abort();
	manifest_free(m);
	fuzz_payload(data, size, &pk);
	return 0;
}
