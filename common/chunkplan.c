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

/*
 * The seeds' chunks, copied out of their indexes (which may be freed once
 * the table is built, so a guest never holds a seed's whole index and the
 * new one at once): 20 bytes a chunk in three arrays, and an open-addressed
 * table of 4-byte slots at most half full.  A chunk is known by its raw
 * length and the first 64 bits of its SHA-256; a copied chunk is re-hashed
 * against the whole hash, so a collision would cost a fetch, not a wrong
 * byte.
 */
struct chunk_seeds {
	uint64_t *key;		/* first 8 bytes of each chunk's SHA-256 */
	uint64_t *off;		/* its offset in its seed */
	uint32_t *len;		/* its raw length << 4 | its seed's number */
	uint32_t *slots;	/* an entry's number, or SLOT_EMPTY */
	size_t mask;		/* slots - 1, a power of two minus one */
};

static uint64_t
key_of(const uint8_t sha[SHA256_BYTES])
{
	uint64_t h;

	memcpy(&h, sha, sizeof(h));
	return h;
}

static enum bd_err
seeds_alloc(size_t total, struct chunk_seeds **out)
{
	struct chunk_seeds *s;
	size_t slots;

	for (slots = 16; slots < 2 * total; slots *= 2)
		;
	if ((*out = s = calloc(1, sizeof(*s))) == NULL)
		return BD_ERR_NOMEM;
	s->mask = slots - 1;
	s->key = malloc(total ? total * sizeof(*s->key) : 1);
	s->off = malloc(total ? total * sizeof(*s->off) : 1);
	s->len = malloc(total ? total * sizeof(*s->len) : 1);
	s->slots = malloc(slots * sizeof(*s->slots));
	if (s->key == NULL || s->off == NULL || s->len == NULL ||
	    s->slots == NULL)
		return BD_ERR_NOMEM;
	memset(s->slots, 0xff, slots * sizeof(*s->slots));
	return BD_OK;
}

enum bd_err
chunk_seeds_new(const struct chunk_index *const *seeds, size_t n,
    struct chunk_seeds **out)
{
	struct chunk_seeds *s = NULL;
	size_t total = 0, i, k, e = 0;
	uint32_t c;
	enum bd_err rc;

	*out = NULL;
	if (n > CHUNK_SEEDS_MAX) {
		rc = bd_fail(BD_ERR_TOOBIG, "%zu seeds", n);
		goto out;
	}
	for (i = 0; i < n; i++)
		total += seeds[i]->count;
	if ((rc = seeds_alloc(total, &s)) != BD_OK)
		goto out;
	for (i = 0; i < n; i++)
		for (c = 0; c < seeds[i]->count; c++, e++) {
			const struct chunk_entry *ce = &seeds[i]->chunks[c];

			s->key[e] = key_of(ce->sha256);
			s->off[e] = ce->raw_off;
			s->len[e] = ce->raw_len << 4 | (uint32_t)i;
			k = (size_t)s->key[e] & s->mask;
			while (s->slots[k] != SLOT_EMPTY)
				k = (k + 1) & s->mask;
			s->slots[k] = (uint32_t)e;
		}
	*out = s;
	s = NULL;
out:
	chunk_seeds_free(s);
	return rc;
}

void
chunk_seeds_free(struct chunk_seeds *s)
{
	if (s == NULL)
		return;
	free(s->key);
	free(s->off);
	free(s->len);
	free(s->slots);
	free(s);
}

bool
chunk_seeds_find(const struct chunk_seeds *s, const struct chunk_entry *e,
    uint32_t *seed, uint64_t *off)
{
	uint64_t key = key_of(e->sha256);
	uint32_t c;
	size_t k;

	for (k = (size_t)key & s->mask; (c = s->slots[k]) != SLOT_EMPTY;
	    k = (k + 1) & s->mask)
		if (s->key[c] == key && s->len[c] >> 4 == e->raw_len) {
			*seed = s->len[c] & 0xf;
			*off = s->off[c];
			return true;
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
