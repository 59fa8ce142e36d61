/*
 * delta.h - assembles a chunked artifact in its part file: chunks a seed
 * (a file the previous version installed) holds are copied and re-hashed,
 * the rest are fetched from the chunk pack through the caller's callback,
 * decoded with a cap of their raw length and checked on arrival.  The
 * whole-artifact SHA-256 is still the caller's to check.
 */
#ifndef BOOTDROP_DELTA_H
#define BOOTDROP_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "chunk.h"
#include "err.h"

/* Rounds of fetching: a chunk a source lied about is asked for again. */
#define DELTA_ROUNDS	4

struct delta_seed {
	int fd;				/* the seed file, read with pread */
	const struct chunk_index *idx;	/* its chunks (borrowed) */
	/*
	 * Or, when not NULL (fd unused), reads exactly len bytes of the seed
	 * at off into buf: BD_ERR_SIZE past its end (a file on an ext2 slice).
	 */
	enum bd_err (*read)(void *ctx, uint64_t off, uint8_t *buf,
	    size_t len);
	void *ctx;
};

/*
 * Where the pack's bytes come from: one range at a time through fetch, or
 * several in flight through ask and next (client/rangefetch.c), in which
 * case fetch is NULL.
 */
struct delta_source {
	/*
	 * Reads len bytes of the pack from offset off into buf.  Returns the
	 * number (>= 0) of the source (mirror) that supplied them, or -1 when
	 * no source could: those chunks are left missing.
	 */
	int (*fetch)(void *ctx, uint64_t off, size_t len, uint8_t *buf);
	/*
	 * Source gave bytes for chunk i (at pack offset off, len stored bytes)
	 * that are refused for why (BD_ERR_HASH, _TOOBIG, _FORMAT): it should
	 * not be asked again.  May be NULL.
	 */
	void (*blame)(void *ctx, int source, uint32_t i, uint64_t off,
	    uint32_t len, enum bd_err why);
	void *ctx;
	/*
	 * The chunks done[i] marks are in the part file: called once the
	 * seeds are copied and after each range stored; a result other than
	 * BD_OK stops the assembly with it.  May be NULL.
	 */
	enum bd_err (*checkpoint)(void *checkpoint_ctx, const uint8_t *done);
	void *checkpoint_ctx;
	/*
	 * Asks for range r; false when no more can be asked for before next()
	 * has given one back (true whenever none is outstanding: a range
	 * given back is no longer outstanding).
	 */
	bool (*ask)(void *ctx, const struct chunk_range *r);
	/*
	 * Gives back a range asked for, in any order: BD_OK with it in *r,
	 * its r->pack_len bytes in *buf (valid until the next call of ask or
	 * next, which take it as done with) and the source in *source;
	 * BD_ERR_NETWORK with *r when no source could supply it (its chunks
	 * are left missing); anything else is a local failure that stops the
	 * assembly.
	 */
	enum bd_err (*next)(void *ctx, struct chunk_range *r,
	    const uint8_t **buf, int *source);
};

struct delta_stats {
	uint32_t seed_chunks;	/* copied from a seed and verified */
	uint64_t seed_bytes;
	uint32_t seed_misses;	/* a seed chunk that did not hash right */
	uint32_t pack_chunks;	/* fetched and verified */
	uint64_t pack_bytes;	/* pack bytes fetched, gaps and retries included */
	uint32_t requests;
	uint32_t bad_chunks;	/* refused on arrival */
};

/*
 * Checks which chunks the part file fd (opened for reading) already holds:
 * sets done[i] to 1 for every chunk whose bytes at its offset hash right,
 * 0 for the others.  Nothing is trusted without being re-hashed.
 */
enum bd_err delta_part_check(const struct chunk_index *idx, int fd,
    uint8_t *done);

/*
 * Fills out_fd (the part file, opened for reading and writing; made at
 * least idx->artifact_size bytes long, what follows them left as it is)
 * with every chunk of idx whose done[i] is 0,
 * each written in place once verified, setting done[i] to 1.  Seeds come
 * first; what they cannot give is fetched in ranges merged as
 * chunk_range_next() merges them, over at most DELTA_ROUNDS rounds; with
 * ask and next, each range is stored as it arrives.  Memory is flat: two
 * buffers of at most CHUNK_RANGE_MAX_BYTES (with fetch only) and
 * CHUNK_RAW_MAX_BYTES, plus a byte a chunk from the caller (done).
 * Returns BD_OK when every chunk is done; BD_ERR_NETWORK when a range could
 * not be fetched from any source, BD_ERR_HASH when chunks were still
 * refused after the last round (done says which are verified, for a later
 * resume); BD_ERR_IO on a local error.  st may be NULL.
 */
enum bd_err delta_assemble(const struct chunk_index *idx,
    const struct delta_seed *seeds, size_t nseeds, int out_fd,
    const struct delta_source *src, uint8_t *done, struct delta_stats *st);

#endif
