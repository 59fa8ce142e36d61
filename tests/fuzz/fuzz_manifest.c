/*
 * fuzz_manifest.c - libFuzzer target for the manifest parser: every input
 * goes through manifest_load_unverified() (reaching the payload schema)
 * and manifest_verify_load() against the committed test key (reaching the
 * signature checks; seeds signed by that key reach the schema too).
 *
 * Whatever parses must encode again: a manifest the client accepts is one
 * the publisher can write.
 */
#include <stdint.h>
#include <stdlib.h>

#include "key.h"
#include "manifest.h"

/* tests/data/keys/test.pub */
#define TEST_PUBKEY	"RWQ19CmR6/evLM85DdfN3QdSbX5ghorZBtvOvwqY5d1g8QaUvhPpiJca"
#define TEST_CHANNEL	"freebsd-9.0-i386"

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
	return 0;
}
