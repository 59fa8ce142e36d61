/*
 * rangefetch.h - ranges of one blob (a chunk pack) from every mirror at
 * once: libcurl's multi interface, up to RF_PER_MIRROR Range requests in
 * flight per mirror, each answer taken only when it is a 206 whose
 * Content-Range is exactly the range asked for (of a blob of the size
 * asked for) and whose body is exactly that long.
 *
 * The caller asks for ranges and takes them back as they arrive, in any
 * order (client/delta.c decodes and checks their chunks).  A mirror with a
 * free slot takes the next range, so a faster mirror takes more.  A mirror
 * that refuses a range (any answer but that range: no Range support, a
 * missing blob) or that the caller blames (its bytes lied) is dropped: its
 * ranges in flight are asked of the others, and it is asked nothing more.
 * A transport failure gives the range to another mirror, and the failing
 * mirror gets ranges only while no healthy one is left; a range every
 * mirror left has failed is given back as unreachable.
 *
 * Memory is bounded: ranges asked for and not yet taken back add up to at
 * most RF_BUDGET_BYTES (one range is always taken), each in a buffer of
 * its length, and each libcurl handle receives into RF_CURL_BUFFER_BYTES.
 */
#ifndef BOOTDROP_RANGEFETCH_H
#define BOOTDROP_RANGEFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunk.h"
#include "download.h"
#include "err.h"

/* Range requests in flight per mirror (doc/chunks.md: measured). */
#define RF_PER_MIRROR		8
/* Bytes of ranges asked for and not yet taken back, all mirrors together. */
#define RF_BUDGET_BYTES		(1u << 20)
/* libcurl's receive buffer, per handle. */
#define RF_CURL_BUFFER_BYTES	(16L << 10)
#define RF_WHY_BYTES		512

struct rangefetch_opts {
	struct dl *dl;			/* the template handle; failures recorded */
	const char *const *mirrors;	/* at most DL_MAX_MIRRORS */
	size_t nmirrors;
	const char *hex;		/* the blob: <mirror>/blobs/sha256/<hex> */
	uint64_t size;			/* its size, as Content-Range must say */
};

struct rangefetch_stats {
	uint32_t requests;		/* Range requests made */
	uint64_t bytes;			/* bytes of the ranges taken */
	uint64_t mirror_bytes[DL_MAX_MIRRORS];
	bool refused;			/* a mirror refused a range or was blamed */
	char why[RF_WHY_BYTES];		/* the last refusal, naming the mirror */
};

struct rangefetch;

/* Returns a new fetcher in *out (o's pointers are borrowed). */
enum bd_err rangefetch_new(const struct rangefetch_opts *o,
    struct rangefetch **out);
void rangefetch_free(struct rangefetch *rf);

/*
 * Asks for range r (r->pack_off, r->pack_len bytes, 1 to
 * CHUNK_RANGE_MAX_BYTES): false when it would pass the budget or the
 * mirrors' slots before rangefetch_next() has given a range back; true
 * whenever nothing is outstanding.
 */
bool rangefetch_ask(struct rangefetch *rf, const struct chunk_range *r);

/*
 * Waits for a range asked for to arrive: BD_OK with it in *r, its bytes in
 * *buf (valid until the next call here or to rangefetch_ask(), which
 * takes it as done with) and the mirror's number in *source;
 * BD_ERR_NETWORK with *r when no mirror left could give it (the failure is
 * recorded in the dl for dl_where()/dl_detail()); BD_ERR_USAGE when
 * nothing is outstanding; BD_ERR_NOMEM.
 */
enum bd_err rangefetch_next(struct rangefetch *rf, struct chunk_range *r,
    const uint8_t **buf, int *source);

/*
 * The caller refused bytes mirror source gave: it is dropped (its ranges
 * in flight go to the others) and counts as a refusal.  False when it was
 * dropped already.
 */
bool rangefetch_drop(struct rangefetch *rf, int source, const char *why);

const struct rangefetch_stats *rangefetch_stats(const struct rangefetch *rf);

#endif
