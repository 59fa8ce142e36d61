/*
 * fuzz_sig.c - minisig text parsing and verification, and public key
 * strings, fed arbitrary bytes.  The message is fixed; the key is the
 * committed test key, so a fuzzed text that names its key id reaches the
 * Ed25519 checks.
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "key.h"
#include "sig.h"

/* tests/data/keys/test.pub */
static const char test_pub[] =
    "RWQ19CmR6/evLM85DdfN3QdSbX5ghorZBtvOvwqY5d1g8QaUvhPpiJca";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bd_pubkey pk;
	static int ready;
	uint8_t id[KEY_ID_BYTES];
	char tc[SIG_COMMENT_MAX_BYTES], str[PUBKEY_B64_BYTES + 8];
	struct bd_pubkey other;

	if (!ready) {
		if (sodium_init() < 0 || pubkey_from_base64(&pk, test_pub) != BD_OK)
			__builtin_trap();
		ready = 1;
	}
	(void)sig_keyid((const char *)data, size, id);
	(void)sig_verify(&pk, (const uint8_t *)"bootdrop", 8,
	    (const char *)data, size, tc, sizeof(tc));
	if (size < sizeof(str)) {
		memcpy(str, data, size);
		str[size] = '\0';
		(void)pubkey_from_base64(&other, str);
	}
	return 0;
}
