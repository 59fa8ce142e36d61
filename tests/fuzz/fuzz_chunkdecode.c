/*
 * fuzz_chunkdecode.c - the decoder of one chunk of a pack (common/chunk.c):
 * a mirror chooses the stored bytes, the index the raw length.  The first
 * 4 input bytes pick the entry (raw length up to 64 KiB, encoding); the
 * rest are the stored bytes.  The output buffer is exactly the raw length,
 * so AddressSanitizer sees any write past it.  A chunk that decodes must be
 * exactly the hashed bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct chunk_decoder *dec;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunk_entry e;
	uint8_t *raw, sha[SHA256_BYTES];
	enum bd_err rc;

	if (size < 4)
		return 0;
	if (dec == NULL && (dec = chunk_decoder_new()) == NULL)
		return 0;
	memset(&e, 0, sizeof(e));
	e.raw_len = 1 + ((uint32_t)data[0] << 8 | data[1]);
	e.encoding = data[2] & 1;
	e.stored_len = (uint32_t)(size - 4);
	/* Odd data[3]: the hash is of raw_len zeros, else of nothing known. */
	memset(e.sha256, data[3], sizeof(e.sha256));
	if ((raw = calloc(1, e.raw_len)) == NULL)
		return 0;
	if (data[3] & 1) {
		sha256_buf(raw, e.raw_len, e.sha256);
	}
	rc = chunk_decode(dec, &e, data + 4, size - 4, raw);
	if (rc == BD_OK) {
		sha256_buf(raw, e.raw_len, sha);
		if (memcmp(sha, e.sha256, SHA256_BYTES) != 0)
			__builtin_trap();
	}
	free(raw);
	return 0;
}
