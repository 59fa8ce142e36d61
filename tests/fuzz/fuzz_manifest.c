/*
 * fuzz_manifest.c - libFuzzer target for the manifest parser: every input
 * goes through manifest_load_unverified() (reaching the payload schema)
 * and manifest_verify_load() against the committed test key (reaching the
 * signature checks; seeds signed by that key reach the schema too).
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

/* tests/data/keys/test.pub */
#define TEST_PUBKEY	"RWQ19CmR6/evLM85DdfN3QdSbX5ghorZBtvOvwqY5d1g8QaUvhPpiJca"
#define TEST_CHANNEL	"freebsd-9.0-i386"
/* the signature of tests/data/manifest/valid.json, by that key */
#define TEST_MINISIG \
	"untrusted comment: signature from bootdrop secret key\n" \
	"RUQ19CmR6/evLJl6vu8/VWqYmHRqGJXz/ORcaJCYhCben6QiuuEA9f/QR3Sh1G1Yzv" \
	"ejFlagCZ4u8V0kKrSs33IDnr9b7XgcTAk=\n" \
	"trusted comment: bootdrop channel=freebsd-9.0-i386 version=7 " \
	"expires=2099-12-31T00:00:00Z\n" \
	"GF2sYtHxRpYoYPbwtZG2nxKevh2drpE4D9h47tA9RnPGh3cJDv23JHFBhDuJgF+hUo" \
	"Tq6iUSdNaTNzSqPItcCQ==\n"

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
	static int ready;
	struct bd_trust trust = { &pk, 1, 1 };
	struct bd_manifest *m = NULL;

	if (!ready) {
		if (pubkey_from_base64(&pk, TEST_PUBKEY) != BD_OK)
			abort();
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
	fuzz_payload(data, size, &pk);
	return 0;
}
