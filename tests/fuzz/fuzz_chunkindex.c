/*
 * fuzz_chunkindex.c - the chunk index parser (common/chunk.c): bytes any
 * mirror may serve in place of an index.  Whatever parses must encode back
 * to the same bytes, keep its offsets within the artifact and the pack,
 * and plan and merge ranges without reading past its chunks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_ranges(const struct chunk_index *idx, const uint8_t *data, size_t size)
{
	struct chunk_range r;
	uint8_t *need;
	uint32_t i, pos = 0, prev_end = 0;

	if ((need = malloc(idx->count)) == NULL)
		return;
	for (i = 0; i < idx->count; i++)
		need[i] = data[i % size] & 1;
	while (chunk_range_next(idx, need, &pos, CHUNK_GAP_BYTES,
	    CHUNK_RANGE_MAX_BYTES, &r)) {
		if (r.first < prev_end || r.end <= r.first ||
		    r.end > idx->count || !need[r.first] ||
		    r.pack_off + r.pack_len > idx->pack_size ||
		    (r.end - r.first > 1 && r.pack_len > CHUNK_RANGE_MAX_BYTES))
			__builtin_trap();
		prev_end = r.end;
	}
	free(need);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunk_index *idx = NULL, *self[1];
	struct chunk_seeds *seeds = NULL;
	struct chunk_src *src = NULL;
	uint8_t *enc = NULL;
	size_t len;
	uint32_t i;

	if (chunk_index_parse(data, size, &idx) != BD_OK)
		return 0;
	if (chunk_index_encode(idx, &enc, &len) != BD_OK || len != size ||
	    memcmp(enc, data, size) != 0)
		__builtin_trap();
	for (i = 0; i < idx->count; i++) {
		const struct chunk_entry *e = &idx->chunks[i];

		if (e->raw_len == 0 || e->raw_len > CHUNK_RAW_MAX_BYTES ||
		    e->raw_off + e->raw_len > idx->artifact_size ||
		    e->pack_off + e->stored_len > idx->pack_size)
			__builtin_trap();
	}
	check_ranges(idx, data, size);
	/* An index is its own seed: every chunk is found. */
	self[0] = idx;
	if (chunk_seeds_new((const struct chunk_index *const *)self, 1,
	    &seeds) == BD_OK && chunk_plan(idx, seeds, &src, NULL) == BD_OK)
		for (i = 0; i < idx->count; i++)
			if (src[i].seed != 0)
				__builtin_trap();
	free(src);
	chunk_seeds_free(seeds);
	free(enc);
	chunk_index_free(idx);
	return 0;
}
