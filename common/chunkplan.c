/*
 * chunkplan.c - which chunks of a new artifact its seeds already hold, and
 * the merged ranges of the pack that bring the rest.
 */
#include <stdlib.h>
#include <string.h>

#include "chunk.h"

/* At most this many seeds for one artifact. */
#define CHUNK_SEEDS_MAX		16u
#define SLOT_EMPTY		UINT32_MAX

struct seed_slot {
	uint32_t seed;
	uint32_t chunk;
};

struct chunk_seeds {
	const struct chunk_index *const *seeds;
	size_t n;
	struct seed_slot *slots;
	size_t mask;		/* slots - 1, a power of two minus one */
};

/* The hash is SHA-256: its first bytes are as good a table hash as any. */
static size_t
slot_of(const uint8_t sha[SHA256_BYTES], size_t mask)
{
	uint64_t h;

	memcpy(&h, sha, sizeof(h));
	return (size_t)(h & mask);
}

enum bd_err
chunk_seeds_new(const struct chunk_index *const *seeds, size_t n,
    struct chunk_seeds **out)
{
	struct chunk_seeds *s = NULL;
	size_t total = 0, slots, i, k;
	uint32_t c;
	enum bd_err rc;

	*out = NULL;
	if (n > CHUNK_SEEDS_MAX) {
		rc = bd_fail(BD_ERR_TOOBIG, "%zu seeds", n);
		goto out;
	}
	for (i = 0; i < n; i++)
		total += seeds[i]->count;
	for (slots = 16; slots < 2 * total; slots *= 2)
		;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->slots = malloc(slots * sizeof(*s->slots))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	memset(s->slots, 0xff, slots * sizeof(*s->slots));
	s->seeds = seeds;
	s->n = n;
	s->mask = slots - 1;
	for (i = 0; i < n; i++)
		for (c = 0; c < seeds[i]->count; c++) {
			k = slot_of(seeds[i]->chunks[c].sha256, s->mask);
			while (s->slots[k].seed != SLOT_EMPTY)
				k = (k + 1) & s->mask;
			s->slots[k].seed = (uint32_t)i;
			s->slots[k].chunk = c;
		}
	*out = s;
	s = NULL;
	rc = BD_OK;
out:
	chunk_seeds_free(s);
	return rc;
}

void
chunk_seeds_free(struct chunk_seeds *s)
{
	if (s == NULL)
		return;
	free(s->slots);
	free(s);
}

bool
chunk_seeds_find(const struct chunk_seeds *s, const struct chunk_entry *e,
    uint32_t *seed, uint64_t *off)
{
	const struct chunk_entry *c;
	size_t k;

	for (k = slot_of(e->sha256, s->mask); s->slots[k].seed != SLOT_EMPTY;
	    k = (k + 1) & s->mask) {
		c = &s->seeds[s->slots[k].seed]->chunks[s->slots[k].chunk];
		if (c->raw_len == e->raw_len &&
		    memcmp(c->sha256, e->sha256, SHA256_BYTES) == 0) {
			*seed = s->slots[k].seed;
			*off = c->raw_off;
			return true;
		}
	}
	return false;
}

enum bd_err
chunk_plan(const struct chunk_index *idx, const struct chunk_seeds *s,
    struct chunk_src **out, struct chunk_plan_stats *st)
{
	struct chunk_plan_stats sum = { 0 };
	struct chunk_src *src;
	uint32_t i;
	enum bd_err rc;

	if ((*out = src = calloc(idx->count, sizeof(*src))) == NULL) {
		rc = BD_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < idx->count; i++) {
		const struct chunk_entry *e = &idx->chunks[i];

		if (s != NULL && chunk_seeds_find(s, e, &src[i].seed,
		    &src[i].seed_off)) {
			sum.seed_chunks++;
			sum.seed_bytes += e->raw_len;
		} else {
			src[i].seed = CHUNK_FROM_PACK;
			sum.pack_chunks++;
			sum.pack_chunk_bytes += e->stored_len;
		}
	}
	rc = BD_OK;
out:
	if (st != NULL)
		*st = sum;
	return rc;
}

/* Returns the first needed chunk at or after i, or idx->count. */
static uint32_t
next_needed(const struct chunk_index *idx, const uint8_t *need, uint32_t i)
{
	while (i < idx->count && !need[i])
		i++;
	return i;
}

bool
chunk_range_next(const struct chunk_index *idx, const uint8_t *need,
    uint32_t *pos, uint64_t gap, uint64_t max_len, struct chunk_range *r)
{
	const struct chunk_entry *c;
	uint64_t stop;
	uint32_t k;

	if ((k = next_needed(idx, need, *pos)) == idx->count) {
		*pos = idx->count;
		return false;
	}
	r->first = k;
	r->end = k + 1;
	r->pack_off = idx->chunks[k].pack_off;
	stop = r->pack_off + idx->chunks[k].stored_len;
	while ((k = next_needed(idx, need, r->end)) < idx->count) {
		c = &idx->chunks[k];
		if (c->pack_off - stop > gap ||
		    c->pack_off + c->stored_len - r->pack_off > max_len)
			break;
		stop = c->pack_off + c->stored_len;
		r->end = k + 1;
	}
	r->pack_len = stop - r->pack_off;
	*pos = r->end;
	return true;
}
